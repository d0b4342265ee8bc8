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

/// What Incus (or an instance's SFTP server) refused, in types: the one place where Incus's
/// message text is read is [`Fault::of_incus_message`]; callers match on these instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The object does not exist (or this client may not see it).
    NotFound(Object),
    /// An object of that name exists already.
    AlreadyExists,
    /// Another operation on the instance runs; trying again later may succeed.
    Busy,
    /// A clean stop did not end within its time limit.
    TimedOut,
    /// A remote image server cannot be reached.
    Unreachable,
    /// The instance's profiles give it no root disk.
    NoRootDisk,
    /// A virtual machine was asked from a container image.
    NotAVmImage,
    /// The daemon does not answer on its socket.
    NoDaemon,
    /// The user may not do this.
    Forbidden,
    /// Any other refusal.
    Refused,
}

/// What a [`Fault::NotFound`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Object {
    Project,
    Instance,
    Snapshot,
    Image,
    StoragePool,
    Profile,
    Network,
    /// A file or directory inside an instance.
    File,
    /// A remote of the client's configuration.
    Remote,
    /// A member of a cluster.
    Member,
    Other,
}

impl Fault {
    /// Classifies Incus's own `Error:` line. Each pattern was seen from Incus 6.0.
    pub fn of_incus_message(line: &str) -> Self {
        let has = |text: &str| line.contains(text);
        if has("daemon doesn't appear to be started") || has("unix.socket") {
            Self::NoDaemon
        } else if has("not authorized") || has("permission denied") {
            Self::Forbidden
        } else if has("already exists") || has("UNIQUE constraint failed") {
            Self::AlreadyExists
        } else if has("is busy running") && has("Failed creating instance record") {
            // A competing create holds the name.
            Self::AlreadyExists
        } else if has("is busy running") || has("device or resource busy") || has("Invalid PID") {
            // The second: a snapshot directory renamed while a copy reads it; the third: the
            // state of an instance read while it stops.
            Self::Busy
        } else if has("context deadline exceeded") || has("Failed shutting down") {
            Self::TimedOut
        } else if has("Failed getting remote image info") && has("couldn't be found") {
            Self::NotFound(Object::Image)
        } else if has("Failed getting remote image info") {
            Self::Unreachable
        } else if has("No root device could be found") {
            Self::NoRootDisk
        } else if has("Asked for a VM but image is of type container") {
            Self::NotAVmImage
        } else if has("The remote") && has("doesn't exist") {
            Self::NotFound(Object::Remote)
        } else if has("Requested profile") || has("Profile not found") {
            Self::NotFound(Object::Profile)
        } else if has("not found") {
            Self::NotFound(Object::of_not_found(line))
        } else {
            Self::Refused
        }
    }
}

impl Object {
    /// What a "... not found" line of Incus is about: the innermost cause, which Incus writes
    /// last ("Failed to fetch instance "x" in project "p": Project not found").
    fn of_not_found(line: &str) -> Self {
        let cause = line.rsplit(": ").next().unwrap_or(line);
        let about = |word: &str| cause.starts_with(word);
        if about("Project") {
            Self::Project
        } else if about("Instance_snapshot") || about("Instance snapshot") || about("Snapshot") {
            Self::Snapshot
        } else if about("Instance") {
            Self::Instance
        } else if about("Image") {
            Self::Image
        } else if about("Storage pool") {
            Self::StoragePool
        } else if about("Network") {
            Self::Network
        } else if about("Profile") {
            Self::Profile
        } else {
            Self::Other
        }
    }
}

