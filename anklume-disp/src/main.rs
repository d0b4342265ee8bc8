use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = anklume_disp::Cli::parse();
    anklume_common::run("anklume-disp", || anklume_disp::run(&cli))
}
