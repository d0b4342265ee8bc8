//! `verify` (a backup read end to end, without Incus) and `list` (the backups of a directory).

use std::fs::{self, File};
use std::io::{Read, Write};
use std::path::Path;

use anklume_common::error::terminal_safe;
use anklume_common::progress::{Progress, human_size};
use anklume_common::table;
use anklume_common::{Error, Interrupt, Result};
use serde::Serialize;

use crate::archive::{self, Packing};
use crate::cli::{Format, ListArgs, VerifyArgs};
use crate::sign::Verdict;
use crate::{Keys, crypto, open_input, unauthenticated};

/// How much of an archive `list` reads at most to find its index.
const INDEX_SEARCH: usize = 16 << 20;

pub fn verify(interrupt: &Interrupt, args: &VerifyArgs) -> Result<()> {
    let keys = Keys::new(&args.keys)?;
    let file = args.file.clone().unwrap_or_else(|| "-".into());
    let label = format!("verifying {}", terminal_safe(&file.to_string_lossy()));
    let progress = Progress::new(label, None, args.quiet);
    let (plain, verdict) = open_input(&file, interrupt, &keys, progress)?;
    let encrypted = verdict.is_some();
    let damaged = |encrypted: bool, why: &str| match verdict.as_ref().and_then(Verdict::refusal) {
        Some(refused) => unauthenticated(refused),
        None => damaged(encrypted, why),
    };
    let (prefix, plain) =
        archive::peek(plain, archive::SNIFF_LEN).map_err(|e| damaged(encrypted, &e.to_string()))?;
    let packing = Packing::sniff(&prefix)
        .ok_or_else(|| damaged(encrypted, "neither a tar archive nor a known compression"))?;
    let mut counted = Counter {
        inner: plain,
        bytes: 0,
    };
    let walk = archive::walk(&mut counted, packing).map_err(|e| damaged(encrypted, e.message()))?;
    if args.quiet {
        return Ok(());
    }
    let signer = verdict.as_ref().and_then(Verdict::signer);
    let index = walk.index;
    let report = Report {
        file: file.to_string_lossy().into_owned(),
        instance: index.name.clone(),
        project: index.project().map(str::to_owned),
        kind: index.kind.clone().unwrap_or_else(|| "container".to_owned()),
        snapshots: index.snapshots.clone().unwrap_or_default(),
        pool: index.pool.clone(),
        backend: index.backend.clone(),
        size: counted.bytes,
        compression: packing.name().to_owned(),
        unpacked: walk.unpacked,
        entries: walk.entries,
        encrypted,
        authenticated: signer.is_some(),
        signer,
        intact: true,
    };
    let text = match args.format {
        Format::Table => report.table(),
        Format::Json => {
            serde_json::to_string_pretty(&report)
                .map_err(|e| Error::failure(format!("cannot write JSON: {e}")))?
                + "\n"
        }
        Format::Csv => table::csv(&[report.csv_row()]),
    };
    std::io::stdout()
        .write_all(text.as_bytes())
        .map_err(Error::stdout)
}

/// What `verify` found: what the backup says of itself (untrusted unless authenticated, and
/// printed with control characters escaped) and what the check established.
#[derive(Debug, Serialize)]
struct Report {
    file: String,
    instance: String,
    project: Option<String>,
    #[serde(rename = "type")]
    kind: String,
    snapshots: Vec<String>,
    pool: Option<String>,
    backend: Option<String>,
    /// Bytes of the archive (compressed).
    size: u64,
    compression: String,
    /// Bytes of the files it holds.
    unpacked: u64,
    entries: u64,
    encrypted: bool,
    signer: Option<String>,
    authenticated: bool,
    intact: bool,
}

