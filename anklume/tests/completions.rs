//! completions/ holds what clap_complete generates from each command line today.
//!
//! `ANKLUME_UPDATE_COMPLETIONS=1 cargo test -p anklume --test completions` rewrites the files.

mod tools;

use std::path::{Path, PathBuf};
use std::process::Command;

use clap::CommandFactory;
use clap_complete::{Generator, Shell};

const SHELLS: [Shell; 3] = [Shell::Bash, Shell::Zsh, Shell::Fish];

fn completions_dir() -> PathBuf {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    workspace.join("completions")
}

/// anklume's command line with each tool's own in place of its ARGS, so that completion goes
/// on after the tool's name (`anklume golden derive --<TAB>`).
fn front_command() -> clap::Command {
    anklume::TOOLS
        .iter()
        .fold(anklume::Cli::command(), |front, (name, program)| {
            front.mut_subcommand(name, |sub| {
                // clap keeps 'static names (without its `string` feature, which would make the
                // test builds of clap differ from the tools' own): a test can leak a word.
                let aliases: Vec<&'static str> = sub
                    .get_visible_aliases()
                    .map(|alias| alias.to_owned().leak() as &str)
                    .collect();
                tools::tool_command(program)
                    .name(name)
                    .about(sub.get_about().cloned().unwrap_or_default())
                    .long_about(None::<&str>)
                    .visible_aliases(aliases)
            })
        })
}

/// Every command with its completion file for each shell, and what belongs in it.
fn generated() -> Vec<(PathBuf, String)> {
    let commands = anklume::TOOLS
        .iter()
        .map(|(_, program)| tools::tool_command(program))
        .chain([front_command()]);
    let mut files = Vec::new();
    for command in commands {
        let name = command.get_name().to_owned();
        let hidden = hidden_flags(&command);
        for shell in SHELLS {
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut command.clone(), &name, &mut script);
            let script = String::from_utf8(script).expect("completion scripts are UTF-8");
            let script = mended(shell, &name, &script, &hidden);
            files.push((completions_dir().join(shell.file_name(&name)), script));
        }
    }
    files
}

/// The long flags hidden from `--help` (internal ones, such as anklume-disp's `--reap`), in
/// the command and its subcommands.
fn hidden_flags(command: &clap::Command) -> Vec<String> {
    let mut flags: Vec<String> = command
        .get_arguments()
        .filter(|a| a.is_hide_set())
        .filter_map(|a| a.get_long().map(str::to_owned))
        .collect();
    for sub in command.get_subcommands() {
        flags.extend(hidden_flags(sub));
    }
    flags
}

/// What clap_complete 4.6 gets wrong, mended:
/// - bash, for a program whose name has a `-` (`anklume-golden`): it names the state of a
///   subcommand `anklume__golden__subcmd__list` where it sets it, but
///   `anklume__subcmd__golden__subcmd__list` where it reads it, so that nothing below the first
///   word completed;
/// - every shell offers flags hidden from `--help`.
fn mended(shell: Shell, name: &str, script: &str, hidden: &[String]) -> String {
    let mut script = script.to_owned();
    if shell == Shell::Bash && name.contains('-') {
        let wrong = name.replace('-', "__subcmd__");
        script = script.replace(
            &format!("{wrong}__subcmd__"),
            &format!("{}__subcmd__", name.replace('-', "__")),
        );
    }
    for flag in hidden {
        script = match shell {
            Shell::Bash => without_bash_flag(&script, flag),
            Shell::Zsh => drop_lines(&script, |l| {
                l.starts_with(&format!("'--{flag}=")) || l.starts_with(&format!("'--{flag}["))
            }),
            _ => drop_lines(&script, |l| {
                l.contains(&format!(" -l {flag} ")) || l.ends_with(&format!(" -l {flag}"))
            }),
        };
    }
    script
}

fn drop_lines(script: &str, drop: impl Fn(&str) -> bool) -> String {
    script
        .split_inclusive('\n')
        .filter(|line| !drop(line.trim_start()))
        .collect()
}

/// `--flag` out of the bash script: out of every list of words offered, and its case arm.
fn without_bash_flag(script: &str, flag: &str) -> String {
    let word = format!(" --{flag}");
    let arm = format!("--{flag})");
    let mut out = String::new();
    let mut skipping = false;
    for line in script.split_inclusive('\n') {
        if line.trim_start().starts_with(&arm) {
            skipping = true;
        }
        if skipping {
            skipping = !line.trim_start().starts_with(";;");
            continue;
        }
        out.push_str(
            &line
                .replace(&format!("{word} "), " ")
                .replace(&format!("{word}\""), "\""),
        );
    }
    out
}

