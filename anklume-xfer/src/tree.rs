//! A file or directory tree moving from a source (an instance, a tar stream) to a sink (an
//! instance, a tar stream), entry by entry, parents before children, never held whole.

use std::io::{self, Read, Write};

use anklume_common::progress::Progress;
use anklume_common::pump::{PumpError, pump};
use anklume_common::sftp::{Attrs, Kind, Sftp};
use anklume_common::{Error, Interrupt, Result};

/// What is kept of every entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Meta {
    /// Permission bits, setuid, setgid and sticky included.
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    /// Seconds since the epoch.
    pub mtime: u64,
}

impl Meta {
    pub fn from_attrs(attrs: &Attrs) -> Self {
        Self {
            mode: attrs.permissions(),
            uid: attrs.uid.unwrap_or(0),
            gid: attrs.gid.unwrap_or(0),
            mtime: attrs.mtime.map_or(0, u64::from),
        }
    }

    /// The same, as SFTP attributes to set.
    pub fn attrs(&self) -> Attrs {
        Attrs {
            uid: Some(self.uid),
            gid: Some(self.gid),
            mode: Some(self.mode),
            mtime: Some(u32::try_from(self.mtime).unwrap_or(u32::MAX)),
            ..Attrs::default()
        }
    }
}

/// Where entries go. `rel` is the entry's path below the tree's root ("" for the root itself),
/// with `/` separators and no `.` or `..`.
pub trait Sink {
    fn dir(&mut self, rel: &str, meta: &Meta) -> Result<()>;
    fn file(&mut self, rel: &str, meta: &Meta, size: u64, content: &mut dyn Read) -> Result<()>;
    fn symlink(&mut self, rel: &str, meta: &Meta, target: &str) -> Result<()>;
    /// A second name for the file already written at `existing`.
    fn hard_link(&mut self, rel: &str, existing: &str) -> Result<()>;
    /// Called once every entry is in.
    fn finish(&mut self) -> Result<()>;
}

/// Says on stderr that an entry was left out, and why.
pub fn warn_skipped(what: &str, why: &str) {
    eprintln!("anklume-xfer: skipped {}: {why}", shown(what));
}

/// A name the sender chose, as it may be printed (no escape sequence reaches the terminal).
pub use anklume_common::error::terminal_safe as shown;

/// A single path component: not empty, `.` or `..`, without `/` or NUL.
pub fn is_plain_name(name: &str) -> bool {
    !matches!(name, "" | "." | "..") && !name.contains(['/', '\0'])
}

/// `root`'s path for entry `rel`.
pub fn join(root: &str, rel: &str) -> String {
    match (rel.is_empty(), root.ends_with('/')) {
        (true, _) => root.to_owned(),
        (false, true) => format!("{root}{rel}"),
        (false, false) => format!("{root}/{rel}"),
    }
}

/// The relative path of entry `name` in directory `rel`.
fn child(rel: &str, name: &str) -> String {
    if rel.is_empty() {
        name.to_owned()
    } else {
        format!("{rel}/{name}")
    }
}

/// Sends the tree at `path` of `sftp` (whose attributes are `attrs`) into `sink` as `rel`.
pub fn walk(
    sftp: &mut Sftp,
    path: &str,
    rel: &str,
    attrs: &Attrs,
    sink: &mut dyn Sink,
    interrupt: &Interrupt,
) -> Result<()> {
    interrupt.check()?;
    let meta = Meta::from_attrs(attrs);
    match attrs.kind() {
        Kind::Directory => {
            sink.dir(rel, &meta)?;
            for (name, entry) in sftp.read_dir(path)? {
                // The source's server chose these names (for a VM, its guest agent does).
                if !is_plain_name(&name) {
                    return Err(Error::failure(format!(
                        "refusing entry {:?} of {}:{path}: not a plain file name",
                        name,
                        sftp.label()
                    )));
                }
                walk(
                    sftp,
                    &join(path, &name),
                    &child(rel, &name),
                    &entry,
                    sink,
                    interrupt,
                )?;
            }
            Ok(())
        }
        Kind::File => {
            let size = attrs.size.unwrap_or(0);
            let mut reader = sftp.open_read(path)?;
            sink.file(rel, &meta, size, &mut reader)?;
            reader.close()
        }
        Kind::Symlink => {
            let target = sftp.read_link(path)?;
            sink.symlink(rel, &meta, &target)
        }
        Kind::Other => {
            warn_skipped(
                &format!("{}:{path}", sftp.label()),
                "not a file, directory or symlink",
            );
            Ok(())
        }
    }
}

