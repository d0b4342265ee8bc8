//! Fault campaign of anklume-backup: damaged backups, a killed process, a stopped daemon,
//! hostile names. Figures are printed as `FAULT-ROW` lines for `bench/faults`.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use anklume_tests::faults::{HOSTILE_NAMES, Rng, daemon_exclusive, daemon_shared, report};
use anklume_tests::gpg::Gpg;
use anklume_tests::{ScratchDir, TestProject, daemon_available, finish, run_tool, unique_name};

const BACKUP: &str = env!("CARGO_BIN_EXE_anklume-backup");

const FLIPS: usize = 50;
const TRUNCATIONS: usize = 20;

fn backup(cwd: &Path, args: &[&str]) -> Output {
    run_tool(Command::new(BACKUP).args(args).current_dir(cwd))
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A running instance with a little data, and a backup of it made with `extra` options.
fn backed_up(project: &TestProject, cwd: &Path, extra: &[&str]) -> (String, PathBuf) {
    let name = unique_name("src");
    project.launch(&name);
    project.run(&["exec", &name, "--", "sh", "-c", "echo data > /root/data"]);
    let mut args = vec!["create", name.as_str(), "--project", project.name(), "-q"];
    args.extend(extra);
    let out = backup(cwd, &args);
    assert!(out.status.success(), "{}", text(&out.stderr));
    (name, cwd.join(text(&out.stdout).trim()))
}

/// Restores and verifies damaged copies of `file`; returns (trials, failures), a failure being
/// a restore that succeeded or left an instance, or a verify that passed.
fn damage_campaign(
    project: &TestProject,
    cwd: &Path,
    file: &Path,
    keys: &[&str],
    rng: &mut Rng,
    failures: &mut Vec<String>,
) -> usize {
    let original = fs::read(file).unwrap();
    let before = project.instances();
    let mut trials = 0;
    for case in 0..FLIPS + TRUNCATIONS {
        let mut damaged = original.clone();
        let what = if case < FLIPS {
            let at = rng.below(damaged.len() as u64) as usize;
            let bit = 1u8 << rng.below(8);
            damaged[at] ^= bit;
            format!("bit {bit:#04x} flipped at byte {at}")
        } else {
            let len = rng.below(damaged.len() as u64) as usize;
            damaged.truncate(len);
            format!("truncated to {len} bytes")
        };
        let path = cwd.join(format!("damaged-{case}"));
        fs::write(&path, &damaged).unwrap();
        let path = path.to_string_lossy().into_owned();
        let new = unique_name("bad");
        let mut restore = vec![
            "restore",
            path.as_str(),
            "--name",
            &new,
            "--project",
            project.name(),
            "-q",
        ];
        restore.extend(keys);
        let out = backup(cwd, &restore);
        if out.status.success() {
            failures.push(format!("{}: {what}: restored", file.display()));
        }
        if project.instances() != before {
            failures.push(format!(
                "{}: {what}: left {:?}",
                file.display(),
                project.instances()
            ));
            for extra in project.instances().iter().filter(|i| !before.contains(i)) {
                project.run(&["delete", "--force", extra]);
            }
        }
        let mut verify = vec!["verify", path.as_str()];
        verify.extend(keys);
        if backup(cwd, &verify).status.success() {
            failures.push(format!("{}: {what}: verify passed", file.display()));
        }
        trials += 1;
    }
    trials
}

#[test]
fn damaged_backups_never_restore_and_verify_flags_each() {
    let _shared = daemon_shared();
    let Some(project) = TestProject::new("fault-damage") else {
        return;
    };
    let mut rng = Rng::from_env("backup damage");
    let cwd = ScratchDir::new("fault-damage");
    let gpg = Gpg::with_new_key();
    let cert = gpg.public_cert(cwd.path()).to_string_lossy().into_owned();
    let key = gpg.secret_key(cwd.path()).to_string_lossy().into_owned();

    let (_, sealed) = backed_up(
        &project,
        cwd.path(),
        &[
            "--recipient-file",
            &cert,
            "--key-file",
            &key,
            "-o",
            "sealed",
        ],
    );
    let mut failures = Vec::new();
    let trials = damage_campaign(
        &project,
        cwd.path(),
        &sealed,
        &["--key-file", &key],
        &mut rng,
        &mut failures,
    );
    report(
        "restore + verify of an encrypted backup with 50 bit flips and 20 truncations: restored, left an instance or verified",
        trials,
        failures.len(),
    );
    let encrypted_failures = failures.len();

    let (_, plain) = backed_up(&project, cwd.path(), &["-o", "plain"]);
    let trials = damage_campaign(&project, cwd.path(), &plain, &[], &mut rng, &mut failures);
    report(
        "restore + verify of a plain zstd backup with 50 bit flips and 20 truncations: restored, left an instance or verified",
        trials,
        failures.len() - encrypted_failures,
    );
    assert!(failures.is_empty(), "{failures:#?}");
}

/// Starts `create` of a ~300 MiB instance and returns once the partial file grows.
fn create_under_way(project: &TestProject, cwd: &Path) -> (String, std::process::Child) {
    let name = unique_name("big");
    project.launch(&name);
    project.run(&[
        "exec",
        &name,
        "--",
        "sh",
        "-c",
        "dd if=/dev/urandom of=/root/noise bs=1M count=300 2>/dev/null",
    ]);
    let child = Command::new(BACKUP)
        .args([
            "create",
            &name,
            "--project",
            project.name(),
            "--compression",
            "gzip",
        ])
        .current_dir(cwd)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let backups = cwd.join("backups");
    let deadline = Instant::now() + Duration::from_secs(60);
    while fs::read_dir(&backups)
        .map(|d| {
            d.flatten()
                .all(|e| e.metadata().map_or(0, |m| m.len()) < 1 << 20)
        })
        .unwrap_or(true)
    {
        assert!(Instant::now() < deadline, "no export data after 60 s");
        std::thread::sleep(Duration::from_millis(20));
    }
    (name, child)
}

fn files_in(dir: &Path) -> Vec<String> {
    fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn a_killed_backup_leaves_at_most_a_hidden_partial_file() {
    let _shared = daemon_shared();
    let Some(project) = TestProject::new("fault-kill") else {
        return;
    };
    let cwd = ScratchDir::new("fault-kill");
    let (name, mut child) = create_under_way(&project, cwd.path());
    child.kill().unwrap();
    child.wait().unwrap();
    let left = files_in(&cwd.path().join("backups"));
    let bad: Vec<&String> = left
        .iter()
        .filter(|f| !(f.starts_with('.') && f.ends_with(".partial")))
        .collect();
    report(
        "SIGKILL of anklume-backup create mid-stream: a file under a final (non-hidden) name",
        1,
        bad.len(),
    );
    assert!(bad.is_empty(), "SIGKILL left {left:?}");
    // Without us, the export gets SIGPIPE; make sure it is gone.
    let deadline = Instant::now() + Duration::from_secs(30);
    while Command::new("pgrep")
        .args(["-f", &format!("incus export {name}")])
        .output()
        .is_ok_and(|o| !o.stdout.is_empty())
    {
        assert!(
            Instant::now() < deadline,
            "incus export outlived us by 30 s"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_daemon_stopped_mid_export_is_a_clear_error_and_leaves_nothing() {
    let _exclusive = daemon_exclusive();
    let Some(project) = TestProject::new("fault-daemon") else {
        return;
    };
    let cwd = ScratchDir::new("fault-daemon");
    let (_, child) = create_under_way(&project, cwd.path());
    let stopped = Command::new("pkill")
        .args(["-TERM", "-x", "incusd"])
        .status()
        .unwrap();
    assert!(stopped.success(), "no incusd to stop");
    let started = Instant::now();
    let out = finish(child);
    let waited = started.elapsed();
    let restart = Command::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../scripts/incus-testenv"
    ))
    .stdout(Stdio::null())
    .stderr(Stdio::null())
    .status()
    .unwrap();
    assert!(
        restart.success() && daemon_available(),
        "the daemon did not come back"
    );

    let left = files_in(&cwd.path().join("backups"));
    let stderr = text(&out.stderr);
    let failed =
        out.status.code() != Some(1) || !left.is_empty() || !stderr.contains("anklume-backup:");
    report(
        "incusd stopped mid-export: hang, wrong status or file left",
        1,
        usize::from(failed),
    );
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(left.is_empty(), "left {left:?}");
    eprintln!("failed after {waited:?} with: {stderr}");
}

#[test]
fn hostile_names_are_refused_and_create_nothing() {
    let _shared = daemon_shared();
    let Some(project) = TestProject::new("fault-bk-names") else {
        return;
    };
    let cwd = ScratchDir::new("fault-bk-names");
    let (_, plain) = backed_up(&project, cwd.path(), &["-o", "plain"]);
    let before = project.instances();
    let plain = plain.to_string_lossy().into_owned();
    let mut failures = Vec::new();
    let mut trials = 0;
    for (name, why) in HOSTILE_NAMES {
        let runs = [
            vec!["create", name, "-o", "out"],
            vec!["create", "web", "--project", name, "-o", "out"],
            vec![
                "restore",
                plain.as_str(),
                "--name",
                name,
                "--project",
                project.name(),
            ],
            vec![
                "restore",
                plain.as_str(),
                "--name",
                "fresh",
                "--project",
                name,
            ],
        ];
        for args in runs {
            trials += 1;
            let out = backup(cwd.path(), &args);
            let code = out.status.code();
            if !matches!(code, Some(1 | 2)) || out.stderr.is_empty() {
                failures.push(format!("{args:?} ({why}): {code:?} {}", text(&out.stderr)));
            }
        }
    }
    let created = project.instances() != before || cwd.path().join("out").exists();
    report(
        "anklume-backup with hostile names (instance, --name, --project): accepted or created something",
        trials,
        failures.len() + usize::from(created),
    );
    assert!(failures.is_empty(), "{failures:#?}");
    assert!(!created, "something was created");
}

/// Instances of `project` other than `keep`, once no `incus import` of ours runs any more.
fn imported_besides(project: &TestProject, keep: &str) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Command::new("pgrep")
        .args(["-f", &format!("--project {} import", project.name())])
        .output()
        .is_ok_and(|o| !o.stdout.is_empty())
        && Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(100));
    }
    // The daemon may still be finishing what it was sent.
    std::thread::sleep(Duration::from_secs(2));
    let mut left = project.instances();
    left.retain(|name| name != keep);
    left
}

