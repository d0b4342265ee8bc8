//! Native OpenPGP encryption of backup streams (Sequoia, Nettle backend).
//!
//! Everything streams: memory stays bounded whatever the backup size.
//! Messages are written the way GnuPG 2.2 reads them: SEIPD v1 with an
//! MDC (never AEAD), binary, without a compression layer (the payload
//! is already compressed).

#![forbid(unsafe_code)]

use std::fmt;
use std::io::{self, Read, Write};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use anyhow::Context as _;
use sequoia_gpg_agent as gpg_agent;
use sequoia_openpgp as openpgp;

use openpgp::cert::prelude::*;
use openpgp::crypto::{Password, SessionKey};
use openpgp::packet::pkesk::PKESK3;
use openpgp::packet::{Key, PKESK, SKESK, key};
use openpgp::parse::stream::{
    DecryptionHelper, DecryptorBuilder, MessageStructure, VerificationHelper,
};
use openpgp::parse::{PacketParser, PacketParserResult, Parse};
use openpgp::policy::StandardPolicy;
use openpgp::serialize::Serialize;
use openpgp::serialize::stream::{Encryptor, LiteralWriter, Message};
use openpgp::types::{HashAlgorithm, RevocationStatus, SymmetricAlgorithm, Timestamp};
use openpgp::{Cert, KeyHandle, KeyID, Packet};

use crate::certs::{self, gpg_export, read_certs};
use crate::sign::{SigningKey, Trust, Verdict};

/// `static` so that the decrypting reader can be `'static`.
pub(crate) static POLICY: StandardPolicy<'static> = StandardPolicy::new();

/// Plaintext the decryptor holds back until the MDC is verified (never
/// released if it fails).  The 25 MiB default costs ~180 MB of RSS;
/// with Sequoia 2.4.2, 4 KiB or less reads the whole message into
/// memory and then panics.  1 MiB: ~20 MB peak RSS.
const HOLD_BACK: usize = 1024 * 1024;

/// AES-256: supported by every OpenPGP implementation we care about.
const CIPHER: SymmetricAlgorithm = SymmetricAlgorithm::AES256;

/// A short, actionable message for the user.
#[derive(Debug)]
pub struct CryptoError(String);

impl CryptoError {
    pub(crate) fn new(msg: impl Into<String>) -> Self {
        CryptoError(msg.into())
    }

    /// The same error, its message prefixed with `what` (the option it is about).
    pub(crate) fn context(self, what: &str) -> Self {
        CryptoError(format!("{what} {}", self.0))
    }
}

impl fmt::Display for CryptoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for CryptoError {}

impl From<anyhow::Error> for CryptoError {
    fn from(e: anyhow::Error) -> Self {
        // `{:#}` keeps the whole context chain on one line.
        CryptoError(format!("{e:#}"))
    }
}

impl From<io::Error> for CryptoError {
    fn from(e: io::Error) -> Self {
        CryptoError(e.to_string())
    }
}

/// The encryption-capable (storage or transport) subkeys usable now.
fn encryption_keys<'a>(
    vc: &'a ValidCert<'a>,
) -> impl Iterator<Item = ValidErasedKeyAmalgamation<'a, key::PublicParts>> + 'a {
    vc.keys()
        .supported()
        .alive()
        .revoked(false)
        .for_storage_encryption()
        .for_transport_encryption()
}

/// Refuses a cert we must not encrypt a backup to.
fn check_recipient(cert: &Cert, label: &str) -> Result<(), CryptoError> {
    let fpr = cert.fingerprint().to_hex();
    let who = if label == fpr {
        fpr
    } else {
        format!("{label} ({fpr})")
    };
    let vc = cert
        .with_policy(&POLICY, None)
        .map_err(|e| CryptoError::new(format!("certificate {who} is not valid: {e:#}")))?;
    if let RevocationStatus::Revoked(_) = vc.revocation_status() {
        return Err(CryptoError::new(format!(
            "certificate {who} is revoked: refusing to encrypt to it"
        )));
    }
    if vc.alive().is_err() {
        let state = match vc
            .primary_key()
            .key_expiration_time()
            .map(Timestamp::try_from)
        {
            Some(Ok(t)) if SystemTime::from(t) <= SystemTime::now() => format!("expired on {t}"),
            _ => "is not valid now (expired, or created in the future)".to_string(),
        };
        return Err(CryptoError::new(format!(
            "certificate {who} {state}: refusing to encrypt to it"
        )));
    }
    if encryption_keys(&vc).next().is_none() {
        return Err(CryptoError::new(format!(
            "certificate {who} has no valid encryption-capable subkey \
             (sign-only, or its encryption subkeys are expired or revoked)"
        )));
    }
    Ok(())
}

