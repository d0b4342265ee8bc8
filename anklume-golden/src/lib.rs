//! anklume-golden: golden images, that is instances with a `pristine` snapshot.
//!
//! `create` stops the instance and takes `pristine` (atomically replacing an older one, never
//! expiring); `derive` copies `pristine` into new instances (copy-on-write where the pool
//! allows); `publish` makes it an image; `list` shows them all with one Incus query per storage pool.

pub mod cli;

use std::collections::{BTreeMap, HashSet};
use std::io::{self, Write};

use anklume_common::{Call, Error, Incus, InstanceRef, Located, Resolver, Result};
use serde::{Deserialize, Serialize};

use cli::{Cli, Command, CreateArgs, DeriveArgs, Format, ListArgs, PublishArgs};

/// The snapshot that makes an instance golden.
pub const PRISTINE: &str = "pristine";

/// Runs anklume-golden.
pub fn run(cli: &Cli) -> Result<u8> {
    let resolver = Resolver::new(Incus::from_env());
    match &cli.command {
        Command::Create(args) => create(&resolver, args),
        Command::Derive(args) => derive(&resolver, args),
        Command::Publish(args) => publish(&resolver, args),
        Command::List(args) => list(resolver.incus(), args),
    }?;
    Ok(0)
}

/// What anklume-golden reads of an instance (`GET /1.0/instances/NAME?recursion=1`).
#[derive(Debug, Deserialize)]
struct Instance {
    status: String,
    #[serde(default)]
    ephemeral: bool,
    #[serde(default)]
    snapshots: Option<Vec<Snapshot>>,
    #[serde(default)]
    expanded_devices: BTreeMap<String, BTreeMap<String, String>>,
}

#[derive(Debug, Deserialize)]
struct Snapshot {
    name: String,
}

impl Instance {
    fn pristine(&self) -> Option<&Snapshot> {
        self.snapshots.iter().flatten().find(|s| s.name == PRISTINE)
    }

    fn root_pool(&self) -> Option<&str> {
        self.expanded_devices
            .get("root")
            .and_then(|root| root.get("pool"))
            .map(String::as_str)
    }

    /// Network interfaces in device-name order: (device, static ipv4.address if any).
    fn nics(&self) -> Vec<(&str, Option<&str>)> {
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

fn describe(resolver: &Resolver, name: &str, project: Option<&str>) -> Result<(Located, Instance)> {
    let reference = InstanceRef {
        remote: None,
        name: name.to_owned(),
    };
    resolver.describe(&reference, project)
}

fn require_pristine<'a>(located: &Located, instance: &'a Instance) -> Result<&'a Snapshot> {
    instance.pristine().ok_or_else(|| {
        Error::failure(format!(
            "instance '{}' (project {}) has no '{PRISTINE}' snapshot: it is not a golden image",
            located.name, located.project
        ))
        .with_hint(format!(
            "make it one first: anklume-golden create {}",
            located.name
        ))
    })
}

fn call(action: &str, located: &Located, args: &[&str]) -> Call {
    Call::new(action, args)
        .instance(&located.name)
        .project(&located.project)
}

fn say(message: &str) {
    eprintln!("anklume-golden: {message}");
}