/// A 200 MiB encrypted backup: a byte flipped in its first MiB, and SIGKILL of `restore` at ten
/// random moments, leave no partial and no temporary instance (the import dies with us, and never
/// sees a clean end of an unauthenticated stream).
#[test]
fn a_killed_or_damaged_restore_of_a_large_backup_leaves_nothing() {
    let _shared = daemon_shared();
    let Some(project) = TestProject::new("fault-restore-kill") else {
        return;
    };
    let cwd = ScratchDir::new("fault-restore-kill");
    let passphrase = cwd.write("pass", "correct horse battery staple\n");
    let pass = passphrase.to_string_lossy().into_owned();
    let name = unique_name("big");
    project.launch(&name);
    let fill = "dd if=/dev/urandom of=/root/noise bs=1M count=200 2>/dev/null";
    project.run(&["exec", &name, "--", "sh", "-c", fill]);
    let args = [
        "create",
        &name,
        "--project",
        project.name(),
        "-q",
        "--passphrase-file",
        &pass,
    ];
    let out = backup(cwd.path(), &args);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let file = cwd.path().join(text(&out.stdout).trim());
    let file_arg = file.to_string_lossy().into_owned();
    let mut failures = Vec::new();

    let mut rng = Rng::from_env("restore kill");
    let mut flipped = fs::read(&file).unwrap();
    let at = 4096 + rng.below(1024 * 1024 - 4096) as usize;
    flipped[at] ^= 0x10;
    let damaged = cwd.path().join("flipped.tar.zst.gpg");
    fs::write(&damaged, &flipped).unwrap();
    drop(flipped);
    let restore = |file: &str, new: &str| {
        let mut command = Command::new(BACKUP);
        command.args([
            "restore",
            file,
            "--name",
            new,
            "--project",
            project.name(),
            "-q",
        ]);
        command
            .args(["--passphrase-file", &pass, "--allow-unsigned"])
            .current_dir(cwd.path());
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        command
    };
    let out = finish(
        restore(damaged.to_str().unwrap(), &unique_name("flip"))
            .spawn()
            .unwrap(),
    );
    let left = imported_besides(&project, &name);
    if out.status.success() || !left.is_empty() {
        failures.push(format!(
            "byte {at} flipped: {:?}, left {left:?}",
            out.status.code()
        ));
    }

    // How long a whole restore takes, then kills spread over that time.
    let started = Instant::now();
    let whole = unique_name("whole");
    let out = finish(restore(&file_arg, &whole).spawn().unwrap());
    assert!(out.status.success(), "{}", text(&out.stderr));
    let span = started.elapsed().as_millis() as u64;
    project.run(&["delete", "--force", &whole]);
    for _ in 0..10 {
        let new = unique_name("killed");
        let mut child = restore(&file_arg, &new).spawn().unwrap();
        let after = rng.below(span.max(1));
        std::thread::sleep(Duration::from_millis(after));
        child.kill().unwrap();
        child.wait().unwrap();
        // A kill after the rename finds the restore done: the instance under its final name,
        // which it gets only once the whole backup was imported. Anything else is a leak.
        let mut left = imported_besides(&project, &name);
        if left.contains(&new) {
            project.run(&["delete", "--force", &new]);
            left.retain(|n| *n != new);
        }
        if !left.is_empty() {
            failures.push(format!("SIGKILL after {after} ms left {left:?}"));
            for extra in &left {
                project.run(&["delete", "--force", extra]);
            }
        }
    }
    // SIGINT and SIGTERM at random moments: the restore stops at once, with the signal's
    // status, and leaves nothing (or, signalled too late to stop, the whole instance).
    let mut slowest = Duration::ZERO;
    for (signal, status) in [("INT", 130), ("TERM", 143), ("INT", 130), ("TERM", 143)] {
        let new = unique_name("signalled");
        let child = restore(&file_arg, &new).spawn().unwrap();
        let after = rng.below(span.max(1));
        std::thread::sleep(Duration::from_millis(after));
        let sent = Instant::now();
        let pid = child.id().to_string();
        Command::new("kill")
            .args(["-s", signal, &pid])
            .status()
            .unwrap();
        let out = finish(child);
        slowest = slowest.max(sent.elapsed());
        let mut left = imported_besides(&project, &name);
        let done = out.status.success() && left.contains(&new);
        if done {
            project.run(&["delete", "--force", &new]);
            left.retain(|n| *n != new);
        }
        if !(done || out.status.code() == Some(status)) || !left.is_empty() {
            failures.push(format!(
                "SIG{signal} after {after} ms: {:?}, left {left:?}",
                out.status.code()
            ));
            for extra in &left {
                project.run(&["delete", "--force", extra]);
            }
        }
    }
    eprintln!("the slowest exit after SIGINT or SIGTERM took {slowest:?}");
    report(
        "a byte flipped in the first MiB, or SIGKILL, SIGINT or SIGTERM at a random moment, of a 200 MiB encrypted restore: a wrong status, a partial or temporary instance left",
        15,
        failures.len(),
    );
    assert!(failures.is_empty(), "{failures:#?}");
}

