//! The command lines of the four tools, for the tests of the front command.

use clap::CommandFactory;

/// The clap command of the tool `program` (`anklume-golden`...).
pub fn tool_command(program: &str) -> clap::Command {
    match program {
        "anklume-disp" => anklume_disp::Cli::command(),
        "anklume-golden" => anklume_golden::cli::Cli::command(),
        "anklume-xfer" => anklume_xfer::Cli::command(),
        "anklume-backup" => anklume_backup::Cli::command(),
        other => panic!("{other} is not one of the tools"),
    }
}
