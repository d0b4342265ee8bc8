//! The test ground's cluster (`scripts/incus-testenv`): its members stopped and started again,
//! as a member that goes down is, and their state as the cluster sees it.
//!
//! Tests that stop a member take [`members_exclusive`]; the other cluster tests of the same
//! test binary take [`members_shared`], so that none runs while a member is down.

use std::path::PathBuf;
use std::process::Command;
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, Instant};

use anklume_common::Call;

use crate::{CLUSTER_REMOTE, incus};

/// m2 alone, as a remote of its own: it stops answering while m2 is down.
pub const MEMBER_REMOTE: &str = "anklume-m2";
/// Where the members keep their state (each its own `INCUS_DIR`).
const CLUSTER_DIR: &str = "/var/lib/anklume-cluster";
/// How long the cluster may take to see a member gone (its offline threshold is 11 s) or back.
const STATE_WAIT: Duration = Duration::from_secs(90);

static MEMBERS: RwLock<()> = RwLock::new(());

pub fn members_shared() -> RwLockReadGuard<'static, ()> {
    MEMBERS.read().unwrap_or_else(|e| e.into_inner())
}

pub fn members_exclusive() -> RwLockWriteGuard<'static, ()> {
    MEMBERS.write().unwrap_or_else(|e| e.into_inner())
}

/// A member stopped (its `incusd` shut down, which stops its instances) until dropped, when it
/// is started again and waited for until the cluster sees it online.
#[derive(Debug)]
pub struct MemberDown(String);

impl MemberDown {
    /// Stops `member` and waits until the cluster reports it offline.
    pub fn stop(member: &str) -> Self {
        let down = Self(member.to_owned());
        let status = Command::new("incus")
            .args(["admin", "shutdown", "--timeout", "60"])
            .env("INCUS_DIR", format!("{CLUSTER_DIR}/{member}"))
            .status()
            .expect("cannot run incus admin shutdown");
        assert!(status.success(), "incus admin shutdown of {member} failed");
        wait_for_status(member, "Offline");
        down
    }
}

impl Drop for MemberDown {
    fn drop(&mut self) {
        start(&self.0);
        // A second panic while a test unwinds would abort the whole test binary.
        if std::thread::panicking() {
            if let Err(why) = try_wait_for_status(&self.0, "Online") {
                eprintln!("{why}");
            }
        } else {
            wait_for_status(&self.0, "Online");
        }
    }
}

/// Starts `member`'s incusd (`scripts/incus-testenv --start-member`), if it is not running.
fn start(member: &str) {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scripts/incus-testenv");
    let status = Command::new(script)
        .args(["--start-member", member])
        .status();
    if !status.is_ok_and(|s| s.success()) {
        eprintln!("cluster member {member} did not start");
    }
}

/// Brings back any member left down (by a test binary killed while it held one down), and
/// waits until every member is online.
pub fn every_member_online() {
    for member in crate::CLUSTER_MEMBERS {
        if member_status(member) != "Online" {
            eprintln!("cluster member {member} was not online: starting it");
            start(member);
            wait_for_status(member, "Online");
        }
    }
}

/// The status of `member` as the cluster reports it (`Online`, `Offline`...).
pub fn member_status(member: &str) -> String {
    status_of(member).unwrap_or_else(|e| panic!("{e}"))
}

fn status_of(member: &str) -> Result<String, String> {
    let path = format!("{CLUSTER_REMOTE}:/1.0/cluster/members/{member}");
    let answer = incus()
        .output(&Call::new("ask for a member", ["query", path.as_str()]))
        .map_err(|e| e.to_string())?;
    let json: serde_json::Value = serde_json::from_slice(&answer).map_err(|e| e.to_string())?;
    Ok(json["status"].as_str().unwrap_or_default().to_owned())
}

fn wait_for_status(member: &str, wanted: &str) {
    try_wait_for_status(member, wanted).unwrap_or_else(|why| panic!("{why}"));
}

fn try_wait_for_status(member: &str, wanted: &str) -> Result<(), String> {
    let deadline = Instant::now() + STATE_WAIT;
    loop {
        let status = status_of(member).unwrap_or_default();
        if status == wanted {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(format!(
                "cluster member {member} is still {status:?} after {STATE_WAIT:?}, not {wanted}"
            ));
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}
