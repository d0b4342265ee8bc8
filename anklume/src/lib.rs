//! anklume: the front command of the anklume tools.
//!
//! `anklume golden derive ...` runs `anklume-golden derive ...` in place of itself (exec), so
//! the tool's standard streams, signals and exit status are the caller's. Tools are looked up
//! next to the anklume binary first, so that one installation's tools go together, then on
//! PATH.

pub mod cli;

use std::ffi::{OsStr, OsString};
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use anklume_common::Error;
use anklume_common::error::{EXIT_USAGE, report};
use clap::{CommandFactory, FromArgMatches};

pub use cli::{Cli, Tool};

/// Each tool: its name after `anklume` (a subcommand of [`Cli`]) and its program.
pub const TOOLS: [(&str, &str); 4] = [
    ("disp", "anklume-disp"),
    ("golden", "anklume-golden"),
    ("xfer", "anklume-xfer"),
    ("backup", "anklume-backup"),
];

/// Exit status when the tool is not installed, as `env` and shells give for a missing command.
pub const EXIT_NOT_INSTALLED: u8 = 127;
/// Exit status when the tool is there but cannot be run.
pub const EXIT_CANNOT_RUN: u8 = 126;

impl Tool {
    /// The program of this tool and the arguments to run it with; an unknown name is a usage
    /// error that suggests the closest tool.
    pub fn program(&self) -> Result<(&'static str, &[OsString]), Failure> {
        let (program, args) = match self {
            Self::Disp(a) => ("anklume-disp", &a.args),
            Self::Golden(a) => ("anklume-golden", &a.args),
            Self::Xfer(a) => ("anklume-xfer", &a.args),
            Self::Backup(a) => ("anklume-backup", &a.args),
            Self::Unknown(words) => return Err(unknown_tool(&words[0])),
        };
        Ok((program, args))
    }

    fn args_mut(&mut self) -> Option<&mut Vec<OsString>> {
        match self {
            Self::Disp(a) | Self::Golden(a) | Self::Xfer(a) | Self::Backup(a) => Some(&mut a.args),
            Self::Unknown(_) => None,
        }
    }
}

/// The directories where tools are looked up, in order.
#[derive(Debug, Clone)]
pub struct ToolPath {
    dirs: Vec<PathBuf>,
}

impl ToolPath {
    /// The directory of the running anklume binary, then the PATH entries.
    pub fn from_env() -> Self {
        let own_dir = std::env::current_exe()
            .ok()
            .and_then(|exe| exe.parent().map(Path::to_path_buf));
        let path = std::env::var_os("PATH").unwrap_or_default();
        Self::new(own_dir.into_iter().chain(std::env::split_paths(&path)))
    }

    pub fn new(dirs: impl IntoIterator<Item = PathBuf>) -> Self {
        // An empty PATH entry would mean the current directory: a trap, not followed.
        let dirs = dirs
            .into_iter()
            .filter(|dir| !dir.as_os_str().is_empty())
            .collect();
        Self { dirs }
    }

    /// The first executable file named `program` in these directories.
    pub fn find(&self, program: &str) -> Option<PathBuf> {
        self.dirs
            .iter()
            .map(|dir| dir.join(program))
            .find(|path| is_executable(path))
    }
}

