//! The error every anklume tool reports, and the `run` helper that turns it into an exit status.

use std::fmt;
use std::io::{self, Write};
use std::process::ExitCode;

/// Exit status of a failed operation.
pub const EXIT_FAILURE: u8 = 1;
/// Exit status of a usage error (bad flag, malformed reference), as clap uses.
pub const EXIT_USAGE: u8 = 2;

/// Whether the caller asked for something impossible (usage) or the work itself failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    Failure,
    Usage,
    /// Stopped by a signal (SIGINT, SIGTERM, SIGHUP): exit status 128 + its number.
    Interrupted(i32),
}

/// What failed, for what, and optionally what to do next.
#[derive(Debug)]
pub struct Error {
    kind: ErrorKind,
    message: String,
    hint: Option<String>,
    incus_message: Option<String>,
    /// Our stdout's reader went away: the end of a pipeline, not a failure.
    stdout_closed: bool,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// The work failed: exit status 1.
    pub fn failure(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Failure, message.into())
    }

    /// The command line asked for something malformed: exit status 2.
    pub fn usage(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Usage, message.into())
    }

    /// An I/O failure, with what we were doing when it happened.
    pub fn io(context: impl fmt::Display, err: io::Error) -> Self {
        Self::failure(format!("{context}: {err}"))
    }

    /// A failed write to our stdout. A broken pipe there (`anklume-xfer pull ... | head`)
    /// ends the program quietly; only use this where stopping early loses nothing the user
    /// asked for (not for a backup written to stdout).
    pub fn stdout(err: io::Error) -> Self {
        let closed = err.kind() == io::ErrorKind::BrokenPipe;
        let mut error = Self::io("cannot write to standard output", err);
        error.stdout_closed = closed;
        error
    }

    /// The work was stopped by signal `signal`.
    pub fn interrupted(signal: i32) -> Self {
        Self::new(
            ErrorKind::Interrupted(signal),
            format!("interrupted by {}", signal_name(signal)),
        )
    }

    pub(crate) fn from_incus(message: String, incus_message: Option<String>) -> Self {
        let mut error = Self::failure(message);
        error.incus_message = incus_message;
        error
    }

    fn new(kind: ErrorKind, message: String) -> Self {
        Self {
            kind,
            message,
            hint: None,
            incus_message: None,
            stdout_closed: false,
        }
    }

    /// Adds what the user can do about it; shown on its own `hint:` line.
    #[must_use]
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    pub fn message(&self) -> &str {
        &self.message
    }

    pub fn hint(&self) -> Option<&str> {
        self.hint.as_deref()
    }

    /// Incus's own `Error: ...` line (without the prefix), when Incus reported the failure.
    pub fn incus_message(&self) -> Option<&str> {
        self.incus_message.as_deref()
    }

    pub fn exit_code(&self) -> u8 {
        match self.kind {
            ErrorKind::Failure => EXIT_FAILURE,
            ErrorKind::Usage => EXIT_USAGE,
            ErrorKind::Interrupted(signal) => (128 + signal).clamp(0, 255) as u8,
        }
    }

    /// The reader of our stdout went away (`anklume-xfer pull ... | head`): not worth a message.
    pub fn is_broken_pipe(&self) -> bool {
        self.stdout_closed
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

fn signal_name(signal: i32) -> String {
    match signal {
        signal_hook::consts::SIGHUP => "SIGHUP".into(),
        signal_hook::consts::SIGINT => "SIGINT".into(),
        signal_hook::consts::SIGTERM => "SIGTERM".into(),
        other => format!("signal {other}"),
    }
}

/// Writes `tool: message` and, when there is one, `hint: ...` — the format of every tool.
pub fn report(tool: &str, error: &Error, out: &mut dyn Write) -> io::Result<()> {
    writeln!(out, "{tool}: {}", error.message)?;
    if let Some(hint) = &error.hint {
        writeln!(out, "hint: {hint}")?;
    }
    Ok(())
}

/// Runs a tool's body and maps its outcome to the process exit status.
///
/// `body` returns the exit status on success (0 for most tools; `anklume-disp` returns the
/// command's own). stdout is flushed here so that a late write error is reported too, and a
/// broken pipe on stdout ends the program quietly, as `head` users expect.
pub fn run(tool: &str, body: impl FnOnce() -> Result<u8>) -> ExitCode {
    let outcome = body().and_then(|status| {
        io::stdout().flush().map_err(Error::stdout)?;
        Ok(status)
    });
    match outcome {
        Ok(status) => ExitCode::from(status),
        Err(error) if error.is_broken_pipe() => ExitCode::SUCCESS,
        Err(error) => {
            // Nothing more can be done if stderr itself is gone.
            let _ = report(tool, &error, &mut io::stderr().lock());
            ExitCode::from(error.exit_code())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reported(error: &Error) -> String {
        let mut out = Vec::new();
        report("anklume-xfer", error, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn report_prints_tool_message_and_hint_lines() {
        let error = Error::failure("instance 'web' not found in any project")
            .with_hint("check the name with `incus list --all-projects`");
        assert_eq!(
            reported(&error),
            "anklume-xfer: instance 'web' not found in any project\n\
             hint: check the name with `incus list --all-projects`\n"
        );
    }

    #[test]
    fn report_without_hint_is_one_line() {
        assert_eq!(reported(&Error::failure("boom")), "anklume-xfer: boom\n");
    }

    #[test]
    fn usage_errors_exit_2_and_failures_exit_1() {
        assert_eq!(Error::usage("bad reference").exit_code(), 2);
        assert_eq!(Error::failure("incus failed").exit_code(), 1);
    }

    #[test]
    fn interruptions_exit_128_plus_the_signal() {
        let error = Error::interrupted(signal_hook::consts::SIGINT);
        assert_eq!(error.exit_code(), 130);
        assert_eq!(error.message(), "interrupted by SIGINT");
        assert_eq!(
            Error::interrupted(signal_hook::consts::SIGTERM).exit_code(),
            143
        );
        assert_eq!(
            Error::interrupted(signal_hook::consts::SIGHUP).exit_code(),
            129
        );
    }

    #[test]
    fn only_a_broken_pipe_on_stdout_is_quiet() {
        let pipe = || io::Error::from(io::ErrorKind::BrokenPipe);
        assert!(Error::stdout(pipe()).is_broken_pipe());
        // Elsewhere (a pipe to `incus import`, a socket) it is a failure like any other.
        assert!(!Error::io("cannot send the backup", pipe()).is_broken_pipe());
        let full = io::Error::from(io::ErrorKind::StorageFull);
        assert!(!Error::stdout(full).is_broken_pipe());
        assert!(!Error::failure("x").is_broken_pipe());
    }
}
