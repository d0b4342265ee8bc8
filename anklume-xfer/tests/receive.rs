//! The receiving side against hostile senders: `push -r` of tar streams that try to write
//! through symbolic links (made by the same stream, or found in place) or to hard-link files
//! they did not write, on the real daemon; and setuid bits that arrive only when asked for.

use std::process::{Command, Output};

use anklume_tests::{TestProject, run_tool_with_input, unique_name};

const XFER: &str = env!("CARGO_BIN_EXE_anklume-xfer");

/// One entry of a tar stream made for a test.
enum Entry<'a> {
    Dir(&'a str),
    /// A directory with setgid, group-writable (2775).
    SharedDir(&'a str),
    File(&'a str, &'a [u8], u32),
    Symlink(&'a str, &'a str),
    HardLink(&'a str, &'a str),
}

fn tar_of(entries: &[Entry]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for entry in entries {
        let mut header = tar::Header::new_gnu();
        header.set_mtime(1_600_000_000);
        header.set_uid(0);
        header.set_gid(0);
        let (path, kind, data, mode): (&str, tar::EntryType, &[u8], u32) = match entry {
            Entry::Dir(path) => (path, tar::EntryType::Directory, b"", 0o755),
            Entry::SharedDir(path) => (path, tar::EntryType::Directory, b"", 0o2775),
            Entry::File(path, data, mode) => (path, tar::EntryType::Regular, data, *mode),
            Entry::Symlink(path, target) | Entry::HardLink(path, target) => {
                header.set_link_name(target).unwrap();
                let kind = if matches!(entry, Entry::Symlink(..)) {
                    tar::EntryType::Symlink
                } else {
                    tar::EntryType::Link
                };
                (path, kind, b"", 0o777)
            }
        };
        header.set_entry_type(kind);
        header.set_mode(mode);
        header.set_size(data.len() as u64);
        builder.append_data(&mut header, path, data).unwrap();
    }
    builder.into_inner().unwrap()
}

fn push(target: &str, stream: &[u8], extra: &[&str]) -> Output {
    let mut command = Command::new(XFER);
    command.args(["push", "-r", target]).args(extra);
    run_tool_with_input(&mut command, stream)
}

fn sh(project: &TestProject, name: &str, script: &str) -> String {
    project.run(&["exec", name, "--", "sh", "-c", script])
}

/// Everything outside the destinations, with sizes: what a hostile stream must not change.
fn outside(project: &TestProject, name: &str) -> String {
    let skip = r"\( -path /srv -o -path /proc -o -path /sys -o -path /dev -o -path /tmp \)";
    let script = format!("find / -xdev {skip} -prune -o -print | sort | xargs ls -ld --");
    sh(project, name, &script)
}

#[test]
fn entries_through_links_and_foreign_hard_links_are_refused() {
    let Some(project) = TestProject::new("xfer-hostile") else {
        return;
    };
    let vic = unique_name("vic");
    project.launch(&vic);
    sh(
        &project,
        &vic,
        "mkdir -p /srv/pre-d /srv/pre-f && ln -s /root /srv/pre-d/pre && ln -s /etc /srv/pre-f/pre2",
    );
    let before = outside(&project, &vic);
    use Entry::*;
    let cases: Vec<(&str, Vec<Entry>, &str)> = vec![
        (
            "four",
            vec![
                Symlink("evil", "/root"),
                File("evil/pwned", b"owned\n", 0o644),
                Symlink("rel", "../../etc"),
                File("rel/pwned2", b"x\n", 0o644),
            ],
            "evil/pwned",
        ),
        (
            "abs",
            vec![
                Symlink("evil", "/root"),
                File("evil/pwned", b"owned\n", 0o644),
            ],
            "evil/pwned",
        ),
        (
            "rel",
            vec![
                Symlink("rel", "../../etc"),
                File("rel/pwned2", b"x\n", 0o644),
            ],
            "rel/pwned2",
        ),
        (
            "chain",
            vec![
                Symlink("a", "b"),
                Symlink("b", "/root"),
                File("a/pwned3", b"x\n", 0o644),
            ],
            "a/pwned3",
        ),
        (
            "dir-below",
            vec![
                Symlink("d", "/etc"),
                Dir("d/cron.d"),
                File("d/cron.d/x", b"x", 0o644),
            ],
            "d/cron.d",
        ),
        (
            "pre-d",
            vec![File("pre/pwned4", b"x\n", 0o644)],
            "pre/pwned4",
        ),
        (
            "pre-f",
            vec![Dir("pre2"), File("pre2/pwned5", b"x\n", 0o644)],
            "pre2",
        ),
        ("hard", vec![HardLink("hl", "etc/passwd")], "hl"),
        ("hard-abs", vec![HardLink("hl", "/etc/shadow")], "hl"),
    ];
    for (dir, entries, named) in cases {
        let target = format!("{vic}:/srv/{dir}");
        let out = push(&target, &tar_of(&entries), &[]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{dir}: {stderr}");
        assert!(
            stderr.contains(&format!("refusing entry '{named}'")),
            "{dir}: {stderr}"
        );
    }
    // Not assert_eq: the listing is long; which line differs is found by hand.
    let after = outside(&project, &vic);
    assert!(after == before, "a hostile stream wrote outside /srv");
    // Nothing of the refused entries landed inside either, and no link of theirs was made.
    let inside = sh(
        &project,
        &vic,
        "find /srv -name 'pwned*' -o -name hl -o -name evil",
    );
    assert_eq!(inside, "", "refused entries were written");
}

/// `copy` of a tree receives as `push -r` does: a link left below the destination by an earlier
/// transfer is not written through.
#[test]
fn copy_of_a_tree_never_writes_through_a_link_in_place() {
    let Some(project) = TestProject::new("xfer-copy-link") else {
        return;
    };
    let (src, dst) = (unique_name("src"), unique_name("dst"));
    project.launch(&src);
    project.launch(&dst);
    sh(
        &project,
        &src,
        "mkdir -p /srv/tree/sub && echo x > /srv/tree/sub/authorized_keys",
    );
    sh(
        &project,
        &dst,
        "mkdir -p /srv/in/tree && ln -s /root /srv/in/tree/sub",
    );
    let mut command = Command::new(XFER);
    command.args([
        "copy",
        &format!("{src}:/srv/tree"),
        &format!("{dst}:/srv/in"),
    ]);
    let out = anklume_tests::run_tool(&mut command);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("refusing entry 'sub'"), "{stderr}");
    assert_eq!(sh(&project, &dst, "ls -A /root"), "");
}

#[test]
fn links_of_a_legitimate_stream_arrive_after_the_entries_and_hard_links_work() {
    let Some(project) = TestProject::new("xfer-links") else {
        return;
    };
    let vic = unique_name("vic");
    project.launch(&vic);
    sh(&project, &vic, "mkdir /srv");
    use Entry::*;
    let stream = tar_of(&[
        Dir("tree"),
        File("tree/file", b"content\n", 0o640),
        HardLink("tree/again", "tree/file"),
        Symlink("tree/rel", "file"),
        Symlink("tree/abs", "/etc/os-release"),
        Symlink("tree/up", ".."),
    ]);
    let out = push(&format!("{vic}:/srv/in"), &stream, &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listing = sh(
        &project,
        &vic,
        "cd /srv/in/tree && stat -c '%n %h' file again && readlink rel && readlink abs && readlink up && cat rel",
    );
    assert_eq!(
        listing,
        "file 2\nagain 2\nfile\n/etc/os-release\n..\ncontent\n"
    );
}

#[test]
fn setuid_bits_arrive_only_with_keep_setid() {
    let Some(project) = TestProject::new("xfer-setid") else {
        return;
    };
    let vic = unique_name("vic");
    project.launch(&vic);
    sh(&project, &vic, "mkdir /srv");
    let stream = tar_of(&[Entry::File("tool", b"#!/bin/sh\n", 0o4755)]);
    let out = push(&format!("{vic}:/srv/plain"), &stream, &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("--keep-setid"));
    let out = push(&format!("{vic}:/srv/kept"), &stream, &["--keep-setid"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let modes = sh(
        &project,
        &vic,
        "stat -c '%a' /srv/plain/tool /srv/kept/tool",
    );
    assert_eq!(modes, "755\n4755\n");
}

/// A later entry replaces an earlier one (as `tar --append` streams need), in a fresh
/// destination too; a directory that was there keeps its owner and mode, and a directory's
/// setgid bit arrives only with --keep-setid.
#[test]
fn later_entries_replace_earlier_ones_and_existing_directories_keep_their_owner() {
    let Some(project) = TestProject::new("xfer-replace") else {
        return;
    };
    let vic = unique_name("vic");
    project.launch(&vic);
    sh(
        &project,
        &vic,
        "mkdir -p /srv/in/sub && chmod 0750 /srv/in /srv/in/sub",
    );
    use Entry::*;
    let stream = tar_of(&[
        Dir("."),
        Dir("sub"),
        File("f", b"first\n", 0o644),
        File("f", b"second\n", 0o644),
        File("g", b"file\n", 0o644),
        Symlink("g", "f"),
        Dir("new"),
        File("new/h", b"1\n", 0o644),
        File("new/h", b"2\n", 0o600),
        SharedDir("shared"),
    ]);
    let out = push(&format!("{vic}:/srv/in"), &stream, &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let seen = sh(
        &project,
        &vic,
        "cd /srv/in && cat f new/h && readlink g && stat -c '%a %n' . sub new/h shared",
    );
    assert_eq!(
        seen,
        "second\n2\nf\n750 .\n750 sub\n600 new/h\n775 shared\n"
    );
}
