//! anklume-disp, the real binary against the real Incus daemon.

use std::io::Write;
use std::process::{Child, Command, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use anklume_common::ApiPath;
use anklume_tests::{ScratchDir, TEST_IMAGE, TestProject, finish, incus, run_tool, unique_name};

const DISP: &str = env!("CARGO_BIN_EXE_anklume-disp");

/// anklume-disp in a directory without infra.yml, with ANKLUME_INFRA unset.
fn disp(cwd: &ScratchDir) -> Command {
    let mut command = Command::new(DISP);
    command.current_dir(cwd.path()).env_remove("ANKLUME_INFRA");
    command
}

/// anklume-disp launching the test image in `project`.
fn disp_in(project: &TestProject, cwd: &ScratchDir) -> Command {
    let mut command = disp(cwd);
    command.args(["--image", TEST_IMAGE, "--domain", project.name()]);
    command
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Waits until `condition` holds, failing the test after a minute.
fn eventually(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !condition() {
        assert!(
            Instant::now() < deadline,
            "{what}: still not true after 60 s"
        );
        thread::sleep(Duration::from_millis(100));
    }
}

/// anklume-disp failed (status 1) and said `expected` on stderr.
fn assert_failed_saying(out: &Output, expected: &str) {
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(expected),
        "expected {expected:?} in: {stderr}"
    );
}

fn send_signal(child: &Child, signal: &str) {
    let status = Command::new("kill")
        .args([format!("-{signal}"), child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

#[test]
fn the_exit_status_is_the_commands_own_and_nothing_is_left() {
    let Some(project) = TestProject::new("disp-status") else {
        return;
    };
    let cwd = ScratchDir::new("disp-status");
    let out = run_tool(disp_in(&project, &cwd).args(["--cmd", "exit 7"]));
    assert_eq!(out.status.code(), Some(7), "{}", text(&out.stderr));
    let out = run_tool(disp_in(&project, &cwd).args(["--", "sh", "-c", "kill -TERM $$"]));
    assert_eq!(out.status.code(), Some(143), "{}", text(&out.stderr));
    let out = run_tool(disp_in(&project, &cwd).args(["--", "true"]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    // A command not found keeps its status 127, said in anklume-disp's words with a hint, not
    // in the Incus client's bare "Error: Command not found"; 126 likewise.
    let out = run_tool(disp_in(&project, &cwd).args(["-q", "--cmd", "nosuchcmd"]));
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(127), "{stderr}");
    assert!(stderr.contains("anklume-disp: the command in "), "{stderr}");
    assert!(stderr.contains("status 127: not found\nhint: "), "{stderr}");
    assert!(!stderr.contains("Error:"), "{stderr}");
    let out = run_tool(disp_in(&project, &cwd).args(["-q", "--cmd", "touch /x; /x"]));
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(126), "{stderr}");
    assert!(stderr.contains("status 126: not executable"), "{stderr}");
    // A command's own last "Error:" line passes as it was.
    let out =
        run_tool(disp_in(&project, &cwd).args(["-q", "--cmd", "echo 'Error: mine' >&2; exit 2"]));
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(text(&out.stderr), "Error: mine\n");
    assert_eq!(project.instances(), Vec::<String>::new());
}

#[test]
fn stdin_stdout_and_stderr_pass_through_untouched() {
    let Some(project) = TestProject::new("disp-pipes") else {
        return;
    };
    let cwd = ScratchDir::new("disp-pipes");
    let mut child = disp_in(&project, &cwd)
        .args(["--", "tr", "a-z", "A-Z"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"hello\nworld\n")
        .unwrap();
    let out = finish(child);
    assert_eq!(text(&out.stdout), "HELLO\nWORLD\n", "{}", text(&out.stderr));

    let out = run_tool(disp_in(&project, &cwd).args(["-q", "--cmd", "echo out; echo err >&2"]));
    assert_eq!(text(&out.stdout), "out\n");
    assert_eq!(text(&out.stderr), "err\n");
}

#[test]
fn a_tar_stream_goes_in_and_the_build_log_comes_out() {
    let Some(project) = TestProject::new("disp-tar") else {
        return;
    };
    let work = ScratchDir::new("disp-tar-src");
    work.write("src/hello.txt", "hello from the host\n");
    let tar = Command::new("tar")
        .args(["-C", work.path().to_str().unwrap(), "-c", "src"])
        .output()
        .unwrap();
    assert!(tar.status.success());
    let mut child = disp_in(&project, &work)
        .args([
            "-q",
            "--cmd",
            "cd /tmp && tar x && wc -c < src/hello.txt && cat src/hello.txt",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&tar.stdout).unwrap();
    let out = finish(child);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "20\nhello from the host\n");
}

#[test]
fn six_launches_at_the_same_moment_all_succeed_with_distinct_names() {
    let Some(project) = TestProject::new("disp-parallel") else {
        return;
    };
    let cwd = ScratchDir::new("disp-parallel");
    // The names are read from anklume-disp's own output (--no-attach): Incus 6.0's `incus
    // exec` loses the output of a short command now and then when several run at once.
    let children: Vec<Child> = (0..6)
        .map(|_| {
            disp_in(&project, &cwd)
                .args(["-q", "--no-attach"])
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    // Every child is waited for before any assertion, so that cleanup never races a launch.
    let outputs: Vec<Output> = children.into_iter().map(finish).collect();
    for out in &outputs {
        assert!(out.status.success(), "{}", text(&out.stderr));
    }
    let mut names: Vec<String> = outputs
        .iter()
        .map(|out| text(&out.stdout).trim().to_owned())
        .collect();
    for name in &names {
        assert!(name.starts_with("disp-"), "unexpected name {name:?}");
    }
    names.sort();
    names.dedup();
    assert_eq!(names.len(), 6, "names were reused: {names:?}");
    let mut running = project.instances();
    running.sort();
    assert_eq!(running, names);
}

/// Starts `sleep 60` in a disposable instance, waits until it runs, sends `signal`.
/// anklume-disp running `sleep 60` in `project` (with `extra` options), once it runs.
fn running_command(project: &TestProject, cwd: &ScratchDir, extra: &[&str]) -> Child {
    let child = disp_in(project, cwd)
        .args(["-q", "--cmd", "touch /tmp/started; sleep 60"])
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    eventually("the command runs", || {
        project.instances().first().is_some_and(|name| {
            incus()
                .output(
                    &anklume_common::Call::new(
                        "look into",
                        ["exec", name, "--", "test", "-e", "/tmp/started"],
                    )
                    .project(project.name()),
                )
                .is_ok()
        })
    });
    child
}

fn interrupt_running_command(signal: &str, expected: i32) {
    let Some(project) = TestProject::new(&format!("disp-{}", signal.to_lowercase())) else {
        return;
    };
    let cwd = ScratchDir::new("disp-signal");
    let child = running_command(&project, &cwd, &[]);
    send_signal(&child, signal);
    let out = finish(child);
    assert_eq!(out.status.code(), Some(expected), "{}", text(&out.stderr));
    assert_eq!(
        project.instances(),
        Vec::<String>::new(),
        "the instance survived {signal}"
    );
}

#[test]
fn sigint_during_the_command_destroys_the_instance_and_exits_130() {
    interrupt_running_command("INT", 130);
}

#[test]
fn sigterm_during_the_command_destroys_the_instance_and_exits_143() {
    interrupt_running_command("TERM", 143);
}

#[test]
fn sighup_during_the_command_destroys_the_instance_and_exits_129() {
    interrupt_running_command("HUP", 129);
}

#[test]
fn a_signal_during_the_launch_leaves_nothing() {
    let Some(project) = TestProject::new("disp-early-signal") else {
        return;
    };
    let cwd = ScratchDir::new("disp-early-signal");
    for delay_ms in [50, 150, 300, 500] {
        let child = disp_in(&project, &cwd)
            .args(["-q", "--cmd", "sleep 60"])
            .stdin(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        thread::sleep(Duration::from_millis(delay_ms));
        send_signal(&child, "TERM");
        let out = finish(child);
        assert_ne!(
            out.status.code(),
            Some(0),
            "not interrupted after {delay_ms} ms"
        );
        assert_eq!(
            project.instances(),
            Vec::<String>::new(),
            "an instance survived SIGTERM after {delay_ms} ms: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn infra_yml_gives_the_image_and_the_disposable_domain() {
    let Some(project) = TestProject::new("disp-infra") else {
        return;
    };
    let cwd = ScratchDir::new("disp-infra");
    cwd.write(
        "infra.yml",
        &format!(
            "global:\n  default_os_image: {TEST_IMAGE}\ndomains:\n  admin:\n    trust_level: admin\n  {}:\n    trust_level: disposable\n",
            project.name()
        ),
    );
    let out = run_tool(disp(&cwd).args(["--no-attach"]));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let name = text(&out.stdout).trim().to_owned();
    assert_eq!(project.instances(), std::slice::from_ref(&name));
    assert!(
        text(&out.stderr).contains(&format!("using disposable domain '{}'", project.name())),
        "{}",
        text(&out.stderr)
    );
    project.run(&["stop", &name]);
}

#[test]
fn infra_directory_mode_gives_the_same_defaults() {
    let Some(project) = TestProject::new("disp-infra-dir") else {
        return;
    };
    let cwd = ScratchDir::new("disp-infra-dir");
    cwd.write(
        "infra/base.yml",
        &format!("global:\n  default_os_image: {TEST_IMAGE}\n"),
    );
    cwd.write(
        &format!("infra/domains/{}.yml", project.name()),
        "trust_level: disposable\n",
    );
    let out = run_tool(disp(&cwd).args(["-q", "--cmd", "cat /etc/os-release"]));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("anklume test busybox"));
    assert!(out.stderr.is_empty(), "-q printed: {}", text(&out.stderr));
}

#[test]
fn no_attach_prints_the_name_and_leaves_an_ephemeral_instance() {
    let Some(project) = TestProject::new("disp-no-attach") else {
        return;
    };
    let cwd = ScratchDir::new("disp-no-attach");
    let out = run_tool(disp_in(&project, &cwd).arg("--no-attach"));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let name = stdout.lines().next().unwrap().to_owned();
    assert_eq!(
        stdout,
        format!("{name}\n"),
        "stdout must carry the name only"
    );
    assert_eq!(project.instances(), std::slice::from_ref(&name));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(&format!("incus exec {name} --project {}", project.name())),
        "{stderr}"
    );
    assert!(stderr.contains(&format!("incus stop {name}")), "{stderr}");
    // Ephemeral: stopping destroys it.
    project.run(&["stop", &name]);
    eventually("the stopped instance is gone", || {
        project.instances().is_empty()
    });
}

#[test]
fn a_short_ttl_really_destroys_the_instance_after_we_exited() {
    let Some(project) = TestProject::new("disp-ttl") else {
        return;
    };
    let cwd = ScratchDir::new("disp-ttl");
    let out = run_tool(disp_in(&project, &cwd).args(["--no-attach", "--ttl", "2s"]));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let name = text(&out.stdout).trim().to_owned();
    assert_eq!(project.instances(), [name]);
    eventually("the instance is destroyed by its ttl", || {
        project.instances().is_empty()
    });
}

/// A `--ttl` reaper whose instance is deleted early does not linger until its hour: it sees
/// the instance gone and leaves.
#[test]
fn a_ttl_reaper_leaves_once_its_instance_is_gone() {
    let Some(project) = TestProject::new("disp-ttl-gone") else {
        return;
    };
    let cwd = ScratchDir::new("disp-ttl-gone");
    let out = run_tool(disp_in(&project, &cwd).args(["--no-attach", "--ttl", "1h"]));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let name = text(&out.stdout).trim().to_owned();
    let reapers = || {
        Command::new("pgrep")
            .args(["-f", &format!("[-]-reap .* --name {name} --domain")])
            .output()
            .map(|o| text(&o.stdout).lines().count())
            .unwrap_or(0)
    };
    assert_eq!(reapers(), 1, "one reaper waits for the hour");
    project.run(&["delete", "--force", &name]);
    eventually("the reaper leaves once its instance is gone", || {
        reapers() == 0
    });
}

#[test]
fn from_a_golden_instance_starts_a_clone_of_pristine() {
    let Some(project) = TestProject::new("disp-from") else {
        return;
    };
    let cwd = ScratchDir::new("disp-from");
    let golden = unique_name("golden");
    project.golden(&golden, "echo prepared > /root/marker");
    // Changed after the snapshot: the clone must not see it.
    project.run(&["start", &golden]);
    project.run(&[
        "exec",
        &golden,
        "--",
        "sh",
        "-c",
        "echo later > /root/marker",
    ]);

    let out = run_tool(disp(&cwd).args(["-q", "--from", &golden, "--cmd", "cat /root/marker"]));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "prepared\n");
    assert_eq!(project.instances(), std::slice::from_ref(&golden));

    let bare = unique_name("bare");
    project.create_empty(&bare);
    let out = run_tool(disp(&cwd).args(["--from", &bare, "--cmd", "true"]));
    assert_failed_saying(
        &out,
        &format!("golden instance '{bare}' has no 'pristine' snapshot"),
    );
    let mut left = project.instances();
    left.sort();
    let mut expected = vec![golden, bare];
    expected.sort();
    assert_eq!(left, expected);
}

#[test]
fn mount_shares_a_host_folder_and_runs_the_command_there() {
    let Some(project) = TestProject::new("disp-mount") else {
        return;
    };
    let cwd = ScratchDir::new("disp-mount");
    let shared = ScratchDir::new("disp-shared");
    shared.write("input.txt", "from the host\n");
    let mount = shared.path().to_str().unwrap().to_owned();
    // A folder of root's is refused: what the instance writes there would be root's.
    let out = run_tool(disp_in(&project, &cwd).args(["--mount", &mount, "--", "pwd"]));
    assert_failed_saying(&out, "it belongs to root");
    std::os::unix::fs::chown(shared.path(), Some(1000), Some(1000)).unwrap();
    let out = run_tool(disp_in(&project, &cwd).args([
        "-q",
        "--mount",
        &mount,
        "--cmd",
        "pwd; cat input.txt; echo made inside > output.txt",
    ]));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "/mnt/host\nfrom the host\n");
    let written = std::fs::read_to_string(shared.path().join("output.txt")).unwrap();
    assert_eq!(written, "made inside\n");

    let out = run_tool(disp_in(&project, &cwd).args([
        "-q",
        "--mount",
        &format!("{mount}:/srv/work"),
        "--",
        "pwd",
    ]));
    assert_eq!(text(&out.stdout), "/srv/work\n", "{}", text(&out.stderr));

    let missing = shared.path().join("missing");
    let out =
        run_tool(disp_in(&project, &cwd).args(["--mount", missing.to_str().unwrap(), "--", "pwd"]));
    assert_eq!(
        out.status.code(),
        Some(2),
        "a usage error: {}",
        text(&out.stderr)
    );
    assert!(
        text(&out.stderr).contains("missing: no such file or folder"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(project.instances(), Vec::<String>::new());
}

#[test]
fn vm_fails_at_once_with_the_reason_on_a_host_without_vm_support() {
    let Some(project) = TestProject::new("disp-vm") else {
        return;
    };
    let server: serde_json::Value = incus().query(None, &ApiPath::new(&[])).unwrap();
    let drivers = server["environment"]["driver"].as_str().unwrap_or_default();
    if drivers.contains("qemu") {
        eprintln!("this host runs VMs: the failure path cannot be checked here");
        return;
    }
    let cwd = ScratchDir::new("disp-vm");
    let out = run_tool(disp_in(&project, &cwd).args(["--vm", "--cmd", "true"]));
    assert_failed_saying(&out, "this host cannot run virtual machines");
    assert_eq!(project.instances(), Vec::<String>::new());
}

#[test]
fn unknown_image_domain_pool_and_profile_are_named() {
    let Some(project) = TestProject::new("disp-unknown") else {
        return;
    };
    let cwd = ScratchDir::new("disp-unknown");
    let ghost_domain = unique_name("nodomain");
    let cases: Vec<(Vec<String>, String)> = vec![
        (
            vec![
                "--image".into(),
                "no-such-image".into(),
                "--domain".into(),
                project.name().into(),
            ],
            format!(
                "image 'no-such-image' not found in domain '{}'",
                project.name()
            ),
        ),
        (
            vec![
                "--image".into(),
                TEST_IMAGE.into(),
                "--domain".into(),
                ghost_domain.clone(),
            ],
            format!("domain '{ghost_domain}' does not exist"),
        ),
        (
            vec![
                "--image".into(),
                TEST_IMAGE.into(),
                "--domain".into(),
                project.name().into(),
                "-s".into(),
                "no-such-pool".into(),
            ],
            "storage pool 'no-such-pool' does not exist".into(),
        ),
        (
            vec![
                "--image".into(),
                TEST_IMAGE.into(),
                "--domain".into(),
                project.name().into(),
                "-p".into(),
                "no-such-profile".into(),
            ],
            "no-such-profile".into(),
        ),
        (
            vec!["--from".into(), unique_name("nogolden")],
            "not found in any project".into(),
        ),
    ];
    for (args, expected) in cases {
        let out = run_tool(disp(&cwd).args(&args).args(["--cmd", "true"]));
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(stderr.contains(&expected), "{args:?}: {stderr}");
        assert!(stderr.contains("\nhint: "), "{args:?}: no hint in {stderr}");
    }
    assert_eq!(project.instances(), Vec::<String>::new());
}

#[test]
fn a_chosen_name_that_is_taken_is_refused() {
    let Some(project) = TestProject::new("disp-name") else {
        return;
    };
    let cwd = ScratchDir::new("disp-name");
    let taken = unique_name("taken");
    project.create_empty(&taken);
    let out = run_tool(disp_in(&project, &cwd).args(["--name", &taken, "--cmd", "true"]));
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains(&format!("instance name '{taken}' is already used")));
    assert_eq!(project.instances(), [taken]);

    let chosen = unique_name("chosen");
    let out =
        run_tool(disp_in(&project, &cwd).args(["--name", &chosen, "--cmd", "cat /etc/hostname"]));
    assert_eq!(
        text(&out.stdout),
        format!("{chosen}\n"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn contradictory_options_are_usage_errors() {
    let cwd = ScratchDir::new("disp-usage");
    for args in [
        vec!["--ttl", "5m", "--cmd", "true"],
        vec!["--cmd", "true", "--", "ls"],
        vec!["--console", "--no-attach"],
        vec!["--from", "a", "--image", "b"],
        vec!["--ttl", "soon", "--no-attach"],
        vec!["--name", "9bad"],
        vec!["--mount", "/srv:relative"],
        vec!["--image=--empty", "--cmd", "true"],
        vec!["--mount", "/srv", "--no-attach"],
        vec!["--mount", "/srv", "--vm", "--cmd", "true"],
        vec!["--image", "", "--cmd", "true"],
    ] {
        let out = run_tool(disp(&cwd).args(&args));
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            text(&out.stderr)
        );
    }
}

/// anklume-disp on a pseudo-terminal (through `script`), its output collected as it comes.
struct OnTerminal {
    child: Child,
    output: std::sync::Arc<std::sync::Mutex<Vec<u8>>>,
}

impl OnTerminal {
    fn start(project: &TestProject, cwd: &ScratchDir, args: &str) -> Self {
        let image = if args.contains("--from") {
            String::new()
        } else {
            format!("--image {TEST_IMAGE}")
        };
        let line = format!(
            "{DISP} {image} --domain {} {args}; echo disp-status=$?",
            project.name()
        );
        let mut child = Command::new("script")
            .args(["-qfec", &line, "/dev/null"])
            .current_dir(cwd.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let output = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let mut stdout = child.stdout.take().unwrap();
        let sink = std::sync::Arc::clone(&output);
        thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = std::io::Read::read(&mut stdout, &mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        });
        Self { child, output }
    }

    fn screen(&self) -> String {
        text(&self.output.lock().unwrap())
    }

    fn wait_for(&self, what: &str) {
        eventually(&format!("the terminal shows {what:?}"), || {
            self.screen().contains(what)
        });
    }

    /// Types keys one write at a time, as a person would.
    fn type_keys(&mut self, keys: &[&[u8]]) {
        let stdin = self.child.stdin.as_mut().unwrap();
        for key in keys {
            stdin.write_all(key).unwrap();
            stdin.flush().unwrap();
            thread::sleep(Duration::from_millis(300));
        }
    }

    /// Waits for the end and returns the screen; stdin stays open until then.
    fn finish(mut self) -> String {
        self.wait_for("disp-status=");
        drop(self.child.stdin.take());
        self.child.wait().unwrap();
        self.screen()
    }
}

#[test]
fn the_interactive_shell_returns_its_exit_status_and_is_destroyed() {
    let Some(project) = TestProject::new("disp-shell") else {
        return;
    };
    let cwd = ScratchDir::new("disp-shell");
    let mut terminal = OnTerminal::start(&project, &cwd, "");
    terminal.wait_for("# ");
    // The test image has no bash: the shell is sh.
    terminal.type_keys(&[b"echo shell=$0\r", b"exit 5\r"]);
    let screen = terminal.finish();
    assert!(screen.contains("shell=sh\r"), "{screen}");
    assert!(screen.contains("disp-status=5"), "{screen}");
    assert_eq!(project.instances(), Vec::<String>::new());

    // Where bash exists, it is the shell (a stand-in that says so, then runs sh).
    let golden = unique_name("with-bash");
    project.golden(
        &golden,
        "printf '#!/bin/sh\\necho bash-started \"$@\"\\nexec sh\\n' > /bin/bash && chmod 755 /bin/bash",
    );
    let mut terminal = OnTerminal::start(&project, &cwd, &format!("--from {golden}"));
    terminal.wait_for("bash-started -l");
    terminal.type_keys(&[b"exit 3\r"]);
    let screen = terminal.finish();
    assert!(screen.contains("disp-status=3"), "{screen}");
    assert_eq!(project.instances(), std::slice::from_ref(&golden));
}

#[test]
fn detaching_the_console_destroys_the_instance() {
    let Some(project) = TestProject::new("disp-console") else {
        return;
    };
    let cwd = ScratchDir::new("disp-console");
    let mut terminal = OnTerminal::start(&project, &cwd, "--console");
    terminal.wait_for("To detach from the console");
    assert_eq!(project.instances().len(), 1);
    terminal.type_keys(&[b"\x01", b"q"]);
    let screen = terminal.finish();
    assert!(screen.contains("disp-status=0"), "{screen}");
    assert_eq!(project.instances(), Vec::<String>::new());
}

#[test]
fn every_incus_call_goes_through_anklume_incus_with_an_explicit_project() {
    let Some(project) = TestProject::new("disp-wrapper") else {
        return;
    };
    let cwd = ScratchDir::new("disp-wrapper");
    let log = cwd.path().join("calls.log");
    let wrapper = cwd.incus_wrapper(
        "incus-wrapper",
        &format!("*) printf '%s\\n' \"$*\" >> '{}';;", log.display()),
    );

    let out = run_tool(
        disp_in(&project, &cwd)
            .env("ANKLUME_INCUS", &wrapper)
            .args(["-q", "--cmd", "true"]),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let calls = std::fs::read_to_string(&log).unwrap();
    let calls: Vec<&str> = calls.lines().collect();
    assert!(
        calls.len() >= 4,
        "create, start, exec and delete expected: {calls:?}"
    );
    let project_flag = format!("--project {} ", project.name());
    for call in &calls {
        // `incus query` takes the project in its URL (it refuses --project); the client's
        // own settings (its default remote, the API proxy a run may take a preloaded instance
        // through) belong to no project.
        let in_url = |sep: char| format!("{sep}project={}", project.name());
        assert!(
            call.starts_with(&project_flag)
                || call.starts_with("query /1.0/instances?all-projects=true")
                || (call.starts_with("query /1.0/")
                    && (call.contains(&in_url('?')) || call.contains(&in_url('&'))))
                || *call == format!("query /1.0/projects/{}", project.name())
                || call == &"remote get-default"
                || call.starts_with("remote proxy "),
            "a call without --project: {call:?}"
        );
    }
    assert!(
        calls
            .iter()
            .any(|c| c.contains(" create anklume-test-busybox ")),
        "{calls:?}"
    );
    assert!(
        calls.iter().any(|c| c.contains(" delete --force ")),
        "{calls:?}"
    );

    // Without --image nor infra.yml, the image is images:debian/13 (whether or not this
    // machine can fetch it).
    std::fs::remove_file(&log).unwrap();
    let out = run_tool(disp(&cwd).env("ANKLUME_INCUS", &wrapper).args([
        "-q",
        "--domain",
        project.name(),
        "--cmd",
        "true",
    ]));
    let calls = std::fs::read_to_string(&log).unwrap();
    assert!(
        calls.contains(" create images:debian/13 "),
        "{calls}\n{}",
        text(&out.stderr)
    );
    assert_eq!(project.instances(), Vec::<String>::new());
}

/// The disposable is destroyed by identity: when it is gone and a namesake took its name
/// before the final destroy (here: anklume-disp is frozen while the test swaps them), the
/// namesake survives, and anklume-disp says so.
#[test]
fn a_namesake_created_between_the_command_and_the_destroy_survives() {
    let Some(project) = TestProject::new("disp-namesake") else {
        return;
    };
    let cwd = ScratchDir::new("disp-namesake");
    let name = unique_name("disp-same");
    let child = running_command(&project, &cwd, &["--name", &name]);
    send_signal(&child, "STOP");
    project.run(&["delete", "--force", &name]);
    project.run(&["init", "--empty", &name]);
    let namesake = project.run(&["config", "get", &name, "volatile.uuid"]);
    send_signal(&child, "CONT");
    let out = finish(child);
    assert_eq!(
        project.instances(),
        std::slice::from_ref(&name),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(
        project.run(&["config", "get", &name, "volatile.uuid"]),
        namesake
    );
    assert!(
        text(&out.stderr).contains("another instance took its name"),
        "{}",
        text(&out.stderr)
    );
}

/// A golden image whose interface has a static address gives disposables that start: as
/// `anklume-golden derive` does, the clone gets no static address (the golden keeps its own).
#[test]
fn from_a_golden_with_a_static_address_starts_without_it() {
    let Some(project) = TestProject::new("disp-from-static") else {
        return;
    };
    let cwd = ScratchDir::new("disp-from-static");
    let golden = unique_name("golden");
    project.launch(&golden);
    let nic = format!("network={}", anklume_tests::BRIDGE);
    project.run(&[
        "config",
        "device",
        "add",
        &golden,
        "eth0",
        "nic",
        &nic,
        "ipv4.address=10.123.0.80",
    ]);
    project.run(&["stop", &golden]);
    project.run(&["snapshot", "create", &golden, "pristine"]);
    // The golden runs with its address meanwhile.
    project.run(&["start", &golden]);
    let out = run_tool(disp(&cwd).args(["--from", &golden, "--cmd", "echo started"]));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "started\n");
    assert!(
        text(&out.stderr).contains("static addresses"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(project.instances(), std::slice::from_ref(&golden));
}

/// Namesake golden images in two projects: a bare --from is an error naming them, and
/// --from PROJECT/GOLDEN picks one.
#[test]
fn from_project_slash_golden_picks_among_namesakes() {
    let (Some(first), Some(second)) = (
        TestProject::new("disp-from-a"),
        TestProject::new("disp-from-b"),
    ) else {
        return;
    };
    let cwd = ScratchDir::new("disp-from-ns");
    let golden = unique_name("golden");
    first.golden(&golden, "echo first > /root/marker");
    second.golden(&golden, "echo second > /root/marker");
    let out = run_tool(disp(&cwd).args(["--from", &golden, "--cmd", "true"]));
    assert_failed_saying(&out, "exists in several projects");
    assert!(text(&out.stderr).contains(&format!("--from PROJECT/{golden}")));
    for (project, marker) in [(&first, "first\n"), (&second, "second\n")] {
        let from = format!("{}/{golden}", project.name());
        let out = run_tool(disp(&cwd).args(["-q", "--from", &from, "--cmd", "cat /root/marker"]));
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert_eq!(text(&out.stdout), marker);
        assert_eq!(project.instances(), std::slice::from_ref(&golden));
    }
}

/// The --ttl reaper does not give up when Incus fails to answer at its hour: it tries again
/// until the instance is destroyed. (An `incus` wrapper fails every query while a flag file
/// exists.)
#[test]
fn the_ttl_reaper_tries_again_until_the_instance_is_destroyed() {
    let Some(project) = TestProject::new("disp-ttl-retry") else {
        return;
    };
    let cwd = ScratchDir::new("disp-ttl-retry");
    let flag = cwd.path().join("refuse");
    let wrapper = cwd.incus_wrapper(
        "incus-refusing",
        &format!(
            "'query '*) if [ -e '{}' ]; then echo 'Error: injected' >&2; exit 1; fi;;",
            flag.display()
        ),
    );
    let out = run_tool(
        disp_in(&project, &cwd)
            .env("ANKLUME_INCUS", &wrapper)
            .args(["--no-attach", "--ttl", "2s"]),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let name = text(&out.stdout).trim().to_owned();
    std::fs::write(&flag, "").unwrap();
    // The ttl passes while Incus "fails": the instance outlives it.
    thread::sleep(Duration::from_secs(5));
    assert_eq!(project.instances(), [name]);
    std::fs::remove_file(&flag).unwrap();
    eventually("the reaper tries again and destroys it", || {
        project.instances().is_empty()
    });
}

#[test]
fn a_command_without_its_double_dash_is_named_with_the_fix() {
    let out = Command::new(DISP)
        .args(["-d", "lab", "-i", "img", "ls", "/"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("unexpected argument 'ls'"), "{said}");
    assert!(said.contains("anklume-disp [OPTIONS] -- ls"), "{said}");
}
