//! `create --repo` streams the uncompressed export into a new snapshot (its chunks stored
//! once, whatever instance or run they come from); `restore --repo` streams a snapshot's file,
//! each blob authenticated, into `incus import`, with the guarantees of file backups.

use std::io::Read;
use std::path::PathBuf;
use std::sync::Arc;

use anklume_common::error::shell_word;
use anklume_common::progress::{Progress, human_size};
use anklume_common::{Error, Export, Located, Result, Session};
use rustic_core::repofile::{Node, NodeType, SnapshotFile};
use rustic_core::{BackupOptions, IndexedFullStatus, Repository, SnapshotOptions};

use super::dump::BlobReader;
use super::source::ExportSource;
use super::{Location, failed, open, rustic_message};
use crate::cli::{CreateArgs, RestoreArgs};
use crate::{Keys, restore as file_restore};

/// `create INSTANCE --repo LOCATION`.
pub fn create(
    session: &Session,
    args: &CreateArgs,
    location: &Location,
    keys: &Keys,
) -> Result<()> {
    let located = session
        .resolver
        .locate(&args.instance, args.project.as_deref())?;
    let opened = open(location, keys, true)?;
    let repo = opened
        .repo
        .to_indexed_ids()
        .map_err(failed("read the index of", location))?;
    let incus = session.incus().uninterruptible();
    let before = incus.backups(&located)?;
    let export = Export {
        compression: "none",
        instance_only: args.instance_only,
    };
    let stream = session.incus().export(&located, export)?;
    let path = PathBuf::from(format!("{}.tar", located.name));
    let progress = Progress::new(format!("backing up {located}"), None, args.quiet);
    let source = ExportSource::new(stream, path.clone(), &session.interrupt, progress);
    let snap = SnapshotFile::from_options(&SnapshotOptions::default())
        .map_err(failed("write a snapshot to", location))?;
    let saved = repo.archive(
        &BackupOptions::default(),
        &source,
        tagged(snap, &located),
        &[path],
    );
    let snap = match saved {
        Ok(snap) if source.complete() => snap,
        // rustic skips a file it cannot read, and saves the snapshot without it.
        Ok(partial) => {
            let removed = repo.delete_snapshots(&[partial.id]);
            incus.remove_new_backups(&located, &before);
            session.interrupt.check()?;
            removed.map_err(failed("remove an incomplete snapshot from", location))?;
            let ended = Error::failure(format!("the export of {located} ended early"));
            return Err(source
                .incus_error()
                .unwrap_or(ended)
                .with_hint("nothing was saved"));
        }
        Err(e) => {
            incus.remove_new_backups(&located, &before);
            session.interrupt.check()?;
            return Err(source.incus_error().unwrap_or_else(|| {
                failed("write a snapshot to", location)(e).with_hint("nothing was saved")
            }));
        }
    };
    let (read, added) = snap
        .summary
        .as_ref()
        .map_or((0, 0), |s| (s.total_bytes_processed, s.data_added_packed));
    if !args.quiet {
        eprintln!(
            "anklume-backup: backed up {located} to {} as snapshot {} ({} read, {} added)",
            location.given,
            super::short(&snap.id),
            human_size(read),
            human_size(added)
        );
    }
    println!("{}", super::hex(&snap.id));
    Ok(())
}

/// Tags naming the instance, its project (and remote), so that `list`, `prune` and `restore`
/// find it. Commas and `%` are percent-encoded: restic splits tags at commas.
fn tagged(mut snap: SnapshotFile, at: &Located) -> SnapshotFile {
    snap.tags.add(format!("instance={}", tag_value(&at.name)));
    snap.tags.add(format!("project={}", tag_value(&at.project)));
    if let Some(remote) = &at.remote {
        snap.tags.add(format!("remote={}", tag_value(remote)));
    }
    snap
}

fn tag_value(value: &str) -> String {
    value.replace('%', "%25").replace(',', "%2C")
}

