//! anklume-backup repositories (`--repo`), the real binary against the real Incus daemon, with
//! Debian's restic as the independent client that must read what we write (and write what we
//! read), OpenSSH's server for SFTP and `rclone serve restic` for REST, all on 127.0.0.1.

use std::fs;
use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use anklume_tests::gpg::Gpg;
use anklume_tests::{ScratchDir, TestProject, run_tool, unique_name};

const BACKUP: &str = env!("CARGO_BIN_EXE_anklume-backup");
const MIB: u64 = 1024 * 1024;

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn assert_ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}: {}",
        out.status.code(),
        text(&out.stderr)
    );
    text(&out.stdout).trim().to_owned()
}

fn assert_failed_saying(out: &Output, expected: &str) -> String {
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(expected),
        "expected {expected:?} in: {stderr}"
    );
    stderr
}

/// A repository and the GnuPG home of its owner; tools run with them.
struct Repo {
    dir: ScratchDir,
    owner: Gpg,
    location: String,
    /// Extra environment (PATH for the ssh wrapper).
    env: Vec<(String, String)>,
}

impl Repo {
    /// A local repository, created with `init --gpg OWNER`.
    fn local() -> Self {
        let dir = ScratchDir::new("repo");
        let location = dir.path().join("repo").to_string_lossy().into_owned();
        Self::at(dir, location, Vec::new())
    }

    fn at(dir: ScratchDir, location: String, env: Vec<(String, String)>) -> Self {
        let repo = Self {
            dir,
            owner: Gpg::with_new_key(),
            location,
            env,
        };
        let out = repo.run(&["init", "--gpg", &repo.owner.email.clone()]);
        let id = assert_ok(&out);
        assert_eq!(id.len(), 64, "init prints the repository ID: {id}");
        repo
    }

    fn command_as(&self, gpg: &Gpg, args: &[&str]) -> Command {
        let mut command = Command::new(BACKUP);
        command
            .args(args)
            .args(["--repo", &self.location])
            .current_dir(self.dir.path())
            .env("GNUPGHOME", gpg.home.path())
            .env_remove("ANKLUME_BACKUP_REPO");
        for (key, value) in &self.env {
            command.env(key, value);
        }
        command
    }

    fn run(&self, args: &[&str]) -> Output {
        run_tool(&mut self.command_as(&self.owner, args))
    }

    fn run_as(&self, gpg: &Gpg, args: &[&str]) -> Output {
        run_tool(&mut self.command_as(gpg, args))
    }

    /// `create NAME --project P`: the snapshot ID.
    fn create(&self, project: &TestProject, name: &str) -> String {
        let id = assert_ok(&self.run(&["create", name, "--project", project.name(), "-q"]));
        assert_eq!(id.len(), 64, "create prints the snapshot ID: {id}");
        id
    }

    /// restic, given the password by `anklume-backup key`.
    fn restic(&self, args: &[&str]) -> Output {
        let key = format!("{BACKUP} key --repo {}", self.location.replace('\'', ""));
        let mut command = Command::new("restic");
        command
            .args([
                "-r",
                &self.restic_location(),
                "--password-command",
                &key,
                "--no-cache",
            ])
            .args(args)
            .env("GNUPGHOME", self.owner.home.path());
        for (key, value) in &self.env {
            command.env(key, value);
        }
        run_tool(&mut command)
    }

    /// restic spells an SFTP location through its own ssh command line.
    fn restic_location(&self) -> String {
        self.location.clone()
    }

    /// The snapshots as `list --format json` shows them.
    fn snapshots(&self) -> Vec<serde_json::Value> {
        let out = assert_ok(&self.run(&["list", "--format", "json"]));
        serde_json::from_str(&out).unwrap()
    }

    /// Bytes of a local repository's files.
    fn size(&self) -> u64 {
        tree_size(Path::new(&self.location))
    }
}

fn tree_size(path: &Path) -> u64 {
    let meta = fs::symlink_metadata(path).unwrap();
    if !meta.is_dir() {
        return meta.len();
    }
    fs::read_dir(path)
        .unwrap()
        .map(|e| tree_size(&e.unwrap().path()))
        .sum()
}

