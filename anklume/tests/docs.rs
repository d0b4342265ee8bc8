//! --help, the man pages anklume(1) and anklume(7) and the README describe the same command
//! lines, and every `anklume TOOL ...` example anywhere parses as the front command and then as
//! the tool.

mod tools;

use std::collections::BTreeSet;
use std::path::Path;

use anklume::Cli;
use anklume_tests::docs;
use clap::CommandFactory;

const ANKLUME_1: &str = include_str!("../../man/anklume.1");
const ANKLUME_7: &str = include_str!("../../man/anklume.7");
const README: &str = include_str!("../../README.md");
/// Every man page, for the `anklume TOOL ...` examples they hold.
const PAGES: [(&str, &str); 6] = [
    ("anklume.1", ANKLUME_1),
    ("anklume.7", ANKLUME_7),
    ("anklume-disp.1", include_str!("../../man/anklume-disp.1")),
    (
        "anklume-golden.1",
        include_str!("../../man/anklume-golden.1"),
    ),
    ("anklume-xfer.1", include_str!("../../man/anklume-xfer.1")),
    (
        "anklume-backup.1",
        include_str!("../../man/anklume-backup.1"),
    ),
];

/// Every flag of the four tools: the examples of anklume(1) and anklume(7) use them.
fn tool_flags() -> BTreeSet<String> {
    anklume::TOOLS
        .iter()
        .flat_map(|(_, program)| docs::command_words(&tools::tool_command(program)).0)
        .collect()
}

#[test]
fn flags_and_tools_are_the_same_in_help_man_page_and_readme() {
    let readme = docs::readme_section(README, "anklume");
    let tool_flags = tool_flags();
    let foreign: Vec<&str> = tool_flags.iter().map(String::as_str).collect();
    docs::assert_flags_in_sync(&Cli::command(), ANKLUME_1, readme, &foreign);
}

#[test]
fn the_overview_names_only_flags_the_tools_have() {
    let tool_flags = tool_flags();
    for flag in docs::flags_in(ANKLUME_7) {
        assert!(
            tool_flags.contains(&flag),
            "man/anklume.7 names {flag}, which no tool has"
        );
    }
}

/// `anklume TOOL ARGS...` parses as the front command, and `anklume-TOOL ARGS...` as the tool.
fn assert_front_example_parses(words: &[String]) {
    let cli = anklume::parse_from(Cli::command(), words)
        .unwrap_or_else(|e| panic!("example {words:?} does not parse as anklume:\n{e}"));
    let (program, args) = cli.tool.program().unwrap_or_else(|failure| {
        let hint = failure.error.hint().unwrap_or_default();
        panic!("example {words:?}: {} ({hint})", failure.error)
    });
    let mut tool_words = vec![program.to_owned()];
    tool_words.extend(args.iter().map(|a| a.to_string_lossy().into_owned()));
    if let Err(error) = docs::parse_example(&tools::tool_command(program), &tool_words) {
        panic!("example {words:?} does not parse as {program}:\n{error}");
    }
}

#[test]
fn every_front_command_example_parses_as_anklume_then_as_the_tool() {
    let mut checked = 0;
    for (page, man) in PAGES {
        let readme = if page == "anklume.1" { README } else { "" };
        for words in docs::examples("anklume", man, readme) {
            // `anklume --help` and `anklume --version` concern the front command alone.
            if words.len() == 2 && words[1].starts_with('-') {
                docs::parse_example(&Cli::command(), &words).unwrap();
            } else {
                assert_front_example_parses(&words);
            }
            checked += 1;
        }
    }
    assert!(checked >= 14, "only {checked} examples found");
}

#[test]
fn every_tool_example_of_the_front_pages_parses() {
    let mut checked = 0;
    for (_, program) in anklume::TOOLS {
        let command = tools::tool_command(program);
        for man in [ANKLUME_1, ANKLUME_7] {
            checked += docs::assert_examples_parse(&command, man, "");
        }
    }
    assert!(checked >= 6, "only {checked} examples found");
}

#[test]
fn the_man_pages_have_every_section() {
    docs::assert_man_sections("anklume.1", ANKLUME_1);
    docs::assert_man_sections("anklume.7", ANKLUME_7);
}

#[test]
fn the_man_pages_are_lint_clean() {
    docs::assert_man_page_lints_clean(Path::new("../man/anklume.1"));
    docs::assert_man_page_lints_clean(Path::new("../man/anklume.7"));
}
