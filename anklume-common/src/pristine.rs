//! The `pristine` snapshot, replaced atomically and copied only whole.
//!
//! `create` takes the new snapshot under a temporary name, checks the instance stayed stopped
//! meanwhile, then swaps it in by renames: at every moment `pristine` names a complete
//! snapshot, or (between the two renames) none. `derive` and `anklume-disp --from` copy it
//! through [`copy`], which retries while the name is being swapped and keeps a copy only when
//! `pristine` named the same snapshot (its creation time, to the nanosecond) before and after:
//! a snapshot renamed away during the copy may have been read half-deleted.

use std::thread;
use std::time::{Duration, Instant};

use crate::error::warn;
use crate::{Error, Fault, Incus, Located, NewInstance, Object, Origin, Result, temp};

/// The snapshot that makes an instance golden.
pub const PRISTINE: &str = "pristine";

/// How many times a copy or a swap is tried while concurrent `create`s move `pristine`.
const ATTEMPTS: u32 = 20;
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

/// Renames snapshot `fresh` to `pristine`, the older `pristine` renamed aside first and
/// deleted once replaced. A concurrent `create` doing the same makes a rename fail: the swap
/// is tried again, and the last one to finish wins.
fn swap_in(incus: &Incus, at: &Located, fresh: &str) -> Result<bool> {
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
        let swapped = incus.rename_snapshot(at, fresh, PRISTINE);
        if moved {
            // Out of date now, whichever snapshot becomes `pristine`.
            incus.uninterruptible().delete_snapshot(at, &aside)?;
        }
        match swapped {
            Ok(()) => return Ok(replaced),
            Err(e) if e.is(Fault::AlreadyExists) => thread::sleep(PAUSE),
            Err(e) => return Err(e),
        }
    }
    Err(Error::failure(format!(
        "cannot make the new snapshot '{PRISTINE}' of {}: other creates keep replacing it",
        at.name
    )))
}

/// Whether a `create` is swapping a new `pristine` in: its new snapshot is there, not yet
/// renamed.
fn swapping(incus: &Incus, golden: &Located) -> bool {
    let fresh = format!("{PRISTINE}-new-");
    incus
        .instance(golden)
        .is_ok_and(|info| info.snapshots.iter().any(|s| s.starts_with(&fresh)))
}

/// Creates `clone` as a copy of `golden`'s `pristine`, a whole one: the copy is kept only if
/// `pristine` named the same snapshot before and after it, else it is destroyed and made
/// again. `pristine` missing for a moment (a swap under way) is waited for.
pub fn copy(incus: &Incus, golden: &Located, clone: &Located, options: &NewInstance) -> Result<()> {
    let origin = Origin::Snapshot {
        of: golden,
        name: PRISTINE,
    };
    let mut missing = None;
    for _ in 0..ATTEMPTS {
        let before = match incus.snapshot_created(golden, PRISTINE) {
            Ok(created) => created,
            Err(e) if e.is(Fault::NotFound(Object::Snapshot)) && swapping(incus, golden) => {
                missing = Some(e);
                thread::sleep(PAUSE);
                continue;
            }
            Err(e) => return Err(e),
        };
        let made = incus.create(clone, origin, options);
        // Not cut by a signal: a clone made must reach the caller, who destroys it if need be.
        let after = incus
            .uninterruptible()
            .snapshot_created(golden, PRISTINE)
            .ok();
        if after.as_deref() == Some(before.as_str()) {
            return made;
        }
        // The source moved during the copy: what was copied may be incomplete.
        match made {
            Ok(()) => incus.uninterruptible().destroy(clone)?,
            Err(e) if e.is(Fault::AlreadyExists) => return Err(e),
            Err(_) => incus.uninterruptible().destroy(clone)?,
        }
        thread::sleep(PAUSE);
    }
    Err(missing
        .map(|e| e.reworded(|m| format!("{m} (waited for a create under way)")))
        .unwrap_or_else(|| {
            Error::failure(format!(
                "'{PRISTINE}' of {} kept changing while it was copied: nothing was kept",
                golden.name
            ))
        })
        .with_hint("derive again once anklume-golden create has finished"))
}