/// Reads a tar stream into `sink`.
pub fn read_tar(input: impl Read, sink: &mut dyn Sink, interrupt: &Interrupt) -> Result<()> {
    let bad = |e: io::Error| Error::io("cannot read the tar stream on stdin", e);
    let mut archive = tar::Archive::new(input);
    for entry in archive.entries().map_err(bad)? {
        interrupt.check()?;
        let mut entry = entry.map_err(bad)?;
        let raw_path = entry.path().map_err(bad)?.to_string_lossy().into_owned();
        let rel = relative(&raw_path)?;
        let header = entry.header();
        let meta = Meta {
            mode: header.mode().map_err(bad)? & 0o7777,
            uid: header.uid().map_err(bad)?.try_into().unwrap_or(u32::MAX),
            gid: header.gid().map_err(bad)?.try_into().unwrap_or(u32::MAX),
            mtime: header.mtime().map_err(bad)?,
        };
        let kind = header.entry_type();
        let link = |entry: &tar::Entry<_>| -> Result<String> {
            let name = entry.link_name().map_err(bad)?;
            let name = name.ok_or_else(|| {
                Error::failure(format!("bad tar stream: link '{raw_path}' has no target"))
            })?;
            Ok(name.to_string_lossy().into_owned())
        };
        match kind {
            tar::EntryType::Directory => sink.dir(&rel, &meta)?,
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                let size = entry.size();
                sink.file(&rel, &meta, size, &mut entry)?;
            }
            tar::EntryType::Symlink => sink.symlink(&rel, &meta, &link(&entry)?)?,
            tar::EntryType::Link => sink.hard_link(&rel, &relative(&link(&entry)?)?)?,
            other => warn_skipped(
                &raw_path,
                &format!("tar entries of type {other:?} are not copied"),
            ),
        }
    }
    sink.finish()
}

/// An archive member's path below the root: `./a/b`, `a/b/` and `/a/b` give `a/b`; `.` gives "".
/// `..` is refused: an archive must not write outside the directory it is extracted into.
fn relative(path: &str) -> Result<String> {
    let mut parts = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                return Err(Error::failure(format!(
                    "refusing tar entry '{path}': it climbs out of the destination with '..'"
                )));
            }
            part => parts.push(part),
        }
    }
    Ok(parts.join("/"))
}

/// Writes entries as a tar stream (GNU format, numeric owners), like `tar c -C DIR .`.
pub struct TarSink<W: Write> {
    builder: tar::Builder<W>,
    /// The name of the root entry: "." for a directory, the file's name for a file.
    root: String,
}

impl<W: Write> TarSink<W> {
    pub fn new(output: W, root: &str) -> Self {
        let mut builder = tar::Builder::new(output);
        builder.mode(tar::HeaderMode::Complete);
        Self {
            builder,
            root: root.to_owned(),
        }
    }

    fn header(meta: &Meta, kind: tar::EntryType, size: u64) -> tar::Header {
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(kind);
        header.set_mode(meta.mode);
        header.set_uid(meta.uid.into());
        header.set_gid(meta.gid.into());
        header.set_mtime(meta.mtime);
        header.set_size(size);
        header
    }

    fn name(&self, rel: &str) -> String {
        if rel.is_empty() {
            self.root.clone()
        } else {
            format!("{}/{rel}", self.root)
        }
    }

    pub fn into_inner(self) -> Result<W> {
        self.builder.into_inner().map_err(write_error)
    }
}

/// The tar stream goes to stdout: a reader that stops early (`| head`) ends us quietly.
fn write_error(e: io::Error) -> Error {
    Error::stdout(e)
}

impl<W: Write> Sink for TarSink<W> {
    fn dir(&mut self, rel: &str, meta: &Meta) -> Result<()> {
        let mut header = Self::header(meta, tar::EntryType::Directory, 0);
        let name = format!("{}/", self.name(rel));
        self.builder
            .append_data(&mut header, name, io::empty())
            .map_err(write_error)
    }

