//! Reading defaults from infra.yml: file mode, directory mode, malformed files.

use anklume_common::{ErrorKind, Infra};
use anklume_tests::ScratchDir;

#[test]
fn file_mode_reads_image_and_domains_in_order() {
    let dir = ScratchDir::new("infra-file");
    dir.write(
        "infra.yml",
        "project_name: lab\n\
         global:\n  default_os_image: images:debian/12\n  base_subnet: 10.100\n\
         domains:\n  admin:\n    trust_level: admin\n    machines: {}\n\
         \x20 scratch:\n    trust_level: disposable\n\
         \x20 sandbox:\n    trust_level: disposable\n",
    );
    let infra = Infra::load_from(None, dir.path()).unwrap().unwrap();
    assert_eq!(infra.source, dir.path().join("infra.yml"));
    assert_eq!(infra.default_os_image.as_deref(), Some("images:debian/12"));
    let names: Vec<_> = infra.domains.iter().map(|d| d.name.as_str()).collect();
    assert_eq!(names, ["admin", "scratch", "sandbox"]);
    assert_eq!(infra.first_disposable_domain().unwrap().name, "scratch");
}

#[test]
fn directory_mode_adds_domain_files_after_base() {
    let dir = ScratchDir::new("infra-dir");
    dir.write(
        "infra/base.yml",
        "global:\n  default_os_image: golden-pro\ndomains:\n  pro: {}\n",
    );
    dir.write(
        "infra/domains/b-lab.yml",
        "trust_level: disposable\nmachines: {}\n",
    );
    dir.write("infra/domains/a-perso.yml", "trust_level: trusted\n");
    dir.write("infra/domains/notes.txt", "not a domain");
    let infra = Infra::load_from(None, dir.path()).unwrap().unwrap();
    assert_eq!(infra.source, dir.path().join("infra/base.yml"));
    assert_eq!(infra.default_os_image.as_deref(), Some("golden-pro"));
    let names: Vec<_> = infra.domains.iter().map(|d| d.name.as_str()).collect();
    assert_eq!(names, ["pro", "a-perso", "b-lab"]);
    assert_eq!(infra.first_disposable_domain().unwrap().name, "b-lab");
}

#[test]
fn infra_yml_wins_over_the_infra_directory() {
    let dir = ScratchDir::new("infra-both");
    dir.write("infra.yml", "global:\n  default_os_image: from-file\n");
    dir.write("infra/base.yml", "global:\n  default_os_image: from-dir\n");
    let infra = Infra::load_from(None, dir.path()).unwrap().unwrap();
    assert_eq!(infra.default_os_image.as_deref(), Some("from-file"));
}

#[test]
fn the_environment_setting_wins_and_takes_a_file_or_a_directory() {
    let cwd = ScratchDir::new("infra-env-cwd");
    cwd.write("infra.yml", "global:\n  default_os_image: from-cwd\n");
    let elsewhere = ScratchDir::new("infra-env");
    let file = elsewhere.write("my-infra.yml", "global:\n  default_os_image: from-env\n");
    elsewhere.write(
        "tree/base.yml",
        "domains:\n  tmp:\n    trust_level: disposable\n",
    );

    let infra = Infra::load_from(Some(&file), cwd.path()).unwrap().unwrap();
    assert_eq!(infra.default_os_image.as_deref(), Some("from-env"));

    let infra = Infra::load_from(Some(&elsewhere.path().join("tree")), cwd.path())
        .unwrap()
        .unwrap();
    assert_eq!(infra.default_os_image, None);
    assert_eq!(infra.first_disposable_domain().unwrap().name, "tmp");

    let missing = elsewhere.path().join("nope.yml");
    let error = Infra::load_from(Some(&missing), cwd.path()).unwrap_err();
    assert!(
        error.message().contains("ANKLUME_INFRA="),
        "{}",
        error.message()
    );
    assert!(error.message().contains("nope.yml"), "{}", error.message());
}

#[test]
fn no_infra_at_all_is_not_an_error() {
    let dir = ScratchDir::new("infra-none");
    assert_eq!(Infra::load_from(None, dir.path()).unwrap(), None);
}

#[test]
fn a_domain_without_trust_level_or_body_is_kept() {
    let dir = ScratchDir::new("infra-bare");
    dir.write(
        "infra.yml",
        "domains:\n  bare:\n  other:\n    description: x\n",
    );
    let infra = Infra::load_from(None, dir.path()).unwrap().unwrap();
    assert_eq!(infra.domains.len(), 2);
    assert_eq!(infra.first_disposable_domain(), None);
}

#[test]
fn malformed_files_are_errors_with_file_and_line() {
    let dir = ScratchDir::new("infra-bad");
    let file = dir.write(
        "infra.yml",
        "global:\n  default_os_image: x\ndomains:\n  lab: [\n",
    );
    let error = Infra::load_from(None, dir.path()).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Failure);
    let place = format!("{}:4:", file.display());
    assert!(error.message().starts_with(&place), "{}", error.message());

    dir.write("infra.yml", "global:\n  default_os_image: [a, b]\n");
    let error = Infra::load_from(None, dir.path()).unwrap_err();
    assert!(
        error
            .message()
            .starts_with(&format!("{}:2:", file.display())),
        "{}",
        error.message()
    );

    let tree = ScratchDir::new("infra-bad-dir");
    tree.write("infra/base.yml", "domains: {}\n");
    let domain = tree.write("infra/domains/lab.yml", "trust_level: [oops\n");
    let error = Infra::load_from(None, tree.path()).unwrap_err();
    assert!(
        error
            .message()
            .starts_with(&format!("{}:", domain.display())),
        "{}",
        error.message()
    );
}

/// Names from infra.yml go through the checks of the command line, with file and line: an
/// empty domain would mean Incus's `default`, an image `--empty` would reach `incus` as a flag.
#[test]
fn domain_and_image_names_are_checked_as_on_the_command_line() {
    let dir = ScratchDir::new("infra-names");
    let file = dir.write(
        "infra.yml",
        "global:\n  default_os_image: images:debian/13\ndomains:\n  lab: {}\n  \"\":\n    trust_level: disposable\n",
    );
    let error = Infra::load_from(None, dir.path()).unwrap_err();
    let message = error.message();
    assert!(
        message.starts_with(&format!("{}:5:", file.display())),
        "{message}"
    );
    assert!(message.contains("empty project name"), "{message}");

    dir.write(
        "infra.yml",
        "global:\n  default_os_image: \"--empty\"\ndomains:\n  lab: {}\n",
    );
    let error = Infra::load_from(None, dir.path()).unwrap_err();
    let message = error.message();
    assert!(
        message.starts_with(&format!("{}:2:", file.display())),
        "{message}"
    );
    assert!(message.contains("starts with '-'"), "{message}");
}
