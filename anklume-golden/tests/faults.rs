//! Fault campaign of anklume-golden: hostile names are refused and change nothing. Figures are
//! printed as `FAULT-ROW` lines for `bench/faults`.

use std::process::Command;

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
