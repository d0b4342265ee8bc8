//! `create`: `incus export` streamed through encryption into a file that appears only when
//! complete.

use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{self, BufWriter, Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use anklume_common::error::{refuse_binary_on_terminal, warn};
use anklume_common::progress::{Progress, human_size};
use anklume_common::pump::{PumpError, pump};
use anklume_common::{Error, Export, Interrupt, InterruptibleReader, Located, Result, Session};
use sequoia_openpgp::Cert;

use crate::cli::CreateArgs;
use crate::sign::{self, SigningKey};
use crate::{crypto, read_passphrase, warn_if_exposed};
use zeroize::Zeroizing;

pub fn create(session: &Session, args: &CreateArgs) -> Result<()> {
    if output_dir(args).as_os_str() == "-" {
        refuse_binary_on_terminal("a backup", args.force)?;
    }
    if !args.signer.is_empty() {
        return Err(
            Error::usage("--signer applies to --repo, not to backup files")
                .with_hint("a backup file is signed with --sign-with"),
        );
    }
    let located = session
        .resolver
        .locate(&args.instance, args.project.as_deref())?;
    // Keys are checked before anything starts: a wrong recipient costs no export.
    let sealing = Sealing::load(args)?;
    if !sealing.encrypts() && !args.quiet {
        warn(
            &Error::failure(format!(
                "warning: the backup of {located} is not encrypted: it holds the instance in clear"
            ))
            .with_hint("encrypt it with --gpg ID (or --passphrase-file FILE)"),
        );
    }
    let target = match named_file(args)? {
        Some((dir, name)) => {
            check_name(&name, &sealing)?;
            Target::open(&dir, &name, args.force, false)?
        }
        None => {
            let stamp = chrono::Local::now().format("%Y%m%d-%H%M%S");
            let file_name = format!(
                "{}-{stamp}.{}{}",
                located.name,
                compression(args).extension(),
                if sealing.encrypts() { ".gpg" } else { "" }
            );
            Target::open(&output_dir(args), &file_name, args.force, true)?
        }
    };
    let incus = session.incus().uninterruptible();
    let before = incus.backups(&located)?;
    let exported = export_into(session, &located, args, &sealing, &target)
        .and_then(|bytes| session.interrupt.check().map(|()| bytes));
    let bytes = match exported {
        Ok(bytes) => bytes,
        Err(error) => {
            incus.remove_new_backups(&located, &before);
            return Err(error);
        }
    };
    let what = sealing.describe();
    let saved = target.commit()?;
    let place = saved
        .as_ref()
        .map_or("stdout".to_owned(), |path| path.display().to_string());
    if !args.quiet {
        eprintln!(
            "anklume-backup: backed up {located} to {place} ({}, {what})",
            human_size(bytes)
        );
    }
    if let Some(path) = saved {
        println!("{}", path.display());
    }
    Ok(())
}

/// `--compression`, else the one `-o FILE` names, else zstd.
fn compression(args: &CreateArgs) -> crate::Compression {
    let named = named_file(args)
        .ok()
        .flatten()
        .and_then(|(_, name)| compression_of(&name));
    args.compression
        .or(named)
        .unwrap_or(crate::Compression::Zstd)
}

const ALL_COMPRESSIONS: [crate::Compression; 4] = [
    crate::Compression::Zstd,
    crate::Compression::Gzip,
    crate::Compression::Xz,
    crate::Compression::None,
];

/// The compression a backup file's name says (`.tar.zst`, `.tar.gz`, `.tar.xz`, `.tar`, each
/// with or without `.gpg`); `None` for any other name.
fn compression_of(name: &str) -> Option<crate::Compression> {
    let plain = name.strip_suffix(".gpg").unwrap_or(name);
    ALL_COMPRESSIONS.into_iter().find(|c| {
        plain.len() > c.extension().len() + 1 && plain.ends_with(&format!(".{}", c.extension()))
    })
}

/// `-o FILE` when FILE is named as a backup file: its directory and name. `-o DIR` (and `-`)
/// keep their meaning.
fn named_file(args: &CreateArgs) -> Result<Option<(PathBuf, String)>> {
    let Some(output) = &args.output else {
        return Ok(None);
    };
    let Some(name) = output.file_name().and_then(|n| n.to_str()) else {
        return Ok(None);
    };
    if output.is_dir() || compression_of(name).is_none() {
        return Ok(None);
    }
    if let (Some(given), Some(named)) = (args.compression, compression_of(name))
        && given != named
    {
        return Err(Error::usage(format!(
            "-o {} names a .{} file, but --compression is {}",
            output.display(),
            named.extension(),
            given.incus_name()
        )));
    }
    let dir = match output.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    };
    Ok(Some((dir, name.to_owned())))
}

