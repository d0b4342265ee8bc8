//! Until its issue is done, the tool does nothing: help on request, exit 2 on any use.

use std::process::Command;

const TOOL: &str = env!("CARGO_BIN_EXE_anklume-backup");

#[test]
fn help_succeeds_and_any_use_is_refused_with_status_2() {
    let help = Command::new(TOOL).arg("--help").output().unwrap();
    assert!(help.status.success());
    assert!(String::from_utf8_lossy(&help.stdout).contains("Usage: anklume-backup"));

    let bare = Command::new(TOOL).output().unwrap();
    assert_eq!(bare.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bare.stderr).contains("not implemented yet"));
    assert!(bare.stdout.is_empty());
}
