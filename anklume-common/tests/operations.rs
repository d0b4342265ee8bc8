//! The vocabulary against the real daemon, in a project whose name a URL would misread unless
//! encoded: each operation does what it says, and each refusal comes back as a typed fault.

use anklume_common::{Fault, Located, NewInstance, Object, Origin, Resolver, Stop, temp};
use anklume_tests::{BTRFS_POOL, TEST_IMAGE, TestProject, unique_name};

fn at(project: &TestProject, name: &str) -> Located {
    Located {
        remote: None,
        project: project.name().to_owned(),
        name: name.to_owned(),
    }
}

#[test]
fn instance_operations_do_what_they_say_and_refuse_in_types() {
    let Some(project) = TestProject::with_odd_name("ops") else {
        return;
    };
    let incus = project.incus();
    let web = at(&project, &unique_name("web"));
    let fault = |e: anklume_common::Error| e.fault();
    assert_eq!(
        incus.instance(&web).map_err(fault).unwrap_err(),
        Some(Fault::NotFound(Object::Instance))
    );
    let elsewhere = Located {
        project: unique_name("no-project"),
        ..web.clone()
    };
    assert_eq!(
        incus.instance(&elsewhere).map_err(fault).unwrap_err(),
        Some(Fault::NotFound(Object::Project))
    );

    let plain = NewInstance::default();
    incus
        .create(&web, Origin::Image(TEST_IMAGE), &plain)
        .unwrap();
    assert!(incus.instance(&web).unwrap().is_stopped());
    let again = incus.create(&web, Origin::Image(TEST_IMAGE), &plain);
    assert_eq!(
        again.map_err(fault).unwrap_err(),
        Some(Fault::AlreadyExists)
    );

    incus
        .config_set(&web, "user.anklume.test", "a=1 b")
        .unwrap();
    assert_eq!(
        incus.config_get(&web, "user.anklume.test").unwrap(),
        "a=1 b"
    );

    incus.snapshot(&web, "pristine", false).unwrap();
    let twice = incus.snapshot(&web, "pristine", false);
    assert_eq!(
        twice.map_err(fault).unwrap_err(),
        Some(Fault::AlreadyExists)
    );
    incus.snapshot(&web, "pristine", true).unwrap();
    assert!(incus.instance(&web).unwrap().has_snapshot("pristine"));

    let clone = at(&project, &unique_name("clone"));
    let origin = Origin::Snapshot {
        of: &web,
        name: "pristine",
    };
    incus.create(&clone, origin, &plain).unwrap();
    let uuid = incus.uuid(&clone).unwrap();
    assert!(!uuid.is_empty() && uuid != incus.uuid(&web).unwrap());
    assert!(!incus.destroy_if_same(&clone, "not-its-uuid").unwrap());
    assert!(incus.instance(&clone).is_ok(), "a namesake was destroyed");
    assert!(incus.destroy_if_same(&clone, &uuid).unwrap());
    assert!(incus.instance(&clone).unwrap_err().is_not_found());

    incus.start(&web).unwrap();
    assert_eq!(incus.exec_captured(&web, &["echo", "hi"]).unwrap(), b"hi\n");
    incus.stop(&web, Stop::Clean { timeout: 30 }).unwrap();
    let renamed = at(&project, &unique_name("renamed"));
    incus.rename(&web, &renamed.name).unwrap();
    assert_eq!(project.instances(), std::slice::from_ref(&renamed.name));
    incus.destroy(&renamed).unwrap();
    incus.destroy(&renamed).unwrap(); // gone already: no error
    assert_eq!(project.instances(), Vec::<String>::new());
}

#[test]
fn look_ups_answer_in_types_and_temporary_names_are_free() {
    let Some(project) = TestProject::with_odd_name("lookups") else {
        return;
    };
    let incus = project.incus();
    assert!(incus.project_exists(None, project.name()).unwrap());
    assert!(!incus.project_exists(None, &unique_name("none")).unwrap());
    // features.images=false: the project sees the default project's images.
    assert!(
        incus
            .image_alias_exists(None, project.name(), TEST_IMAGE)
            .unwrap()
    );
    let alias = unique_name("no-alias");
    assert!(
        !incus
            .image_alias_exists(None, project.name(), &alias)
            .unwrap()
    );
    assert!(
        incus
            .storage_pool(None, BTRFS_POOL)
            .unwrap()
            .copy_on_write()
    );
    let missing = incus
        .storage_pool(None, &unique_name("no-pool"))
        .unwrap_err();
    assert_eq!(missing.fault(), Some(Fault::NotFound(Object::StoragePool)));
    assert!(incus.drivers(None).unwrap().contains(&"lxc".to_owned()));

    let taken = unique_name("taken");
    project.create_empty(&taken);
    let resolver = Resolver::new(incus.clone());
    let fresh = unique_name("fresh");
    let free = resolver.free_name(None, [taken.clone(), fresh.clone()]);
    assert_eq!(free.unwrap(), Some(fresh));
    let temporary = temp::instance_name(&resolver, None, &taken, "restoring").unwrap();
    assert!(
        temporary.starts_with(&format!("{taken}-restoring-")),
        "{temporary}"
    );
    assert!(
        resolver
            .projects_of(&temporary.parse().unwrap())
            .unwrap()
            .is_empty()
    );
    assert_eq!(incus.instances_in(None, project.name()).unwrap(), [taken]);
}