/// A file named `.gpg` must be encrypted, and an encrypted one named so.
fn check_name(name: &str, sealing: &Sealing) -> Result<()> {
    match (name.ends_with(".gpg"), sealing.encrypts()) {
        (true, false) => Err(Error::usage(format!(
            "{name} is named as an encrypted backup, but nothing encrypts it"
        ))
        .with_hint("give --gpg ID (or --passphrase-file FILE), or a name without .gpg")),
        (false, true) => Err(Error::usage(format!(
            "{name} would hold an encrypted backup: name it {name}.gpg"
        ))),
        _ => Ok(()),
    }
}

/// `-o DIR`, else `ANKLUME_BACKUP_DIR`, else `backups`.
fn output_dir(args: &CreateArgs) -> PathBuf {
    args.output
        .clone()
        .or_else(|| {
            std::env::var_os("ANKLUME_BACKUP_DIR")
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        })
        .unwrap_or_else(|| "backups".into())
}

/// Who may open the backup: certificates and a passphrase (neither: not encrypted); and
/// the key that signs it, taken by the encryption when it starts.
struct Sealing {
    recipients: Vec<Cert>,
    passphrase: Option<Zeroizing<String>>,
    signer: Mutex<Option<SigningKey>>,
    /// `FINGERPRINT (user ID)` of the signer, for messages.
    signed_by: Option<String>,
}

impl Sealing {
    fn load(args: &CreateArgs) -> Result<Self> {
        let recipients = if args.recipients.is_empty() && args.recipient_file.is_empty() {
            Vec::new()
        } else {
            crypto::load_recipients(&args.recipient_file, &args.recipients)
                .map_err(|e| Error::failure(e.to_string()))?
        };
        for file in &args.key_file {
            warn_if_exposed(file, "key file");
        }
        let passphrase = args
            .passphrase_file
            .as_deref()
            .map(read_passphrase)
            .transpose()?;
        let encrypts = !recipients.is_empty() || passphrase.is_some();
        let signer = match encrypts && !args.unsigned {
            true => signing_key(args, &recipients)?,
            false => None,
        };
        Ok(Self {
            signed_by: signer.as_ref().map(|key| sign::describe(&key.cert)),
            signer: Mutex::new(signer),
            recipients,
            passphrase,
        })
    }

    fn encrypts(&self) -> bool {
        !self.recipients.is_empty() || self.passphrase.is_some()
    }

    fn describe(&self) -> String {
        let sealed = self.sealed();
        match &self.signed_by {
            Some(signer) => format!("{sealed}, signed by {signer}"),
            None if self.encrypts() => format!("{sealed}, unsigned"),
            None => sealed,
        }
    }

    fn sealed(&self) -> String {
        match (self.recipients.len(), self.passphrase.is_some()) {
            (0, false) => "not encrypted".to_owned(),
            (0, true) => "encrypted with a passphrase".to_owned(),
            (n, with_passphrase) => format!(
                "encrypted to {n} certificate{}{}",
                if n == 1 { "" } else { "s" },
                if with_passphrase {
                    " and a passphrase"
                } else {
                    ""
                }
            ),
        }
    }
}

/// The key that signs an encrypted backup: --sign-with, else the first recipient (then
/// --key-file) whose secret key is at hand. Backups to certificates must be signed, or
/// written --unsigned on purpose; a passphrase backup is signed when a key is given.
fn signing_key(args: &CreateArgs, recipients: &[Cert]) -> Result<Option<SigningKey>> {
    let found = sign::find_signer(args.sign_with.as_deref(), &args.key_file, recipients)
        .map_err(|e| Error::failure(e.to_string()))?;
    if found.is_some() || recipients.is_empty() {
        return Ok(found);
    }
    Err(Error::failure(
        "no key to sign the backup with: none of the recipients' secret keys is in a --key-file or your GnuPG agent",
    )
    .with_hint("name one with --sign-with ID (and --key-file FILE), or write an unsigned backup on purpose with --unsigned"))
}

