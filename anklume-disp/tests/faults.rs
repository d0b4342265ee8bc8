//! Fault campaign of anklume-disp: signals at random moments, hostile names. Figures are
//! printed as `FAULT-ROW` lines for `bench/faults`.

use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anklume_tests::faults::{HOSTILE_NAMES, Rng, report};
use anklume_tests::{ScratchDir, TEST_IMAGE, TestProject, finish, run_tool, unique_name};

const DISP: &str = env!("CARGO_BIN_EXE_anklume-disp");

const RUNS: usize = 30;
const WORKERS: usize = 5;

#[test]
fn signals_at_random_moments_leak_no_instance() {
    let Some(project) = TestProject::new("fault-disp") else {
        return;
    };
    let rng = Arc::new(Mutex::new(Rng::from_env("disp signals")));
    let odd_exits = Arc::new(Mutex::new(Vec::new()));
    let stderrs = Arc::new(Mutex::new(Vec::new()));
    std::thread::scope(|scope| {
        for worker in 0..WORKERS {
            let (rng, odd_exits, stderrs, project) = (
                Arc::clone(&rng),
                Arc::clone(&odd_exits),
                Arc::clone(&stderrs),
                &project,
            );
            scope.spawn(move || {
                for run in 0..RUNS / WORKERS {
                    let (signal, number, delay_ms) = {
                        let mut rng = rng.lock().unwrap();
                        let (name, number) =
                            [("INT", 2), ("TERM", 15), ("HUP", 1)][rng.below(3) as usize];
                        (name, number, rng.below(5000))
                    };
                    let name = unique_name(&format!("f{worker}-{run}"));
                    let child = Command::new(DISP)
                        .args(["-q", "--image", TEST_IMAGE, "--domain", project.name()])
                        .args(["--name", &name, "--cmd", "sleep 30"])
                        .stdin(Stdio::null())
                        .stdout(Stdio::piped())
                        .stderr(Stdio::piped())
                        .spawn()
                        .unwrap();
                    std::thread::sleep(Duration::from_millis(delay_ms));
                    let _ = Command::new("kill")
                        .args([&format!("-{signal}"), &child.id().to_string()])
                        .status();
                    let out = finish(child);
                    stderrs.lock().unwrap().push((
                        name.clone(),
                        format!(
                            "SIG{signal} after {delay_ms} ms: {:?} {}",
                            out.status.code(),
                            String::from_utf8_lossy(&out.stderr)
                        ),
                    ));
                    if out.status.code() != Some(128 + number) {
                        odd_exits.lock().unwrap().push(format!(
                            "SIG{signal} after {delay_ms} ms: {:?} {}",
                            out.status.code(),
                            String::from_utf8_lossy(&out.stderr)
                        ));
                    }
                }
            });
        }
    });
    let leaked = project.instances();
    report(
        "anklume-disp --cmd 'sleep 30' interrupted by SIGINT/SIGTERM/SIGHUP at 0-5 s: instances leaked",
        RUNS,
        leaked.len(),
    );
    let runs = stderrs.lock().unwrap();
    let leaking: Vec<&String> = runs
        .iter()
        .filter(|(name, _)| leaked.contains(name))
        .map(|(_, run)| run)
        .collect();
    assert!(
        leaked.is_empty(),
        "leaked instances: {leaked:?}, their runs: {leaking:#?}"
    );
    let odd = odd_exits.lock().unwrap();
    assert!(odd.is_empty(), "exit status not 128+N: {odd:?}");
}

#[test]
fn hostile_names_are_refused_and_create_nothing() {
    let Some(project) = TestProject::new("fault-disp-names") else {
        return;
    };
    let cwd = ScratchDir::new("fault-disp-names");
    let mut failures = Vec::new();
    for (name, why) in HOSTILE_NAMES {
        for flag in ["--name", "--from", "--domain"] {
            let mut args = vec!["-q", "--image", TEST_IMAGE, "--cmd", "true"];
            if flag != "--domain" {
                args.extend(["--domain", project.name()]);
            }
            if flag == "--from" {
                args.retain(|a| *a != "--image" && *a != TEST_IMAGE);
            }
            args.extend([flag, name]);
            let out = run_tool(Command::new(DISP).args(&args).current_dir(cwd.path()));
            let stderr = String::from_utf8_lossy(&out.stderr);
            let code = out.status.code();
            if !matches!(code, Some(1 | 2)) || stderr.trim().is_empty() {
                failures.push(format!("{flag} {name:?} ({why}): {code:?} {stderr}"));
            }
        }
    }
    let created = project.instances();
    report(
        "anklume-disp with hostile names (--name, --from, --domain): accepted or created something",
        HOSTILE_NAMES.len() * 3,
        failures.len() + created.len(),
    );
    assert!(failures.is_empty(), "{failures:#?}");
    assert!(created.is_empty(), "created: {created:?}");
    assert_eq!(std::fs::read_dir(cwd.path()).unwrap().count(), 0);
}

