//! Test fixture: a fresh Incus project per test on the real daemon, never a mock.
//!
//! ```no_run
//! use anklume_tests::{TestProject, unique_name};
//!
//! let Some(project) = TestProject::new("resolve") else { return };
//! let web = unique_name("web");
//! project.create_empty(&web);
//! ```
//!
//! The project is created with `features.images=false,features.profiles=false` (so it sees the
//! test image and the default profile) and deleted with everything in it when the fixture is
//! dropped, also when the test panics. `ANKLUME_TEST_KEEP=1` keeps it for debugging. Every
//! `incus` call and every run of a tool ([`run_tool`], [`finish`]) has a timeout, so a hang
//! fails the test instead of blocking the run.
//!
//! Without a daemon the test is skipped with a message on stderr, except under `CI=true`, where
//! that is a failure.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anklume_common::{Call, Incus};

pub mod cluster;
pub mod docs;
pub mod faults;
pub mod gpg;

/// Alias of the offline busybox image that `scripts/incus-testenv` imports.
pub const TEST_IMAGE: &str = "anklume-test-busybox";
/// The btrfs (copy-on-write) pool of the test ground.
pub const BTRFS_POOL: &str = "anklume-btrfs";
/// A managed bridge (no NAT) for instances with a static address.
pub const BRIDGE: &str = "anklumebr0";
/// This daemon again, as an HTTPS remote over loopback.
pub const LOOP_REMOTE: &str = "anklume-loop";
/// The test ground's two-member cluster (m1 on 127.0.0.2, m2 on 127.0.0.3), as a remote.
pub const CLUSTER_REMOTE: &str = "anklume-cluster";
/// Its members, the first holding the database vote.
pub const CLUSTER_MEMBERS: [&str; 2] = ["m1", "m2"];
/// Upper bound of any single incus call made by the fixture or a test.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(120);

/// The incus runner every test uses: the one of anklume-common, with a timeout.
pub fn incus() -> Incus {
    Incus::from_env().with_timeout(CALL_TIMEOUT)
}

/// Whether the daemon answers; checked once per test process.
pub fn daemon_available() -> bool {
    static AVAILABLE: OnceLock<bool> = OnceLock::new();
    *AVAILABLE.get_or_init(|| {
        let answers = Incus::from_env()
            .with_timeout(Duration::from_secs(15))
            .output(&Call::new("ask", ["info"]))
            .is_ok();
        if !answers && std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("CI=true but the Incus daemon does not answer: run scripts/incus-testenv first");
        }
        answers
    })
}

/// Whether the test ground's cluster answers; checked once per test process.
pub fn cluster_available() -> bool {
    static AVAILABLE: OnceLock<bool> = OnceLock::new();
    *AVAILABLE.get_or_init(|| {
        let target = format!("{CLUSTER_REMOTE}:");
        let answers = Incus::from_env()
            .with_timeout(Duration::from_secs(15))
            .output(&Call::new("ask", ["info", target.as_str()]))
            .is_ok();
        if !answers && std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("CI=true but the remote {CLUSTER_REMOTE} does not answer: run scripts/incus-testenv first");
        }
        answers
    })
}

/// A name no other test, run or project uses: `prefix-xxxxxxxx` (Incus names are global here).
pub fn unique_name(prefix: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let mixed = (std::process::id().wrapping_mul(2_654_435_761))
        ^ nanos.rotate_left(13)
        ^ n.wrapping_mul(40_503);
    format!("{prefix}-{mixed:08x}")
}

/// What a test project shares with `default`: its images and its profiles.
const SHARED_PROFILES: &[&str] = &["features.images=false", "features.profiles=false"];

/// `t-LABEL-xxxxxxxx?&#%+=,;.é`: every character Incus accepts in a project name that means
/// something in a URL, and a non-ASCII letter.
fn odd_name(label: &str) -> String {
    unique_name(&format!("t-{label}")) + "?&#%+=,;.é"
}

/// A fresh Incus project, deleted with its instances when dropped.
#[derive(Debug)]
pub struct TestProject {
    name: String,
    /// The remote it lives on (`None`: the default one, this host's daemon).
    remote: Option<String>,
    incus: Incus,
    keep: bool,
}

impl TestProject {
    /// Creates the project, or returns `None` (saying so on stderr) when no daemon answers
    /// outside CI.
    pub fn new(label: &str) -> Option<Self> {
        Self::create(label, unique_name(&format!("t-{label}")), SHARED_PROFILES)
    }

