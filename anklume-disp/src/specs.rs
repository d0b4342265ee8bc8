//! The sandbox options as written on the command line (`--mount`, `--publish`, `--user`,
//! `--env`, `--network`, `--limit`), parsed and checked for form; what they name on this host
//! or in Incus is checked before the launch (see `sandbox`).

use std::net::IpAddr;
use std::path::PathBuf;

use anklume_common::reference::{check_cpu_limit, check_memory_limit, check_network_name};

/// Where a shared host path appears inside the instance when no PATH is given.
pub const DEFAULT_MOUNT_PATH: &str = "/mnt/host";

/// `--mount HOST_PATH[:PATH][:ro|:rw]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    pub host_path: PathBuf,
    pub path: String,
    pub read_only: bool,
}

pub fn parse_mount(text: &str) -> Result<Mount, String> {
    let mut parts: Vec<&str> = text.split(':').collect();
    let read_only = match parts.last() {
        Some(&"ro") if parts.len() > 1 => true,
        Some(&"rw") if parts.len() > 1 => false,
        _ => {
            parts.push("rw");
            false
        }
    };
    parts.pop();
    let (host, path) = match parts.as_slice() {
        [host] => (*host, DEFAULT_MOUNT_PATH),
        [host, path] => (*host, *path),
        _ => {
            return Err(format!(
                "'{text}' is not HOST_PATH[:PATH][:ro|:rw] (a HOST_PATH holding ':' cannot be shared)"
            ));
        }
    };
    if host.is_empty() {
        return Err("empty HOST_PATH".into());
    }
    if !path.starts_with('/') {
        return Err(format!(
            "PATH '{path}' must be absolute, as in {host}:/{path}"
        ));
    }
    if path.split('/').any(|part| part == "." || part == "..") || normal_path(path) == "/" {
        return Err(format!(
            "PATH '{path}': a folder of the instance other than /, without . or .."
        ));
    }
    Ok(Mount {
        host_path: PathBuf::from(host),
        path: normal_path(path),
        read_only,
    })
}

/// `/a//b/` as `/a/b`, so that two spellings of one place are seen as one.
fn normal_path(path: &str) -> String {
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    format!("/{}", parts.join("/"))
}

/// Transport of a published port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Tcp,
    Udp,
}

impl Protocol {
    pub fn name(self) -> &'static str {
        match self {
            Self::Tcp => "tcp",
            Self::Udp => "udp",
        }
    }
}

/// `--publish [HOST_ADDR:]HOST_PORT:PORT[/tcp|/udp]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Publish {
    pub host_addr: IpAddr,
    pub host_port: u16,
    pub port: u16,
    pub protocol: Protocol,
}

impl Publish {
    /// `tcp:127.0.0.1:8080`, `udp:[::1]:53`: Incus's proxy address of the host side.
    pub fn listen(&self) -> String {
        match self.host_addr {
            IpAddr::V4(addr) => format!("{}:{addr}:{}", self.protocol.name(), self.host_port),
            IpAddr::V6(addr) => format!("{}:[{addr}]:{}", self.protocol.name(), self.host_port),
        }
    }

    /// The instance's side: its loopback address.
    pub fn connect(&self) -> String {
        format!("{}:127.0.0.1:{}", self.protocol.name(), self.port)
    }
}

pub fn parse_publish(text: &str) -> Result<Publish, String> {
    let bad = || format!("'{text}' is not [HOST_ADDR:]HOST_PORT:PORT[/tcp|/udp]");
    let (ports, protocol) = match text.rsplit_once('/') {
        Some((ports, "tcp")) => (ports, Protocol::Tcp),
        Some((ports, "udp")) => (ports, Protocol::Udp),
        Some(_) => return Err(bad()),
        None => (text, Protocol::Tcp),
    };
    let (rest, port) = ports.rsplit_once(':').ok_or_else(bad)?;
    let (addr, host_port) = match rest.rsplit_once(':') {
        // An IPv6 address is written in brackets: [::1]:8080:80.
        Some((addr, host_port)) if addr.starts_with('[') && addr.ends_with(']') => {
            (Some(&addr[1..addr.len() - 1]), host_port)
        }
        Some((addr, host_port)) if !addr.contains([':', '[', ']']) => (Some(addr), host_port),
        Some(_) => return Err(bad()),
        None => (None, rest),
    };
    let port_number = |p: &str| p.parse::<u16>().ok().filter(|p| *p > 0).ok_or_else(bad);
    let host_addr = match addr {
        Some(addr) => addr
            .parse()
            .map_err(|_| format!("'{addr}' is not an IP address (in '{text}')"))?,
        None => IpAddr::from([127, 0, 0, 1]),
    };
    Ok(Publish {
        host_addr,
        host_port: port_number(host_port)?,
        port: port_number(port)?,
        protocol,
    })
}

