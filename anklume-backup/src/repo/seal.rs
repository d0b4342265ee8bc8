//! The sealed key: the repository's password, with the recipients it is sealed to and the
//! repository it opens, encrypted to those recipients and signed, as an ASCII-armored OpenPGP
//! message in the field `anklume_sealed` of the restic key file that this password opens.
//! restic and rustic ignore the field; the key file's name stays the SHA-256 of its content.

use std::io::{Cursor, Read, Write};
use std::sync::Arc;

use rustic_core::{FileType, Id, RusticResult, WriteBackend};
use sequoia_openpgp::Cert;
use sequoia_openpgp::armor;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::sign::SigningKey;
use crate::{Keys, crypto};

/// The key file's field holding the sealed key.
pub const FIELD: &str = "anklume_sealed";

/// What the sealed message holds. Everything in it is authenticated by the signature: the
/// recipients that `key add` and `key remove` start from are never taken from clear text.
#[derive(Serialize, Deserialize)]
pub struct Secret {
    /// The repository's password (random, 256 bits, hex).
    pub password: Zeroizing<String>,
    /// Fingerprints of the certificates it is sealed to.
    pub recipients: Vec<String>,
    /// The ID of the repository it opens (its config's).
    pub repository: String,
    /// 1 for the key sealed by init, one more at each `key add` or `remove`: the newest one
    /// that opens is used, so that an older key file put back never brings old recipients back.
    #[serde(default)]
    pub generation: u64,
}

/// A new random password: 32 bytes from the OpenPGP library's random source, in hex.
pub fn new_password() -> Zeroizing<String> {
    let mut bytes = Zeroizing::new([0u8; 32]);
    sequoia_openpgp::crypto::random(&mut bytes[..]).expect("the system has a random source");
    let mut text = Zeroizing::new(String::with_capacity(64));
    for byte in bytes.iter() {
        text.push_str(&format!("{byte:02x}"));
    }
    text
}

/// `secret` encrypted to `recipients` and signed by `signer`, ASCII-armored.
pub fn seal(
    secret: &Secret,
    recipients: &[Cert],
    signer: Option<SigningKey>,
) -> Result<String, crypto::CryptoError> {
    let json = Zeroizing::new(
        serde_json::to_vec(secret)
            .map_err(|e| crypto::CryptoError::new(format!("cannot write the sealed key: {e}")))?,
    );
    let mut sealed = crypto::encrypt(Vec::new(), recipients, None, signer)?;
    sealed.write_all(&json)?;
    let binary = sealed.finish()?;
    let mut armored = armor::Writer::new(Vec::new(), armor::Kind::Message)?;
    armored.write_all(&binary)?;
    let text = armored.finalize()?;
    Ok(String::from_utf8(text).expect("ASCII armor is ASCII"))
}

/// The secret in `armored`, once decrypted with `keys` and its signature trusted; else why not.
/// Never unsigned, whatever `--allow-unsigned` says: an unsigned sealed key authenticates
/// nothing.
pub fn unseal(armored: &str, keys: &Keys) -> Result<Secret, String> {
    let input = Cursor::new(armored.as_bytes().to_vec());
    let trust = crate::sign::Trust {
        allow_unsigned: false,
        ..keys.trust.clone()
    };
    let (mut plain, verdict) = crypto::decrypt(
        input,
        &keys.key_files,
        keys.passphrase.as_ref().map(|p| p.as_str()),
        true,
        trust,
    )
    .map_err(|e| e.to_string())?;
    let mut json = Zeroizing::new(Vec::new());
    if let Err(e) = plain.read_to_end(&mut json) {
        return Err(verdict.refusal().unwrap_or_else(|| e.to_string()));
    }
    if let Some(why) = verdict.refusal() {
        return Err(why);
    }
    serde_json::from_slice(&json).map_err(|e| format!("the sealed key is not one: {e}"))
}

/// The key files that hold a sealed key, with it.
pub fn sealed_keys(backend: &Arc<dyn WriteBackend>) -> RusticResult<Vec<(Id, String)>> {
    let mut found = Vec::new();
    for id in backend.list(FileType::Key)? {
        let bytes = backend.read_full(FileType::Key, &id)?;
        let Ok(serde_json::Value::Object(fields)) = serde_json::from_slice(&bytes) else {
            continue;
        };
        if let Some(serde_json::Value::String(armored)) = fields.get(FIELD) {
            found.push((id, armored.clone()));
        }
    }
    Ok(found)
}

/// Adds `armored` to key file `id`: the file is written anew under the name of its new content
/// and the old one removed. Returns the new name.
pub fn attach(backend: &Arc<dyn WriteBackend>, id: &Id, armored: &str) -> RusticResult<Id> {
    let bytes = backend.read_full(FileType::Key, id)?;
    let mut fields: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(&bytes).unwrap_or_default();
    fields.insert(FIELD.to_owned(), armored.into());
    let content = serde_json::to_vec(&fields).expect("a JSON object serialises");
    let new = Id::new(Sha256::digest(&content).into());
    backend.write_bytes(FileType::Key, &new, false, content.into())?;
    backend.remove(FileType::Key, id, false)?;
    Ok(new)
}
