//! What the tests of the front command share: the four tools' command lines, and the real
//! binaries built next to the anklume binary. Each test file uses a part of it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use clap::CommandFactory;

/// The anklume binary under test.
pub const ANKLUME: &str = env!("CARGO_BIN_EXE_anklume");

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

/// The directory of the anklume binary under test, where the four tools are built too.
///
/// `cargo test --workspace` has built them there already; `cargo test -p anklume` has not, and
/// they may be older than their sources: cargo is asked to bring them up to date, a no-op when
/// they are.
pub fn target_dir() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| {
        let dir = Path::new(ANKLUME).parent().unwrap().to_path_buf();
        let mut cargo = Command::new(env!("CARGO"));
        cargo.args(["build", "--quiet", "--locked", "--target-dir"]);
        cargo.arg(dir.parent().unwrap());
        // target/debug holds the dev profile; any other directory is named after its profile.
        let profile = dir.file_name().unwrap().to_str().unwrap();
        if profile != "debug" {
            cargo.args(["--profile", profile]);
        }
        for (_, program) in anklume::TOOLS {
            cargo.args(["-p", program]);
        }
        let status = cargo.status().expect("cannot run cargo");
        assert!(
            status.success(),
            "cargo could not build the tools: {cargo:?}"
        );
        dir
    })
}

/// `anklume ARGS...`, with the tools built next to it.
pub fn anklume(args: &[&str]) -> Command {
    target_dir();
    let mut command = Command::new(ANKLUME);
    command.args(args);
    command
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}
