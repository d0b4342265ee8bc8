//! References on the command line: `[remote:]instance` and `[remote:]instance:/absolute/path`.

use std::fmt;
use std::str::FromStr;

use crate::error::Error;

/// Longest path accepted inside an instance (Linux `PATH_MAX`).
const PATH_MAX: usize = 4096;

/// `[remote:]instance`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct InstanceRef {
    pub remote: Option<String>,
    pub name: String,
}

/// `[remote:]instance:/absolute/path`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathRef {
    pub instance: InstanceRef,
    pub path: String,
}

/// Checks Incus's rules for instance names: 1 to 63 ASCII letters, digits and hyphens, not
/// starting with a digit or a hyphen, not ending with a hyphen. Returns why a name is refused.
pub fn check_instance_name(name: &str) -> Result<(), String> {
    let refuse = |why: &str| Err(format!("invalid instance name '{name}': {why}"));
    if name.is_empty() {
        return Err("empty instance name".into());
    }
    if name.len() > 63 {
        return refuse("longer than 63 characters");
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '-'))
    {
        return refuse(&format!(
            "'{bad}' is not allowed (only letters, digits and '-')"
        ));
    }
    if name.starts_with(|c: char| c.is_ascii_digit() || c == '-') {
        return refuse("must start with a letter");
    }
    if name.ends_with('-') {
        return refuse("must not end with '-'");
    }
    Ok(())
}

/// Checks an image name (`ALIAS`, `REMOTE:ALIAS` or a fingerprint) before it reaches
/// `incus create` as an argument: never empty, never a flag.
pub fn check_image_name(image: &str) -> Result<(), String> {
    if image.is_empty() {
        return Err("empty image name".into());
    }
    if image.starts_with('-') {
        return Err(format!("invalid image name '{image}': it starts with '-'"));
    }
    if let Some(bad) = image.chars().find(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!(
            "invalid image name '{image}': '{}' is not allowed",
            bad.escape_default()
        ));
    }
    Ok(())
}

/// Checks a project (domain) name given on the command line: Incus takes an empty one for
/// `default`, which would silently put work in the wrong compartment.
pub fn check_project_name(project: &str) -> Result<(), String> {
    if project.is_empty() {
        return Err("empty project name".into());
    }
    if project == "." || project == ".." {
        return Err(format!("invalid project name '{project}'"));
    }
    if let Some(bad) = project
        .chars()
        .find(|c| c.is_whitespace() || c.is_control() || matches!(c, '/' | '\\'))
    {
        return Err(format!(
            "invalid project name '{project}': '{}' is not allowed",
            bad.escape_default()
        ));
    }
    Ok(())
}

/// Incus's rule for network names: letters, digits, `-`, `_` and `.`, not first a `-`.
pub fn check_network_name(name: &str) -> Result<(), String> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || "-_.".contains(c);
    if name.is_empty() || name.starts_with('-') || !name.chars().all(allowed) {
        return Err(format!("'{name}' is not a network name"));
    }
    Ok(())
}

/// `limits.cpu`: a count (`2`) or a set of CPUs (`0-1`, `0,2`).
pub fn check_cpu_limit(value: &str) -> Result<(), String> {
    let allowed = |c: char| c.is_ascii_digit() || c == ',' || c == '-';
    match !value.is_empty() && value.chars().all(allowed) && value != "0" {
        true => Ok(()),
        false => Err(format!(
            "cpu={value}: a number of CPUs (2) or a set of them (0-1, 0,2)"
        )),
    }
}

/// `limits.memory`: a size with Incus's units (`512MiB`, `2GB`) or a share (`50%`).
pub fn check_memory_limit(value: &str) -> Result<(), String> {
    const UNITS: [&str; 10] = ["", "kB", "MB", "GB", "TB", "KiB", "MiB", "GiB", "TiB", "%"];
    let digits = value.trim_end_matches(|c: char| !c.is_ascii_digit());
    let unit = &value[digits.len()..];
    let number_ok = !digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit());
    match number_ok && !digits.trim_start_matches('0').is_empty() && UNITS.contains(&unit) {
        true => Ok(()),
        false => Err(format!(
            "memory={value}: a size such as 512MiB, 2GiB or 50%"
        )),
    }
}

pub fn check_remote_name(remote: &str) -> Result<(), String> {
    if remote.is_empty() {
        return Err("empty remote name before ':'".into());
    }
    if remote.starts_with('-')
        || remote.contains(|c: char| c.is_whitespace() || matches!(c, '/' | ':'))
    {
        return Err(format!("invalid remote name '{remote}'"));
    }
    Ok(())
}

fn check_path(path: &str, instance: &str) -> Result<(), String> {
    if path.is_empty() {
        return Err(format!("empty path after '{instance}:'"));
    }
    if !path.starts_with('/') {
        return Err(format!(
            "relative path '{path}': paths inside an instance must be absolute, as in {instance}:/{path}"
        ));
    }
    if path.contains('\0') {
        return Err("the path contains a NUL byte".into());
    }
    if path.len() > PATH_MAX {
        return Err(format!("the path is longer than {PATH_MAX} bytes"));
    }
    Ok(())
}

fn usage(input: &str, expected: &str, why: String) -> Error {
    Error::usage(format!("bad reference '{input}': {why}"))
        .with_hint(format!("expected {expected}"))
}

const INSTANCE_FORM: &str = "[REMOTE:]INSTANCE, e.g. web or myremote:web";
const PATH_FORM: &str = "[REMOTE:]INSTANCE:/PATH, e.g. web:/etc/hostname or myremote:web:/srv";

