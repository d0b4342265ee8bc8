//! anklume-backup: streaming, natively encrypted backups and restores of Incus instances.
//!
//! A backup is `incus export`'s archive, encrypted with OpenPGP (sequoia-openpgp, never gpg)
//! when recipients or a passphrase are given. Nothing is written in clear to disk on the way,
//! in either direction.

pub mod archive;
mod cli;
mod create;
pub mod crypto;
mod inspect;
mod restore;

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use anklume_common::{Error, Interrupt, InterruptibleReader, Result, Session};

pub use cli::{Cli, Command, Compression, CreateArgs, Format, ListArgs, RestoreArgs, VerifyArgs};

/// Runs the command line; the exit status on success is 0.
pub fn run(cli: &Cli) -> Result<u8> {
    let session = Session::start()?;
    let done = match &cli.command {
        Command::Create(args) => create::create(&session, args),
        Command::Restore(args) => restore::restore(&session, args),
        Command::Verify(args) => inspect::verify(&session.interrupt, args),
        Command::List(args) => inspect::list(args),
    };
    session.conclude(done)?;
    Ok(0)
}

/// What may open an encrypted backup.
struct Keys {
    key_files: Vec<PathBuf>,
    passphrase: Option<String>,
}

impl Keys {
    fn from_files(key_files: &[PathBuf], passphrase_file: Option<&Path>) -> Result<Self> {
        for file in key_files {
            if !file.is_file() {
                return Err(Error::failure(format!(
                    "key file {} does not exist",
                    file.display()
                )));
            }
        }
        Ok(Self {
            key_files: key_files.to_vec(),
            passphrase: passphrase_file.map(read_passphrase).transpose()?,
        })
    }
}

/// The backup at `path` (`-`: stdin), decrypted when its content is OpenPGP; and whether it
/// was encrypted.
fn open_input(
    path: &Path,
    interrupt: &Interrupt,
    keys: &Keys,
) -> Result<(Box<dyn Read + Send + Sync>, bool)> {
    let raw: Box<dyn Read + Send + Sync> = if path.as_os_str() == "-" {
        Box::new(InterruptibleReader::spawn(io::stdin(), interrupt))
    } else {
        Box::new(
            File::open(path)
                .map_err(|e| Error::io(format!("cannot open {}", path.display()), e))?,
        )
    };
    let (prefix, whole) =
        archive::peek(raw, 64).map_err(|e| Error::io("cannot read the backup", e))?;
    if !crypto::looks_encrypted(&prefix) {
        return Ok((Box::new(whole), false));
    }
    let plain = crypto::decrypt(whole, &keys.key_files, keys.passphrase.as_deref(), true)
        .map_err(|e| Error::failure(e.to_string()))?;
    Ok((Box::new(plain), true))
}

/// The first line of `path`: a passphrase.
fn read_passphrase(path: &Path) -> Result<String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::io(format!("cannot read passphrase file {}", path.display()), e))?;
    let line = text.lines().next().unwrap_or_default();
    if line.is_empty() {
        return Err(Error::failure(format!(
            "passphrase file {} is empty",
            path.display()
        )));
    }
    Ok(line.to_owned())
}