/// Certificates to encrypt to: each ID (fingerprint, key ID or e-mail)
/// is looked up first in `cert_files`, then in the user's GnuPG keyring
/// (`gpg --export`, $GNUPGHOME honoured).  Expired, revoked and
/// encryption-incapable certs are refused, naming the ID.  With no
/// `ids`, every cert in the files is a recipient.
pub fn load_recipients(cert_files: &[PathBuf], ids: &[String]) -> Result<Vec<Cert>, CryptoError> {
    let mut from_files = Vec::new();
    for path in cert_files {
        from_files.extend(read_certs(path)?);
    }
    // Never keep secret key material around longer than needed.
    let from_files: Vec<Cert> = from_files
        .into_iter()
        .map(Cert::strip_secret_key_material)
        .collect();

    let mut chosen: Vec<(String, Cert)> = Vec::new();
    if ids.is_empty() {
        if from_files.is_empty() {
            return Err(CryptoError::new(
                "no recipients: give a certificate file or a recipient ID",
            ));
        }
        chosen.extend(
            from_files
                .iter()
                .map(|c| (c.fingerprint().to_hex(), c.clone())),
        );
    }
    for id in ids {
        match certs::find(id, &from_files).map_err(|e| e.context("recipient"))? {
            Some(cert) => chosen.push((id.clone(), cert)),
            None => {
                return Err(CryptoError::new(format!(
                    "recipient {id}: no such certificate in the certificate files or the GnuPG keyring"
                )));
            }
        }
    }

    let mut certs: Vec<Cert> = Vec::new();
    for (label, cert) in chosen {
        check_recipient(&cert, &label)?;
        if !certs.iter().any(|c| c.fingerprint() == cert.fingerprint()) {
            certs.push(cert);
        }
    }
    Ok(certs)
}

/// Lets us take the output back from Sequoia's writer stack, which
/// otherwise drops it on finalize.
struct SharedSink<W>(Arc<Mutex<W>>);

impl<W: Write> Write for SharedSink<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0
            .lock()
            .map_err(|_| io::Error::other("output writer poisoned"))?
            .write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0
            .lock()
            .map_err(|_| io::Error::other("output writer poisoned"))?
            .flush()
    }
}

/// A writer encrypting everything written to it.  Call
/// [`EncryptWriter::finish`]: dropping it leaves an invalid message.
pub struct EncryptWriter<W: Write + Send + Sync + 'static> {
    message: Message<'static>,
    output: Arc<Mutex<W>>,
}

impl<W: Write + Send + Sync + 'static> Write for EncryptWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.message.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.message.flush()
    }
}

impl<W: Write + Send + Sync + 'static> EncryptWriter<W> {
    /// Writes the trailing packets (MDC included), flushes and returns
    /// the output writer.
    pub fn finish(self) -> Result<W, CryptoError> {
        self.message
            .finalize()
            .map_err(|e| CryptoError::new(format!("cannot finish the encrypted stream: {e:#}")))?;
        let mut output = Arc::try_unwrap(self.output)
            .map_err(|_| CryptoError::new("encrypted output still in use after finishing"))?
            .into_inner()
            .map_err(|_| CryptoError::new("encrypted output writer poisoned"))?;
        output.flush()?;
        Ok(output)
    }
}

/// Wraps `output` so that what is written is encrypted (SEIPD v1 with
/// MDC, binary, uncompressed) to every valid encryption subkey of the
/// `recipients` and/or to `passphrase`.
pub fn encrypt<W: Write + Send + Sync + 'static>(
    output: W,
    recipients: &[Cert],
    passphrase: Option<&str>,
    signer: Option<SigningKey>,
) -> Result<EncryptWriter<W>, CryptoError> {
    if recipients.is_empty() && passphrase.is_none() {
        return Err(CryptoError::new(
            "nothing to encrypt to: give a recipient or a passphrase",
        ));
    }
    let output = Arc::new(Mutex::new(output));
    let mut message = Message::new(SharedSink(Arc::clone(&output)));
    let session_key = SessionKey::new(CIPHER.key_size()?)?;

    // We write the PKESKs ourselves rather than handing `Recipient`s
    // to the Encryptor: (1) Recipients borrow the certs, which would
    // tie the writer's lifetime to them; (2) v3 PKESKs + no
    // recipients in the Encryptor make it pick SEIPD v1, whereas certs
    // made by Sequoia 2 advertise SEIPD v2, which GnuPG 2.2 cannot read.
    for cert in recipients {
        let vc = cert.with_policy(&POLICY, None)?;
        let mut any = false;
        for ka in encryption_keys(&vc) {
            let pkesk = PKESK3::for_recipient(CIPHER, &session_key, ka.key())?;
            Packet::PKESK(PKESK::from(pkesk)).serialize(&mut message)?;
            any = true;
        }
        if !any {
            return Err(CryptoError::new(format!(
                "certificate {} has no valid encryption-capable subkey",
                cert.fingerprint()
            )));
        }
    }

    let mut message = Encryptor::with_session_key(message, CIPHER, session_key)?
        .add_passwords(passphrase)
        .build()?;
    // Signed inside the encryption: only the recipients learn who made the backup.
    // SHA-256: Nettle computes it with the CPU's SHA extensions, several times faster than
    // Sequoia's default SHA-512 on a large backup; every OpenPGP implementation verifies it.
    if let Some(key) = signer {
        message = openpgp::serialize::stream::Signer::new(message, key.pair)?
            .hash_algo(HashAlgorithm::SHA256)?
            .build()?;
    }
    // No Compressor: the payload is already compressed.
    let message = LiteralWriter::new(message).build()?;
    Ok(EncryptWriter { message, output })
}

