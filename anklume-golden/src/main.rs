//! anklume-golden: Golden images: create, derive, publish and list Incus instances with a pristine snapshot.
//!
//! Not implemented yet: this skeleton shows its help and exits 2, doing nothing.

use std::io;
use std::process::ExitCode;

use clap::{CommandFactory, Parser};

/// Golden images: create, derive, publish and list Incus instances with a pristine snapshot (not implemented yet).
#[derive(Debug, Parser)]
#[command(name = "anklume-golden", version, about)]
struct Cli {}

fn main() -> ExitCode {
    Cli::parse();
    let _ = Cli::command().write_help(&mut io::stderr());
    eprintln!("\nanklume-golden: not implemented yet");
    ExitCode::from(2)
}
