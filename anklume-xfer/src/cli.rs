//! The command line of anklume-xfer.

use anklume_common::PathRef;
use anklume_common::args::{path_ref, project_name};
use clap::{Args, Parser, Subcommand};

/// File transfer between Incus instances, streaming, never touching the host's disk.
///
/// `pull` writes an instance's file to stdout, `push` writes stdin to an instance's file, `copy`
/// copies a file or a directory tree from one instance to another. Owners, modes, times and
/// symlinks are kept; stopped containers, other projects and remotes work the same.
/// References are [REMOTE:]INSTANCE:/PATH; the project is found from the instance's name.
#[derive(Debug, Parser)]
#[command(name = "anklume-xfer", version, about, long_about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// Errors only: no notes on stderr (an entry left out is still said)
    #[arg(short, long, global = true)]
    pub quiet: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write a file of an instance to stdout (with -r, a tar stream of a file or directory)
    Pull(PullArgs),
    /// Write stdin to a file of an instance (with -r, extract a tar stream into a directory)
    Push(PushArgs),
    /// Copy a file or a directory tree from one instance to another, keeping owners and modes
    Copy(CopyArgs),
}

#[derive(Debug, Args)]
pub struct PullArgs {
    /// What to read: [REMOTE:]INSTANCE:/PATH
    #[arg(value_name = "[REMOTE:]INSTANCE:/PATH", value_parser = path_ref)]
    pub source: PathRef,
    /// Write a tar stream (modes, owners, times and symlinks kept) of a file or a whole directory
    #[arg(short = 'r', long)]
    pub archive: bool,
    /// The instance's project [default: found from the name]
    #[arg(long, value_name = "P", value_parser = project_name)]
    pub project: Option<String>,
    /// Write a tar stream or a binary file even to a terminal
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct PushArgs {
    /// What to write: [REMOTE:]INSTANCE:/PATH (with -r, the directory to extract into)
    #[arg(value_name = "[REMOTE:]INSTANCE:/PATH", value_parser = path_ref)]
    pub destination: PathRef,
    /// Read a tar stream from stdin and extract it into the directory (created if missing)
    #[arg(short = 'r', long)]
    pub archive: bool,
    /// The instance's project [default: found from the name]
    #[arg(long, value_name = "P", value_parser = project_name)]
    pub project: Option<String>,
    /// Permissions of the file, in octal [default: 0644]
    #[arg(long, value_name = "MODE", value_parser = parse_mode, conflicts_with = "archive")]
    pub mode: Option<u32>,
    /// Owner of the file [default: 0]
    #[arg(long, value_name = "UID", conflicts_with = "archive")]
    pub uid: Option<u32>,
    /// Group of the file [default: 0]
    #[arg(long, value_name = "GID", conflicts_with = "archive")]
    pub gid: Option<u32>,
    /// With -r, keep the setuid and setgid bits of the files received (dropped by default)
    #[arg(long)]
    pub keep_setid: bool,
    /// Create the missing parent directories (0755), as `mkdir -p` and `incus file push -p` do
    #[arg(short = 'p', long)]
    pub parents: bool,
}

#[derive(Debug, Args)]
pub struct CopyArgs {
    /// What to copy: [REMOTE:]INSTANCE:/PATH, a file or a directory
    #[arg(value_name = "SRC", value_parser = path_ref)]
    pub source: PathRef,
    /// Where: an existing directory receives SRC under its own name, otherwise DST is the new path
    #[arg(value_name = "DST", value_parser = path_ref)]
    pub destination: PathRef,
    /// The source instance's project [default: found from the name]
    #[arg(long, value_name = "P", value_parser = project_name)]
    pub src_project: Option<String>,
    /// The destination instance's project [default: found from the name]
    #[arg(long, value_name = "P", value_parser = project_name)]
    pub dst_project: Option<String>,
    /// Keep the setuid and setgid bits of the files copied (dropped by default)
    #[arg(long)]
    pub keep_setid: bool,
}

/// Octal permissions such as 644, 0755 or 4755.
fn parse_mode(input: &str) -> Result<u32, String> {
    match u32::from_str_radix(input, 8) {
        Ok(mode) if mode <= 0o7777 => Ok(mode),
        _ => Err(format!(
            "'{input}' is not an octal mode between 0 and 7777 (e.g. 0644)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn modes_are_octal_and_bounded() {
        assert_eq!(parse_mode("0755"), Ok(0o755));
        assert_eq!(parse_mode("4755"), Ok(0o4755));
        assert!(parse_mode("8").is_err());
        assert!(parse_mode("17777").is_err());
        assert!(parse_mode("rw-").is_err());
    }

    #[test]
    fn mode_and_owner_conflict_with_archives() {
        let parsed = Cli::try_parse_from(["anklume-xfer", "push", "-r", "a:/x", "--mode", "644"]);
        assert!(parsed.is_err());
    }
}
