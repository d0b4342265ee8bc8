//! Instance operations, in types: what the tools ask of Incus about one instance, each call
//! naming its instance and project in its errors and failing with a typed [`Fault`].
//!
//! This is where the argv of `incus` for instances is written; the tools call these methods.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::Path;
use std::process::ExitStatus;
use std::thread;
use std::time::Duration;

use serde::Deserialize;

use crate::error::{Error, Fault, Object, Result, shell_word, warn};
use crate::incus::{Call, Incus, Pipes, Stream};
use crate::resolve::Located;
use crate::url::{ApiPath, decode};

/// How many times (100 ms apart) a start or a delete waits for another operation on the
/// instance to end: a competing launch's create, or a start we abandoned.
const BUSY_TRIES: u32 = 50;
/// How long a failed export looks for the server's copy of the backup to delete.
const STAGED_BACKUP_WAIT: Duration = Duration::from_secs(1);

/// What the tools read of an instance (`GET /1.0/instances/NAME?recursion=1`).
#[derive(Debug, Clone, Deserialize)]
#[serde(from = "RawInstance")]
pub struct InstanceInfo {
    pub name: String,
    /// Its project, as Incus says it.
    pub project: String,
    /// `Running`, `Stopped`, ...
    pub status: String,
    /// `container` or `virtual-machine`.
    pub kind: String,
    pub ephemeral: bool,
    pub config: BTreeMap<String, String>,
    /// Names of its snapshots.
    pub snapshots: Vec<String>,
    /// Devices after profiles are applied: device name → key → value.
    pub expanded_devices: BTreeMap<String, BTreeMap<String, String>>,
    /// Its own devices (not its profiles').
    pub devices: BTreeMap<String, BTreeMap<String, String>>,
    /// When it was last started (Incus's timestamp, to the nanosecond).
    pub last_used_at: String,
    /// The cluster member it lives on (`none` on a standalone server).
    pub location: String,
}

#[derive(Deserialize)]
struct RawInstance {
    #[serde(default)]
    name: String,
    #[serde(default)]
    project: String,
    status: String,
    #[serde(default, rename = "type")]
    kind: String,
    #[serde(default)]
    ephemeral: bool,
    #[serde(default)]
    config: BTreeMap<String, String>,
    #[serde(default)]
    snapshots: Option<Vec<RawSnapshot>>,
    #[serde(default)]
    expanded_devices: BTreeMap<String, BTreeMap<String, String>>,
    #[serde(default)]
    devices: BTreeMap<String, BTreeMap<String, String>>,
    #[serde(default)]
    last_used_at: String,
    #[serde(default)]
    location: String,
}

#[derive(Deserialize)]
struct RawSnapshot {
    name: String,
    #[serde(default)]
    created_at: String,
}

impl From<RawInstance> for InstanceInfo {
    fn from(raw: RawInstance) -> Self {
        Self {
            name: raw.name,
            project: raw.project,
            status: raw.status,
            kind: raw.kind,
            ephemeral: raw.ephemeral,
            config: raw.config,
            snapshots: raw
                .snapshots
                .into_iter()
                .flatten()
                .map(|s| s.name)
                .collect(),
            expanded_devices: raw.expanded_devices,
            devices: raw.devices,
            last_used_at: raw.last_used_at,
            location: raw.location,
        }
    }
}

impl InstanceInfo {
    /// The identity of this very instance (`volatile.uuid`): a later namesake has another.
    pub fn uuid(&self) -> Option<&str> {
        self.config.get("volatile.uuid").map(String::as_str)
    }

    pub fn is_vm(&self) -> bool {
        self.kind == "virtual-machine"
    }

    pub fn is_stopped(&self) -> bool {
        self.status == "Stopped"
    }

    pub fn has_snapshot(&self, name: &str) -> bool {
        self.snapshots.iter().any(|s| s == name)
    }

    /// The storage pool of its root disk.
    pub fn root_pool(&self) -> Option<&str> {
        self.expanded_devices
            .get("root")
            .and_then(|root| root.get("pool"))
            .map(String::as_str)
    }

    /// Device overrides that leave a copy of this instance without the static IPv4 addresses
    /// of its network interfaces (`DEVICE,ipv4.address=`): a copy claiming the same address
    /// would not start.
    pub fn static_address_resets(&self) -> Vec<String> {
        self.nics()
            .into_iter()
            .filter(|(_, address)| address.is_some())
            .map(|(device, _)| format!("{device},ipv4.address="))
            .collect()
    }

