//! `create --repo` streams the uncompressed export into a new snapshot (its chunks stored
//! once, whatever instance or run they come from); `restore --repo` streams a snapshot's file,
//! each blob authenticated, into `incus import`, with the guarantees of file backups.

use std::io::Read;
use std::path::PathBuf;
use std::sync::Arc;

use anklume_common::error::{shell_word, terminal_safe};
use anklume_common::progress::{Progress, human_size};
use anklume_common::reference::check_instance_name;
use anklume_common::{Error, Export, Located, Result, Session};
use rustic_core::repofile::{BlobType, Node, NodeType, SnapshotFile};
use rustic_core::{BackupOptions, IndexedFullStatus, Repository, SnapshotOptions};
use sha2::{Digest, Sha256};

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
    let opened_backend = Arc::clone(&opened.backend);
    let repo = opened
        .repo
        .to_indexed()
        .map_err(failed("read the index of", location))?;
    let snap = pick(&repo, location, instance, snapshot)?;
    check_snapshot(&opened_backend, &snap, location)?;
    let node = only_file(&repo, &snap, location)?;
    // A recorded name that Incus would refuse is ignored: the archive's own index names it.
    let name = tag(&snap, "instance").filter(|n| check_instance_name(n).is_ok());
    let size = node.meta.size;
    let reader: Box<dyn Read + Send + Sync> = Box::new(BlobReader::new(Arc::new(repo), &node));
    let from = file_restore::Source {
        plain: reader,
        verdict: None,
        name,
        project: tag(&snap, "project"),
        size: Some(size),
        counted: false,
        what: format!("snapshot {}", super::short(&snap.id)),
    };
    file_restore::restore_stream(session, from, args)
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
    // rustic applies the filter to `latest` only, not to an ID.
    if let Ok(snap) = &found
        && !of_instance(snap)
    {
        return Err(Error::failure(format!(
            "snapshot {} is of another instance ({}), not of {instance}",
            super::short(&snap.id),
            terminal_safe(&tag(snap, "instance").unwrap_or_else(|| snap.paths.to_string()))
        )));
    }
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

/// rustic authenticates a snapshot file and a tree by their MAC only: anyone who can write to
/// the repository could put one snapshot's file (or tree) under another's name. Each is
/// checked here against its ID, the SHA-256 of its content.
fn check_snapshot(
    backend: &Arc<dyn rustic_core::WriteBackend>,
    snap: &SnapshotFile,
    location: &Location,
) -> Result<()> {
    let raw = backend
        .read_full(rustic_core::FileType::Snapshot, &snap.id)
        .map_err(failed("read a snapshot of", location))?;
    let decrypted_id = snap.id;
    let digest: [u8; 32] = Sha256::digest(&raw).into();
    if rustic_core::Id::new(digest) != *decrypted_id {
        return Err(Error::failure(format!(
            "snapshot {} of repository {} is not the file of that name: someone replaced it",
            super::short(&snap.id),
            location.given
        ))
        .with_hint("nothing was restored; check the repository with verify --read-data"));
    }
    Ok(())
}

/// The single file a snapshot holds: ours hold `INSTANCE.tar`, `restic backup --stdin` one file.
/// Its tree is checked against the tree's ID before it is believed.
fn only_file(
    repo: &Repository<IndexedFullStatus>,
    snap: &SnapshotFile,
    location: &Location,
) -> Result<Node> {
    let blob = rustic_core::BlobId::from(*snap.tree);
    let data = repo
        .get_blob_cached(&blob, BlobType::Tree)
        .map_err(failed("read a snapshot of", location))?;
    let digest: [u8; 32] = Sha256::digest(&data).into();
    if rustic_core::Id::new(digest) != *snap.tree {
        return Err(Error::failure(format!(
            "the tree of snapshot {} is not the one of that name: someone replaced it",
            super::short(&snap.id)
        ))
        .with_hint("nothing was restored; check the repository with verify --read-data"));
    }
    let tree: rustic_core::repofile::Tree = serde_json::from_slice(&data).map_err(|e| {
        Error::failure(format!(
            "cannot read the tree of snapshot {}: {e}",
            super::short(&snap.id)
        ))
    })?;
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
