//! The fault campaign's shared parts: a seeded random source, the hostile inputs every tool
//! must refuse, and the report line each campaign test prints.
//!
//! `bench/faults` runs every crate's `faults` test target and gathers the report lines into a
//! table; `FAULT_SEED=N` replays a run.

use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{SystemTime, UNIX_EPOCH};

/// A small xorshift generator: enough to pick moments and bytes, reproducible by seed.
#[derive(Debug)]
pub struct Rng(u64);

impl Rng {
    /// Seeded from `FAULT_SEED`, else from the clock; the seed is printed for replays.
    pub fn from_env(label: &str) -> Self {
        let seed = std::env::var("FAULT_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map_or(1, |d| d.as_nanos() as u64)
            });
        eprintln!("{label}: FAULT_SEED={seed}");
        Self(seed | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A number in `0..bound`.
    pub fn below(&mut self, bound: u64) -> u64 {
        self.next_u64() % bound.max(1)
    }
}

/// Prints one row of the campaign's table (picked up by `bench/faults`).
pub fn report(work: &str, trials: usize, failures: usize) {
    eprintln!("FAULT-ROW | {work} | {trials} | {failures} |");
}

/// Instance names no tool may accept, with why.
pub const HOSTILE_NAMES: &[(&str, &str)] = &[
    ("", "empty"),
    ("..", "dot-dot"),
    ("a b", "space"),
    ("-rf", "leading dash"),
    ("été", "unicode"),
    ("web/../x", "slash"),
    ("web;rm", "shell metacharacter"),
    (
        "a-name-that-is-far-too-long-for-incus-because-it-has-more-than-63-chars",
        "over 63 characters",
    ),
];

/// Paths inside an instance no tool may accept (relative, empty, or beyond PATH_MAX).
pub fn hostile_paths() -> Vec<(String, &'static str)> {
    vec![
        (String::new(), "empty"),
        ("..".into(), "dot-dot, relative"),
        ("etc/passwd".into(), "relative"),
        (" /etc".into(), "leading space, relative"),
        (format!("/{}", "x".repeat(5000)), "longer than PATH_MAX"),
    ]
}

/// Tests that stop the Incus daemon take this exclusively; the others of the same test binary
/// share it, so that none runs during the outage.
static DAEMON: RwLock<()> = RwLock::new(());

pub fn daemon_shared() -> RwLockReadGuard<'static, ()> {
    DAEMON.read().unwrap_or_else(|e| e.into_inner())
}

pub fn daemon_exclusive() -> RwLockWriteGuard<'static, ()> {
    DAEMON.write().unwrap_or_else(|e| e.into_inner())
}