/// A running instance holding `mib` MiB of random data and a file unique to the test.
fn instance_with_random(project: &TestProject, mib: u64) -> String {
    let name = unique_name("r");
    project.launch(&name);
    let script = format!(
        "head -c {} /dev/urandom > /root/big && echo {} > /root/data && chmod 600 /root/data && sync",
        mib * MIB,
        unique_name("precious")
    );
    project.run(&["exec", &name, "--", "sh", "-c", &script]);
    name
}

/// sha256 of every regular file under /root and /etc of `name` (started if needed), read
/// through the file API.
fn sums(project: &TestProject, name: &str) -> String {
    let state = project.run(&["list", name, "-c", "s", "-f", "csv"]);
    if !state.contains("RUNNING") {
        project.run(&["start", name]);
    }
    project.run(&[
        "exec",
        name,
        "--",
        "sh",
        "-c",
        "find /root /etc -type f | sort | xargs sha256sum > /tmp/sums; stat -c '%a %u %g %n' /root/data >> /tmp/sums",
    ]);
    let sums = project.run(&["file", "pull", &format!("{name}/tmp/sums"), "-"]);
    assert!(sums.contains("/root/big"), "{sums}");
    sums
}

#[test]
fn restic_reads_what_we_write_and_we_restore_what_restic_writes() {
    let Some(project) = TestProject::new("repo-restic") else {
        return;
    };
    let Some(other) = TestProject::new("repo-restic2") else {
        return;
    };
    let repo = Repo::local();
    let name = instance_with_random(&project, 8);
    let before = sums(&project, &name);
    let id = repo.create(&project, &name);

    // restic lists it, with our tags, and checks every byte.
    let listed = assert_ok(&repo.restic(&["snapshots", "--json"]));
    assert!(listed.contains(&id), "{listed}");
    assert!(listed.contains(&format!("instance={name}")), "{listed}");
    assert_ok(&repo.restic(&["check", "--read-data"]));

    // restic dump, piped into incus import, gives a working instance.
    let script = format!(
        "set -o pipefail; {BACKUP} key --repo '{loc}' > /dev/null && restic -r '{loc}' --no-cache --password-command \"{BACKUP} key --repo '{loc}'\" dump {id} {name}.tar | incus import --project '{p}' -",
        loc = repo.location,
        p = other.name()
    );
    let out = run_tool(
        Command::new("bash")
            .args(["-c", &script])
            .env("GNUPGHOME", repo.owner.home.path()),
    );
    assert_ok(&out);
    assert_eq!(sums(&other, &name), before);

    // Our restore of our snapshot, under a new name, gives back every byte.
    let restored = unique_name("back");
    let out = repo.run(&[
        "restore",
        &name,
        "--name",
        &restored,
        "--project",
        project.name(),
    ]);
    assert_eq!(assert_ok(&out), restored);
    assert_eq!(sums(&project, &restored).replace(&restored, &name), before);

    // A snapshot that restic wrote from an incus export restores by its ID alone.
    let script = format!(
        "set -o pipefail; incus export --project '{p}' {name} - --compression none --quiet | restic -r '{loc}' --no-cache --password-command \"{BACKUP} key --repo '{loc}'\" backup --stdin --stdin-filename exported.tar --json | tail -1",
        loc = repo.location,
        p = project.name()
    );
    let out = run_tool(
        Command::new("bash")
            .args(["-c", &script])
            .env("GNUPGHOME", repo.owner.home.path()),
    );
    let summary: serde_json::Value = serde_json::from_str(&assert_ok(&out)).unwrap();
    let theirs = summary["snapshot_id"].as_str().unwrap().to_owned();
    let again = unique_name("fromrestic");
    let out = repo.run(&[
        "restore",
        &format!("@{}", &theirs[..8]),
        "--name",
        &again,
        "--project",
        other.name(),
    ]);
    assert_eq!(assert_ok(&out), again);
    assert_eq!(sums(&other, &again).replace(&again, &name), before);
}