fn create(resolver: &Resolver, args: &CreateArgs) -> Result<()> {
    let incus = resolver.incus();
    let (located, instance) = describe(resolver, &args.name, args.project.as_deref())?;
    let name = located.name.as_str();
    if instance.ephemeral {
        return Err(Error::failure(format!(
            "instance '{name}' is ephemeral: stopping it would destroy it"
        ))
        .with_hint(format!(
            "make it persistent first: incus config set {name} ephemeral=false --project {}",
            located.project
        )));
    }
    if instance.status != "Stopped" {
        let timeout = args.timeout.to_string();
        let clean = call("stop", &located, &["stop", name, "--timeout", &timeout]);
        match incus.output(&clean) {
            Ok(_) => say(&format!("stopped {name} cleanly")),
            Err(error) if args.force && stop_timed_out(&error) => {
                incus.output(&call(
                    "force the stop of",
                    &located,
                    &["stop", name, "--force"],
                ))?;
                say(&format!(
                    "{name} did not stop within {timeout} s: stop forced"
                ));
            }
            Err(error) if stop_timed_out(&error) => {
                return Err(Error::failure(format!(
                    "instance '{name}' did not stop cleanly within {timeout} s; nothing was changed"
                ))
                .with_hint("give it more time with --timeout, or force the stop with --force"));
            }
            Err(error) => return Err(error),
        }
    }
    let snapshot = [
        "snapshot",
        "create",
        name,
        PRISTINE,
        "--reuse",
        "--no-expiry",
    ];
    incus.output(&call("snapshot", &located, &snapshot))?;
    let replaced = if instance.pristine().is_some() {
        "replaced"
    } else {
        "took"
    };
    say(&format!(
        "{replaced} snapshot '{PRISTINE}' of {name} (project {}, never expires); {name} stays stopped",
        located.project
    ));
    say(&format!(
        "derive clones with: anklume-golden derive {name} NEW..."
    ));
    Ok(())
}

fn stop_timed_out(error: &Error) -> bool {
    error.incus_message().is_some_and(|m| {
        m.contains("context deadline exceeded") || m.contains("Failed shutting down")
    })
}

fn derive(resolver: &Resolver, args: &DeriveArgs) -> Result<()> {
    if args.ipv4.is_some() && args.new.len() > 1 {
        return Err(Error::usage(
            "--ipv4 gives one address: derive one NEW at a time with it",
        ));
    }
    let mut seen = HashSet::new();
    if let Some(twice) = args.new.iter().find(|n| !seen.insert(n.as_str())) {
        return Err(Error::usage(format!("'{twice}' is given twice as NEW")));
    }
    let incus = resolver.incus();
    let (located, instance) = describe(resolver, &args.name, args.project.as_deref())?;
    require_pristine(&located, &instance)?;
    for new in &args.new {
        let users = resolver.projects_of(&InstanceRef {
            remote: None,
            name: new.clone(),
        })?;
        if !users.is_empty() || *new == located.name {
            let projects = if users.is_empty() {
                located.project.clone()
            } else {
                users.join(", ")
            };
            return Err(Error::failure(format!(
                "instance '{new}' already exists (project {projects}); nothing was created"
            ))
            .with_hint("choose names no project uses"));
        }
    }

    let overrides = address_overrides(&located, &instance, args)?;
    warn_if_full_copies(incus, &instance)?;
    let source = format!("{}/{PRISTINE}", located.name);
    let mut created: Vec<&str> = Vec::new();
    let mut stdout = io::stdout().lock();
    for new in &args.new {
        let mut copy: Vec<&str> = vec!["copy", &source, new];
        for device in &overrides {
            copy.extend(["--device", device]);
        }
        incus.output(&call("copy", &located, &copy)).map_err(|e| {
            if created.is_empty() {
                e
            } else {
                e.with_hint(format!("already created: {}", created.join(", ")))
            }
        })?;
        created.push(new);
        writeln!(stdout, "{new}").map_err(Error::stdout)?;
    }
    if args.start {
        let mut start = vec!["start"];
        start.extend(args.new.iter().map(String::as_str));
        let first = Located {
            name: args.new[0].clone(),
            ..located.clone()
        };
        incus.output(&call("start", &first, &start))?;
    }
    Ok(())
}

