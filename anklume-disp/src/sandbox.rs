//! The sandbox around a disposable: host paths shared (`--mount`), ports published
//! (`--publish`), the user it runs as (`--user`), its network replaced or removed
//! (`--network`) and its limits (`--limit`). Everything is checked before the launch, and
//! applied between the creation of the instance and its start.
//!
//! Each shared path is opened once, when it is checked: Incus is handed `/proc/OUR_PID/fd/N`,
//! a link to this very open file, which it follows when it mounts, so a component of the path
//! swapped for a symlink afterwards changes nothing. They stay open until the instance has
//! started (its mounts are then made).

use std::collections::BTreeSet;
use std::fs::{File, OpenOptions};
use std::net::{TcpListener, UdpSocket};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::PathBuf;

use anklume_common::error::{shell_word, warn};
use anklume_common::infra::Domain;
use anklume_common::{Error, Incus, Located, Result};

use crate::cli::Cli;
use crate::specs::{Limits, Mount, Network, Protocol, Publish, User};

/// Name of the disk device of the first `--mount`; the others get `-2`, `-3`...
const MOUNT_DEVICE: &str = "anklume-mount";
const PUBLISH_DEVICE: &str = "anklume-publish";

/// What a shared host path is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Folder,
    File,
    Socket,
}

/// A `--mount`, its host path opened.
#[derive(Debug)]
struct Shared {
    mount: Mount,
    handle: File,
    kind: Kind,
    uid: u32,
    gid: u32,
}

impl Shared {
    /// Opens `mount`'s host path (`O_PATH`: a socket can be opened so too; a symlink is
    /// followed now, once). One that does not exist is a usage error naming it.
    fn open(mount: &Mount) -> Result<Self> {
        let path = &mount.host_path;
        let handle = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_PATH)
            .open(path)
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::NotFound => Error::usage(format!(
                    "--mount {}: no such file or folder on this host",
                    path.display()
                )),
                _ => Error::io(format!("cannot share '{}'", path.display()), e),
            })?;
        let failed = |e| Error::io(format!("cannot share '{}'", path.display()), e);
        let meta = handle.metadata().map_err(failed)?;
        let kind = match meta.file_type() {
            t if t.is_dir() => Kind::Folder,
            t if t.is_file() => Kind::File,
            t if t.is_socket() => Kind::Socket,
            _ => {
                return Err(Error::usage(format!(
                    "--mount {}: not a folder, a regular file or a unix socket",
                    path.display()
                )));
            }
        };
        Ok(Self {
            mount: mount.clone(),
            handle,
            kind,
            uid: meta.uid(),
            gid: meta.gid(),
        })
    }

    /// The path Incus mounts: this process's link to the open file.
    fn source(&self) -> PathBuf {
        fd_path(&self.handle)
    }

    /// A path written to by the instance: a folder or a file that is not read-only.
    fn writable(&self) -> bool {
        !self.mount.read_only && self.kind != Kind::Socket
    }
}

fn fd_path(file: &File) -> PathBuf {
    PathBuf::from(format!(
        "/proc/{}/fd/{}",
        std::process::id(),
        file.as_raw_fd()
    ))
}

/// An empty mount point made in a shared folder for a mount nested in it (the instance could
/// not make it in a read-only one), removed once the instance is gone.
#[derive(Debug)]
struct MadePoint {
    /// The folder it was made in, open.
    parent: File,
    name: String,
    kind: Kind,
}

impl MadePoint {
    fn remove(&self) {
        let path = fd_path(&self.parent).join(&self.name);
        // Only as it was made: an empty folder, or a file (never through a link).
        let removed = match self.kind {
            Kind::Folder => std::fs::remove_dir(&path),
            _ => std::fs::remove_file(&path),
        };
        if let Err(e) = removed
            && e.kind() != std::io::ErrorKind::NotFound
        {
            warn(&Error::io(
                format!(
                    "cannot remove the mount point '{}' made for a nested --mount",
                    self.name
                ),
                e,
            ));
        }
    }
}