    /// Network interfaces in device-name order: (device, static ipv4.address if any).
    pub fn nics(&self) -> Vec<(&str, Option<&str>)> {
        self.expanded_devices
            .iter()
            .filter(|(_, device)| device.get("type").is_some_and(|t| t == "nic"))
            .map(|(name, device)| {
                let address = device.get("ipv4.address").map(String::as_str);
                (name.as_str(), address.filter(|a| !a.is_empty()))
            })
            .collect()
    }
}

/// Where a new instance comes from.
#[derive(Debug, Clone, Copy)]
pub enum Origin<'a> {
    /// An image (`ALIAS`, `remote:ALIAS` or a fingerprint).
    Image(&'a str),
    /// A snapshot of an instance, copied (copy-on-write where the pool allows).
    Snapshot { of: &'a Located, name: &'a str },
}

/// Options of a new instance.
#[derive(Debug, Clone, Default)]
pub struct NewInstance {
    /// Deleted by Incus when it stops.
    pub ephemeral: bool,
    pub vm: bool,
    /// Storage pool of its root disk.
    pub storage: Option<String>,
    /// Profiles instead of the project's `default`.
    pub profiles: Vec<String>,
    /// Device overrides, `DEVICE,KEY=VALUE` (`eth0,ipv4.address=`).
    pub device_overrides: Vec<String>,
    /// Configuration keys set at creation, in the same request (`user.anklume.*`).
    pub config: Vec<(String, String)>,
    /// The cluster member it is made on (`--target`); Incus places it when `None`.
    pub target: Option<String>,
}

impl NewInstance {
    fn args(&self) -> Vec<String> {
        let mut args = Vec::new();
        if self.ephemeral {
            args.push("--ephemeral".to_owned());
        }
        if self.vm {
            args.push("--vm".into());
        }
        if let Some(pool) = &self.storage {
            args.extend(["--storage".into(), pool.clone()]);
        }
        for profile in &self.profiles {
            args.extend(["--profile".into(), profile.clone()]);
        }
        for device in &self.device_overrides {
            args.extend(["--device".into(), device.clone()]);
        }
        for (key, value) in &self.config {
            args.extend(["--config".into(), format!("{key}={value}")]);
        }
        if let Some(member) = &self.target {
            args.extend(["--target".into(), member.clone()]);
        }
        args
    }
}

/// How to stop an instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// Ask it to shut down; [`Fault::TimedOut`] when it did not within `timeout` seconds.
    Clean { timeout: u32 },
    /// Kill it.
    Force,
}

/// What `incus export` writes.
#[derive(Debug, Clone, Copy)]
pub struct Export<'a> {
    /// Incus's name of the compression (`zstd`, `gzip`, `none`...).
    pub compression: &'a str,
    /// Without its snapshots.
    pub instance_only: bool,
}

/// A command to run in an instance.
#[derive(Debug, Clone, Default)]
pub struct Exec {
    pub argv: Vec<String>,
    /// Working directory inside.
    pub cwd: Option<String>,
    /// The user and group it runs as (root's by default).
    pub user: Option<(u32, u32)>,
    /// Environment variables set for it.
    pub env: Vec<(String, String)>,
    /// Never allocate a terminal: stdout and stderr stay separate byte streams.
    pub non_interactive: bool,
}

/// A call about the instance `at`, in its project.
fn on(at: &Located, action: &str, args: Vec<OsString>) -> Call {
    Call::new(action, args)
        .instance(at.incus_name())
        .project(&at.project)
}

fn argv<const N: usize>(parts: [&str; N]) -> Vec<OsString> {
    parts.iter().map(OsString::from).collect()
}

impl Incus {
    /// The instance's description; [`Fault::NotFound`] when it or its project does not exist.
    /// Read while the instance stops, its state is refused for a moment: that is waited for.
    pub fn instance(&self, at: &Located) -> Result<InstanceInfo> {
        let path = ApiPath::new(&["instances", &at.name])
            .in_project(Some(&at.project))
            .recursive();
        let mut tries = 0;
        loop {
            match self.query(at.remote.as_deref(), &path) {
                Err(e) if e.is(Fault::Busy) && tries < BUSY_TRIES => {
                    tries += 1;
                    thread::sleep(Duration::from_millis(100));
                }
                answer => return answer,
            }
        }
    }

