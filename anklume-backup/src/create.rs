//! `create`: `incus export` streamed through encryption into a file that appears only when
//! complete.

use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{self, BufWriter, Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use anklume_common::progress::{Progress, human_size};
use anklume_common::pump::{PumpError, pump};
use anklume_common::{Error, Export, Interrupt, InterruptibleReader, Located, Result, Session};
use sequoia_openpgp::Cert;

use crate::cli::CreateArgs;
use crate::sign::{self, SigningKey};
use crate::{crypto, read_passphrase, warn_if_exposed};
use zeroize::Zeroizing;

pub fn create(session: &Session, args: &CreateArgs) -> Result<()> {
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
    let stamp = chrono::Local::now().format("%Y%m%d-%H%M%S");
    let file_name = format!(
        "{}-{stamp}.{}{}",
        located.name,
        compression(args).extension(),
        if sealing.encrypts() { ".gpg" } else { "" }
    );
    let output = args.output.clone().unwrap_or_else(|| "backups".into());
    let target = Target::open(&output, &file_name, args.force)?;
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

fn compression(args: &CreateArgs) -> crate::Compression {
    args.compression.unwrap_or(crate::Compression::Zstd)
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
    fn open(dir: &Path, file_name: &str, force: bool) -> Result<Self> {
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
