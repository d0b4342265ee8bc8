//! The command line of anklume: a tool's name, then that tool's own arguments.

use std::ffi::OsString;

use clap::{Args, Parser, Subcommand};

/// Front command of the anklume tools: `anklume TOOL ARGS...` runs `anklume-TOOL ARGS...`.
///
/// The tool is looked up next to anklume, then on PATH; its standard streams and exit status
/// are its own. `anklume TOOL --help` shows the tool's help.
#[derive(Debug, Parser)]
#[command(name = "anklume", version, about, long_about)]
#[command(
    override_usage = "anklume <TOOL> [ARGS]...",
    subcommand_value_name = "TOOL",
    subcommand_help_heading = "Tools",
    arg_required_else_help = true,
    disable_help_subcommand = true,
    after_help = "Exit status: the tool's own; 2 for an unknown tool; 127 when the tool is not \
installed, 126 when it cannot be run."
)]
pub struct Cli {
    #[command(subcommand)]
    pub tool: Tool,
}

#[derive(Debug, Subcommand)]
pub enum Tool {
    /// Disposable instances: a shell or one command, destroyed afterwards (anklume-disp)
    Disp(ToolArgs),
    /// Golden images: create, derive, publish, list (anklume-golden)
    Golden(ToolArgs),
    /// File transfer between instances: pull, push, copy (anklume-xfer)
    #[command(visible_alias = "portal")]
    Xfer(ToolArgs),
    /// Encrypted backups of instances: create, restore, verify, list (anklume-backup)
    Backup(ToolArgs),
    /// A name that is not one of the tools, reported with the closest one.
    #[command(external_subcommand)]
    Unknown(Vec<OsString>),
}

/// Everything after the tool's name, passed on untouched (its --help and --version too).
#[derive(Debug, Args)]
#[command(disable_help_flag = true)]
pub struct ToolArgs {
    /// Arguments of the tool
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "ARGS"
    )]
    pub args: Vec<OsString>,
}