#[test]
fn unchanged_data_is_stored_once_across_runs_and_clones() {
    let Some(project) = TestProject::new("repo-dedup") else {
        return;
    };
    let repo = Repo::local();
    let name = instance_with_random(&project, 200);
    let empty = repo.size();
    repo.create(&project, &name);
    let first = repo.size() - empty;
    assert!(
        first > 150 * MIB,
        "the first snapshot holds the data: {first}"
    );

    repo.create(&project, &name);
    let second = repo.size() - empty - first;
    assert!(
        second <= 200 * MIB * 2 / 100,
        "an unchanged instance added {second} bytes (more than 2 % of 200 MiB)"
    );

    project.run(&[
        "exec",
        &name,
        "--",
        "sh",
        "-c",
        "dd if=/dev/urandom of=/root/big bs=1M count=10 seek=50 conv=notrunc 2>/dev/null && sync",
    ]);
    let before = repo.size();
    repo.create(&project, &name);
    let changed = repo.size() - before;
    assert!(
        changed <= 20 * MIB,
        "10 MiB changed added {changed} bytes (more than 20 MiB)"
    );

    // Five clones of one golden image, each backed up, in a repository of their own.
    project.run(&["stop", &name, "--force"]);
    project.run(&["snapshot", "create", &name, "pristine"]);
    let clones = Repo::local();
    let empty = clones.size();
    let mut one = 0;
    for i in 0..5 {
        let clone = format!("{name}-c{i}");
        project.run(&["copy", &format!("{name}/pristine"), &clone]);
        clones.create(&project, &clone);
        if i == 0 {
            one = clones.size() - empty;
        }
    }
    let all = clones.size() - empty;
    assert!(
        all * 10 <= one * 13,
        "five clones cost {all} bytes, more than 1.3 x one ({one})"
    );
    assert_eq!(clones.snapshots().len(), 5);
}

#[test]
fn a_flipped_byte_is_found_named_and_restores_nothing() {
    let Some(project) = TestProject::new("repo-flip") else {
        return;
    };
    let repo = Repo::local();
    let name = instance_with_random(&project, 6);
    let id = repo.create(&project, &name);
    assert_ok(&repo.run(&["verify", "--read-data"]));

    // The largest pack holds the data: one byte flipped in its middle.
    let pack = largest_file(&Path::new(&repo.location).join("data"));
    let mut bytes = fs::read(&pack).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    fs::write(&pack, bytes).unwrap();

    let out = repo.run(&["verify", "--read-data"]);
    let stderr = assert_failed_saying(&out, "is damaged");
    assert!(stderr.contains(&id[..8]), "the snapshot is named: {stderr}");
    // The structure alone still holds.
    assert_ok(&repo.run(&["verify"]));

    let before = project.instances();
    let out = repo.run(&[
        "restore",
        &name,
        "--name",
        "flipped",
        "--project",
        project.name(),
    ]);
    assert_failed_saying(&out, "nothing was restored");
    assert_eq!(project.instances(), before, "restore imported nothing");
}

fn largest_file(dir: &Path) -> PathBuf {
    let (path, _) = listing(dir)
        .into_iter()
        .max_by_key(|(_, size)| *size)
        .unwrap();
    PathBuf::from(path)
}

fn fingerprint(gpg: &Gpg) -> String {
    let listing = text(&gpg.ok(&["--with-colons", "--list-keys", &gpg.email]));
    listing
        .lines()
        .find_map(|line| line.strip_prefix("fpr:::::::::"))
        .map(|rest| rest.trim_end_matches(':').to_owned())
        .unwrap()
}

