//! The one place that runs the `incus` command line.
//!
//! Every call is argv (never a shell), passes `--project` once the project is known, keeps
//! Incus's own `Error: ...` line for the error message, and reads stderr on its own thread so
//! that no pipe can fill up and deadlock. A streaming child that is dropped before it finished is
//! killed: `incus export` otherwise hangs forever once its reader is gone.

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::io::{self, Read, Write};
use std::os::unix::process::CommandExt;
use std::process::{Child, ChildStdin, ChildStdout, Command, ExitStatus, Stdio};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;

use crate::error::{Error, Fault, Object, Result};
use crate::interrupt::Interrupt;
use crate::url::ApiPath;

/// Environment variable naming the `incus` binary to run instead of the one on PATH.
pub const INCUS_ENV: &str = "ANKLUME_INCUS";

/// util-linux's `setpriv`, which gives a child a parent-death signal before it runs `incus`.
const SETPRIV: &str = "/usr/bin/setpriv";

/// How much of a child's stderr is kept for its error message.
const STDERR_TAIL: usize = 64 * 1024;

/// Runs the `incus` client.
#[derive(Debug, Clone)]
pub struct Incus {
    program: OsString,
    timeout: Option<Duration>,
    interrupt: Option<Interrupt>,
}

/// One invocation of `incus`: what it does (for messages), about what, in which project, and
/// its arguments.
#[derive(Debug, Clone)]
pub struct Call {
    action: String,
    instance: Option<String>,
    project: Option<String>,
    args: Vec<OsString>,
    own_process_group: bool,
    dies_with_us: bool,
}

/// Which standard streams of a streaming child are pipes to us.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pipes {
    /// We read its stdout (`incus export NAME -`, `incus file pull ... -`).
    Stdout,
    /// We write its stdin (`incus import -`, `incus file push - ...`).
    Stdin,
    /// Both.
    Both,
    /// Neither: a long-running helper such as `incus remote proxy`.
    Neither,
}

impl Call {
    /// `action` is a verb phrase for messages ("start", "export"); `args` follow `incus`.
    pub fn new<I, S>(action: impl Into<String>, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        Self {
            action: action.into(),
            instance: None,
            project: None,
            args: args.into_iter().map(|a| a.as_ref().to_owned()).collect(),
            own_process_group: false,
            dies_with_us: false,
        }
    }

    /// Runs the child in a process group of its own, so that a Ctrl-C on the terminal reaches
    /// only us: for operations that must not be cut in the middle (`incus launch` goes on in
    /// the daemon even when its client dies, and we must know whether it created the instance).
    /// Not for anything that reads the terminal.
    #[must_use]
    pub fn own_process_group(mut self) -> Self {
        self.own_process_group = true;
        self
    }

    /// The child is killed when we die, even by SIGKILL (a parent-death signal, set by
    /// util-linux's `setpriv`): an `incus import` must never outlive us and see its input end
    /// cleanly, nor an `incus export` go on writing the server's copy for nobody.
    #[must_use]
    pub fn dies_with_us(mut self) -> Self {
        self.dies_with_us = true;
        self
    }

    /// Names the instance the call is about, for error messages.
    #[must_use]
    pub fn instance(mut self, name: impl fmt::Display) -> Self {
        self.instance = Some(name.to_string());
        self
    }

    /// Runs the call in `project` (`--project`).
    #[must_use]
    pub fn project(mut self, project: impl Into<String>) -> Self {
        self.project = Some(project.into());
        self
    }

    /// Full argv after the program name. `--project` goes first: Incus accepts global flags
    /// before the subcommand, and anything after a `--` would not be parsed as a flag.
    pub fn argv(&self) -> Vec<OsString> {
        let mut argv = Vec::with_capacity(self.args.len() + 2);
        if let Some(project) = &self.project {
            argv.push("--project".into());
            argv.push(project.into());
        }
        argv.extend(self.args.iter().cloned());
        argv
    }

    fn describe(&self) -> String {
        let mut text = self.action.clone();
        if let Some(instance) = &self.instance {
            text.push_str(&format!(" instance '{instance}'"));
        }
        if let Some(project) = &self.project {
            text.push_str(&format!(" in project '{project}'"));
        }
        text
    }
}

impl Default for Incus {
    fn default() -> Self {
        Self::from_env()
    }
}

impl Incus {
    /// The client named by `ANKLUME_INCUS`, else `incus` from PATH.
    pub fn from_env() -> Self {
        let program = std::env::var_os(INCUS_ENV)
            .filter(|p| !p.is_empty())
            .unwrap_or_else(|| "incus".into());
        Self::with_program(program)
    }

    pub fn with_program(program: impl Into<OsString>) -> Self {
        Self {
            program: program.into(),
            timeout: None,
            interrupt: None,
        }
    }