    /// `Ok` when the instance exists (a cheaper question than its description).
    pub fn check_instance(&self, at: &Located) -> Result<()> {
        let path = ApiPath::new(&["instances", &at.name]).in_project(Some(&at.project));
        self.query::<serde::de::IgnoredAny>(at.remote.as_deref(), &path)
            .map(drop)
    }

    /// Its `volatile.uuid`.
    pub fn uuid(&self, at: &Located) -> Result<String> {
        let info = self.instance(at)?;
        info.uuid()
            .map(str::to_owned)
            .ok_or_else(|| Error::failure(format!("instance {at} has no volatile.uuid")))
    }

    /// Creates `new` (not started) from `origin`. Never cut in the middle by a signal or a
    /// Ctrl-C (own process group): once Incus started creating, the caller must learn whether
    /// the instance exists, to destroy it.
    pub fn create(&self, new: &Located, origin: Origin, options: &NewInstance) -> Result<()> {
        let mut args: Vec<String> = match origin {
            Origin::Image(image) => vec!["create".into(), image.into(), new.incus_name()],
            Origin::Snapshot { of, name } => vec![
                "copy".into(),
                format!("{}/{name}", of.incus_name()),
                new.incus_name(),
                "--target-project".into(),
                new.project.clone(),
            ],
        };
        args.extend(options.args());
        let call = match origin {
            Origin::Image(_) => on(new, "create", to_os(args)),
            Origin::Snapshot { of, .. } => on(of, "copy", to_os(args)),
        };
        self.uninterruptible()
            .output(&call.own_process_group())
            .map(drop)
    }

    /// Adds device `device` of type `kind` with `settings` (`key=value`); `action` names it
    /// in messages ("share a host folder with").
    pub fn add_device(
        &self,
        at: &Located,
        action: &str,
        (device, kind): (&str, &str),
        settings: &[String],
    ) -> Result<()> {
        let mut args = argv(["config", "device", "add", &at.incus_name(), device, kind]);
        args.extend(settings.iter().map(OsString::from));
        self.output(&on(at, action, args)).map(drop)
    }

    /// Adds a disk device sharing host path `source` (a folder, a file or a unix socket) at
    /// `path`, read-only if `read_only` (Incus enforces it), written through the instance's own
    /// id map (never `shift=true`, which would make its root the host's).
    pub fn share_path(
        &self,
        at: &Located,
        device: &str,
        (source, path): (&Path, &str),
        read_only: bool,
    ) -> Result<()> {
        let mut settings = vec![
            format!("source={}", source.display()),
            format!("path={path}"),
        ];
        if read_only {
            settings.push("readonly=true".to_owned());
        }
        let action = "share a host path with";
        self.add_device(at, action, (device, "disk"), &settings)
    }

    /// Publishes `connect` (`tcp:127.0.0.1:80`, inside) on `listen` (`tcp:127.0.0.1:8080`, on
    /// the host) through a proxy device.
    pub fn publish_port(
        &self,
        at: &Located,
        device: &str,
        (listen, connect): (&str, &str),
    ) -> Result<()> {
        let settings = [format!("listen={listen}"), format!("connect={connect}")];
        self.add_device(at, "publish a port of", (device, "proxy"), &settings)
    }

    /// Removes device `device` of the instance's own (not one of its profiles').
    pub fn remove_device(&self, at: &Located, device: &str) -> Result<()> {
        let args = argv(["config", "device", "remove", &at.incus_name(), device]);
        self.output(&on(at, "remove a device of", args)).map(drop)
    }

    /// Starts the instance, waiting while another operation holds it ([`Fault::Busy`]).
    pub fn start(&self, at: &Located) -> Result<()> {
        let call = on(at, "start", argv(["start", &at.incus_name()]));
        let mut tries = 0;
        loop {
            match self.output(&call) {
                Err(e) if tries < BUSY_TRIES && e.is(Fault::Busy) => {
                    tries += 1;
                    thread::sleep(Duration::from_millis(100));
                }
                outcome => return outcome.map(drop),
            }
        }
    }

