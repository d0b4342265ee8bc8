//! `init` and `key`: a repository's sealed key, made and changed.

use std::io::{self, Write};
use std::path::PathBuf;

use anklume_common::{Error, Result};
use rustic_core::{KeyOptions, Repository};
use sequoia_openpgp::Cert;

use super::seal::{self, Secret};
use super::{Opened, failed, open, options, required_location};
use crate::cli::{InitArgs, KeyAction, KeyArgs, KeyCmdArgs};
use crate::{Keys, crypto, sign};

/// `init`: a new repository whose random password is sealed to the recipients.
pub fn init(args: &InitArgs) -> Result<()> {
    let location = required_location(args.repo.as_deref())?;
    let recipients = crypto::load_recipients(&args.recipient_file, &args.recipients)
        .map_err(|e| Error::failure(e.to_string()))?;
    let signer = signer(args.sign_with.as_deref(), &args.key_file, &recipients)?;
    let signed_by = signer.as_ref().map(|key| sign::describe(&key.cert));
    let backends = location.backends()?;
    let fresh = Repository::new(&options(), &backends).map_err(failed("create", &location))?;
    if fresh.config_id().ok().flatten().is_some() {
        return Err(Error::failure(format!("{} is already a repository", location.given))
            .with_hint("give another location, or change who may open it with anklume-backup key add/remove"));
    }
    let password = seal::new_password();
    let repo = fresh
        .init(
            &rustic_core::Credentials::password(password.as_str()),
            &key_options(),
            &rustic_core::ConfigOptions::default(),
        )
        .map_err(failed("create", &location))?;
    let secret = Secret {
        password,
        recipients: fingerprints(&recipients),
        repository: super::hex(&repo.config().id),
        generation: 1,
    };
    let key_file = (*repo.key_id()).ok_or_else(|| Error::failure("rustic made no key file"))?;
    let backend = backends.repository();
    let sealed = seal::seal(&secret, &recipients, signer)
        .map_err(|e| Error::failure(format!("cannot seal the repository's key: {e}")))
        .and_then(|armored| {
            seal::attach(&backend, &key_file, &armored)
                .map_err(failed("seal the key of", &location))
        });
    if let Err(error) = sealed {
        // A repository whose password nobody holds is of no use, and would make a new init
        // refuse the location: its key file and config go.
        let _ = backend.remove(rustic_core::FileType::Key, &key_file, false);
        let _ = backend.remove(
            rustic_core::FileType::Config,
            &rustic_core::Id::default(),
            false,
        );
        return Err(error);
    }
    if !args.quiet {
        eprintln!(
            "anklume-backup: created repository {}, its key sealed to {} ({})",
            location.given,
            plural(recipients.len(), "certificate"),
            signed_by.map_or("unsigned".to_owned(), |s| format!("signed by {s}"))
        );
    }
    println!("{}", secret.repository);
    Ok(())
}

pub(super) fn key_options() -> KeyOptions {
    KeyOptions::default()
        .hostname(hostname())
        .username(Some("anklume-backup".to_owned()))
        .with_created(true)
}

pub(super) fn hostname() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
}

pub(super) fn plural(n: usize, what: &str) -> String {
    format!("{n} {what}{}", if n == 1 { "" } else { "s" })
}

fn fingerprints(certs: &[Cert]) -> Vec<String> {
    certs.iter().map(|c| c.fingerprint().to_hex()).collect()
}

/// The key that signs a sealed key: as for backups, `--sign-with`, else the first recipient
/// whose secret key is at hand. A sealed key is always signed: unsigned, it would authenticate
/// nothing, and anyone with the recipients' certificates could forge a whole repository.
fn signer(
    sign_with: Option<&str>,
    key_files: &[PathBuf],
    recipients: &[Cert],
) -> Result<Option<sign::SigningKey>> {
    sign::find_signer(sign_with, key_files, recipients)
        .map_err(|e| Error::failure(e.to_string()))?
        .map(Some)
        .ok_or_else(|| {
            Error::failure("no key to sign the repository's key with: none of the recipients' secret keys is in a --key-file or your GnuPG agent")
                .with_hint("name one with --sign-with ID (and --key-file FILE)")
        })
}

/// `key`: prints the password; `key add|remove`: seals a new password to the new recipients.
pub fn key(args: &KeyCmdArgs) -> Result<()> {
    let Some(action) = &args.action else {
        let location = required_location(args.repo.as_deref())?;
        let opened = open(&location, &Keys::new(&args.keys)?, true)?;
        let mut out = io::stdout().lock();
        writeln!(out, "{}", opened.secret.password.as_str())
            .and_then(|()| out.flush())
            .map_err(Error::stdout)?;
        return Ok(());
    };
    let (change, adding) = match action {
        KeyAction::Add(change) => (change, true),
        KeyAction::Remove(change) => (change, false),
    };
    let location = required_location(change.repo.as_deref().or(args.repo.as_deref()))?;
    let opened = open(
        &location,
        &Keys::new(&merged(&args.keys, &change.keys))?,
        true,
    )?;
    let recipients = match adding {
        true => {
            let current = certs_by_fingerprint(&opened.secret.recipients, &change.recipient_file)?;
            with_added(current, &change.recipients, &change.recipient_file)?
        }
        false => {
            let kept = without(
                &opened.secret.recipients,
                &change.recipients,
                &change.recipient_file,
            )?;
            certs_by_fingerprint(&kept, &change.recipient_file)?
        }
    };
    let signer = signer(
        change.sign_with.as_deref(),
        &[args.keys.key_file.clone(), change.keys.key_file.clone()].concat(),
        &recipients,
    )?;
    rekey(&opened, &recipients, signer)?;
    if args.quiet || change.quiet {
        return Ok(());
    }
    eprintln!(
        "anklume-backup: repository {} now opens with {}: {}",
        location.given,
        plural(recipients.len(), "certificate"),
        recipients
            .iter()
            .map(sign::describe)
            .collect::<Vec<_>>()
            .join(", ")
    );
    Ok(())
}

