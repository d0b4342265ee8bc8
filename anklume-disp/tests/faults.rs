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
    let mut failures = Vec::new();
    let mut gone_within_10_s = |after: u64| {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while !project.instances().is_empty() && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(200));
        }
        let left = project.instances();
        if !left.is_empty() {
            failures.push(format!("SIGKILL after {after} ms left {left:?} for 10 s"));
            for name in &left {
                project.run(&["delete", "--force", name]);
            }
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
        failures.len(),
    );
    assert!(
        failures.is_empty(),
        "launch to command: {span} ms; {failures:#?}"
    );
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
