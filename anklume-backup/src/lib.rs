//! anklume-backup: streaming, natively encrypted backups and restores of Incus instances.
//!
//! A backup is `incus export`'s archive, encrypted with OpenPGP (sequoia-openpgp, never gpg)
//! when recipients or a passphrase are given. Nothing is written in clear to disk on the way,
//! in either direction.

pub mod archive;
mod certs;
mod cli;
mod create;
pub mod crypto;
mod inspect;
mod repo;
mod restore;
pub mod sign;

use std::fs::{self, File};
use std::io::{self, Read};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use anklume_common::error::{shell_word, warn};
use anklume_common::progress::{self, Progress};
use anklume_common::{Error, Interrupt, InterruptibleReader, Result, Session};
use sign::{Trust, Verdict};
use zeroize::Zeroizing;

pub use cli::{
    Cli, Command, Compression, CreateArgs, Format, KeyArgs, ListArgs, RestoreArgs, VerifyArgs,
};

/// Runs the command line; the exit status on success is 0.
pub fn run(cli: &Cli) -> Result<u8> {
    let session = Session::start()?;
    let done = match &cli.command {
        Command::Create(args) => match args.output.is_none() {
            true => match repo::location_of(args.repo.as_deref())? {
                Some(location) => create_in_repo(&session, args, &location),
                None => create::create(&session, args),
            },
            false => create::create(&session, args),
        },
        Command::Restore(args) => match args.file.is_none() {
            true => match repo::location_of(args.repo.as_deref())? {
                Some(location) => repo::restore(&session, args, &location),
                None => restore::restore(&session, args),
            },
            false => restore::restore(&session, args),
        },
        Command::Verify(args) => match &args.file {
            Some(_) => inspect::verify(&session.interrupt, args),
            None => repo::required_location(args.repo.as_deref())
                .and_then(|location| repo::verify(&location, &Keys::new(&args.keys)?, args)),
        },
        Command::List(args) => match &args.dir {
            Some(_) => inspect::list(args),
            None => match repo::location_of(args.repo.as_deref())? {
                Some(location) => repo::list(&location, &Keys::new(&args.keys)?, args.format),
                None => inspect::list(args),
            },
        },
        Command::Init(args) => repo::init(args),
        Command::Key(args) => repo::key(args),
        Command::Prune(args) => repo::required_location(args.repo.as_deref())
            .and_then(|location| repo::prune(args, &location)),
    };
    session.conclude(done)?;
    Ok(0)
}

/// `create --repo`: the options of file backups that choose recipients and signer do not
/// apply (the repository's key was sealed by init and key add).
fn create_in_repo(session: &Session, args: &CreateArgs, location: &repo::Location) -> Result<()> {
    let sealing = [
        (!args.recipients.is_empty(), "--gpg"),
        (!args.recipient_file.is_empty(), "--recipient-file"),
        (args.passphrase_file.is_some(), "--passphrase-file"),
        (args.sign_with.is_some(), "--sign-with"),
        (args.unsigned, "--unsigned"),
        (args.force, "--force"),
        (args.compression.is_some(), "--compression"),
    ];
    if let Some((_, option)) = sealing.iter().find(|(given, _)| *given) {
        return Err(Error::usage(format!("{option} applies to backup files, not to --repo"))
            .with_hint("a repository's recipients are set by anklume-backup init and key add; its data is compressed by the repository"));
    }
    // The same lookup as restore's: the key file must exist, and is warned about if exposed.
    let keys = Keys::new(&KeyArgs {
        key_file: args.key_file.clone(),
        passphrase_file: None,
        signer: args.signer.clone(),
        allow_unsigned: false,
    })?;
    repo::create(session, args, location, &keys)
}

/// What may open an encrypted backup, and whose signature is trusted.
struct Keys {
    key_files: Vec<PathBuf>,
    passphrase: Option<Zeroizing<String>>,
    trust: Trust,
    /// Whether --signer was given (a plain backup then cannot be what was asked for).
    signers_given: bool,
}

impl Keys {
    fn new(args: &KeyArgs) -> Result<Self> {
        for file in &args.key_file {
            warn_if_exposed(file, "key file");
            if !file.is_file() {
                return Err(Error::failure(format!(
                    "key file {} does not exist",
                    file.display()
                )));
            }
        }
        let signers =
            sign::trusted_signers(&args.signer).map_err(|e| Error::failure(e.to_string()))?;
        Ok(Self {
            key_files: args.key_file.clone(),
            passphrase: args
                .passphrase_file
                .as_deref()
                .map(read_passphrase)
                .transpose()?,
            trust: Trust {
                signers,
                allow_unsigned: args.allow_unsigned,
            },
            signers_given: !args.signer.is_empty(),
        })
    }
}

