//! anklume-golden: golden images, that is instances with a `pristine` snapshot.
//!
//! `create` stops the instance and takes `pristine` (atomically replacing an older one, never
//! expiring); `derive` copies `pristine` into new instances (copy-on-write where the pool
//! allows); `publish` makes it an image; `list` shows them all with one Incus query per storage pool.

pub mod cli;
mod clones;

use std::collections::HashSet;
use std::io::{self, Write};

use anklume_common::error::shell_word;
use anklume_common::{
    Error, Fault, Incus, InstanceInfo, InstanceRef, Located, NewInstance, Result, Session, Stop,
};
use anklume_common::{pristine, table};
use serde::Serialize;

use cli::{Cli, Command, CreateArgs, DeriveArgs, Format, ListArgs, PublishArgs};
use clones::Clones;

pub use anklume_common::pristine::PRISTINE;

/// Runs anklume-golden.
pub fn run(cli: &Cli) -> Result<u8> {
    QUIET.store(cli.quiet, std::sync::atomic::Ordering::Relaxed);
    let session = Session::start()?;
    let done = match &cli.command {
        Command::Create(args) => create(&session, args),
        Command::Derive(args) => derive(&session, args),
        Command::Publish(args) => publish(&session, args),
        Command::List(args) => list(session.incus(), args),
    };
    session.conclude(done)?;
    Ok(0)
}

fn describe(
    session: &Session,
    name: &str,
    project: Option<&str>,
) -> Result<(Located, InstanceInfo)> {
    let reference = InstanceRef {
        remote: None,
        name: name.to_owned(),
    };
    session.resolver.describe(&reference, project)
}

fn require_pristine(located: &Located, instance: &InstanceInfo) -> Result<()> {
    if instance.has_snapshot(PRISTINE) {
        return Ok(());
    }
    Err(Error::failure(format!(
        "instance '{}' (project {}) has no '{PRISTINE}' snapshot: it is not a golden image",
        located.name, located.project
    ))
    .with_hint(format!(
        "make it one first: anklume-golden create {}",
        located.name
    )))
}

/// `-q`: errors only.
static QUIET: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// What was done, on stderr, unless `-q`.
fn say(message: &str) {
    if !QUIET.load(std::sync::atomic::Ordering::Relaxed) {
        eprintln!("anklume-golden: {message}");
    }
}