impl Report {
    fn table(&self) -> String {
        let field = |value: Option<&str>, absent: &str| terminal_safe(value.unwrap_or(absent));
        let snapshots = match self.snapshots.is_empty() {
            true => "none".to_owned(),
            false => terminal_safe(&self.snapshots.join(", ")),
        };
        [
            format!("instance:    {}", terminal_safe(&self.instance)),
            format!("project:     {}", field(self.project.as_deref(), "?")),
            format!("type:        {}", terminal_safe(&self.kind)),
            format!("snapshots:   {snapshots}"),
            format!(
                "pool:        {} ({})",
                field(self.pool.as_deref(), "?"),
                field(self.backend.as_deref(), "?")
            ),
            format!(
                "archive:     {} {}, {} unpacked in {} entries",
                human_size(self.size),
                self.compression,
                human_size(self.unpacked),
                self.entries
            ),
            format!("encrypted:   {}", table::yes_no(self.encrypted)),
            format!("signer:      {}", field(self.signer.as_deref(), "none")),
            format!("authenticated: {}", table::yes_no(self.authenticated)),
            "integrity:   ok".to_owned(),
        ]
        .iter()
        .map(|line| line.clone() + "\n")
        .collect()
    }

    /// file, instance, project, type, snapshots (space-separated), pool, backend, size,
    /// compression, unpacked, entries, encrypted, signer, authenticated, intact.
    fn csv_row(&self) -> Vec<String> {
        vec![
            self.file.clone(),
            self.instance.clone(),
            self.project.clone().unwrap_or_default(),
            self.kind.clone(),
            self.snapshots.join(" "),
            self.pool.clone().unwrap_or_default(),
            self.backend.clone().unwrap_or_default(),
            self.size.to_string(),
            self.compression.clone(),
            self.unpacked.to_string(),
            self.entries.to_string(),
            table::yes_no(self.encrypted).to_owned(),
            self.signer.clone().unwrap_or_default(),
            table::yes_no(self.authenticated).to_owned(),
            table::yes_no(self.intact).to_owned(),
        ]
    }
}

/// A backup that cannot be read through: "does not decrypt" is one of the possible reasons
/// only when it is encrypted.
pub fn damaged(encrypted: bool, why: &str) -> Error {
    let what = if encrypted {
        "the backup does not decrypt or is damaged"
    } else {
        "the backup is damaged"
    };
    Error::failure(format!("{what}: {why}"))
}

/// Counts the bytes read through it.
struct Counter<R> {
    inner: R,
    bytes: u64,
}

impl<R: Read> Read for Counter<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.bytes += n as u64;
        Ok(n)
    }
}

