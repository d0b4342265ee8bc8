//! anklume-xfer: files between Incus instances and pipes, streaming, never touching the host's
//! disk.
//!
//! Every transfer goes through the instance's SFTP endpoint (see [`anklume_common::sftp`]): it
//! carries owners, modes, times and exact symlinks, and works on stopped containers and remotes.

mod cli;
pub mod receive;
pub mod tree;

use std::io::{self, BufWriter, IsTerminal, Read, Write};

use anklume_common::error::{refuse_binary_on_terminal, shell_word};
use anklume_common::progress::{self, Progress};
use anklume_common::pump::{PumpError, pump};
use anklume_common::sftp::{Attrs, Kind};
use anklume_common::{
    ApiProxy, Error, Interrupt, InterruptibleReader, Located, PathRef, Resolver, Result, Session,
    Sftp, temp,
};

pub use cli::{Cli, Command, CopyArgs, PullArgs, PushArgs};
use receive::SftpSink;
use tree::{Meta, Sink, TarSink, join, read_tar, shown, walk};

/// Runs the command line; the exit status on success is 0.
/// `-q`: errors only.
static QUIET: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

fn quiet() -> bool {
    QUIET.load(std::sync::atomic::Ordering::Relaxed)
}

/// A note on stderr (`anklume-xfer: ...`), unless `-q`.
pub(crate) fn note(message: &str) {
    if !quiet() {
        eprintln!("anklume-xfer: {message}");
    }
}

/// A progress line for `action` (`copying ux-a:/srv`), on a terminal and without `-q` only.
fn progress(action: &str, total: Option<u64>) -> Progress {
    Progress::new(shown(action), total, quiet())
}

/// Walks the tree at `path` into `sink`, counting its bytes on a progress line whose total,
/// when the line shows, comes from a first listing of the tree.
fn walk_counted(
    sftp: &mut Sftp,
    (path, attrs): (&str, &Attrs),
    sink: &mut dyn Sink,
    action: &str,
    interrupt: &Interrupt,
) -> Result<()> {
    let mut line = progress(action, None);
    if line.is_visible() {
        line.set_total(tree::total_size(sftp, path, interrupt)?);
    }
    let mut counted = tree::Counted {
        inner: sink,
        progress: line,
    };
    walk(sftp, path, "", attrs, &mut counted, interrupt)?;
    counted.progress.finish();
    Ok(())
}

pub fn run(cli: &Cli) -> Result<u8> {
    QUIET.store(cli.quiet, std::sync::atomic::Ordering::Relaxed);
    let session = Session::start()?;
    let (resolver, interrupt) = (&session.resolver, &session.interrupt);
    let done = match &cli.command {
        Command::Pull(args) => pull(resolver, interrupt, args),
        Command::Push(args) => push(resolver, interrupt, args),
        Command::Copy(args) => copy(resolver, interrupt, args),
    };
    session.conclude(done)?;
    Ok(0)
}

/// An instance's files, ready to use. The proxy is dropped after the session it carries.
struct Endpoint {
    located: Located,
    proxy: ApiProxy,
}

impl Endpoint {
    /// Finds the instance's project and starts the API proxy, both at once: each takes a call
    /// to `incus`.
    fn open(resolver: &Resolver, reference: &PathRef, project: Option<&str>) -> Result<Self> {
        let incus = resolver.incus().clone();
        let remote = reference.instance.remote.clone();
        std::thread::scope(|scope| {
            let proxy = scope.spawn(move || ApiProxy::start(&incus, remote.as_deref()));
            let located = resolver.locate(&reference.instance, project);
            let proxy = proxy
                .join()
                .unwrap_or_else(|_| Err(Error::failure("the API proxy thread panicked")));
            Ok(Self {
                located: located?,
                proxy: proxy?,
            })
        })
    }

    fn session(&self, interrupt: &Interrupt) -> Result<Sftp> {
        Sftp::open(&self.proxy, &self.located, Some(interrupt.clone()))
    }
}