/// What failed, for what, and optionally what to do next.
#[derive(Debug)]
pub struct Error {
    kind: ErrorKind,
    message: String,
    hint: Option<String>,
    incus_message: Option<String>,
    fault: Option<Fault>,
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
        error.fault = Some(
            incus_message
                .as_deref()
                .map_or(Fault::Refused, Fault::of_incus_message),
        );
        error.incus_message = incus_message;
        error
    }

    /// A refusal of a known kind, with its message.
    pub fn refused(fault: Fault, message: impl Into<String>) -> Self {
        let mut error = Self::failure(message);
        error.fault = Some(fault);
        error
    }

    fn new(kind: ErrorKind, message: String) -> Self {
        Self {
            kind,
            message,
            hint: None,
            incus_message: None,
            fault: None,
            stdout_closed: false,
        }
    }

    /// Adds what the user can do about it; shown on its own `hint:` line.
    #[must_use]
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// The same error, its message rewritten by `reword` (kind, hint and fault kept).
    #[must_use]
    pub fn reworded(mut self, reword: impl FnOnce(&str) -> String) -> Self {
        self.message = reword(&self.message);
        self
    }

    /// The message with its hint in parentheses, for clap's one-line value errors.
    pub fn with_hint_inline(&self) -> String {
        match &self.hint {
            Some(hint) => format!("{} ({hint})", self.message),
            None => self.message.clone(),
        }
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

    /// Incus's own `Error: ...` line (without the prefix), when Incus reported the failure:
    /// for messages only; decide on [`Error::fault`].
    pub fn incus_message(&self) -> Option<&str> {
        self.incus_message.as_deref()
    }

    /// What Incus or the SFTP server refused, when the failure is theirs.
    pub fn fault(&self) -> Option<Fault> {
        self.fault
    }

    /// Whether Incus refused because of `fault`.
    pub fn is(&self, fault: Fault) -> bool {
        self.fault == Some(fault)
    }

    /// Whether the failure is that something does not exist.
    pub fn is_not_found(&self) -> bool {
        matches!(self.fault, Some(Fault::NotFound(_)))
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

/// `word` as a shell reads it back in a command line a hint suggests: as it is when it holds
/// only safe characters, else in single quotes (Incus refuses quotes in names).
pub fn shell_word(word: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "-_./:@".contains(c);
    if !word.is_empty() && word.chars().all(safe) {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', "'\\''"))
    }
}

/// Text from an untrusted source (a name in a backup, a tar stream, an instance), as it may be
/// printed: control characters escaped, so that no escape sequence reaches the terminal.
pub fn terminal_safe(text: &str) -> String {
    text.chars()
        .map(|c| match c.is_control() {
            true => c.escape_default().to_string(),
            false => c.to_string(),
        })
        .collect()
}

/// The name of the running program (`anklume-disp`...), for messages of the shared library.
pub fn program_name() -> String {
    std::env::args_os()
        .next()
        .map(std::path::PathBuf::from)
        .and_then(|path| path.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "anklume".to_owned())
}

/// Binary data (`what`) is not written to a terminal, where it would only fill the screen
/// (and could send it escape sequences): refused as zstd does, unless `force`.
pub fn refuse_binary_on_terminal(what: &str, force: bool) -> Result<()> {
    use std::io::IsTerminal;
    if force || !io::stdout().is_terminal() {
        return Ok(());
    }
    Err(
        Error::failure(format!("refusing to write {what} to a terminal"))
            .with_hint("redirect it to a file or a pipe (> FILE, | ...), or pass --force"),
    )
}

/// Reports `error` on stderr as a warning: the work goes on (or is cleaning up).
pub fn warn(error: &Error) {
    // Nothing more can be done if stderr itself is gone.
    let _ = report(&program_name(), error, &mut io::stderr().lock());
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
    fn incus_messages_are_classified() {
        let cases = [
            (
                "Failed to fetch instance \"x\" in project \"p\": Instance not found",
                Fault::NotFound(Object::Instance),
            ),
            (
                "Failed checking instance exists \"local:x\": Failed to fetch instance \"x\" in project \"p?y\": Project not found",
                Fault::NotFound(Object::Project),
            ),
            ("Image \"debian\" not found", Fault::NotFound(Object::Image)),
            (
                "The remote \"nosuch\" doesn't exist",
                Fault::NotFound(Object::Remote),
            ),
            (
                "Storage pool not found",
                Fault::NotFound(Object::StoragePool),
            ),
            (
                "Failed loading snapshot: Instance_snapshot not found",
                Fault::NotFound(Object::Snapshot),
            ),
            (
                "Failed creating instance record: Failed initializing instance: Failed getting root disk: No root device could be found",
                Fault::NoRootDisk,
            ),
            (
                "Instance is busy running a \"start\" operation",
                Fault::Busy,
            ),
            ("Invalid PID '\u{1}'", Fault::Busy),
            (
                "Rename instance snapshot: Failed to rename \"/a/pristine\" to \"/a/p-old\": rename /a/pristine /a/p-old: device or resource busy",
                Fault::Busy,
            ),
            (
                "Failed creating instance record: Instance is busy running a \"create\" operation",
                Fault::AlreadyExists,
            ),
            ("Instance \"web\" already exists", Fault::AlreadyExists),
            (
                "Failed shutting down instance: context deadline exceeded",
                Fault::TimedOut,
            ),
            (
                "Requested profile \"gui\" doesn't exist",
                Fault::NotFound(Object::Profile),
            ),
            (
                "Failed getting remote image info: Failed getting image: The requested image couldn't be found",
                Fault::NotFound(Object::Image),
            ),
            (
                "Failed getting remote image info: Get \"https://images.linuxcontainers.org/streams/v1/index.json\": dial tcp: lookup images.linuxcontainers.org: no such host",
                Fault::Unreachable,
            ),
            ("something new", Fault::Refused),
        ];
        for (line, fault) in cases {
            assert_eq!(Fault::of_incus_message(line), fault, "{line}");
        }
    }

    #[test]
    fn control_characters_never_reach_the_terminal() {
        assert_eq!(terminal_safe("web\u{1b}[31mé\n"), "web\\u{1b}[31mé\\n");
        assert_eq!(terminal_safe("plain name"), "plain name");
    }

    #[test]
    fn shell_words_are_quoted_only_when_needed() {
        assert_eq!(shell_word("lab-1"), "lab-1");
        assert_eq!(shell_word("q?&#%+=,;.é"), "'q?&#%+=,;.é'");
        assert_eq!(shell_word(""), "''");
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
