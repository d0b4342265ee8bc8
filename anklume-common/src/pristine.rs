//! The `pristine` snapshot, replaced atomically and copied only whole.
//!
//! `create` takes the new snapshot under a temporary name, checks the instance stayed stopped
//! meanwhile, then swaps it in by renames: at every moment `pristine` names a complete
//! snapshot, or (between the two renames) none. Copies are made from a [`Source`]: which
//! snapshot `pristine` names (its creation time, to the nanosecond) is read before them and
//! checked after them, and they are kept only if it did not change, since a snapshot renamed
//! away during a copy may have been read half-deleted. `anklume-disp --from` copies one clone
//! through [`copy`]; `derive` checks once after all of its copies.
//!
//! On this host, copies and swaps of one golden image also exclude each other through a lock
//! file (copies share it, a swap takes it alone): Incus 6.0 renames a snapshot being copied
//! badly (its `dir` driver leaves an empty directory under the old name, and no snapshot can
//! take that name any more). The check above still guards against other clients.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::PathBuf;
use std::thread;
use std::time::{Duration, Instant};

use crate::error::warn;
use crate::{Error, Fault, Incus, Located, NewInstance, Object, Origin, Result, temp};

/// The snapshot that makes an instance golden.
pub const PRISTINE: &str = "pristine";

/// How many times a copy or a swap is tried while concurrent `create`s move `pristine`.
pub const ATTEMPTS: u32 = 20;
/// The pause between two tries.
const PAUSE: Duration = Duration::from_millis(100);
/// How long a swap waits for the copies that read the old `pristine` (Incus refuses to rename
/// a snapshot being copied).
const COPIES_WAIT: Duration = Duration::from_secs(600);

/// Takes a new snapshot of the stopped instance `at` and makes it `pristine`; `Ok(true)` when
/// it replaced an older one. Fails, leaving `pristine` as it was, when the instance was
/// started while the snapshot was taken.
pub fn take(incus: &Incus, at: &Located) -> Result<bool> {
    let before = incus.instance(at)?;
    let fresh = format!("{PRISTINE}-new-{}", temp::unique_suffix());
    let started_meanwhile = |after: &crate::InstanceInfo| {
        !before.is_stopped() || !after.is_stopped() || after.last_used_at != before.last_used_at
    };
    incus.snapshot(at, &fresh, false)?;
    let taken = incus
        .instance(at)
        .and_then(|after| match started_meanwhile(&after) {
            true => Err(Error::failure(format!(
                "instance '{}' (project {}) was started while its snapshot was taken: '{PRISTINE}' was left as it was",
                at.name, at.project
            ))
            .with_hint(format!(
                "stop whatever starts it, then run anklume-golden create {} again",
                at.name
            ))),
            false => Ok(()),
        })
        .and_then(|()| swap_in(incus, at, &fresh));
    if taken.is_err() {
        let cleanup = incus.uninterruptible();
        if let Err(left) = cleanup.delete_snapshot(at, &fresh) {
            warn(&left.with_hint(format!("snapshot '{fresh}' of {} is left", at.name)));
        }
    }
    taken
}

/// The lock of `golden`'s `pristine` on this host: shared by copies, exclusive for a swap;
/// released when the file is dropped.
fn lock(golden: &Located, exclusive: bool) -> Result<File> {
    let dir = ["/run/lock", "/var/lock"]
        .iter()
        .map(PathBuf::from)
        .find(|dir| dir.is_dir())
        .unwrap_or_else(std::env::temp_dir);
    let key = format!(
        "{}/{}/{}",
        golden.remote.as_deref().unwrap_or(""),
        golden.project,
        golden.name
    );
    let path = dir.join(format!(
        "anklume-pristine-{}.lock",
        crate::url::encode(&key)
    ));
    let failed = |e| Error::io(format!("cannot lock {}", path.display()), e);
    // Read-only is enough to lock; made readable by all, so that every user's tools share it.
    let file = match File::open(&path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let file = OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .mode(0o644)
                .open(&path)
                .map_err(failed)?;
            let _ = file.set_permissions(std::fs::Permissions::from_mode(0o644));
            file
        }
        Err(e) => return Err(failed(e)),
    };
    match exclusive {
        true => file.lock().map_err(failed)?,
        false => file.lock_shared().map_err(failed)?,
    }
    Ok(file)
}