fn pull(resolver: &Resolver, interrupt: &Interrupt, args: &PullArgs) -> Result<()> {
    if args.archive {
        refuse_binary_on_terminal("a tar stream", args.force)?;
    }
    let endpoint = Endpoint::open(resolver, &args.source, args.project.as_deref())?;
    let mut sftp = endpoint.session(interrupt)?;
    let path = args.source.path.as_str();
    let attrs = existing(&mut sftp, "pull", path)?;
    let stdout = io::stdout().lock();
    if args.archive {
        let root = match attrs.kind() {
            Kind::Directory => ".",
            _ => file_name(path),
        };
        let mut sink = TarSink::new(BufWriter::with_capacity(64 * 1024, stdout), root);
        let action = format!("pulling {}:{path}", sftp.label());
        walk_counted(&mut sftp, (path, &attrs), &mut sink, &action, interrupt)?;
        sink.finish()?;
        return sink.into_inner()?.flush().map_err(Error::stdout);
    }
    match attrs.kind() {
        Kind::File => {}
        Kind::Directory => return Err(is_a_directory(&sftp, path, "pull")),
        _ => return Err(not_a_file(&sftp, path)),
    }
    let label = format!("{}:{path}", sftp.label());
    let mut file = sftp.open_read(path)?;
    // Not over the data itself when both go to the terminal.
    let line = match io::stdout().is_terminal() {
        true => Progress::new("", None, true),
        false => progress(&format!("pulling {label}"), attrs.size),
    };
    let mut reader = line.reader(&mut file);
    let mut stdout = stdout;
    // A file that is not text (a NUL in its first 8 KiB) is binary, as for grep and less.
    let mut head = Vec::with_capacity(8192);
    (&mut reader)
        .take(8192)
        .read_to_end(&mut head)
        .map_err(|e| tree::named(e, || format!("cannot read {label}")))?;
    if head.contains(&0) {
        refuse_binary_on_terminal(&format!("binary file {label}"), args.force)?;
    }
    stdout.write_all(&head).map_err(Error::stdout)?;
    pump(&mut reader, &mut stdout, None, None).map_err(|e| match e {
        PumpError::Read(e) => tree::named(e, || format!("cannot read {label}")),
        PumpError::Write(e) => Error::stdout(e),
        PumpError::Interrupted(signal) => Error::interrupted(signal),
    })?;
    stdout.flush().map_err(Error::stdout)?;
    drop(reader);
    file.close()
}

fn push(resolver: &Resolver, interrupt: &Interrupt, args: &PushArgs) -> Result<()> {
    let endpoint = Endpoint::open(resolver, &args.destination, args.project.as_deref())?;
    let mut sftp = endpoint.session(interrupt)?;
    let path = args.destination.path.as_str();
    if args.parents {
        make_parents(&mut sftp, path)?;
    }
    require_parent(&mut sftp, path, "push to")?;
    let action = format!("pushing to {}:{path}", sftp.label());
    let stdin = InterruptibleReader::spawn(io::stdin(), interrupt);
    let mut stdin = progress(&action, progress::stdin_size()).reader(stdin);
    if args.archive {
        let mut sink = SftpSink::new(&mut sftp, path, args.keep_setid)?;
        return read_tar(stdin, &mut sink, interrupt);
    }
    if let Some(attrs) = sftp.lstat(path)?
        && attrs.kind() == Kind::Directory
    {
        return Err(is_a_directory(&sftp, path, "push to"));
    }
    let attrs = Attrs {
        uid: Some(args.uid.unwrap_or(0)),
        gid: Some(args.gid.unwrap_or(0)),
        mode: Some(args.mode.unwrap_or(0o644)),
        ..Attrs::default()
    };
    write_atomically(&mut sftp, path, &attrs, &mut stdin, "stdin", interrupt)
}

fn copy(resolver: &Resolver, interrupt: &Interrupt, args: &CopyArgs) -> Result<()> {
    let source = Endpoint::open(resolver, &args.source, args.src_project.as_deref())?;
    // One proxy per remote: both ends on the same one share it.
    let destination_proxy;
    let (destination, dst_proxy) = if args.destination.instance.remote
        == args.source.instance.remote
    {
        let located = resolver.locate(&args.destination.instance, args.dst_project.as_deref())?;
        (located, &source.proxy)
    } else {
        let endpoint = Endpoint::open(resolver, &args.destination, args.dst_project.as_deref())?;
        destination_proxy = endpoint.proxy;
        (endpoint.located, &destination_proxy)
    };
    let mut src = source.session(interrupt)?;
    let mut dst = Sftp::open(dst_proxy, &destination, Some(interrupt.clone()))?;
    let src_path = args.source.path.as_str();
    let attrs = existing(&mut src, "copy", src_path)?;
    let (target, existing_target) =
        copy_target(&mut dst, args.destination.path.as_str(), src_path)?;
    let ends = Ends {
        src: &mut src,
        dst: &mut dst,
        src_path,
        target: &target,
        keep_setid: args.keep_setid,
    };
    match attrs.kind() {
        Kind::File => copy_file(ends, &attrs, existing_target, interrupt),
        Kind::Directory => {
            let same_instance = source.located == destination;
            copy_tree(ends, &attrs, existing_target, same_instance, interrupt)
        }
        _ => Err(not_a_file(&src, src_path)),
    }
}