/// `--device DEV,ipv4.address=...` for each clone: a template's static address cannot be
/// shared, so the clone gets `--ipv4` or no static address (and starts either way).
fn address_overrides(
    located: &Located,
    instance: &Instance,
    args: &DeriveArgs,
) -> Result<Vec<String>> {
    let nics = instance.nics();
    let mut overrides = Vec::new();
    if let Some(address) = args.ipv4 {
        let Some((device, _)) = nics.iter().find(|(_, a)| a.is_some()).or(nics.first()) else {
            return Err(Error::failure(format!(
                "instance '{}' has no network interface to give --ipv4 {address} to",
                located.name
            )));
        };
        overrides.push(format!("{device},ipv4.address={address}"));
    }
    for (device, address) in nics {
        let Some(address) = address else { continue };
        if overrides
            .iter()
            .any(|o| o.starts_with(&format!("{device},")))
        {
            continue;
        }
        overrides.push(format!("{device},ipv4.address="));
        say(&format!(
            "{}'s {device} has the static address {address}: the clones get none (the template keeps it); give --ipv4 to set one",
            located.name
        ));
    }
    Ok(overrides)
}

#[derive(Debug, Deserialize)]
struct Pool {
    name: String,
    driver: String,
}

/// Drivers whose copies share blocks with their source.
fn copy_on_write(driver: &str) -> bool {
    matches!(driver, "btrfs" | "zfs" | "lvm" | "lvmcluster" | "ceph")
}

fn warn_if_full_copies(incus: &Incus, instance: &Instance) -> Result<()> {
    let Some(pool) = instance.root_pool() else {
        return Ok(());
    };
    let pool: Pool = incus.query(None, &format!("/1.0/storage-pools/{pool}"))?;
    if !copy_on_write(&pool.driver) {
        say(&format!(
            "pool '{}' is '{}': each clone is a full copy, not copy-on-write",
            pool.name, pool.driver
        ));
    }
    Ok(())
}

fn publish(resolver: &Resolver, args: &PublishArgs) -> Result<()> {
    let alias = args.alias();
    let incus = resolver.incus();
    let (located, instance) = describe(resolver, &args.name, args.project.as_deref())?;
    require_pristine(&located, &instance)?;
    let alias_path = format!("/1.0/images/aliases/{alias}?project={}", located.project);
    if !args.reuse
        && incus
            .query::<serde::de::IgnoredAny>(None, &alias_path)
            .is_ok()
    {
        return Err(Error::failure(format!(
            "image alias '{alias}' already exists (project {}); nothing was published",
            located.project
        ))
        .with_hint("replace it with --reuse, or choose another alias"));
    }
    let source = format!("{}/{PRISTINE}", located.name);
    let mut publish = vec!["publish", source.as_str(), "--alias", alias];
    if args.reuse {
        publish.push("--reuse");
    }
    if args.public {
        publish.push("--public");
    }
    let answer = incus.output(&call("publish", &located, &publish))?;
    let answer = String::from_utf8_lossy(&answer);
    let fingerprint = answer
        .split_whitespace()
        .last()
        .filter(|f| f.len() >= 12 && f.chars().all(|c| c.is_ascii_hexdigit()))
        .unwrap_or_default();
    writeln!(io::stdout(), "{fingerprint}").map_err(Error::stdout)?;
    say(&format!(
        "published {source} (project {}) as image '{alias}'",
        located.project
    ));
    say(&format!(
        "use it: `os_image: {alias}` in infra.yml, or anklume-disp --image {alias} --domain {}",
        located.project
    ));
    Ok(())
}

/// One golden image, as `list` shows it.
#[derive(Debug, Serialize, PartialEq, Eq, PartialOrd, Ord)]
struct Row {
    project: String,
    name: String,
    pristine_created: String,
    pool: String,
    cow: bool,
}

/// An instance's storage volume or snapshot volume, as pools list them.
#[derive(Debug, Deserialize)]
struct Volume {
    name: String,
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    project: String,
    created_at: String,
}

