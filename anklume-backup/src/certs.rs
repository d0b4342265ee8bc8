//! Which OpenPGP certificate a user's ID names: `--gpg`, `--sign-with` and `--signer` look
//! certificates up here, in the given files and in the user's GnuPG keyring.
//!
//! A name counts only where the certificate itself vouches for it now, under the standard
//! policy: a user ID or a subkey matches only with a valid, unrevoked, unexpired binding, so
//! that a user ID someone appended, or a subkey bound to a stranger's key, names nothing. A
//! 64-bit key ID is looked up in the files and the keyring together and must name exactly one
//! certificate: such IDs can be made to collide.

use std::io;
use std::path::Path;
use std::process::{Command, Stdio};

use anyhow::Context as _;
use sequoia_openpgp as openpgp;

use openpgp::cert::CertParser;
use openpgp::cert::prelude::*;
use openpgp::parse::Parse;
use openpgp::types::RevocationStatus;
use openpgp::{Cert, KeyHandle};

use crate::crypto::{CryptoError, POLICY};

/// Reads every certificate (or key) in `path`, armored or binary.
pub(crate) fn read_certs(path: &Path) -> Result<Vec<Cert>, CryptoError> {
    CertParser::from_file(path)
        .and_then(|parser| parser.collect::<openpgp::Result<Vec<_>>>())
        .map_err(|e| {
            CryptoError::new(format!(
                "cannot read OpenPGP certificates from {}: {e:#}",
                path.display()
            ))
        })
}

/// Public certs for `ids` from the user's GnuPG keyring ($GNUPGHOME).
/// Only public material ever comes from gpg.
pub(crate) fn gpg_export(ids: &[String]) -> anyhow::Result<Vec<Cert>> {
    let out = Command::new("gpg")
        .args(["--batch", "--no-tty", "--quiet", "--export", "--"])
        .args(ids)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .context("cannot run gpg to look up certificates in the GnuPG keyring")?;
    if !out.status.success() {
        anyhow::bail!("gpg --export failed ({})", out.status);
    }
    if out.stdout.is_empty() {
        return Ok(Vec::new());
    }
    CertParser::from_reader(io::Cursor::new(out.stdout))?.collect()
}

/// What a user-supplied ID designates.
#[derive(Debug)]
pub(crate) enum IdKind {
    Handle(KeyHandle),
    Email(String),
}

pub(crate) fn parse_id(id: &str) -> Result<IdKind, CryptoError> {
    let compact: String = id.chars().filter(|c| !c.is_whitespace()).collect();
    let hex = compact
        .strip_prefix("0x")
        .or_else(|| compact.strip_prefix("0X"))
        .unwrap_or(&compact);
    if hex.len() >= 16 && hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return hex
            .parse::<KeyHandle>()
            .map(IdKind::Handle)
            .map_err(|e| CryptoError::new(format!("{id:?}: {e:#}")));
    }
    let email = id.trim().trim_start_matches('<').trim_end_matches('>');
    if email.contains('@') {
        return Ok(IdKind::Email(email.to_lowercase()));
    }
    Err(CryptoError::new(format!(
        "{id:?} is not a fingerprint, a 16-digit key ID or an e-mail address"
    )))
}

/// Whether `id` names `cert`: its primary key (whose validity the caller judges, to say
/// "expired" or "revoked"), a subkey bound to it now, or the e-mail of a user ID bound to it
/// now; never a component without a valid, live, unrevoked binding.
pub(crate) fn cert_matches(cert: &Cert, id: &IdKind) -> bool {
    if let IdKind::Handle(h) = id
        && h.aliases(cert.primary_key().key().key_handle())
    {
        return true;
    }
    let Ok(valid) = cert.with_policy(&POLICY, None) else {
        return false;
    };
    match id {
        IdKind::Handle(h) => valid
            .keys()
            .subkeys()
            .alive()
            .revoked(false)
            .any(|ka| h.aliases(ka.key().key_handle())),
        IdKind::Email(e) => valid
            .userids()
            .filter(|ua| !matches!(ua.revocation_status(), RevocationStatus::Revoked(_)))
            .any(|ua| {
                ua.userid()
                    .email()
                    .ok()
                    .flatten()
                    .is_some_and(|m| m.to_lowercase() == *e)
            }),
    }
}

