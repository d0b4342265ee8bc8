use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = anklume_golden::cli::Cli::parse();
    anklume_common::run("anklume-golden", || anklume_golden::run(&cli))
}
