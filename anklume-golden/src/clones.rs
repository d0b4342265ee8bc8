//! The clones of one `derive`, made all or nothing: a failure or a signal destroys those
//! already made (by uuid), so that the same command can simply be run again.
//!
//! They are copied from one reading of `pristine` ([`pristine::Source`]), checked once after
//! the last copy: should a concurrent `create` have replaced `pristine` meanwhile, every copy
//! may be partial, and all are made again.

use anklume_common::error::warn;
use anklume_common::pristine::{self, ATTEMPTS};
use anklume_common::{Error, Fault, Incus, Located, NewInstance, Result, Session};

/// The clones made so far, with their uuids once known; destroyed when dropped unless kept.
pub struct Clones {
    incus: Incus,
    made: Vec<(Located, Option<String>)>,
    kept: bool,
}

impl Clones {
    /// Copies `golden`'s `pristine` into each of `names`, on the cluster member of the same
    /// rank in `targets` (Incus's choice for `None`), and starts them with `start`.
    pub fn make(
        session: &Session,
        golden: &Located,
        names: &[String],
        targets: &[Option<String>],
        options: &NewInstance,
        start: bool,
    ) -> Result<Self> {
        let incus = session.incus();
        let mut clones = Self {
            // Destruction must run even after a signal.
            incus: incus.uninterruptible(),
            made: Vec::new(),
            kept: false,
        };
        let mut attempts = 0;
        while !clones.copy_all(session, golden, (names, targets), options)? {
            attempts += 1;
            clones.destroy_all();
            if attempts >= ATTEMPTS {
                return Err(clones.undone(pristine::moving(golden)));
            }
        }
        clones.identify(golden);
        if start {
            for (clone, _) in &clones.made {
                session.interrupt.check().map_err(|e| clones.undone(e))?;
                let started = incus.start(clone);
                started.map_err(|e| clones.undone(e))?;
            }
        }
        session.interrupt.check().map_err(|e| clones.undone(e))?;
        Ok(clones)
    }

    /// One copy of each name from one reading of `pristine`, on the member of the same rank
    /// in `targets`; `Ok(false)` when `pristine` changed meanwhile (the copies may be partial).
    /// One copy at a time: of 10 concurrent `incus copy --target` of one snapshot, Incus 6.0
    /// failed 4 here ("Failed migration on target"), and one line per member measured within
    /// the noise of the sequential loop (bench/run cluster).
    fn copy_all(
        &mut self,
        session: &Session,
        golden: &Located,
        (names, targets): (&[String], &[Option<String>]),
        options: &NewInstance,
    ) -> Result<bool> {
        let source = pristine::Source::read(session.incus(), golden).map_err(|e| self.undone(e))?;
        for (name, target) in names.iter().zip(targets) {
            // A copy is never cut in the middle; a signal stops the derive between two.
            session.interrupt.check().map_err(|e| self.undone(e))?;
            let clone = Located {
                name: name.clone(),
                ..golden.clone()
            };
            let options = NewInstance {
                target: target.clone(),
                ..options.clone()
            };
            match source.copy(&clone, &options) {
                Ok(()) => self.made.push((clone, None)),
                Err(e) if e.is(Fault::AlreadyExists) || source.unchanged() => {
                    return Err(self.undone(e));
                }
                // `pristine` moved under the copy, which left nothing: made again.
                Err(_) => return Ok(false),
            }
        }
        Ok(source.unchanged())
    }

    /// Records the uuid of each clone, in one query: from then on only those very instances
    /// are destroyed. Until then (during the copies) a clone is destroyed by its name, which
    /// was checked free and taken by our copy.
    fn identify(&mut self, golden: &Located) {
        let Ok(uuids) = self
            .incus
            .uuids_in(golden.remote.as_deref(), &golden.project)
        else {
            return;
        };
        for (clone, uuid) in &mut self.made {
            *uuid = uuids.get(&clone.name).cloned();
        }
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.made.iter().map(|(clone, _)| clone.name.as_str())
    }

    /// `error`, saying that the clones made so far are being destroyed.
    fn undone(&self, error: Error) -> Error {
        let names: Vec<&str> = self.names().collect();
        let note = match names.is_empty() {
            true => "nothing was created".to_owned(),
            false => format!(
                "nothing was kept: the clones made before ({}) were destroyed",
                names.join(", ")
            ),
        };
        let hint = match error.hint() {
            Some(hint) => format!("{hint}; {note}"),
            None => note,
        };
        error.with_hint(hint)
    }

    fn destroy_all(&mut self) {
        for (clone, uuid) in self.made.drain(..) {
            let destroyed = match uuid {
                Some(uuid) => self.incus.destroy_if_same(&clone, &uuid).map(drop),
                None => self.incus.destroy(&clone),
            };
            if let Err(error) = destroyed {
                warn(&error);
            }
        }
    }

    pub fn keep(mut self) {
        self.kept = true;
    }
}

impl Drop for Clones {
    fn drop(&mut self) {
        if !self.kept {
            self.destroy_all();
        }
    }
}
