//! Fault campaign of anklume-xfer: bad sources never damage a destination; hostile names and
//! paths are refused. Figures are printed as `FAULT-ROW` lines for `bench/faults`.

use std::process::Command;

use anklume_tests::faults::{HOSTILE_NAMES, Rng, hostile_paths, report};
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

/// One generated hostile tar stream: links out of the destination, entries through them,
/// hard links to files the stream did not write, long names, deep nesting, duplicates.
fn hostile_stream(rng: &mut Rng) -> (Vec<u8>, String) {
    const OUT: [&str; 6] = ["/root", "/etc", "/", "../../etc", "..", "../../../root"];
    let mut builder = tar::Builder::new(Vec::new());
    let mut shape = Vec::new();
    let mut add = |path: &str, kind: tar::EntryType, link: Option<&str>, data: &[u8]| {
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(kind);
        header.set_mode(if kind == tar::EntryType::Directory {
            0o755
        } else {
            0o4755
        });
        header.set_uid(0);
        header.set_gid(0);
        header.set_mtime(1_600_000_000);
        header.set_size(data.len() as u64);
        // The tar crate itself refuses some link names ("/"): such an entry is left out.
        if let Some(link) = link
            && header.set_link_name(link).is_err()
        {
            return;
        }
        // Long names need the GNU extension that append_data writes.
        let _ = builder.append_data(&mut header, path, data);
    };
    for _ in 0..1 + rng.below(4) {
        let name = format!("l{}", rng.below(3));
        let out = OUT[rng.below(OUT.len() as u64) as usize];
        match rng.below(7) {
            0 => add(&name, tar::EntryType::Symlink, Some(out), b""),
            1 => add(&name, tar::EntryType::Symlink, Some("l0"), b""),
            2 => add(
                &format!("{name}/pwned"),
                tar::EntryType::Regular,
                None,
                b"owned\n",
            ),
            3 => add(
                &format!("{name}/cron.d"),
                tar::EntryType::Directory,
                None,
                b"",
            ),
            4 => add(
                "hl",
                tar::EntryType::Link,
                Some(&out.trim_start_matches('/').replace("../", "")),
                b"",
            ),
            5 => add(
                &"d/".repeat(1 + rng.below(60) as usize),
                tar::EntryType::Directory,
                None,
                b"",
            ),
            _ => add(
                &"n".repeat(100 + rng.below(150) as usize),
                tar::EntryType::Regular,
                None,
                b"x",
            ),
        }
        shape.push(name);
    }
    // Always end with a write through the first link, should the stream have made one.
    add("l0/pwned-last", tar::EntryType::Regular, None, b"owned\n");
    (builder.into_inner().unwrap(), shape.join(","))
}

#[test]
fn hostile_tar_streams_never_write_outside_the_destination() {
    let Some(project) = TestProject::new("fault-xfer-tar") else {
        return;
    };
    let vic = unique_name("vic");
    project.launch(&vic);
    sh(&project, &vic, "mkdir /srv");
    let outside = || {
        let skip = r"\( -path /srv -o -path /proc -o -path /sys -o -path /dev -o -path /tmp \)";
        sh(
            &project,
            &vic,
            &format!("find / -xdev {skip} -prune -o -print | sort | xargs ls -ld --"),
        )
    };
    let mut before = outside();
    let mut rng = Rng::from_env("hostile tar streams");
    let mut failures = Vec::new();
    const VARIANTS: usize = 60;
    for variant in 0..VARIANTS {
        let (stream, shape) = hostile_stream(&mut rng);
        let target = format!("{vic}:/srv/v{variant}");
        let mut command = Command::new(XFER);
        command.args(["push", "-r", &target]);
        let out = anklume_tests::run_tool_with_input(&mut command, &stream);
        let after = outside();
        if after != before || !matches!(out.status.code(), Some(0 | 1)) {
            failures.push(format!(
                "variant {variant} ({shape}): {:?}",
                out.status.code()
            ));
            before = after;
        }
    }
    report(
        "anklume-xfer push -r of generated hostile tar streams (links, hard links, long names, deep nesting, duplicates): wrote outside the destination",
        VARIANTS,
        failures.len(),
    );
    assert!(failures.is_empty(), "{failures:#?}");
}
