//! The clap value parsers every tool's command line uses for instance names, references and
//! projects: one spelling of each rule and of its message.

use crate::reference::{
    InstanceRef, PathRef, check_image_name, check_instance_name, check_project_name,
    check_remote_name,
};

/// An instance name (`NEW`, `--name`): Incus's rules.
pub fn instance_name(text: &str) -> Result<String, String> {
    check_instance_name(text).map(|()| text.to_owned())
}

/// `[REMOTE:]INSTANCE`.
pub fn instance_ref(text: &str) -> Result<InstanceRef, String> {
    text.parse::<InstanceRef>()
        .map_err(|e| e.with_hint_inline())
}

/// `[REMOTE:]INSTANCE:/PATH`.
pub fn path_ref(text: &str) -> Result<PathRef, String> {
    if ["/", "./", "../", "~"]
        .iter()
        .any(|start| text.starts_with(start))
    {
        return Err(format!(
            "'{text}' is a path on this host, not in an instance: a host file goes in with anklume-xfer push INSTANCE:/PATH < FILE, and out with anklume-xfer pull INSTANCE:/PATH > FILE"
        ));
    }
    text.parse::<PathRef>().map_err(|e| e.with_hint_inline())
}

/// `--image`: an image alias, `REMOTE:ALIAS` or fingerprint; never a flag.
pub fn image_name(text: &str) -> Result<String, String> {
    check_image_name(text).map(|()| text.to_owned())
}

/// `--remote`: the name of a remote of the Incus client (`incus remote list`).
pub fn remote_name(text: &str) -> Result<String, String> {
    check_remote_name(text).map(|()| text.to_owned())
}

/// `--target`: the name of a cluster member (`incus cluster list REMOTE:`).
pub fn member_name(text: &str) -> Result<String, String> {
    match text.is_empty()
        || text.starts_with('-')
        || text.contains(|c: char| c.is_whitespace() || matches!(c, '/' | ':'))
    {
        true => Err(format!("invalid cluster member name '{text}'")),
        false => Ok(text.to_owned()),
    }
}

/// `REMOTE:` (or `REMOTE`) where a command takes a whole remote (`anklume-golden list lab:`).
pub fn remote_colon(text: &str) -> Result<String, String> {
    let remote = text.strip_suffix(':').unwrap_or(text);
    check_remote_name(remote).map(|()| remote.to_owned())
}

/// `--project` and `--domain`: any name Incus accepts, not an empty one.
pub fn project_name(text: &str) -> Result<String, String> {
    check_project_name(text).map(|()| text.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parsers_accept_what_incus_accepts() {
        assert_eq!(instance_name("web-1"), Ok("web-1".to_owned()));
        assert!(instance_name("1web").is_err());
        assert_eq!(project_name("q?&#%+=,;.é"), Ok("q?&#%+=,;.é".to_owned()));
        assert!(project_name("").is_err() && project_name("a b").is_err());
        let reference = instance_ref("lab:web").unwrap();
        assert_eq!(reference.remote.as_deref(), Some("lab"));
        let path = path_ref("web:/etc").unwrap();
        assert_eq!(path.path, "/etc");
        assert_eq!(remote_name("lab"), Ok("lab".to_owned()));
        assert!(remote_name("lab:").is_err() && remote_name("-x").is_err());
        assert_eq!(remote_colon("lab:"), Ok("lab".to_owned()));
        assert!(remote_colon("lab:web").is_err() && remote_colon(":").is_err());
        assert!(image_name("images:debian/13").is_ok());
        assert!(image_name("--empty").is_err() && image_name("").is_err());
    }

    #[test]
    fn a_bad_reference_says_what_is_expected() {
        let why = path_ref("web:etc").unwrap_err();
        assert!(
            why.contains("relative path") && why.contains("(expected"),
            "{why}"
        );
    }
}