/// Streams `incus export` through the encryption into `target`; returns the bytes exported.
/// Incus's verdict comes before ours: an export that failed half-way must not be kept.
fn export_into(
    session: &Session,
    located: &Located,
    args: &CreateArgs,
    sealing: &Sealing,
    target: &Target,
) -> Result<u64> {
    let export = Export {
        compression: compression(args).incus_name(),
        instance_only: args.instance_only,
    };
    let mut export = session.incus().export(located, export)?;
    let stdout = export
        .take_stdout()
        .ok_or_else(|| Error::failure("incus export has no output pipe"))?;
    let mut source = InterruptibleReader::spawn(stdout, &session.interrupt);
    let label = format!("backing up {located}");
    let mut progress = Progress::new(label, None, args.quiet || target.is_stdout());
    let written = write_sealed(
        &mut source,
        target,
        sealing,
        &mut progress,
        &session.interrupt,
    );
    progress.finish();
    written.and_then(|n| export.finish().map(|()| n))
}

fn write_sealed(
    source: &mut dyn Read,
    target: &Target,
    sealing: &Sealing,
    progress: &mut Progress,
    interrupt: &Interrupt,
) -> Result<u64> {
    let mut out = target.writer()?;
    if !sealing.encrypts() {
        let n = copy(source, &mut out, progress, target, interrupt)?;
        return flush(&mut out, target).map(|()| n);
    }
    let signer = sealing.signer.lock().ok().and_then(|mut s| s.take());
    let mut sealed = crypto::encrypt(
        out,
        &sealing.recipients,
        sealing.passphrase.as_ref().map(|p| p.as_str()),
        signer,
    )
    .map_err(|e| Error::failure(e.to_string()))?;
    let n = copy(source, &mut sealed, progress, target, interrupt)?;
    let mut out = sealed
        .finish()
        .map_err(|e| Error::failure(format!("cannot finish the encryption: {e}")))?;
    flush(&mut out, target).map(|()| n)
}

fn flush(out: &mut dyn Write, target: &Target) -> Result<()> {
    out.flush()
        .map_err(|e| Error::io(format!("cannot write {}", target.describe()), e))
}

/// Copies everything; a read error is Incus's side, a write error ours.
fn copy(
    source: &mut dyn Read,
    sink: &mut dyn Write,
    progress: &mut Progress,
    target: &Target,
    interrupt: &Interrupt,
) -> Result<u64> {
    pump(source, sink, Some(progress), Some(interrupt)).map_err(|e| match e {
        PumpError::Read(e) => Error::io("cannot read what incus export writes", e),
        PumpError::Write(e) => Error::io(format!("cannot write {}", target.describe()), e),
        PumpError::Interrupted(signal) => Error::interrupted(signal),
    })
}

/// `NAME-STAMP.tar.zst`, else `NAME-STAMP-2.tar.zst`, `-3`... the first that is free (nor
/// being written).
fn free_name(dir: &Path, name: &str) -> String {
    let taken = |candidate: &str| {
        dir.join(candidate).exists() || dir.join(format!(".{candidate}.partial")).exists()
    };
    if !taken(name) {
        return name.to_owned();
    }
    let (stem, extension) = name.split_once(".tar").unwrap_or((name, ""));
    (2..1000)
        .map(|n| format!("{stem}-{n}.tar{extension}"))
        .find(|candidate| !taken(candidate))
        .unwrap_or_else(|| name.to_owned())
}

/// Where the backup goes: stdout, or a hidden partial file renamed to its final name when
/// complete, and removed if anything fails before.
struct Target {
    output: Output,
    committed: bool,
}

enum Output {
    Stdout,
    File {
        partial: PathBuf,
        path: PathBuf,
        file: File,
    },
}