    fn file(&mut self, rel: &str, meta: &Meta, size: u64, content: &mut dyn Read) -> Result<()> {
        let mut header = Self::header(meta, tar::EntryType::Regular, size);
        let mut exact = ExactSize::new(content, size);
        let name = self.name(rel);
        self.builder
            .append_data(&mut header, &name, &mut exact)
            .map_err(|e| match exact.read_error.take() {
                Some(read) => Error::failure(format!("cannot read '{name}': {read}")),
                None => write_error(e),
            })?;
        if exact.changed {
            eprintln!("anklume-xfer: warning: '{name}' changed size while being read");
        }
        Ok(())
    }

    fn symlink(&mut self, rel: &str, meta: &Meta, target: &str) -> Result<()> {
        let mut header = Self::header(meta, tar::EntryType::Symlink, 0);
        self.builder
            .append_link(&mut header, self.name(rel), target)
            .map_err(write_error)
    }

    fn hard_link(&mut self, rel: &str, existing: &str) -> Result<()> {
        let mut header = Self::header(
            &Meta {
                mode: 0o644,
                uid: 0,
                gid: 0,
                mtime: 0,
            },
            tar::EntryType::Link,
            0,
        );
        self.builder
            .append_link(&mut header, self.name(rel), self.name(existing))
            .map_err(write_error)
    }

    fn finish(&mut self) -> Result<()> {
        self.builder.finish().map_err(write_error)
    }
}

/// Yields exactly `size` bytes: a file that grew is cut, one that shrank is padded with zeros,
/// so that the tar header written before the content stays true.
struct ExactSize<'a> {
    inner: &'a mut dyn Read,
    left: u64,
    changed: bool,
    read_error: Option<io::Error>,
}

impl<'a> ExactSize<'a> {
    fn new(inner: &'a mut dyn Read, size: u64) -> Self {
        Self {
            inner,
            left: size,
            changed: false,
            read_error: None,
        }
    }
}

impl Read for ExactSize<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.left == 0 {
            if !self.changed && self.inner.read(&mut [0u8])? > 0 {
                self.changed = true;
            }
            return Ok(0);
        }
        let want = buf
            .len()
            .min(usize::try_from(self.left).unwrap_or(usize::MAX));
        let n = match self.inner.read(&mut buf[..want]) {
            Ok(0) => {
                self.changed = true;
                buf[..want].fill(0);
                want
            }
            Ok(n) => n,
            Err(e) => {
                let kind = e.kind();
                self.read_error = Some(e);
                return Err(kind.into());
            }
        };
        self.left -= n as u64;
        Ok(n)
    }
}

/// Copies `content` (named `source_name` in messages) into file `path` of instance `label`,
/// telling a failure to read from a failure to write.
pub fn copy(
    content: &mut dyn Read,
    writer: &mut dyn Write,
    source_name: &str,
    label: &str,
    path: &str,
) -> Result<u64> {
    pump(content, writer, None, None).map_err(|e| match e {
        PumpError::Read(e) => named(e, || format!("cannot read {source_name}")),
        PumpError::Write(e) => named(e, || format!("cannot write {label}:{path}")),
        PumpError::Interrupted(signal) => Error::interrupted(signal),
    })
}

/// A failed read or write, in `context`. The readers and writers of an instance's files name
/// their file in their own error, which is kept as it is.
pub fn named(e: io::Error, context: impl FnOnce() -> String) -> Error {
    match e.get_ref().and_then(|inner| inner.downcast_ref::<Error>()) {
        Some(named) => Error::failure(named.message()),
        None => Error::io(context(), e),
    }
}

/// A sink that counts the bytes of the files it passes on to `inner` into one progress line.
pub struct Counted<'a> {
    pub inner: &'a mut dyn Sink,
    pub progress: Progress,
}

impl Sink for Counted<'_> {
    fn dir(&mut self, rel: &str, meta: &Meta) -> Result<()> {
        self.inner.dir(rel, meta)
    }

    fn file(&mut self, rel: &str, meta: &Meta, size: u64, content: &mut dyn Read) -> Result<()> {
        let mut counting = CountingReader {
            inner: content,
            progress: &mut self.progress,
        };
        self.inner.file(rel, meta, size, &mut counting)
    }

    fn symlink(&mut self, rel: &str, meta: &Meta, target: &str) -> Result<()> {
        self.inner.symlink(rel, meta, target)
    }

    fn hard_link(&mut self, rel: &str, existing: &str) -> Result<()> {
        self.inner.hard_link(rel, existing)
    }

    fn finish(&mut self) -> Result<()> {
        self.progress.finish();
        self.inner.finish()
    }
}

