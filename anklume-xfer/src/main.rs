use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = anklume_xfer::Cli::parse();
    anklume_common::run("anklume-xfer", || anklume_xfer::run(&cli))
}
