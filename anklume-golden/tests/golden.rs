//! anklume-golden, the real binary against the real Incus daemon.

use std::process::{Command, Output};

use anklume_common::ApiPath;
use anklume_tests::{
    BRIDGE, BTRFS_POOL, ScratchDir, TEST_IMAGE, TestProject, incus, run_tool, unique_name,
};
use serde_json::Value;

const GOLDEN: &str = env!("CARGO_BIN_EXE_anklume-golden");

fn golden_tool(args: &[&str]) -> Output {
    let cwd = ScratchDir::new("golden");
    run_tool(Command::new(GOLDEN).args(args).current_dir(cwd.path()))
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn assert_ok(out: &Output) {
    assert!(out.status.success(), "{}", text(&out.stderr));
}

fn assert_failed_saying(out: &Output, code: i32, expected: &str) {
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "{stderr}");
    assert!(
        stderr.contains(expected),
        "expected {expected:?} in: {stderr}"
    );
}

fn instance(project: &TestProject, name: &str) -> Value {
    incus()
        .query(
            None,
            &ApiPath::new(&["instances", name])
                .in_project(Some(project.name()))
                .recursive(),
        )
        .unwrap()
}

fn snapshots(project: &TestProject, name: &str) -> Vec<String> {
    instance(project, name)["snapshots"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| s["name"].as_str().unwrap().to_owned())
        .collect()
}

