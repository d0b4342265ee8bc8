//! anklume-backup: Streaming, natively encrypted backups and restores of Incus instances.
//!
//! Not implemented yet: this skeleton shows its help and exits 2, doing nothing.

use std::io;
use std::process::ExitCode;

use clap::{CommandFactory, Parser};

/// Streaming, natively encrypted backups and restores of Incus instances (not implemented yet).
#[derive(Debug, Parser)]
#[command(name = "anklume-backup", version, about)]
struct Cli {}

fn main() -> ExitCode {
    Cli::parse();
    let _ = Cli::command().write_help(&mut io::stderr());
    eprintln!("\nanklume-backup: not implemented yet");
    ExitCode::from(2)
}
