//! --help, the man page and the README describe the same command line.

use anklume_backup::Cli;
use anklume_tests::docs;
use clap::CommandFactory;

const MAN: &str = include_str!("../../man/anklume-backup.1");
const README: &str = include_str!("../../README.md");

#[test]
fn flags_and_subcommands_are_the_same_in_help_man_page_and_readme() {
    let readme = docs::readme_section(README, "anklume-backup");
    // restic's own flag, in the examples that hand it our key.
    docs::assert_flags_in_sync(&Cli::command(), MAN, readme, &["--password-command"]);
}

#[test]
fn every_example_parses() {
    let checked = docs::assert_examples_parse(&Cli::command(), MAN, README);
    assert!(checked >= 8, "only {checked} examples found");
}

#[test]
fn the_man_page_is_lint_clean() {
    docs::assert_man_page_lints_clean(std::path::Path::new("../man/anklume-backup.1"));
}

#[test]
fn the_man_page_has_every_section() {
    docs::assert_man_sections("anklume-backup.1", MAN);
}