/// The mount points made for nested mounts are removed when the sandbox goes, after the
/// instance (the plan outlives the disposable).
impl Drop for Sandbox {
    fn drop(&mut self) {
        for point in self.made.drain(..).rev() {
            point.remove();
        }
    }
}

/// The sandbox, checked; see the module's documentation.
#[derive(Debug)]
pub struct Sandbox {
    shared: Vec<Shared>,
    publish: Vec<Publish>,
    network: Option<Network>,
    limits: Limits,
    user: Option<User>,
    /// Where the command runs: the first folder given with `--mount`.
    cwd: Option<String>,
    made: Vec<MadePoint>,
}

impl Sandbox {
    /// Checks everything the options name before anything is created: the host paths, the
    /// ports, the network of `domain`; `infra` gives the domain's defaults.
    /// Checks the options for an instance of `domain` on `remote` (`None`: the default one).
    pub fn plan(
        cli: &Cli,
        incus: &Incus,
        (remote, domain): (Option<&str>, &str),
        infra: Option<&Domain>,
    ) -> Result<Self> {
        let mut shared = open_mounts(cli, incus, remote)?;
        let cwd = shared
            .iter()
            .find(|s| s.kind == Kind::Folder)
            .map(|s| s.mount.path.clone());
        shared.sort_by_key(|s| s.mount.path.matches('/').count());
        let network = cli.network.clone().or_else(|| {
            infra
                .and_then(|d| d.network.clone())
                .map(|n| network_of(&n))
        });
        if let Some(Network::Named(name)) = &network
            && !incus.network_exists(remote, domain, name)?
        {
            return Err(Error::failure(format!(
                "network '{name}' does not exist in domain '{domain}'"
            ))
            .with_hint(format!(
                "choose one of `incus network list --project {}`, or --network none",
                shell_word(domain)
            )));
        }
        let mut ports = BTreeSet::new();
        for publish in &cli.publish {
            if !ports.insert((
                publish.host_addr,
                publish.host_port,
                publish.protocol.name(),
            )) {
                return Err(Error::usage(format!(
                    "two --publish options use {}",
                    publish.listen()
                )));
            }
            // A remote's proxy listens on the remote's host, which this one cannot check.
            if remote.is_none() {
                check_port_free(publish)?;
            }
        }
        let defaults = infra.map(domain_limits).unwrap_or_default();
        let limits = cli
            .limit
            .iter()
            .fold(defaults, |limits, given| limits.overridden_by(given));
        let mut sandbox = Self {
            shared,
            publish: cli.publish.clone(),
            network,
            limits,
            user: cli.user,
            cwd,
            made: Vec::new(),
        };
        sandbox.check_owners()?;
        sandbox.make_mount_points()?;
        Ok(sandbox)
    }

    /// Configuration of the new instance: its id map and its limits.
    pub fn config(&self) -> Vec<(String, String)> {
        // The id map protects the host only in an unprivileged container: a profile or a
        // golden image that says otherwise is overridden whenever host paths are shared.
        let unprivileged = (!self.shared.is_empty())
            .then(|| ("security.privileged".to_owned(), "false".to_owned()));
        self.idmap()
            .map(|map| ("raw.idmap".to_owned(), map))
            .into_iter()
            .chain(unprivileged)
            .chain(self.limits.config())
            .collect()
    }

    /// Where the command runs: the first folder given with `--mount`.
    pub fn cwd(&self) -> Option<String> {
        self.cwd.clone()
    }

    /// The user the command runs as.
    pub fn user(&self) -> Option<(u32, u32)> {
        self.user.map(|u| (u.uid, u.gid))
    }

