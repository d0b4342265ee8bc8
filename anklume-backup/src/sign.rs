//! Who made a backup: the signing key of `create`, and the trusted signers `restore` and
//! `verify` accept.
//!
//! A backup is signed, then encrypted, in one OpenPGP message (GnuPG and `sq` verify it). On
//! the way back, the decryptor checks the signature at the end of the message, before it
//! releases the last bytes: a backup that no trusted certificate signed never reaches the end
//! of its stream, so nothing is imported.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use sequoia_gpg_agent as gpg_agent;
use sequoia_openpgp as openpgp;

use openpgp::crypto::Signer;
use openpgp::parse::stream::{MessageLayer, MessageStructure, VerificationError};
use openpgp::{Cert, KeyHandle};

use crate::certs::{self, IdKind, parse_id, read_certs};
use crate::crypto::{CryptoError, POLICY};

/// A key that signs backups, with the certificate it belongs to.
pub struct SigningKey {
    pub pair: Box<dyn Signer + Send + Sync>,
    pub cert: Cert,
}

/// `FINGERPRINT (user ID)` of a certificate, for messages.
pub fn describe(cert: &Cert) -> String {
    let uid = cert
        .userids()
        .next()
        .map(|ua| String::from_utf8_lossy(ua.userid().value()).into_owned());
    let uid: String = uid
        .unwrap_or_default()
        .chars()
        .filter(|c| !c.is_control())
        .collect();
    match uid.is_empty() {
        true => cert.fingerprint().to_hex(),
        false => format!("{} ({uid})", cert.fingerprint().to_hex()),
    }
}

/// The key to sign with: `sign_with` (looked up in `key_files`, then the GnuPG keyring, its
/// secret in the key file or the GnuPG agent); without it, the first of `recipients` whose
/// secret signing key is at hand. `None` when there is none.
pub fn find_signer(
    sign_with: Option<&str>,
    key_files: &[PathBuf],
    recipients: &[Cert],
) -> Result<Option<SigningKey>, CryptoError> {
    let mut secrets = Vec::new();
    for path in key_files {
        secrets.extend(read_certs(path)?.into_iter().filter(Cert::is_tsk));
    }
    let candidates: Vec<Cert> = match sign_with {
        Some(id) => certs::find(id, &secrets)
            .map_err(|e| e.context("--sign-with"))?
            .into_iter()
            .collect(),
        None => recipients.iter().chain(&secrets).cloned().collect(),
    };
    let mut agent = Agent::default();
    for cert in &candidates {
        if let Some(pair) = pair_for(cert, &secrets, &mut agent)? {
            return Ok(Some(SigningKey {
                pair,
                cert: cert.clone(),
            }));
        }
    }
    match sign_with {
        Some(id) => Err(CryptoError::new(format!(
            "no secret key for --sign-with {id}: not in a --key-file, nor in your GnuPG agent"
        ))),
        None => Ok(None),
    }
}

/// A signing key pair of `cert`, from an unprotected secret key of `secrets` or the agent.
fn pair_for(
    cert: &Cert,
    secrets: &[Cert],
    agent: &mut Agent,
) -> Result<Option<Box<dyn Signer + Send + Sync>>, CryptoError> {
    let Ok(valid) = cert.with_policy(&POLICY, None) else {
        return Ok(None);
    };
    for ka in valid.keys().for_signing().alive().revoked(false) {
        let key = ka.key();
        let secret = secrets
            .iter()
            .flat_map(|c| c.keys().secret())
            .find(|s| s.key().fingerprint() == key.fingerprint());
        if let Some(secret) = secret
            && !secret.key().secret().is_encrypted()
        {
            let pair = secret
                .key()
                .clone()
                .role_into_unspecified()
                .into_keypair()?;
            return Ok(Some(Box::new(pair)));
        }
        if let Some(pair) = agent.pair(key.role_as_unspecified()) {
            return Ok(Some(Box::new(pair)));
        }
    }
    Ok(None)
}

/// The user's GnuPG agent, connected on first use; `None` when there is none.
#[derive(Default)]
struct Agent(Option<Option<(tokio::runtime::Runtime, gpg_agent::Agent)>>);

