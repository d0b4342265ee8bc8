//! anklume-backup, the real binary against the real Incus daemon, with GnuPG and sq as the
//! independent OpenPGP peers that must read what we write and write what we read.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use anklume_common::Located;
use anklume_tests::faults::report;
use anklume_tests::gpg::Gpg;
use anklume_tests::{ScratchDir, TestProject, finish, run_tool, run_tool_with_input, unique_name};

const BACKUP: &str = env!("CARGO_BIN_EXE_anklume-backup");

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn assert_ok(out: &Output) {
    assert!(out.status.success(), "{}", text(&out.stderr));
}

fn assert_failed_saying(out: &Output, expected: &str) {
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(expected),
        "expected {expected:?} in: {stderr}"
    );
}

/// A working directory, and optionally a GnuPG home, for one tool run.
struct Env<'a> {
    cwd: &'a Path,
    gnupg: Option<&'a Gpg>,
}

impl Env<'_> {
    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(BACKUP);
        command.args(args).current_dir(self.cwd);
        if let Some(gpg) = self.gnupg {
            command.env("GNUPGHOME", gpg.home.path());
        }
        command
    }

    fn run(&self, args: &[&str]) -> Output {
        run_tool(&mut self.command(args))
    }

    /// `restore FILE [EXTRA...] --name NAME --project PROJECT`.
    fn restore_as(&self, file: &str, name: &str, project: &TestProject, extra: &[&str]) -> Output {
        let mut args = vec!["restore", file];
        args.extend(extra);
        args.extend(["--name", name, "--project", project.name()]);
        self.run(&args)
    }

    /// Runs a shell pipeline in this environment.
    fn pipeline(&self, script: &str) -> Output {
        let mut command = Command::new("bash");
        command.args(["-c", &format!("set -o pipefail; {script}")]);
        command.current_dir(self.cwd);
        if let Some(gpg) = self.gnupg {
            command.env("GNUPGHOME", gpg.home.path());
        }
        run_tool(&mut command)
    }

    /// Runs with `input` on stdin.
    fn run_with_input(&self, args: &[&str], input: &[u8]) -> Output {
        run_tool_with_input(&mut self.command(args), input)
    }
}

/// A running busybox instance holding a file whose content is unique to the test.
fn instance_with_data(project: &TestProject) -> (String, String) {
    let name = unique_name("keep");
    project.launch(&name);
    let secret = unique_name("precious-data");
    project.run(&[
        "exec",
        &name,
        "--",
        "sh",
        "-c",
        &format!("echo {secret} > /root/data && chmod 600 /root/data"),
    ]);
    (name, secret)
}

/// The content of /root/data in `name` (started if needed).
fn data_of(project: &TestProject, name: &str) -> String {
    let state = project.run(&["list", name, "-c", "s", "-f", "csv"]);
    if !state.contains("RUNNING") {
        project.run(&["start", name]);
    }
    // Read through the file API: Incus 6.0's `incus exec` loses the output of a short command
    // now and then when several run at once.
    project
        .run(&["file", "pull", &format!("{name}/root/data"), "-"])
        .trim()
        .to_owned()
}

/// The only file in `dir`, hidden ones included.
fn only_file(dir: &Path) -> PathBuf {
    let files: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    files.into_iter().next().unwrap()
}

fn created_path(out: &Output, cwd: &Path) -> PathBuf {
    assert_ok(out);
    cwd.join(text(&out.stdout).trim())
}

#[test]
fn a_plain_backup_round_trips_with_options_after_the_name() {
    let Some(project) = TestProject::new("bk-plain") else {
        return;
    };
    let (name, secret) = instance_with_data(&project);
    let cwd = ScratchDir::new("bk-plain");
    let env = Env {
        cwd: cwd.path(),
        gnupg: None,
    };

    project.run(&["snapshot", "create", &name, "snap0"]);
    let out = env.run(&[
        "create",
        &name,
        "--project",
        project.name(),
        "--compression",
        "gzip",
    ]);
    let file = created_path(&out, cwd.path());
    let file_name = file.file_name().unwrap().to_string_lossy().into_owned();
    assert!(file_name.starts_with(&format!("{name}-")), "{file_name}");
    assert!(file_name.ends_with(".tar.gz"), "{file_name}");
    let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&file), 0o600);
    assert_eq!(mode(&cwd.path().join("backups")), 0o700);
    assert_eq!(only_file(&cwd.path().join("backups")), file);

    let copy = unique_name("copy");
    let file_arg = file.to_string_lossy().into_owned();
    let out = env.restore_as(&file_arg, &copy, &project, &[]);
    assert_ok(&out);
    assert_eq!(text(&out.stdout).trim(), copy);
    assert_eq!(data_of(&project, &copy), secret);

    let out = env.run(&["verify", &file_arg]);
    assert_ok(&out);
    let report = text(&out.stdout);
    assert!(report.contains(&format!("instance:    {name}")), "{report}");
    assert!(report.contains("gzip"), "{report}");
    assert!(report.contains("encrypted:   no"), "{report}");
    assert!(report.contains("snapshots:   snap0"), "{report}");

    let out = env.run(&["create", &name, "--instance-only", "-o", "bare"]);
    let bare = created_path(&out, cwd.path());
    let out = env.run(&["verify", bare.to_str().unwrap()]);
    assert_ok(&out);
    assert!(
        text(&out.stdout).contains("snapshots:   none"),
        "{}",
        text(&out.stdout)
    );

    let out = env.run(&["list", "--format", "json"]);
    assert_ok(&out);
    let listed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(listed[0]["instance"], name.as_str());
    assert_eq!(listed[0]["compression"], "gzip");
    assert_eq!(listed[0]["encrypted"], false);
}