impl Target {
    /// `automatic`: the name is ours, and another free one is taken when it exists (two
    /// backups of one instance in the same second).
    fn open(dir: &Path, file_name: &str, force: bool, automatic: bool) -> Result<Self> {
        if dir.as_os_str() == "-" {
            return Ok(Self {
                output: Output::Stdout,
                committed: false,
            });
        }
        if !dir.is_dir() {
            DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(|e| Error::io(format!("cannot create {}", dir.display()), e))?;
        }
        let mut file_name = file_name.to_owned();
        if automatic && !force {
            file_name = free_name(dir, &file_name);
        }
        let file_name = file_name.as_str();
        let path = dir.join(file_name);
        if path.exists() && !force {
            return Err(Error::failure(format!("{} already exists", path.display()))
                .with_hint("pass --force to replace it"));
        }
        let partial = dir.join(format!(".{file_name}.partial"));
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&partial)
            .map_err(|e| Error::io(format!("cannot create {}", partial.display()), e))?;
        Ok(Self {
            output: Output::File {
                partial,
                path,
                file,
            },
            committed: false,
        })
    }

    fn is_stdout(&self) -> bool {
        matches!(self.output, Output::Stdout)
    }

    fn describe(&self) -> String {
        match &self.output {
            Output::Stdout => "stdout".to_owned(),
            Output::File { partial, .. } => partial.display().to_string(),
        }
    }

    /// A buffered writer into the target.
    fn writer(&self) -> Result<Box<dyn Write + Send + Sync>> {
        Ok(match &self.output {
            Output::Stdout => Box::new(BufWriter::with_capacity(256 * 1024, io::stdout())),
            Output::File { file, partial, .. } => Box::new(BufWriter::with_capacity(
                256 * 1024,
                file.try_clone()
                    .map_err(|e| Error::io(format!("cannot write {}", partial.display()), e))?,
            )),
        })
    }

    /// Makes the backup durable under its final name; `None` for stdout.
    fn commit(mut self) -> Result<Option<PathBuf>> {
        self.committed = true;
        match &self.output {
            Output::Stdout => {
                io::stdout()
                    .flush()
                    .map_err(|e| Error::io("cannot write to stdout", e))?;
                Ok(None)
            }
            Output::File {
                partial,
                path,
                file,
            } => {
                let failed = |e| Error::io(format!("cannot save {}", path.display()), e);
                let done = file
                    .sync_all()
                    .and_then(|()| fs::rename(partial, path))
                    .and_then(|()| File::open(path.parent().unwrap_or(Path::new("."))))
                    .and_then(|dir| dir.sync_all());
                if let Err(e) = done {
                    let _ = fs::remove_file(partial);
                    return Err(failed(e));
                }
                Ok(Some(path.clone()))
            }
        }
    }
}

impl Drop for Target {
    fn drop(&mut self) {
        if let (false, Output::File { partial, .. }) = (self.committed, &self.output) {
            let _ = fs::remove_file(partial);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backup_file_names_say_their_compression() {
        use crate::Compression::*;
        assert_eq!(compression_of("web.tar.zst.gpg"), Some(Zstd));
        assert_eq!(compression_of("web.tar.gz"), Some(Gzip));
        assert_eq!(compression_of("web.tar.xz.gpg"), Some(Xz));
        assert_eq!(compression_of("web.tar"), Some(None));
        assert_eq!(compression_of("backups"), Option::None);
        assert_eq!(compression_of(".tar"), Option::None);
    }

    #[test]
    fn a_name_taken_in_the_same_second_gets_a_number() {
        let dir = std::env::temp_dir().join(format!("anklume-free-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let name = "web-20261130-120000.tar.zst.gpg";
        assert_eq!(free_name(&dir, name), name);
        fs::write(dir.join(name), b"").unwrap();
        assert_eq!(free_name(&dir, name), "web-20261130-120000-2.tar.zst.gpg");
        fs::write(dir.join(".web-20261130-120000-2.tar.zst.gpg.partial"), b"").unwrap();
        assert_eq!(free_name(&dir, name), "web-20261130-120000-3.tar.zst.gpg");
        fs::remove_dir_all(&dir).unwrap();
    }
}
