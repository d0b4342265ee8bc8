//! SIGINT, SIGTERM and SIGHUP turned into a flag the runner checks, so that a tool can clean up
//! (destroy a disposable instance, remove a partial backup) before it exits 128 + N.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};

use crate::error::{Error, Result};

/// Records the first of SIGINT, SIGTERM or SIGHUP received by the process.
#[derive(Debug, Clone, Default)]
pub struct Interrupt(Arc<AtomicUsize>);

impl Interrupt {
    /// Catches SIGINT, SIGTERM and SIGHUP from now on: they no longer end the process but set
    /// this flag, which [`crate::Incus::with_interrupt`] acts on. Later signals are caught too,
    /// so that a second Ctrl-C cannot cut the cleanup short.
    pub fn catch() -> Result<Self> {
        let interrupt = Self::default();
        for signal in [SIGINT, SIGTERM, SIGHUP] {
            signal_hook::flag::register_usize(signal, Arc::clone(&interrupt.0), signal as usize)
                .map_err(|e| Error::io("cannot catch signals", e))?;
        }
        Ok(interrupt)
    }

    /// The signal received, if any.
    pub fn signal(&self) -> Option<i32> {
        match self.0.load(Ordering::SeqCst) {
            0 => None,
            signal => Some(signal as i32),
        }
    }

    /// `Err(interrupted)` once a signal has arrived.
    pub fn check(&self) -> Result<()> {
        match self.signal() {
            Some(signal) => Err(Error::interrupted(signal)),
            None => Ok(()),
        }
    }
}

/// Makes SIGHUP harmless for a process that must outlive the terminal that started it.
pub fn ignore_hangup() -> Result<()> {
    signal_hook::flag::register(SIGHUP, Arc::default())
        .map(drop)
        .map_err(|e| Error::io("cannot ignore SIGHUP", e))
}