/// Renames snapshot `fresh` to `pristine`, the older `pristine` renamed aside first and
/// deleted only once the new one has its name (any other failure puts it back). A concurrent
/// `create` doing the same makes a rename fail: the swap is tried again, and the last one to
/// finish wins. Not cut by a signal: between its two renames `pristine` names nothing.
fn swap_in(incus: &Incus, at: &Located, fresh: &str) -> Result<bool> {
    let _alone = lock(at, true)?;
    let incus = incus.uninterruptible();
    let aside = format!("{PRISTINE}-old-{}", temp::unique_suffix());
    let mut replaced = false;
    let copies_done = Instant::now() + COPIES_WAIT;
    let mut tries = 0;
    while tries < ATTEMPTS {
        let moved = match incus.rename_snapshot(at, PRISTINE, &aside) {
            Ok(()) => true,
            Err(e) if e.is(Fault::NotFound(Object::Snapshot)) => false,
            Err(e) if e.is(Fault::Busy) && Instant::now() < copies_done => {
                thread::sleep(PAUSE);
                continue;
            }
            Err(e) => return Err(e),
        };
        tries += 1;
        replaced |= moved;
        match incus.rename_snapshot(at, fresh, PRISTINE) {
            Ok(()) => {
                if moved {
                    delete_old(&incus, at, &aside);
                }
                return Ok(replaced);
            }
            // Another create's snapshot took the name: ours is newer, so that one goes aside
            // next time round; the one we moved is out of date either way.
            Err(e) if e.is(Fault::AlreadyExists) => {
                if moved {
                    delete_old(&incus, at, &aside);
                }
                thread::sleep(PAUSE);
            }
            Err(e) => {
                if moved && let Err(left) = incus.rename_snapshot(at, &aside, PRISTINE) {
                    warn(&left.with_hint(format!(
                        "the previous pristine of {} is left as snapshot '{aside}'",
                        at.name
                    )));
                }
                return Err(e);
            }
        }
    }
    Err(Error::failure(format!(
        "cannot make the new snapshot '{PRISTINE}' of {}: other creates keep replacing it",
        at.name
    )))
}

/// Deletes the out-of-date `aside` snapshot; one left behind is only said.
fn delete_old(incus: &Incus, at: &Located, aside: &str) {
    if let Err(left) = incus.delete_snapshot(at, aside) {
        warn(&left.with_hint(format!(
            "an out-of-date copy of pristine is left as snapshot '{aside}' of {}",
            at.name
        )));
    }
}

/// Whether a `create` is swapping a new `pristine` in: its new snapshot is there, not yet
/// renamed.
fn swapping(incus: &Incus, golden: &Located) -> bool {
    let fresh = format!("{PRISTINE}-new-");
    incus
        .instance(golden)
        .is_ok_and(|info| info.snapshots.iter().any(|s| s.starts_with(&fresh)))
}

/// The `pristine` of a golden instance, as read once: copies made from it are whole if
/// [`Source::unchanged`] says so after them (one check for any number of copies).
pub struct Source<'a> {
    incus: &'a Incus,
    golden: &'a Located,
    created: String,
    /// Held while the copies are made: no swap by our tools on this host meanwhile.
    _shared: File,
}

impl<'a> Source<'a> {
    /// Reads which snapshot `pristine` names now, waiting out a swap under way.
    pub fn read(incus: &'a Incus, golden: &'a Located) -> Result<Self> {
        let shared = lock(golden, false)?;
        let mut tries = 0;
        loop {
            match incus.snapshot_created(golden, PRISTINE) {
                Ok(created) => {
                    return Ok(Self {
                        incus,
                        golden,
                        created,
                        _shared: shared,
                    });
                }
                Err(e) if e.is(Fault::NotFound(Object::Snapshot)) && swapping(incus, golden) => {
                    tries += 1;
                    if tries >= ATTEMPTS {
                        return Err(e.reworded(|m| format!("{m} (waited for a create under way)")));
                    }
                    thread::sleep(PAUSE);
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Copies `pristine` into the new instance `clone`. A failure because `pristine` moved
    /// meanwhile is told by [`Source::unchanged`].
    pub fn copy(&self, clone: &Located, options: &NewInstance) -> Result<()> {
        let origin = Origin::Snapshot {
            of: self.golden,
            name: PRISTINE,
        };
        self.incus.create(clone, origin, options)
    }

    /// Whether `pristine` still names the snapshot read: then every copy made since is whole.
    /// Not cut by a signal: the caller must learn what its copies are worth.
    pub fn unchanged(&self) -> bool {
        let now = self
            .incus
            .uninterruptible()
            .snapshot_created(self.golden, PRISTINE);
        now.is_ok_and(|created| created == self.created)
    }
}

/// Creates `clone` as a copy of `golden`'s `pristine`, a whole one: the copy is kept only if
/// `pristine` named the same snapshot before and after it, else it is destroyed and made
/// again. `pristine` missing for a moment (a swap under way) is waited for.
pub fn copy(incus: &Incus, golden: &Located, clone: &Located, options: &NewInstance) -> Result<()> {
    for _ in 0..ATTEMPTS {
        let source = Source::read(incus, golden)?;
        let made = source.copy(clone, options);
        if source.unchanged() {
            return made;
        }
        // The source moved during the copy: what was copied may be incomplete. A copy that
        // failed left nothing (and the name may be someone else's now): only ours is removed.
        match made {
            Ok(()) => {
                let incus = incus.uninterruptible();
                let uuid = incus.uuid(clone)?;
                incus.destroy_if_same(clone, &uuid)?;
            }
            Err(e) if e.is(Fault::AlreadyExists) => return Err(e),
            Err(_) => (),
        }
        thread::sleep(PAUSE);
    }
    Err(moving(golden))
}

/// `pristine` of `golden` kept being replaced while it was copied.
pub fn moving(golden: &Located) -> Error {
    Error::failure(format!(
        "'{PRISTINE}' of {} kept changing while it was copied: nothing was kept",
        golden.name
    ))
    .with_hint("derive again once anklume-golden create has finished")
}