/// Reads a passphrase on the controlling terminal, without echo
/// (rpassword opens /dev/tty itself, so stdin/stdout stay free for data).
fn prompt(what: &str) -> anyhow::Result<Password> {
    rpassword::prompt_password(format!("Passphrase for {what}: "))
        .map(Password::from)
        .map_err(|e| anyhow::anyhow!("{what} needs a passphrase and there is no terminal to ask on ({e}): pass --passphrase-file"))
}

/// Decryption strategy: key files, then gpg-agent, then passphrase; and
/// which signers are trusted.
struct Helper {
    secret_certs: Vec<Cert>,
    passphrase: Option<Password>,
    use_agent: bool,
    trust: Trust,
    /// The certificate whose key decrypted the message.
    decrypted_by: Option<Cert>,
    verdict: Verdict,
}

impl Helper {
    /// `--signer`, else the certificate of the key that decrypted the backup.
    fn trusted(&self) -> Vec<Cert> {
        match (self.trust.signers.is_empty(), &self.decrypted_by) {
            (false, _) => self.trust.signers.clone(),
            (true, Some(cert)) => vec![cert.clone()],
            (true, None) => Vec::new(),
        }
    }
}

impl VerificationHelper for Helper {
    fn get_certs(&mut self, _ids: &[KeyHandle]) -> openpgp::Result<Vec<Cert>> {
        Ok(self.trusted())
    }

    // Called at the end of the message, before the last bytes are released:
    // integrity comes from the MDC, authenticity from a trusted signature.
    fn check(&mut self, structure: MessageStructure) -> openpgp::Result<()> {
        let trusted = self.trusted();
        self.verdict
            .judge(structure, &trusted, self.trust.allow_unsigned)
    }
}

/// Whether `pkesk` may be decrypted by `key` (wildcard: any key).
fn addressed_to<P: key::KeyParts, R: key::KeyRole>(pkesk: &PKESK, key: &Key<P, R>) -> bool {
    pkesk
        .recipient()
        .is_none_or(|h| h.aliases(key.key_handle()))
}

impl Helper {
    /// An unlocked secret key: with the given passphrase, else by
    /// asking on the terminal (three tries).
    fn unlock(
        &self,
        key: &Key<key::SecretParts, key::UnspecifiedRole>,
    ) -> anyhow::Result<openpgp::crypto::KeyPair> {
        if !key.secret().is_encrypted() {
            return key.clone().into_keypair();
        }
        let what = format!("secret key {:X}", key.keyid());
        if let Some(p) = &self.passphrase {
            return key
                .clone()
                .decrypt_secret(p)
                .map_err(|_| anyhow::anyhow!("the given passphrase does not unlock {what}"))?
                .into_keypair();
        }
        for _ in 0..3 {
            if let Ok(k) = key.clone().decrypt_secret(&prompt(&what)?) {
                return k.into_keypair();
            }
            eprintln!("Wrong passphrase for {what}.");
        }
        anyhow::bail!("wrong passphrase for {what}")
    }

