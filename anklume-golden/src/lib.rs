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
use anklume_common::{cluster, pristine, table};
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
    reference: &InstanceRef,
    project: Option<&str>,
) -> Result<(Located, InstanceInfo)> {
    session.resolver.describe(reference, project)
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
        located.incus_name()
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
    let full = shell_word(&located.incus_name());
    if instance.ephemeral {
        return Err(Error::failure(format!(
            "instance '{name}' is ephemeral: stopping it would destroy it"
        ))
        .with_hint(format!(
            "make it persistent first: incus config set {full} ephemeral=false --project {}",
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
            "resume it first (incus start {full} --project {}), then run create again",
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
        "derive clones with: anklume-golden derive {} NEW...",
        located.incus_name()
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
    let targets = placement(incus, &located, args)?;
    warn_if_full_copies(incus, located.remote.as_deref(), &instance)?;
    // All or nothing: a failure or a signal destroys the clones this run made, so that the
    // same command can simply be run again.
    let clones = Clones::make(session, &located, &args.new, &targets, &options, args.start)?;
    let mut stdout = io::stdout().lock();
    for name in clones.names() {
        writeln!(stdout, "{name}").map_err(Error::stdout)?;
    }
    clones.keep();
    Ok(())
}

/// The cluster member of each clone: `--target`'s, round-robin over the online members with
/// `--spread`, or Incus's choice. A member that is down is refused (`--target`) or left out
/// and named (`--spread`) before anything is made.
fn placement(incus: &Incus, golden: &Located, args: &DeriveArgs) -> Result<Vec<Option<String>>> {
    let remote = golden.remote.as_deref();
    if let Some(member) = &args.target {
        incus.check_member(remote, member)?;
        return Ok(vec![Some(member.clone()); args.new.len()]);
    }
    if !args.spread {
        return Ok(vec![None; args.new.len()]);
    }
    let members = incus.cluster_members(remote)?;
    let place = cluster::remote_words(remote);
    if members.is_empty() {
        return Err(Error::usage(format!("--spread: {place} is not a cluster"))
            .with_hint("leave out --spread: a standalone server has no members to spread over"));
    }
    let (online, down): (Vec<_>, Vec<_>) = members.into_iter().partition(|m| m.is_online());
    if online.is_empty() {
        return Err(
            Error::failure(format!("--spread: no member of {place} is online")).with_hint(format!(
                "check `incus cluster list {}`",
                cluster::remote_prefix(remote)
            )),
        );
    }
    let online: Vec<String> = online.into_iter().map(|m| m.name).collect();
    for member in &down {
        say(&format!(
            "member {} of {place} is {} ({}): the clones go to {}",
            member.name,
            member.status.to_lowercase(),
            member.message,
            online.join(", ")
        ));
    }
    Ok(cluster::spread(&online, args.new.len())
        .into_iter()
        .map(Some)
        .collect())
}

/// Every NEW must be a name no project of the golden's remote uses (names are unique across
/// projects here).
fn require_free_names(session: &Session, golden: &Located, new: &[String]) -> Result<()> {
    for new in new {
        let users = session.resolver.projects_of(&InstanceRef {
            remote: golden.remote.clone(),
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

fn warn_if_full_copies(incus: &Incus, remote: Option<&str>, instance: &InstanceInfo) -> Result<()> {
    let Some(pool) = instance.root_pool() else {
        return Ok(());
    };
    let pool = incus.storage_pool(remote, pool)?;
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
    if !args.reuse
        && incus.image_alias_exists(located.remote.as_deref(), &located.project, alias)?
    {
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
        located.incus_name(),
        located.project
    ));
    let image = cluster::remote_prefix(located.remote.as_deref()) + alias;
    say(&format!(
        "use it: `os_image: {image}` in infra.yml, or anklume-disp --image {} --domain {}",
        shell_word(&image),
        shell_word(&located.project)
    ));
    Ok(())
}

/// One golden image, as `list` shows it; or, with `error`, a remote that did not answer.
#[derive(Debug, Serialize, PartialEq, Eq, PartialOrd, Ord)]
struct Row {
    /// The remote listed (`None`: the default one, when a single remote is listed).
    #[serde(skip_serializing_if = "Option::is_none")]
    remote: Option<String>,
    project: String,
    name: String,
    pristine_created: String,
    pool: String,
    cow: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

/// How long `list --all-remotes` waits for one remote.
const REMOTE_ANSWERS_WITHIN: std::time::Duration = std::time::Duration::from_secs(15);

fn list(incus: &Incus, args: &ListArgs) -> Result<()> {
    let remote = args.remote.as_deref();
    if let Some(project) = &args.project
        && !args.all_remotes
        && !incus.project_exists(remote, project)?
    {
        return Err(
            Error::failure(format!("project '{project}' does not exist")).with_hint(format!(
                "list the projects with `incus project list {}`",
                cluster::remote_prefix(remote)
            )),
        );
    }
    let rows = match args.all_remotes {
        true => every_remote_rows(incus, args.project.as_deref())?,
        false => golden_rows(incus, remote, args.project.as_deref())?,
    };
    let with_remote = args.all_remotes || remote.is_some();
    let text = match args.format {
        Format::Table => aligned_table(&rows, with_remote),
        Format::Json => {
            let mut json = serde_json::to_string_pretty(&rows)
                .map_err(|e| Error::failure(format!("cannot write JSON: {e}")))?;
            json.push('\n');
            json
        }
        Format::Csv if args.all_remotes => csv(&rows, true),
        Format::Csv => table::csv(&cells(&rows, with_remote, |date| date.to_owned())),
    };
    io::stdout()
        .write_all(text.as_bytes())
        .map_err(Error::stdout)?;
    if args.all_remotes && !rows.is_empty() && rows.iter().all(|r| r.error.is_some()) {
        return Err(Error::failure("no Incus remote answered")
            .with_hint("check them with `incus remote list` and `incus info REMOTE:`"));
    }
    Ok(())
}

/// The golden images of every Incus remote of the client; one that does not answer (within
/// [`REMOTE_ANSWERS_WITHIN`]) is a row saying so, and the others are still listed.
fn every_remote_rows(incus: &Incus, project: Option<&str>) -> Result<Vec<Row>> {
    let asking = incus.clone().with_timeout(REMOTE_ANSWERS_WITHIN);
    let mut rows = Vec::new();
    for remote in incus.remotes()? {
        match golden_rows(&asking, Some(&remote), project) {
            Ok(found) => rows.extend(found),
            // --project names a project this remote does not have: it holds none of them.
            Err(error) if error.is(Fault::NotFound(anklume_common::Object::Project)) => (),
            Err(error) => rows.push(Row {
                remote: Some(remote),
                project: String::new(),
                name: String::new(),
                pristine_created: String::new(),
                pool: String::new(),
                cow: false,
                error: Some(error.message().to_owned()),
            }),
        }
    }
    Ok(rows)
}

/// Each pool lists its snapshot volumes (`NAME/pristine`) with project and date: one query per
/// pool, where listing instances with their snapshots makes Incus gather every instance's state.
fn golden_rows(incus: &Incus, remote: Option<&str>, project: Option<&str>) -> Result<Vec<Row>> {
    let mut rows = Vec::new();
    for pool in incus.storage_pools(remote)? {
        for volume in incus.volumes(remote, &pool.name, project)? {
            let Some(name) = volume.name.strip_suffix(&format!("/{PRISTINE}")) else {
                continue;
            };
            if volume.is_instance() {
                rows.push(Row {
                    remote: remote.map(str::to_owned),
                    project: volume.project,
                    name: name.to_owned(),
                    pristine_created: volume.created_at,
                    pool: pool.name.clone(),
                    cow: pool.copy_on_write(),
                    error: None,
                });
            }
        }
    }
    rows.sort();
    // A cluster's local pool lists each member's volumes: a snapshot is one golden image.
    rows.dedup();
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

/// The cells of each row, its date as `date` shows it; with `with_remote`, the remote first.
/// A remote that did not answer has `(no answer)` for a name, and its error in a last column
/// of the CSV (the table's reader gets it on stderr).
fn cells(rows: &[Row], with_remote: bool, date: impl Fn(&str) -> String) -> Vec<Vec<String>> {
    rows.iter()
        .map(|r| {
            let mut cells = vec![
                r.name.clone(),
                r.project.clone(),
                date(&r.pristine_created),
                r.pool.clone(),
                table::yes_no(r.cow).to_owned(),
            ];
            if r.error.is_some() {
                cells = vec!["(no answer)".to_owned()];
            }
            if with_remote {
                cells.insert(0, r.remote.clone().unwrap_or_default());
            }
            cells
        })
        .collect()
}

fn aligned_table(rows: &[Row], with_remote: bool) -> String {
    let header = [
        "REMOTE",
        "NAME",
        "PROJECT",
        "PRISTINE CREATED",
        "POOL",
        "COW",
    ];
    let header = match with_remote {
        true => &header[..],
        false => &header[1..],
    };
    for row in rows {
        if let (Some(remote), Some(error)) = (&row.remote, &row.error) {
            say(&format!("remote '{remote}' did not answer: {error}"));
        }
    }
    table::aligned(header, &cells(rows, with_remote, local_time))
}

/// The CSV: the cells, and with every remote, each row's error last (empty when it answered).
fn csv(rows: &[Row], all_remotes: bool) -> String {
    let mut lines = cells(rows, all_remotes, |date| date.to_owned());
    if all_remotes {
        for (line, row) in lines.iter_mut().zip(rows) {
            line.resize(6, String::new());
            line.push(row.error.clone().unwrap_or_default());
        }
    }
    table::csv(&lines)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(name: &str, cow: bool) -> Row {
        Row {
            remote: None,
            error: None,
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
            aligned_table(&[row("tpl", true), row("a-longer-name", false)], false),
            "NAME           PROJECT  PRISTINE CREATED  POOL     COW\n\
             tpl            lab      not-a-date        default  yes\n\
             a-longer-name  lab      not-a-date        default  no\n"
        );
    }
}