/// `--user UID[:GID]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct User {
    pub uid: u32,
    pub gid: u32,
}

pub fn parse_user(text: &str) -> Result<User, String> {
    let number = |n: &str| {
        n.parse::<u32>()
            .map_err(|_| format!("'{text}' is not UID[:GID] (numbers, as in 1000:1000)"))
    };
    match text.split_once(':') {
        Some((uid, gid)) => Ok(User {
            uid: number(uid)?,
            gid: number(gid)?,
        }),
        None => {
            let uid = number(text)?;
            Ok(User { uid, gid: uid })
        }
    }
}

/// `--env KEY=VALUE`.
pub fn parse_env(text: &str) -> Result<(String, String), String> {
    let (key, value) = text
        .split_once('=')
        .ok_or_else(|| format!("'{text}' is not KEY=VALUE"))?;
    let mut chars = key.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    if !first_ok || !chars.all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(format!(
            "'{key}' is not a variable name (letters, digits and _, not first a digit)"
        ));
    }
    Ok((key.to_owned(), value.to_owned()))
}

/// `--network none|NETWORK`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Network {
    /// Only `lo` inside.
    None,
    /// This Incus network instead of the profile's.
    Named(String),
}

pub fn parse_network(text: &str) -> Result<Network, String> {
    if text == "none" {
        return Ok(Network::None);
    }
    check_network_name(text)?;
    Ok(Network::Named(text.to_owned()))
}

/// `--limit cpu=N,memory=SIZE`: either or both.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Limits {
    /// `limits.cpu`: a count (`2`) or a set of CPUs (`0-1`, `0,2`).
    pub cpu: Option<String>,
    /// `limits.memory`: `512MiB`, `2GB`, `50%`.
    pub memory: Option<String>,
}

impl Limits {
    /// `self`, with what `other` sets on top.
    pub fn overridden_by(&self, other: &Limits) -> Limits {
        Limits {
            cpu: other.cpu.clone().or_else(|| self.cpu.clone()),
            memory: other.memory.clone().or_else(|| self.memory.clone()),
        }
    }

    /// The instance configuration keys.
    pub fn config(&self) -> Vec<(String, String)> {
        let cpu = self
            .cpu
            .iter()
            .map(|v| ("limits.cpu".to_owned(), v.clone()));
        let memory = self
            .memory
            .iter()
            .map(|v| ("limits.memory".to_owned(), v.clone()));
        cpu.chain(memory).collect()
    }
}

/// `cpu=0,2,memory=1GiB` as `cpu=0,2` and `memory=1GiB`: a comma starts a new limit only
/// before `KEY=`, so that a set of CPUs keeps its commas.
fn limit_parts(text: &str) -> Vec<String> {
    let mut parts: Vec<String> = Vec::new();
    for piece in text.split(',').filter(|p| !p.is_empty()) {
        let starts_limit = piece
            .split_once('=')
            .is_some_and(|(key, _)| !key.is_empty() && key.chars().all(|c| c.is_ascii_lowercase()));
        match parts.last_mut() {
            Some(last) if !starts_limit => {
                last.push(',');
                last.push_str(piece);
            }
            _ => parts.push(piece.to_owned()),
        }
    }
    parts
}

