//! The tools speak Incus only through anklume-common's vocabulary: no REST path, no argv for
//! `incus`, no matching of Incus's message text and no nested SFTP results in a tool crate's
//! sources; and no function there longer than a reader can hold in their head.

use std::fs;
use std::path::{Path, PathBuf};

/// The crates that must not speak Incus in their own words.
const TOOL_CRATES: [&str; 5] = [
    "anklume",
    "anklume-disp",
    "anklume-golden",
    "anklume-xfer",
    "anklume-backup",
];

/// Longest function allowed in a tool crate, in lines from `fn` to its closing brace.
const MAX_FUNCTION_LINES: usize = 80;

/// What only anklume-common may write, and why.
const FORBIDDEN: [(&str, &str); 8] = [
    (
        "\"/1.0",
        "a REST path: use anklume_common::ApiPath or the vocabulary",
    ),
    (
        "Call::new",
        "argv for incus: use the vocabulary of anklume-common",
    ),
    (
        "Pipes::",
        "a raw incus stream: use Incus::export / Incus::import",
    ),
    (
        "incus_message",
        "Incus's message text: decide on Error::fault()",
    ),
    (".query(", "a raw REST query: use the vocabulary's look-ups"),
    (
        "Result<Result<",
        "a nested result: SFTP calls return Result<T> or Result<Option<T>>",
    ),
    (
        "Interrupt::catch",
        "the prologue: use anklume_common::Session::start",
    ),
    (
        "fn human_size",
        "a second size formatter: use anklume_common::progress::human_size",
    ),
];

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn tool_sources() -> Vec<(PathBuf, String)> {
    let mut files = Vec::new();
    for krate in TOOL_CRATES {
        rust_files(&workspace().join(krate).join("src"), &mut files);
    }
    assert!(files.len() >= 10, "too few sources found: {files:?}");
    files
        .into_iter()
        .map(|path| {
            let text = fs::read_to_string(&path).unwrap();
            (path, text)
        })
        .collect()
}

/// (name, first line, length) of every function whose body closes at its own indentation.
fn functions(text: &str) -> Vec<(String, usize, usize)> {
    let lines: Vec<&str> = text.lines().collect();
    let mut found = Vec::new();
    for (start, line) in lines.iter().enumerate() {
        let trimmed = line.trim_start();
        let signature = ["fn ", "pub fn ", "pub(crate) fn "]
            .iter()
            .find_map(|prefix| trimmed.strip_prefix(prefix));
        let Some(signature) = signature else { continue };
        if trimmed.ends_with(';') {
            continue; // a trait's declaration
        }
        let indent = &line[..line.len() - trimmed.len()];
        let closing = format!("{indent}}}");
        let end = (start..lines.len())
            .find(|&i| lines[i] == closing || lines[i].starts_with(&format!("{closing} ")));
        let name: String = signature
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        if let Some(end) = end {
            found.push((name, start + 1, end - start + 1));
        }
    }
    found
}

#[test]
fn tool_crates_speak_incus_only_through_the_shared_vocabulary() {
    let mut offences = Vec::new();
    for (path, text) in tool_sources() {
        for (number, line) in text.lines().enumerate() {
            for (pattern, why) in FORBIDDEN {
                if line.contains(pattern) {
                    offences.push(format!("{}:{}: {why}", path.display(), number + 1));
                }
            }
        }
    }
    assert!(offences.is_empty(), "{}", offences.join("\n"));
}

#[test]
fn no_function_of_a_tool_crate_is_longer_than_80_lines() {
    let mut long = Vec::new();
    for (path, text) in tool_sources() {
        for (name, line, length) in functions(&text) {
            if length > MAX_FUNCTION_LINES {
                long.push(format!(
                    "{}:{line}: fn {name} has {length} lines",
                    path.display()
                ));
            }
        }
    }
    assert!(
        long.is_empty(),
        "split these into named steps:\n{}",
        long.join("\n")
    );
}

#[test]
fn the_checks_see_what_they_look_for() {
    // The checks themselves must be able to fail.
    let sample = "fn short() {\n    one();\n}\n\n    pub fn long() {\n".to_owned()
        + &"        step();\n".repeat(90)
        + "    }\n";
    let found = functions(&sample);
    assert_eq!(found[0], ("short".to_owned(), 1, 3));
    assert_eq!(found[1], ("long".to_owned(), 5, 92));
    let offending = r#"let p = format!("/1.0/instances/{name}");"#;
    assert!(
        FORBIDDEN
            .iter()
            .any(|(pattern, _)| offending.contains(pattern))
    );
}