    /// Stops at a signal: a call is refused once `interrupt` has caught one, and a running
    /// child is killed when it arrives; both give [`Error::interrupted`]. Cleanup after an
    /// interruption uses [`Incus::uninterruptible`].
    #[must_use]
    pub fn with_interrupt(mut self, interrupt: Interrupt) -> Self {
        self.interrupt = Some(interrupt);
        self
    }

    /// The same runner, deaf to signals: for the cleanup that must run after one.
    #[must_use]
    pub fn uninterruptible(&self) -> Self {
        Self {
            interrupt: None,
            ..self.clone()
        }
    }

    /// Kills and fails any captured or interactive call that runs longer than `limit`.
    #[must_use]
    pub fn with_timeout(mut self, limit: Duration) -> Self {
        self.timeout = Some(limit);
        self
    }

    /// The signal flag this runner honours, for loops that do not run `incus` themselves.
    pub fn interrupt(&self) -> Option<&Interrupt> {
        self.interrupt.as_ref()
    }

    pub fn program(&self) -> &OsStr {
        &self.program
    }

    /// `incus query [remote:]PATH`, its JSON answer decoded as `T`. The project, when needed,
    /// is part of `path` (`?project=P`): `incus query` refuses `--project`.
    pub fn query<T: DeserializeOwned>(&self, remote: Option<&str>, path: &ApiPath) -> Result<T> {
        let target = match remote {
            Some(remote) => format!("{remote}:{path}"),
            None => path.to_string(),
        };
        let call = Call::new(format!("query {target}"), ["query", target.as_str()]);
        let stdout = self.output(&call)?;
        serde_json::from_slice(&stdout).map_err(|e| {
            Error::failure(format!(
                "cannot {}: unexpected answer from Incus: {e}",
                call.describe()
            ))
        })
    }

    /// `incus query -X DELETE --wait [remote:]PATH`: deletes the object and waits for Incus to
    /// have done it.
    pub fn delete(&self, remote: Option<&str>, path: &ApiPath) -> Result<()> {
        let target = match remote {
            Some(remote) => format!("{remote}:{path}"),
            None => path.to_string(),
        };
        let args = ["query", "-X", "DELETE", "--wait", target.as_str()];
        self.output(&Call::new(format!("delete {target}"), args))
            .map(drop)
    }

    /// Runs `call` with stdin closed and returns its stdout; a non-zero exit is an error carrying
    /// Incus's message.
    pub fn output(&self, call: &Call) -> Result<Vec<u8>> {
        let mut child = self.spawn(call, Stdio::null(), Stdio::piped(), Stdio::piped())?;
        let stderr = read_tail_in_background(child.stderr.take());
        let stdout = read_all_in_background(child.stdout.take());
        let status = self.wait(&mut child, call);
        let stderr = join(stderr);
        let stdout = join(stdout);
        let status = status?;
        if status.success() {
            Ok(stdout)
        } else {
            Err(failure(call, status, &stderr))
        }
    }

    /// Runs `call` attached to our terminal and standard streams (`exec`, `console`) and returns
    /// its exit status, which the caller interprets: for `incus exec` it is the command's own.
    pub fn interactive(&self, call: &Call) -> Result<ExitStatus> {
        let mut child = self.spawn(call, Stdio::inherit(), Stdio::inherit(), Stdio::inherit())?;
        self.wait(&mut child, call)
    }

    /// Like [`Incus::interactive`], with the client's stderr passed through us: its closing
    /// `Error: ...` line, if any, is held back and returned for the caller to word.
    pub fn interactive_closing_error(&self, call: &Call) -> Result<(ExitStatus, Option<String>)> {
        let mut child = self.spawn(call, Stdio::inherit(), Stdio::inherit(), Stdio::piped())?;
        let stderr = child.stderr.take();
        let passer = thread::spawn(move || {
            stderr.and_then(|e| crate::closing::pass_all_but_closing_error(e, &mut io::stderr()))
        });
        let status = self.wait(&mut child, call);
        let closing = passer.join().unwrap_or(None);
        Ok((status?, closing))
    }

    /// Starts `call` with the given pipes (the others closed; stderr captured for the error
    /// message). Read and write through the returned [`Stream`], then call [`Stream::finish`].
    pub fn stream(&self, call: &Call, pipes: Pipes) -> Result<Stream> {
        let piped_in = matches!(pipes, Pipes::Stdin | Pipes::Both);
        let piped_out = matches!(pipes, Pipes::Stdout | Pipes::Both);
        let stdio = |piped: bool| if piped { Stdio::piped() } else { Stdio::null() };
        let mut child = self.spawn(call, stdio(piped_in), stdio(piped_out), Stdio::piped())?;
        Ok(Stream {
            stdin: child.stdin.take(),
            stdout: child.stdout.take(),
            stderr: Some(read_tail_in_background(child.stderr.take())),
            child,
            call: call.clone(),
            finished: false,
        })
    }

