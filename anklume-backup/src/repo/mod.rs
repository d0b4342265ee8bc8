//! Repositories in restic's format (version 2, compressed), read and written by rustic_core:
//! deduplicated, incremental backups that Debian's `restic` can read too.
//!
//! The repository's password is random and known to nobody: it is sealed (encrypted to the
//! OpenPGP recipients and signed, as file backups are) inside the restic key file it opens, in
//! a field restic ignores. So the sealed key lives in the repository's `keys/` folder whatever
//! the location, and a new host with the repository and the OpenPGP secret key can restore.

mod backup;
mod bars;
mod commands;
mod dump;
pub mod location;
mod maintain;
mod seal;
mod source;

use std::sync::Arc;

use anklume_common::error::terminal_safe;
use anklume_common::{Error, Result};
use rustic_core::{
    Credentials, Id, OpenStatus, Repository, RepositoryBackends, RepositoryOptions, RusticError,
    WriteBackend,
};

pub use backup::{create, restore};
pub use commands::{init, key};
pub use location::Location;
pub use maintain::{list, prune, verify};

use crate::Keys;
use seal::Secret;

/// The environment variable naming the repository when `--repo` is not given.
pub const REPO_VARIABLE: &str = "ANKLUME_BACKUP_REPO";

/// rustic's message, on one line: its guidance (the lines after `Message:`) and the first
/// line of its cause; rustic's errors otherwise span a page.
fn rustic_message(error: &RusticError) -> String {
    let text = error.to_string();
    let section = |title: &str| -> Vec<String> {
        text.lines()
            .skip_while(|line| line.trim() != title)
            .skip(1)
            .map(str::trim)
            .take_while(|line| !line.is_empty())
            .map(|line| line.trim_end_matches('.').to_owned())
            .collect()
    };
    let mut parts = section("Message:");
    if let Some(cause) = section("Caused by:").into_iter().next() {
        parts.push(cause);
    }
    match parts.is_empty() {
        true => text.lines().next().unwrap_or("unknown error").to_owned(),
        false => terminal_safe(&parts.join(": ")),
    }
}

/// A rustic error while doing `what` on the repository at `location`.
fn failed<'a>(what: &'a str, location: &'a Location) -> impl Fn(Box<RusticError>) -> Error + 'a {
    move |e| {
        Error::failure(format!(
            "cannot {what} repository {}: {}",
            location.given,
            rustic_message(&e)
        ))
    }
}

/// An ID in full hex.
fn hex(id: &Id) -> String {
    id.to_hex().as_str().to_owned()
}

/// The 8 first hex digits of an ID, as restic shows them.
fn short(id: &Id) -> String {
    hex(id)[..8].to_owned()
}

/// No cache: rustic's cache would keep copies of the repository's metadata on this host.
fn options() -> RepositoryOptions {
    RepositoryOptions::default().no_cache(true)
}

/// A repository opened with its unsealed key.
pub struct Opened {
    pub location: Location,
    pub repo: Repository<OpenStatus>,
    pub backend: Arc<dyn WriteBackend>,
    pub secret: Secret,
}

/// Opens the repository at `location` with the first of its sealed keys that `keys` unseal and
/// whose signature they trust.
/// rustic's own progress lines are shown unless `quiet`.
pub fn open(location: &Location, keys: &Keys, quiet: bool) -> Result<Opened> {
    let backends = location.backends()?;
    let backend = backends.repository();
    let fresh = Repository::new(&options(), &backends).map_err(failed("open", location))?;
    fresh
        .config_id()
        .map_err(failed("open", location))?
        .ok_or_else(|| not_a_repository(location))?;
    let sealed = seal::sealed_keys(&backend).map_err(failed("read the keys of", location))?;
    if sealed.is_empty() {
        return Err(Error::failure(format!(
            "repository {} has no key sealed by anklume-backup",
            location.given
        ))
        .with_hint(
            "open it with restic and its password, or create one with anklume-backup init",
        ));
    }
    let mut refusals = Vec::new();
    let mut unsealed = Vec::new();
    for (key_file, armored) in sealed {
        match seal::unseal(&armored, keys) {
            Ok(secret) => unsealed.push((key_file, secret)),
            Err(why) => refusals.push(why),
        }
    }
    // The newest key first: an older one put back must not bring its recipients back.
    unsealed.sort_by_key(|(_, secret)| std::cmp::Reverse(secret.generation));
    for (key_file, secret) in unsealed {
        let repo = match with_password(&backends, &secret.password, location, quiet) {
            Ok(repo) => repo,
            Err(e) => {
                refusals.push(e.message().to_owned());
                continue;
            }
        };
        if secret.repository != hex(&repo.config().id) {
            refusals.push(format!(
                "key {} was sealed for another repository",
                short(&key_file)
            ));
            continue;
        }
        return Ok(Opened {
            location: location.clone(),
            repo,
            backend,
            secret,
        });
    }
    refusals.dedup();
    Err(Error::failure(format!(
        "cannot open repository {}: {}",
        location.given,
        refusals.join("; ")
    ))
    .with_hint("its key is sealed to the recipients given to init (or key add): use one of their secret keys, in your GnuPG agent or with --key-file"))
}

fn with_password(
    backends: &RepositoryBackends,
    password: &str,
    location: &Location,
    quiet: bool,
) -> Result<Repository<OpenStatus>> {
    Repository::new_with_progress(&options(), backends, bars::Bars::new(quiet))
        .and_then(|repo| repo.open(&Credentials::password(password)))
        .map_err(failed("open", location))
}

fn not_a_repository(location: &Location) -> Error {
    Error::failure(format!(
        "{} is not a repository (it has no config file)",
        location.given
    ))
    .with_hint(format!(
        "create it with anklume-backup init --repo {} --gpg ID",
        anklume_common::error::shell_word(&location.given)
    ))
}

/// The location: `--repo`, else `ANKLUME_BACKUP_REPO`.
pub fn location_of(given: Option<&str>) -> Result<Option<Location>> {
    let from_env = std::env::var(REPO_VARIABLE).ok().filter(|v| !v.is_empty());
    given
        .map(str::to_owned)
        .or(from_env)
        .map(|l| Location::parse(&l))
        .transpose()
}

/// The location, required.
pub fn required_location(given: Option<&str>) -> Result<Location> {
    location_of(given)?.ok_or_else(|| {
        Error::usage("no repository given")
            .with_hint(format!("pass --repo LOCATION or set {REPO_VARIABLE}"))
    })
}