/// The value of tag `key=` of a snapshot, decoded.
pub fn tag(snap: &SnapshotFile, key: &str) -> Option<String> {
    let prefix = format!("{key}=");
    snap.tags
        .iter()
        .find_map(|t| t.strip_prefix(&prefix))
        .map(|v| v.replace("%2C", ",").replace("%25", "%"))
}

/// `restore INSTANCE[@SNAPSHOT] --repo LOCATION`, or `@SNAPSHOT` alone.
pub fn restore(session: &Session, args: &RestoreArgs, location: &Location) -> Result<()> {
    let given = args.input().to_string_lossy().into_owned();
    let (instance, snapshot) = match given.split_once('@') {
        Some((instance, snapshot)) => (instance, Some(snapshot)),
        None => (given.as_str(), None),
    };
    let opened = open(location, &Keys::new(&args.keys)?, true)?;
    let repo = opened
        .repo
        .to_indexed()
        .map_err(failed("read the index of", location))?;
    let snap = pick(&repo, location, instance, snapshot)?;
    let node = only_file(&repo, &snap, location)?;
    let recorded_project = tag(&snap, "project");
    let project = match (&args.project, recorded_project) {
        (Some(project), _) => project.clone(),
        (None, Some(recorded)) if project_exists(session, args, &recorded)? => recorded,
        (None, _) => "default".to_owned(),
    };
    let name = tag(&snap, "instance");
    let size = node.meta.size;
    let reader: Box<dyn Read + Send + Sync> = Box::new(BlobReader::new(Arc::new(repo), &node));
    let from = file_restore::Source {
        plain: reader,
        verdict: None,
        name,
        size: Some(size),
        what: format!("snapshot {}", super::short(&snap.id)),
    };
    file_restore::restore_stream(session, from, args, project)
}

fn project_exists(session: &Session, args: &RestoreArgs, project: &str) -> Result<bool> {
    let remote = file_restore::target_remote(args)?;
    session.incus().project_exists(remote.as_deref(), project)
}

/// `@SNAPSHOT` (an ID or its prefix, or `latest`), else the latest snapshot of `instance`.
fn pick(
    repo: &Repository<IndexedFullStatus>,
    location: &Location,
    instance: &str,
    snapshot: Option<&str>,
) -> Result<SnapshotFile> {
    let of_instance = |snap: &SnapshotFile| {
        instance.is_empty() || tag(snap, "instance").as_deref() == Some(instance)
    };
    let found = match snapshot {
        Some(id) => repo.get_snapshot_from_str(id, of_instance),
        None => repo.get_snapshot_from_str("latest", of_instance),
    };
    found.map_err(|e| {
        let what = match (instance, snapshot) {
            ("", Some(id)) => format!("snapshot {id}"),
            (instance, Some(id)) => format!("snapshot {id} of {instance}"),
            (instance, None) => format!("a snapshot of {instance}"),
        };
        Error::failure(format!(
            "cannot find {what} in repository {}: {}",
            location.given,
            rustic_message(&e)
        ))
        .with_hint(format!(
            "see them with anklume-backup list --repo {}",
            shell_word(&location.given)
        ))
    })
}

/// The single file a snapshot holds: ours hold `INSTANCE.tar`, `restic backup --stdin` one file.
fn only_file(
    repo: &Repository<IndexedFullStatus>,
    snap: &SnapshotFile,
    location: &Location,
) -> Result<Node> {
    let tree = repo
        .get_tree(&snap.tree)
        .map_err(failed("read a snapshot of", location))?;
    let mut files = tree
        .nodes
        .into_iter()
        .filter(|n| n.node_type == NodeType::File);
    match (files.next(), files.next()) {
        (Some(file), None) => Ok(file),
        _ => Err(Error::failure(format!(
            "snapshot {} holds more than one file, or none: it is not an instance's backup",
            super::short(&snap.id)
        ))
        .with_hint("restore snapshots of anklume-backup create, or of restic backup --stdin")),
    }
}