    fn spawn(&self, call: &Call, stdin: Stdio, stdout: Stdio, stderr: Stdio) -> Result<Child> {
        if let Some(interrupt) = &self.interrupt {
            interrupt.check()?;
        }
        let have_setpriv = std::path::Path::new(SETPRIV).exists();
        if call.dies_with_us && !have_setpriv {
            return Err(Error::failure(format!(
                "cannot {}: {SETPRIV} is missing, and without it incus could outlive us and take an interrupted stream for a whole one",
                call.describe()
            ))
            .with_hint("install util-linux, which provides setpriv"));
        }
        let mut command = if call.dies_with_us {
            let mut command = Command::new(SETPRIV);
            command
                .args(["--pdeathsig", "KILL", "--"])
                .arg(&self.program);
            command
        } else {
            Command::new(&self.program)
        };
        command
            .args(call.argv())
            .stdin(stdin)
            .stdout(stdout)
            .stderr(stderr);
        if call.own_process_group {
            command.process_group(0);
        }
        command.spawn().map_err(|e| {
            let program = self.program.to_string_lossy();
            let error = Error::io(format!("cannot run '{program}' to {}", call.describe()), e);
            error.with_hint(format!(
                "install the Incus client (Debian package 'incus'), or point {INCUS_ENV} at it"
            ))
        })
    }

    fn wait(&self, child: &mut Child, call: &Call) -> Result<ExitStatus> {
        let failed = |e| Error::io(format!("incus did not {}", call.describe()), e);
        if self.timeout.is_none() && self.interrupt.is_none() {
            return child.wait().map_err(failed);
        }
        // Poll: neither a deadline nor a signal can interrupt a blocking wait().
        let deadline = self.timeout.map(|limit| (Instant::now() + limit, limit));
        loop {
            if let Some(status) = child.try_wait().map_err(failed)? {
                return Ok(status);
            }
            let interrupted = self.interrupt.as_ref().and_then(Interrupt::signal);
            let stop = match (interrupted, deadline) {
                (Some(signal), _) => Some(Error::interrupted(signal)),
                (None, Some((at, limit))) if Instant::now() >= at => Some(failed(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("no answer after {limit:?}"),
                ))),
                _ => None,
            };
            if let Some(error) = stop {
                let _ = child.kill();
                let _ = child.wait();
                return Err(error);
            }
            thread::sleep(Duration::from_millis(5));
        }
    }
}

/// A running `incus` child whose stdin and/or stdout are pipes to us.
///
/// Dropping it before [`Stream::finish`] kills the child: a consumer that gave up must never
/// leave `incus export` hanging on a pipe nobody reads.
#[derive(Debug)]
pub struct Stream {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: Option<ChildStdout>,
    stderr: Option<JoinHandle<String>>,
    call: Call,
    finished: bool,
}

impl Stream {
    /// Whether the child has already exited (then [`Stream::finish`] tells how).
    pub fn has_exited(&mut self) -> bool {
        !matches!(self.child.try_wait(), Ok(None))
    }

    /// The child's stdin, to hand to a writer; dropping it sends end-of-file.
    pub fn take_stdin(&mut self) -> Option<ChildStdin> {
        self.stdin.take()
    }

    /// The child's stdout, to hand to a reader.
    pub fn take_stdout(&mut self) -> Option<ChildStdout> {
        self.stdout.take()
    }