    /// Adds the shared paths and published ports to instance `at`, created or started (a
    /// preloaded one takes them started).
    pub fn apply_devices(&self, incus: &Incus, at: &Located) -> Result<()> {
        for (index, shared) in self.shared.iter().enumerate() {
            let device = numbered(MOUNT_DEVICE, index);
            let (source, path) = (shared.source(), shared.mount.path.as_str());
            incus.share_path(at, &device, (&source, path), shared.mount.read_only)?;
        }
        for (index, publish) in self.publish.iter().enumerate() {
            let device = numbered(PUBLISH_DEVICE, index);
            incus.publish_port(at, &device, (&publish.listen(), &publish.connect()))?;
        }
        Ok(())
    }

    /// Replaces or removes the network of the created, not yet started, instance `at`.
    pub fn apply_network(&self, incus: &Incus, at: &Located) -> Result<()> {
        match &self.network {
            Some(network) => replace_network(incus, at, network),
            None => Ok(()),
        }
    }

    /// The limits, the domain's overridden by the command line's.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// `none`, a network's name, or empty for the profile's.
    pub fn network_text(&self) -> String {
        match &self.network {
            Some(Network::None) => "none".to_owned(),
            Some(Network::Named(name)) => name.clone(),
            None => String::new(),
        }
    }

    /// Without `--user`, the instance's root writes as the owner of the writable paths: they
    /// must have one owner, not root, whom root may map. With `--user`, that user writes as
    /// itself, which root must be allowed to map.
    fn check_owners(&self) -> Result<()> {
        if let Some(user) = self.user.filter(|u| u.uid != 0 && !self.shared.is_empty()) {
            if user.gid == 0 {
                return Err(Error::usage(format!(
                    "--user {}:0: group 0 would be the host's root group in the shared paths",
                    user.uid
                )));
            }
            return check_mappable(
                user.uid,
                user.gid,
                &format!("--user {}:{}", user.uid, user.gid),
            );
        }
        let owners: BTreeSet<(u32, u32)> = self
            .shared
            .iter()
            .filter(|s| s.writable())
            .map(|s| (s.uid, s.gid))
            .collect();
        let writable = || self.shared.iter().filter(|s| s.writable());
        match owners.iter().collect::<Vec<_>>().as_slice() {
            [] => Ok(()),
            [(uid, gid)] if *uid == 0 || *gid == 0 => {
                let path = writable().find(|s| s.uid == 0 || s.gid == 0).map(|s| s.mount.host_path.clone());
                let path = path.unwrap_or_default();
                // The instance's root would write as the host's root (or its group): a setuid
                // program it left there would run as root for any user who reaches the folder.
                Err(Error::failure(format!(
                    "cannot share '{}': it belongs to root (uid {uid}, gid {gid}), and what the instance writes there would belong to root",
                    path.display()
                ))
                .with_hint(format!(
                    "share it read-only (:ro), share a path of an unprivileged user (chown USER:GROUP {}), or run as --user UID",
                    shell_word(&path.to_string_lossy())
                )))
            }
            [(uid, gid)] => check_mappable(*uid, *gid, &format!("the owner of the shared paths, {uid}:{gid},")),
            several => Err(Error::failure(format!(
                "the writable --mount paths belong to different owners ({}): the instance's root can write as one of them only",
                several.iter().map(|(u, g)| format!("{u}:{g}")).collect::<Vec<_>>().join(", ")
            ))
            .with_hint("share the others read-only (:ro), or run as --user UID[:GID]")),
        }
    }

    /// The id map (`raw.idmap`): `--user` as itself, else root as the writable paths' owner.
    fn idmap(&self) -> Option<String> {
        // Without host paths, ids inside are Incus's to map as usual.
        if self.shared.is_empty() {
            return None;
        }
        if let Some(user) = self.user.filter(|u| u.uid != 0) {
            return Some(format!("uid {0} {0}\ngid {1} {1}", user.uid, user.gid));
        }
        let owner = self.shared.iter().find(|s| s.writable())?;
        Some(format!("uid {} 0\ngid {} 0", owner.uid, owner.gid))
    }