fn list(incus: &Incus, args: &ListArgs) -> Result<()> {
    // Each pool lists its snapshot volumes (`NAME/pristine`) with project and date: one query
    // per pool, where listing instances with their snapshots (recursion=2) makes Incus gather
    // the state of every instance.
    let scope = match &args.project {
        Some(project) => format!("project={project}"),
        None => "all-projects=true".to_owned(),
    };
    if let Some(project) = &args.project {
        incus
            .query::<serde::de::IgnoredAny>(None, &format!("/1.0/projects/{project}"))
            .map_err(|_| {
                Error::failure(format!("project '{project}' does not exist"))
                    .with_hint("list the projects with `incus project list`")
            })?;
    }
    let pools: Vec<Pool> = incus.query(None, "/1.0/storage-pools?recursion=1")?;
    let mut rows = Vec::new();
    for pool in &pools {
        let path = format!(
            "/1.0/storage-pools/{}/volumes?{scope}&recursion=1",
            pool.name
        );
        let volumes: Vec<Volume> = incus.query(None, &path)?;
        for volume in volumes {
            let is_instance = matches!(volume.kind.as_str(), "container" | "virtual-machine");
            let Some(name) = volume.name.strip_suffix(&format!("/{PRISTINE}")) else {
                continue;
            };
            if is_instance {
                rows.push(Row {
                    project: volume.project,
                    name: name.to_owned(),
                    pristine_created: volume.created_at,
                    pool: pool.name.clone(),
                    cow: copy_on_write(&pool.driver),
                });
            }
        }
    }
    rows.sort();
    let text = match args.format {
        Format::Table => table(&rows),
        Format::Json => {
            let mut json = serde_json::to_string_pretty(&rows)
                .map_err(|e| Error::failure(format!("cannot write JSON: {e}")))?;
            json.push('\n');
            json
        }
        Format::Csv => rows
            .iter()
            .map(|r| {
                let fields = [&r.name, &r.project, &r.pristine_created, &r.pool];
                let mut line: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
                line.push(yes_no(r.cow).into());
                line.join(",") + "\n"
            })
            .collect(),
    };
    io::stdout()
        .write_all(text.as_bytes())
        .map_err(Error::stdout)
}

fn yes_no(value: bool) -> &'static str {
    if value { "yes" } else { "no" }
}

fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}

/// `2026-11-23T10:00:49.828819539Z` → `2026-11-23 11:00` in local time.
fn local_time(rfc3339: &str) -> String {
    chrono::DateTime::parse_from_rfc3339(rfc3339)
        .map(|t| {
            t.with_timezone(&chrono::Local)
                .format("%Y-%m-%d %H:%M")
                .to_string()
        })
        .unwrap_or_else(|_| rfc3339.to_owned())
}

fn table(rows: &[Row]) -> String {
    let header = ["NAME", "PROJECT", "PRISTINE CREATED", "POOL", "COW"];
    let cells: Vec<[String; 5]> = rows
        .iter()
        .map(|r| {
            [
                r.name.clone(),
                r.project.clone(),
                local_time(&r.pristine_created),
                r.pool.clone(),
                yes_no(r.cow).to_owned(),
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for row in &cells {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: [&str; 5]| {
        let padded: Vec<String> = cells
            .iter()
            .zip(widths)
            .map(|(cell, width)| format!("{cell:width$}"))
            .collect();
        padded.join("  ").trim_end().to_owned() + "\n"
    };
    let mut out = line(header);
    for row in &cells {
        out.push_str(&line([&row[0], &row[1], &row[2], &row[3], &row[4]]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(name: &str, cow: bool) -> Row {
        Row {
            project: "lab".into(),
            name: name.into(),
            pristine_created: "not-a-date".into(),
            pool: "default".into(),
            cow,
        }
    }

    #[test]
    fn the_table_aligns_its_columns() {
        assert_eq!(
            table(&[row("tpl", true), row("a-longer-name", false)]),
            "NAME           PROJECT  PRISTINE CREATED  POOL     COW\n\
             tpl            lab      not-a-date        default  yes\n\
             a-longer-name  lab      not-a-date        default  no\n"
        );
    }

    #[test]
    fn csv_fields_are_quoted_only_when_needed() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
    }

    #[test]
    fn copy_on_write_drivers() {
        assert!(copy_on_write("btrfs") && copy_on_write("zfs"));
        assert!(!copy_on_write("dir"));
    }
}