struct CountingReader<'a, 'b> {
    inner: &'a mut dyn Read,
    progress: &'b mut Progress,
}

impl Read for CountingReader<'_, '_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.progress.advance(n as u64);
        Ok(n)
    }
}

/// The bytes of the regular files under `path` (a directory), for a progress line's total:
/// one listing of each directory, as the copy itself does.
pub fn total_size(sftp: &mut Sftp, path: &str, interrupt: &Interrupt) -> Result<u64> {
    interrupt.check()?;
    let mut total = 0;
    for (name, entry) in sftp.read_dir(path)? {
        match entry.kind() {
            Kind::File => total += entry.size.unwrap_or(0),
            Kind::Directory if is_plain_name(&name) => {
                total += total_size(sftp, &join(path, &name), interrupt)?;
            }
            _ => (),
        }
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn archive_paths_are_made_relative_and_never_climb_out() {
        assert_eq!(relative("./a/b").unwrap(), "a/b");
        assert_eq!(relative("a/b/").unwrap(), "a/b");
        assert_eq!(relative("/a//b").unwrap(), "a/b");
        assert_eq!(relative(".").unwrap(), "");
        assert_eq!(relative("./").unwrap(), "");
        assert!(relative("a/../../etc/passwd").is_err());
        assert!(relative("..").is_err());
    }

    #[test]
    fn joining_handles_the_root_itself_and_slash() {
        assert_eq!(join("/srv", ""), "/srv");
        assert_eq!(join("/srv", "a/b"), "/srv/a/b");
        assert_eq!(join("/", "etc"), "/etc");
    }

    #[test]
    fn exact_size_cuts_growth_and_pads_shrinkage() {
        let mut long: &[u8] = b"abcdef";
        let mut out = Vec::new();
        let mut exact = ExactSize::new(&mut long, 3);
        exact.read_to_end(&mut out).unwrap();
        assert_eq!(out, b"abc");
        assert!(exact.changed);

        let mut short: &[u8] = b"ab";
        let mut out = Vec::new();
        let mut exact = ExactSize::new(&mut short, 4);
        exact.read_to_end(&mut out).unwrap();
        assert_eq!(out, b"ab\0\0");
        assert!(exact.changed);
    }

    #[test]
    fn a_tar_stream_round_trips_entries_and_metadata() {
        let meta = Meta {
            mode: 0o750,
            uid: 12,
            gid: 34,
            mtime: 1_700_000_000,
        };
        let mut sink = TarSink::new(Vec::new(), ".");
        sink.dir("", &meta).unwrap();
        sink.file("f", &meta, 2, &mut &b"hi"[..]).unwrap();
        sink.symlink("l", &meta, "../f").unwrap();
        sink.finish().unwrap();
        let stream = sink.into_inner().unwrap();

        let mut seen = Recorder::default();
        read_tar(&stream[..], &mut seen, &Interrupt::default()).unwrap();
        assert_eq!(
            seen.0,
            [
                "dir  750 12:34 1700000000",
                "file f 750 12:34 1700000000 hi",
                "link l -> ../f",
                "finish",
            ]
        );
    }

    #[derive(Default)]
    struct Recorder(Vec<String>);

    impl Sink for Recorder {
        fn dir(&mut self, rel: &str, m: &Meta) -> Result<()> {
            self.0.push(format!(
                "dir {rel} {:o} {}:{} {}",
                m.mode, m.uid, m.gid, m.mtime
            ));
            Ok(())
        }
        fn file(&mut self, rel: &str, m: &Meta, _: u64, content: &mut dyn Read) -> Result<()> {
            let mut text = String::new();
            content.read_to_string(&mut text).unwrap();
            self.0.push(format!(
                "file {rel} {:o} {}:{} {} {text}",
                m.mode, m.uid, m.gid, m.mtime
            ));
            Ok(())
        }
        fn symlink(&mut self, rel: &str, _: &Meta, target: &str) -> Result<()> {
            self.0.push(format!("link {rel} -> {target}"));
            Ok(())
        }
        fn hard_link(&mut self, rel: &str, existing: &str) -> Result<()> {
            self.0.push(format!("hard {rel} => {existing}"));
            Ok(())
        }
        fn finish(&mut self) -> Result<()> {
            self.0.push("finish".into());
            Ok(())
        }
    }
}
