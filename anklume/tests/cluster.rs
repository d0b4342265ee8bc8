//! Clusters and remotes, on the test ground's two-member cluster (`anklume-cluster`: m1 and
//! m2, each an `incusd` of its own on this machine). Every test has a fresh project on the
//! cluster; the tools run as a user runs them, through the front command.
//!
//! The test that stops m2 runs alone (`members_exclusive`); the others share the cluster.

mod tools;

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use anklume_common::Located;
use anklume_tests::cluster::{MEMBER_REMOTE, MemberDown, members_exclusive, members_shared};
use anklume_tests::gpg::Gpg;
use anklume_tests::{CLUSTER_REMOTE, ScratchDir, TEST_IMAGE, TestProject, run_tool, unique_name};
use tools::{anklume, target_dir, text};

/// `anklume ARGS...` in an empty directory (no infra.yml), stdin closed, with `env` set.
fn run_with(args: &[&str], env: &[(&str, &Path)]) -> Output {
    let cwd = ScratchDir::new("cluster");
    let mut command = anklume(args);
    command
        .current_dir(cwd.path())
        .env_remove("ANKLUME_INFRA")
        .env_remove("ANKLUME_BACKUP_REPO");
    for (key, value) in env {
        command.env(key, value);
    }
    run_tool(&mut command)
}

fn run(args: &[&str]) -> Output {
    run_with(args, &[])
}

/// `anklume ARGS...`, which must succeed.
fn ok(args: &[&str]) -> Output {
    ok_with(args, &[])
}

/// `anklume ARGS...` with `env` set, which must succeed.
fn ok_with(args: &[&str], env: &[(&str, &Path)]) -> Output {
    let out = run_with(args, env);
    assert!(
        out.status.success(),
        "`anklume {}` failed ({}):\n{}",
        args.join(" "),
        out.status,
        text(&out.stderr)
    );
    out
}

fn at(project: &TestProject, name: &str) -> Located {
    Located {
        remote: project.remote().map(str::to_owned),
        project: project.name().to_owned(),
        name: name.to_owned(),
    }
}

/// The instance name anklume-disp --no-attach printed, which must be `REMOTE:NAME`.
fn on_cluster(printed: &[u8]) -> String {
    let printed = text(printed);
    let prefix = format!("{CLUSTER_REMOTE}:");
    match printed.trim().strip_prefix(&prefix) {
        Some(name) => name.to_owned(),
        None => panic!("--no-attach printed {printed:?}, not {prefix}NAME"),
    }
}

/// An image of the cluster, by fingerprint, deleted when dropped (a project's deletion leaves
/// the images of `default`, which test projects share).
struct ClusterImage(String);

impl Drop for ClusterImage {
    fn drop(&mut self) {
        let image = format!("{CLUSTER_REMOTE}:{}", self.0);
        let call = anklume_common::Call::new("delete a test image", ["image", "delete", &image]);
        if let Err(e) = anklume_tests::incus().output(&call) {
            eprintln!("{e}");
        }
    }
}

/// The cluster member `name` lives on, as Incus says.
fn location(project: &TestProject, name: &str) -> String {
    let info = project.incus().instance(&at(project, name));
    info.unwrap_or_else(|e| panic!("{e}")).location
}

