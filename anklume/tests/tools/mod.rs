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

/// anklume's command line with each tool's own in place of its ARGS, so that completion goes
/// on after the tool's name (`anklume golden derive --<TAB>`).
pub fn front_command() -> clap::Command {
    anklume::TOOLS
        .iter()
        .fold(anklume::Cli::command(), |front, (name, program)| {
            front.mut_subcommand(name, |sub| {
                let aliases: Vec<String> = sub.get_visible_aliases().map(str::to_owned).collect();
                tool_command(program)
                    .name(name)
                    .about(sub.get_about().cloned().unwrap_or_default())
                    .long_about(None::<&str>)
                    .visible_aliases(aliases)
            })
        })
}
