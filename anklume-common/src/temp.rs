//! Temporary names: of instances (checked free in every project, as names are unique across
//! projects here) and of files and directories (made unique by process and time; their
//! creation is exclusive, so a clash fails rather than reuses).

use std::time::{SystemTime, UNIX_EPOCH};

use crate::error::{Error, Result};
use crate::resolve::Resolver;

/// Longest instance name Incus accepts.
const NAME_MAX: usize = 63;

/// `PID-NANOS` in hex: unique on this host at this moment.
pub fn unique_suffix() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |t| t.subsec_nanos());
    format!("{:x}-{nanos:08x}", std::process::id())
}

/// `BASE-TAG-XXXX`, cut to Incus's 63 characters, that no project of `remote` uses now.
pub fn instance_name(
    resolver: &Resolver,
    remote: Option<&str>,
    base: &str,
    tag: &str,
) -> Result<String> {
    let candidates = (0..16u32).map(|attempt| candidate(base, tag, attempt));
    resolver
        .free_name(remote, candidates)?
        .ok_or_else(|| Error::failure(format!("no free temporary name for '{base}'")))
}

fn candidate(base: &str, tag: &str, attempt: u32) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |t| t.subsec_nanos());
    let mixed = (nanos ^ std::process::id() ^ attempt.wrapping_mul(0x9e37)) & 0xffff;
    let suffix = format!("-{tag}-{mixed:04x}");
    let keep = NAME_MAX - suffix.len();
    let head = base.get(..keep.min(base.len())).unwrap_or(base);
    format!("{}{suffix}", head.trim_end_matches('-'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reference::check_instance_name;

    #[test]
    fn temporary_names_stay_valid_instance_names() {
        let short = candidate("web", "restoring", 0);
        assert!(short.starts_with("web-restoring-"), "{short}");
        assert_eq!(check_instance_name(&short), Ok(()));
        let long = candidate(&"a".repeat(63), "restoring", 3);
        assert!(long.len() <= 63);
        assert_eq!(check_instance_name(&long), Ok(()));
    }

    #[test]
    fn suffixes_differ_between_calls() {
        let a = unique_suffix();
        std::thread::sleep(std::time::Duration::from_millis(1));
        assert_ne!(a, unique_suffix());
    }
}