#[test]
fn only_recipients_open_it_and_key_remove_shuts_one_out() {
    let repo = Repo::local();
    let bob = Gpg::with_new_key();
    let bob_cert = bob.public_cert(bob.home.path());
    let alice_cert = repo.owner.public_cert(repo.dir.path());
    let as_bob = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend(["--signer", alice_cert.to_str().unwrap()]);
        repo.run_as(&bob, &all)
    };

    // Not a recipient: a clear error, nothing opened.
    let out = as_bob(&["list"]);
    assert_failed_saying(&out, "cannot open repository");

    // A new host with only the location and the owner's secret key in a file opens it.
    let secret = repo.owner.secret_key(repo.dir.path());
    let new_host = Gpg::with_new_key();
    let out = repo.run_as(&new_host, &["list", "--key-file", secret.to_str().unwrap()]);
    assert_ok(&out);

    // The printed password is what restic opens the repository with.
    let password = assert_ok(&repo.run(&["key"]));
    assert_eq!(password.len(), 64);
    assert_ok(&repo.restic(&["cat", "config"]));

    let bob_id = fingerprint(&bob);
    let out = repo.run(&[
        "key",
        "add",
        "--gpg",
        &bob_id,
        "--recipient-file",
        bob_cert.to_str().unwrap(),
    ]);
    assert_ok(&out);
    assert_ok(&as_bob(&["list"]));
    let new_password = assert_ok(&repo.run(&["key"]));
    assert_ne!(
        new_password, password,
        "a change of recipients seals a new password"
    );

    let keys = Path::new(&repo.location).join("keys");
    let sealed_to_bob: Vec<(String, Vec<u8>)> = listing(&keys)
        .into_iter()
        .map(|(path, _)| (path.clone(), fs::read(&path).unwrap()))
        .collect();
    let out = repo.run(&["key", "remove", "--gpg", &bob_id]);
    assert_ok(&out);
    assert_failed_saying(&as_bob(&["list"]), "cannot open repository");
    assert_ok(&repo.run(&["list"]));
    // The password bob could have kept opens nothing any more.
    let mut restic = Command::new("restic");
    restic
        .args(["-r", &repo.location, "--no-cache", "cat", "config"])
        .env("RESTIC_PASSWORD", &new_password);
    assert!(
        !run_tool(&mut restic).status.success(),
        "the old password still opens it"
    );

    // Removing the last recipient is refused.
    let owner = fingerprint(&repo.owner);
    assert_failed_saying(
        &repo.run(&["key", "remove", "--gpg", &owner]),
        "nobody able to open",
    );

    // A key file put back by someone who can write to the repository is older: the newest
    // sealed key is the one used.
    let newest = assert_ok(&repo.run(&["key"]));
    for (path, content) in &sealed_to_bob {
        fs::write(path, content).unwrap();
    }
    assert!(listing(&keys).len() > 1);
    assert_eq!(assert_ok(&repo.run(&["key"])), newest);
}

#[test]
fn prune_keeps_what_the_policy_says_and_restic_agrees() {
    let Some(project) = TestProject::new("repo-prune") else {
        return;
    };
    let repo = Repo::local();
    let name = instance_with_random(&project, 4);
    let mut ids = Vec::new();
    for round in 0..3 {
        let script = format!("head -c 2097152 /dev/urandom > /root/round{round}");
        project.run(&["exec", &name, "--", "sh", "-c", &script]);
        ids.push(repo.create(&project, &name));
    }
    let kept = ids.last().unwrap().clone();
    let kept_sums = sums(&project, &name);
    let files_before = listing(Path::new(&repo.location));

    let out = repo.run(&["prune", "--keep-last", "1", "--dry-run"]);
    let would = assert_ok(&out);
    assert_eq!(would.lines().count(), 2, "{would}");
    assert!(!would.contains(&kept));
    assert_eq!(
        listing(Path::new(&repo.location)),
        files_before,
        "--dry-run changed nothing"
    );

    let out = repo.run(&["prune"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "no policy is a usage error: {}",
        text(&out.stderr)
    );
    assert!(
        text(&out.stderr).contains("--keep-"),
        "{}",
        text(&out.stderr)
    );
    assert_ok(&repo.run(&["prune", "--keep-last", "1", "-q"]));
    let left: Vec<String> = repo
        .snapshots()
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(left, std::slice::from_ref(&kept));
    assert_ok(&repo.restic(&["check", "--read-data"]));
    let size_before = repo.size();
    assert_ok(&repo.run(&["prune", "--keep-last", "1", "--instant", "-q"]));
    assert!(repo.size() <= size_before);
    assert_ok(&repo.restic(&["check", "--read-data"]));

    let back = unique_name("kept");
    let out = repo.run(&[
        "restore",
        &format!("{name}@{}", &kept[..8]),
        "--name",
        &back,
        "--project",
        project.name(),
    ]);
    assert_eq!(assert_ok(&out), back);
    let restored = sums(&project, &back).replace(&back, &name);
    assert_eq!(restored, kept_sums);
    assert!(restored.contains("/root/round2"), "{restored}");
}

fn listing(dir: &Path) -> Vec<(String, u64)> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            match path.is_dir() {
                true => stack.push(path),
                false => files.push((
                    path.display().to_string(),
                    fs::metadata(&path).unwrap().len(),
                )),
            }
        }
    }
    files.sort();
    files
}