/// The one certificate `id` names: among `from_files` first, else in the GnuPG keyring; a
/// 64-bit key ID among both at once. `None` when nothing matches; an error when several
/// certificates do, naming them.
pub(crate) fn find(id: &str, from_files: &[Cert]) -> Result<Option<Cert>, CryptoError> {
    let kind = parse_id(id)?;
    // gpg matches loosely (substrings): its answers are filtered with our own rules. Without
    // gpg there is no keyring to look in: an error only if the files have nothing either.
    let keyring = match gpg_export(&[id.to_owned()]) {
        Ok(exported) => exported,
        Err(e) if from_files.is_empty() => return Err(CryptoError::new(format!("{id}: {e:#}"))),
        Err(_) => Vec::new(),
    };
    find_in(id, &kind, from_files, keyring)
}

/// [`find`] among `from_files` and `keyring`, the certificates the keyring gave for `id`.
fn find_in(
    id: &str,
    kind: &IdKind,
    from_files: &[Cert],
    keyring: Vec<Cert>,
) -> Result<Option<Cert>, CryptoError> {
    let short = matches!(kind, IdKind::Handle(KeyHandle::KeyID(_)));
    // Every copy of one certificate is merged before it is judged: the keyring's may know of a
    // revocation an old file does not.
    let mut files = Vec::new();
    let mut others = Vec::new();
    merge_into(&mut files, from_files.to_vec());
    for cert in keyring {
        match files
            .iter()
            .any(|c: &Cert| c.fingerprint() == cert.fingerprint())
        {
            true => merge_into(&mut files, vec![cert]),
            false => merge_into(&mut others, vec![cert]),
        }
    }
    let mut found: Vec<Cert> = files
        .into_iter()
        .filter(|c| cert_matches(c, kind))
        .collect();
    if short || found.is_empty() {
        found.extend(others.into_iter().filter(|c| cert_matches(c, kind)));
    }
    match found.len() {
        0 | 1 => Ok(found.pop()),
        n => {
            let which: Vec<String> = found.iter().map(|c| c.fingerprint().to_hex()).collect();
            let what = if short { "the key ID " } else { "" };
            Err(CryptoError::new(format!(
                "{what}{id} names {n} certificates ({}): name the one you mean by its fingerprint",
                which.join(", ")
            )))
        }
    }
}