pub fn parse_limits(text: &str) -> Result<Limits, String> {
    let mut limits = Limits::default();
    for part in limit_parts(text) {
        let part = part.as_str();
        let (key, value) = part
            .split_once('=')
            .ok_or_else(|| format!("'{part}' is not cpu=N or memory=SIZE"))?;
        match key {
            "cpu" => limits.cpu = Some(check_cpu_limit(value).map(|()| value.to_owned())?),
            "memory" => {
                limits.memory = Some(check_memory_limit(value).map(|()| value.to_owned())?);
            }
            _ => return Err(format!("unknown limit '{key}': cpu and memory are known")),
        }
    }
    if limits == Limits::default() {
        return Err(format!("'{text}' sets no limit: cpu=N,memory=SIZE"));
    }
    Ok(limits)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mounts() {
        let mount = parse_mount("./results").unwrap();
        assert_eq!(mount.path, DEFAULT_MOUNT_PATH);
        assert_eq!(mount.host_path, PathBuf::from("./results"));
        assert!(!mount.read_only);
        assert_eq!(parse_mount("/data:/srv").unwrap().path, "/srv");
        assert!(parse_mount("/data:srv").unwrap_err().contains("absolute"));
        let ro = parse_mount("./config:/config:ro").unwrap();
        assert!(ro.read_only);
        assert_eq!(ro.path, "/config");
        assert!(parse_mount("./config:ro").unwrap().read_only);
        assert!(!parse_mount("./media:/media:rw").unwrap().read_only);
        assert_eq!(parse_mount("./m:/a//b/").unwrap().path, "/a/b");
        assert!(parse_mount("a:/b:/c").is_err());
        for escaping in ["a:/w/../etc", "a:/./x", "a:/", "a://"] {
            assert!(parse_mount(escaping).is_err(), "{escaping:?} accepted");
        }
        assert!(parse_mount(":/x").is_err());
    }

    #[test]
    fn published_ports() {
        let p = parse_publish("8080:80").unwrap();
        assert_eq!(p.listen(), "tcp:127.0.0.1:8080");
        assert_eq!(p.connect(), "tcp:127.0.0.1:80");
        let p = parse_publish("0.0.0.0:53:5353/udp").unwrap();
        assert_eq!(p.listen(), "udp:0.0.0.0:53");
        assert_eq!(p.connect(), "udp:127.0.0.1:5353");
        assert_eq!(
            parse_publish("[::1]:8080:80").unwrap().listen(),
            "tcp:[::1]:8080"
        );
        for bad in [
            "80",
            "x:80",
            "8080:80/sctp",
            "0:80",
            "70000:80",
            "nohost:1:2",
            "::1:1:2",
        ] {
            assert!(parse_publish(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn users_env_networks_limits() {
        assert_eq!(
            parse_user("1000").unwrap(),
            User {
                uid: 1000,
                gid: 1000
            }
        );
        assert_eq!(
            parse_user("1000:100").unwrap(),
            User {
                uid: 1000,
                gid: 100
            }
        );
        assert!(parse_user("alice").is_err());
        assert_eq!(parse_env("A_1=x=y").unwrap(), ("A_1".into(), "x=y".into()));
        assert!(
            parse_env("1A=x").is_err() && parse_env("A").is_err() && parse_env("A-B=1").is_err()
        );
        assert_eq!(parse_network("none").unwrap(), Network::None);
        assert_eq!(
            parse_network("lab-net").unwrap(),
            Network::Named("lab-net".into())
        );
        assert!(parse_network("-x").is_err() && parse_network("a b").is_err());
        let limits = parse_limits("cpu=2,memory=512MiB").unwrap();
        assert_eq!(
            limits.config(),
            [
                ("limits.cpu".to_owned(), "2".to_owned()),
                ("limits.memory".to_owned(), "512MiB".to_owned())
            ]
        );
        assert!(parse_limits("cpu=0-1").is_ok() && parse_limits("memory=50%").is_ok());
        let set = parse_limits("cpu=0,2,memory=1GiB").unwrap();
        assert_eq!(set.cpu.as_deref(), Some("0,2"));
        assert_eq!(set.memory.as_deref(), Some("1GiB"));
        for bad in ["", "disk=1", "cpu=two", "memory=1XB", "memory=0", "cpu"] {
            assert!(parse_limits(bad).is_err(), "{bad:?} accepted");
        }
        let merged = parse_limits("cpu=1")
            .unwrap()
            .overridden_by(&parse_limits("memory=1GiB").unwrap());
        assert_eq!(merged.cpu.as_deref(), Some("1"));
        assert_eq!(merged.memory.as_deref(), Some("1GiB"));
    }
}