/// A free port on 127.0.0.1.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A server the test started; killed when dropped (and by `timeout` should the test die).
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn wait_for_port(port: u16) {
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "nothing listens on {port}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// OpenSSH's server on 127.0.0.1 with a host key and a client key made here; the client reaches
/// it through an `ssh` wrapper first in PATH that gives ssh a configuration of its own.
fn sftp_server(dir: &Path) -> (Server, Vec<(String, String)>, String) {
    let port = free_port();
    let keygen = |file: &str| {
        let out = Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-f"])
            .arg(dir.join(file))
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out.stderr));
    };
    keygen("host_key");
    keygen("client_key");
    fs::copy(dir.join("client_key.pub"), dir.join("authorized_keys")).unwrap();
    let config = format!(
        "Port {port}\nListenAddress 127.0.0.1\nHostKey {d}/host_key\nAuthorizedKeysFile {d}/authorized_keys\nPidFile {d}/sshd.pid\nStrictModes no\nUsePAM no\nPasswordAuthentication no\nPermitRootLogin prohibit-password\nSubsystem sftp internal-sftp\n",
        d = dir.display()
    );
    fs::write(dir.join("sshd_config"), config).unwrap();
    fs::create_dir_all("/run/sshd").unwrap();
    let server = Command::new("timeout")
        .args(["900", "/usr/sbin/sshd", "-D", "-e", "-f"])
        .arg(dir.join("sshd_config"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let host_key = fs::read_to_string(dir.join("host_key.pub")).unwrap();
    fs::write(
        dir.join("known_hosts"),
        format!("anklume-sftp-test {host_key}"),
    )
    .unwrap();
    let client = format!(
        "Host anklume-sftp-test\n  HostName 127.0.0.1\n  Port {port}\n  User root\n  IdentityFile {d}/client_key\n  IdentitiesOnly yes\n  HostKeyAlias anklume-sftp-test\n  UserKnownHostsFile {d}/known_hosts\n  StrictHostKeyChecking yes\n  BatchMode yes\n",
        d = dir.display()
    );
    fs::write(dir.join("ssh_config"), client).unwrap();
    let bin = dir.join("bin");
    fs::create_dir_all(&bin).unwrap();
    let wrapper = bin.join("ssh");
    let mut file = fs::File::create(&wrapper).unwrap();
    writeln!(
        file,
        "#!/bin/sh\nexec /usr/bin/ssh -F {}/ssh_config \"$@\"",
        dir.display()
    )
    .unwrap();
    drop(file);
    fs::set_permissions(
        &wrapper,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    wait_for_port(port);
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let location = format!("sftp:root@anklume-sftp-test:{}/repo", dir.display());
    (Server(server), vec![("PATH".to_owned(), path)], location)
}

/// `rclone serve restic` on 127.0.0.1, serving a folder here.
fn rest_server(dir: &Path) -> (Server, String) {
    let port = free_port();
    fs::create_dir_all(dir.join("rest")).unwrap();
    let server = Command::new("timeout")
        .args(["900", "rclone", "serve", "restic", "--addr"])
        .arg(format!("127.0.0.1:{port}"))
        .arg(dir.join("rest"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for_port(port);
    (Server(server), format!("rest:http://127.0.0.1:{port}/"))
}

/// create, list, verify --read-data, restore (every byte) and restic check through `repo`.
fn round_trip(repo: &Repo, project: &TestProject) {
    let name = instance_with_random(project, 4);
    let before = sums(project, &name);
    let id = repo.create(project, &name);
    let listed = repo.snapshots();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["id"], id.as_str());
    assert_eq!(listed[0]["instance"], name.as_str());
    assert_eq!(listed[0]["project"], project.name());
    assert_ok(&repo.run(&["verify", "--read-data", "-q"]));
    let back = unique_name("back");
    let out = repo.run(&[
        "restore",
        &name,
        "--name",
        &back,
        "--project",
        project.name(),
    ]);
    assert_eq!(assert_ok(&out), back);
    assert_eq!(sums(project, &back).replace(&back, &name), before);
    assert_ok(&repo.restic(&["check", "--read-data"]));
}

#[test]
fn sftp_and_rest_repositories_round_trip() {
    let Some(project) = TestProject::new("repo-remote") else {
        return;
    };
    let dir = ScratchDir::new("sftp");
    let (_sshd, env, location) = sftp_server(dir.path());
    let sftp = Repo::at(ScratchDir::new("sftp-cwd"), location, env);
    // restic reaches the same folder through its own sftp spelling and the same wrapper.
    round_trip(&sftp, &project);
    assert!(
        dir.path().join("repo/config").is_file(),
        "the repository is on the server"
    );

    let dir = ScratchDir::new("rest");
    let (_rclone, location) = rest_server(dir.path());
    let rest = Repo::at(ScratchDir::new("rest-cwd"), location, Vec::new());
    round_trip(&rest, &project);
    assert!(
        dir.path().join("rest/config").is_file(),
        "the repository is on the server"
    );
}

/// Sends `signal` to the tool once `ready` holds (polled), and returns its output.
fn interrupt_when(mut command: Command, signal: &str, ready: impl Fn() -> bool) -> Output {
    let child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while !ready() && started.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = Command::new("kill")
        .args([&format!("-{signal}"), &child.id().to_string()])
        .status();
    anklume_tests::finish(child)
}

#[test]
fn interrupted_creates_save_no_snapshot_and_interrupted_restores_import_nothing() {
    let Some(project) = TestProject::new("repo-signal") else {
        return;
    };
    let repo = Repo::local();
    let name = instance_with_random(&project, 150);
    let data = |repo: &Repo| tree_size(&Path::new(&repo.location).join("data"));
    for signal in ["INT", "TERM", "KILL"] {
        // Once new packs are being written, the export is under way.
        let before = data(&repo);
        let command = repo.command_as(&repo.owner, &["create", &name, "--project", project.name()]);
        let out = interrupt_when(command, signal, || data(&repo) > before);
        let expected = match signal {
            "INT" => Some(130),
            "TERM" => Some(143),
            _ => None,
        };
        assert_eq!(
            out.status.code(),
            expected,
            "{signal}: {}",
            text(&out.stderr)
        );
        assert!(repo.snapshots().is_empty(), "{signal} saved a snapshot");
        assert_ok(&repo.restic(&["check"]));
        if signal != "KILL" {
            let at = anklume_common::Located {
                remote: None,
                project: project.name().to_owned(),
                name: name.clone(),
            };
            let backups = project.incus().backups(&at).unwrap();
            assert!(
                backups.is_empty(),
                "{signal} left {backups:?} on the server"
            );
        }
    }

    let id = repo.create(&project, &name);
    let before = project.instances();
    let started = Instant::now();
    let command = repo.command_as(
        &repo.owner,
        &[
            "restore",
            &name,
            "--name",
            "halfway",
            "--project",
            project.name(),
        ],
    );
    let out = interrupt_when(command, "INT", || {
        started.elapsed() > Duration::from_millis(1500)
    });
    assert_eq!(out.status.code(), Some(130), "{}", text(&out.stderr));
    assert_eq!(
        project.instances(),
        before,
        "an interrupted restore imported something"
    );
    assert_eq!(repo.snapshots()[0]["id"], id.as_str());
}

#[test]
fn a_snapshot_put_under_another_name_restores_nothing() {
    let Some(project) = TestProject::new("repo-swap") else {
        return;
    };
    let repo = Repo::local();
    let web = instance_with_random(&project, 1);
    let db = instance_with_random(&project, 1);
    let web_id = repo.create(&project, &web);
    let db_id = repo.create(&project, &db);
    let before = project.instances();

    // An ID of another instance's snapshot is refused, not restored as that instance.
    let out = repo.run(&[
        "restore",
        &format!("{web}@{}", &db_id[..8]),
        "--name",
        "swapped",
        "--project",
        project.name(),
    ]);
    assert_failed_saying(&out, "another instance");

    // db's snapshot file under web's name: its content is not what the name says.
    let snapshots = Path::new(&repo.location).join("snapshots");
    fs::copy(snapshots.join(&db_id), snapshots.join(&web_id)).unwrap();
    let out = repo.run(&[
        "restore",
        &format!("@{}", &web_id[..8]),
        "--name",
        "swapped",
        "--project",
        project.name(),
    ]);
    assert_failed_saying(&out, "someone replaced it");
    assert_eq!(project.instances(), before, "nothing was restored");
}