    /// Each mount nested in another shared folder needs its mount point there: made (empty)
    /// where missing, through the open folder, as Docker does; removed when the sandbox is dropped.
    fn make_mount_points(&mut self) -> Result<()> {
        for index in 0..self.shared.len() {
            let nested = &self.shared[index];
            let Some(outer) = self.shared[..index]
                .iter()
                .rev()
                .find(|o| is_within(&nested.mount.path, &o.mount.path))
            else {
                continue;
            };
            if outer.kind != Kind::Folder {
                return Err(Error::usage(format!(
                    "--mount at {} lies inside {}, which is not a folder",
                    nested.mount.path, outer.mount.path
                )));
            }
            let rel = &nested.mount.path[outer.mount.path.len()..];
            // Each point is kept as soon as it is made: a failure further on removes it too.
            make_point(
                &outer.handle,
                rel.trim_start_matches('/'),
                nested.kind,
                &mut self.made,
            )?;
        }
        Ok(())
    }
}

/// Whether `path` lies strictly inside `outer`.
fn is_within(path: &str, outer: &str) -> bool {
    outer == "/"
        || path
            .strip_prefix(outer)
            .is_some_and(|rest| rest.starts_with('/'))
}

/// Makes the missing components of `rel` under the open folder `root`, each through the one
/// above it, never through a link; the last as a `kind` (an empty folder or file).
fn make_point(root: &File, rel: &str, kind: Kind, made: &mut Vec<MadePoint>) -> Result<()> {
    let parts: Vec<&str> = rel.split('/').filter(|p| !p.is_empty()).collect();
    // PATH was checked for `.` and `..`; never walk out of the shared folder.
    if parts.iter().any(|p| *p == "." || *p == "..") {
        return Err(Error::usage(format!(
            "mount point '{rel}' leaves its folder"
        )));
    }
    let mut dir = root
        .try_clone()
        .map_err(|e| Error::io("cannot reach a shared folder", e))?;
    for (i, part) in parts.iter().enumerate() {
        let last = i + 1 == parts.len();
        let path = fd_path(&dir).join(part);
        let failed = |e| {
            Error::io(
                format!("cannot make the mount point '{rel}' in a shared folder"),
                e,
            )
        };
        let want_folder = !last || kind == Kind::Folder;
        let created = match want_folder {
            true => std::fs::create_dir(&path),
            false => OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
                .map(drop),
        };
        match created {
            Ok(()) => made.push(MadePoint {
                parent: dir.try_clone().map_err(failed)?,
                name: (*part).to_owned(),
                kind: if want_folder {
                    Kind::Folder
                } else {
                    Kind::File
                },
            }),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => (),
            Err(e) => return Err(failed(e)),
        }
        if !last {
            dir = OpenOptions::new()
                .read(true)
                .custom_flags(libc::O_PATH | libc::O_NOFOLLOW | libc::O_DIRECTORY)
                .open(&path)
                .map_err(failed)?;
        }
    }
    Ok(())
}

fn open_mounts(cli: &Cli, incus: &Incus, remote: Option<&str>) -> Result<Vec<Shared>> {
    if cli.mount.is_empty() {
        return Ok(Vec::new());
    }
    if let Some(remote) = remote {
        return Err(Error::usage(format!(
            "--mount shares a path of this host: an instance on remote '{remote}' cannot see it"
        ))
        .with_hint("leave out --remote (or REMOTE: in --from) to share host paths"));
    }
    // Incus is handed paths of this host: the daemon must be this host's.
    if !incus.default_remote_is_local()? {
        return Err(Error::failure(
            "cannot share host paths: the default Incus remote is not this host's daemon",
        )
        .with_hint("--mount shares a path of this host; switch with incus remote switch local"));
    }
    // Incus reads /proc/OUR_PID/fd/N: our pid must be the daemon's view of it.
    if in_child_pid_namespace() {
        return Err(Error::failure(
            "cannot share host paths from a pid namespace of its own (a container): Incus would read another process's files",
        )
        .with_hint("run anklume-disp on the host itself to use --mount"));
    }
    let mut seen = BTreeSet::new();
    for mount in &cli.mount {
        if !seen.insert(mount.path.as_str()) {
            return Err(Error::usage(format!(
                "two --mount options share {}: one path each",
                mount.path
            )));
        }
    }
    let shared: Vec<Shared> = cli.mount.iter().map(Shared::open).collect::<Result<_>>()?;
    for one in &shared {
        if one.kind == Kind::Socket && one.mount.read_only {
            return Err(Error::usage(format!(
                "--mount {}: a socket cannot be read-only (:ro would protect nothing)",
                one.mount.host_path.display()
            )));
        }
    }
    check_read_only_outside_writable(&shared)?;
    Ok(shared)
}