/// The forgeries a writer of the backup folder can make: each is refused, replaces nothing
/// (`--force` included: the instance of that name keeps its uuid) and imports nothing.
#[test]
fn forged_backups_restore_nothing_and_replace_nothing() {
    let _shared = daemon_shared();
    let Some(project) = TestProject::new("fault-forge") else {
        return;
    };
    let cwd = ScratchDir::new("fault-forge");
    let owner = Gpg::with_new_key();
    let stranger = Gpg::with_new_key();
    let key = owner.secret_key(cwd.path()).to_string_lossy().into_owned();
    let (victim, plain) = backed_up(&project, cwd.path(), &["-o", "plain"]);
    let uuid = || project.run(&["config", "get", &victim, "volatile.uuid"]);
    let before = uuid();
    let plain_arg = plain.to_string_lossy().into_owned();

    let renamed = cwd
        .path()
        .join(format!("{victim}-20261130-120000.tar.zst.gpg"));
    fs::copy(&plain, &renamed).unwrap();
    let unsigned = cwd.path().join("unsigned.tar.zst.gpg");
    let owner_cert = owner.public_cert(cwd.path());
    let encrypt = |gpg: &Gpg, out: &Path, sign: bool| {
        let mut args = vec!["--trust-model", "always", "-o", out.to_str().unwrap()];
        args.extend(["-r", owner.email.as_str()]);
        if sign {
            args.extend(["-u", gpg.email.as_str(), "--sign"]);
        }
        args.extend(["--encrypt", plain_arg.as_str()]);
        gpg.ok(&args);
    };
    encrypt(&owner, &unsigned, false);
    stranger.ok(&["--import", owner_cert.to_str().unwrap()]);
    let by_stranger = cwd.path().join("stranger.tar.zst.gpg");
    encrypt(&stranger, &by_stranger, true);
    let forgeries = [
        (
            renamed.as_path(),
            vec![],
            "a plain archive under a .gpg name",
        ),
        (
            plain.as_path(),
            vec!["--key-file", key.as_str()],
            "a plain archive with --key-file",
        ),
        (
            unsigned.as_path(),
            vec!["--key-file", key.as_str()],
            "encrypted to us, unsigned",
        ),
        (
            by_stranger.as_path(),
            vec!["--key-file", key.as_str()],
            "signed by a stranger",
        ),
    ];
    let mut failures = Vec::new();
    let mut trials = 0;
    for (file, keys, what) in &forgeries {
        for name in [unique_name("forged"), victim.clone()] {
            trials += 1;
            let mut args = vec!["restore", file.to_str().unwrap(), "--name", &name];
            args.extend(["--project", project.name(), "--force", "-q"]);
            args.extend(keys);
            let out = backup(cwd.path(), &args);
            if out.status.code() != Some(1) || out.stderr.is_empty() {
                failures.push(format!("{what} as {name}: {:?}", out.status.code()));
            }
            if project.instances() != [victim.clone()] || uuid() != before {
                failures.push(format!("{what} as {name}: left {:?}", project.instances()));
            }
        }
    }
    report(
        "forged backups (plain under a .gpg name or with --key-file, encrypted unsigned, signed by a stranger), restored under a new name and with --force over an existing instance: accepted, replaced or left something",
        trials,
        failures.len(),
    );
    assert!(failures.is_empty(), "{failures:#?}");
}