    pub fn stop(&self, at: &Located, how: Stop) -> Result<()> {
        let name = at.incus_name();
        let call = match how {
            Stop::Clean { timeout } => on(
                at,
                "stop",
                argv(["stop", &name, "--timeout", &timeout.to_string()]),
            ),
            Stop::Force => on(at, "force the stop of", argv(["stop", &name, "--force"])),
        };
        self.output(&call).map(drop)
    }

    /// Deletes the instance, running or not. One already gone is no error. Incus refuses
    /// while another operation runs (a start we abandoned goes on in the daemon): that is
    /// waited for, and any other refusal is tried again a few times before it is returned.
    pub fn destroy(&self, at: &Located) -> Result<()> {
        let call = on(at, "destroy", argv(["delete", "--force", &at.incus_name()]));
        let mut tries = 0;
        loop {
            match self.output(&call) {
                Ok(_) => return Ok(()),
                Err(e) if is_gone(&e) => return Ok(()),
                Err(e) if tries < BUSY_TRIES && e.is(Fault::Busy) => {
                    tries += 1;
                    thread::sleep(Duration::from_millis(100));
                }
                // An ephemeral instance deleting itself as we stop it, an operation Incus has
                // not settled yet.
                Err(e) if tries < BUSY_TRIES => {
                    tries += 10;
                    warn(&e);
                    thread::sleep(Duration::from_millis(500));
                }
                Err(e) => {
                    return Err(e.with_hint(format!(
                        "remove it by hand: incus delete --force {} --project {}",
                        at.incus_name(),
                        shell_word(&at.project)
                    )));
                }
            }
        }
    }

