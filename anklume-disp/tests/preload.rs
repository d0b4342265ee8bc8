//! Preloaded disposables (`--preload N`), the real binary against the real Incus daemon.

use std::process::{Child, Command, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use anklume_tests::{ScratchDir, TEST_IMAGE, TestProject, finish, run_tool, unique_name};

const DISP: &str = env!("CARGO_BIN_EXE_anklume-disp");

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// anklume-disp with the test image in `project`, without infra.yml.
fn disp_in(project: &TestProject, cwd: &ScratchDir) -> Command {
    let mut command = Command::new(DISP);
    command
        .args(["--image", TEST_IMAGE, "--domain", project.name()])
        .current_dir(cwd.path())
        .env_remove("ANKLUME_INFRA");
    command
}

/// Waits until `condition` holds, failing the test after two minutes.
fn eventually(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while !condition() {
        assert!(
            Instant::now() < deadline,
            "{what}: still not true after 2 min"
        );
        thread::sleep(Duration::from_millis(200));
    }
}

/// The names of the instances of `project` waiting in a pool.
fn ready(project: &TestProject) -> Vec<String> {
    let out = run_tool(Command::new(DISP).args(["--preload-list", "--format", "json"]));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut names: Vec<String> = rows
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["domain"] == project.name() && r["state"] == "ready")
        .map(|r| r["name"].as_str().unwrap().to_owned())
        .collect();
    names.sort();
    names
}

fn names_of(out: &Output) -> Vec<String> {
    assert!(out.status.success(), "{}", text(&out.stderr));
    let mut names: Vec<String> = text(&out.stdout).lines().map(str::to_owned).collect();
    names.sort();
    names
}

/// `--preload 0`, then nothing but `kept` is left in the project once the runs' watchdogs and
/// refills are done.
fn empty_the_pool(project: &TestProject, command: &mut Command, kept: &[String]) {
    let out = run_tool(command.args(["--preload", "0"]));
    assert!(out.status.success(), "{}", text(&out.stderr));
    eventually("nothing left after --preload 0", || {
        project.instances() == kept
    });
}

#[test]
fn a_run_takes_a_preloaded_instance_and_the_pool_is_refilled() {
    let Some(project) = TestProject::new("preload-take") else {
        return;
    };
    let cwd = ScratchDir::new("preload-take");
    let pool = names_of(&run_tool(disp_in(&project, &cwd).args(["--preload", "2"])));
    assert_eq!(pool.len(), 2);
    assert_eq!(ready(&project), pool);

    let out = run_tool(disp_in(&project, &cwd).args(["-q", "--cmd", "hostname"]));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let used = text(&out.stdout).trim().to_owned();
    assert!(pool.contains(&used), "{used} is not one of {pool:?}");
    eventually(
        "the used one is destroyed and the pool is back to 2",
        || {
            let now = ready(&project);
            now.len() == 2 && !now.contains(&used) && !project.instances().contains(&used)
        },
    );
    // Options applied to a started instance still apply to a preloaded one.
    let out = run_tool(disp_in(&project, &cwd).args([
        "-q",
        "--env",
        "X=taken",
        "--cmd",
        "echo $X; hostname",
    ]));
    let said = text(&out.stdout);
    assert!(said.starts_with("taken\n"), "{said}");
    assert!(
        said.trim_end().ends_with(|c: char| c.is_ascii_hexdigit()),
        "{said}"
    );
    empty_the_pool(&project, &mut disp_in(&project, &cwd), &[]);
}

