//! Temporary names: of instances (checked free in every project, as names are unique across
//! projects here) and of files and directories (made unique by process and time; their
//! creation is exclusive, so a clash fails rather than reuses).

use std::io::Read;
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

/// 64 random bits in hex, from the kernel: a token nobody can guess.
pub fn token() -> String {
    format!("{:08x}{:08x}", random_u32(), random_u32())
}

/// `BASE-TAG-XXXXXXXX` (32 random bits from the kernel: nobody can guess it to create a
/// namesake first), cut to Incus's 63 characters, that no project of `remote` uses now.
pub fn instance_name(
    resolver: &Resolver,
    remote: Option<&str>,
    base: &str,
    tag: &str,
) -> Result<String> {
    let candidates = (0..16).map(|_| candidate(base, tag, random_u32()));
    resolver
        .free_name(remote, candidates)?
        .ok_or_else(|| Error::failure(format!("no free temporary name for '{base}'")))
}

/// 32 bits from /dev/urandom; the clock and the process id should it be missing.
/// 32 random bits from the kernel.
pub fn random_u32() -> u32 {
    let mut bytes = [0u8; 4];
    let read = std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut bytes));
    match read {
        Ok(()) => u32::from_ne_bytes(bytes),
        Err(_) => {
            let nanos = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |t| t.subsec_nanos());
            nanos ^ std::process::id().rotate_left(16)
        }
    }
}

fn candidate(base: &str, tag: &str, random: u32) -> String {
    let suffix = format!("-{tag}-{random:08x}");
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
        let short = candidate("web", "restoring", random_u32());
        assert!(short.starts_with("web-restoring-"), "{short}");
        assert_eq!(check_instance_name(&short), Ok(()));
        let long = candidate(&"a".repeat(63), "restoring", u32::MAX);
        assert!(long.len() <= 63);
        assert_eq!(check_instance_name(&long), Ok(()));
    }

    #[test]
    fn random_suffixes_differ() {
        assert_ne!(
            candidate("w", "t", random_u32()),
            candidate("w", "t", random_u32())
        );
    }

    #[test]
    fn suffixes_differ_between_calls() {
        let a = unique_suffix();
        std::thread::sleep(std::time::Duration::from_millis(1));
        assert_ne!(a, unique_suffix());
    }
}