/// The backup at `path` (`-`: stdin), decrypted and authenticated as it streams when its
/// content is OpenPGP (the verdict holds the trusted signer once the stream was read whole);
/// `None` for a plain backup.
fn open_input(
    path: &Path,
    interrupt: &Interrupt,
    keys: &Keys,
    progress: Progress,
) -> Result<(Box<dyn Read + Send + Sync>, Option<Verdict>)> {
    let raw: Box<dyn Read + Send + Sync> = if path.as_os_str() == "-" {
        let mut progress = progress;
        if let Some(size) = progress::stdin_size() {
            progress.set_total(size);
        }
        Box::new(progress.reader(InterruptibleReader::spawn(io::stdin(), interrupt)))
    } else {
        let file = File::open(path)
            .map_err(|e| Error::io(format!("cannot open {}", path.display()), e))?;
        let mut progress = progress;
        if let Ok(meta) = file.metadata() {
            progress.set_total(meta.len());
        }
        Box::new(progress.reader(file))
    };
    let (prefix, whole) =
        archive::peek(raw, 64).map_err(|e| Error::io("cannot read the backup", e))?;
    if !crypto::looks_encrypted(&prefix) {
        refuse_plain(path, keys)?;
        return Ok((Box::new(whole), None));
    }
    let (plain, verdict) = crypto::decrypt(
        whole,
        &keys.key_files,
        keys.passphrase.as_ref().map(|p| p.as_str()),
        true,
        keys.trust.clone(),
    )
    .map_err(|e| inspect::damaged(true, &e.to_string()))?;
    Ok((Box::new(plain), Some(verdict)))
}

/// A backup that no trusted signer signed, refused for `why`.
fn unauthenticated(why: String) -> Error {
    Error::failure(why).with_hint(
        "trust its signer with --signer CERT, or accept it unsigned with --allow-unsigned",
    )
}

/// A plain archive claims no protection, so it may be restored, but not when the file's name
/// or the options say it should be encrypted or signed: someone may have put it there.
fn refuse_plain(path: &Path, keys: &Keys) -> Result<()> {
    let named_encrypted = path
        .extension()
        .is_some_and(|e| e == "gpg" || e == "pgp" || e == "asc");
    let why = if named_encrypted {
        "its name says it is encrypted"
    } else if !keys.key_files.is_empty() || keys.signers_given {
        "--key-file or --signer was given"
    } else {
        return Ok(());
    };
    Err(Error::failure(format!(
        "{} is a plain archive, not encrypted, but {why}: refusing it",
        path.display()
    ))
    .with_hint("a backup replaced by a plain archive is a forgery; restore a plain backup by a name without .gpg, without --key-file and --signer"))
}

/// The first line of `path`: a passphrase, wiped from memory when dropped.
fn read_passphrase(path: &Path) -> Result<Zeroizing<String>> {
    warn_if_exposed(path, "passphrase file");
    let failed = |e| Error::io(format!("cannot read passphrase file {}", path.display()), e);
    let file = File::open(path).map_err(failed)?;
    // Sized up front, so that no growing buffer leaves copies behind.
    let mut text = Zeroizing::new(String::with_capacity(PASSPHRASE_FILE_LIMIT as usize));
    file.take(PASSPHRASE_FILE_LIMIT)
        .read_to_string(&mut text)
        .map_err(failed)?;
    let line = text.lines().next().unwrap_or_default();
    if line.is_empty() {
        return Err(Error::failure(format!(
            "passphrase file {} is empty",
            path.display()
        )));
    }
    Ok(Zeroizing::new(line.to_owned()))
}

/// How much of a passphrase file is read: its first line is the passphrase.
const PASSPHRASE_FILE_LIMIT: u64 = 64 * 1024;

/// Warns when the file of a secret (`what`) may be read by users other than its owner.
fn warn_if_exposed(path: &Path, what: &str) {
    let Ok(mode) = fs::metadata(path).map(|m| m.permissions().mode() & 0o777) else {
        return;
    };
    if mode & 0o044 != 0 {
        warn(
            &Error::failure(format!(
                "warning: {what} {} is readable by other users (mode {mode:04o})",
                path.display()
            ))
            .with_hint(format!(
                "keep secrets to yourself: chmod 600 {}",
                shell_word(&path.to_string_lossy())
            )),
        );
    }
}