fn status(project: &TestProject, name: &str) -> String {
    instance(project, name)["status"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Content of a file in a (possibly stopped) instance.
fn file(project: &TestProject, name: &str, path: &str) -> String {
    project.run(&["file", "pull", &format!("{name}{path}"), "-"])
}

fn sorted(mut names: Vec<String>) -> Vec<String> {
    names.sort();
    names
}

#[test]
fn create_stops_a_running_instance_and_takes_a_pristine_that_never_expires() {
    let Some(project) = TestProject::new("golden-create") else {
        return;
    };
    let tpl = unique_name("tpl");
    project.launch(&tpl);
    // An expiry configured on the instance must not apply to pristine.
    project.run(&["config", "set", &tpl, "snapshots.expiry=1d"]);
    assert_eq!(status(&project, &tpl), "Running");

    let out = golden_tool(&["create", &tpl]);
    assert_ok(&out);
    assert_eq!(status(&project, &tpl), "Stopped");
    assert_eq!(snapshots(&project, &tpl), ["pristine"]);
    let pristine = &instance(&project, &tpl)["snapshots"][0];
    assert!(
        pristine["expires_at"]
            .as_str()
            .unwrap()
            .starts_with("0001-01-01"),
        "pristine expires: {pristine}"
    );
    let stderr = text(&out.stderr);
    assert!(stderr.contains("stays stopped"), "{stderr}");
    assert!(out.stdout.is_empty());
}

#[test]
fn create_again_replaces_pristine_with_the_newer_content() {
    let Some(project) = TestProject::new("golden-recreate") else {
        return;
    };
    let tpl = unique_name("tpl");
    project.golden(&tpl, "echo v1 > /root/marker");
    project.run(&["start", &tpl]);
    project.run(&["exec", &tpl, "--", "sh", "-c", "echo v2 > /root/marker"]);

    let out = golden_tool(&["create", &tpl, "--project", project.name()]);
    assert_ok(&out);
    assert!(text(&out.stderr).contains("replaced snapshot 'pristine'"));
    assert_eq!(snapshots(&project, &tpl), ["pristine"]);
    let clone = unique_name("clone");
    assert_ok(&golden_tool(&["derive", &tpl, &clone]));
    assert_eq!(file(&project, &clone, "/root/marker"), "v2\n");
}

#[test]
fn a_clean_stop_that_times_out_changes_nothing_unless_forced() {
    let Some(project) = TestProject::new("golden-timeout") else {
        return;
    };
    let stubborn = unique_name("stubborn");
    project.launch(&stubborn);
    // An init that ignores SIGPWR: a clean stop can never succeed.
    project.run(&[
        "exec",
        &stubborn,
        "--",
        "sh",
        "-c",
        "printf '#!/bin/sh\\ntrap \"\" PWR\\nwhile :; do sleep 1; done\\n' > /sbin/init",
    ]);
    project.run(&["restart", "--force", &stubborn]);

    let out = golden_tool(&["create", &stubborn, "--timeout", "2"]);
    assert_failed_saying(
        &out,
        1,
        "did not stop cleanly within 2 s; nothing was changed",
    );
    assert!(text(&out.stderr).contains("--force"));
    assert_eq!(status(&project, &stubborn), "Running");
    assert!(snapshots(&project, &stubborn).is_empty());
    // Incus takes a timeout of 0 as "force the stop now": not without --force.
    let out = golden_tool(&["create", &stubborn, "--timeout", "0"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert_eq!(status(&project, &stubborn), "Running");

    assert_ok(&golden_tool(&[
        "create",
        &stubborn,
        "--timeout",
        "2",
        "--force",
    ]));
    assert_eq!(status(&project, &stubborn), "Stopped");
    assert_eq!(snapshots(&project, &stubborn), ["pristine"]);
}

#[test]
fn derive_creates_every_new_instance_from_pristine() {
    let Some(project) = TestProject::new("golden-derive") else {
        return;
    };
    let tpl = unique_name("tpl");
    project.golden(&tpl, "echo golden > /root/marker");
    let news: Vec<String> = (0..3).map(|_| unique_name("lab")).collect();
    let mut args = vec!["derive", tpl.as_str()];
    args.extend(news.iter().map(String::as_str));
    args.push("--start");
    let out = golden_tool(&args);
    assert_ok(&out);
    assert_eq!(
        text(&out.stdout),
        news.iter().map(|n| format!("{n}\n")).collect::<String>()
    );
    for new in &news {
        assert_eq!(status(&project, new), "Running");
        assert_eq!(file(&project, new, "/root/marker"), "golden\n");
    }
    // On the dir pool, a clone is a full copy: said once.
    assert_eq!(
        text(&out.stderr).matches("not copy-on-write").count(),
        1,
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn derive_onto_an_existing_name_or_without_pristine_changes_nothing() {
    let Some(project) = TestProject::new("golden-derive-bad") else {
        return;
    };
    let tpl = unique_name("tpl");
    project.golden(&tpl, "true");
    let taken = unique_name("taken");
    project.create_empty(&taken);
    let fresh = unique_name("fresh");
    let before = sorted(project.instances());

    let out = golden_tool(&["derive", &tpl, &fresh, &taken]);
    assert_failed_saying(&out, 1, &format!("instance '{taken}' already exists"));
    assert_eq!(sorted(project.instances()), before, "something was created");

    let out = golden_tool(&["derive", &taken, &fresh]);
    assert_failed_saying(
        &out,
        1,
        &format!(
            "instance '{taken}' (project {}) has no 'pristine' snapshot",
            project.name()
        ),
    );
    assert!(text(&out.stderr).contains(&format!("anklume-golden create {taken}")));

    assert_failed_saying(
        &golden_tool(&["derive", &tpl, &fresh, &fresh]),
        2,
        "given twice",
    );
    let ghost = unique_name("ghost");
    assert_failed_saying(
        &golden_tool(&["derive", &ghost, &fresh]),
        1,
        &format!("instance '{ghost}' not found"),
    );
    assert_eq!(sorted(project.instances()), before, "something was created");
}

#[test]
fn clones_of_a_template_with_a_static_address_still_start() {
    let Some(project) = TestProject::new("golden-static-ip") else {
        return;
    };
    let tpl = unique_name("tpl");
    project.launch(&tpl);
    project.run(&[
        "config",
        "device",
        "add",
        &tpl,
        "eth0",
        "nic",
        &format!("network={BRIDGE}"),
        "ipv4.address=10.123.0.70",
    ]);
    project.run(&["stop", &tpl]);
    project.run(&["snapshot", "create", &tpl, "pristine"]);

    let plain = unique_name("plain");
    let out = golden_tool(&["derive", &tpl, &plain, "--start"]);
    assert_ok(&out);
    assert!(
        text(&out.stderr).contains("static address 10.123.0.70"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(status(&project, &plain), "Running");
    assert_eq!(
        instance(&project, &plain)["expanded_devices"]["eth0"]["ipv4.address"]
            .as_str()
            .unwrap_or_default(),
        ""
    );
    // The template keeps its address.
    assert_eq!(
        instance(&project, &tpl)["devices"]["eth0"]["ipv4.address"],
        "10.123.0.70"
    );

    let addressed = unique_name("addressed");
    assert_ok(&golden_tool(&[
        "derive",
        &tpl,
        &addressed,
        "--ipv4",
        "10.123.0.71",
        "--start",
    ]));
    assert_eq!(status(&project, &addressed), "Running");
    assert_eq!(
        instance(&project, &addressed)["expanded_devices"]["eth0"]["ipv4.address"],
        "10.123.0.71"
    );

    let (a, b) = (unique_name("a"), unique_name("b"));
    assert_failed_saying(
        &golden_tool(&["derive", &tpl, &a, &b, "--ipv4", "10.123.0.72"]),
        2,
        "--ipv4",
    );
    assert_failed_saying(
        &golden_tool(&["derive", &tpl, &a, "--ipv4", "10.123.0.300"]),
        2,
        "invalid value",
    );
}

fn pool_used_bytes(pool: &str) -> u64 {
    let _ = Command::new("sync").status();
    let resources: Value = incus()
        .query(None, &ApiPath::new(&["storage-pools", pool, "resources"]))
        .unwrap();
    resources["space"]["used"].as_u64().unwrap()
}

#[test]
fn derive_on_btrfs_is_copy_on_write() {
    let Some(project) = TestProject::new("golden-cow") else {
        return;
    };
    let tpl = unique_name("tpl");
    project.run(&["launch", TEST_IMAGE, &tpl, "--storage", BTRFS_POOL]);
    project.run(&[
        "exec",
        &tpl,
        "--",
        "dd",
        "if=/dev/urandom",
        "of=/root/blob",
        "bs=1M",
        "count=64",
    ]);
    assert_ok(&golden_tool(&["create", &tpl]));

    let before = pool_used_bytes(BTRFS_POOL);
    let news: Vec<String> = (0..3).map(|_| unique_name("cow")).collect();
    let mut args = vec!["derive", tpl.as_str()];
    args.extend(news.iter().map(String::as_str));
    let out = golden_tool(&args);
    assert_ok(&out);
    let grown = pool_used_bytes(BTRFS_POOL).saturating_sub(before);
    // Three full copies would add 192 MiB; copy-on-write clones share the template's blocks.
    assert!(
        grown < 16 * 1024 * 1024,
        "the pool grew by {grown} bytes for 3 clones of 64 MiB"
    );
    assert!(
        !text(&out.stderr).contains("not copy-on-write"),
        "{}",
        text(&out.stderr)
    );
}

/// Deletes the images a test published (they live outside the test project).
struct PublishedImages<'a>(&'a TestProject, Vec<String>);

impl Drop for PublishedImages<'_> {
    fn drop(&mut self) {
        for fingerprint in &self.1 {
            let _ = incus().output(
                &anklume_common::Call::new("delete image", ["image", "delete", fingerprint])
                    .project(self.0.name()),
            );
        }
    }
}

#[test]
fn publish_makes_an_image_that_disposable_instances_start_from() {
    let Some(project) = TestProject::new("golden-publish") else {
        return;
    };
    let mut published = PublishedImages(&project, Vec::new());
    let tpl = unique_name("tpl");
    project.golden(&tpl, "echo from-the-golden-image > /root/marker");
    let alias = unique_name("img");

    let out = golden_tool(&["publish", &tpl, &alias]);
    assert_ok(&out);
    let first = text(&out.stdout).trim().to_owned();
    published.1.push(first.clone());
    assert_eq!(first.len(), 64, "not a fingerprint: {first:?}");
    assert!(text(&out.stderr).contains(&format!("os_image: {alias}")));
    let target: Value = incus()
        .query(
            None,
            &ApiPath::new(&["images", "aliases", &alias]).in_project(Some(project.name())),
        )
        .unwrap();
    assert_eq!(target["target"], first.as_str());

    let out = golden_tool(&["publish", &tpl, "--alias", &alias]);
    assert_failed_saying(&out, 1, &format!("image alias '{alias}' already exists"));
    assert!(text(&out.stderr).contains("--reuse"));

    project.run(&["start", &tpl]);
    project.run(&["exec", &tpl, "--", "sh", "-c", "echo newer > /root/marker"]);
    assert_ok(&golden_tool(&["create", &tpl]));
    let out = golden_tool(&["publish", &tpl, "--alias", &alias, "--reuse"]);
    assert_ok(&out);
    let second = text(&out.stdout).trim().to_owned();
    published.1.push(second.clone());
    assert_ne!(second, first);

    // The alias now gives the newer pristine.
    let from_image = unique_name("from-image");
    project.run(&["init", &alias, &from_image]);
    assert_eq!(file(&project, &from_image, "/root/marker"), "newer\n");

    let out = golden_tool(&["publish", &unique_name("ghost"), &alias]);
    assert_failed_saying(&out, 1, "not found in any project");
}

#[test]
fn list_shows_golden_images_in_three_formats() {
    let Some(project) = TestProject::new("golden-list") else {
        return;
    };
    let on_dir = unique_name("gdir");
    project.golden(&on_dir, "true");
    let on_btrfs = unique_name("gbtrfs");
    project.run(&["launch", TEST_IMAGE, &on_btrfs, "--storage", BTRFS_POOL]);
    assert_ok(&golden_tool(&["create", &on_btrfs]));
    project.create_empty(&unique_name("plain"));

    let out = golden_tool(&["list", "--project", project.name(), "--format", "json"]);
    assert_ok(&out);
    let rows: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    let mut names: Vec<&str> = rows.iter().map(|r| r["name"].as_str().unwrap()).collect();
    names.sort();
    let mut expected = vec![on_dir.as_str(), on_btrfs.as_str()];
    expected.sort();
    assert_eq!(names, expected);
    for row in &rows {
        assert_eq!(row["project"], project.name());
        assert!(row["pristine_created"].as_str().unwrap().starts_with("20"));
        let on_btrfs_pool = row["name"] == on_btrfs.as_str();
        assert_eq!(
            row["pool"],
            if on_btrfs_pool { BTRFS_POOL } else { "default" }
        );
        assert_eq!(row["cow"], on_btrfs_pool);
    }

    let out = golden_tool(&["list", "--project", project.name(), "--format", "csv"]);
    assert_ok(&out);
    let csv = text(&out.stdout);
    assert_eq!(csv.lines().count(), 2, "{csv}");
    assert!(
        csv.lines().any(
            |l| l.starts_with(&format!("{on_btrfs},{},", project.name()))
                && l.ends_with(&format!(",{BTRFS_POOL},yes"))
        ),
        "{csv}"
    );
    assert!(
        csv.lines()
            .any(|l| l.starts_with(&format!("{on_dir},")) && l.ends_with(",default,no")),
        "{csv}"
    );

    let out = golden_tool(&["list"]);
    assert_ok(&out);
    let table = text(&out.stdout);
    let header = table.lines().next().unwrap();
    assert!(
        header.starts_with("NAME")
            && header.contains("PRISTINE CREATED")
            && header.ends_with("COW"),
        "{table}"
    );
    let line = table
        .lines()
        .find(|l| l.starts_with(&format!("{on_btrfs} ")))
        .unwrap_or_else(|| panic!("{table}"));
    assert!(
        line.contains(project.name()) && line.ends_with("yes"),
        "{line}"
    );

    assert_failed_saying(
        &golden_tool(&["list", "--project", &unique_name("noproj")]),
        1,
        "does not exist",
    );
}

/// golden runs the tools' prologue: a SIGTERM between two copies of a derive ends it there,
/// with 143 and the reason, and what it printed is exactly what it made (nothing half-made).
#[test]
fn sigterm_stops_a_derive_between_two_copies() {
    use std::process::Stdio;

    let Some(project) = TestProject::new("golden-signal") else {
        return;
    };
    let template = unique_name("tpl");
    project.golden(&template, "echo ref > /root/ref");
    let clones: Vec<String> = (0..8).map(|i| unique_name(&format!("c{i}"))).collect();
    let cwd = ScratchDir::new("golden-signal");
    let child = Command::new(GOLDEN)
        .arg("derive")
        .arg(&template)
        .args(&clones)
        .current_dir(cwd.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Once the first clone exists, the derive is stopped between two copies.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !project.instances().contains(&clones[0]) {
        assert!(std::time::Instant::now() < deadline, "no clone after 60 s");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let kill = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let out = anklume_tests::finish(child);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(143), "{stderr}");
    assert!(stderr.contains("interrupted by SIGTERM"), "{stderr}");
    assert!(stderr.contains("nothing was kept"), "{stderr}");
    assert_eq!(
        text(&out.stdout),
        "",
        "names are printed only once all are made"
    );
    assert_eq!(project.instances(), [template], "a clone was left");
}

/// derive is all or nothing: a failure on the last NEW, or of a start with --start, destroys
/// the clones made before it, so that the same command can be run again.
#[test]
fn a_derive_failing_on_its_last_clone_keeps_none() {
    let Some(project) = TestProject::new("golden-undo") else {
        return;
    };
    let template = unique_name("tpl");
    project.golden(&template, "echo ref > /root/ref");
    let clones: Vec<String> = (0..3).map(|i| unique_name(&format!("u{i}"))).collect();
    let cwd = ScratchDir::new("golden-undo");
    // An incus that refuses the copy of the last clone.
    let wrapper = cwd.incus_wrapper(
        "incus-failing",
        &format!(
            "*'pristine {} '*) echo 'Error: injected failure' >&2; exit 1;;",
            clones[2]
        ),
    );
    let mut args = vec!["derive", template.as_str()];
    args.extend(clones.iter().map(String::as_str));
    let out = run_tool(
        Command::new(GOLDEN)
            .args(&args)
            .env("ANKLUME_INCUS", &wrapper)
            .current_dir(cwd.path()),
    );
    assert_failed_saying(&out, 1, "injected failure");
    assert!(
        text(&out.stderr).contains("nothing was kept"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(text(&out.stdout), "");
    assert_eq!(project.instances(), std::slice::from_ref(&template));
    // A start that fails, with --start: none kept either.
    let refusing = cwd.incus_wrapper(
        "incus-not-starting",
        &format!(
            "*'start {} '*|*'start {}') echo 'Error: injected start failure' >&2; exit 1;;",
            clones[1], clones[1]
        ),
    );
    let mut started = args.clone();
    started.push("--start");
    let out = run_tool(
        Command::new(GOLDEN)
            .args(&started)
            .env("ANKLUME_INCUS", &refusing)
            .current_dir(cwd.path()),
    );
    assert_failed_saying(&out, 1, "injected start failure");
    assert!(
        text(&out.stderr).contains("nothing was kept"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(project.instances(), std::slice::from_ref(&template));

    // The same command, run again, works.
    let out = golden_tool(&args);
    assert_ok(&out);
    assert_eq!(text(&out.stdout).lines().collect::<Vec<_>>(), clones);
}

/// A frozen instance is refused before anything changes: it stays frozen, without snapshot.
#[test]
fn create_refuses_a_frozen_instance_and_leaves_it_frozen() {
    let Some(project) = TestProject::new("golden-frozen") else {
        return;
    };
    let frozen = unique_name("frozen");
    project.launch(&frozen);
    project.run(&["pause", &frozen]);
    let out = golden_tool(&["create", &frozen]);
    assert_failed_saying(&out, 1, "is frozen; nothing was changed");
    assert_eq!(status(&project, &frozen), "Frozen");
    assert!(snapshots(&project, &frozen).is_empty());
}

/// `create` checks that the instance stayed stopped while its snapshot was taken: started
/// meanwhile (an `incus` wrapper starts it just before the snapshot), `create` fails saying
/// so, `pristine` stays the old one and no temporary snapshot is left.
#[test]
fn create_fails_when_the_instance_was_started_during_the_snapshot() {
    let Some(project) = TestProject::new("golden-started") else {
        return;
    };
    let template = unique_name("tpl");
    project.golden(&template, "echo old > /root/marker");
    let before = instance(&project, &template)["snapshots"][0]["created_at"].clone();
    let cwd = ScratchDir::new("golden-started");
    let wrapper = cwd.incus_wrapper(
        "incus-starting",
        &format!(
            "*'snapshot create'*) incus start --project '{}' '{template}';;",
            project.name()
        ),
    );
    let out = run_tool(
        Command::new(GOLDEN)
            .args(["create", &template])
            .env("ANKLUME_INCUS", &wrapper)
            .current_dir(cwd.path()),
    );
    assert_failed_saying(&out, 1, "was started while its snapshot was taken");
    assert_eq!(snapshots(&project, &template), ["pristine"]);
    assert_eq!(
        instance(&project, &template)["snapshots"][0]["created_at"],
        before
    );
}
