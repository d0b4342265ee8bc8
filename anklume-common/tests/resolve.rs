//! Name → project resolution against the real Incus daemon.

use anklume_common::{ErrorKind, InstanceRef, Resolver};
use anklume_tests::{LOOP_REMOTE, TestProject, incus, unique_name};

fn reference(text: &str) -> InstanceRef {
    text.parse().unwrap()
}

#[test]
fn a_unique_name_resolves_to_its_project() {
    let Some(project) = TestProject::new("resolve-unique") else {
        return;
    };
    let web = unique_name("web");
    project.create_empty(&web);

    let located = Resolver::new(incus())
        .locate(&reference(&web), None)
        .unwrap();
    assert_eq!(located.project, project.name());
    assert_eq!(located.name, web);
    assert_eq!(located.remote, None);
    assert_eq!(located.incus_name(), web);
}

#[test]
fn a_missing_name_is_an_error_naming_it() {
    let Some(_project) = TestProject::new("resolve-missing") else {
        return;
    };
    let ghost = unique_name("ghost");
    let error = Resolver::new(incus())
        .locate(&reference(&ghost), None)
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Failure);
    assert_eq!(
        error.message(),
        format!("instance '{ghost}' not found in any project")
    );
    assert!(error.hint().unwrap().contains("--all-projects"));
}

#[test]
fn a_name_in_two_projects_lists_both_and_asks_for_project() {
    let (Some(first), Some(second)) = (
        TestProject::new("resolve-twice-a"),
        TestProject::new("resolve-twice-b"),
    ) else {
        return;
    };
    let twin = unique_name("twin");
    first.create_empty(&twin);
    second.create_empty(&twin);

    let resolver = Resolver::new(incus());
    let error = resolver.locate(&reference(&twin), None).unwrap_err();
    let mut both = [first.name(), second.name()];
    both.sort();
    assert_eq!(
        error.message(),
        format!(
            "instance '{twin}' exists in several projects: {}, {}",
            both[0], both[1]
        )
    );
    assert!(error.hint().unwrap().contains("--project"));

    // An explicit project settles it.
    let located = resolver
        .locate(&reference(&twin), Some(second.name()))
        .unwrap();
    assert_eq!(located.project, second.name());
}

#[test]
fn an_explicit_project_still_reports_a_missing_instance() {
    let Some(project) = TestProject::new("resolve-explicit") else {
        return;
    };
    let here = unique_name("here");
    project.create_empty(&here);
    let resolver = Resolver::new(incus());

    assert_eq!(
        resolver
            .locate(&reference(&here), Some(project.name()))
            .unwrap()
            .project,
        project.name()
    );

    let absent = unique_name("absent");
    let error = resolver
        .locate(&reference(&absent), Some(project.name()))
        .unwrap_err();
    assert_eq!(
        error.message(),
        format!(
            "instance '{absent}' not found in project '{}'",
            project.name()
        )
    );

    let no_project = unique_name("noproj");
    let error = resolver
        .locate(&reference(&here), Some(&no_project))
        .unwrap_err();
    assert_eq!(
        error.message(),
        format!("project '{no_project}' does not exist")
    );
    assert!(error.hint().unwrap().contains("incus project list"));
}

#[test]
fn the_listing_is_fetched_once_per_process() {
    let Some(project) = TestProject::new("resolve-cache") else {
        return;
    };
    let early = unique_name("early");
    project.create_empty(&early);
    let resolver = Resolver::new(incus());
    resolver.locate(&reference(&early), None).unwrap();

    // Created after the first lookup: the cached listing does not know it.
    let late = unique_name("late");
    project.create_empty(&late);
    let error = resolver.locate(&reference(&late), None).unwrap_err();
    assert!(error.message().contains("not found"), "{}", error.message());
    assert_eq!(
        Resolver::new(incus())
            .locate(&reference(&late), None)
            .unwrap()
            .project,
        project.name()
    );
}

#[test]
fn a_remote_prefix_resolves_through_that_remote() {
    let Some(project) = TestProject::new("resolve-remote") else {
        return;
    };
    let far = unique_name("far");
    project.create_empty(&far);

    let resolver = Resolver::new(incus());
    let located = resolver
        .locate(&reference(&format!("{LOOP_REMOTE}:{far}")), None)
        .unwrap();
    assert_eq!(located.remote.as_deref(), Some(LOOP_REMOTE));
    assert_eq!(located.project, project.name());
    assert_eq!(located.incus_name(), format!("{LOOP_REMOTE}:{far}"));

    let ghost = unique_name("ghost");
    let error = resolver
        .locate(&reference(&format!("{LOOP_REMOTE}:{ghost}")), None)
        .unwrap_err();
    assert_eq!(
        error.message(),
        format!(
            "instance '{LOOP_REMOTE}:{ghost}' not found in any project on remote '{LOOP_REMOTE}'"
        )
    );

    let error = resolver
        .locate(&reference(&format!("no-such-remote:{far}")), None)
        .unwrap_err();
    assert!(
        error.message().contains("no-such-remote"),
        "{}",
        error.message()
    );
}
