//! Where a repository lives: LOCATION as restic users write it, turned into rustic_backend's
//! backends. A local folder; `sftp:USER@HOST:/PATH` (or `sftp://USER@HOST:PORT/PATH`) through
//! the ssh client and its configuration; `rest:URL` (restic's REST server, `rclone serve
//! restic`); `s3:https://HOST/BUCKET/PATH` (an S3-compatible server, credentials from the
//! usual `AWS_*` variables); `opendal:SCHEME` and `rclone:REMOTE:PATH` as rustic spells them.

use std::collections::BTreeMap;

use anklume_common::{Error, Result};
use rustic_backend::BackendOptions;
use rustic_core::RepositoryBackends;

/// A repository's location, as given and as rustic_backend takes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// As the user wrote it, for messages and for the hints that show a command.
    pub given: String,
    /// rustic_backend's repository string.
    backend: String,
    /// Options of that backend (OpenDAL's endpoint, root, ...).
    options: BTreeMap<String, String>,
}

impl Location {
    /// Parses LOCATION; an error says which spellings are understood.
    pub fn parse(given: &str) -> Result<Self> {
        let plain = |backend: &str| Self {
            given: given.to_owned(),
            backend: backend.to_owned(),
            options: BTreeMap::new(),
        };
        if given.is_empty() {
            return Err(Error::usage("the repository location is empty"));
        }
        if let Some(rest) = given.strip_prefix("sftp:") {
            let (endpoint, root) = sftp_parts(rest).ok_or_else(|| bad(given))?;
            return Ok(Self {
                options: BTreeMap::from([
                    ("endpoint".to_owned(), endpoint),
                    ("root".to_owned(), root),
                ]),
                ..plain("opendal:sftp")
            });
        }
        if let Some(rest) = given.strip_prefix("s3:") {
            return Ok(Self {
                options: s3_options(rest).ok_or_else(|| bad(given))?,
                ..plain("opendal:s3")
            });
        }
        if let Some(url) = given.strip_prefix("rest:") {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(bad(given));
            }
            return Ok(plain(given));
        }
        if given.starts_with("opendal:") || given.starts_with("rclone:") {
            return Ok(plain(given));
        }
        if given.starts_with("local:") {
            return Ok(plain(given));
        }
        // Anything else is a folder, as for restic; `local:` spares a folder named `x:y`.
        match given.split_once(':') {
            Some((scheme, _)) if !scheme.contains('/') => Err(bad(given)),
            _ => Ok(plain(&format!("local:{given}"))),
        }
    }

    /// The backends rustic opens the repository through.
    pub fn backends(&self) -> Result<RepositoryBackends> {
        BackendOptions::default()
            .repository(self.backend.clone())
            .options(self.options.clone())
            .to_backends()
            .map_err(|e| {
                Error::failure(format!(
                    "cannot reach repository {}: {}",
                    self.given,
                    super::rustic_message(&e)
                ))
            })
    }
}

fn bad(given: &str) -> Error {
    Error::usage(format!("cannot read repository location '{given}'")).with_hint(
        "write a folder, sftp:USER@HOST:/PATH, sftp://USER@HOST:PORT/PATH, rest:http://HOST:PORT/, s3:https://HOST/BUCKET/PATH, opendal:SCHEME or rclone:REMOTE:PATH",
    )
}

/// `USER@HOST:/PATH` (restic's form) or `//USER@HOST:PORT/PATH` (its URL form): the ssh
/// destination (as `ssh` takes it, so that its configuration applies) and the folder.
fn sftp_parts(rest: &str) -> Option<(String, String)> {
    if let Some(url) = rest.strip_prefix("//") {
        let (authority, path) = url.split_once('/')?;
        // restic's URL form: `sftp://host//abs` is absolute, `sftp://host/rel` relative.
        let root = path.to_owned();
        return (!authority.is_empty() && !root.is_empty())
            .then(|| (format!("ssh://{authority}"), root));
    }
    let (host, path) = rest.split_once(':')?;
    (!host.is_empty() && !path.is_empty()).then(|| (host.to_owned(), path.to_owned()))
}

/// `https://HOST[:PORT]/BUCKET[/PATH]` or `HOST/BUCKET[/PATH]` (https): OpenDAL's S3 options.
fn s3_options(rest: &str) -> Option<BTreeMap<String, String>> {
    let (scheme, rest) = match rest.split_once("://") {
        Some((scheme, rest)) if scheme == "http" || scheme == "https" => (scheme, rest),
        Some(_) => return None,
        None => ("https", rest),
    };
    let mut parts = rest.splitn(3, '/');
    let host = parts.next().filter(|h| !h.is_empty())?;
    let bucket = parts.next().filter(|b| !b.is_empty())?;
    let root = format!("/{}", parts.next().unwrap_or(""));
    let region = std::env::var("AWS_DEFAULT_REGION")
        .or_else(|_| std::env::var("AWS_REGION"))
        .unwrap_or_else(|_| "us-east-1".to_owned());
    Some(BTreeMap::from([
        ("endpoint".to_owned(), format!("{scheme}://{host}")),
        ("bucket".to_owned(), bucket.to_owned()),
        ("root".to_owned(), root),
        ("region".to_owned(), region),
    ]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn option(location: &Location, key: &str) -> String {
        location.options.get(key).cloned().unwrap_or_default()
    }

    #[test]
    fn folders_are_local_whatever_they_look_like() {
        assert_eq!(
            Location::parse("/srv/repo").unwrap().backend,
            "local:/srv/repo"
        );
        assert_eq!(Location::parse("repo").unwrap().backend, "local:repo");
        assert_eq!(Location::parse("./a:b").unwrap().backend, "local:./a:b");
        assert_eq!(Location::parse("local:x:y").unwrap().backend, "local:x:y");
        assert!(Location::parse("ftp:host:/x").is_err());
        assert!(Location::parse("").is_err());
    }

    #[test]
    fn sftp_takes_restics_two_spellings() {
        let short = Location::parse("sftp:backup@nas:/srv/repo").unwrap();
        assert_eq!(short.backend, "opendal:sftp");
        assert_eq!(option(&short, "endpoint"), "backup@nas");
        assert_eq!(option(&short, "root"), "/srv/repo");
        let url = Location::parse("sftp://backup@127.0.0.1:2222//srv/repo").unwrap();
        assert_eq!(option(&url, "endpoint"), "ssh://backup@127.0.0.1:2222");
        assert_eq!(option(&url, "root"), "/srv/repo");
        assert!(Location::parse("sftp:nas").is_err());
        assert!(Location::parse("sftp::/x").is_err());
    }

    #[test]
    fn rest_and_s3_need_a_url() {
        assert_eq!(
            Location::parse("rest:http://127.0.0.1:8000/")
                .unwrap()
                .backend,
            "rest:http://127.0.0.1:8000/"
        );
        assert!(Location::parse("rest:127.0.0.1:8000").is_err());
        let s3 = Location::parse("s3:http://127.0.0.1:9000/bucket/lab").unwrap();
        assert_eq!(s3.backend, "opendal:s3");
        assert_eq!(option(&s3, "endpoint"), "http://127.0.0.1:9000");
        assert_eq!(option(&s3, "bucket"), "bucket");
        assert_eq!(option(&s3, "root"), "/lab");
        assert!(Location::parse("s3:host").is_err());
    }
}