    /// Destroys the instance only if it is still the one whose uuid is `uuid`; `Ok(false)`
    /// when it is gone or a namesake replaced it.
    pub fn destroy_if_same(&self, at: &Located, uuid: &str) -> Result<bool> {
        match self.uuid(at) {
            Ok(current) if current == uuid => self.destroy(at).map(|()| true),
            Ok(_) => Ok(false),
            Err(e) if is_gone(&e) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Renames a stopped instance within its project.
    pub fn rename(&self, at: &Located, new_name: &str) -> Result<()> {
        let call = on(at, "rename", argv(["rename", &at.incus_name(), new_name]));
        self.output(&call).map(drop)
    }

    /// Moves a stopped instance to cluster member `member` of its remote (its data goes along).
    pub fn move_to_member(&self, at: &Located, member: &str) -> Result<()> {
        let args = argv(["move", &at.incus_name(), "--target", member]);
        self.uninterruptible()
            .output(&on(at, "move to another member", args).own_process_group())
            .map(drop)
    }

    /// When snapshot `name` of the instance was taken (to the nanosecond): it identifies that
    /// very snapshot, whatever name it has later. [`Fault::NotFound`] when there is none.
    pub fn snapshot_created(&self, at: &Located, name: &str) -> Result<String> {
        let path =
            ApiPath::new(&["instances", &at.name, "snapshots", name]).in_project(Some(&at.project));
        let snapshot: RawSnapshot = self.query(at.remote.as_deref(), &path)?;
        Ok(snapshot.created_at)
    }

    /// Renames snapshot `from` of the instance to `to`; [`Fault::AlreadyExists`] when `to` is
    /// taken.
    pub fn rename_snapshot(&self, at: &Located, from: &str, to: &str) -> Result<()> {
        let args = argv(["snapshot", "rename", &at.incus_name(), from, to]);
        self.output(&on(at, "rename a snapshot of", args)).map(drop)
    }

    /// Deletes snapshot `name` of the instance.
    pub fn delete_snapshot(&self, at: &Located, name: &str) -> Result<()> {
        let args = argv(["snapshot", "delete", &at.incus_name(), name]);
        self.output(&on(at, "delete a snapshot of", args)).map(drop)
    }

    /// Takes snapshot `name`, never expiring; with `replace`, an existing one of that name is
    /// replaced atomically.
    pub fn snapshot(&self, at: &Located, name: &str, replace: bool) -> Result<()> {
        let mut args = argv(["snapshot", "create", &at.incus_name(), name, "--no-expiry"]);
        if replace {
            args.push("--reuse".into());
        }
        self.output(&on(at, "snapshot", args)).map(drop)
    }

    /// Publishes snapshot `snapshot` as an image under `alias` (in the instance's project);
    /// returns the image's fingerprint.
    pub fn publish(
        &self,
        at: &Located,
        snapshot: &str,
        alias: &str,
        replace: bool,
        public: bool,
    ) -> Result<String> {
        let source = format!("{}/{snapshot}", at.incus_name());
        let mut args = argv(["publish", &source, "--alias", alias]);
        // Without a destination, Incus publishes to the client's default remote.
        if let Some(remote) = &at.remote {
            args.insert(2, format!("{remote}:").into());
        }
        if replace {
            args.push("--reuse".into());
        }
        if public {
            args.push("--public".into());
        }
        let answer = self.output(&on(at, "publish", args))?;
        let answer = String::from_utf8_lossy(&answer);
        Ok(answer
            .split_whitespace()
            .last()
            .filter(|f| f.len() >= 12 && f.chars().all(|c| c.is_ascii_hexdigit()))
            .unwrap_or_default()
            .to_owned())
    }

    /// `incus config get`: the value of `key`, empty when unset.
    pub fn config_get(&self, at: &Located, key: &str) -> Result<String> {
        let call = on(
            at,
            "read the config of",
            argv(["config", "get", &at.incus_name(), key]),
        );
        let value = self.output(&call)?;
        Ok(String::from_utf8_lossy(&value).trim_end().to_owned())
    }

    /// `incus config set KEY=VALUE`.
    pub fn config_set(&self, at: &Located, key: &str, value: &str) -> Result<()> {
        let setting = format!("{key}={value}");
        let call = on(
            at,
            "configure",
            argv(["config", "set", &at.incus_name(), &setting]),
        );
        self.output(&call).map(drop)
    }

    /// `incus export`: the backup on the returned stream's stdout.
    pub fn export(&self, at: &Located, export: Export) -> Result<Stream> {
        let mut args = argv(["export", &at.incus_name(), "-", "--quiet"]);
        args.extend(argv(["--compression", export.compression]));
        if export.instance_only {
            args.push("--instance-only".into());
        }
        self.stream(&on(at, "export", args).dies_with_us(), Pipes::Stdout)
    }

    /// Names of the backups Incus keeps of the instance on the server: `incus export` makes
    /// one under `/var/lib/incus/backups` (Incus 6.0 has no direct download), streams it and
    /// deletes it, unless its client is killed first.
    pub fn backups(&self, at: &Located) -> Result<Vec<String>> {
        let path = ApiPath::new(&["instances", &at.name, "backups"]).in_project(Some(&at.project));
        let urls: Vec<String> = self.query(at.remote.as_deref(), &path)?;
        Ok(urls
            .iter()
            .filter_map(|url| url.rsplit('/').next())
            .map(|last| decode(last.split('?').next().unwrap_or(last)))
            .collect())
    }

    /// After a failed or interrupted export, deletes the copy of the backup that `incus
    /// export` left on the server (its client was killed before it could): the backups of the
    /// instance that are not in `before`. Looked at for a second, as the server may still be
    /// writing it; what cannot be deleted is said on stderr.
    pub fn remove_new_backups(&self, at: &Located, before: &[String]) {
        let started = std::time::Instant::now();
        while started.elapsed() < STAGED_BACKUP_WAIT {
            let Ok(now) = self.backups(at) else { return };
            for name in now.iter().filter(|name| !before.contains(name)) {
                if let Err(error) = self.delete_backup(at, name) {
                    warn(&error);
                }
            }
            thread::sleep(Duration::from_millis(200));
        }
    }

    /// Deletes the server's backup `name` of the instance.
    pub fn delete_backup(&self, at: &Located, name: &str) -> Result<()> {
        let path =
            ApiPath::new(&["instances", &at.name, "backups", name]).in_project(Some(&at.project));
        self.delete(at.remote.as_deref(), &path)
    }

    /// `incus import` of a backup written to the returned stream's stdin, as instance `new`.
    pub fn import(&self, new: &Located, storage: Option<&str>) -> Result<Stream> {
        // `incus import [REMOTE:] FILE [NAME]`: the remote is an argument of its own.
        let mut args = argv(["import"]);
        if let Some(remote) = &new.remote {
            args.push(format!("{remote}:").into());
        }
        args.extend(argv(["-", &new.name, "--quiet"]));
        if let Some(pool) = storage {
            args.extend(argv(["--storage", pool]));
        }
        self.stream(&on(new, "import", args).dies_with_us(), Pipes::Stdin)
    }

    /// Runs a command in the instance, attached to our standard streams; returns its status.
    pub fn exec(&self, at: &Located, exec: &Exec) -> Result<ExitStatus> {
        let mut args = argv(["exec", &at.incus_name()]);
        if exec.non_interactive {
            args.push("--force-noninteractive".into());
        }
        if let Some(cwd) = &exec.cwd {
            args.extend(argv(["--cwd", cwd]));
        }
        if let Some((uid, gid)) = exec.user {
            args.extend(argv([
                "--user",
                &uid.to_string(),
                "--group",
                &gid.to_string(),
            ]));
        }
        for (key, value) in &exec.env {
            args.extend(argv(["--env", &format!("{key}={value}")]));
        }
        args.push("--".into());
        args.extend(exec.argv.iter().map(OsString::from));
        let (status, closing) =
            self.interactive_closing_error(&on(at, "run a command in", args))?;
        // The client turns the command's own 127 and 126 into these lines of its own.
        let why = match (status.code(), closing.as_deref()) {
            (Some(127), Some("Command not found")) => Some("not found"),
            (Some(126), Some("Command not executable")) => Some("not executable"),
            _ => None,
        };
        match (why, closing) {
            (Some(why), _) => warn(
                &Error::failure(format!(
                    "the command in {at} exited with status {}: {why}",
                    status.code().unwrap_or_default()
                ))
                .with_hint("check its name and path; the image may not provide it"),
            ),
            // Maybe the command's own last line: passed on as it was.
            (None, Some(line)) => eprintln!("Error: {line}"),
            (None, None) => (),
        }
        Ok(status)
    }

    /// Runs a command in the instance with its output captured: `Ok` when it exits 0.
    pub fn exec_captured(&self, at: &Located, command: &[&str]) -> Result<Vec<u8>> {
        let mut args = argv(["exec", &at.incus_name(), "--"]);
        args.extend(command.iter().map(OsString::from));
        self.output(&on(at, "run a command in", args))
    }

    /// Attaches our terminal to the instance's console until the user detaches.
    pub fn console(&self, at: &Located) -> Result<ExitStatus> {
        let call = on(
            at,
            "attach to the console of",
            argv(["console", &at.incus_name()]),
        );
        self.interactive(&call)
    }
}

/// Whether a refusal says that the instance (or its whole project) is not there.
fn is_gone(error: &Error) -> bool {
    matches!(
        error.fault(),
        Some(Fault::NotFound(Object::Instance | Object::Project))
    )
}

fn to_os(args: Vec<String>) -> Vec<OsString> {
    args.into_iter().map(OsString::from).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_instance_answer_gives_its_snapshots_uuid_and_pool() {
        let json = r#"{"status":"Stopped","ephemeral":false,
            "config":{"volatile.uuid":"1234"},
            "snapshots":[{"name":"pristine"}],
            "expanded_devices":{"root":{"type":"disk","pool":"fast","path":"/"},
                "eth0":{"type":"nic","ipv4.address":"10.0.0.5"},"eth1":{"type":"nic"}}}"#;
        let info: InstanceInfo = serde_json::from_str(json).unwrap();
        assert!(info.is_stopped() && info.has_snapshot("pristine"));
        assert_eq!(info.uuid(), Some("1234"));
        assert_eq!(info.root_pool(), Some("fast"));
        assert_eq!(info.nics(), [("eth0", Some("10.0.0.5")), ("eth1", None)]);
        let bare: InstanceInfo =
            serde_json::from_str(r#"{"status":"Running","snapshots":null}"#).unwrap();
        assert!(bare.snapshots.is_empty() && bare.uuid().is_none());
    }

    #[test]
    fn new_instance_options_become_flags() {
        let options = NewInstance {
            ephemeral: true,
            storage: Some("fast".into()),
            profiles: vec!["a".into(), "b".into()],
            device_overrides: vec!["eth0,ipv4.address=".into()],
            ..NewInstance::default()
        };
        assert_eq!(
            options.args(),
            [
                "--ephemeral",
                "--storage",
                "fast",
                "--profile",
                "a",
                "--profile",
                "b",
                "--device",
                "eth0,ipv4.address="
            ]
        );
    }
}
