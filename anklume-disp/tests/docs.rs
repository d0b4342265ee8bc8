//! --help, the man page and the README describe the same command line.

use std::collections::BTreeSet;
use std::process::Command;

use anklume_disp::Cli;
use clap::{CommandFactory, Parser};

const MAN: &str = include_str!("../../man/anklume-disp.1");
const README: &str = include_str!("../../README.md");
/// Incus's own flags that the man page mentions while explaining what anklume-disp does.
const INCUS_FLAGS: &[&str] = &["--ephemeral"];

/// Every visible long flag and visible alias of the command, as `--name`.
fn clap_flags() -> BTreeSet<String> {
    let command = Cli::command();
    let mut flags = BTreeSet::from(["--help".to_owned(), "--version".to_owned()]);
    for arg in command.get_arguments().filter(|a| !a.is_hide_set()) {
        if let Some(long) = arg.get_long() {
            flags.insert(format!("--{long}"));
        }
        for alias in arg.get_visible_aliases().into_iter().flatten() {
            flags.insert(format!("--{alias}"));
        }
    }
    flags
}

/// `--words` in a text (roff's `\-` read as `-`).
fn flags_in(text: &str) -> BTreeSet<String> {
    let text = text.replace("\\-", "-");
    let mut flags = BTreeSet::new();
    for (at, _) in text.match_indices("--") {
        let word: String = text[at + 2..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
            .collect();
        if word.starts_with(|c: char| c.is_ascii_lowercase()) {
            flags.insert(format!("--{word}"));
        }
    }
    flags
}

fn readme_section() -> &'static str {
    let start = README
        .find("## anklume-disp")
        .expect("README has an anklume-disp section");
    let end = README[start + 3..]
        .find("\n## ")
        .map_or(README.len(), |e| start + 3 + e);
    &README[start..end]
}

#[test]
fn every_flag_of_the_command_is_in_the_man_page_and_readme() {
    let man = flags_in(MAN);
    let readme = flags_in(readme_section());
    for flag in clap_flags() {
        assert!(
            man.contains(&flag),
            "{flag} is missing from man/anklume-disp.1"
        );
        if flag != "--help" && flag != "--version" {
            assert!(
                readme.contains(&flag),
                "{flag} is missing from the README's anklume-disp section"
            );
        }
    }
}

#[test]
fn every_flag_the_man_page_and_readme_name_exists() {
    let known = clap_flags();
    for (doc, flags) in [
        ("man page", flags_in(MAN)),
        ("README", flags_in(readme_section())),
    ] {
        for flag in flags {
            assert!(
                known.contains(&flag) || INCUS_FLAGS.contains(&flag.as_str()),
                "the {doc} names {flag}, which anklume-disp does not have"
            );
        }
    }
}

/// The lines between `open` and `close` marker lines.
fn code_blocks<'a>(doc: &'a str, open: &'a str, close: &'a str) -> impl Iterator<Item = &'a str> {
    let mut inside = false;
    doc.lines().filter(move |line| {
        if inside && line.starts_with(close) {
            inside = false;
            return false;
        }
        if !inside && line.starts_with(open) {
            inside = true;
            return false;
        }
        inside
    })
}

/// Splits a shell line into words up to the first unquoted `|`, `>`, `<`, `;`, `&` or `)`.
fn shell_words(line: &str) -> Vec<String> {
    let (mut words, mut word, mut quote, mut in_word) = (Vec::new(), String::new(), None, false);
    for c in line.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => word.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                in_word = true;
            }
            (None, '|' | '>' | '<' | ';' | '&' | ')') => break,
            (None, c) if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            (None, c) => {
                word.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        words.push(word);
    }
    words
}

#[test]
fn every_example_in_the_man_page_and_readme_parses() {
    let mut examples = Vec::new();
    let code_lines = code_blocks(MAN, ".nf", ".fi").chain(code_blocks(README, "```", "```"));
    {
        for line in code_lines {
            let line = line.replace("\\-", "-");
            // Examples and command lines, not the mentions of the tool's name in prose.
            for (at, _) in line.match_indices("anklume-disp ") {
                let before = line[..at].trim_end();
                if before.is_empty() || before.ends_with(['|', '(', '`']) || before.ends_with("$(")
                {
                    examples.push(shell_words(&line[at..]));
                }
            }
        }
    }
    let examples: Vec<_> = examples
        .into_iter()
        .filter(|words| {
            !words
                .iter()
                .any(|w| w.contains("OPTIONS") || w.contains("..."))
        })
        .collect();
    assert!(examples.len() >= 5, "too few examples found: {examples:?}");
    for words in examples {
        if let Err(error) = Cli::try_parse_from(&words) {
            panic!("example {words:?} does not parse:\n{error}");
        }
    }
}

#[test]
fn the_man_page_is_lint_clean() {
    match Command::new("mandoc")
        .args(["-Tlint", "-W", "warning", "man/anklume-disp.1"])
        .current_dir("..")
        .output()
    {
        Ok(out) => assert!(
            out.status.success() && out.stdout.is_empty(),
            "mandoc -Tlint:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(_) if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("mandoc is missing under CI=true (scripts/incus-testenv installs it)")
        }
        Err(_) => eprintln!("mandoc is not installed: man page lint not checked"),
    }
}
