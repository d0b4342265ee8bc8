//! `list --repo` (snapshots, with what each added), `prune` (restic's retention policy, then
//! the packs nothing uses any more) and `verify --repo` (rustic's check; with `--read-data`,
//! every pack re-read and authenticated, and the snapshots a damage reaches named).

use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, Write};
use std::sync::Arc;

use anklume_common::error::terminal_safe;
use anklume_common::progress::human_size;
use anklume_common::{Error, Result, table};
use rustic_core::repofile::{NodeType, SnapshotFile, SnapshotId};
use rustic_core::{CheckOptions, IndexedFullStatus, KeepOptions, PruneOptions, Repository};
use serde::Serialize;

use super::backup::tag;
use super::dump::BlobReader;
use super::{Location, failed, open, rustic_message};
use crate::Keys;
use crate::cli::{Format, PruneArgs, VerifyArgs};

/// A snapshot as `list` shows it.
#[derive(Serialize)]
struct Row {
    id: String,
    instance: Option<String>,
    project: Option<String>,
    host: String,
    /// RFC 3339, with the time zone.
    date: String,
    /// Bytes of the instance's archive.
    size: u64,
    /// Bytes this snapshot added to the repository (compressed, encrypted packs).
    added: u64,
    paths: Vec<String>,
}

impl Row {
    fn of(snap: &SnapshotFile) -> Self {
        let summary = snap.summary.as_ref();
        Self {
            id: super::hex(&snap.id),
            instance: tag(snap, "instance"),
            project: tag(snap, "project"),
            host: snap.hostname.clone(),
            date: snap.time.strftime("%Y-%m-%dT%H:%M:%S%:z").to_string(),
            size: summary.map_or(0, |s| s.total_bytes_processed),
            added: summary.map_or(0, |s| s.data_added_packed),
            paths: snap.paths.iter().cloned().collect(),
        }
    }
}

/// id, instance, project, host, date, size, added, paths (space-separated).
fn csv_rows(rows: &[Row]) -> Vec<Vec<String>> {
    rows.iter()
        .map(|r| {
            vec![
                r.id.clone(),
                r.instance.clone().unwrap_or_default(),
                r.project.clone().unwrap_or_default(),
                r.host.clone(),
                r.date.clone(),
                r.size.to_string(),
                r.added.to_string(),
                r.paths.join(" "),
            ]
        })
        .collect()
}

/// `list --repo LOCATION`: its snapshots, oldest first.
pub fn list(location: &Location, keys: &Keys, format: Format) -> Result<()> {
    let opened = open(location, keys, true)?;
    let mut snaps = opened
        .repo
        .get_all_snapshots()
        .map_err(failed("read the snapshots of", location))?;
    snaps.sort_by(|a, b| a.time.cmp(&b.time));
    let rows: Vec<Row> = snaps.iter().map(Row::of).collect();
    let mut out = io::stdout().lock();
    let written = match format {
        Format::Json => serde_json::to_writer_pretty(&mut out, &rows)
            .map_err(io::Error::other)
            .and_then(|()| writeln!(out)),
        Format::Csv => out.write_all(table::csv(&csv_rows(&rows)).as_bytes()),
        Format::Table => table(&mut out, &rows),
    };
    written.and_then(|()| out.flush()).map_err(Error::stdout)
}

fn table(out: &mut dyn Write, rows: &[Row]) -> io::Result<()> {
    writeln!(
        out,
        "{:<8}  {:<24}  {:<12}  {:<19}  {:>10}  {:>10}",
        "ID", "INSTANCE", "PROJECT", "DATE", "SIZE", "ADDED"
    )?;
    for row in rows {
        let instance = row.instance.clone().unwrap_or_else(|| row.paths.join(" "));
        writeln!(
            out,
            "{:<8}  {:<24}  {:<12}  {:<19}  {:>10}  {:>10}",
            &row.id[..8],
            terminal_safe(&instance),
            terminal_safe(row.project.as_deref().unwrap_or("-")),
            row.date.get(..19).unwrap_or(&row.date).replace('T', " "),
            human_size(row.size),
            human_size(row.added)
        )?;
    }
    Ok(())
}