#[test]
fn concurrent_runs_on_a_pool_of_two_all_succeed_with_distinct_instances() {
    let Some(project) = TestProject::new("preload-race") else {
        return;
    };
    let cwd = ScratchDir::new("preload-race");
    let pool = names_of(&run_tool(disp_in(&project, &cwd).args(["--preload", "2"])));
    let runs: Vec<Child> = (0..3)
        .map(|_| {
            disp_in(&project, &cwd)
                .args(["-q", "--cmd", "sleep 2; hostname"])
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let outs: Vec<Output> = runs.into_iter().map(finish).collect();
    let mut hosts = Vec::new();
    for out in &outs {
        assert!(out.status.success(), "{}", text(&out.stderr));
        hosts.push(text(&out.stdout).trim().to_owned());
    }
    hosts.sort();
    hosts.dedup();
    assert_eq!(hosts.len(), 3, "each run its own instance: {hosts:?}");
    let preloaded = hosts.iter().filter(|h| pool.contains(h)).count();
    assert!(preloaded >= 1, "the pool served: {hosts:?} (pool {pool:?})");
    // --preload 0 while the refills started by the runs may still be at work.
    empty_the_pool(&project, &mut disp_in(&project, &cwd), &[]);
}

#[test]
fn a_new_pristine_snapshot_invalidates_the_preloaded_clones() {
    let Some(project) = TestProject::new("preload-gold") else {
        return;
    };
    let cwd = ScratchDir::new("preload-gold");
    let golden = unique_name("golden");
    project.golden(&golden, "echo first > /etc/motd");
    let from = || {
        let mut command = Command::new(DISP);
        command
            .args(["--from", &golden, "--domain", project.name()])
            .current_dir(cwd.path())
            .env_remove("ANKLUME_INFRA");
        command
    };
    let pool = names_of(&run_tool(from().args(["--preload", "1"])));
    assert_eq!(pool.len(), 1);
    // The golden image is made again: a new pristine snapshot.
    project.run(&["start", &golden]);
    project.run(&["exec", &golden, "--", "sh", "-c", "echo second > /etc/motd"]);
    project.run(&["stop", &golden]);
    project.run(&["snapshot", "delete", &golden, "pristine"]);
    project.run(&["snapshot", "create", &golden, "pristine"]);

    let out = run_tool(from().args(["-q", "--cmd", "hostname; cat /etc/motd"]));
    let said = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(!said.contains(&pool[0]), "a stale clone was used: {said}");
    assert!(said.ends_with("second\n"), "{said}");
    eventually("the stale clone is replaced", || {
        let now = ready(&project);
        now.len() == 1 && now[0] != pool[0] && !project.instances().contains(&pool[0])
    });
    let out = run_tool(from().args(["-q", "--cmd", "cat /etc/motd"]));
    assert_eq!(text(&out.stdout), "second\n", "{}", text(&out.stderr));
    // The golden instance itself is never touched.
    empty_the_pool(&project, &mut from(), std::slice::from_ref(&golden));
}

#[test]
fn signals_during_claims_leak_nothing() {
    let Some(project) = TestProject::new("preload-sig") else {
        return;
    };
    let cwd = ScratchDir::new("preload-sig");
    names_of(&run_tool(disp_in(&project, &cwd).args(["--preload", "2"])));
    for delay in [0u64, 20, 50, 80, 120, 200] {
        let child = disp_in(&project, &cwd)
            .args(["-q", "--cmd", "sleep 30"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        thread::sleep(Duration::from_millis(delay));
        let pid = child.id().to_string();
        Command::new("kill").args(["-INT", &pid]).status().unwrap();
        let out = finish(child);
        // Killed by the signal itself when it came before the handler was set.
        use std::os::unix::process::ExitStatusExt;
        assert!(
            matches!(out.status.code(), Some(130 | 0)) || out.status.signal() == Some(2),
            "after {delay} ms: {:?} {}",
            out.status,
            text(&out.stderr)
        );
        eventually("only the pool of two is left", || {
            project.instances().len() == 2 && ready(&project).len() == 2
        });
    }
    empty_the_pool(&project, &mut disp_in(&project, &cwd), &[]);
}

/// SIGKILL at moments around the claim: the taken instance is destroyed by the run's watchdog
/// (even when Incus applies the claim after the kill), and nothing stays "taken".
#[test]
fn sigkill_around_claims_leaves_no_taken_instance() {
    let Some(project) = TestProject::new("preload-kill") else {
        return;
    };
    let cwd = ScratchDir::new("preload-kill");
    names_of(&run_tool(disp_in(&project, &cwd).args(["--preload", "2"])));
    for delay in [30u64, 60, 90, 120, 160] {
        let mut child = disp_in(&project, &cwd)
            .args(["-q", "--cmd", "sleep 30"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        thread::sleep(Duration::from_millis(delay));
        child.kill().unwrap();
        child.wait().unwrap();
        eventually("no instance left taken", || {
            let instances = project.instances();
            let ready = ready(&project);
            instances.len() == ready.len() && instances.iter().all(|i| ready.contains(i))
        });
        // The next run refills what a killed one could not.
        let out = run_tool(disp_in(&project, &cwd).args(["-q", "--cmd", "true"]));
        assert!(out.status.success(), "{}", text(&out.stderr));
        eventually("the pool is back to 2", || ready(&project).len() == 2);
    }
    empty_the_pool(&project, &mut disp_in(&project, &cwd), &[]);
}

/// A run that shares host paths is never served from the pool (the id map is set at creation);
/// a pool whose instances are gone (a reboot) is refilled by the next run.
#[test]
fn mounts_launch_fresh_and_an_emptied_pool_is_refilled() {
    let Some(project) = TestProject::new("preload-mount") else {
        return;
    };
    let cwd = ScratchDir::new("preload-mount");
    let shared = cwd.path().join("shared");
    std::fs::create_dir(&shared).unwrap();
    std::os::unix::fs::chown(&shared, Some(1000), Some(1000)).unwrap();
    let pool = names_of(&run_tool(disp_in(&project, &cwd).args(["--preload", "1"])));
    let out = run_tool(disp_in(&project, &cwd).args([
        "-q",
        "--mount",
        "./shared:/s:ro",
        "--cmd",
        "hostname",
    ]));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        !pool.contains(&text(&out.stdout).trim().to_owned()),
        "{pool:?}"
    );
    assert_eq!(ready(&project), pool);

    project.run(&["delete", "--force", &pool[0]]);
    let out = run_tool(disp_in(&project, &cwd).args(["-q", "--cmd", "true"]));
    assert!(out.status.success(), "{}", text(&out.stderr));
    eventually("the emptied pool is refilled", || {
        ready(&project).len() == 1
    });
    empty_the_pool(&project, &mut disp_in(&project, &cwd), &[]);
}
