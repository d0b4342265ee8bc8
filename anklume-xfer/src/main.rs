//! anklume-xfer: File transfer between Incus instances, streaming, never touching the host's disk.
//!
//! Not implemented yet: this skeleton shows its help and exits 2, doing nothing.

use std::io;
use std::process::ExitCode;

use clap::{CommandFactory, Parser};

/// File transfer between Incus instances, streaming, never touching the host's disk (not implemented yet).
#[derive(Debug, Parser)]
#[command(name = "anklume-xfer", version, about)]
struct Cli {}

fn main() -> ExitCode {
    Cli::parse();
    let _ = Cli::command().write_help(&mut io::stderr());
    eprintln!("\nanklume-xfer: not implemented yet");
    ExitCode::from(2)
}