    /// Closes our ends of the pipes, waits for the child, and turns a failure into an error
    /// with Incus's message.
    pub fn finish(mut self) -> Result<()> {
        drop(self.stdin.take());
        drop(self.stdout.take());
        let waited = self.child.wait();
        self.finished = true;
        let stderr = self.stderr.take().map(join).unwrap_or_default();
        let status =
            waited.map_err(|e| Error::io(format!("incus did not {}", self.call.describe()), e))?;
        if status.success() {
            Ok(())
        } else {
            Err(failure(&self.call, status, &stderr))
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match &mut self.stdout {
            Some(stdout) => stdout.read(buf),
            None => Ok(0),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match &mut self.stdin {
            Some(stdin) => stdin.write(buf),
            None => Err(io::ErrorKind::BrokenPipe.into()),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match &mut self.stdin {
            Some(stdin) => stdin.flush(),
            None => Ok(()),
        }
    }
}

impl Drop for Stream {
    fn drop(&mut self) {
        if !self.finished {
            // Kill first: closing the pipes alone does not stop `incus export`.
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn failure(call: &Call, status: ExitStatus, stderr: &str) -> Error {
    let incus_line = incus_error_line(stderr);
    let reason = incus_line
        .clone()
        .unwrap_or_else(|| format!("incus exited with {status}"));
    let error = Error::from_incus(format!("cannot {}: {reason}", call.describe()), incus_line);
    match error.fault() {
        Some(Fault::NoDaemon) => error.with_hint(
            "start the Incus daemon (`systemctl start incus`) and check that `incus info` answers",
        ),
        Some(Fault::Forbidden) => {
            error.with_hint("run as a member of the 'incus-admin' group, or as root")
        }
        Some(Fault::NotFound(Object::Remote)) => error.with_hint(
            "list the remotes with `incus remote list`, or add one with `incus remote add`",
        ),
        _ => error,
    }
}

/// Incus's own message: its last `Error: ...` line, else its last non-empty stderr line.
pub fn incus_error_line(stderr: &str) -> Option<String> {
    let lines = || stderr.lines().map(str::trim).filter(|l| !l.is_empty());
    lines()
        .rev()
        .find_map(|l| l.strip_prefix("Error: "))
        .or_else(|| lines().next_back())
        .map(str::to_owned)
}

fn read_tail_in_background<R: Read + Send + 'static>(pipe: Option<R>) -> JoinHandle<String> {
    thread::spawn(move || {
        let Some(mut pipe) = pipe else {
            return String::new();
        };
        let mut tail = Vec::new();
        let mut buf = [0u8; 8192];
        while let Ok(n) = pipe.read(&mut buf) {
            if n == 0 {
                break;
            }
            tail.extend_from_slice(&buf[..n]);
            if tail.len() > 2 * STDERR_TAIL {
                tail.drain(..tail.len() - STDERR_TAIL);
            }
        }
        String::from_utf8_lossy(&tail).into_owned()
    })
}

fn read_all_in_background<R: Read + Send + 'static>(pipe: Option<R>) -> JoinHandle<Vec<u8>> {
    thread::spawn(move || {
        let mut all = Vec::new();
        if let Some(mut pipe) = pipe {
            // A read error ends the capture; the exit status tells whether the call worked.
            let _ = pipe.read_to_end(&mut all);
        }
        all
    })
}

fn join<T: Default>(handle: JoinHandle<T>) -> T {
    handle.join().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn project_flag_comes_before_the_subcommand() {
        let call = Call::new("run a command in", ["exec", "web", "--", "ls", "--project"])
            .instance("web")
            .project("lab");
        let argv: Vec<_> = call
            .argv()
            .into_iter()
            .map(|a| a.into_string().unwrap())
            .collect();
        assert_eq!(
            argv,
            ["--project", "lab", "exec", "web", "--", "ls", "--project"]
        );
    }

    #[test]
    fn description_names_action_instance_and_project() {
        let call = Call::new("start", ["start", "web"])
            .instance("web")
            .project("lab");
        assert_eq!(call.describe(), "start instance 'web' in project 'lab'");
    }

    #[test]
    fn error_line_is_the_last_error_prefixed_line() {
        let stderr = "Exporting the backup: 10%\nError: Failed to fetch instance \"x\": Instance not found\n";
        assert_eq!(
            incus_error_line(stderr).as_deref(),
            Some("Failed to fetch instance \"x\": Instance not found")
        );
        assert_eq!(
            incus_error_line("  \nsomething odd\n\n").as_deref(),
            Some("something odd")
        );
        assert_eq!(incus_error_line(""), None);
    }

    #[test]
    fn a_missing_program_is_an_error_with_a_hint() {
        let incus = Incus::with_program("/nonexistent/incus");
        let error = incus.output(&Call::new("list", ["list"])).unwrap_err();
        assert!(
            error.message().contains("/nonexistent/incus"),
            "{}",
            error.message()
        );
        assert!(error.hint().unwrap().contains(INCUS_ENV));
    }

    #[test]
    fn timeout_kills_a_hanging_child() {
        // `sleep 30` stands in for an incus call that never answers.
        let incus = Incus::with_program("sleep").with_timeout(Duration::from_millis(200));
        let error = incus.output(&Call::new("wait", ["30"])).unwrap_err();
        assert!(
            error.message().contains("did not wait"),
            "{}",
            error.message()
        );
    }

    #[test]
    fn dropping_an_unfinished_stream_kills_the_child() {
        let incus = Incus::with_program("yes");
        let mut stream = incus
            .stream(&Call::new("print", ["y"]), Pipes::Stdout)
            .unwrap();
        let mut first = [0u8; 4];
        stream.read_exact(&mut first).unwrap();
        let pid = stream.child.id();
        drop(stream);
        assert!(
            !std::path::Path::new(&format!("/proc/{pid}")).exists(),
            "the child {pid} survived its stream"
        );
    }
}
