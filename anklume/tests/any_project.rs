//! Every tool in a project whose name a URL would misread: `t-LABEL-xxxxxxxx?&#%+=,;.é`
//! (`TestProject::with_odd_name`). Incus accepts such names; each tool must reach that project,
//! whether it finds the instance from its bare name or is given `--project`/`--domain`, and
//! must not lose track of what it created there.
//!
//! The tools run as a user runs them, through the front command: `anklume golden ...`.

mod tools;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use anklume_common::ApiPath;
use anklume_common::Call;
use anklume_tests::{
    BTRFS_POOL, ScratchDir, TEST_IMAGE, TestProject, incus, run_tool, run_tool_with_input,
    unique_name,
};
use serde_json::Value;
use tools::{anklume, text};

/// `anklume ARGS...` in the empty directory `cwd` (no infra.yml), without ANKLUME_INFRA.
fn front(args: &[&str], cwd: &ScratchDir) -> Command {
    let mut command = anklume(args);
    command.current_dir(cwd.path()).env_remove("ANKLUME_INFRA");
    command
}

/// `anklume ARGS...` with stdin closed, in a directory of its own.
fn run(args: &[&str]) -> Output {
    let cwd = ScratchDir::new("any-project");
    run_tool(&mut front(args, &cwd))
}

/// `anklume ARGS...` with `input` on stdin, in a directory of its own.
fn run_with_input(args: &[&str], input: &[u8]) -> Output {
    let cwd = ScratchDir::new("any-project");
    run_tool_with_input(&mut front(args, &cwd), input)
}

/// `anklume ARGS...` as a failure message shows it.
fn shown(args: &[&str]) -> String {
    format!("`anklume {}`", args.join(" "))
}

/// Checks that `anklume ARGS...` succeeded, naming the command and quoting its stderr if not.
fn succeeded(args: &[&str], out: Output) -> Output {
    assert!(
        out.status.success(),
        "{} failed ({}):\n{}",
        shown(args),
        out.status,
        text(&out.stderr)
    );
    out
}

/// `anklume ARGS...`, which must succeed.
fn ok(args: &[&str]) -> Output {
    succeeded(args, run(args))
}

/// `sh -c script` in a running instance of `project`: its stdout.
fn sh(project: &TestProject, name: &str, script: &str) -> String {
    project.run(&["exec", name, "--", "sh", "-c", script])
}

/// A file of a (possibly stopped) instance of `project`, read by Incus itself.
fn file(project: &TestProject, name: &str, path: &str) -> String {
    project.run(&["file", "pull", &format!("{name}{path}"), "-"])
}

/// `ls -l`-style mode of a path in a running instance (`-rw-r-----`).
fn mode(project: &TestProject, name: &str, path: &str) -> String {
    sh(project, name, &format!("stat -c %A {path}"))
        .trim()
        .to_owned()
}

fn sorted(mut names: Vec<String>) -> Vec<String> {
    names.sort();
    names
}

/// Deletes, on every path, the image a test published: with `features.images=false` it lands
/// in the default project's image store, which no fixture cleans.
struct PublishedImage {
    alias: String,
    fingerprint: Option<String>,
}

impl Drop for PublishedImage {
    fn drop(&mut self) {
        for image in self.fingerprint.iter().chain([&self.alias]) {
            let _ = incus().output(&Call::new("delete image", ["image", "delete", image]));
        }
    }
}

#[test]
fn golden_finds_derives_lists_and_publishes_in_the_project() {
    let Some(project) = TestProject::with_odd_name("golden") else {
        return;
    };
    let odd = project.name();
    let tpl = unique_name("tpl");
    project.launch(&tpl);
    sh(&project, &tpl, "echo golden > /root/marker");

    // Found by its bare name, in the only project that has it.
    ok(&["golden", "create", &tpl]);
    let snapshots = project.run(&["snapshot", "list", &tpl, "-f", "csv", "-c", "n"]);
    assert_eq!(snapshots.trim(), "pristine", "the snapshots of {tpl}");

    let clone = unique_name("clone");
    ok(&["golden", "derive", &tpl, &clone]);
    assert_eq!(
        sorted(project.instances()),
        sorted(vec![tpl.clone(), clone.clone()])
    );
    assert_eq!(file(&project, &clone, "/root/marker"), "golden\n");

    publish_gives_an_image_of_pristine(&project, &tpl);
    list_shows_it_with_its_project(odd, &tpl);
}

/// `anklume golden list`, of all projects then of the project alone, shows TPL in it.
fn list_shows_it_with_its_project(odd: &str, tpl: &str) {
    let out = ok(&["golden", "list"]);
    let table = text(&out.stdout);
    let line = table
        .lines()
        .find(|l| l.starts_with(&format!("{tpl} ")))
        .unwrap_or_else(|| panic!("{tpl} is not in `anklume golden list`:\n{table}"));
    assert!(line.contains(odd), "{line}");

    let out = ok(&["golden", "list", "--project", odd, "--format", "json"]);
    let rows: Vec<Value> = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", text(&out.stdout)));
    let listed: Vec<(&str, &str)> = rows
        .iter()
        .map(|r| (r["name"].as_str().unwrap(), r["project"].as_str().unwrap()))
        .collect();
    assert_eq!(listed, [(tpl, odd)]);
    // The project's ',' makes it a quoted CSV field.
    let out = ok(&["golden", "list", "--project", odd, "--format", "csv"]);
    let csv = text(&out.stdout);
    assert!(csv.starts_with(&format!("{tpl},\"{odd}\",")), "{csv}");
    assert_eq!(csv.lines().count(), 1, "{csv}");
}

