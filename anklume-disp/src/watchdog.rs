//! The watchdog: a detached copy of anklume-disp that outlives it, and destroys the disposable
//! should anklume-disp die without doing so (SIGKILL, the OOM killer).
//!
//! anklume-disp holds the write end of a pipe whose read end is the watchdog's stdin, and tells
//! it which instance to watch before creating it (`watch`), when the creation has returned
//! (`created`), and when the instance was destroyed or deliberately kept (`done`). The kernel
//! closes that pipe whatever kills anklume-disp: an end of input without `done` means the
//! instance may be left, and the watchdog destroys it — recognised by the random token
//! recorded on it at its creation, then by its uuid, never by its name alone. Before `created`,
//! the creation may still be under way (`incus create` outlives us): the instance is waited
//! for.

use std::io::{self, BufRead, Write};
use std::os::unix::process::CommandExt;
use std::process::{ChildStdin, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use anklume_common::error::warn;
use anklume_common::interrupt::ignore_hangup;
use anklume_common::{Error, Incus, Located, Result};

/// The configuration key holding the disposable's token.
pub const TOKEN_KEY: &str = "user.anklume.disposable";
/// How long the watchdog waits for an instance whose creation was under way (an image may
/// have to be downloaded first), or tries to destroy one while Incus fails.
const CREATION_WAIT: Duration = Duration::from_secs(600);
/// How long a claim Incus accepted may take to be applied.
const CLAIM_WAIT: Duration = Duration::from_secs(30);
/// The token key of a preloaded instance waiting in its pool.
pub const READY: &str = "ready";

/// anklume-disp's side: the pipe to the watchdog. Dropped without [`Watchdog::done`] (an
/// error, a destroy that failed), it leaves the watchdog to check and act.
pub struct Watchdog {
    pipe: Option<ChildStdin>,
}

impl Watchdog {
    /// Starts the watchdog, out of our process group (a Ctrl-C of the terminal is ours to
    /// handle, not its).
    pub fn start() -> Result<Self> {
        let program = std::env::current_exe()
            .map_err(|e| Error::io("cannot find anklume-disp's own binary for its watchdog", e))?;
        // From /, so as not to hold the run's directory busy.
        let mut child = Command::new(program)
            .current_dir("/")
            .arg("--watch")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .map_err(|e| Error::io("cannot start the watchdog", e))?;
        Ok(Self {
            pipe: child.stdin.take(),
        })
    }

    /// Tells the watchdog which instance is about to be created, and its token.
    pub fn watch(&mut self, at: &Located, token: &str) -> Result<()> {
        let remote = at.remote.as_deref().unwrap_or_default();
        let line = format!("watch\t{remote}\t{}\t{}\t{token}\n", at.project, at.name);
        self.send(&line)
            .map_err(|e| Error::io("cannot reach the watchdog", e))
    }

    /// The creation has returned, whether it made the instance or not.
    pub fn created(&mut self) {
        // A watchdog already gone has nothing left to do.
        let _ = self.send("created\n");
    }

    /// A claim of the watched instance (a preloaded one, its token key `ready`) is about to be
    /// sent: should we die, a key still `ready` may yet turn to our token (Incus applies the
    /// claim after answering), so it is watched a while.
    pub fn claiming(&mut self) {
        let _ = self.send("claiming\n");
    }

    /// The instance was destroyed, or kept on purpose: the watchdog leaves.
    pub fn done(mut self) {
        let _ = self.send("done\n");
    }

    fn send(&mut self, line: &str) -> io::Result<()> {
        match &mut self.pipe {
            Some(pipe) => pipe.write_all(line.as_bytes()).and_then(|()| pipe.flush()),
            None => Ok(()),
        }
    }
}

/// The watchdog's side (`--watch`): reads what to watch until `done`, or acts at an end of
/// input without it.
pub fn run() -> Result<u8> {
    ignore_hangup()?;
    let mut watched: Option<(Located, String)> = None;
    let (mut created, mut claiming) = (false, false);
    for line in io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        let fields: Vec<&str> = line.split('\t').collect();
        match fields.as_slice() {
            ["done"] => return Ok(0),
            ["created"] => created = true,
            ["claiming"] => claiming = true,
            ["watch", remote, project, name, token] => {
                let at = Located {
                    remote: Some((*remote).to_owned()).filter(|r| !r.is_empty()),
                    project: (*project).to_owned(),
                    name: (*name).to_owned(),
                };
                watched = Some((at, (*token).to_owned()));
                (created, claiming) = (false, false);
            }
            _ => (),
        }
    }
    if let Some((at, token)) = watched {
        let incus = Incus::from_env().uninterruptible();
        if claiming && !claim_settled(&incus, &at, &token) {
            return Ok(0);
        }
        destroy_orphan(&incus, &at, &token, !created);
    }
    Ok(0)
}

/// After a claim cut short: waits while the token key still reads `ready` (the claim may yet be
/// applied); `true` once it reads something else (ours, to destroy, or another run's, left
/// alone by [`destroy_orphan`]), `false` when it stayed `ready` (the claim never took: the
/// instance stays in its pool) or the instance is gone.
fn claim_settled(incus: &Incus, at: &Located, token: &str) -> bool {
    let deadline = Instant::now() + CLAIM_WAIT;
    while Instant::now() < deadline {
        match incus.instance(at) {
            Ok(info) if info.config.get(TOKEN_KEY).map(String::as_str) == Some(READY) => (),
            Ok(info) => return info.config.get(TOKEN_KEY).map(String::as_str) == Some(token),
            Err(e) if e.is_not_found() => return false,
            Err(_) => (),
        }
        thread::sleep(Duration::from_millis(200));
    }
    false
}

/// Destroys `at` if it carries `token`; with `under_way`, waits for a creation that may still
/// make it. Ends only once the instance is seen gone (a destroy Incus reported done is checked),
/// or a namesake holds the name; failures of Incus are tried again until the deadline.
fn destroy_orphan(incus: &Incus, at: &Located, token: &str, under_way: bool) {
    let deadline = Instant::now() + CREATION_WAIT;
    let mut seen = false;
    while Instant::now() < deadline {
        match incus.instance(at) {
            Ok(info) if info.config.get(TOKEN_KEY).map(String::as_str) == Some(token) => {
                seen = true;
                // Without its uuid yet, it is looked at again.
                if let Some(uuid) = info.uuid()
                    && let Err(error) = incus.destroy_if_same(at, uuid)
                {
                    warn(&error);
                }
            }
            // A namesake: not ours.
            Ok(_) => return,
            // Gone, and no creation under way: nothing left to do.
            Err(error) if error.is_not_found() && (seen || !under_way) => return,
            // Not there yet, or Incus failed: tried again.
            Err(_) => (),
        }
        thread::sleep(Duration::from_millis(200));
    }
}
