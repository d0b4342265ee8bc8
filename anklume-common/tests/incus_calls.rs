//! The runner against the real daemon: captured, streaming and failing calls.

use std::io::{Read, Write};

use anklume_common::{Call, Pipes};
use anklume_tests::{TestProject, unique_name};

#[test]
fn a_failed_call_names_action_instance_project_and_incus_reason() {
    let Some(project) = TestProject::new("calls-fail") else {
        return;
    };
    let ghost = unique_name("ghost");
    let call = Call::new("start", ["start", &ghost])
        .instance(&ghost)
        .project(project.name());
    let error = project.incus().output(&call).unwrap_err();
    assert_eq!(
        error.message(),
        format!(
            "cannot start instance '{ghost}' in project '{}': Failed to fetch instance \"{ghost}\" in project \"{}\": Instance not found",
            project.name(),
            project.name()
        )
    );
    assert_eq!(
        error.incus_message(),
        Some(
            format!(
                "Failed to fetch instance \"{ghost}\" in project \"{}\": Instance not found",
                project.name()
            )
            .as_str()
        )
    );
}

#[test]
fn every_call_runs_in_the_project_it_names() {
    let Some(project) = TestProject::new("calls-project") else {
        return;
    };
    let box_name = unique_name("box");
    project.create_empty(&box_name);
    let listing = project.run(&["list", "--format", "csv", "--columns", "n"]);
    assert_eq!(listing.trim(), box_name);
}

#[test]
fn a_stream_carries_bytes_both_ways_through_a_running_instance() {
    let Some(project) = TestProject::new("calls-stream") else {
        return;
    };
    let web = unique_name("web");
    project.launch(&web);

    // 4 MiB through `incus exec ... cat`: more than any pipe buffer, so both ends must flow.
    let payload: Vec<u8> = (0..4 * 1024 * 1024).map(|i| (i % 251) as u8).collect();
    let call = Call::new("copy through", ["exec", &web, "--", "cat"])
        .instance(&web)
        .project(project.name());
    let mut stream = project.incus().stream(&call, Pipes::Both).unwrap();
    let mut stdin = stream.take_stdin().unwrap();
    let writer = {
        let payload = payload.clone();
        std::thread::spawn(move || stdin.write_all(&payload))
    };
    let mut echoed = Vec::new();
    stream.read_to_end(&mut echoed).unwrap();
    writer.join().unwrap().unwrap();
    stream.finish().unwrap();
    assert_eq!(echoed.len(), payload.len());
    assert!(echoed == payload, "the bytes came back changed");
}

#[test]
fn a_failing_stream_reports_incus_reason_on_finish() {
    let Some(project) = TestProject::new("calls-stream-fail") else {
        return;
    };
    let ghost = unique_name("ghost");
    let call = Call::new("export", ["export", &ghost, "-"])
        .instance(&ghost)
        .project(project.name());
    let mut stream = project.incus().stream(&call, Pipes::Stdout).unwrap();
    let mut out = Vec::new();
    stream.read_to_end(&mut out).unwrap();
    let error = stream.finish().unwrap_err();
    assert!(out.is_empty());
    assert!(
        error
            .message()
            .starts_with(&format!("cannot export instance '{ghost}'")),
        "{}",
        error.message()
    );
    assert!(
        error.incus_message().unwrap().contains("not found"),
        "{error}"
    );
}

#[test]
fn a_stream_whose_reader_gives_up_is_killed_not_left_running() {
    let Some(project) = TestProject::new("calls-abort") else {
        return;
    };
    let web = unique_name("web");
    project.launch(&web);
    let call = Call::new(
        "run a command in",
        ["exec", &web, "--", "sh", "-c", "echo ready; sleep 600"],
    )
    .instance(&web)
    .project(project.name());
    let mut stream = project.incus().stream(&call, Pipes::Stdout).unwrap();
    let mut ready = [0u8; 6];
    stream.read_exact(&mut ready).unwrap();
    assert_eq!(&ready, b"ready\n");
    drop(stream);
    let survivors = processes_with_args(&["exec", &web]);
    assert!(
        survivors.is_empty(),
        "incus exec still running: {survivors:?}"
    );
}

/// Pids of the processes whose argv contains `args` in sequence.
fn processes_with_args(args: &[&str]) -> Vec<u32> {
    let wanted: Vec<u8> = args.join("\0").into_bytes();
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|cmdline| cmdline.windows(wanted.len()).any(|w| w == wanted))
        })
        .collect()
}
