//! Fault campaign of anklume-xfer: bad sources never damage a destination; hostile names and
//! paths are refused. Figures are printed as `FAULT-ROW` lines for `bench/faults`.

use std::process::Command;

use anklume_tests::faults::{HOSTILE_NAMES, hostile_paths, report};
use anklume_tests::{ScratchDir, TestProject, run_tool, unique_name};

const XFER: &str = env!("CARGO_BIN_EXE_anklume-xfer");

fn xfer(args: &[&str]) -> std::process::Output {
    run_tool(Command::new(XFER).args(args))
}

fn sh(project: &TestProject, name: &str, script: &str) -> String {
    project.run(&["exec", name, "--", "sh", "-c", script])
}

#[test]
fn a_bad_source_never_truncates_an_existing_destination() {
    let Some(project) = TestProject::new("fault-xfer-src") else {
        return;
    };
    let web = unique_name("web");
    project.launch(&web);
    // /mnt/shared holds a file the container may not read (a host folder shared unshifted).
    let shared = ScratchDir::new("fault-xfer-src");
    let secret = shared.write("secret", "host only\n");
    std::fs::set_permissions(&secret, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let source = format!("source={}", shared.path().display());
    project.run(&[
        "config",
        "device",
        "add",
        &web,
        "shared",
        "disk",
        &source,
        "path=/mnt/shared",
    ]);
    sh(
        &project,
        &web,
        "mkdir -p /srv/dir && echo keep > /root/target",
    );
    let ghost = unique_name("ghost");

    let target = format!("{web}:/root/target");
    let bad_sources = [
        format!("{web}:/no/such/file"),
        format!("{web}:/mnt/shared/secret"),
        format!("{web}:/mnt/shared/missing"),
        format!("{ghost}:/etc/hostname"),
        format!("{web}:/dev/null"),
    ];
    let mut failures = Vec::new();
    for source in &bad_sources {
        let out = xfer(&["copy", source, &target]);
        let content = sh(&project, &web, "cat /root/target; ls -A /root");
        if out.status.success() || content != "keep\ntarget\n" {
            failures.push(format!("{source}: {:?} -> {content:?}", out.status.code()));
        }
    }
    report(
        "anklume-xfer copy from a missing, unreadable or unknown source: destination changed",
        bad_sources.len(),
        failures.len(),
    );
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn hostile_names_and_paths_are_refused_and_create_nothing() {
    let Some(project) = TestProject::new("fault-xfer-names") else {
        return;
    };
    let web = unique_name("web");
    project.launch(&web);
    let before = sh(&project, &web, "ls -A / /root");
    let mut failures = Vec::new();
    let mut trials = 0;
    let mut expect_refused = |args: &[&str], why: &str| {
        trials += 1;
        let out = xfer(args);
        if !matches!(out.status.code(), Some(1 | 2)) || out.stderr.is_empty() {
            failures.push(format!("{args:?} ({why}): {:?}", out.status.code()));
        }
    };
    for (name, why) in HOSTILE_NAMES {
        expect_refused(&["pull", &format!("{name}:/etc/hostname")], why);
        expect_refused(
            &[
                "copy",
                &format!("{web}:/etc/hostname"),
                &format!("{name}:/tmp/x"),
            ],
            why,
        );
        expect_refused(
            &["pull", &format!("{web}:/etc/hostname"), "--project", name],
            why,
        );
    }
    for (path, why) in hostile_paths() {
        expect_refused(&["pull", &format!("{web}:{path}")], why);
        expect_refused(
            &[
                "copy",
                &format!("{web}:/etc/hostname"),
                &format!("{web}:{path}"),
            ],
            why,
        );
    }
    let after = sh(&project, &web, "ls -A / /root");
    report(
        "anklume-xfer with hostile names and paths: accepted or created something",
        trials,
        failures.len() + usize::from(before != after),
    );
    assert!(failures.is_empty(), "{failures:#?}");
    assert_eq!(before, after, "something was created");
}