#[test]
fn output_naming_a_backup_file_writes_that_file() {
    let Some(project) = TestProject::new("bk-ofile") else {
        return;
    };
    let (name, secret) = instance_with_data(&project);
    let cwd = ScratchDir::new("bk-ofile");
    let env = Env {
        cwd: cwd.path(),
        gnupg: None,
    };
    // The name says gzip: no --compression needed; the folder is made.
    let out = env.run(&[
        "create",
        &name,
        "--project",
        project.name(),
        "-o",
        "vault/web.tar.gz",
    ]);
    let file = created_path(&out, cwd.path());
    assert_eq!(file, cwd.path().join("vault/web.tar.gz"));
    let said = text(&out.stderr);
    assert!(
        said.contains("not encrypted: it holds the instance in clear"),
        "{said}"
    );
    assert!(file.is_file());
    let out = env.run(&["verify", "vault/web.tar.gz"]);
    assert!(text(&assert_ok_out(&out).stdout).contains("gzip"));
    // It is not replaced without --force, and a .gpg name needs encryption.
    let again = env.run(&[
        "create",
        &name,
        "--project",
        project.name(),
        "-o",
        "vault/web.tar.gz",
    ]);
    assert_failed_saying(&again, "already exists");
    let out = env.run(&[
        "create",
        &name,
        "--project",
        project.name(),
        "-o",
        "vault/web.tar.zst.gpg",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("nothing encrypts it"));
    // -q: errors only; the report of verify is left out too, its status still says.
    let copy = unique_name("copy");
    let out = env.restore_as("vault/web.tar.gz", &copy, &project, &["-q"]);
    assert_ok(&out);
    assert_eq!(text(&out.stderr), "", "restore -q said something");
    assert_eq!(data_of(&project, &copy), secret);
    let out = env.run(&["verify", "-q", "vault/web.tar.gz"]);
    assert_ok(&out);
    assert_eq!(text(&out.stdout), "");

    // list recognises the backup by its content whatever its name, and leaves other files out.
    fs::write(cwd.path().join("vault/notes.txt"), "not a backup").unwrap();
    let out = env.run(&["list", "vault", "--format", "json"]);
    assert_ok(&out);
    let listed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let rows = listed.as_array().unwrap();
    assert_eq!(rows.len(), 1, "{listed}");
    assert_eq!(rows[0]["file"], "web.tar.gz");
    assert_eq!(rows[0]["instance"], "web");
    assert_eq!(rows[0]["compression"], "gzip");
    let date = rows[0]["date"].as_str().unwrap();
    assert!(
        chrono::DateTime::parse_from_rfc3339(date).is_ok(),
        "not RFC 3339 with a time zone: {date}"
    );
    fs::write(
        cwd.path().join("vault/cut.tar.gz"),
        &fs::read(&file).unwrap()[..4096],
    )
    .unwrap();
    assert_failed_saying(&env.run(&["verify", "-q", "vault/cut.tar.gz"]), "");
}

fn assert_ok_out(out: &Output) -> &Output {
    assert_ok(out);
    out
}

#[test]
fn the_recorded_name_is_refused_when_taken_and_force_swaps_only_after_a_good_import() {
    let Some(project) = TestProject::new("bk-force") else {
        return;
    };
    let (name, secret) = instance_with_data(&project);
    let cwd = ScratchDir::new("bk-force");
    let env = Env {
        cwd: cwd.path(),
        gnupg: None,
    };
    let file = created_path(&env.run(&["create", &name]), cwd.path());
    let file_arg = file.to_string_lossy().into_owned();
    project.run(&["exec", &name, "--", "sh", "-c", "echo changed > /root/data"]);

    let out = env.run(&["restore", &file_arg, "--project", project.name()]);
    assert_failed_saying(&out, &format!("instance '{name}' already exists"));
    assert_eq!(data_of(&project, &name), "changed");

    // A damaged backup with --force: the import fails and the instance stays as it was, the
    // same instance (uuid), running.
    let at = Located {
        remote: None,
        project: project.name().to_owned(),
        name: name.clone(),
    };
    let uuid = project.incus().uuid(&at).unwrap();
    let damaged = cwd.path().join("damaged.tar.zst");
    let bytes = fs::read(&file).unwrap();
    fs::write(&damaged, &bytes[..bytes.len() / 2]).unwrap();
    let out = env.run(&[
        "restore",
        damaged.to_str().unwrap(),
        "--force",
        "--project",
        project.name(),
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert_eq!(
        project.incus().uuid(&at).unwrap(),
        uuid,
        "not the same instance"
    );
    assert!(!project.incus().instance(&at).unwrap().is_stopped());
    assert_eq!(data_of(&project, &name), "changed");
    assert_eq!(project.instances(), std::slice::from_ref(&name));

    let out = env.run(&[
        "restore",
        "--file",
        &file_arg,
        "--force",
        "--project",
        project.name(),
    ]);
    assert_ok(&out);
    assert_eq!(data_of(&project, &name), secret);
    // The previous instance, renamed aside meanwhile, is gone.
    assert_eq!(project.instances(), std::slice::from_ref(&name));
}

#[test]
fn an_encrypted_backup_is_readable_by_gnupg_and_restores_with_a_key_file_or_the_agent() {
    let Some(project) = TestProject::new("bk-gpg") else {
        return;
    };
    let (name, secret) = instance_with_data(&project);
    let gpg = Gpg::with_new_key();
    let cwd = ScratchDir::new("bk-gpg");
    let env = Env {
        cwd: cwd.path(),
        gnupg: Some(&gpg),
    };
    // The recipient comes from the user's GnuPG keyring.
    let out = env.run(&["create", &name, "--gpg", &gpg.email]);
    let file = created_path(&out, cwd.path());
    assert!(file.to_string_lossy().ends_with(".tar.zst.gpg"));
    let file_arg = file.to_string_lossy().into_owned();
    let sealed = fs::read(&file).unwrap();
    assert!(
        !sealed.windows(17).any(|w| w == b"backup/index.yaml"),
        "the archive is in clear"
    );

    // GnuPG reads it: a zstd archive whose first entry is Incus's index.
    let plain = gpg.ok(&["--decrypt", &file_arg]);
    let tar = zstd::decode_all(&plain[..]).unwrap();
    let mut archive = tar::Archive::new(&tar[..]);
    let first = archive.entries().unwrap().next().unwrap().unwrap();
    assert_eq!(first.path().unwrap().to_string_lossy(), "backup/index.yaml");

    // Through the agent: no key file, only the user's GnuPG home.
    let copy = unique_name("agent");
    let out = env.restore_as(&file_arg, &copy, &project, &[]);
    assert_ok(&out);
    assert_eq!(data_of(&project, &copy), secret);

    // With a key file and no GnuPG at all.
    let keys = ScratchDir::new("bk-keys");
    let key_file = gpg.secret_key(keys.path());
    let bare = Env {
        cwd: cwd.path(),
        gnupg: None,
    };
    let copy = unique_name("keyfile");
    let key_arg = key_file.to_string_lossy().into_owned();
    let out = bare.restore_as(&file_arg, &copy, &project, &["--key-file", &key_arg]);
    assert_ok(&out);
    assert_eq!(data_of(&project, &copy), secret);

    assert!(
        !text(&out.stderr).contains("readable"),
        "{}",
        text(&out.stderr)
    );

    // A secret key others can read is used, with a warning.
    fs::set_permissions(&key_file, fs::Permissions::from_mode(0o640)).unwrap();
    let out = bare.run(&["verify", &file_arg, "--key-file", &key_arg]);
    assert_ok(&out);
    assert!(text(&out.stdout).contains("encrypted:   yes"));
    let warned = text(&out.stderr);
    assert!(
        warned.contains("key file") && warned.contains("mode 0640"),
        "{warned}"
    );
    let out = bare.run(&["list"]);
    assert_ok(&out);
    let fingerprint = text(&gpg.ok(&["--list-keys", "--with-colons", &gpg.email]));
    let subkey_id = fingerprint
        .lines()
        .filter(|l| l.starts_with("sub:"))
        .map(|l| l.split(':').nth(4).unwrap().to_owned())
        .next()
        .unwrap();
    assert!(
        text(&out.stdout).contains(&subkey_id),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn backups_encrypted_by_gnupg_or_sq_restore_and_sq_reads_ours() {
    let Some(project) = TestProject::new("bk-peers") else {
        return;
    };
    let (name, secret) = instance_with_data(&project);
    let gpg = Gpg::with_new_key();
    let cwd = ScratchDir::new("bk-peers");
    let env = Env {
        cwd: cwd.path(),
        gnupg: None,
    };
    let plain = created_path(&env.run(&["create", &name, "-o", "plain"]), cwd.path());
    let keys = ScratchDir::new("bk-peer-keys");
    let key_arg = gpg.secret_key(keys.path()).to_string_lossy().into_owned();
    let cert = gpg.public_cert(keys.path());

    // GnuPG signs and encrypts (with its default compression layer), we restore: the key that
    // decrypts it signed it.
    let by_gpg = cwd.path().join("by-gpg.tar.zst.gpg");
    gpg.ok(&[
        "--trust-model",
        "always",
        "--output",
        by_gpg.to_str().unwrap(),
        "--local-user",
        &gpg.email,
        "--sign",
        "--encrypt",
        "--recipient",
        &gpg.email,
        plain.to_str().unwrap(),
    ]);
    let copy = unique_name("from-gpg");
    let out = env.restore_as(
        by_gpg.to_str().unwrap(),
        &copy,
        &project,
        &["--key-file", &key_arg],
    );
    assert_ok(&out);
    assert_eq!(data_of(&project, &copy), secret);

    // sq encrypts, we restore; we encrypt to a certificate file, sq decrypts.
    let by_sq = cwd.path().join("by-sq.tar.zst.pgp");
    let sq = Command::new("sq")
        .args([
            "encrypt",
            "--binary",
            "--recipient-cert",
            cert.to_str().unwrap(),
            "--output",
        ])
        .arg(&by_sq)
        .arg(&plain)
        .output()
        .unwrap();
    assert!(sq.status.success(), "sq encrypt: {}", text(&sq.stderr));
    let copy = unique_name("from-sq");
    let out = env.restore_as(
        by_sq.to_str().unwrap(),
        &copy,
        &project,
        &["--key-file", &key_arg, "--allow-unsigned"],
    );
    assert_ok(&out);
    assert_eq!(data_of(&project, &copy), secret);

    let out = env.run(&[
        "create",
        &name,
        "-o",
        "sealed",
        "--recipient-file",
        cert.to_str().unwrap(),
        "--key-file",
        &key_arg,
    ]);
    let ours = created_path(&out, cwd.path());
    // sq decrypts and verifies our signature (one valid signature by the certificate required).
    let sq = Command::new("sq")
        .args(["decrypt", "--recipient-key", &key_arg, "--signer-cert"])
        .arg(&cert)
        .args(["--signatures", "1"])
        .arg(&ours)
        .output()
        .unwrap();
    assert!(sq.status.success(), "sq decrypt: {}", text(&sq.stderr));
    let tar = zstd::decode_all(&sq.stdout[..]).unwrap();
    let mut archive = tar::Archive::new(&tar[..]);
    let first = archive.entries().unwrap().next().unwrap().unwrap();
    assert_eq!(first.path().unwrap().to_string_lossy(), "backup/index.yaml");
}

#[test]
fn a_passphrase_backup_round_trips_and_gnupg_opens_it() {
    let Some(project) = TestProject::new("bk-pass") else {
        return;
    };
    let (name, secret) = instance_with_data(&project);
    let cwd = ScratchDir::new("bk-pass");
    let env = Env {
        cwd: cwd.path(),
        gnupg: None,
    };
    let phrase = cwd.write("phrase", "correct horse battery staple\n");
    fs::set_permissions(&phrase, fs::Permissions::from_mode(0o644)).unwrap();
    let phrase_arg = phrase.to_string_lossy().into_owned();
    let out = env.run(&["create", &name, "--passphrase-file", &phrase_arg]);
    let warned = text(&out.stderr);
    assert!(
        warned.contains("is readable by other users (mode 0644)") && warned.contains("chmod 600"),
        "{warned}"
    );
    let file = created_path(&out, cwd.path());
    fs::set_permissions(&phrase, fs::Permissions::from_mode(0o600)).unwrap();
    let file_arg = file.to_string_lossy().into_owned();

    let gpg = Gpg::with_new_key();
    let plain = gpg.ok(&[
        "--pinentry-mode",
        "loopback",
        "--passphrase",
        "correct horse battery staple",
        "--decrypt",
        &file_arg,
    ]);
    assert!(zstd::decode_all(&plain[..]).is_ok());

    let copy = unique_name("pass");
    let out = env.restore_as(
        &file_arg,
        &copy,
        &project,
        &["--passphrase-file", &phrase_arg, "--allow-unsigned"],
    );
    assert_ok(&out);
    assert!(
        !text(&out.stderr).contains("readable"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(data_of(&project, &copy), secret);

    let wrong = cwd.write("wrong", "not it\n");
    let out = env.restore_as(
        &file_arg,
        &unique_name("nope"),
        &project,
        &[
            "--passphrase-file",
            wrong.to_str().unwrap(),
            "--allow-unsigned",
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert_eq!(project.instances().len(), 2);
}

#[test]
fn tampered_truncated_or_wrongly_keyed_backups_restore_nothing() {
    let Some(project) = TestProject::new("bk-tamper") else {
        return;
    };
    let (name, _) = instance_with_data(&project);
    let gpg = Gpg::with_new_key();
    let other = Gpg::with_new_key();
    let cwd = ScratchDir::new("bk-tamper");
    let keys = ScratchDir::new("bk-tamper-keys");
    let cert = gpg.public_cert(keys.path());
    let key_arg = gpg.secret_key(keys.path()).to_string_lossy().into_owned();
    let other_dir = ScratchDir::new("bk-other-key");
    let other_key = other
        .secret_key(other_dir.path())
        .to_string_lossy()
        .into_owned();
    let env = Env {
        cwd: cwd.path(),
        gnupg: None,
    };
    let file = created_path(
        &env.run(&[
            "create",
            &name,
            "--recipient-file",
            cert.to_str().unwrap(),
            "--key-file",
            &key_arg,
        ]),
        cwd.path(),
    );
    let bytes = fs::read(&file).unwrap();

    let mut flipped = bytes.clone();
    let at = bytes.len() * 3 / 4;
    flipped[at] ^= 0x40;
    let mut cases = vec![
        ("flipped", flipped, key_arg.clone()),
        (
            "truncated",
            bytes[..bytes.len() - 100].to_vec(),
            key_arg.clone(),
        ),
        ("wrong key", bytes.clone(), other_key),
    ];
    for (what, content, key) in cases.drain(..) {
        let path = cwd.path().join(format!("{}.gpg", what.replace(' ', "-")));
        fs::write(&path, &content).unwrap();
        let path_arg = path.to_string_lossy().into_owned();
        let out = env.restore_as(
            &path_arg,
            &unique_name("bad"),
            &project,
            &["--key-file", &key],
        );
        assert_eq!(out.status.code(), Some(1), "{what}: {}", text(&out.stderr));
        assert_eq!(
            project.instances(),
            std::slice::from_ref(&name),
            "{what} left an instance"
        );
        let out = env.run(&["verify", &path_arg, "--key-file", &key]);
        assert_eq!(
            out.status.code(),
            Some(1),
            "verify of {what}: {}",
            text(&out.stdout)
        );
    }
}

#[test]
fn failures_before_and_during_the_export_leave_no_file() {
    let Some(project) = TestProject::new("bk-fail") else {
        return;
    };
    let (name, _) = instance_with_data(&project);
    let cwd = ScratchDir::new("bk-fail");
    let env = Env {
        cwd: cwd.path(),
        gnupg: None,
    };
    let ghost = unique_name("ghost");
    let out = env.run(&["create", &ghost]);
    assert_failed_saying(&out, &format!("instance '{ghost}' not found"));
    assert!(!cwd.path().join("backups").exists());

    let empty_keyring = Gpg::with_new_key();
    let with_keyring = Env {
        cwd: cwd.path(),
        gnupg: Some(&empty_keyring),
    };
    let out = with_keyring.run(&["create", &name, "--gpg", "nobody@example.org"]);
    assert_failed_saying(&out, "nobody@example.org");
    assert!(!cwd.path().join("backups").exists());

    // A full disk: a 1 MiB tmpfs cannot hold the ~2 MiB backup.
    let small = cwd.path().join("small");
    fs::create_dir(&small).unwrap();
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=1m", "tmpfs"])
        .arg(&small)
        .status()
        .unwrap();
    assert!(mounted.success(), "cannot mount a tmpfs (root needed)");
    let out = env.run(&[
        "create",
        &name,
        "--compression",
        "none",
        "-o",
        small.to_str().unwrap(),
    ]);
    let listing: Vec<_> = fs::read_dir(&small).unwrap().collect();
    let _ = Command::new("umount").arg(&small).status();
    report(
        "anklume-backup create into a full tmpfs: wrong status or file left",
        1,
        usize::from(out.status.code() != Some(1) || !listing.is_empty()),
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("No space left"),
        "{}",
        text(&out.stderr)
    );
    assert!(listing.is_empty(), "left behind: {listing:?}");
}

#[test]
fn stdout_output_feeds_a_pipe() {
    let Some(project) = TestProject::new("bk-pipe") else {
        return;
    };
    let (name, secret) = instance_with_data(&project);
    let cwd = ScratchDir::new("bk-pipe");
    let env = Env {
        cwd: cwd.path(),
        gnupg: None,
    };
    let out = env.run(&["create", &name, "-o", "-"]);
    assert_ok(&out);
    assert!(!cwd.path().join("backups").exists());
    let copy = unique_name("piped");
    let out = env.run_with_input(
        &["restore", "-", "--name", &copy, "--project", project.name()],
        &out.stdout,
    );
    assert_ok(&out);
    assert_eq!(data_of(&project, &copy), secret);
}

#[test]
fn an_interrupted_backup_leaves_no_file_and_no_export_running() {
    let Some(project) = TestProject::new("bk-int") else {
        return;
    };
    let (name, _) = instance_with_data(&project);
    project.run(&[
        "exec",
        &name,
        "--",
        "sh",
        "-c",
        "dd if=/dev/urandom of=/root/noise bs=1M count=300 2>/dev/null",
    ]);
    let cwd = ScratchDir::new("bk-int");
    let env = Env {
        cwd: cwd.path(),
        gnupg: None,
    };
    let mut failures = 0;
    for signal in ["INT", "TERM"] {
        let child = env
            .command(&["create", &name, "--compression", "gzip"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let backups = cwd.path().join("backups");
        // Wait until the export is under way: the partial file is growing.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while fs::read_dir(&backups)
            .map(|d| {
                d.flatten()
                    .all(|e| e.metadata().map_or(0, |m| m.len()) == 0)
            })
            .unwrap_or(true)
        {
            assert!(
                std::time::Instant::now() < deadline,
                "no export data after 60 s"
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        let _ = Command::new("kill")
            .args([&format!("-{signal}"), &child.id().to_string()])
            .status();
        let out = finish(child);
        let expected = if signal == "INT" { 130 } else { 143 };
        let left: Vec<_> = fs::read_dir(&backups)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .collect();
        let exports = Command::new("pgrep")
            .args(["-f", &format!("export {name} -")])
            .output()
            .unwrap();
        // Nor the copy `incus export` stages on the server (Incus 6.0 has no direct download).
        let at = Located {
            remote: None,
            project: project.name().to_owned(),
            name: name.clone(),
        };
        let on_server = project.incus().backups(&at).unwrap();
        if out.status.code() != Some(expected)
            || !left.is_empty()
            || !exports.stdout.is_empty()
            || !on_server.is_empty()
        {
            failures += 1;
        }
        assert!(on_server.is_empty(), "left on the server: {on_server:?}");
        assert_eq!(out.status.code(), Some(expected), "{}", text(&out.stderr));
        assert!(left.is_empty(), "left behind after SIG{signal}: {left:?}");
        assert!(
            exports.stdout.is_empty(),
            "incus export still runs: {}",
            text(&exports.stdout)
        );
    }
    report(
        "SIGINT / SIGTERM of anklume-backup create mid-stream: wrong status, file, export or server-side copy left",
        2,
        failures,
    );
}

#[test]
fn expired_revoked_or_sign_only_certificates_are_refused_before_the_export() {
    let Some(project) = TestProject::new("bk-certs") else {
        return;
    };
    let (name, _) = instance_with_data(&project);
    let cwd = ScratchDir::new("bk-certs");
    let env = Env {
        cwd: cwd.path(),
        gnupg: None,
    };
    let gpg = Gpg::with_new_key();
    let no_passphrase = ["--pinentry-mode", "loopback", "--passphrase", ""];
    let generate = |uid: &str, algo: &str, usage: &str, expiry: &str, faked: &str| {
        let mut args = no_passphrase.to_vec();
        if !faked.is_empty() {
            args.extend(["--faked-system-time", faked]);
        }
        args.extend(["--quick-gen-key", uid, algo, usage, expiry]);
        gpg.ok(&args);
    };
    // Made in 2020, valid for a day.
    generate(
        "Expired <expired@example.org>",
        "future-default",
        "default",
        "1d",
        "20200101T000000!",
    );
    generate(
        "Signer <signer@example.org>",
        "ed25519",
        "sign",
        "never",
        "",
    );
    generate(
        "Revoked <revoked@example.org>",
        "future-default",
        "default",
        "never",
        "",
    );
    // Every key gets a revocation certificate at birth; importing it revokes the key.
    let listing = text(&gpg.ok(&["--with-colons", "--list-keys", "revoked@example.org"]));
    let fingerprint = listing
        .lines()
        .find_map(|l| l.strip_prefix("fpr:"))
        .and_then(|l| l.split(':').find(|f| f.len() == 40))
        .unwrap()
        .to_owned();
    let revocation = gpg
        .home
        .path()
        .join(format!("openpgp-revocs.d/{fingerprint}.rev"));
    let armored = fs::read_to_string(&revocation)
        .unwrap()
        .replace(":-----BEGIN", "-----BEGIN");
    let unlocked = cwd.path().join("revocation.asc");
    fs::write(&unlocked, armored).unwrap();
    gpg.ok(&["--import", unlocked.to_str().unwrap()]);

    for (who, expected) in [
        ("expired@example.org", "expired"),
        ("revoked@example.org", "revoked"),
        ("signer@example.org", "encrypt"),
    ] {
        let certs = cwd.path().join(format!("{who}.asc"));
        fs::write(&certs, gpg.ok(&["--armor", "--export", who])).unwrap();
        let out = env.run(&["create", &name, "--recipient-file", certs.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(1), "{who}: {}", text(&out.stderr));
        assert!(
            text(&out.stderr).contains(expected),
            "{who}: expected {expected:?} in {}",
            text(&out.stderr)
        );
        assert!(
            !cwd.path().join("backups").exists(),
            "{who}: something was written"
        );
    }

    // A user ID its owner revoked no longer names the certificate.
    let with_keyring = Env {
        cwd: cwd.path(),
        gnupg: Some(&gpg),
    };
    let retired = "Retired <retired@example.org>";
    gpg.ok(&["--quick-add-uid", &gpg.email, retired]);
    let out = with_keyring.run(&[
        "create",
        &name,
        "--gpg",
        "retired@example.org",
        "--unsigned",
    ]);
    assert_ok(&out);
    fs::remove_dir_all(cwd.path().join("backups")).unwrap();
    // A soft revocation counts when newer than the binding: not within the same second.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    gpg.ok(&["--quick-revoke-uid", &gpg.email, retired]);
    let out = with_keyring.run(&["create", &name, "--gpg", "retired@example.org"]);
    assert_failed_saying(&out, "no such certificate");
    assert!(
        !cwd.path().join("backups").exists(),
        "something was written"
    );
}

/// A test project with an instance holding unique data, its owner's GnuPG home and a scratch
/// directory: the ground of the tests of signed backups.
struct Owned {
    project: TestProject,
    name: String,
    secret: String,
    owner: Gpg,
    cwd: ScratchDir,
}

impl Owned {
    fn new(tag: &str) -> Option<Self> {
        let project = TestProject::new(tag)?;
        let (name, secret) = instance_with_data(&project);
        Some(Self {
            project,
            name,
            secret,
            owner: Gpg::with_new_key(),
            cwd: ScratchDir::new(tag),
        })
    }

    fn parts(&self) -> (&TestProject, &str, &str, &Gpg, &ScratchDir) {
        let Self {
            project,
            name,
            secret,
            owner,
            cwd,
        } = self;
        (project, name, secret, owner, cwd)
    }

    /// Runs in the scratch directory, with the owner's GnuPG home.
    fn env(&self) -> Env<'_> {
        Env {
            cwd: self.cwd.path(),
            gnupg: Some(&self.owner),
        }
    }

    /// `create NAME --gpg OWNER`, signed by default: the path of the backup.
    fn signed_backup(&self) -> PathBuf {
        let out = self
            .env()
            .run(&["create", &self.name, "--gpg", &self.owner.email]);
        created_path(&out, self.cwd.path())
    }
}

/// The fingerprint of the key of `gpg`, as GnuPG prints it.
fn fingerprint(gpg: &Gpg) -> String {
    let listing = text(&gpg.ok(&["--with-colons", "--fingerprint", &gpg.email]));
    listing
        .lines()
        .find_map(|l| l.strip_prefix("fpr:"))
        .map(|rest| rest.trim_matches(':').to_owned())
        .unwrap()
}

/// Our backups are signed (GnuPG sees a valid signature); forged ones are refused with nothing
/// imported: a plain archive under a .gpg name, one encrypted to us by anyone holding our
/// public certificate, one signed by a stranger. --signer and --allow-unsigned let the user
/// accept what they know.
#[test]
fn backups_are_signed_and_forgeries_restore_nothing() {
    let Some(ground) = Owned::new("bk-forge") else {
        return;
    };
    let (project, name, secret, owner, cwd) = ground.parts();
    let stranger = Gpg::with_new_key();
    let env = ground.env();
    let ours = ground.signed_backup();
    let ours_arg = ours.to_string_lossy().into_owned();
    let status = text(&owner.ok(&["--status-fd", "1", "-o", "/dev/null", "-d", &ours_arg]));
    assert!(
        status.contains(&format!("VALIDSIG {}", fingerprint(owner))),
        "{status}"
    );
    let out = env.run(&["verify", &ours_arg]);
    assert_ok(&out);
    let report = text(&out.stdout);
    assert!(report.contains("authenticated: yes"), "{report}");
    assert!(report.contains(&fingerprint(owner)), "{report}");

    let plain = created_path(&env.run(&["create", name, "-o", "plain"]), cwd.path());
    let refused = |forged: &Path, expected: &str, extra: &[&str]| {
        let out = env.restore_as(
            forged.to_str().unwrap(),
            &unique_name("forged"),
            project,
            extra,
        );
        assert_failed_saying(&out, expected);
        assert_eq!(
            project.instances(),
            std::slice::from_ref(&name),
            "{expected}: imported"
        );
    };
    let renamed = cwd.path().join("renamed.tar.zst.gpg");
    fs::copy(&plain, &renamed).unwrap();
    refused(&renamed, "is a plain archive", &[]);

    // Anyone with our public certificate can encrypt to us: not signed, not restored.
    let unsigned = cwd.path().join("unsigned.tar.zst.gpg");
    owner.ok(&[
        "--trust-model",
        "always",
        "-o",
        unsigned.to_str().unwrap(),
        "-r",
        &owner.email,
        "-e",
        plain.to_str().unwrap(),
    ]);
    refused(&unsigned, "it is not signed", &[]);
    let copy = unique_name("unsigned-ok");
    assert_ok(&env.restore_as(
        unsigned.to_str().unwrap(),
        &copy,
        project,
        &["--allow-unsigned"],
    ));
    assert_eq!(data_of(project, &copy), secret);
    project.run(&["delete", "--force", &copy]);

    // A stranger signs and encrypts to us.
    let keys = ScratchDir::new("bk-forge-keys");
    let owner_cert = owner.public_cert(keys.path());
    stranger.ok(&["--import", owner_cert.to_str().unwrap()]);
    let by_stranger = cwd.path().join("stranger.tar.zst.gpg");
    stranger.ok(&[
        "--trust-model",
        "always",
        "-o",
        by_stranger.to_str().unwrap(),
        "-u",
        &stranger.email,
        "-r",
        &owner.email,
        "--sign",
        "--encrypt",
        plain.to_str().unwrap(),
    ]);
    refused(&by_stranger, &fingerprint(&stranger), &[]);
    // Only a file or a full fingerprint names a trusted signer, never an e-mail address.
    refused(
        &by_stranger,
        "nor a full fingerprint",
        &["--signer", &stranger.email],
    );
    let stranger_dir = ScratchDir::new("bk-forge-stranger");
    let stranger_cert = stranger.public_cert(stranger_dir.path());
    let copy = unique_name("trusted");
    let trust = ["--signer", stranger_cert.to_str().unwrap()];
    assert_ok(&env.restore_as(by_stranger.to_str().unwrap(), &copy, project, &trust));
    assert_eq!(data_of(project, &copy), secret);
}

/// What a backup says of itself (its index, its file name) is anybody's: `verify` and `list`
/// print it with control characters escaped, so that no escape sequence reaches the terminal.
#[test]
fn verify_and_list_never_print_control_characters_from_a_backup() {
    let cwd = ScratchDir::new("bk-escape");
    let env = Env {
        cwd: cwd.path(),
        gnupg: None,
    };
    let mut tar = tar::Builder::new(Vec::new());
    let index = b"name: \"x\\e]0;PWNED\\a\\e[31mred\"\npool: \"p\\e[2J\"\n";
    let mut header = tar::Header::new_gnu();
    header.set_mode(0o644);
    header.set_size(index.len() as u64);
    tar.append_data(&mut header, "backup/index.yaml", &index[..])
        .unwrap();
    let archive = zstd::encode_all(&tar.into_inner().unwrap()[..], 3).unwrap();
    let dir = cwd.path().join("vault");
    fs::create_dir(&dir).unwrap();
    let file = dir.join("x\u{1b}[31m-20261130-120000.tar.zst");
    fs::write(&file, archive).unwrap();

    let out = env.run(&["verify", file.to_str().unwrap()]);
    assert_ok(&out);
    assert!(text(&out.stdout).contains("red"), "{}", text(&out.stdout));
    let out_list = env.run(&["list", dir.to_str().unwrap()]);
    assert_ok(&out_list);
    let listed = text(&out_list.stdout);
    assert!(
        listed.contains("\\u{1b}[31m"),
        "the file is not listed: {listed}"
    );
    for out in [&out, &out_list] {
        assert!(
            !out.stdout.contains(&0x1b) && !out.stdout.contains(&0x07),
            "raw control characters: {:?}",
            text(&out.stdout)
        );
    }
}

/// A backup restores on another Incus remote, as `incus import` does: `--name REMOTE:NEW`,
/// `--remote REMOTE` keeping the recorded name, and `create -o - | restore -` migrates an
/// instance between two daemons, encrypted and signed in flight. The test ground's remote
/// `anklume-loop` is this daemon again, over HTTPS.
#[test]
fn backups_restore_on_another_remote_and_migrate_through_a_pipe() {
    let Some(ground) = Owned::new("bk-remote") else {
        return;
    };
    let (project, name, secret, owner, _) = ground.parts();
    let env = ground.env();
    let file = ground.signed_backup();
    let file = file.to_str().unwrap();

    let copy = unique_name("remote-copy");
    let remote_copy = format!("anklume-loop:{copy}");
    let out = env.run(&[
        "restore",
        file,
        "--name",
        &remote_copy,
        "--project",
        project.name(),
    ]);
    assert_ok(&out);
    assert_eq!(text(&out.stdout).trim(), remote_copy);
    assert_eq!(data_of(project, &copy), secret);

    let moved = unique_name("moved");
    let pipeline = format!(
        "{BACKUP} create {name} --project {project} -o - --gpg {email} | \
         {BACKUP} restore - --name anklume-loop:{moved} --project {project}",
        project = shell_quoted(project.name()),
        email = owner.email,
    );
    let out = env.pipeline(&pipeline);
    assert_ok(&out);
    assert_eq!(data_of(project, &moved), secret);

    // --remote keeps the backup's name, once the original is gone.
    project.run(&["delete", "--force", name]);
    let out = env.run(&[
        "restore",
        file,
        "--remote",
        "anklume-loop",
        "--project",
        project.name(),
    ]);
    assert_ok(&out);
    assert_eq!(text(&out.stdout).trim(), format!("anklume-loop:{name}"));
    assert_eq!(data_of(project, name), secret);

    // A remote the client does not know is named; two different remotes are a usage error.
    let out = env.run(&[
        "restore",
        file,
        "--remote",
        "nowhere",
        "--name",
        "x1",
        "--project",
        project.name(),
    ]);
    assert_failed_saying(&out, "nowhere");
    let out = env.run(&[
        "restore",
        file,
        "--remote",
        "nowhere",
        "--name",
        "anklume-loop:x1",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let mut expected = vec![copy, moved, name.to_owned()];
    expected.sort();
    let mut left = project.instances();
    left.sort();
    assert_eq!(left, expected);
}

/// `word` quoted for the shell.
fn shell_quoted(word: &str) -> String {
    format!("'{}'", word.replace('\'', r"'\''"))
}

/// `list` shows a backup it cannot read as a row saying why, lists the others, and exits 1.
#[test]
fn list_reports_an_unreadable_backup_in_its_row_and_goes_on() {
    let cwd = ScratchDir::new("bk-list-bad");
    let env = Env {
        cwd: cwd.path(),
        gnupg: None,
    };
    let vault = cwd.path().join("vault");
    fs::create_dir(&vault).unwrap();
    let good = "good-20261130-120000.tar.zst";
    fs::write(vault.join(good), zstd::encode_all(&b"x"[..], 3).unwrap()).unwrap();
    // An OpenPGP packet header whose body is garbage, and a link to nowhere.
    let garbled = "garbled-20261130-120000.tar.zst.gpg";
    fs::write(vault.join(garbled), [0x85, 0xff, 0xff, 0x01, 0x02]).unwrap();
    let broken = "moved-20261130-120000.tar.zst.gpg";
    std::os::unix::fs::symlink("/nonexistent/backup", vault.join(broken)).unwrap();

    let out = env.run(&["list", vault.to_str().unwrap()]);
    assert_failed_saying(&out, "2 of the 3 backups");
    let table = text(&out.stdout);
    let row = |file: &str| table.lines().find(|l| l.starts_with(file)).unwrap_or("");
    assert!(
        row(good).contains("zstd") && !row(good).contains("unreadable"),
        "{table}"
    );
    assert!(
        row(garbled).contains("unreadable: cannot read the recipients"),
        "{table}"
    );
    assert!(row(broken).contains("unreadable: cannot read"), "{table}");

    let out = env.run(&["list", "--format", "json", vault.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let errors: Vec<bool> = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|row| row.get("error").is_some())
        .collect();
    assert_eq!(errors, [true, false, true], "garbled, good, moved: {rows}");
}

#[test]
fn a_backup_is_not_written_to_a_terminal() {
    // Refused before anything else: no daemon is needed to see it.
    let out = Command::new("script")
        .args([
            "-qec",
            &format!("'{BACKUP}' create nosuch -o -"),
            "/dev/null",
        ])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let said = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(
        said.contains("refusing to write a backup to a terminal"),
        "{said}"
    );
}

/// A backup records the project it came from: `list` and `verify` show it in every format,
/// `restore` (and `restore --force`) go back there without `--project`, and a missing project
/// or pool is refused before any data moves.
#[test]
fn a_backup_goes_back_to_its_project_and_targets_are_checked_first() {
    let Some(project) = TestProject::new("bk-home") else {
        return;
    };
    let (name, secret) = instance_with_data(&project);
    let cwd = ScratchDir::new("bk-home");
    let env = Env {
        cwd: cwd.path(),
        gnupg: None,
    };
    let out = env.run(&["create", &name, "-q"]);
    let file = created_path(&out, cwd.path());
    let file = file.to_string_lossy().into_owned();

    let out = env.run(&["list", "--format", "json"]);
    assert_ok(&out);
    let listed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(listed[0]["project"], project.name());
    let out = env.run(&["list", "--format", "csv"]);
    assert_ok(&out);
    let line = text(&out.stdout);
    let fields: Vec<&str> = line.trim_end().split(',').collect();
    assert_eq!(fields.len(), 10, "{line}");
    assert_eq!(fields[1..3], [name.as_str(), project.name()], "{line}");
    assert!(
        fields[3].contains('T') && fields[3].len() > 19,
        "RFC 3339: {line}"
    );
    let out = env.run(&["list"]);
    let table = text(&out.stdout);
    assert!(
        table.starts_with("FILE") && table.contains("PROJECT"),
        "{table}"
    );
    assert!(
        table.lines().nth(1).unwrap().contains(project.name()),
        "{table}"
    );

    let out = env.run(&["verify", &file, "--format", "json"]);
    assert_ok(&out);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["project"], project.name());
    assert_eq!(report["instance"], name.as_str());
    assert_eq!(report["intact"], true);
    let out = env.run(&["verify", &file, "--format", "csv"]);
    assert_ok(&out);
    assert!(
        text(&out.stdout).starts_with(&format!("{file},{name},{},container,", project.name())),
        "{}",
        text(&out.stdout)
    );
    let out = env.run(&["verify", &file]);
    assert!(
        text(&out.stdout).contains(&format!("project:     {}", project.name())),
        "{}",
        text(&out.stdout)
    );

    // Checked before the upload: nothing reaches Incus, no temporary name in the message.
    let out = env.run(&[
        "restore",
        &file,
        "--name",
        "elsewhere",
        "--project",
        "anklume-no-such-project",
    ]);
    assert_failed_saying(&out, "project 'anklume-no-such-project' does not exist");
    assert!(text(&out.stderr).contains("incus project create anklume-no-such-project"));
    let out = env.run(&[
        "restore",
        &file,
        "--name",
        "elsewhere",
        "--storage",
        "nopool",
    ]);
    assert_failed_saying(&out, "storage pool 'nopool' does not exist");
    assert!(text(&out.stderr).contains("incus storage list"));

    // --force replaces the instance in the project the backup came from.
    project.run(&["exec", &name, "--", "sh", "-c", "echo changed > /root/data"]);
    let out = env.run(&["restore", &file, "--force", "-q"]);
    assert_ok(&out);
    assert_eq!(text(&out.stderr), "", "-q: errors only");
    assert_eq!(data_of(&project, &name), secret);
    // Without the instance, the same: back to its project.
    project.run(&["delete", "--force", &name]);
    let out = env.run(&["restore", &file]);
    assert_ok(&out);
    assert!(text(&out.stderr).contains(&format!("project {}", project.name())));
    assert_eq!(data_of(&project, &name), secret);
}
