//! anklume-disp: Disposable Incus instances: a shell or one command, destroyed afterwards.
//!
//! Not implemented yet: this skeleton shows its help and exits 2, doing nothing.

use std::io;
use std::process::ExitCode;

use clap::{CommandFactory, Parser};

/// Disposable Incus instances: a shell or one command, destroyed afterwards (not implemented yet).
#[derive(Debug, Parser)]
#[command(name = "anklume-disp", version, about)]
struct Cli {}

fn main() -> ExitCode {
    Cli::parse();
    let _ = Cli::command().write_help(&mut io::stderr());
    eprintln!("\nanklume-disp: not implemented yet");
    ExitCode::from(2)
}