impl Agent {
    fn pair(
        &mut self,
        key: &openpgp::packet::Key<
            openpgp::packet::key::PublicParts,
            openpgp::packet::key::UnspecifiedRole,
        >,
    ) -> Option<gpg_agent::KeyPair> {
        let connected = self.0.get_or_insert_with(|| {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_io()
                .build()
                .ok()?;
            let ctx = gpg_agent::gnupg::Context::new().ok()?;
            let agent = rt.block_on(gpg_agent::Agent::connect(&ctx)).ok()?;
            Some((rt, agent))
        });
        let (rt, agent) = connected.as_mut()?;
        if !rt.block_on(agent.has_key(key)).unwrap_or(false) {
            return None;
        }
        agent.keypair(key).ok()
    }
}

/// The certificates `--signer` names: files, or IDs of the GnuPG keyring.
pub fn trusted_signers(signers: &[String]) -> Result<Vec<Cert>, CryptoError> {
    let mut certs = Vec::new();
    for signer in signers {
        // Only a full fingerprint names a keyring certificate here: an e-mail address or a key
        // ID may name one that anybody put in the keyring (a key fetched from a keyserver).
        if let Ok(IdKind::Handle(KeyHandle::Fingerprint(_))) = parse_id(signer) {
            match certs::find(signer, &[]).map_err(|e| e.context("--signer"))? {
                Some(cert) => certs.push(cert),
                None => {
                    return Err(CryptoError::new(format!(
                        "--signer {signer}: no certificate of that fingerprint in your GnuPG keyring"
                    )));
                }
            }
        } else if Path::new(signer).is_file() {
            certs.extend(read_certs(Path::new(signer))?);
        } else {
            return Err(CryptoError::new(format!(
                "--signer {signer}: not a certificate file, nor a full fingerprint (an e-mail address or a key ID could name a certificate anybody put in your keyring)"
            )));
        }
    }
    Ok(certs)
}

/// Which signatures `restore` and `verify` accept.
#[derive(Debug, Clone, Default)]
pub struct Trust {
    /// `--signer`: when empty, the certificate of the key that decrypted the backup.
    pub signers: Vec<Cert>,
    /// `--allow-unsigned`.
    pub allow_unsigned: bool,
}

/// What the signature check found, once the message is read whole: the trusted signer, or
/// why the backup was refused.
#[derive(Debug, Clone, Default)]
pub struct Verdict {
    signer: Arc<Mutex<Option<String>>>,
    refusal: Arc<Mutex<Option<String>>>,
}

impl Verdict {
    /// `FINGERPRINT (user ID)` of the trusted signer; `None` if unsigned (or not read yet).
    pub fn signer(&self) -> Option<String> {
        self.signer.lock().ok().and_then(|v| v.clone())
    }

    /// Why the backup was not authenticated, when it was refused.
    pub fn refusal(&self) -> Option<String> {
        self.refusal.lock().ok().and_then(|v| v.clone())
    }

    /// Judges the signatures of a message against `trusted`.
    pub fn judge(
        &self,
        structure: MessageStructure,
        trusted: &[Cert],
        allow_unsigned: bool,
    ) -> anyhow::Result<()> {
        let mut seen = Vec::new();
        for layer in structure {
            let MessageLayer::SignatureGroup { results } = layer else {
                continue;
            };
            for result in results {
                match result {
                    Ok(good) => {
                        let cert = good.ka.cert();
                        let fpr = cert.fingerprint();
                        if trusted.iter().any(|t| t.fingerprint() == fpr) {
                            if let Ok(mut signer) = self.signer.lock() {
                                *signer = Some(describe(cert));
                            }
                            return Ok(());
                        }
                        seen.push(describe(cert));
                    }
                    Err(VerificationError::MissingKey { sig }) => seen.extend(
                        sig.issuer_fingerprints()
                            .map(|f| format!("{} (not a trusted signer)", f.to_hex())),
                    ),
                    Err(error) => seen.push(format!("a bad signature ({error})")),
                }
            }
        }
        if allow_unsigned {
            return Ok(());
        }
        let found = match seen.is_empty() {
            true => "it is not signed".to_owned(),
            false => format!(
                "it is signed by {}, not by a trusted signer",
                seen.join(", ")
            ),
        };
        let why = format!("the backup is not authenticated: {found}");
        if let Ok(mut refusal) = self.refusal.lock() {
            *refusal = Some(why.clone());
        }
        anyhow::bail!(why)
    }
}
