use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = anklume_backup::Cli::parse();
    anklume_common::run("anklume-backup", || anklume_backup::run(&cli))
}