/// Whether this process sees itself in a pid namespace below the host's (`NSpid` lists more
/// than one pid).
fn in_child_pid_namespace() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|l| l.starts_with("NSpid:"))?.to_owned();
            Some(line.split_whitespace().count() > 2)
        })
        .unwrap_or(false)
}

/// A `:ro` path inside a writable shared folder would be writable through that folder (the
/// instance may also unmount it): refused, naming both.
fn check_read_only_outside_writable(shared: &[Shared]) -> Result<()> {
    use std::os::unix::fs::MetadataExt;
    let writable: Vec<(u64, u64, &Shared)> = shared
        .iter()
        .filter(|s| s.writable() && s.kind == Kind::Folder)
        .filter_map(|s| s.handle.metadata().ok().map(|m| (m.dev(), m.ino(), s)))
        .collect();
    for read_only in shared.iter().filter(|s| s.mount.read_only) {
        // Up the tree from the read-only path (through the open folder; a file's own folder
        // by its path), to the root.
        let mut dir = match read_only.kind {
            Kind::Folder => fd_path(&read_only.handle),
            _ => match read_only
                .mount
                .host_path
                .parent()
                .map(std::fs::canonicalize)
            {
                Some(Ok(parent)) => parent,
                _ => std::env::current_dir().unwrap_or_default(),
            },
        };
        for _ in 0..4096 {
            let Ok(meta) = std::fs::metadata(&dir) else {
                break;
            };
            if let Some((_, _, outer)) = writable
                .iter()
                .find(|(d, i, _)| (*d, *i) == (meta.dev(), meta.ino()))
            {
                return Err(Error::usage(format!(
                    "--mount {}:ro lies inside {}, shared writable: it would be writable through it",
                    read_only.mount.host_path.display(),
                    outer.mount.host_path.display()
                )));
            }
            let parent = dir.join("..");
            let Ok(parent_meta) = std::fs::metadata(&parent) else {
                break;
            };
            if (parent_meta.dev(), parent_meta.ino()) == (meta.dev(), meta.ino()) {
                break;
            }
            dir = parent;
        }
    }
    Ok(())
}

/// `infra.yml`'s `network:` of a domain.
fn network_of(name: &str) -> Network {
    match name {
        "none" => Network::None,
        name => Network::Named(name.to_owned()),
    }
}

fn domain_limits(domain: &Domain) -> Limits {
    Limits {
        cpu: domain.limits_cpu.clone(),
        memory: domain.limits_memory.clone(),
    }
}

fn numbered(base: &str, index: usize) -> String {
    match index {
        0 => base.to_owned(),
        n => format!("{base}-{}", n + 1),
    }
}

/// A host port already taken is said before the launch.
fn check_port_free(publish: &Publish) -> Result<()> {
    let at = (publish.host_addr, publish.host_port);
    let bound = match publish.protocol {
        Protocol::Tcp => TcpListener::bind(at).map(drop),
        Protocol::Udp => UdpSocket::bind(at).map(drop),
    };
    bound.map_err(|e| {
        let listen = publish.listen();
        match e.kind() {
            std::io::ErrorKind::AddrInUse => Error::failure(format!(
                "cannot publish on {listen}: the port is already in use on this host"
            ))
            .with_hint("choose another HOST_PORT, or stop what listens there (ss -lntup)"),
            _ => Error::io(format!("cannot publish on {listen}"), e),
        }
    })
}