    fn try_key_files(
        &self,
        pkesks: &[PKESK],
        sym_algo: Option<SymmetricAlgorithm>,
        decrypt: &mut dyn FnMut(Option<SymmetricAlgorithm>, &SessionKey) -> bool,
        notes: &mut Vec<String>,
    ) -> Option<Cert> {
        for pkesk in pkesks {
            for cert in &self.secret_certs {
                for ka in cert
                    .keys()
                    .secret()
                    .filter(|ka| addressed_to(pkesk, ka.key()))
                {
                    match self.unlock(ka.key().role_as_unspecified()) {
                        Ok(mut pair) => {
                            if let Some((algo, sk)) = pkesk.decrypt(&mut pair, sym_algo)
                                && decrypt(algo, &sk)
                            {
                                return Some(cert.clone());
                            }
                        }
                        Err(e) => notes.push(format!("{e:#}")),
                    }
                }
            }
        }
        None
    }

    /// Asks the user's gpg-agent, for the recipients whose public cert
    /// is in the GnuPG keyring (needed to address the agent's key).
    fn try_agent(
        pkesks: &[PKESK],
        sym_algo: Option<SymmetricAlgorithm>,
        decrypt: &mut dyn FnMut(Option<SymmetricAlgorithm>, &SessionKey) -> bool,
    ) -> anyhow::Result<Option<Cert>> {
        let ids: Vec<String> = pkesks
            .iter()
            .filter_map(|p| p.recipient())
            .map(|h| format!("{:X}", KeyID::from(h)))
            .collect();
        if ids.is_empty() {
            return Ok(None);
        }
        let certs = gpg_export(&ids)?;
        if certs.is_empty() {
            return Ok(None);
        }
        // sequoia-gpg-agent is async: a throwaway current-thread
        // runtime.  It must not be entered while KeyPair::decrypt runs,
        // which builds its own; block_on only enters it for the call.
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .build()?;
        let ctx = gpg_agent::gnupg::Context::new()?;
        let mut agent = rt
            .block_on(gpg_agent::Agent::connect(&ctx))
            .context("cannot connect to gpg-agent")?;
        let mut refused = Vec::new();
        for pkesk in pkesks {
            for cert in &certs {
                for ka in cert.keys().filter(|ka| addressed_to(pkesk, ka.key())) {
                    let key = ka.key().role_as_unspecified();
                    if !rt.block_on(agent.has_key(key))? {
                        continue;
                    }
                    let mut pair = agent.keypair(key)?;
                    if let Some((algo, sk)) = pkesk.decrypt(&mut pair, sym_algo)
                        && decrypt(algo, &sk)
                    {
                        return Ok(Some(cert.clone()));
                    }
                    refused.push(format!("{:X}", key.keyid()));
                }
            }
        }
        if refused.is_empty() {
            Ok(None)
        } else {
            anyhow::bail!(
                "it holds key {} but could not decrypt with it (passphrase not given?)",
                refused.join(", ")
            )
        }
    }
}

impl DecryptionHelper for Helper {
    fn decrypt(
        &mut self,
        pkesks: &[PKESK],
        skesks: &[SKESK],
        sym_algo: Option<SymmetricAlgorithm>,
        decrypt: &mut dyn FnMut(Option<SymmetricAlgorithm>, &SessionKey) -> bool,
    ) -> openpgp::Result<Option<Cert>> {
        let mut notes = Vec::new();
        if let Some(cert) = self.try_key_files(pkesks, sym_algo, decrypt, &mut notes) {
            self.decrypted_by = Some(cert.clone());
            return Ok(Some(cert));
        }
        if self.use_agent {
            match Self::try_agent(pkesks, sym_algo, decrypt) {
                Ok(Some(cert)) => {
                    self.decrypted_by = Some(cert.clone());
                    return Ok(Some(cert));
                }
                Ok(None) => (),
                Err(e) => notes.push(format!("gpg-agent: {e:#}")),
            }
        }
        if !skesks.is_empty() {
            let password = match &self.passphrase {
                Some(p) => Ok(p.clone()),
                None => prompt("this backup"),
            };
            match password {
                Ok(p) => {
                    let opened = skesks
                        .iter()
                        .filter_map(|s| s.decrypt(&p).ok())
                        .any(|(algo, sk)| decrypt(algo, &sk));
                    if opened {
                        return Ok(None);
                    }
                    notes.push("the passphrase does not open this backup".into());
                }
                Err(e) => notes.push(format!("{e:#}")),
            }
        }

        let recipients: Vec<String> = pkesks
            .iter()
            .map(|p| {
                format!(
                    "{:X}",
                    p.recipient()
                        .map(KeyID::from)
                        .unwrap_or_else(KeyID::wildcard)
                )
            })
            .collect();
        let mut msg = match (recipients.is_empty(), skesks.is_empty()) {
            (true, _) => "cannot decrypt this passphrase-encrypted backup".to_string(),
            (false, true) => format!(
                "no secret key for this backup: it is encrypted to {}; pass --key-file or load the key into gpg-agent",
                recipients.join(", ")
            ),
            (false, false) => format!(
                "cannot decrypt this backup: it is encrypted to {} and to a passphrase; \
                 pass --key-file, load the key into gpg-agent, or give the passphrase",
                recipients.join(", ")
            ),
        };
        if !notes.is_empty() {
            msg = format!("{msg} ({})", notes.join("; "));
        }
        Err(anyhow::anyhow!(msg))
    }
}