/// Adds `certs` to `into`, one per fingerprint: copies of one certificate are merged (the
/// secret parts a key file holds are kept).
fn merge_into(into: &mut Vec<Cert>, certs: Vec<Cert>) {
    for cert in certs {
        match into
            .iter_mut()
            .find(|c| c.fingerprint() == cert.fingerprint())
        {
            Some(known) => {
                if let Ok(merged) = known.clone().merge_public_and_secret(cert) {
                    *known = merged;
                }
            }
            None => into.push(cert),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use openpgp::cert::{SubkeyRevocationBuilder, UserIDRevocationBuilder};
    use openpgp::packet::prelude::*;
    use openpgp::packet::signature::SignatureBuilder;
    use openpgp::types::{KeyFlags, ReasonForRevocation, SignatureType};

    use super::*;

    fn names(cert: &Cert, id: &str) -> bool {
        cert_matches(cert, &parse_id(id).unwrap())
    }

    fn signer_of(cert: &Cert) -> openpgp::crypto::KeyPair {
        let key = cert.primary_key().key().clone();
        key.parts_into_secret().unwrap().into_keypair().unwrap()
    }

    #[test]
    fn a_revoked_or_unbound_user_id_names_nothing() {
        let (cert, _) = CertBuilder::new()
            .add_userid("Alice <alice@example.org>")
            .add_userid("Old <old@example.org>")
            .add_transport_encryption_subkey()
            .generate()
            .unwrap();
        assert!(names(&cert, "old@example.org"));
        let mut signer = signer_of(&cert);
        let old = cert.userids().nth(1).unwrap().userid().clone();
        let revocation = UserIDRevocationBuilder::new()
            .set_reason_for_revocation(ReasonForRevocation::UIDRetired, b"gone")
            .unwrap()
            .build(&mut signer, &cert, &old, None)
            .unwrap();
        let (cert, _) = cert.insert_packets([Packet::from(revocation)]).unwrap();
        // Anyone can append a user ID packet to a certificate; without a binding it is noise.
        let forged = UserID::from("Mallory <mallory@example.org>");
        let (cert, _) = cert.insert_packets([Packet::from(forged)]).unwrap();
        assert_eq!(cert.userids().count(), 3);
        assert!(names(&cert, "alice@example.org"));
        assert!(!names(&cert, "old@example.org"));
        assert!(!names(&cert, "mallory@example.org"));
    }

    #[test]
    fn an_expired_subkey_names_nothing_but_the_primary_key_still_does() {
        let two_days_ago = SystemTime::now() - Duration::from_secs(2 * 86400);
        let flags = KeyFlags::empty().set_transport_encryption();
        let (cert, _) = CertBuilder::new()
            .set_creation_time(two_days_ago)
            .add_userid("Alice <alice@example.org>")
            .add_subkey(flags.clone(), Duration::from_secs(3600), None)
            .add_subkey(flags, None, None)
            .generate()
            .unwrap();
        let valid = cert.with_policy(&POLICY, None).unwrap();
        let id_of = |alive: bool| {
            let mut keys = valid.keys().subkeys();
            let key = keys.find(|ka| ka.alive().is_ok() == alive).unwrap();
            key.key().keyid().to_hex()
        };
        let subkeys = [id_of(false), id_of(true)];
        assert!(!names(&cert, &subkeys[0]), "expired subkey matched");
        assert!(names(&cert, &subkeys[1]));
        assert!(names(&cert, &cert.keyid().to_hex()));
    }

    #[test]
    fn the_keyrings_copy_of_a_revoked_subkey_wins_over_an_old_file() {
        let (alice, _) = CertBuilder::new()
            .add_userid("Alice <alice@example.org>")
            .add_transport_encryption_subkey()
            .generate()
            .unwrap();
        let subkey = alice.keys().subkeys().next().unwrap().key().clone();
        let revocation = SubkeyRevocationBuilder::new()
            .set_reason_for_revocation(ReasonForRevocation::KeyRetired, b"old")
            .unwrap()
            .build(&mut signer_of(&alice), &alice, &subkey, None)
            .unwrap();
        let (revoked, _) = alice
            .clone()
            .insert_packets([Packet::from(revocation)])
            .unwrap();
        let id = subkey.keyid().to_hex();
        let kind = parse_id(&id).unwrap();
        let old_file = std::slice::from_ref(&alice);
        assert!(find_in(&id, &kind, old_file, Vec::new()).unwrap().is_some());
        assert!(
            find_in(&id, &kind, old_file, vec![revoked])
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn a_subkey_bound_to_two_certificates_names_neither() {
        let (alice, _) = CertBuilder::new()
            .add_userid("Alice <alice@example.org>")
            .add_transport_encryption_subkey()
            .generate()
            .unwrap();
        let (mallory, _) = CertBuilder::new()
            .add_userid("Mallory <mallory@example.org>")
            .generate()
            .unwrap();
        // An encryption subkey needs no back signature: anyone can bind someone else's.
        let stolen = alice.keys().subkeys().next().unwrap().key().clone();
        let flags = KeyFlags::empty().set_transport_encryption();
        let binding = stolen
            .bind(
                &mut signer_of(&mallory),
                &mallory,
                SignatureBuilder::new(SignatureType::SubkeyBinding)
                    .set_key_flags(flags)
                    .unwrap(),
            )
            .unwrap();
        let (mallory, _) = mallory
            .insert_packets([Packet::from(stolen.clone()), binding.into()])
            .unwrap();
        let both = [alice.clone(), mallory.clone()];
        let short = stolen.keyid().to_hex();
        let error = find(&short, &both).unwrap_err().to_string();
        assert!(error.contains("names 2 certificates"), "{error}");
        assert!(error.contains(&alice.fingerprint().to_hex()), "{error}");
        let found = find(&alice.fingerprint().to_hex(), &both).unwrap();
        assert_eq!(found.map(|c| c.fingerprint()), Some(alice.fingerprint()));
    }
}