/// The two sides of a copy.
struct Ends<'a> {
    src: &'a mut Sftp,
    dst: &'a mut Sftp,
    src_path: &'a str,
    /// Where the copy goes on the destination.
    target: &'a str,
    /// Whether setuid and setgid bits arrive too.
    keep_setid: bool,
}

/// Like cp: an existing directory receives the source under its own name. Returns the target
/// path and what is there now.
fn copy_target(dst: &mut Sftp, dst_path: &str, src_path: &str) -> Result<(String, Option<Attrs>)> {
    let into_directory =
        matches!(dst.stat(dst_path)?, Some(found) if found.kind() == Kind::Directory);
    let target = if into_directory {
        join(dst_path, file_name(src_path))
    } else {
        require_parent(dst, dst_path, "copy to")?;
        dst_path.trim_end_matches('/').to_owned()
    };
    let existing = dst.lstat(&target)?;
    Ok((target, existing))
}

fn copy_file(
    ends: Ends,
    attrs: &Attrs,
    existing: Option<Attrs>,
    interrupt: &Interrupt,
) -> Result<()> {
    let (src_path, target) = (ends.src_path, ends.target);
    if existing.is_some_and(|found| found.kind() == Kind::Directory) {
        return Err(Error::failure(format!(
            "cannot copy {}:{src_path} to {}:{target}: a directory is in the way",
            ends.src.label(),
            ends.dst.label()
        )));
    }
    let source_name = format!("{}:{src_path}", ends.src.label());
    let mut file = ends.src.open_read(ends.src_path)?;
    let mut reader = progress(&format!("copying {source_name}"), attrs.size).reader(&mut file);
    let mut meta = Meta::from_attrs(attrs);
    if !ends.keep_setid && meta.mode & 0o6000 != 0 {
        note(&format!(
            "{target}: setuid/setgid bits dropped (--keep-setid keeps them)"
        ));
        meta.mode &= !0o6000;
    }
    let keep = meta.attrs();
    write_atomically(
        ends.dst,
        ends.target,
        &keep,
        &mut reader,
        &source_name,
        interrupt,
    )?;
    drop(reader);
    file.close()
}

fn copy_tree(
    ends: Ends,
    attrs: &Attrs,
    existing: Option<Attrs>,
    same_instance: bool,
    interrupt: &Interrupt,
) -> Result<()> {
    let (src_path, target) = (ends.src_path, ends.target);
    if existing.is_some_and(|found| found.kind() != Kind::Directory) {
        return Err(Error::failure(format!(
            "cannot copy directory {}:{src_path} onto {}:{target}: it is not a directory",
            ends.src.label(),
            ends.dst.label()
        )));
    }
    if same_instance && is_within(ends.target, ends.src_path) {
        return Err(Error::failure(format!(
            "cannot copy {}:{src_path} into itself ({target})",
            ends.src.label()
        )));
    }
    let mut sink = SftpSink::new(ends.dst, ends.target, ends.keep_setid)?;
    let action = format!("copying {}:{src_path}", ends.src.label());
    walk_counted(ends.src, (src_path, attrs), &mut sink, &action, interrupt)?;
    sink.finish()
}

/// Writes `content` to `path` so that `path` is either untouched or complete: into a hidden
/// file beside it, given `attrs`, then renamed over it. Any failure removes the hidden file.
fn write_atomically(
    sftp: &mut Sftp,
    path: &str,
    attrs: &Attrs,
    content: &mut dyn Read,
    source_name: &str,
    interrupt: &Interrupt,
) -> Result<()> {
    let (parent, name) = split(path);
    let hidden = join(
        parent,
        &format!(".{name}.anklume-{}", temp::unique_suffix()),
    );
    let label = sftp.label().to_owned();
    // Errors name the file the user asked for, not the hidden one.
    let named = |e: Error| e.reworded(|message| message.replace(&hidden, path));
    let mut writer = sftp.create(&hidden, 0o600).map_err(named)?;
    // Owner and mode go on the open file (FSETSTAT), never through a path that may have been
    // swapped for a link meanwhile.
    let outcome = tree::copy(content, &mut writer, source_name, &label, path)
        .and_then(|_| writer.finish_with_attrs(attrs))
        .and_then(|()| interrupt.check())
        .and_then(|()| sftp.rename(&hidden, path));
    if outcome.is_err() {
        let _ = sftp.remove(&hidden);
    }
    outcome.map_err(named)
}

