//! Checks that a tool's --help (its clap command), its man page and its README section
//! describe the same command line.

use std::collections::BTreeSet;
use std::process::Command;

/// The sections every man page has, in this order.
pub const MAN_SECTIONS: [&str; 10] = [
    "NAME",
    "SYNOPSIS",
    "DESCRIPTION",
    "COMMANDS",
    "OPTIONS",
    "EXIT STATUS",
    "ENVIRONMENT",
    "FILES",
    "EXAMPLES",
    "SEE ALSO",
];

/// Every visible long flag (and visible alias) of `command` and its subcommands, as `--name`,
/// and every visible subcommand name and alias.
pub fn command_words(command: &clap::Command) -> (BTreeSet<String>, BTreeSet<String>) {
    let mut flags = BTreeSet::from(["--help".to_owned(), "--version".to_owned()]);
    let mut subcommands = BTreeSet::new();
    collect(command, "", &mut flags, &mut subcommands);
    (flags, subcommands)
}

/// Collects the flags of `command` and its subcommands, each named by its path below the tool
/// (`key add`), as a user types it.
fn collect(
    command: &clap::Command,
    path: &str,
    flags: &mut BTreeSet<String>,
    subcommands: &mut BTreeSet<String>,
) {
    for arg in command.get_arguments().filter(|a| !a.is_hide_set()) {
        if let Some(long) = arg.get_long() {
            flags.insert(format!("--{long}"));
        }
        for alias in arg.get_visible_aliases().into_iter().flatten() {
            flags.insert(format!("--{alias}"));
        }
    }
    for sub in command
        .get_subcommands()
        .filter(|s| !s.is_hide_set() && s.get_name() != "help")
    {
        let name = format!("{path}{}", sub.get_name());
        subcommands.insert(name.clone());
        subcommands.extend(sub.get_visible_aliases().map(|a| format!("{path}{a}")));
        collect(sub, &format!("{name} "), flags, subcommands);
    }
}

/// `--words` in a text (roff's `\-` read as `-`).
pub fn flags_in(text: &str) -> BTreeSet<String> {
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

/// The README section that starts with the heading `## {tool}`.
pub fn readme_section<'a>(readme: &'a str, tool: &str) -> &'a str {
    let heading = format!("## {tool}\n");
    let start = readme
        .find(&heading)
        .unwrap_or_else(|| panic!("the README has no '## {tool}' section"));
    let end = readme[start + 3..]
        .find("\n## ")
        .map_or(readme.len(), |e| start + 3 + e);
    &readme[start..end]
}

/// Asserts that every flag and subcommand of `command` is in the man page and the README
/// section, and that every flag they name exists (or is one of `foreign`, flags of other
/// programs that the text mentions).
pub fn assert_flags_in_sync(command: &clap::Command, man: &str, readme: &str, foreign: &[&str]) {
    let tool = command.get_name();
    let (flags, subcommands) = command_words(command);
    let (man_flags, readme_flags) = (flags_in(man), flags_in(readme));
    for flag in &flags {
        assert!(
            man_flags.contains(flag),
            "{flag} is missing from man/{tool}.1"
        );
        if flag != "--help" && flag != "--version" {
            assert!(
                readme_flags.contains(flag),
                "{flag} is missing from the README's {tool} section"
            );
        }
    }
    for sub in &subcommands {
        assert!(
            man.contains(sub.as_str()),
            "subcommand {sub} is missing from man/{tool}.1"
        );
        assert!(
            readme.contains(&format!("{tool} {sub}")),
            "'{tool} {sub}' is missing from the README"
        );
    }
    for (doc, named) in [("man page", man_flags), ("README", readme_flags)] {
        for flag in named {
            assert!(
                flags.contains(&flag) || foreign.contains(&flag.as_str()),
                "the {doc} names {flag}, which {tool} does not have"
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
pub fn shell_words(line: &str) -> Vec<String> {
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

/// The command lines of `name` (a tool, or `anklume` followed by a space) in the code blocks of
/// the man page (`.nf`/`.fi`) and the README (fences), as words; synopsis lines and mentions in
/// the middle of a command are left out.
pub fn examples(name: &str, man: &str, readme: &str) -> Vec<Vec<String>> {
    let lines = code_blocks(man, ".nf", ".fi").chain(code_blocks(readme, "```", "```"));
    let mut found = Vec::new();
    for line in lines {
        let line = line.replace("\\-", "-");
        for (at, _) in line.match_indices(&format!("{name} ")) {
            let before = line[..at].trim_end();
            let in_command_position = before.is_empty()
                || before.ends_with(['|', '(', '`'])
                || before.ends_with("$(")
                || before.ends_with("&&");
            let words = shell_words(&line[at..]);
            // Synopsis lines (OPTIONS, NEW..., [a|b]) are not examples.
            let synopsis = words
                .iter()
                .any(|w| w.contains("OPTIONS") || w.contains("...") || w.starts_with('['));
            if in_command_position && !synopsis {
                found.push(words);
            }
        }
    }
    found
}

/// Parses `words` with `command`; asking for help or the version counts as parsing.
pub fn parse_example(command: &clap::Command, words: &[String]) -> Result<(), clap::Error> {
    use clap::error::ErrorKind::{DisplayHelp, DisplayVersion};
    match command.clone().try_get_matches_from(words) {
        Err(error) if !matches!(error.kind(), DisplayHelp | DisplayVersion) => Err(error),
        _ => Ok(()),
    }
}

/// Asserts that every command line of `tool` in the code blocks of the man page (`.nf`/`.fi`)
/// and the README (fences) parses with `command`; returns how many were checked.
pub fn assert_examples_parse(command: &clap::Command, man: &str, readme: &str) -> usize {
    let examples = examples(command.get_name(), man, readme);
    for words in &examples {
        if let Err(error) = parse_example(command, words) {
            panic!("example {words:?} does not parse:\n{error}");
        }
    }
    examples.len()
}

/// A section a page may add, right after FILES: what the command guarantees at a trust
/// boundary.
pub const OPTIONAL_SECTION: &str = "SECURITY";

/// Asserts that the man page `page` has the sections of [`MAN_SECTIONS`], in that order, and
/// [`OPTIONAL_SECTION`] only right after FILES.
pub fn assert_man_sections(page: &str, man: &str) {
    let mut sections: Vec<&str> = man
        .lines()
        .filter_map(|line| line.strip_prefix(".SH "))
        .map(|title| title.trim_matches('"'))
        .collect();
    if let Some(at) = sections.iter().position(|s| *s == OPTIONAL_SECTION) {
        assert_eq!(
            sections.get(at.wrapping_sub(1)),
            Some(&"FILES"),
            "man/{page}: {OPTIONAL_SECTION} must follow FILES"
        );
        sections.remove(at);
    }
    assert_eq!(sections, MAN_SECTIONS, "the sections of man/{page}");
}

/// Asserts that `mandoc -Tlint -W warning` finds nothing in the page (a failure under CI=true
/// when mandoc is missing).
pub fn assert_man_page_lints_clean(page: &std::path::Path) {
    match Command::new("mandoc")
        .args(["-Tlint", "-W", "warning"])
        .arg(page)
        .output()
    {
        Ok(out) => assert!(
            out.status.success() && out.stdout.is_empty(),
            "mandoc -Tlint {}:\n{}{}",
            page.display(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(_) if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("mandoc is missing under CI=true (scripts/incus-testenv installs it)")
        }
        Err(_) => eprintln!("mandoc is not installed: {} not linted", page.display()),
    }
}