/// A reader yielding the plaintext of the encrypted `input`.  Secret
/// keys are taken from `key_files` (an encrypted key is unlocked with
/// `passphrase`, else asked for on the terminal), then from the user's
/// gpg-agent (if `use_agent`), then `passphrase` (or a terminal
/// prompt) opens a passphrase-encrypted backup.
///
/// The last 1 MiB of plaintext is only released once the MDC verified;
/// a failed integrity check or a truncated message is an `io::Error`
/// from `read()`.
pub fn decrypt<R: Read + Send + Sync + 'static>(
    input: R,
    key_files: &[PathBuf],
    passphrase: Option<&str>,
    use_agent: bool,
    trust: Trust,
) -> Result<(impl Read + Send + Sync + use<R>, Verdict), CryptoError> {
    let mut secret_certs = Vec::new();
    for path in key_files {
        let certs = read_certs(path)?;
        if !certs.iter().any(Cert::is_tsk) {
            return Err(CryptoError::new(format!(
                "{} holds no secret key (only public certificates)",
                path.display()
            )));
        }
        secret_certs.extend(certs);
    }
    let verdict = Verdict::default();
    let helper = Helper {
        secret_certs,
        passphrase: passphrase.map(Password::from),
        use_agent,
        trust,
        decrypted_by: None,
        verdict: verdict.clone(),
    };
    let reader = DecryptorBuilder::from_reader(input)?
        .buffer_size(HOLD_BACK)
        .with_policy(&POLICY, None, helper)?;
    Ok((PlainReader(reader), verdict))
}

/// Gives Sequoia's terse read errors ("Message has been manipulated",
/// also its verdict on a truncated message) a meaning for the user.
/// Sequoia passes I/O errors of the input through unchanged and wraps
/// its own (as anyhow, not downcastable) in kind `Other`.
struct PlainReader<R>(R);

impl<R: Read> Read for PlainReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf).map_err(|e| {
            if e.kind() == io::ErrorKind::Other && e.get_ref().is_some() {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!(
                        "the encrypted backup is corrupt, truncated or was tampered with ({e})"
                    ),
                )
            } else {
                e
            }
        })
    }
}

/// True when `prefix` starts an OpenPGP encrypted message: binary
/// (a PKESK or SKESK packet header) or ASCII-armored.  Give at least
/// 22 bytes to recognise armor; one byte suffices for binary.
pub fn looks_encrypted(prefix: &[u8]) -> bool {
    const ARMOR: &[u8] = b"-----BEGIN PGP MESSAGE";
    let Some(&ctb) = prefix.first() else {
        return false;
    };
    let tag = match ctb & 0xC0 {
        0xC0 => ctb & 0x3F,        // new-format packet header
        0x80 => (ctb >> 2) & 0x0F, // old-format packet header
        _ => {
            let text = prefix.trim_ascii_start();
            let n = text.len().min(ARMOR.len());
            return n > 0 && text[..n] == ARMOR[..n];
        }
    };
    tag == 1 || tag == 3
}

/// The recipients' key IDs (16 upper-case hex digits; an anonymous
/// recipient shows as 0000000000000000) of an encrypted message, from
/// its PKESK packets, and whether a passphrase (SKESK) can open it.
/// Reads only the packets before the encrypted data.
pub fn recipients_of<R: Read + Send + Sync>(input: R) -> Result<(Vec<String>, bool), CryptoError> {
    let mut ids = Vec::new();
    let mut passphrase = false;
    let mut ppr = PacketParser::from_reader(input)?;
    while let PacketParserResult::Some(pp) = ppr {
        match &pp.packet {
            Packet::PKESK(p) => ids.push(format!(
                "{:X}",
                p.recipient()
                    .map(KeyID::from)
                    .unwrap_or_else(KeyID::wildcard)
            )),
            Packet::SKESK(_) => passphrase = true,
            Packet::Marker(_) => (),
            // The encrypted data (or anything else): stop before its body.
            _ => break,
        }
        ppr = pp.next()?.1;
    }
    if ids.is_empty() && !passphrase {
        return Err(CryptoError::new("not an encrypted OpenPGP message"));
    }
    Ok((ids, passphrase))
}