/// The attributes of `path` (symlinks followed), which must exist.
fn existing(sftp: &mut Sftp, action: &str, path: &str) -> Result<Attrs> {
    sftp.stat(path)?.ok_or_else(|| {
        Error::failure(format!(
            "cannot {action} {}:{path}: no such file or directory",
            sftp.label()
        ))
    })
}

/// `path`'s parent directory must exist: nothing creates missing parents silently.
fn require_parent(sftp: &mut Sftp, path: &str, action: &str) -> Result<()> {
    let (parent, _) = split(path);
    match sftp.stat(parent)? {
        Some(attrs) if attrs.kind() == Kind::Directory => Ok(()),
        Some(_) => Err(Error::failure(format!(
            "cannot {action} {}:{path}: {parent} is not a directory",
            sftp.label()
        ))),
        None => Err(Error::failure(format!(
            "cannot {action} {}:{path}: directory {parent} does not exist",
            sftp.label()
        ))
        .with_hint(match action {
            "push to" => "pass -p (--parents) to create it".to_owned(),
            _ => format!(
                "create it first: incus exec --project {} {} -- mkdir -p {}",
                shell_word(sftp.project()),
                shell_word(sftp.label()),
                shell_word(parent)
            ),
        })),
    }
}

/// Creates the missing directories above `path` (0755), as `mkdir -p` does.
fn make_parents(sftp: &mut Sftp, path: &str) -> Result<()> {
    let (parent, _) = split(path);
    let mut prefix = String::new();
    for part in parent.split('/').filter(|p| !p.is_empty()) {
        prefix = format!("{prefix}/{part}");
        match sftp.stat(&prefix)? {
            Some(attrs) if attrs.kind() == Kind::Directory => {}
            Some(_) => {
                return Err(Error::failure(format!(
                    "cannot create {}:{prefix}: it exists and is not a directory",
                    sftp.label()
                )));
            }
            None => sftp.mkdir(&prefix, 0o755)?,
        }
    }
    Ok(())
}

fn is_a_directory(sftp: &Sftp, path: &str, action: &str) -> Error {
    let hint = if action == "pull" {
        format!(
            "use -r for a tar stream of the directory: anklume-xfer pull -r {}:{path} | tar t",
            sftp.label()
        )
    } else {
        format!(
            "use -r to extract a tar stream into it, or name a file inside it: {}:{}/NAME",
            sftp.label(),
            path.trim_end_matches('/')
        )
    };
    Error::failure(format!(
        "cannot {action} {}:{path}: it is a directory",
        sftp.label()
    ))
    .with_hint(hint)
}

fn not_a_file(sftp: &Sftp, path: &str) -> Error {
    Error::failure(format!(
        "cannot transfer {}:{path}: not a regular file or directory",
        sftp.label()
    ))
}

/// (parent, name) of an absolute path; trailing slashes ignored.
fn split(path: &str) -> (&str, &str) {
    let trimmed = path.trim_end_matches('/');
    match trimmed.rfind('/') {
        Some(0) => ("/", &trimmed[1..]),
        Some(at) => (&trimmed[..at], &trimmed[at + 1..]),
        None => ("/", trimmed),
    }
}

fn file_name(path: &str) -> &str {
    split(path).1
}

/// Whether `path` is `dir` or below it.
fn is_within(path: &str, dir: &str) -> bool {
    let dir = dir.trim_end_matches('/');
    let path = path.trim_end_matches('/');
    path == dir || dir.is_empty() || path.starts_with(&format!("{dir}/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_split_into_parent_and_name() {
        assert_eq!(split("/etc/hostname"), ("/etc", "hostname"));
        assert_eq!(split("/etc/"), ("/", "etc"));
        assert_eq!(split("/srv"), ("/", "srv"));
    }

    #[test]
    fn a_directory_contains_itself_and_its_descendants_only() {
        assert!(is_within("/srv/a", "/srv/a"));
        assert!(is_within("/srv/a/b", "/srv/a/"));
        assert!(!is_within("/srv/ab", "/srv/a"));
        assert!(is_within("/anything", "/"));
    }
}