/// The key options given before `add`/`remove` and after it, together.
fn merged(before: &KeyArgs, after: &KeyArgs) -> KeyArgs {
    KeyArgs {
        key_file: [before.key_file.as_slice(), &after.key_file].concat(),
        passphrase_file: after
            .passphrase_file
            .clone()
            .or(before.passphrase_file.clone()),
        signer: [before.signer.as_slice(), &after.signer].concat(),
        allow_unsigned: before.allow_unsigned || after.allow_unsigned,
    }
}

/// The certificates of the current recipients, from the files given and the GnuPG keyring,
/// each by its primary fingerprint exactly: a certificate that merely binds a recipient's key
/// as a subkey of its own never stands in for that recipient.
fn certs_by_fingerprint(fingerprints: &[String], files: &[PathBuf]) -> Result<Vec<Cert>> {
    let certs = crypto::load_recipients(files, fingerprints).map_err(|e| {
        Error::failure(format!(
            "cannot find a current recipient's certificate: {e}"
        ))
        .with_hint("give it with --recipient-file FILE, or import it with gpg --import")
    })?;
    for (cert, wanted) in certs.iter().zip(fingerprints) {
        if cert.fingerprint().to_hex() != *wanted {
            return Err(Error::failure(format!(
                "the certificate found for recipient {wanted} is another one ({})",
                cert.fingerprint().to_hex()
            ))
            .with_hint("give the recipient's own certificate with --recipient-file FILE"));
        }
    }
    Ok(certs)
}

fn with_added(mut current: Vec<Cert>, ids: &[String], files: &[PathBuf]) -> Result<Vec<Cert>> {
    let new = crypto::load_recipients(files, ids).map_err(|e| Error::failure(e.to_string()))?;
    for cert in new {
        if current
            .iter()
            .any(|c| c.fingerprint() == cert.fingerprint())
        {
            return Err(Error::failure(format!(
                "{} is already a recipient",
                sign::describe(&cert)
            )));
        }
        current.push(cert);
    }
    Ok(current)
}

/// The recipients' fingerprints but those `ids` name: a fingerprint or key ID matches as it
/// is (the certificate need not be at hand), an e-mail address through the certificate.
fn without(current: &[String], ids: &[String], files: &[PathBuf]) -> Result<Vec<String>> {
    let mut kept = current.to_vec();
    for id in ids {
        let hex = id.trim_start_matches("0x").replace(' ', "").to_uppercase();
        let named = |fpr: &String| hex.len() >= 16 && fpr.ends_with(&hex);
        let before = kept.len();
        if current.iter().any(named) {
            kept.retain(|fpr| !named(fpr));
        } else if let Ok(Some(cert)) = crate::certs::find(id, &certs_in(files)?) {
            let fpr = cert.fingerprint().to_hex();
            kept.retain(|f| *f != fpr);
        }
        if kept.len() == before {
            return Err(Error::failure(format!(
                "{id} is not a recipient of the repository's key"
            )));
        }
    }
    if kept.is_empty() {
        return Err(Error::failure(
            "removing every recipient would leave nobody able to open the repository",
        )
        .with_hint("add the new recipient first with anklume-backup key add"));
    }
    Ok(kept)
}

fn certs_in(files: &[PathBuf]) -> Result<Vec<Cert>> {
    let mut certs = Vec::new();
    for file in files {
        certs.extend(crate::certs::read_certs(file).map_err(|e| Error::failure(e.to_string()))?);
    }
    Ok(certs)
}

/// A new random password for the same master key, sealed to `recipients`; the key file that
/// opened the repository is removed, so that its password opens nothing any more.
fn rekey(opened: &Opened, recipients: &[Cert], signer: Option<sign::SigningKey>) -> Result<()> {
    let location = &opened.location;
    let secret = Secret {
        password: seal::new_password(),
        recipients: fingerprints(recipients),
        repository: opened.secret.repository.clone(),
        generation: opened.secret.generation + 1,
    };
    let armored = seal::seal(&secret, recipients, signer)
        .map_err(|e| Error::failure(format!("cannot seal the repository's key: {e}")))?;
    let new = opened
        .repo
        .add_key(secret.password.as_str(), &key_options())
        .map_err(failed("add a key to", location))?;
    seal::attach(&opened.backend, &new, &armored).map_err(failed("seal the key of", location))?;
    // Every older sealed key goes, not only the one that opened it: one left behind (by a
    // crash, or put back by someone) would still open the repository for old recipients.
    let sealed =
        seal::sealed_keys(&opened.backend).map_err(failed("read the keys of", location))?;
    for (old, armored_old) in sealed {
        if armored_old != armored {
            opened
                .backend
                .remove(rustic_core::FileType::Key, &old, false)
                .map_err(failed("remove an old key of", location))?;
        }
    }
    Ok(())
}