/// Removes every network interface of the instance (`none`: only `lo` stays), or connects each
/// to `network` instead (one, `eth0`, when it had none). A profile's interface is hidden by a
/// device of the instance's own of the same name; its own are removed.
fn replace_network(incus: &Incus, at: &Located, network: &Network) -> Result<()> {
    // Two rounds: removing an own interface may uncover a profile's of the same name.
    for _ in 0..2 {
        let info = incus.instance(at)?;
        let nics: Vec<&String> = info
            .expanded_devices
            .iter()
            .filter(|(_, d)| d.get("type").map(String::as_str) == Some("nic"))
            .filter(|(_, d)| match network {
                Network::Named(name) => d.get("network") != Some(name),
                Network::None => true,
            })
            .map(|(name, _)| name)
            .collect();
        if nics.is_empty() {
            break;
        }
        for name in nics {
            if info.devices.contains_key(name) {
                incus.remove_device(at, name)?;
            } else {
                hide_nic(incus, at, name, network)?;
            }
        }
    }
    if let Network::Named(name) = network {
        let info = incus.instance(at)?;
        let has_nic = info
            .expanded_devices
            .values()
            .any(|d| d.get("type").map(String::as_str) == Some("nic"));
        if !has_nic {
            incus.add_device(at, "connect", ("eth0", "nic"), &[format!("network={name}")])?;
        }
    }
    Ok(())
}

fn hide_nic(incus: &Incus, at: &Located, device: &str, network: &Network) -> Result<()> {
    match network {
        Network::None => incus.add_device(at, "disconnect", (device, "none"), &[]),
        Network::Named(name) => {
            incus.add_device(at, "connect", (device, "nic"), &[format!("network={name}")])
        }
    }
}

/// Root may map `uid` and `gid` only where `/etc/subuid` and `/etc/subgid` allow it; said
/// before anything is launched, with what to add.
fn check_mappable(uid: u32, gid: u32, whose: &str) -> Result<()> {
    for (file, id) in [("/etc/subuid", uid), ("/etc/subgid", gid)] {
        let ranges = std::fs::read_to_string(file).unwrap_or_default();
        if !root_may_map(&ranges, id) {
            return Err(Error::failure(format!(
                "{whose} cannot be mapped into the instance: {file} does not let root map id {id}"
            ))
            .with_hint(format!(
                "add the line root:{uid}:1 to /etc/subuid and root:{gid}:1 to /etc/subgid, then restart Incus"
            )));
        }
    }
    Ok(())
}

/// Whether a `/etc/subuid` (or `subgid`) text gives root (by name or uid 0) the id `id`.
pub fn root_may_map(ranges: &str, id: u32) -> bool {
    ranges.lines().any(|line| {
        let fields: Vec<&str> = line.trim().split(':').collect();
        let [user, start, count] = fields.as_slice() else {
            return false;
        };
        let (Ok(start), Ok(count)) = (start.parse::<u64>(), count.parse::<u64>()) else {
            return false;
        };
        matches!(*user, "root" | "0") && start <= u64::from(id) && u64::from(id) < start + count
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_may_map_only_the_ids_its_ranges_give() {
        let ranges = "root:1000000:1000000000\nalice:100000:65536\nroot:1000:1\n";
        assert!(root_may_map(ranges, 1000));
        assert!(root_may_map(ranges, 1000000));
        assert!(!root_may_map(ranges, 1001));
        assert!(!root_may_map(ranges, 100000), "alice's range is not root's");
        assert!(root_may_map("0:5:2\n", 6));
        assert!(!root_may_map("", 1000));
    }

    #[test]
    fn nesting_and_numbering() {
        assert!(is_within("/config/ssh-dir", "/config"));
        assert!(!is_within("/config2", "/config"));
        assert!(!is_within("/config", "/config"));
        assert!(is_within("/x", "/"));
        assert_eq!(numbered(MOUNT_DEVICE, 0), "anklume-mount");
        assert_eq!(numbered(MOUNT_DEVICE, 1), "anklume-mount-2");
    }
}
