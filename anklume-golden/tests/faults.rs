//! Fault campaign of anklume-golden: hostile names are refused and change nothing. Figures are
//! printed as `FAULT-ROW` lines for `bench/faults`.

use std::process::{Command, Stdio};

use anklume_tests::faults::{HOSTILE_NAMES, report};
use anklume_tests::{ScratchDir, TestProject, run_tool, unique_name};

const GOLDEN: &str = env!("CARGO_BIN_EXE_anklume-golden");

#[test]
fn hostile_names_are_refused_and_change_nothing() {
    let Some(project) = TestProject::new("fault-golden") else {
        return;
    };
    let template = unique_name("tpl");
    project.golden(&template, "echo ref > /root/ref");
    let before = project.instances();
    let cwd = ScratchDir::new("fault-golden");
    let mut failures = Vec::new();
    let mut trials = 0;
    for (name, why) in HOSTILE_NAMES {
        let runs = [
            vec!["create", name],
            vec!["derive", &template, name, "--project", project.name()],
            vec!["derive", name, "fresh-clone"],
            vec!["publish", &template, "--alias", "x", "--project", name],
            vec!["list", "--project", name],
        ];
        for args in runs {
            trials += 1;
            let out = run_tool(Command::new(GOLDEN).args(&args).current_dir(cwd.path()));
            let code = out.status.code();
            if !matches!(code, Some(1 | 2)) || out.stderr.is_empty() {
                failures.push(format!(
                    "{args:?} ({why}): {code:?} {}",
                    String::from_utf8_lossy(&out.stderr)
                ));
            }
        }
    }
    let changed = project.instances() != before;
    report(
        "anklume-golden with hostile names (NAME, NEW, --project): accepted or changed something",
        trials,
        failures.len() + usize::from(changed),
    );
    assert!(failures.is_empty(), "{failures:#?}");
    assert!(!changed, "instances changed: {:?}", project.instances());
}

/// `create` and `derive` of one golden image from two processes, the derive started at
/// several moments of the create: every derive exits 0 with a clone that starts and holds a
/// whole `pristine` (the old or the new one), or fails with a message and leaves nothing; no
/// temporary snapshot is left.
#[test]
fn derive_during_create_copies_a_whole_pristine_or_nothing() {
    let Some(project) = TestProject::new("fault-pristine") else {
        return;
    };
    const FILES: usize = 200;
    const ROUNDS: u64 = 20;
    let fill = |round: u64| {
        format!(
            "mkdir -p /root/f && i=0 && while [ $i -lt {FILES} ]; do echo {round} > /root/f/$i; i=$((i+1)); done"
        )
    };
    let template = unique_name("tpl");
    project.golden(&template, &fill(0));
    let cwd = ScratchDir::new("fault-pristine");
    let golden = |args: &[&str]| {
        let mut command = Command::new(GOLDEN);
        command.args(args).current_dir(cwd.path());
        command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
    };
    let mut failures = Vec::new();
    let mut derived = 0;
    // The round whose content `pristine` held before this round's create.
    let mut previous = 0;
    for round in 1..=ROUNDS {
        project.run(&["start", &template]);
        project.run(&["exec", &template, "--", "sh", "-c", &fill(round)]);
        let create = golden(&["create", &template, "--project", project.name()]).unwrap();
        // From at once to well into the snapshot.
        std::thread::sleep(std::time::Duration::from_millis(round * 61 % 900));
        let clone = unique_name("clone");
        let out = run_tool(Command::new(GOLDEN).current_dir(cwd.path()).args([
            "derive",
            &template,
            &clone,
            "--project",
            project.name(),
        ]));
        let created = anklume_tests::finish(create);
        let before = previous;
        match created.status.success() {
            true => previous = round,
            false => failures.push(format!(
                "round {round}: create failed: {}",
                String::from_utf8_lossy(&created.stderr)
            )),
        }
        let exists = project.instances().contains(&clone);
        if !out.status.success() {
            eprintln!(
                "round {round}: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            );
            if out.status.code() != Some(1) || out.stderr.is_empty() || exists {
                failures.push(format!(
                    "round {round}: a failed derive: {out:?}, left: {exists}"
                ));
            }
            continue;
        }
        derived += 1;
        match whole_pristine(&project, &clone, FILES) {
            Ok(value) if value == previous || value == before => (),
            Ok(value) => failures.push(format!("round {round}: the clone holds round {value}")),
            Err(why) => failures.push(format!("round {round}: {why}")),
        }
        project.run(&["delete", "--force", &clone]);
    }
    let snapshots = project.run(&["snapshot", "list", &template, "-f", "csv", "-c", "n"]);
    if snapshots.trim() != "pristine" {
        failures.push(format!("snapshots left: {snapshots:?}"));
    }
    eprintln!("{derived} of {ROUNDS} derives succeeded, the others failed cleanly");
    report(
        "anklume-golden derive during a create of the same golden image, 20 timings: a clone that does not start or holds a partial pristine, a derive failure that leaves something, a temporary snapshot left",
        ROUNDS as usize,
        failures.len(),
    );
    assert!(failures.is_empty(), "{failures:#?}");
}

/// Starts `clone`, then reads its `FILES` files back: the one value they all hold.
fn whole_pristine(project: &TestProject, clone: &str, files: usize) -> Result<u64, String> {
    let call = ["start", clone];
    anklume_tests::incus()
        .output(&anklume_common::Call::new("start", call).project(project.name()))
        .map_err(|e| format!("the clone does not start: {e}"))?;
    let dir = ScratchDir::new("pristine-copy");
    let source = format!("{clone}/root/f");
    project.run(&["file", "pull", "-r", &source, dir.path().to_str().unwrap()]);
    let mut values = std::collections::BTreeSet::new();
    let mut count = 0;
    for entry in std::fs::read_dir(dir.path().join("f")).map_err(|e| e.to_string())? {
        let content = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        values.insert(content.trim().to_owned());
        count += 1;
    }
    match (count == files, values.len()) {
        (true, 1) => values
            .pop_first()
            .unwrap()
            .parse()
            .map_err(|e| format!("{e}")),
        _ => Err(format!(
            "{count} files of {files}, values {values:?}: a partial copy"
        )),
    }
}