/// `anklume golden publish TPL ALIAS` by bare name: the alias, seen from the project, is the
/// image printed, and an instance made from it holds what pristine holds.
fn publish_gives_an_image_of_pristine(project: &TestProject, tpl: &str) {
    let mut published = PublishedImage {
        alias: unique_name("any-img"),
        fingerprint: None,
    };
    let alias = published.alias.clone();
    let out = ok(&["golden", "publish", tpl, &alias]);
    let fingerprint = text(&out.stdout).trim().to_owned();
    published.fingerprint = Some(fingerprint.clone());
    assert_eq!(fingerprint.len(), 64, "not a fingerprint: {fingerprint:?}");

    let path = ApiPath::new(&["images", "aliases", &alias]).in_project(Some(project.name()));
    let target: Value = incus().query(None, &path).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(target["target"], fingerprint.as_str());
    // The tool sees the alias it made in the project, and refuses to take it again.
    let args = ["golden", "publish", tpl, &alias];
    let out = run(&args);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{}: {stderr}", shown(&args));
    let expected = format!("image alias '{alias}' already exists");
    assert!(
        stderr.contains(&expected),
        "expected {expected:?} in: {stderr}"
    );

    let from_image = unique_name("from-image");
    project.run(&["init", &alias, &from_image]);
    assert_eq!(file(project, &from_image, "/root/marker"), "golden\n");
}

#[test]
fn disp_runs_in_the_project_from_an_image_and_from_a_golden_instance() {
    let Some(project) = TestProject::with_odd_name("disp") else {
        return;
    };
    let odd = project.name();
    let args = [
        "disp", "--domain", odd, "--image", TEST_IMAGE, "--cmd", "echo hi",
    ];
    let out = ok(&args);
    assert_eq!(text(&out.stdout), "hi\n", "stdout of {}", shown(&args));
    assert_eq!(project.instances(), Vec::<String>::new(), "left behind");

    // --from a golden instance found by its bare name: the clone goes to its project.
    let golden = unique_name("golden");
    project.golden(&golden, "echo prepared > /root/marker");
    let args = ["disp", "-q", "--from", &golden, "--cmd", "cat /root/marker"];
    let out = ok(&args);
    assert_eq!(
        text(&out.stdout),
        "prepared\n",
        "stdout of {}",
        shown(&args)
    );
    assert_eq!(
        project.instances(),
        std::slice::from_ref(&golden),
        "left behind"
    );

    // The same with the project named.
    let args = [
        "disp",
        "-q",
        "--from",
        &golden,
        "--domain",
        odd,
        "--cmd",
        "echo again",
    ];
    let out = ok(&args);
    assert_eq!(text(&out.stdout), "again\n", "stdout of {}", shown(&args));
    assert_eq!(project.instances(), [golden], "left behind");
}

#[test]
fn disp_in_the_project_is_reaped_by_its_ttl_and_blames_a_missing_image() {
    let Some(project) = TestProject::with_odd_name("disp-ttl") else {
        return;
    };
    let odd = project.name();
    let image = ["disp", "--domain", odd, "--image"];

    // In the background, then destroyed by its ttl: the reaper finds it in the project too.
    let args = [&image[..], &[TEST_IMAGE, "--no-attach", "--ttl", "3s"]].concat();
    let out = ok(&args);
    let name = text(&out.stdout).trim().to_owned();
    assert_eq!(project.instances(), std::slice::from_ref(&name));
    let deadline = Instant::now() + Duration::from_secs(60);
    while !project.instances().is_empty() {
        assert!(
            Instant::now() < deadline,
            "{name} still exists 60 s after its ttl of 3 s"
        );
        std::thread::sleep(Duration::from_millis(200));
    }

    // The project exists: the image is what is missing.
    let missing = unique_name("no-such-image");
    let args = [&image[..], &[missing.as_str(), "--cmd", "true"]].concat();
    let out = run(&args);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{}: {stderr}", shown(&args));
    let expected = format!("image '{missing}' not found in domain '{odd}'");
    assert!(
        stderr.contains(&expected),
        "expected {expected:?} in: {stderr}"
    );
    assert_eq!(project.instances(), Vec::<String>::new(), "left behind");
}