/// One backup file, as `list` shows it.
#[derive(Debug, Clone, Serialize)]
struct Listed {
    file: String,
    instance: String,
    /// The project it was backed up from: read from an unencrypted archive; an encrypted one
    /// tells it once decrypted (`verify`).
    project: Option<String>,
    date: String,
    size: u64,
    compression: String,
    encrypted: bool,
    /// Key IDs of the certificates it is encrypted to.
    recipients: Vec<String>,
    /// Whether a passphrase opens it.
    passphrase: bool,
    /// Why the file could not be read, when it could not.
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

pub fn list(args: &ListArgs) -> Result<()> {
    let dir = args.dir.clone().unwrap_or_else(|| {
        std::env::var_os("ANKLUME_BACKUP_DIR")
            .filter(|v| !v.is_empty())
            .map_or_else(|| "backups".into(), Into::into)
    });
    let entries = fs::read_dir(&dir).map_err(|e| {
        Error::io(format!("cannot list {}", dir.display()), e)
            .with_hint("name the directory of your backups: anklume-backup list DIR")
    })?;
    // Links are followed: a link to a backup is listed, a broken one is an unreadable row.
    let mut names: Vec<String> = entries
        .filter_map(|entry| entry.ok())
        .filter(|entry| !fs::metadata(entry.path()).is_ok_and(|m| m.is_dir()))
        .filter_map(|entry| entry.file_name().into_string().ok())
        .filter(|name| !name.starts_with('.'))
        .collect();
    names.sort();
    // A file that cannot be read is a row saying why; the others are still listed.
    let listed: Vec<Listed> = names
        .iter()
        .filter_map(|name| describe(&dir, name))
        .collect();
    // Dates in RFC 3339, with the time zone, in JSON and CSV as every machine-read output of
    // the tools.
    let machine: Vec<Listed> = listed
        .iter()
        .map(|l| Listed {
            date: rfc3339(&l.date),
            ..l.clone()
        })
        .collect();
    let text = match args.format {
        Format::Json => {
            serde_json::to_string_pretty(&machine)
                .map_err(|e| Error::failure(format!("cannot write JSON: {e}")))?
                + "\n"
        }
        Format::Csv => table::csv(&machine.iter().map(csv_row).collect::<Vec<_>>()),
        Format::Table => print_table(&listed),
    };
    std::io::stdout()
        .write_all(text.as_bytes())
        .map_err(Error::stdout)?;
    match listed.iter().filter(|b| b.error.is_some()).count() {
        0 => Ok(()),
        n => Err(Error::failure(format!(
            "{n} of the {} backups in {} could not be read: see the rows marked unreadable",
            listed.len(),
            dir.display()
        ))),
    }
}

/// A backup's facts from its name (`INSTANCE-YYYYMMDD-HHMMSS.tar[.EXT][.gpg]`) and its first
/// bytes, or why they could not be read; `None` for a file that is not a backup. A backup is
/// recognised by its content whatever its name (`vault/web.tar.zst.gpg`): its instance is then
/// the name without extensions, its date the file's.
fn describe(dir: &Path, name: &str) -> Option<Listed> {
    let path = dir.join(name);
    let mut prefix = Vec::new();
    let read =
        File::open(&path).and_then(|f| f.take(archive::SNIFF_LEN as u64).read_to_end(&mut prefix));
    let packing = Packing::sniff(&prefix);
    let encrypted = crypto::looks_encrypted(&prefix);
    let (instance, date, compression) = match parse_file_name(name) {
        Some(named) => named,
        None if read.is_ok() && !encrypted && packing.is_none() => return None,
        None => (
            stem(name),
            modified(&path),
            packing.map_or("?", Packing::name).to_owned(),
        ),
    };
    let mut listed = Listed {
        file: name.to_owned(),
        instance,
        project: None,
        date,
        size: 0,
        compression,
        encrypted: name.ends_with(".gpg"),
        recipients: Vec::new(),
        passphrase: false,
        error: None,
    };
    if let Err(error) = read_facts(&dir.join(name), &mut listed) {
        listed.error = Some(error.message().to_owned());
    }
    Some(listed)
}

/// `YYYY-MM-DD HH:MM:SS` (local time) as RFC 3339 with the local offset; as it is if unreadable.
fn rfc3339(date: &str) -> String {
    use chrono::TimeZone;
    chrono::NaiveDateTime::parse_from_str(date, "%Y-%m-%d %H:%M:%S")
        .ok()
        .and_then(|naive| chrono::Local.from_local_datetime(&naive).earliest())
        .map_or_else(|| date.to_owned(), |local| local.to_rfc3339())
}

/// `web` of `web.tar.zst.gpg`.
fn stem(name: &str) -> String {
    let bare = name.strip_suffix(".gpg").unwrap_or(name);
    bare.split_once(".tar")
        .map_or(bare, |(stem, _)| stem)
        .to_owned()
}

/// The file's time of last change, as dates of names read (`YYYY-MM-DD HH:MM:SS`, local).
fn modified(path: &Path) -> String {
    fs::metadata(path)
        .and_then(|m| m.modified())
        .map(|t| {
            chrono::DateTime::<chrono::Local>::from(t)
                .format("%Y-%m-%d %H:%M:%S")
                .to_string()
        })
        .unwrap_or_else(|_| "?".to_owned())
}

/// Fills in the size, encryption and recipients of the backup at `path`.
fn read_facts(path: &Path, listed: &mut Listed) -> Result<()> {
    let failed = |e| Error::io(format!("cannot read {}", path.display()), e);
    listed.size = fs::metadata(path).map_err(failed)?.len();
    let mut prefix = Vec::new();
    File::open(path)
        .and_then(|file| file.take(64).read_to_end(&mut prefix))
        .map_err(failed)?;
    listed.encrypted = crypto::looks_encrypted(&prefix);
    if !listed.encrypted
        && let Some(packing) = Packing::sniff(&prefix)
    {
        // Only the first entries are read: Incus writes its index first.
        let file = File::open(path).map_err(failed)?;
        listed.project = archive::index_then_stream(file, packing, INDEX_SEARCH)
            .ok()
            .and_then(|(index, _)| index.project().map(str::to_owned));
    }
    if listed.encrypted {
        let file = File::open(path).map_err(failed)?;
        (listed.recipients, listed.passphrase) = crypto::recipients_of(file).map_err(|e| {
            Error::failure(format!(
                "cannot read the recipients of {}: {e}",
                path.display()
            ))
        })?;
    }
    Ok(())
}

/// (instance, "YYYY-MM-DD HH:MM:SS", compression) of a backup file name.
fn parse_file_name(name: &str) -> Option<(String, String, String)> {
    let bare = name.strip_suffix(".gpg").unwrap_or(name);
    let (stem, compression) = [
        (".tar.zst", "zstd"),
        (".tar.gz", "gzip"),
        (".tar.xz", "xz"),
        (".tar.bz2", "bzip2"),
        (".tar", "none"),
    ]
    .iter()
    .find_map(|(extension, compression)| Some((bare.strip_suffix(extension)?, *compression)))?;
    // INSTANCE-YYYYMMDD-HHMMSS: the stamp is the last 16 characters.
    let split = stem.len().checked_sub(16)?;
    let (instance, stamp) = (stem.get(..split)?, stem.get(split..)?);
    let digits = |s: &str| s.len() == 8 && s.bytes().all(|b| b.is_ascii_digit());
    let (day, time) = stamp.strip_prefix('-')?.split_once('-')?;
    if instance.is_empty() || !digits(day) || time.len() != 6 || !digits(&format!("00{time}")) {
        return None;
    }
    let date = format!(
        "{}-{}-{} {}:{}:{}",
        &day[..4],
        &day[4..6],
        &day[6..],
        &time[..2],
        &time[2..4],
        &time[4..]
    );
    Some((instance.to_owned(), date, compression.to_owned()))
}

/// A backup as a CSV row: file, instance, project, date, size in bytes, compression,
/// encrypted, recipients (space-separated), passphrase, error.
fn csv_row(b: &Listed) -> Vec<String> {
    vec![
        b.file.clone(),
        b.instance.clone(),
        b.project.clone().unwrap_or_default(),
        b.date.clone(),
        b.size.to_string(),
        b.compression.clone(),
        table::yes_no(b.encrypted).to_owned(),
        b.recipients.join(" "),
        table::yes_no(b.passphrase).to_owned(),
        b.error.clone().unwrap_or_default(),
    ]
}

fn print_table(listed: &[Listed]) -> String {
    let rows: Vec<Vec<String>> = listed
        .iter()
        .map(|b| {
            let recipients = match (b.recipients.is_empty(), b.passphrase) {
                (true, true) => "passphrase".to_owned(),
                (false, true) => format!("{}, passphrase", b.recipients.join(", ")),
                _ => b.recipients.join(", "),
            };
            let (size, recipients) = match &b.error {
                Some(error) => ("?".to_owned(), format!("unreadable: {error}")),
                None => (human_size(b.size), recipients),
            };
            let project = match (&b.project, b.encrypted) {
                (Some(project), _) => project.clone(),
                // Known once decrypted: `verify` shows it.
                (None, true) => "(encrypted)".to_owned(),
                (None, false) => "?".to_owned(),
            };
            vec![
                b.file.clone(),
                b.instance.clone(),
                project,
                b.date.clone(),
                size,
                b.compression.clone(),
                table::yes_no(b.encrypted).to_owned(),
                recipients,
            ]
        })
        .collect();
    // File names are anybody's: `aligned` escapes control characters.
    let header = [
        "FILE",
        "INSTANCE",
        "PROJECT",
        "DATE",
        "SIZE",
        "COMPRESSION",
        "ENCRYPTED",
        "RECIPIENTS",
    ];
    table::aligned(&header, &rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backup_file_names_give_instance_date_and_compression() {
        assert_eq!(
            parse_file_name("web-01-20261123-104501.tar.zst.gpg"),
            Some((
                "web-01".to_owned(),
                "2026-11-23 10:45:01".to_owned(),
                "zstd".to_owned()
            ))
        );
        assert_eq!(
            parse_file_name("db-20250102-030405.tar.gz").map(|p| p.2),
            Some("gzip".to_owned())
        );
        assert_eq!(parse_file_name("notes.txt"), None);
        assert_eq!(parse_file_name("-20250102-030405.tar"), None);
        assert_eq!(parse_file_name("web-2025010-030405.tar"), None);
    }
}