/// Waits until the project holds exactly `names` (sorted), panicking with what is left.
fn wait_for_instances(project: &TestProject, names: &[&str], within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        let mut left = project.instances();
        left.sort();
        if left == names {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "after {within:?} the project holds {left:?}, not {names:?}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// Waits until the project holds `count` running instances (a disposable under way).
fn wait_for_count(project: &TestProject, count: usize) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let described = project
            .incus()
            .instances_described(project.remote(), Some(project.name()))
            .unwrap();
        if described.iter().filter(|i| i.status == "Running").count() >= count {
            return;
        }
        assert!(Instant::now() < deadline, "the disposable never started");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// `disp --remote CLUSTER --target MEMBER -d PROJECT -i TEST_IMAGE`: a disposable's options on
/// a member of the test ground's cluster.
fn disp_on<'a>(project: &'a TestProject, member: &'a str) -> Vec<&'a str> {
    vec![
        "disp",
        "--remote",
        CLUSTER_REMOTE,
        "--target",
        member,
        "-d",
        project.name(),
        "-i",
        TEST_IMAGE,
    ]
}

/// `anklume-disp --remote CLUSTER -d PROJECT --cmd 'sleep 120'`, started, once its instance
/// runs.
fn sleeping_disposable(project: &TestProject) -> Child {
    let child = Command::new(target_dir().join("anklume-disp"))
        .args([
            "--remote",
            CLUSTER_REMOTE,
            "-d",
            project.name(),
            "-i",
            TEST_IMAGE,
        ])
        .args(["-q", "--cmd", "sleep 120"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for_count(project, 1);
    child
}

/// A fresh project on the cluster with a golden image on m1: the project, the golden's name
/// and `REMOTE:NAME`.
fn with_golden_on_m1(label: &str) -> Option<(TestProject, String, String)> {
    let project = TestProject::on_cluster(label)?;
    let name = unique_name("gold");
    golden_on_m1(&project, &name);
    let full = project.at(&name);
    Some((project, name, full))
}

/// A golden image on m1: launched there, marked, stopped, `pristine` taken by anklume-golden.
fn golden_on_m1(project: &TestProject, name: &str) {
    project.launch_on(name, "m1");
    let full = project.at(name);
    project.run(&[
        "exec",
        &full,
        "--",
        "sh",
        "-c",
        "echo golden > /root/marker",
    ]);
    ok(&["golden", "-q", "create", &full]);
}

#[test]
fn disp_runs_on_the_member_it_is_told_and_leaves_nothing() {
    let _cluster = members_shared();
    let Some(project) = TestProject::on_cluster("disp") else {
        return;
    };
    let on_m2 = disp_on(&project, "m2");

    // A command on m2: it runs there, and the instance is gone when anklume-disp returns.
    let out = ok(&[&on_m2[..], &["--no-attach", "--ttl", "6s"]].concat());
    let kept = on_cluster(&out.stdout);
    assert_eq!(
        location(&project, &kept),
        "m2",
        "--target m2 put it elsewhere"
    );
    let out = ok(&[&on_m2[..], &["--cmd", "hostname"]].concat());
    assert!(
        text(&out.stdout).starts_with("disp-"),
        "{}",
        text(&out.stdout)
    );
    // The --ttl reaper destroys the kept one on the remote too.
    wait_for_instances(&project, &[], Duration::from_secs(60));

    // --from REMOTE:GOLDEN, on the other member than the golden's.
    let golden = unique_name("gold");
    golden_on_m1(&project, &golden);
    let from = format!("{CLUSTER_REMOTE}:{golden}");
    let out = ok(&[
        "disp",
        "--from",
        &from,
        "--target",
        "m2",
        "--no-attach",
        "-q",
    ]);
    let clone = on_cluster(&out.stdout);
    assert_eq!(location(&project, &clone), "m2");
    let out = ok(&["disp", "--from", &from, "--cmd", "cat /root/marker"]);
    assert_eq!(text(&out.stdout), "golden\n");
    project.run(&["stop", "--force", &project.at(&clone)]);
    wait_for_instances(&project, &[&golden], Duration::from_secs(60));

    // SIGTERM: anklume-disp destroys it on the remote before it exits, with 128+15.
    let child = sleeping_disposable(&project);
    let signalled = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(signalled.success());
    let out = anklume_tests::finish(child);
    assert_eq!(out.status.code(), Some(143));
    wait_for_instances(&project, &[&golden], Duration::ZERO);

    // SIGKILL: the watchdog destroys it on the remote.
    let mut child = sleeping_disposable(&project);
    child.kill().unwrap();
    child.wait().unwrap();
    wait_for_instances(&project, &[&golden], Duration::from_secs(120));
}

#[test]
fn a_preloaded_pool_serves_runs_on_a_remote() {
    let _cluster = members_shared();
    let Some(project) = TestProject::on_cluster("preload") else {
        return;
    };
    let spec = disp_on(&project, "m1");
    let out = ok(&[&spec[..], &["--preload", "1"]].concat());
    let waiting = text(&out.stdout).trim().to_owned();
    assert_eq!(location(&project, &waiting), "m1");
    let out = ok(&[&spec[..], &["--cmd", "hostname"]].concat());
    assert_eq!(
        text(&out.stdout).trim(),
        waiting,
        "the run did not take the pool's"
    );
    assert!(
        text(&out.stderr).contains(&format!("took preloaded {waiting}")),
        "{}",
        text(&out.stderr)
    );
    // The one taken is destroyed, and the pool refilled with one other, on m1 again.
    let deadline = Instant::now() + Duration::from_secs(120);
    let refilled = loop {
        let names = project.instances();
        if names.len() == 1 && names[0] != waiting {
            break names[0].clone();
        }
        assert!(Instant::now() < deadline, "the pool holds {names:?}");
        std::thread::sleep(Duration::from_millis(500));
    };
    assert_eq!(location(&project, &refilled), "m1");
    ok(&[&spec[..], &["--preload", "0"]].concat());
    wait_for_instances(&project, &[], Duration::from_secs(60));
}

#[test]
fn golden_images_spread_over_the_members_and_are_listed_with_their_remote() {
    let _cluster = members_shared();
    let Some((project, golden, source)) = with_golden_on_m1("golden") else {
        return;
    };
    let clones: Vec<String> = (1..=4).map(|i| unique_name(&format!("lab{i}"))).collect();
    let mut args = vec!["golden", "derive", source.as_str()];
    args.extend(clones.iter().map(String::as_str));
    args.extend(["--spread", "--start"]);
    let out = ok(&args);
    assert_eq!(text(&out.stdout), clones.join("\n") + "\n");
    let placed: Vec<String> = clones.iter().map(|c| location(&project, c)).collect();
    assert_eq!(placed, ["m1", "m2", "m1", "m2"], "not round-robin");
    for clone in &clones {
        let info = project.incus().instance(&at(&project, clone)).unwrap();
        assert_eq!(info.status, "Running", "{clone} did not start");
    }

    let pinned = unique_name("pinned");
    ok(&["golden", "derive", &source, &pinned, "--target", "m2"]);
    assert_eq!(location(&project, &pinned), "m2");

    // publish REMOTE:NAME makes the image on that remote, not on the default one.
    let alias = unique_name("img");
    let out = ok(&["golden", "-q", "publish", &source, &alias]);
    let _image = ClusterImage(text(&out.stdout).trim().to_owned());
    let incus = project.incus();
    let on_cluster = incus.image_alias_exists(Some(CLUSTER_REMOTE), project.name(), &alias);
    assert!(on_cluster.unwrap(), "no alias {alias} on {CLUSTER_REMOTE}");
    assert!(!incus.image_alias_exists(None, "default", &alias).unwrap());

    let out = ok(&["golden", "list", "--all-remotes", "--format", "csv"]);
    let row = format!("{CLUSTER_REMOTE},{golden},{},", project.name());
    assert!(
        text(&out.stdout).lines().any(|l| l.starts_with(&row)),
        "no row {row}... in:\n{}",
        text(&out.stdout)
    );
    let listed = format!("{CLUSTER_REMOTE}:");
    let out = ok(&["golden", "list", &listed, "--project", project.name()]);
    let table = text(&out.stdout);
    assert!(
        table.starts_with("REMOTE ") && table.contains(&golden),
        "{table}"
    );
}

#[test]
fn files_and_backups_cross_the_members() {
    let _cluster = members_shared();
    let Some(project) = TestProject::on_cluster("xfer") else {
        return;
    };
    let (first, second) = (unique_name("on-m1"), unique_name("on-m2"));
    project.launch_on(&first, "m1");
    project.launch_on(&second, "m2");
    let setup = "echo data > /root/f && chown 1234:5678 /root/f && chmod 0640 /root/f";
    project.run(&["exec", &project.at(&first), "--", "sh", "-c", setup]);

    let from = format!("{}:/root/f", project.at(&first));
    let to = format!("{}:/root/copied", project.at(&second));
    ok(&["xfer", "copy", "-q", &from, &to]);
    let stat = project.run(&[
        "exec",
        &project.at(&second),
        "--",
        "stat",
        "-c",
        "%u:%g %a",
        "/root/copied",
    ]);
    assert_eq!(
        stat, "1234:5678 640\n",
        "owner or mode lost between members"
    );

    // A backup of the instance on m2 restored on m1, then beside it on m2.
    let vault = ScratchDir::new("cluster-backup");
    let file = vault.path().join("second.tar.zst");
    let file = file.to_str().unwrap();
    ok(&["backup", "create", "-q", &project.at(&second), "-o", file]);
    project.run(&["delete", "--force", &project.at(&second)]);
    ok(&[
        "backup",
        "restore",
        "-q",
        file,
        "--remote",
        CLUSTER_REMOTE,
        "--target",
        "m1",
    ]);
    assert_eq!(location(&project, &second), "m1");
    project.run(&["start", &project.at(&second)]);
    let copied = project.run(&["exec", &project.at(&second), "--", "cat", "/root/copied"]);
    assert_eq!(copied, "data\n");
    let beside = unique_name("beside");
    let named = format!("{CLUSTER_REMOTE}:{beside}");
    ok(&[
        "backup", "restore", "-q", file, "--name", &named, "--target", "m2",
    ]);
    assert_eq!(location(&project, &beside), "m2");

    // A repository works the same from the remote: the instance of m1 in, back out on m2.
    let owner = Gpg::with_new_key();
    let gnupg = [("GNUPGHOME", owner.home.path())];
    let repo = vault.path().join("repo");
    let repo = repo.to_str().unwrap();
    ok_with(
        &["backup", "init", "--repo", repo, "--gpg", &owner.email],
        &gnupg,
    );
    ok_with(
        &[
            "backup",
            "create",
            "-q",
            &project.at(&first),
            "--repo",
            repo,
        ],
        &gnupg,
    );
    let again = unique_name("again");
    let named = format!("{CLUSTER_REMOTE}:{again}");
    let restore = [
        "backup", "restore", "-q", &first, "--repo", repo, "--name", &named,
    ];
    ok_with(&[&restore[..], &["--target", "m2"]].concat(), &gnupg);
    assert_eq!(location(&project, &again), "m2");
    project.run(&["start", &project.at(&again)]);
    let data = project.run(&["exec", &project.at(&again), "--", "cat", "/root/f"]);
    assert_eq!(data, "data\n");

    let mut expected = [
        first.as_str(),
        second.as_str(),
        beside.as_str(),
        again.as_str(),
    ];
    expected.sort();
    wait_for_instances(&project, &expected, Duration::ZERO);
}

#[test]
fn a_member_down_is_named_left_out_and_listed_around() {
    let _cluster = members_exclusive();
    let Some((project, golden, source)) = with_golden_on_m1("down") else {
        return;
    };
    let down = MemberDown::stop("m2");

    let out = run(&[&disp_on(&project, "m2")[..], &["--cmd", "true"]].concat());
    let said = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(
        said.contains("cluster member 'm2'") && said.contains("offline"),
        "{said}"
    );

    let clones = [unique_name("left1"), unique_name("left2")];
    let out = ok(&[
        "golden", "derive", &source, &clones[0], &clones[1], "--spread",
    ]);
    let said = text(&out.stderr);
    assert!(
        said.contains("member m2") && said.contains("offline"),
        "{said}"
    );
    for clone in &clones {
        assert_eq!(location(&project, clone), "m1");
    }

    let out = ok(&["golden", "list", "--all-remotes"]);
    let table = text(&out.stdout);
    let lines: Vec<&str> = table.lines().collect();
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with(CLUSTER_REMOTE) && l.contains(&golden)),
        "{table}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with(MEMBER_REMOTE) && l.contains("(no answer)")),
        "{table}"
    );
    assert!(text(&out.stderr).contains(&format!("remote '{MEMBER_REMOTE}' did not answer")));
    drop(down);

    let mut expected = [golden.as_str(), clones[0].as_str(), clones[1].as_str()];
    expected.sort();
    wait_for_instances(&project, &expected, Duration::ZERO);
}