/// The issue's `incus project create 'p?y'`: a project with a default profile of its own,
/// without a root disk. disp names that, not a missing domain, and --storage gets past it.
#[test]
fn disp_names_a_profile_without_root_disk_and_storage_gets_past_it() {
    let Some(project) = TestProject::with_own_profiles("disp-root") else {
        return;
    };
    let odd = project.name();
    let args = [
        "disp", "--domain", odd, "--image", TEST_IMAGE, "--cmd", "echo hi",
    ];
    let out = run(&args);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{}: {stderr}", shown(&args));
    let expected = format!("domain '{odd}' gives its instances no root disk");
    assert!(
        stderr.contains(&expected),
        "expected {expected:?} in: {stderr}"
    );
    assert!(
        stderr.contains("hint: choose a pool with --storage"),
        "{stderr}"
    );
    assert_eq!(project.instances(), Vec::<String>::new(), "left behind");

    let with_pool = [&args[..], &["--storage", BTRFS_POOL]].concat();
    let out = ok(&with_pool);
    assert_eq!(text(&out.stdout), "hi\n");
    assert_eq!(project.instances(), Vec::<String>::new(), "left behind");
}

/// A running instance in `project` named `prefix-xxxxxxxx`.
fn running(project: &TestProject, prefix: &str) -> String {
    let name = unique_name(prefix);
    project.launch(&name);
    name
}

#[test]
fn xfer_pushes_pulls_and_copies_in_the_project_and_to_another() {
    let (Some(project), Some(other)) = (
        TestProject::with_odd_name("xfer"),
        TestProject::with_odd_name("xfer-to"),
    ) else {
        return;
    };
    let odd = project.name();
    let (a, b, c) = (
        running(&project, "a"),
        running(&project, "b"),
        running(&other, "c"),
    );
    let content = b"into an odd project\n\0and back\n";

    // By bare name, found in the only project that has it.
    let args = ["xfer", "push", &format!("{a}:/root/data"), "--mode", "0640"];
    succeeded(&args, run_with_input(&args, content));
    assert_eq!(mode(&project, &a, "/root/data"), "-rw-r-----");

    let source = format!("{a}:/root/data");
    let out = ok(&["xfer", "pull", &source]);
    assert_eq!(out.stdout, content, "pulled by bare name");
    let out = ok(&["xfer", "pull", &source, "--project", odd]);
    assert_eq!(out.stdout, content, "pulled with --project");
    let args = [
        "xfer",
        "push",
        &format!("{a}:/root/named"),
        "--project",
        odd,
    ];
    succeeded(&args, run_with_input(&args, b"named\n"));
    assert_eq!(file(&project, &a, "/root/named"), "named\n");

    // Between two instances of the project, then to an instance of another one.
    ok(&["xfer", "copy", &source, &format!("{b}:/root/copied")]);
    assert_eq!(file(&project, &b, "/root/copied").as_bytes(), content);
    assert_eq!(mode(&project, &b, "/root/copied"), "-rw-r-----");
    ok(&["xfer", "copy", &source, &format!("{c}:/root/across")]);
    assert_eq!(file(&other, &c, "/root/across").as_bytes(), content);
    assert_eq!(mode(&other, &c, "/root/across"), "-rw-r-----");
    let to_named = [
        "xfer",
        "copy",
        &source,
        &format!("{c}:/root/named"),
        "--src-project",
        odd,
        "--dst-project",
        other.name(),
    ];
    ok(&to_named);
    assert_eq!(file(&other, &c, "/root/named").as_bytes(), content);
}

/// The path of the file `backup create -o DIR` printed: absolute, as DIR is.
fn created(out: &Output) -> PathBuf {
    let printed = text(&out.stdout).trim().to_owned();
    assert!(Path::new(&printed).is_absolute(), "printed {printed:?}");
    PathBuf::from(printed)
}

#[test]
fn backup_creates_verifies_and_restores_in_the_project() {
    let Some(project) = TestProject::with_odd_name("backup") else {
        return;
    };
    let odd = project.name();
    let name = running(&project, "keep");
    let secret = unique_name("precious-data");
    sh(&project, &name, &format!("echo {secret} > /root/data"));
    let dir = ScratchDir::new("any-project-backups");
    let dir_arg = dir.path().to_str().unwrap();

    let out = ok(&[
        "backup",
        "create",
        &name,
        "--project",
        odd,
        "-q",
        "-o",
        dir_arg,
    ]);
    let file_path = created(&out);
    let file_arg = file_path.to_str().unwrap();
    assert!(file_path.starts_with(dir.path()), "{file_arg}");

    let out = ok(&["backup", "verify", file_arg]);
    let report = text(&out.stdout);
    assert!(report.contains(&format!("instance:    {name}")), "{report}");
    assert!(report.contains("integrity:   ok"), "{report}");

    let copy = unique_name("restored");
    let args = [
        "backup",
        "restore",
        file_arg,
        "--project",
        odd,
        "--name",
        &copy,
        "-q",
    ];
    let out = ok(&args);
    assert_eq!(text(&out.stdout).trim(), copy, "stdout of {}", shown(&args));
    assert_eq!(
        sorted(project.instances()),
        sorted(vec![name.clone(), copy.clone()])
    );
    assert_eq!(file(&project, &copy, "/root/data"), format!("{secret}\n"));
}
