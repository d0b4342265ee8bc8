//! --help, the man page and the README describe the same command line.

use anklume_disp::Cli;
use anklume_tests::docs;
use clap::CommandFactory;

const MAN: &str = include_str!("../../man/anklume-disp.1");
const README: &str = include_str!("../../README.md");

#[test]
fn flags_are_the_same_in_help_man_page_and_readme() {
    // --ephemeral is Incus's flag, named where the page explains what anklume-disp does.
    let readme = docs::readme_section(README, "anklume-disp");
    docs::assert_flags_in_sync(&Cli::command(), MAN, readme, &["--ephemeral"]);
}

#[test]
fn every_example_parses() {
    let checked = docs::assert_examples_parse(&Cli::command(), MAN, README);
    assert!(checked >= 5, "only {checked} examples found");
}

#[test]
fn the_man_page_is_lint_clean() {
    docs::assert_man_page_lints_clean(std::path::Path::new("../man/anklume-disp.1"));
}

#[test]
fn the_man_page_has_every_section() {
    docs::assert_man_sections("anklume-disp.1", MAN);
}