/// SIGKILL of anklume-disp at ten random moments from the launch to the command: its
/// watchdog, which outlives it, leaves nothing after 10 s (the instance is recognised by the
/// token recorded at its creation, so a creation under way is waited for).
#[test]
fn sigkill_at_random_moments_leaves_nothing_within_seconds() {
    let Some(project) = TestProject::new("fault-disp-kill") else {
        return;
    };
    let mut rng = Rng::from_env("disp sigkill");
    let cwd = ScratchDir::new("fault-disp-kill");
    let launch = || {
        Command::new(DISP)
            .args(["-q", "--image", TEST_IMAGE, "--domain", project.name()])
            .args(["--cmd", "sleep 60"])
            .current_dir(cwd.path())
            .env_remove("ANKLUME_INFRA")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };
    // How long a launch takes until the command runs.
    let started = std::time::Instant::now();
    let mut child = launch();
    while project.instances().is_empty() || !command_runs(&project) {
        std::thread::sleep(Duration::from_millis(50));
    }
    let span = started.elapsed().as_millis() as u64;
    child.kill().unwrap();
    child.wait().unwrap();
    // Counted when anything is left after 10 s; a leak, when anything is left after 5 min
    // (the machine may be loaded by other tests, the daemon slow after a restart: a creation
    // under way is waited for, and Incus's refusals are tried again). What is still there
    // after 60 s is described, for the record.
    let mut late = Vec::new();
    let mut leaked = Vec::new();
    let mut gone_within_10_s = |after: u64| {
        let killed = std::time::Instant::now();
        let mut described = false;
        // Gone, and still gone 5 s later: a creation under way at the kill shows up late.
        let mut empty_since: Option<std::time::Instant> = None;
        while killed.elapsed() < Duration::from_secs(300) {
            match (project.instances().is_empty(), empty_since) {
                (true, Some(since)) if since.elapsed() >= Duration::from_secs(5) => break,
                (true, None) => empty_since = Some(std::time::Instant::now()),
                (true, Some(_)) => (),
                (false, _) => empty_since = None,
            }
            if !described && killed.elapsed() > Duration::from_secs(60) {
                described = true;
                eprintln!("after 60 s: {}", describe_left(&project));
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        let took = empty_since.map_or(killed.elapsed(), |since| since - killed);
        if took > Duration::from_secs(10) {
            late.push(format!("SIGKILL after {after} ms: gone after {took:?}"));
        }
        let left = project.instances();
        if !left.is_empty() {
            leaked.push(format!("SIGKILL after {after} ms left {left:?} for 5 min"));
        }
    };
    gone_within_10_s(span);
    for _ in 0..9 {
        let after = rng.below(span);
        let mut child = launch();
        std::thread::sleep(Duration::from_millis(after));
        child.kill().unwrap();
        child.wait().unwrap();
        gone_within_10_s(after);
    }
    report(
        "SIGKILL of anklume-disp at a random moment from launch to command: an instance left 10 s later",
        10,
        late.len() + leaked.len(),
    );
    eprintln!("left after 10 s: {late:#?}");
    assert!(
        leaked.is_empty(),
        "launch to command: {span} ms; {leaked:#?}"
    );
}

/// The state and token of what `project` still holds, and the watchdogs still running.
fn describe_left(project: &TestProject) -> String {
    let incus = anklume_tests::incus();
    let states: Vec<String> = project
        .instances()
        .iter()
        .map(|name| {
            let at = anklume_common::Located {
                remote: None,
                project: project.name().to_owned(),
                name: name.clone(),
            };
            match incus.instance(&at) {
                Ok(info) => format!(
                    "{name}: {} token {:?}",
                    info.status,
                    info.config.get("user.anklume.disposable")
                ),
                Err(e) => format!("{name}: {e}"),
            }
        })
        .collect();
    let watchdogs = Command::new("pgrep")
        .args(["-af", "anklume-disp --watch"])
        .output()
        .map(|o| text(&o.stdout))
        .unwrap_or_default();
    format!("{states:?}; watchdogs running: {watchdogs:?}")
}

/// Whether the only instance of `project` runs its command (a `sleep`).
fn command_runs(project: &TestProject) -> bool {
    let Some(name) = project.instances().into_iter().next() else {
        return false;
    };
    anklume_tests::incus()
        .output(
            &anklume_common::Call::new("look into", ["exec", &name, "--", "pidof", "sleep"])
                .project(project.name()),
        )
        .is_ok()
}

/// anklume-disp launching the test image in `project`, run in `cwd`, without infra.yml.
fn disp_in(project: &TestProject, cwd: &ScratchDir) -> Command {
    let mut command = Command::new(DISP);
    command
        .args(["--image", TEST_IMAGE, "--domain", project.name()])
        .current_dir(cwd.path())
        .env_remove("ANKLUME_INFRA");
    command
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A disposable's setuid payload, written through `--mount` into a folder of uid 1000, belongs
/// to uid 1000, never to root (the instance's id map puts its root on the folder's owner; the
/// test ground lets root map uid 1000). An owner root may not map is refused before launch.
#[test]
fn a_setuid_payload_written_through_a_mount_is_not_setuid_root() {
    use std::os::unix::fs::MetadataExt;
    let Some(project) = TestProject::new("fault-setuid") else {
        return;
    };
    let cwd = ScratchDir::new("fault-setuid");
    let shared = ScratchDir::new("fault-setuid-share");
    std::os::unix::fs::chown(shared.path(), Some(1000), Some(1000)).unwrap();
    let mount = shared.path().to_str().unwrap().to_owned();
    let payload = "cat /bin/busybox > p && chmod 4755 p && mkdir made && id -u";
    let out = run_tool(disp_in(&project, &cwd).args(["-q", "--mount", &mount, "--cmd", payload]));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "0\n",
        "the command runs as the instance's root"
    );
    let owners: Vec<(u32, u32)> = ["p", "made"]
        .iter()
        .map(|written| std::fs::metadata(shared.path().join(written)).unwrap())
        .map(|meta| (meta.uid(), meta.gid()))
        .collect();
    let rooted = owners
        .iter()
        .filter(|owner| **owner != (1000, 1000))
        .count();
    report(
        "a setuid program and a folder written by a disposable through --mount into a folder of uid 1000: not owned by uid 1000",
        2,
        rooted,
    );
    assert_eq!(owners, [(1000, 1000), (1000, 1000)]);

    std::os::unix::fs::chown(shared.path(), Some(1001), Some(1001)).unwrap();
    let out = run_tool(disp_in(&project, &cwd).args(["--mount", &mount, "--cmd", "true"]));
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("/etc/subuid does not let root map"),
        "{stderr}"
    );
    assert!(stderr.contains("root:1001:1"), "{stderr}");
    assert_eq!(project.instances(), Vec::<String>::new());
}

/// The folder mounted is the folder checked: swapped for a link to another folder at the
/// moment Incus adds the device (an `incus` wrapper swaps it right then), the disposable
/// still sees and writes the folder it was given, never the link's target.
#[test]
fn a_mount_folder_swapped_for_a_link_at_the_last_moment_exposes_nothing() {
    let Some(project) = TestProject::new("fault-swap") else {
        return;
    };
    let cwd = ScratchDir::new("fault-swap");
    let share = cwd.path().join("share");
    std::fs::create_dir(&share).unwrap();
    std::fs::write(share.join("mine.txt"), "mine\n").unwrap();
    std::os::unix::fs::chown(&share, Some(1000), Some(1000)).unwrap();
    let secret = cwd.path().join("secret");
    std::fs::create_dir(&secret).unwrap();
    std::fs::write(secret.join("key"), "SECRET\n").unwrap();
    let moved = cwd.path().join("share.moved");
    let wrapper = cwd.incus_wrapper(
        "incus-swapping",
        &format!(
            "*'device add'*) mv '{share}' '{moved}' && ln -s '{secret}' '{share}';;",
            share = share.display(),
            moved = moved.display(),
            secret = secret.display(),
        ),
    );
    let out = run_tool(
        disp_in(&project, &cwd)
            .env("ANKLUME_INCUS", &wrapper)
            .args(["-q", "--mount", share.to_str().unwrap()])
            .args(["--cmd", "cat *; echo written > out.txt"]),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        moved.exists() && share.is_symlink(),
        "the wrapper did not swap"
    );
    let exposed = text(&out.stdout).contains("SECRET") || secret.join("out.txt").exists();
    report(
        "a --mount folder swapped for a link to another folder when Incus adds the device: the link's target read or written",
        1,
        usize::from(exposed),
    );
    assert_eq!(text(&out.stdout), "mine\n");
    assert!(moved.join("out.txt").exists());
    assert!(!exposed, "the link's target was exposed");
    assert_eq!(project.instances(), Vec::<String>::new());
}
