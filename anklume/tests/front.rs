//! anklume, the real binary, running the real tools (and the real Incus daemon where needed).

mod tools;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use anklume_tests::{ScratchDir, TestProject, finish, run_tool, unique_name};
use tools::{ANKLUME, anklume, target_dir, text};

/// `program` run directly, for comparison.
fn tool(program: &str, args: &[&str]) -> Command {
    let mut command = Command::new(target_dir().join(program));
    command.args(args);
    command
}

/// Runs both commands and checks that they behave the same: status, stdout and stderr.
fn assert_same(through_anklume: &mut Command, direct: &mut Command) -> Output {
    let (front, tool) = (run_tool(through_anklume), run_tool(direct));
    assert_eq!(
        (
            front.status.code(),
            text(&front.stdout),
            text(&front.stderr)
        ),
        (tool.status.code(), text(&tool.stdout), text(&tool.stderr)),
        "{through_anklume:?} differs from {direct:?}"
    );
    front
}

#[test]
fn a_tool_behaves_the_same_through_anklume() {
    let empty = ScratchDir::new("front-empty");
    let empty = empty.path().to_str().unwrap();
    let missing = format!("{empty}/missing");
    let cases: [(&str, &[&str], i32); 7] = [
        ("golden", &["--version"], 0),
        ("backup", &["list", "--format", "json", empty], 0),
        ("backup", &["list", &missing], 1),
        ("xfer", &["pull", "nosuch"], 2),
        ("golden", &[], 2),
        ("disp", &["--ttl", "5m"], 2),
        ("disp", &["--cmd", "true", "--", "true"], 2),
    ];
    for (name, args, status) in cases {
        let program = format!("anklume-{name}");
        let front = assert_same(
            anklume(&[&[name], args].concat()).current_dir(empty),
            tool(&program, args).current_dir(empty),
        );
        assert_eq!(front.status.code(), Some(status), "anklume {name} {args:?}");
    }
}

#[test]
fn streams_and_data_pass_through_with_the_documented_names() {
    let Some(project) = TestProject::new("front") else {
        return;
    };
    let web = unique_name("web");
    project.launch(&web);
    let file = format!("{web}:/tmp/greeting");
    let mut push = anklume(&["portal", "push", &file])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    push.stdin.take().unwrap().write_all(b"hello\n").unwrap();
    let pushed = finish(push);
    assert!(pushed.status.success(), "{}", text(&pushed.stderr));
    let pulled = run_tool(&mut anklume(&["xfer", "pull", &file]));
    assert_eq!(text(&pulled.stdout), "hello\n", "{}", text(&pulled.stderr));

    project.run(&["stop", &web]);
    project.run(&["snapshot", "create", &web, "pristine"]);
    let list = ["list", "--format", "json", "--project", project.name()];
    let front = assert_same(
        &mut anklume(&[&["golden"], &list[..]].concat()),
        &mut tool("anklume-golden", &list),
    );
    assert!(front.status.success(), "{}", text(&front.stderr));
    assert!(
        text(&front.stdout).contains(&web),
        "{}",
        text(&front.stdout)
    );
}

#[test]
fn an_unknown_tool_is_a_usage_error_with_a_suggestion() {
    let out = run_tool(&mut anklume(&["gold", "list"]));
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        text(&out.stderr),
        "anklume: unknown tool 'gold'\nhint: did you mean 'golden'?\n"
    );
    assert!(out.stdout.is_empty());
}

#[test]
fn help_lists_the_installed_tools_and_version_is_anklumes() {
    let help = run_tool(&mut anklume(&["--help"]));
    assert!(help.status.success());
    let help = text(&help.stdout);
    for tool in ["disp", "golden", "xfer", "backup", "portal"] {
        assert!(help.contains(tool), "{tool} is missing from:\n{help}");
    }
    assert!(!help.contains("Not installed"), "{help}");

    let version = run_tool(&mut anklume(&["--version"]));
    assert_eq!(
        text(&version.stdout),
        format!("anklume {}\n", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn tools_are_found_next_to_anklume_then_on_path() {
    // anklume alone in a directory: no tool beside it.
    let alone = ScratchDir::new("front-alone");
    let copy = alone.path().join("anklume");
    std::fs::copy(ANKLUME, &copy).unwrap();
    let run_copy =
        |args: &[&str], path: &Path| run_tool(Command::new(&copy).args(args).env("PATH", path));

    let help = run_copy(&["--help"], alone.path());
    let help = text(&help.stdout);
    assert!(
        help.contains(
            "Not installed here: anklume-disp, anklume-golden, anklume-xfer, anklume-backup."
        ),
        "{help}"
    );
    let out = run_copy(&["golden", "--version"], alone.path());
    assert_eq!(out.status.code(), Some(127));
    assert_eq!(
        text(&out.stderr),
        "anklume: anklume-golden is not installed\n\
         hint: install the anklume-golden package, or put anklume-golden on PATH or next to anklume\n"
    );

    let out = run_copy(&["golden", "--version"], target_dir());
    let version = format!("anklume-golden {}\n", env!("CARGO_PKG_VERSION"));
    assert_eq!(text(&out.stdout), version);
    assert!(out.status.success());
}