    /// Like [`TestProject::new`], with a name that Incus accepts but that a URL would misread
    /// unless percent-encoded, and a non-ASCII letter: `t-LABEL-xxxxxxxx?&#%+=,;.é`. For the
    /// tests that a project's name reaches the daemon intact; keep LABEL short.
    pub fn with_odd_name(label: &str) -> Option<Self> {
        Self::create(label, odd_name(label), SHARED_PROFILES)
    }

    /// Like [`TestProject::with_odd_name`], with profiles of its own (`features.profiles` left
    /// on): its `default` profile is empty, without a root disk or a network, as in a project
    /// a user just made with `incus project create`.
    pub fn with_own_profiles(label: &str) -> Option<Self> {
        Self::create(label, odd_name(label), &["features.images=false"])
    }

    /// Like [`TestProject::new`], on the test ground's cluster ([`CLUSTER_REMOTE`]): instance
    /// names given to [`TestProject::run`] take the remote ([`TestProject::at`]).
    pub fn on_cluster(label: &str) -> Option<Self> {
        if daemon_available() && !cluster_available() {
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED {label}: the remote {CLUSTER_REMOTE} does not answer (run scripts/incus-testenv; CI=true makes this a failure)"
            );
            return None;
        }
        if daemon_available() {
            cluster::every_member_online();
        }
        Self::create_on(
            Some(CLUSTER_REMOTE),
            label,
            unique_name(&format!("t-{label}")),
            SHARED_PROFILES,
        )
    }

    fn create(label: &str, name: String, features: &[&str]) -> Option<Self> {
        Self::create_on(None, label, name, features)
    }

    fn create_on(
        remote: Option<&str>,
        label: &str,
        name: String,
        features: &[&str],
    ) -> Option<Self> {
        if !daemon_available() {
            // Written to the real stderr, past the test harness's capture: a skip must be seen.
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED {label}: no Incus daemon answers (run scripts/incus-testenv; CI=true makes this a failure)"
            );
            return None;
        }
        let incus = incus();
        let qualified = qualified(remote, &name);
        let mut args = vec!["project", "create", &qualified];
        for feature in features {
            args.extend(["-c", feature]);
        }
        incus
            .output(&Call::new("create test project", args))
            .unwrap_or_else(|e| panic!("{e}"));
        Some(Self {
            name,
            remote: remote.map(str::to_owned),
            incus,
            keep: std::env::var("ANKLUME_TEST_KEEP").is_ok_and(|v| v == "1"),
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The remote it lives on (`None`: the default one).
    pub fn remote(&self) -> Option<&str> {
        self.remote.as_deref()
    }

    /// `name` as the `incus` command line takes it for this project's remote (`REMOTE:name`).
    pub fn at(&self, name: &str) -> String {
        qualified(self.remote(), name)
    }

    pub fn incus(&self) -> &Incus {
        &self.incus
    }

    /// Runs `incus --project THIS ARGS...`, panicking with Incus's message on failure.
    pub fn run(&self, args: &[&str]) -> String {
        let call = Call::new(format!("run `incus {}`", args.join(" ")), args).project(&self.name);
        let stdout = self.incus.output(&call).unwrap_or_else(|e| panic!("{e}"));
        String::from_utf8_lossy(&stdout).into_owned()
    }

    /// A stopped instance with no root filesystem: the cheapest thing that has a name.
    pub fn create_empty(&self, name: &str) {
        self.run(&["init", "--empty", &self.at(name)]);
    }

    /// A running busybox container from the test image (the remote's own copy of it).
    pub fn launch(&self, name: &str) {
        self.run(&["launch", &self.at(TEST_IMAGE), &self.at(name)]);
    }

    /// Like [`TestProject::launch`], on cluster member `member`.
    pub fn launch_on(&self, name: &str, member: &str) {
        self.run(&[
            "launch",
            &self.at(TEST_IMAGE),
            &self.at(name),
            "--target",
            member,
        ]);
    }

    /// A golden instance: launched from the test image, prepared by the `sh -c` script
    /// `setup`, stopped, with a `pristine` snapshot.
    pub fn golden(&self, name: &str, setup: &str) {
        self.launch(name);
        let at = self.at(name);
        self.run(&["exec", &at, "--", "sh", "-c", setup]);
        self.run(&["stop", &at]);
        self.run(&["snapshot", "create", &at, "pristine"]);
    }

    /// Names of the instances in this project.
    pub fn instances(&self) -> Vec<String> {
        self.incus
            .instances_in(self.remote(), &self.name)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// Deletes the project and what it holds. Tried three times, two seconds apart: just
    /// after a test restarted incusd, Incus 6.0 may refuse `delete --force` of an instance it
    /// still reports running while its stop is under way.
    fn delete_everything(&self) -> Result<(), String> {
        let mut result = self.delete_once();
        for _ in 0..2 {
            if result.is_ok() {
                break;
            }
            std::thread::sleep(Duration::from_secs(2));
            result = self.delete_once();
        }
        result
    }

    fn delete_once(&self) -> Result<(), String> {
        let instances = self.instances();
        if !instances.is_empty() {
            let qualified: Vec<String> = instances.iter().map(|i| self.at(i)).collect();
            let mut args = vec!["delete", "--force"];
            args.extend(qualified.iter().map(String::as_str));
            let call = Call::new("delete test instances", args).project(&self.name);
            self.incus.output(&call).map_err(|e| e.to_string())?;
        }
        let project = self.at(&self.name);
        let call = Call::new("delete test project", ["project", "delete", &project]);
        self.incus
            .output(&call)
            .map(drop)
            .map_err(|e| e.to_string())
    }
}

impl Drop for TestProject {
    fn drop(&mut self) {
        if self.keep {
            let _ = writeln!(
                std::io::stderr(),
                "kept Incus project {} (ANKLUME_TEST_KEEP=1)",
                self.name
            );
            return;
        }
        if let Err(e) = self.delete_everything() {
            let message = format!("cleanup of Incus project {} failed: {e}", self.name);
            if std::thread::panicking() {
                let _ = writeln!(std::io::stderr(), "{message}");
            } else {
                panic!("{message}");
            }
        }
    }
}

/// `remote:name`, or `name` on the default remote.
fn qualified(remote: Option<&str>, name: &str) -> String {
    match remote {
        Some(remote) => format!("{remote}:{name}"),
        None => name.to_owned(),
    }
}

/// Upper bound of one run of a tool under test.
pub const RUN_TIMEOUT: Duration = Duration::from_secs(180);

/// Waits for a spawned tool and collects its output, like `wait_with_output`, but kills it
/// and fails the test when it runs longer than [`RUN_TIMEOUT`]: a hang must not block the run.
pub fn finish(mut child: Child) -> Output {
    fn drain<R: Read + Send + 'static>(pipe: Option<R>) -> std::thread::JoinHandle<Vec<u8>> {
        std::thread::spawn(move || {
            let mut all = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut all);
            }
            all
        })
    }
    let stdout = drain(child.stdout.take());
    let stderr = drain(child.stderr.take());
    let deadline = Instant::now() + RUN_TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the tool under test still ran after {RUN_TIMEOUT:?}: killed");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Output {
        status,
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    }
}

