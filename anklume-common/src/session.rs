//! The prologue every tool runs: SIGINT, SIGTERM and SIGHUP caught (so that what a tool made
//! is cleaned up before it exits 128 + N), an `incus` runner that stops at them, and the name
//! resolver on top of it.

use crate::error::{Error, ErrorKind, Result};
use crate::incus::Incus;
use crate::interrupt::Interrupt;
use crate::resolve::Resolver;

/// What a tool's run works with.
#[derive(Debug)]
pub struct Session {
    pub interrupt: Interrupt,
    pub resolver: Resolver,
}

impl Session {
    /// Catches the signals and sets up the runner (`ANKLUME_INCUS` or `incus`).
    pub fn start() -> Result<Self> {
        let interrupt = Interrupt::catch()?;
        let incus = Incus::from_env().with_interrupt(interrupt.clone());
        Ok(Self {
            interrupt,
            resolver: Resolver::new(incus),
        })
    }

    pub fn incus(&self) -> &Incus {
        self.resolver.incus()
    }

    /// The outcome of the run, with a signal as the reason of whatever broke after it (a
    /// pipe, a read, a killed `incus`).
    pub fn conclude<T>(&self, outcome: Result<T>) -> Result<T> {
        // An error that already says "interrupted" keeps its hint (what was undone); any other
        // failure after a signal was caused by it.
        outcome.map_err(|error| match self.interrupt.signal() {
            Some(_) if matches!(error.kind(), ErrorKind::Interrupted(_)) => error,
            Some(signal) => Error::interrupted(signal),
            None => error,
        })
    }
}