fn is_executable(path: &Path) -> bool {
    path.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// anklume's command line, whose `--help` lists only the tools found in `tools` and names the
/// others as not installed.
pub fn command(tools: &ToolPath) -> clap::Command {
    let mut command = Cli::command();
    let mut missing = Vec::new();
    for (name, program) in TOOLS {
        if tools.find(program).is_none() {
            missing.push(program);
            command = command.mut_subcommand(name, |sub| sub.hide(true));
        }
    }
    if !missing.is_empty() {
        let after = command.get_after_help().map(ToString::to_string);
        command = command.after_help(format!(
            "Not installed here: {}.\n\n{}",
            missing.join(", "),
            after.unwrap_or_default()
        ));
    }
    command
}

/// Parses `argv` (`anklume TOOL ARGS...`) with `command`; `Err` for --help, --version and
/// usage errors, which clap reports.
pub fn parse_from(
    command: clap::Command,
    argv: impl IntoIterator<Item = impl Into<OsString>>,
) -> Result<Cli, clap::Error> {
    let argv = help_as_flag(argv.into_iter().map(Into::into).collect());
    let mut cli = Cli::from_arg_matches(&command.try_get_matches_from(&argv)?)?;
    // clap takes a `--` right after the tool's name (argv[1], as anklume has no options that
    // take a value) as its own end of options and drops it; `anklume disp -- make` must reach
    // anklume-disp as `-- make`.
    if argv.get(2).is_some_and(|word| word == "--")
        && let Some(args) = cli.tool.args_mut()
    {
        args.insert(0, "--".into());
    }
    Ok(cli)
}

/// `anklume help` is `anklume --help`, and `anklume help TOOL [SUBCOMMAND]` is
/// `anklume TOOL [SUBCOMMAND] --help`, as `git help` and `cargo help` go.
fn help_as_flag(mut argv: Vec<OsString>) -> Vec<OsString> {
    if argv.get(1).is_some_and(|word| word == "help") {
        argv.remove(1);
        argv.push("--help".into());
    }
    argv
}

/// Why no tool was started, and anklume's exit status for it.
#[derive(Debug)]
pub struct Failure {
    pub status: u8,
    pub error: Error,
}

impl Failure {
    /// Says what failed on stderr, in the format of every tool, and gives the exit status.
    pub fn report(&self) -> ExitCode {
        // Nothing more can be done if stderr itself is gone.
        let _ = report("anklume", &self.error, &mut io::stderr().lock());
        ExitCode::from(self.status)
    }
}

/// Runs the tool in place of this process; returns only when it could not be started.
pub fn exec(cli: &Cli, tools: &ToolPath) -> Failure {
    let (program, args) = match cli.tool.program() {
        Ok(found) => found,
        Err(failure) => return failure,
    };
    let Some(path) = tools.find(program) else {
        let error = Error::failure(format!("{program} is not installed")).with_hint(format!(
            "install the {program} package, or put {program} on PATH or next to anklume"
        ));
        return Failure {
            status: EXIT_NOT_INSTALLED,
            error,
        };
    };
    let error = Command::new(&path).arg0(program).args(args).exec();
    Failure {
        status: EXIT_CANNOT_RUN,
        error: Error::io(format!("cannot run {}", path.display()), error),
    }
}

fn unknown_tool(word: &OsStr) -> Failure {
    let word = word.to_string_lossy();
    let hint = match (word.as_ref(), closest_tool(&word)) {
        // Listings belong to the tools: golden images and backups.
        ("list" | "ls", _) => {
            "golden images: anklume golden list; backups: anklume backup list".to_owned()
        }
        (_, Some(tool)) => format!("did you mean '{tool}'?"),
        (_, None) => "`anklume --help` lists the tools".to_owned(),
    };
    Failure {
        status: EXIT_USAGE,
        error: Error::usage(format!("unknown tool '{word}'")).with_hint(hint),
    }
}

/// The tool name (or alias) closest to `word`: one it begins, or one within two edits;
/// `anklume-` before it is ignored, as in `anklume anklume-xfer`.
pub fn closest_tool(word: &str) -> Option<String> {
    let word = word.strip_prefix("anklume-").unwrap_or(word);
    let front = Cli::command();
    let names = front
        .get_subcommands()
        .flat_map(|tool| std::iter::once(tool.get_name()).chain(tool.get_visible_aliases()));
    names
        .map(|name| (edit_distance(word, name), name))
        .filter(|(distance, name)| *distance <= 2 || (!word.is_empty() && name.starts_with(word)))
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, name)| name.to_owned())
}