/// Runs a tool with stdin closed and its output captured, within [`RUN_TIMEOUT`].
pub fn run_tool(command: &mut Command) -> Output {
    let child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {command:?}: {e}"));
    finish(child)
}

/// Runs a tool with `input` on its stdin (fed from a thread, so that a tool that stops reading
/// cannot block the test) and its output captured, within [`RUN_TIMEOUT`].
pub fn run_tool_with_input(command: &mut Command, input: &[u8]) -> Output {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {command:?}: {e}"));
    let mut stdin = child.stdin.take().expect("stdin is piped");
    let input = input.to_vec();
    let feeder = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let out = finish(child);
    let _ = feeder.join();
    out
}

/// A scratch directory under the system temp dir, removed when dropped.
#[derive(Debug)]
pub struct ScratchDir(PathBuf);

impl ScratchDir {
    pub fn new(label: &str) -> Self {
        let path = std::env::temp_dir().join(unique_name(&format!("anklume-{label}")));
        std::fs::create_dir_all(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        Self(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    /// Writes `text` to `relative` inside the directory, creating parents.
    pub fn write(&self, relative: &str, text: &str) -> PathBuf {
        let path = self.0.join(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(&path, text).unwrap();
        path
    }

    /// An `incus` to give the tools through `ANKLUME_INCUS`: a shell script that first runs
    /// `arm`, a `case "$*" in` arm (`PATTERN) COMMANDS;;`) that can fail a call or change the
    /// world at the moment it is made, then runs the real `incus`.
    pub fn incus_wrapper(&self, name: &str, arm: &str) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let script = format!("#!/bin/sh\ncase \"$*\" in\n{arm}\nesac\nexec incus \"$@\"\n");
        let path = self.write(name, &script);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