impl InstanceRef {
    fn checked(remote: Option<&str>, name: &str) -> Result<Self, String> {
        if let Some(remote) = remote {
            check_remote_name(remote)?;
        }
        check_instance_name(name)?;
        Ok(Self {
            remote: remote.map(str::to_owned),
            name: name.to_owned(),
        })
    }
}

impl FromStr for InstanceRef {
    type Err = Error;

    fn from_str(input: &str) -> Result<Self, Error> {
        let parts: Vec<&str> = input.split(':').collect();
        let parsed = match parts.as_slice() {
            [name] => Self::checked(None, name),
            [remote, name] if name.starts_with('/') => Err(format!(
                "'{remote}:{name}' is a path; an instance is expected here"
            )),
            [remote, name] => Self::checked(Some(remote), name),
            _ => Err("too many ':'".into()),
        };
        parsed.map_err(|why| usage(input, INSTANCE_FORM, why))
    }
}

impl FromStr for PathRef {
    type Err = Error;

    fn from_str(input: &str) -> Result<Self, Error> {
        parse_path_ref(input).map_err(|why| usage(input, PATH_FORM, why))
    }
}

fn parse_path_ref(input: &str) -> Result<PathRef, String> {
    if input.is_empty() {
        return Err("empty reference".into());
    }
    let Some((first, rest)) = input.split_once(':') else {
        return Err(format!("no ':/PATH' after '{input}'"));
    };
    // `a:/p` is instance a; `a:b:/p` is remote a, instance b. A rest without ':' that is not
    // absolute can only be a relative path, which gets its own message.
    let (remote, instance, path) = match rest.split_once(':') {
        Some((instance, path)) if !rest.starts_with('/') => (Some(first), instance, path),
        _ => (None, first, rest),
    };
    let instance = InstanceRef::checked(remote, instance)?;
    check_path(path, &instance.name)?;
    Ok(PathRef {
        instance,
        path: path.to_owned(),
    })
}

impl fmt::Display for InstanceRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.remote {
            Some(remote) => write!(f, "{remote}:{}", self.name),
            None => f.write_str(&self.name),
        }
    }
}

impl fmt::Display for PathRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.instance, self.path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    #[test]
    fn project_names_must_be_real_names() {
        assert_eq!(check_project_name("lab-2"), Ok(()));
        assert_eq!(check_project_name("Perso_été"), Ok(()));
        for bad in ["", ".", "..", "a b", "a/b", "tab\there"] {
            assert!(check_project_name(bad).is_err(), "{bad:?} accepted");
        }
    }

    fn instance(remote: Option<&str>, name: &str) -> InstanceRef {
        InstanceRef {
            remote: remote.map(str::to_owned),
            name: name.to_owned(),
        }
    }

    #[test]
    fn good_path_references() {
        let table = [
            ("web:/etc/hostname", None, "web", "/etc/hostname"),
            ("web:/", None, "web", "/"),
            ("lab:web:/srv/data", Some("lab"), "web", "/srv/data"),
            ("my-remote:a1-b2:/a:b", Some("my-remote"), "a1-b2", "/a:b"),
            ("w:/path with spaces/é", None, "w", "/path with spaces/é"),
        ];
        for (input, remote, name, path) in table {
            let parsed: PathRef = input.parse().unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(parsed.instance, instance(remote, name), "{input}");
            assert_eq!(parsed.path, path, "{input}");
            assert_eq!(parsed.to_string(), input, "round trip of {input}");
        }
    }

    #[test]
    fn bad_path_references_are_usage_errors_that_say_why() {
        let long_name = format!("a{}", "b".repeat(63));
        let long_path = format!("web:/{}", "p".repeat(PATH_MAX));
        let table: &[(&str, &str)] = &[
            ("", "empty reference"),
            ("web", "no ':/PATH'"),
            ("web:", "empty path"),
            ("web:etc/hostname", "relative path 'etc/hostname'"),
            ("r:web:etc", "relative path 'etc'"),
            ("r:web:", "empty path"),
            (":/etc", "empty instance name"),
            (":web:/etc", "empty remote name"),
            ("1web:/etc", "must start with a letter"),
            ("-web:/etc", "must start with a letter"),
            ("web-:/etc", "must not end with '-'"),
            ("we_b:/etc", "'_' is not allowed"),
            ("wéb:/etc", "'é' is not allowed"),
            ("a b:/etc", "' ' is not allowed"),
            (&format!("{long_name}:/etc"), "longer than 63"),
            (&long_path, "longer than 4096"),
            ("web:/a\0b", "NUL"),
        ];
        for (input, why) in table {
            let error = input.parse::<PathRef>().unwrap_err();
            assert_eq!(error.kind(), ErrorKind::Usage, "{input:?}");
            assert!(
                error.message().contains(why),
                "{input:?}: {}",
                error.message()
            );
            assert!(
                error.hint().unwrap().contains("INSTANCE:/PATH"),
                "{input:?}"
            );
        }
    }

    #[test]
    fn instance_references() {
        assert_eq!("web".parse::<InstanceRef>().unwrap(), instance(None, "web"));
        assert_eq!(
            "r:web".parse::<InstanceRef>().unwrap(),
            instance(Some("r"), "web")
        );
        let a63 = format!("a{}", "1".repeat(62));
        assert_eq!(a63.parse::<InstanceRef>().unwrap().name, a63);
        for (input, why) in [
            ("", "empty instance name"),
            ("r:", "empty instance name"),
            (":web", "empty remote name"),
            ("web:/etc", "is a path"),
            ("a:b:c", "too many ':'"),
            ("9lives", "must start with a letter"),
        ] {
            let error = input.parse::<InstanceRef>().unwrap_err();
            assert_eq!(error.kind(), ErrorKind::Usage);
            assert!(
                error.message().contains(why),
                "{input:?}: {}",
                error.message()
            );
        }
    }
}