fn create(session: &Session, args: &CreateArgs) -> Result<()> {
    let incus = session.incus();
    let (located, instance) = describe(session, &args.name, args.project.as_deref())?;
    let name = located.name.as_str();
    if instance.ephemeral {
        return Err(Error::failure(format!(
            "instance '{name}' is ephemeral: stopping it would destroy it"
        ))
        .with_hint(format!(
            "make it persistent first: incus config set {name} ephemeral=false --project {}",
            shell_word(&located.project)
        )));
    }
    if instance.status == "Frozen" {
        // Incus thaws it to stop it, and a refused stop would leave it running.
        return Err(Error::failure(format!(
            "instance '{name}' (project {}) is frozen; nothing was changed",
            located.project
        ))
        .with_hint(format!(
            "resume it first (incus start {name} --project {}), then run create again",
            shell_word(&located.project)
        )));
    }
    if !instance.is_stopped() {
        stop_for_snapshot(incus, &located, args)?;
    }
    let replaced = match pristine::take(incus, &located)? {
        true => "replaced",
        false => "took",
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

/// A clean stop within --timeout, else (with --force) a forced one.
fn stop_for_snapshot(incus: &Incus, located: &Located, args: &CreateArgs) -> Result<()> {
    let name = &located.name;
    let timeout = args.timeout;
    match incus.stop(located, Stop::Clean { timeout }) {
        Ok(()) => say(&format!("stopped {name} cleanly")),
        Err(error) if args.force && error.is(Fault::TimedOut) => {
            incus.stop(located, Stop::Force)?;
            say(&format!(
                "{name} did not stop within {timeout} s: stop forced"
            ));
        }
        Err(error) if error.is(Fault::TimedOut) => {
            return Err(Error::failure(format!(
                "instance '{name}' did not stop cleanly within {timeout} s; nothing was changed"
            ))
            .with_hint("give it more time with --timeout, or force the stop with --force"));
        }
        Err(error) => return Err(error),
    }
    Ok(())
}

fn derive(session: &Session, args: &DeriveArgs) -> Result<()> {
    if args.ipv4.is_some() && args.new.len() > 1 {
        return Err(Error::usage(
            "--ipv4 gives one address: derive one NEW at a time with it",
        ));
    }
    let mut seen = HashSet::new();
    if let Some(twice) = args.new.iter().find(|n| !seen.insert(n.as_str())) {
        return Err(Error::usage(format!("'{twice}' is given twice as NEW")));
    }
    let incus = session.incus();
    let (located, instance) = describe(session, &args.name, args.project.as_deref())?;
    require_pristine(&located, &instance)?;
    require_free_names(session, &located, &args.new)?;

    let options = NewInstance {
        device_overrides: address_overrides(&located, &instance, args)?,
        ..NewInstance::default()
    };
    warn_if_full_copies(incus, &instance)?;
    // All or nothing: a failure or a signal destroys the clones this run made, so that the
    // same command can simply be run again.
    let clones = Clones::make(session, &located, &args.new, &options, args.start)?;
    let mut stdout = io::stdout().lock();
    for name in clones.names() {
        writeln!(stdout, "{name}").map_err(Error::stdout)?;
    }
    clones.keep();
    Ok(())
}

/// Every NEW must be a name no project uses (names are unique across projects here).
fn require_free_names(session: &Session, golden: &Located, new: &[String]) -> Result<()> {
    for new in new {
        let users = session.resolver.projects_of(&InstanceRef {
            remote: None,
            name: new.clone(),
        })?;
        if !users.is_empty() || *new == golden.name {
            let projects = if users.is_empty() {
                golden.project.clone()
            } else {
                users.join(", ")
            };
            return Err(Error::failure(format!(
                "instance '{new}' already exists (project {projects}); nothing was created"
            ))
            .with_hint("choose names no project uses"));
        }
    }
    Ok(())
}

/// `--device DEV,ipv4.address=...` for each clone: a template's static address cannot be
/// shared, so the clone gets `--ipv4` or no static address (and starts either way).
fn address_overrides(
    located: &Located,
    instance: &InstanceInfo,
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

fn warn_if_full_copies(incus: &Incus, instance: &InstanceInfo) -> Result<()> {
    let Some(pool) = instance.root_pool() else {
        return Ok(());
    };
    let pool = incus.storage_pool(None, pool)?;
    if !pool.copy_on_write() {
        say(&format!(
            "pool '{}' is '{}': each clone is a full copy, not copy-on-write",
            pool.name, pool.driver
        ));
    }
    Ok(())
}

fn publish(session: &Session, args: &PublishArgs) -> Result<()> {
    let alias = args.alias();
    let incus = session.incus();
    let (located, instance) = describe(session, &args.name, args.project.as_deref())?;
    require_pristine(&located, &instance)?;
    if !args.reuse && incus.image_alias_exists(None, &located.project, alias)? {
        return Err(Error::failure(format!(
            "image alias '{alias}' already exists (project {}); nothing was published",
            located.project
        ))
        .with_hint("replace it with --reuse, or choose another alias"));
    }
    let fingerprint = incus.publish(&located, PRISTINE, alias, args.reuse, args.public)?;
    writeln!(io::stdout(), "{fingerprint}").map_err(Error::stdout)?;
    say(&format!(
        "published {}/{PRISTINE} (project {}) as image '{alias}'",
        located.name, located.project
    ));
    say(&format!(
        "use it: `os_image: {alias}` in infra.yml, or anklume-disp --image {} --domain {}",
        shell_word(alias),
        shell_word(&located.project)
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

fn list(incus: &Incus, args: &ListArgs) -> Result<()> {
    if let Some(project) = &args.project
        && !incus.project_exists(None, project)?
    {
        return Err(
            Error::failure(format!("project '{project}' does not exist"))
                .with_hint("list the projects with `incus project list`"),
        );
    }
    let rows = golden_rows(incus, args.project.as_deref())?;
    let text = match args.format {
        Format::Table => aligned_table(&rows),
        Format::Json => {
            let mut json = serde_json::to_string_pretty(&rows)
                .map_err(|e| Error::failure(format!("cannot write JSON: {e}")))?;
            json.push('\n');
            json
        }
        Format::Csv => table::csv(&cells(&rows, |date| date.to_owned())),
    };
    io::stdout()
        .write_all(text.as_bytes())
        .map_err(Error::stdout)
}

/// Each pool lists its snapshot volumes (`NAME/pristine`) with project and date: one query per
/// pool, where listing instances with their snapshots makes Incus gather every instance's state.
fn golden_rows(incus: &Incus, project: Option<&str>) -> Result<Vec<Row>> {
    let mut rows = Vec::new();
    for pool in incus.storage_pools(None)? {
        for volume in incus.volumes(None, &pool.name, project)? {
            let Some(name) = volume.name.strip_suffix(&format!("/{PRISTINE}")) else {
                continue;
            };
            if volume.is_instance() {
                rows.push(Row {
                    project: volume.project,
                    name: name.to_owned(),
                    pristine_created: volume.created_at,
                    pool: pool.name.clone(),
                    cow: pool.copy_on_write(),
                });
            }
        }
    }
    rows.sort();
    Ok(rows)
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

/// The cells of each row, its date as `date` shows it.
fn cells(rows: &[Row], date: impl Fn(&str) -> String) -> Vec<Vec<String>> {
    rows.iter()
        .map(|r| {
            vec![
                r.name.clone(),
                r.project.clone(),
                date(&r.pristine_created),
                r.pool.clone(),
                table::yes_no(r.cow).to_owned(),
            ]
        })
        .collect()
}

fn aligned_table(rows: &[Row]) -> String {
    let header = ["NAME", "PROJECT", "PRISTINE CREATED", "POOL", "COW"];
    table::aligned(&header, &cells(rows, local_time))
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
            aligned_table(&[row("tpl", true), row("a-longer-name", false)]),
            "NAME           PROJECT  PRISTINE CREATED  POOL     COW\n\
             tpl            lab      not-a-date        default  yes\n\
             a-longer-name  lab      not-a-date        default  no\n"
        );
    }
}