/// Levenshtein distance between two words, in characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = diagonal + usize::from(ca != *cb);
            diagonal = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(diagonal + 1);
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(words: &[&str]) -> Result<Cli, clap::Error> {
        parse_from(
            Cli::command(),
            std::iter::once("anklume").chain(words.iter().copied()),
        )
    }

    fn forwarded(words: &[&str]) -> (&'static str, Vec<String>) {
        let cli = parse(words).unwrap();
        let (program, args) = cli.tool.program().unwrap();
        let args = args.iter().map(|a| a.to_string_lossy().into_owned());
        (program, args.collect())
    }

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn the_tools_are_the_subcommands() {
        let command = Cli::command();
        let names: Vec<&str> = command.get_subcommands().map(|s| s.get_name()).collect();
        assert_eq!(names, TOOLS.map(|(name, _)| name));
        for (name, program) in TOOLS {
            assert_eq!(forwarded(&[name]).0, program);
        }
    }

    #[test]
    fn arguments_after_the_tool_are_passed_on_untouched() {
        assert_eq!(
            forwarded(&["golden", "derive", "ref", "a", "--start"]),
            (
                "anklume-golden",
                vec!["derive".into(), "ref".into(), "a".into(), "--start".into()]
            )
        );
        assert_eq!(forwarded(&["golden", "--help"]).1, ["--help"]);
        assert_eq!(forwarded(&["backup", "-V"]).1, ["-V"]);
        assert_eq!(forwarded(&["disp"]).1, Vec::<String>::new());
        assert_eq!(
            forwarded(&["disp", "--", "make", "-j2"]).1,
            ["--", "make", "-j2"]
        );
        assert_eq!(forwarded(&["disp", "-q", "--", "ls"]).1, ["-q", "--", "ls"]);
        assert_eq!(forwarded(&["disp", "--", "--"]).1, ["--", "--"]);
    }

    #[test]
    fn portal_is_xfer() {
        assert_eq!(
            forwarded(&["portal", "pull", "web:/etc/hostname"]),
            (
                "anklume-xfer",
                vec!["pull".into(), "web:/etc/hostname".into()]
            )
        );
    }

    #[test]
    fn help_is_a_subcommand_too() {
        let words = |argv: &[&str]| help_as_flag(argv.iter().map(OsString::from).collect());
        assert_eq!(words(&["anklume", "help"]), words(&["anklume", "--help"]));
        assert_eq!(
            words(&["anklume", "help", "golden", "derive"]),
            words(&["anklume", "golden", "derive", "--help"])
        );
        let cli = parse(&["list"]).unwrap();
        let failure = cli.tool.program().unwrap_err();
        assert_eq!(
            failure.error.hint(),
            Some("golden images: anklume golden list; backups: anklume backup list")
        );
    }

    #[test]
    fn an_unknown_tool_is_a_usage_error_with_the_closest_name() {
        let cli = parse(&["gold", "list"]).unwrap();
        let failure = cli.tool.program().unwrap_err();
        assert_eq!(failure.status, 2);
        assert_eq!(failure.error.message(), "unknown tool 'gold'");
        assert_eq!(failure.error.hint(), Some("did you mean 'golden'?"));
    }

    #[test]
    fn suggestions() {
        let closest = |word| closest_tool(word);
        assert_eq!(closest("gold").as_deref(), Some("golden"));
        assert_eq!(closest("bakup").as_deref(), Some("backup"));
        assert_eq!(closest("dips").as_deref(), Some("disp"));
        assert_eq!(closest("x").as_deref(), Some("xfer"));
        assert_eq!(closest("portl").as_deref(), Some("portal"));
        assert_eq!(closest("anklume-xfer").as_deref(), Some("xfer"));
        assert_eq!(closest("help"), None);
        assert_eq!(closest("frobnicate"), None);
    }

    #[test]
    fn edit_distances() {
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("disp", "disp"), 0);
    }

    #[test]
    fn tools_are_found_in_order_and_only_when_executable() {
        let scratch = anklume_tests::ScratchDir::new("find");
        let first = scratch.write("first/anklume-xfer", "#!/bin/sh\n");
        let second = scratch.write("second/anklume-xfer", "#!/bin/sh\n");
        let mode = |path: &Path, mode| {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
        };
        mode(&first, 0o644);
        mode(&second, 0o755);
        let dirs = [&first, &second].map(|file| file.parent().unwrap().to_path_buf());
        // The empty entry (the current directory, to execvp) is skipped.
        let tools = ToolPath::new([PathBuf::new(), dirs[0].clone(), dirs[1].clone()]);
        assert_eq!(tools.find("anklume-xfer"), Some(second.clone()));
        mode(&first, 0o755);
        assert_eq!(tools.find("anklume-xfer"), Some(first));
        assert_eq!(tools.find("anklume-disp"), None);
    }

    #[test]
    fn help_hides_the_tools_that_are_not_installed() {
        let help = command(&ToolPath::new([])).render_help().to_string();
        let listed = |tool: &str| help.lines().any(|line| line.trim_start().starts_with(tool));
        assert!(!listed("golden") && !listed("disp"), "{help}");
        assert!(
            help.contains("Not installed here: anklume-disp, anklume-golden"),
            "{help}"
        );
    }
}