/// The words bash's completion of `tool` offers for the command line `words` (the last one
/// being completed), through the generated script, as when Tab is pressed.
fn bash_offers(tool: &str, words: &[&str]) -> Vec<String> {
    let script = completions_dir().join(format!("{tool}.bash"));
    let function = format!("_{}", tool.replace('-', "__"));
    let quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
    let cword = words.len() - 1;
    let program = format!(
        ". '{}'\nCOMP_WORDS=({})\nCOMP_CWORD={cword}\nCOMP_LINE='{}'\nCOMP_POINT=${{#COMP_LINE}}\n{function} '{tool}' '{}' '{}'\nprintf '%s\\n' \"${{COMPREPLY[@]}}\"\n",
        script.display(),
        quoted.join(" "),
        words.join(" "),
        words[cword],
        if cword > 0 { words[cword - 1] } else { "" },
    );
    let out = Command::new("bash")
        .arg("-c")
        .arg(program)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn bash_completes_each_tools_subcommand_options_and_hides_internal_flags() {
    let cases: [(&str, &[&str], &str); 9] = [
        (
            "anklume-golden",
            &["anklume-golden", "list", "--"],
            "--format",
        ),
        (
            "anklume-golden",
            &["anklume-golden", "derive", "--"],
            "--start",
        ),
        (
            "anklume-backup",
            &["anklume-backup", "create", "--compr"],
            "--compression",
        ),
        (
            "anklume-backup",
            &["anklume-backup", "key", "add", "--"],
            "--recipient-file",
        ),
        (
            "anklume-backup",
            &["anklume-backup", "prune", "--keep-l"],
            "--keep-last",
        ),
        ("anklume-xfer", &["anklume-xfer", "pull", "--"], "--archive"),
        ("anklume-disp", &["anklume-disp", "--"], "--image"),
        ("anklume", &["anklume", "golden", "list", "--"], "--format"),
        ("anklume-backup", &["anklume-backup", "l"], "list"),
    ];
    for (tool, words, expected) in cases {
        let offered = bash_offers(tool, words);
        assert!(
            offered.iter().any(|w| w == expected),
            "{words:?} offers {offered:?}, not {expected}"
        );
    }
    let offered = bash_offers("anklume-disp", &["anklume-disp", "--"]);
    for hidden in ["--reap", "--watch"] {
        assert!(
            !offered.iter().any(|w| w == hidden),
            "{hidden} is offered: {offered:?}"
        );
    }
}

#[test]
fn the_completion_files_are_up_to_date() {
    let update = std::env::var_os("ANKLUME_UPDATE_COMPLETIONS").is_some_and(|v| v == "1");
    for (path, script) in generated() {
        if update {
            std::fs::create_dir_all(completions_dir()).unwrap();
            std::fs::write(&path, &script).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            continue;
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == script,
            "{} is not what clap_complete generates from the command line today: \
             run ANKLUME_UPDATE_COMPLETIONS=1 cargo test -p anklume --test completions",
            path.display()
        );
    }
}

#[test]
fn the_completion_files_are_all_generated() {
    let expected: Vec<PathBuf> = generated().into_iter().map(|(path, _)| path).collect();
    for entry in std::fs::read_dir(completions_dir()).unwrap() {
        let path = entry.unwrap().path();
        assert!(
            expected.contains(&path),
            "{} is not generated by this test: remove it",
            path.display()
        );
    }
}

#[test]
fn the_bash_completions_are_valid_bash() {
    for (path, _) in generated() {
        if path.extension().is_some_and(|e| e == "bash") {
            let out = Command::new("bash").arg("-n").arg(&path).output().unwrap();
            assert!(
                out.status.success(),
                "bash -n {}:\n{}",
                path.display(),
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}

/// Every command of every tool takes `-q` (errors only), as `man 7 anklume` says.
#[test]
fn every_command_of_every_tool_takes_q() {
    fn leaves(command: &clap::Command, path: String, out: &mut Vec<(String, clap::Command)>) {
        let subs: Vec<_> = command
            .get_subcommands()
            .filter(|s| s.get_name() != "help")
            .collect();
        if subs.is_empty() {
            out.push((path.clone(), command.clone()));
        }
        for sub in subs {
            leaves(sub, format!("{path} {}", sub.get_name()), out);
        }
    }
    for (_, program) in anklume::TOOLS {
        let mut command = tools::tool_command(program);
        command.build();
        let mut all = Vec::new();
        leaves(&command, program.to_string(), &mut all);
        if command.get_subcommands().any(|s| s.get_name() == "key") {
            all.push((
                format!("{program} key"),
                command.find_subcommand("key").unwrap().clone(),
            ));
        }
        for (path, leaf) in all {
            assert!(
                leaf.get_arguments()
                    .any(|a| a.get_short() == Some('q') && a.get_long() == Some("quiet")),
                "{path} does not take -q/--quiet"
            );
        }
    }
}