/// `prune`: forgets the snapshots the policy does not keep (per instance and project), then
/// removes or repacks the data only they used.
pub fn prune(args: &PruneArgs, location: &Location) -> Result<()> {
    let keep = keep_options(args)?;
    let opened = open(location, &Keys::new(&args.keys)?, args.quiet)?;
    let repo = opened.repo;
    let snaps = repo
        .get_all_snapshots()
        .map_err(failed("read the snapshots of", location))?;
    let forget = to_forget(snaps, &keep, args.instance.as_deref())?;
    for (snap, reason) in &forget {
        println!("{}", super::hex(&snap.id));
        if !args.quiet {
            eprintln!(
                "anklume-backup: {} snapshot {} of {} ({}): {}",
                if args.dry_run {
                    "would forget"
                } else {
                    "forgets"
                },
                super::short(&snap.id),
                terminal_safe(&tag(snap, "instance").unwrap_or_else(|| snap.paths.to_string())),
                snap.time.strftime("%Y-%m-%d %H:%M:%S"),
                if reason.is_empty() {
                    "not kept".to_owned()
                } else {
                    terminal_safe(reason)
                }
            );
        }
    }
    if args.dry_run {
        return Ok(());
    }
    let ids: Vec<SnapshotId> = forget.iter().map(|(s, _)| s.id).collect();
    repo.delete_snapshots(&ids)
        .map_err(failed("forget snapshots in", location))?;
    let opts = PruneOptions::default().instant_delete(args.instant);
    let plan = repo
        .prune_plan(&opts)
        .map_err(failed("plan the pruning of", location))?;
    let sizes = plan.stats.size_sum();
    let freed = sizes.remove + sizes.repackrm;
    repo.prune(&opts, plan).map_err(failed("prune", location))?;
    if !args.quiet {
        eprintln!(
            "anklume-backup: forgot {}, {} of data no snapshot uses is {}",
            super::commands::plural(ids.len(), "snapshot"),
            human_size(freed),
            if args.instant {
                "removed"
            } else {
                "marked, removed by a prune a day from now"
            }
        );
    }
    Ok(())
}

fn keep_options(args: &PruneArgs) -> Result<KeepOptions> {
    let count = |n: Option<u32>| n.map(|n| i32::try_from(n).unwrap_or(i32::MAX));
    let mut keep = KeepOptions::default();
    keep.keep_last = count(args.keep_last);
    keep.keep_hourly = count(args.keep_hourly);
    keep.keep_daily = count(args.keep_daily);
    keep.keep_weekly = count(args.keep_weekly);
    keep.keep_monthly = count(args.keep_monthly);
    keep.keep_yearly = count(args.keep_yearly);
    let any = [
        args.keep_last,
        args.keep_hourly,
        args.keep_daily,
        args.keep_weekly,
        args.keep_monthly,
        args.keep_yearly,
    ]
    .iter()
    .any(Option::is_some);
    if !any {
        return Err(
            Error::usage("prune needs a policy: at least one --keep-* option").with_hint(
                "e.g. --keep-daily 7 --keep-weekly 4 (--keep-last N keeps the N latest)",
            ),
        );
    }
    Ok(keep)
}

/// The snapshots to forget, with the policy applied to each group of snapshots of one
/// instance in one project (snapshots of other clients: one host and paths), and why.
fn to_forget(
    snaps: Vec<SnapshotFile>,
    keep: &KeepOptions,
    instance: Option<&str>,
) -> Result<Vec<(SnapshotFile, String)>> {
    let mut groups: BTreeMap<Vec<String>, Vec<SnapshotFile>> = BTreeMap::new();
    for snap in snaps {
        let name = tag(&snap, "instance");
        if instance.is_some() && name.as_deref() != instance {
            continue;
        }
        // One instance of one project on one remote, backed up from one host.
        let key = vec![
            name.unwrap_or_else(|| snap.paths.to_string()),
            tag(&snap, "project").unwrap_or_default(),
            tag(&snap, "remote").unwrap_or_default(),
            snap.hostname.clone(),
        ];
        groups.entry(key).or_default().push(snap);
    }
    let now = rustic_core::jiff::Zoned::now();
    let mut forget = Vec::new();
    for (_, group) in groups {
        let judged = keep
            .apply(group, &now)
            .map_err(|e| Error::usage(rustic_message(&e)))?;
        forget.extend(
            judged
                .into_iter()
                .filter(|j| !j.keep)
                .map(|j| (j.snapshot, j.reasons.join(", "))),
        );
    }
    Ok(forget)
}

