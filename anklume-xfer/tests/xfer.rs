//! anklume-xfer, the real binary against the real Incus daemon.

use std::process::{Command, Output, Stdio};
use std::time::Duration;

use anklume_tests::{
    LOOP_REMOTE, ScratchDir, TestProject, finish, run_tool, run_tool_with_input, unique_name,
};

const XFER: &str = env!("CARGO_BIN_EXE_anklume-xfer");

fn xfer(args: &[&str]) -> Output {
    run_tool(Command::new(XFER).args(args))
}

/// Runs anklume-xfer with `input` on its stdin.
fn xfer_with_input(args: &[&str], input: &[u8]) -> Output {
    run_tool_with_input(Command::new(XFER).args(args), input)
}

/// `anklume-xfer PULL... | anklume-xfer PUSH...`: both outputs.
fn pipe(pull: &[&str], push: &[&str]) -> (Output, Output) {
    let mut puller = Command::new(XFER)
        .args(pull)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stream = puller.stdout.take().unwrap();
    let pusher = Command::new(XFER)
        .args(push)
        .stdin(stream)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    (finish(puller), finish(pusher))
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

/// `sh -c script` in the instance; its stdout.
fn sh(project: &TestProject, name: &str, script: &str) -> String {
    project.run(&["exec", name, "--", "sh", "-c", script])
}

/// `ls -ln`-style facts of a path: type+mode, owner, group, size and mtime (seconds).
fn facts(project: &TestProject, name: &str, path: &str) -> String {
    sh(project, name, &format!("stat -c '%A %u %g %s %Y' {path}"))
        .trim()
        .to_owned()
}

/// A running instance in `project` named `prefix-xxxx`, with an empty `/srv`, returned.
fn running(project: &TestProject, prefix: &str) -> String {
    let name = unique_name(prefix);
    project.launch(&name);
    sh(project, &name, "mkdir -p /srv");
    name
}

#[test]
fn pull_writes_the_exact_bytes_and_push_writes_stdin_with_the_mode_and_owner_asked() {
    let Some(project) = TestProject::new("xfer-file") else {
        return;
    };
    let web = running(&project, "web");
    sh(
        &project,
        &web,
        "printf 'line 1\\nline 2\\n\\000end' > /root/data",
    );

    let pulled = xfer(&["pull", &format!("{web}:/root/data")]);
    assert_ok(&pulled);
    assert_eq!(pulled.stdout, b"line 1\nline 2\n\0end");

    let pushed = xfer_with_input(&["push", &format!("{web}:/root/plain")], b"plain\n");
    assert_ok(&pushed);
    assert!(pushed.stdout.is_empty(), "stdout carries data only");
    assert_eq!(sh(&project, &web, "cat /root/plain"), "plain\n");
    assert!(facts(&project, &web, "/root/plain").starts_with("-rw-r--r-- 0 0 6 "));

    let target = format!("{web}:/root/script");
    let args = [
        "push", &target, "--mode", "4750", "--uid", "12", "--gid", "34",
    ];
    assert_ok(&xfer_with_input(&args, b"#!/bin/sh\n"));
    assert!(facts(&project, &web, "/root/script").starts_with("-rwsr-x--- 12 34 10 "));
}

#[test]
fn copy_keeps_content_mode_owner_and_time_of_a_large_file_in_bounded_memory() {
    let Some(project) = TestProject::new("xfer-big") else {
        return;
    };
    let src = running(&project, "src");
    let dst = running(&project, "dst");
    sh(
        &project,
        &src,
        "dd if=/dev/urandom of=/root/big bs=1M count=128 2>/dev/null \
         && chown 12:34 /root/big && chmod 0755 /root/big \
         && touch -d '2020-01-02 03:04:05' /root/big",
    );
    // An existing directory receives the file under its own name, like cp.
    let child = Command::new(XFER)
        .args(["copy", &format!("{src}:/root/big"), &format!("{dst}:/srv")])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let peak = PeakRss::watch(child.id());
    let out = finish(child);
    assert_ok(&out);
    let peak_kib = peak.stop();
    assert!(peak_kib > 0, "the process was never seen running");
    assert!(
        peak_kib <= 64 * 1024,
        "peak RSS {peak_kib} KiB for a 128 MiB copy: memory is not bounded"
    );

    let sum = |name: &str, path: &str| {
        sh(&project, name, &format!("sha256sum {path}"))
            .split_whitespace()
            .next()
            .unwrap()
            .to_owned()
    };
    assert_eq!(sum(&src, "/root/big"), sum(&dst, "/srv/big"));
    assert_eq!(
        facts(&project, &dst, "/srv/big"),
        format!("-rwxr-xr-x 12 34 {} 1577934245", 128 * 1024 * 1024)
    );
}

/// The highest VmHWM (peak resident set) seen in /proc while a process runs.
struct PeakRss {
    stop: std::sync::mpsc::Sender<()>,
    watcher: std::thread::JoinHandle<u64>,
}

impl PeakRss {
    fn watch(pid: u32) -> Self {
        let (stop, stopped) = std::sync::mpsc::channel::<()>();
        let watcher = std::thread::spawn(move || {
            let mut peak = 0;
            loop {
                let status = std::fs::read_to_string(format!("/proc/{pid}/status"));
                let hwm = status.ok().and_then(|s| {
                    s.lines()
                        .find_map(|l| l.strip_prefix("VmHWM:"))
                        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
                });
                peak = peak.max(hwm.unwrap_or(0));
                if stopped.recv_timeout(Duration::from_millis(10)).is_ok() {
                    return peak;
                }
            }
        });
        Self { stop, watcher }
    }

    fn stop(self) -> u64 {
        let _ = self.stop.send(());
        self.watcher.join().unwrap()
    }
}

const TREE_SETUP: &str = "mkdir -p /srv/tree/private /srv/tree/empty \
    && echo hello > /srv/tree/hello && chown 12:34 /srv/tree/hello && chmod 0640 /srv/tree/hello \
    && echo secret > /srv/tree/private/key && chmod 0700 /srv/tree/private \
    && ln -s ../hello /srv/tree/private/link && ln -s /etc/hostname /srv/tree/absolute \
    && touch -d '2021-05-06 07:08:09' /srv/tree/hello /srv/tree/private";

/// Everything a copy must keep, one line per entry, as the instance sees it.
fn tree_listing(project: &TestProject, name: &str, root: &str) -> String {
    sh(
        project,
        name,
        &format!(
            "cd {root} && find . | sort | while read p; do \
             if [ -L \"$p\" ]; then echo \"$p -> $(readlink \"$p\")\"; \
             elif [ -d \"$p\" ]; then echo \"$p $(stat -c '%A %u %g' \"$p\")\"; \
             else echo \"$p $(stat -c '%A %u %g %Y' \"$p\") $(cat \"$p\")\"; fi; done"
        ),
    )
}

#[test]
fn a_directory_tree_with_symlinks_and_a_private_subdirectory_is_copied_whole() {
    let Some(project) = TestProject::new("xfer-tree") else {
        return;
    };
    let src = running(&project, "src");
    let dst = running(&project, "dst");
    sh(&project, &src, TREE_SETUP);
    let expected = tree_listing(&project, &src, "/srv/tree");
    assert!(expected.contains("./private drwx------ 0 0"), "{expected}");
    assert!(
        expected.contains("./private/link -> ../hello"),
        "{expected}"
    );

    // copy: DST does not exist, so it becomes the copy.
    let out = xfer(&[
        "copy",
        &format!("{src}:/srv/tree"),
        &format!("{dst}:/srv/copy"),
    ]);
    assert_ok(&out);
    assert_eq!(tree_listing(&project, &dst, "/srv/copy"), expected);
    // Again: now DST exists and receives the tree under its own name.
    let out = xfer(&[
        "copy",
        &format!("{src}:/srv/tree"),
        &format!("{dst}:/srv/copy"),
    ]);
    assert_ok(&out);
    assert_eq!(tree_listing(&project, &dst, "/srv/copy/tree"), expected);

    // pull -r | push -r, the documented pipeline.
    let (pulled, pushed) = pipe(
        &["pull", "-r", &format!("{src}:/srv/tree")],
        &["push", "-r", &format!("{dst}:/srv/piped")],
    );
    assert_ok(&pulled);
    assert_ok(&pushed);
    assert_eq!(tree_listing(&project, &dst, "/srv/piped"), expected);
}

#[test]
fn pull_r_is_a_tar_stream_that_gnu_tar_reads_and_push_r_takes_what_gnu_tar_writes() {
    let Some(project) = TestProject::new("xfer-tar") else {
        return;
    };
    let web = running(&project, "web");
    sh(&project, &web, TREE_SETUP);

    let out = xfer(&["pull", "-r", &format!("{web}:/srv/tree")]);
    assert_ok(&out);
    let scratch = ScratchDir::new("xfer-tar");
    let archive = scratch.path().join("tree.tar");
    std::fs::write(&archive, &out.stdout).unwrap();
    let listing = Command::new("tar")
        .args(["tvf", archive.to_str().unwrap(), "--numeric-owner"])
        .output()
        .unwrap();
    assert!(listing.status.success(), "{}", text(&listing.stderr));
    let listing = text(&listing.stdout);
    assert!(listing.contains("-rw-r----- 12/34"), "{listing}");
    assert!(listing.contains("2021-05-06 07:08"), "{listing}");
    assert!(listing.contains("private/link -> ../hello"), "{listing}");
    assert!(listing.contains("drwx------ 0/0"), "{listing}");

    // A single file gives a one-entry archive named after it.
    let out = xfer(&["pull", "-r", &format!("{web}:/srv/tree/hello")]);
    assert_ok(&out);
    let mut single = tar::Archive::new(&out.stdout[..]);
    let names: Vec<String> = single
        .entries()
        .unwrap()
        .map(|e| e.unwrap().path().unwrap().display().to_string())
        .collect();
    assert_eq!(names, ["hello"]);

    // What GNU tar writes, push -r extracts.
    let made = scratch.path().join("made");
    std::fs::create_dir_all(made.join("sub")).unwrap();
    std::fs::write(made.join("sub/file"), "from gnu tar\n").unwrap();
    let gnu = Command::new("tar")
        .args([
            "c",
            "--owner=7",
            "--group=8",
            "-C",
            made.to_str().unwrap(),
            ".",
        ])
        .output()
        .unwrap();
    assert!(gnu.status.success());
    let out = xfer_with_input(
        &["push", "-r", &format!("{web}:/srv/from-gnu")],
        &gnu.stdout,
    );
    assert_ok(&out);
    assert_eq!(
        sh(&project, &web, "cat /srv/from-gnu/sub/file"),
        "from gnu tar\n"
    );
    assert!(facts(&project, &web, "/srv/from-gnu/sub/file").contains(" 7 8 "));
}

#[test]
fn an_archive_cannot_write_outside_the_directory_it_is_extracted_into() {
    let Some(project) = TestProject::new("xfer-climb") else {
        return;
    };
    let web = running(&project, "web");
    sh(&project, &web, "mkdir /srv/in");
    let mut builder = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_gnu();
    header.set_size(4);
    header.set_mode(0o644);
    header.set_entry_type(tar::EntryType::Regular);
    // The tar crate refuses to write '..' itself: put the name in the raw header.
    header.as_old_mut().name[..14].copy_from_slice(b"../escaped.txt");
    header.set_cksum();
    builder.append(&header, &b"evil"[..]).unwrap();
    let stream = builder.into_inner().unwrap();

    let out = xfer_with_input(&["push", "-r", &format!("{web}:/srv/in")], &stream);
    assert_failed_saying(&out, 1, "climbs out of the destination");
    assert_eq!(sh(&project, &web, "ls /srv"), "in\n");
}

#[test]
fn a_stopped_container_can_be_read_and_written() {
    let Some(project) = TestProject::new("xfer-stopped") else {
        return;
    };
    let web = running(&project, "web");
    sh(
        &project,
        &web,
        "echo 'from a stopped container' > /root/note && chown 5:6 /root/note",
    );
    project.run(&["stop", &web]);

    let out = xfer(&["pull", &format!("{web}:/root/note")]);
    assert_ok(&out);
    assert_eq!(text(&out.stdout), "from a stopped container\n");

    let out = xfer_with_input(
        &["push", &format!("{web}:/root/reply")],
        b"written while stopped\n",
    );
    assert_ok(&out);
    let out = xfer(&["pull", "-r", &format!("{web}:/root/reply")]);
    assert_ok(&out);
    let mut archive = tar::Archive::new(&out.stdout[..]);
    let entry = archive.entries().unwrap().next().unwrap().unwrap();
    assert_eq!(entry.header().mode().unwrap(), 0o644);
    project.run(&["start", &web]);
    assert_eq!(
        sh(&project, &web, "cat /root/reply"),
        "written while stopped\n"
    );
}

#[test]
fn copy_works_across_projects_and_a_name_in_two_projects_needs_project() {
    let (Some(first), Some(second)) = (TestProject::new("xfer-p1"), TestProject::new("xfer-p2"))
    else {
        return;
    };
    let src = running(&first, "src");
    let dst = running(&second, "dst");
    sh(&first, &src, "echo across > /root/f && chown 3:4 /root/f");

    let out = xfer(&["copy", &format!("{src}:/root/f"), &format!("{dst}:/root/g")]);
    assert_ok(&out);
    assert_eq!(sh(&second, &dst, "cat /root/g"), "across\n");
    assert!(facts(&second, &dst, "/root/g").starts_with("-rw-r--r-- 3 4 "));

    // The same name in both projects: ambiguous until a project is named.
    let twin = unique_name("twin");
    first.launch(&twin);
    second.launch(&twin);
    sh(&second, &twin, "echo second > /root/which");
    let out = xfer(&["pull", &format!("{twin}:/root/which")]);
    assert_failed_saying(&out, 1, first.name());
    assert!(text(&out.stderr).contains(second.name()));
    assert!(text(&out.stderr).contains("--project"));
    let out = xfer(&[
        "pull",
        &format!("{twin}:/root/which"),
        "--project",
        second.name(),
    ]);
    assert_ok(&out);
    assert_eq!(text(&out.stdout), "second\n");

    let out = xfer(&[
        "copy",
        &format!("{twin}:/root/which"),
        &format!("{twin}:/root/copied"),
        "--src-project",
        second.name(),
        "--dst-project",
        first.name(),
    ]);
    assert_ok(&out);
    assert_eq!(sh(&first, &twin, "cat /root/copied"), "second\n");
}

#[test]
fn a_remote_prefix_goes_through_that_remote() {
    let Some(project) = TestProject::new("xfer-remote") else {
        return;
    };
    let web = running(&project, "web");
    sh(&project, &web, "echo far away > /root/far");

    let out = xfer(&["pull", &format!("{LOOP_REMOTE}:{web}:/root/far")]);
    assert_ok(&out);
    assert_eq!(text(&out.stdout), "far away\n");

    let out = xfer(&[
        "copy",
        &format!("{LOOP_REMOTE}:{web}:/root/far"),
        &format!("{web}:/root/near"),
    ]);
    assert_ok(&out);
    assert_eq!(sh(&project, &web, "cat /root/near"), "far away\n");

    let out = xfer(&["pull", "nosuchremote:web:/etc/hostname"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
}

#[test]
fn each_error_names_its_culprit_and_changes_nothing() {
    let Some(project) = TestProject::new("xfer-errors") else {
        return;
    };
    let web = running(&project, "web");
    sh(
        &project,
        &web,
        "mkdir /srv/dir && echo keep > /root/existing",
    );
    let ghost = unique_name("ghost");

    let out = xfer(&["pull", &format!("{ghost}:/etc/hostname")]);
    assert_failed_saying(&out, 1, &format!("instance '{ghost}' not found"));

    let out = xfer(&["pull", &format!("{web}:/no/such/file")]);
    assert_failed_saying(
        &out,
        1,
        &format!("{web}:/no/such/file: no such file or directory"),
    );
    assert!(out.stdout.is_empty());

    let out = xfer(&["pull", &format!("{web}:/srv/dir")]);
    assert_failed_saying(&out, 1, "it is a directory");
    assert!(text(&out.stderr).contains("-r"));

    let out = xfer_with_input(&["push", &format!("{web}:/srv/dir")], b"x");
    assert_failed_saying(&out, 1, "it is a directory");

    let out = xfer_with_input(&["push", &format!("{web}:/no/parent/file")], b"x");
    assert_failed_saying(&out, 1, "directory /no/parent does not exist");

    let out = xfer(&[
        "copy",
        &format!("{web}:/srv/dir"),
        &format!("{web}:/srv/dir/inside"),
    ]);
    assert_failed_saying(&out, 1, "into itself");

    // A bad source never truncates an existing destination.
    let out = xfer(&[
        "copy",
        &format!("{web}:/root/missing"),
        &format!("{web}:/root/existing"),
    ]);
    assert_failed_saying(&out, 1, "/root/missing: no such file or directory");
    assert_eq!(sh(&project, &web, "cat /root/existing"), "keep\n");

    // Usage errors: exit 2 before anything runs.
    let out = xfer(&["pull", &format!("{web}:relative/path")]);
    assert_failed_saying(&out, 2, "must be absolute");
    let out = xfer(&["pull", "no-path-here"]);
    assert_eq!(out.status.code(), Some(2));
    let out = xfer(&["push", &format!("{web}:/root/x"), "--mode", "999"]);
    assert_failed_saying(&out, 2, "octal mode");

    // Nothing was left behind: no partial or hidden file.
    assert_eq!(sh(&project, &web, "ls -A /root"), "existing\n");
}

#[test]
fn an_interrupted_push_leaves_the_destination_untouched() {
    let Some(project) = TestProject::new("xfer-partial") else {
        return;
    };
    let web = running(&project, "web");
    sh(&project, &web, "echo original > /root/target");
    // A producer that dies mid-stream: push gets a read error, not a clean end of stdin.
    let mut producer = Command::new("sh")
        .args(["-c", "head -c 100000 /dev/zero; sleep 30"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stream = producer.stdout.take().unwrap();
    let pusher = Command::new(XFER)
        .args(["push", &format!("{web}:/root/target")])
        .stdin(stream)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(800));
    let _ = Command::new("kill")
        .args(["-INT", &pusher.id().to_string()])
        .status();
    let out = finish(pusher);
    let _ = producer.kill();
    let _ = producer.wait();
    assert_eq!(out.status.code(), Some(130), "{}", text(&out.stderr));
    assert_eq!(sh(&project, &web, "cat /root/target"), "original\n");
    assert_eq!(sh(&project, &web, "ls -A /root"), "target\n");
}

#[test]
fn a_file_the_container_may_not_read_is_permission_denied() {
    let Some(project) = TestProject::new("xfer-denied") else {
        return;
    };
    let web = running(&project, "web");
    // A host directory shared without id shifting: its root-owned 0600 file belongs to an
    // owner the container cannot map, so even the container's root may not read it.
    let shared = ScratchDir::new("xfer-denied");
    let secret = shared.write("secret", "host only\n");
    std::fs::set_permissions(&secret, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let source = shared.path().to_string_lossy().into_owned();
    project.run(&[
        "config",
        "device",
        "add",
        &web,
        "shared",
        "disk",
        &format!("source={source}"),
        "path=/mnt/shared",
    ]);
    let out = xfer(&["pull", &format!("{web}:/mnt/shared/secret")]);
    assert_failed_saying(
        &out,
        1,
        &format!("{web}:/mnt/shared/secret: permission denied"),
    );
    assert!(out.stdout.is_empty());

    let out = xfer(&[
        "copy",
        &format!("{web}:/mnt/shared/secret"),
        &format!("{web}:/root/copy"),
    ]);
    assert_failed_saying(&out, 1, "permission denied");
    assert_eq!(sh(&project, &web, "ls -A /root"), "");
}

/// Runs `program args...` with a terminal as its stdout (through util-linux's `script`); what
/// it said.
fn on_terminal(program: &str, args: &[&str]) -> (Option<i32>, String) {
    let line = std::iter::once(program)
        .chain(args.iter().copied())
        .map(|w| format!("'{w}'"))
        .collect::<Vec<_>>()
        .join(" ");
    let out = Command::new("script")
        .args(["-qec", &line, "/dev/null"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    (out.status.code(), text(&out.stdout))
}

#[test]
fn binary_output_to_a_terminal_is_refused_unless_forced() {
    // Refused before anything is opened: no instance is needed to see it.
    let (code, said) = on_terminal(XFER, &["pull", "-r", "nosuch:/etc"]);
    assert_eq!(code, Some(1), "{said}");
    assert!(
        said.contains("refusing to write a tar stream to a terminal"),
        "{said}"
    );
    assert!(said.contains("--force"), "{said}");
    let Some(project) = TestProject::new("xfer-tty") else {
        return;
    };
    let name = unique_name("tty");
    project.launch(&name);
    sh(
        &project,
        &name,
        "printf 'a\\0b' > /root/bin && echo hello > /root/text",
    );
    let at = |path: &str| format!("{name}:{path}");
    let p = project.name();
    let (code, said) = on_terminal(XFER, &["pull", &at("/root/bin"), "--project", p]);
    assert_eq!(code, Some(1), "{said}");
    assert!(said.contains("binary file"), "{said}");
    let (code, said) = on_terminal(XFER, &["pull", &at("/root/text"), "--project", p]);
    assert_eq!(code, Some(0), "{said}");
    assert!(said.contains("hello"), "{said}");
    let (code, _) = on_terminal(XFER, &["pull", &at("/root/bin"), "--project", p, "--force"]);
    assert_eq!(code, Some(0));
}

#[test]
fn push_p_makes_the_parents_and_hints_can_be_pasted() {
    let Some(project) = TestProject::with_odd_name("xfer-p") else {
        return;
    };
    let name = unique_name("par");
    project.launch(&name);
    let p = project.name();
    let dst = format!("{name}:/srv/a/b/c.txt");
    let out = xfer_with_input(&["push", &dst, "--project", p], b"x");
    assert_failed_saying(&out, 1, "does not exist");
    assert!(
        text(&out.stderr).contains("-p (--parents)"),
        "{}",
        text(&out.stderr)
    );
    assert_ok(&xfer_with_input(
        &["push", "-p", &dst, "--project", p],
        b"x",
    ));
    assert_eq!(sh(&project, &name, "cat /srv/a/b/c.txt"), "x");
    assert_eq!(
        facts(&project, &name, "/srv/a/b").split(' ').next(),
        Some("drwxr-xr-x")
    );

    // copy's hint is a command that runs as it is, odd project name included.
    let out = xfer(&[
        "copy",
        "--src-project",
        p,
        "--dst-project",
        p,
        &dst,
        &format!("{name}:/srv/x/y/c.txt"),
    ]);
    let stderr = text(&out.stderr);
    let hint = stderr
        .lines()
        .find_map(|l| l.strip_prefix("hint: create it first: "))
        .unwrap_or_else(|| panic!("{stderr}"));
    let ran = Command::new("bash").args(["-c", hint]).output().unwrap();
    assert!(ran.status.success(), "{hint}: {}", text(&ran.stderr));
    let out = xfer(&[
        "copy",
        "--src-project",
        p,
        "--dst-project",
        p,
        &dst,
        &format!("{name}:/srv/x/y/c.txt"),
    ]);
    assert_ok(&out);
}

#[test]
fn a_host_path_is_sent_to_push_and_pull() {
    let out = xfer(&["copy", "/etc/hosts", "web:/root/"]);
    assert_failed_saying(&out, 2, "is a path on this host");
    assert!(text(&out.stderr).contains("anklume-xfer push INSTANCE:/PATH < FILE"));
}

/// On a terminal, copies of a file and of a tree, and a push from a regular file, show a
/// progress line with the total, a percentage and an ETA; `-q` and a stderr that is not a
/// terminal show none.
#[test]
fn progress_shows_percentage_and_eta_on_a_terminal_only() {
    let Some(project) = TestProject::new("xfer-progress") else {
        return;
    };
    let name = unique_name("prog");
    project.launch(&name);
    sh(
        &project,
        &name,
        "mkdir -p /root/tree/sub && head -c 3000000 /dev/urandom > /root/tree/sub/big && echo x > /root/tree/small",
    );
    let p = project.name();
    let at = |path: &str| format!("{name}:{path}");
    let shows_progress = |said: &str, what: &str| {
        assert!(said.contains(what), "{said}");
        assert!(said.contains("100%") && said.contains("ETA"), "{said}");
        assert!(said.contains("2.9 MiB"), "the total: {said}");
    };
    let (code, said) = on_terminal(XFER, &["copy", &at("/root/tree/sub/big"), &at("/root/one")]);
    assert_eq!(code, Some(0), "{said}");
    shows_progress(&said, &format!("copying {}", at("/root/tree/sub/big")));
    let (code, said) = on_terminal(XFER, &["copy", &at("/root/tree"), &at("/root/copied")]);
    assert_eq!(code, Some(0), "{said}");
    shows_progress(&said, &format!("copying {}", at("/root/tree")));
    assert_eq!(
        sh(
            &project,
            &name,
            "cmp /root/tree/sub/big /root/copied/sub/big && echo same"
        ),
        "same\n"
    );

    let local = ScratchDir::new("xfer-progress");
    let file = local.path().join("upload");
    std::fs::write(&file, vec![7u8; 3_000_000]).unwrap();
    let line = format!(
        "'{XFER}' push '{}' --project '{p}' < '{}'",
        at("/root/pushed"),
        file.display()
    );
    let out = Command::new("script")
        .args(["-qec", &line, "/dev/null"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let said = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{said}");
    shows_progress(&said, &format!("pushing to {}", at("/root/pushed")));

    let (code, said) = on_terminal(XFER, &["-q", "copy", &at("/root/tree"), &at("/root/quiet")]);
    assert_eq!(code, Some(0), "{said}");
    assert!(!said.contains("copying"), "-q: {said}");
    let out = xfer(&["copy", &at("/root/tree"), &at("/root/piped")]);
    assert_ok(&out);
    assert_eq!(text(&out.stderr), "", "not a terminal");
}