/// `verify --repo`: rustic's check of the repository's structure; with `read_data`, every pack
/// re-read and authenticated. A damage found is traced to the snapshots it reaches.
pub fn verify(location: &Location, keys: &Keys, args: &VerifyArgs) -> Result<()> {
    let (read_data, quiet) = (args.read_data, args.quiet);
    let opened = open(location, keys, quiet)?;
    let results = opened
        .repo
        .check(CheckOptions::default().read_data(read_data))
        .map_err(failed("check", location))?;
    // rustic does not export the level's type: its name tells.
    let errors: Vec<String> = results
        .0
        .iter()
        .filter(|(level, _)| format!("{level:?}") == "Error")
        .map(|(_, e)| e.to_string())
        .collect();
    let intact = errors.is_empty() && results.is_ok().is_ok();
    let damaged = match intact {
        true => BTreeSet::new(),
        false => {
            let repo = opened
                .repo
                .to_indexed()
                .map_err(failed("read the index of", location))?;
            damaged_snapshots(Arc::new(repo))
        }
    };
    let report = RepoReport {
        repository: location.given.clone(),
        read_data,
        intact,
        errors,
        damaged_snapshots: damaged
            .into_iter()
            .map(|(id, instance)| Damaged { id, instance })
            .collect(),
    };
    report.print(args.format, quiet)?;
    report.verdict()
}

/// What `verify --repo` found.
#[derive(Serialize)]
struct RepoReport {
    repository: String,
    read_data: bool,
    intact: bool,
    errors: Vec<String>,
    damaged_snapshots: Vec<Damaged>,
}

#[derive(Serialize)]
struct Damaged {
    id: String,
    instance: String,
}

impl RepoReport {
    /// The report on stdout as JSON or CSV (repository, read_data, intact, errors,
    /// damaged snapshot IDs space-separated); as a table, each error on stderr, and the verdict
    /// unless `quiet` (stdout stays empty).
    fn print(&self, format: Format, quiet: bool) -> Result<()> {
        let text = match format {
            _ if quiet && format != Format::Table => return Ok(()),
            Format::Json => {
                serde_json::to_string_pretty(self)
                    .map_err(|e| Error::failure(format!("cannot write JSON: {e}")))?
                    + "\n"
            }
            Format::Csv => table::csv(&[vec![
                self.repository.clone(),
                table::yes_no(self.read_data).to_owned(),
                table::yes_no(self.intact).to_owned(),
                self.errors.len().to_string(),
                self.damaged_snapshots
                    .iter()
                    .map(|d| d.id.clone())
                    .collect::<Vec<_>>()
                    .join(" "),
            ]]),
            Format::Table => {
                for error in &self.errors {
                    eprintln!("anklume-backup: {}", terminal_safe(error));
                }
                if self.intact && !quiet {
                    eprintln!(
                        "anklume-backup: repository {} is intact ({})",
                        self.repository,
                        if self.read_data {
                            "structure and every byte of data"
                        } else {
                            "structure; --read-data re-reads the data"
                        }
                    );
                }
                return Ok(());
            }
        };
        io::stdout()
            .write_all(text.as_bytes())
            .map_err(Error::stdout)
    }

    fn verdict(&self) -> Result<()> {
        if self.intact {
            return Ok(());
        }
        let names: Vec<String> = self
            .damaged_snapshots
            .iter()
            .map(|d| format!("{} ({})", &d.id[..8], d.instance))
            .collect();
        Err(Error::failure(format!(
            "repository {} is damaged: {}; snapshots affected: {}",
            self.repository,
            super::commands::plural(self.errors.len(), "error"),
            if names.is_empty() {
                "none".to_owned()
            } else {
                names.join(", ")
            }
        ))
        .with_hint(
            "restore the snapshots not affected; forget the others and run anklume-backup prune",
        ))
    }
}

/// The snapshots whose file cannot be read back whole and authenticated (ID, instance).
fn damaged_snapshots(repo: Arc<Repository<IndexedFullStatus>>) -> BTreeSet<(String, String)> {
    let mut damaged = BTreeSet::new();
    let Ok(snaps) = repo.get_all_snapshots() else {
        return damaged;
    };
    for snap in snaps {
        let readable = repo.get_tree(&snap.tree).is_ok_and(|tree| {
            tree.nodes
                .iter()
                .filter(|n| n.node_type == NodeType::File)
                .all(|node| {
                    io::copy(
                        &mut BlobReader::new(Arc::clone(&repo), node),
                        &mut io::sink(),
                    )
                    .is_ok()
                })
        });
        if !readable {
            let instance = tag(&snap, "instance").unwrap_or_else(|| snap.paths.to_string());
            damaged.insert((super::hex(&snap.id), instance));
        }
    }
    damaged
}
