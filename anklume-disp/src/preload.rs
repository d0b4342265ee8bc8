//! Preloaded disposables: started in advance, taken by a run instead of a launch.
//!
//! A preloaded instance records, in its configuration:
//! - `user.anklume.preload`: the specification it was made for (the source, domain, profiles,
//!   pool, type, network and limits, as text), which a run with the same options matches;
//! - `user.anklume.preload.source`: what its source was then (the image its alias named, the
//!   date of the golden's `pristine` snapshot): once that changes, it is never used, and the
//!   next refill replaces it;
//! - `user.anklume.disposable`, the watchdog's token key: `ready` while it waits, the run's
//!   token once taken. A run takes it by changing that key only while it still reads `ready`,
//!   through Incus's ETag ([`claim::swap_config`]): of two runs, one wins, and the other takes
//!   another instance or launches.
//!
//! The number to keep is the domain's (project's) `user.anklume.preload.ID` key: a refill
//! started by a run adds nothing after `--preload 0`. Refills of one specification on one host
//! take turns (a lock file), so that concurrent ones do not overshoot.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};

use anklume_common::api::ApiProxy;
use anklume_common::claim::swap_config;
use anklume_common::instance::InstanceInfo;
use anklume_common::pristine::PRISTINE;
use anklume_common::{Error, Incus, Located, Result, Session, table, temp};
use serde::Serialize;

use crate::cli::{Cli, Format};
use crate::watchdog::{READY, TOKEN_KEY, Watchdog};
use crate::{Disposable, Plan, Source, create, say};

pub const SPEC_KEY: &str = "user.anklume.preload";
pub const SOURCE_KEY: &str = "user.anklume.preload.source";

/// What a preloaded instance must have been made with to serve a run.
#[derive(Debug, Clone)]
pub struct Spec {
    pub text: String,
    /// What its source is now.
    pub source: String,
}

impl Spec {
    /// The specification of `plan`, and its source now (one query).
    pub fn of(incus: &Incus, plan: &Plan) -> Result<Self> {
        let cli = plan.cli;
        let (origin, source) = match &plan.source {
            Source::Image(image) => {
                // The remote's own alias (`REMOTE:ALIAS` with --remote) is followed; another
                // remote's image is taken by its name.
                let own = match (plan.remote.as_deref(), image.split_once(':')) {
                    (Some(remote), Some((named, alias))) if named == remote => Some(alias),
                    (_, None) => Some(image.as_str()),
                    _ => None,
                };
                let target = match own {
                    Some(alias) => {
                        incus.image_alias_target(plan.remote.as_deref(), &plan.domain, alias)?
                    }
                    None => None,
                };
                (
                    format!("image={image}"),
                    target.unwrap_or_else(|| image.clone()),
                )
            }
            Source::Golden(golden, _) => (
                format!("from={}/{}", golden.project, golden.name),
                incus.snapshot_created(golden, PRISTINE)?,
            ),
        };
        let limits = plan.sandbox.limits();
        let text = [
            origin,
            format!("domain={}", plan.domain),
            format!("profiles={}", cli.profiles.join(",")),
            format!("storage={}", cli.storage.clone().unwrap_or_default()),
            format!("vm={}", cli.vm),
            format!("network={}", plan.sandbox.network_text()),
            format!("cpu={}", limits.cpu.clone().unwrap_or_default()),
            format!("memory={}", limits.memory.clone().unwrap_or_default()),
        ]
        .into_iter()
        // Said only when given, so that the pools made before they existed still match.
        .chain(plan.remote.as_ref().map(|r| format!("remote={r}")))
        .chain(cli.target.as_ref().map(|m| format!("target={m}")))
        .collect::<Vec<_>>()
        .join(";");
        Ok(Self { text, source })
    }

    /// The domain's key holding how many to keep: a stable hash of the text (FNV-1a).
    fn size_key(&self) -> String {
        let hash = self.text.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
        format!("{SPEC_KEY}.{hash:016x}")
    }

    /// The keys a preloaded instance is created with.
    pub fn keys(&self) -> Vec<(String, String)> {
        vec![
            (SPEC_KEY.to_owned(), self.text.clone()),
            (SOURCE_KEY.to_owned(), self.source.clone()),
        ]
    }

    fn matches(&self, info: &InstanceInfo) -> bool {
        info.config.get(SPEC_KEY) == Some(&self.text)
    }

    /// Waiting, running, and made from the source as it is now.
    fn usable(&self, info: &InstanceInfo) -> bool {
        self.matches(info)
            && info.config.get(TOKEN_KEY).map(String::as_str) == Some(READY)
            && info.config.get(SOURCE_KEY) == Some(&self.source)
            && info.status == "Running"
    }
}

/// Whether a run with these options may take a preloaded instance: what it adds must be
/// applicable to a started one (--publish, --env, --user are; the id map and the unprivileged
/// mode that --mount needs are set at creation), and it must not name the instance or want
/// its console from the boot on.
pub fn eligible(plan: &Plan) -> bool {
    let cli = plan.cli;
    cli.name.is_none() && !cli.console && cli.mount.is_empty()
}

/// A preloaded instance of `plan`'s specification, taken for this run (told to the watchdog
/// first); `None` when there is none to take. The second value refills the pool when dropped,
/// if there is one for this specification. The API proxy is started only when there is an
/// instance to take.
pub fn take<'p, 'a>(
    session: &Session,
    plan: &'p Plan<'a>,
    watchdog: &mut Watchdog,
) -> Result<(Option<Disposable>, RefillOnDrop<'p, 'a>)> {
    let none = || RefillOnDrop::new(plan, false);
    let (pool, sizes) = match look(session.incus(), plan) {
        Ok(found) => found,
        Err(error) if session.interrupt.signal().is_some() => return Err(error),
        // What the launch needs is checked again there, and said in its words; a pool that
        // cannot be read is not worth failing the run.
        Err(_) => return Ok((None, none())),
    };
    let Some((spec, pool)) = pool else {
        return Ok((None, none()));
    };
    let ready: Vec<&InstanceInfo> = pool.iter().filter(|info| spec.usable(info)).collect();
    // Refilled once the run is done, and also should the claim fail or be interrupted; and
    // when the domain keeps a pool of this specification that has run dry (after a reboot).
    let kept = sizes
        .get(&spec.size_key())
        .and_then(|v| v.parse::<usize>().ok());
    let refill = RefillOnDrop::new(
        plan,
        !pool.is_empty() || kept.is_some_and(|n| n > ready.len()),
    );
    if ready.is_empty() {
        return Ok((None, refill));
    }
    let proxy = match ApiProxy::start(session.incus(), plan.remote.as_deref()) {
        Ok(proxy) => proxy,
        Err(error) => {
            anklume_common::error::warn(&error);
            return Ok((None, refill));
        }
    };
    // Runs started together try them in different orders.
    let mut ready = ready;
    let start = usize::try_from(temp::random_u32()).unwrap_or(0) % ready.len();
    ready.rotate_left(start);
    for info in ready {
        if let Some(disposable) = claim(session, plan, (&proxy, info), watchdog)? {
            return Ok((Some(disposable), refill));
        }
    }
    Ok((None, refill))
}

/// The specification and the domain's instances of it (`None` when the source cannot be read:
/// the launch says why), and the domain's configuration: asked for at once.
#[allow(clippy::type_complexity)]
fn look(
    incus: &Incus,
    plan: &Plan,
) -> Result<(
    Option<(Spec, Vec<InstanceInfo>)>,
    std::collections::BTreeMap<String, String>,
)> {
    let (spec, sizes, described) = std::thread::scope(|scope| {
        let spec = scope.spawn(|| Spec::of(incus, plan));
        let sizes = scope.spawn(|| incus.project_config(plan.remote.as_deref(), &plan.domain));
        let described = incus.instances_described(plan.remote.as_deref(), Some(&plan.domain));
        let joined = |e| Error::failure(format!("a preloading thread panicked: {e:?}"));
        (
            spec.join().unwrap_or_else(|e| Err(joined(e))),
            sizes.join().unwrap_or_else(|e| Err(joined(e))),
            described,
        )
    });
    let spec = match spec {
        Err(error) if error.is_not_found() => return Ok((None, sizes?)),
        spec => spec?,
    };
    let pool = described?.into_iter().filter(|i| spec.matches(i)).collect();
    Ok((Some((spec, pool)), sizes?))
}

/// Takes `info` for this run, told to the watchdog first; `None` when another run was first.
fn claim(
    session: &Session,
    plan: &Plan,
    (proxy, info): (&ApiProxy, &InstanceInfo),
    watchdog: &mut Watchdog,
) -> Result<Option<Disposable>> {
    let incus = session.incus();
    let at = plan.place(&info.name);
    watchdog.watch(&at, &plan.token)?;
    watchdog.created();
    watchdog.claiming();
    if !swap_config(proxy, &at, TOKEN_KEY, (READY, &plan.token))? {
        return Ok(None);
    }
    let mut disposable = Disposable::new(incus, at);
    disposable.uuid = info.uuid().map(str::to_owned);
    plan.sandbox.apply_devices(incus, &disposable.at)?;
    session.interrupt.check()?;
    say(plan.cli, &format!("took preloaded {}", info.name));
    Ok(Some(disposable))
}

/// `--preload N` (or, with `None`, a refill to the domain's recorded number): removes the
/// instances of `plan`'s specification that are stale or too many, and starts the missing
/// ones. Prints their names on stdout.
pub fn maintain(
    session: &Session,
    plan: &Plan,
    wanted: Option<u32>,
    watchdog: &mut Watchdog,
) -> Result<u8> {
    let incus = session.incus();
    let spec = Spec::of(incus, plan)?;
    let key = spec.size_key();
    let _turn = take_turn(&key)?;
    let size = match wanted {
        Some(size) => {
            let value = (size > 0).then(|| size.to_string());
            incus.set_project_config(
                plan.remote.as_deref(),
                &plan.domain,
                &key,
                value.as_deref(),
            )?;
            size
        }
        None => incus
            .project_config(plan.remote.as_deref(), &plan.domain)?
            .get(&key)
            .and_then(|v| v.parse().ok())
            .unwrap_or(0),
    };
    let pool: Vec<InstanceInfo> = incus
        .instances_described(plan.remote.as_deref(), Some(&plan.domain))?
        .into_iter()
        .filter(|info| spec.matches(info))
        .filter(|info| info.config.get(TOKEN_KEY).map(String::as_str) == Some(READY))
        .collect();
    let (fresh, stale): (Vec<_>, Vec<_>) = pool.into_iter().partition(|info| spec.usable(info));
    let extra = fresh.iter().skip(size as usize);
    let retired: Vec<&InstanceInfo> = stale.iter().chain(extra).collect();
    let mut names: Vec<String> = fresh
        .iter()
        .take(size as usize)
        .map(|i| i.name.clone())
        .collect();
    if retired.is_empty() && names.len() >= size as usize {
        return report(plan, &names);
    }
    let proxy = ApiProxy::start(incus, plan.remote.as_deref())?;
    for info in retired {
        retire(incus, (&proxy, &plan.place(&info.name), info), watchdog)?;
    }
    while names.len() < size as usize {
        session.interrupt.check()?;
        names.push(add_one(session, plan, (&spec, &proxy), watchdog)?);
    }
    report(plan, &names)
}

/// The names of the instances ready on stdout, their number on stderr.
fn report(plan: &Plan, names: &[String]) -> Result<u8> {
    for name in names {
        println!("{name}");
    }
    say(
        plan.cli,
        &format!("{} preloaded in domain '{}'", names.len(), plan.domain),
    );
    Ok(0)
}

/// Takes a waiting instance out of the pool (so that no run takes it meanwhile) and destroys it.
/// The watchdog is told first: should we die after the claim, it destroys the instance.
fn retire(
    incus: &Incus,
    (proxy, at, info): (&ApiProxy, &Located, &InstanceInfo),
    watchdog: &mut Watchdog,
) -> Result<()> {
    let token = temp::token();
    watchdog.watch(at, &token)?;
    watchdog.created();
    watchdog.claiming();
    if swap_config(proxy, at, TOKEN_KEY, (READY, &token))?
        && let Some(uuid) = info.uuid()
    {
        incus.uninterruptible().destroy_if_same(at, uuid)?;
    }
    Ok(())
}

/// Creates and starts one instance for the pool, then marks it waiting.
/// Its token turns to `ready` only while it is still ours: should that fail halfway, the
/// instance is left to the watchdog, which destroys it only if it still carries our token
/// (never once a run may have taken it).
fn add_one(
    session: &Session,
    plan: &Plan,
    (spec, proxy): (&Spec, &ApiProxy),
    watchdog: &mut Watchdog,
) -> Result<String> {
    let name = temp::instance_name(&session.resolver, plan.remote.as_deref(), "disp", "pool")?;
    let options = plan.instance_options_with(&spec.keys());
    let disposable = create(session.incus(), plan, &name, &options, watchdog)?;
    let at = disposable.at.clone();
    disposable.keep();
    swap_config(proxy, &at, TOKEN_KEY, (&plan.token, READY))?;
    Ok(name)
}

/// A turn among the refills of one specification on this host: a lock on a file of a folder
/// only this user may write (`/run/anklume` for root, else `$XDG_RUNTIME_DIR/anklume`), held
/// until dropped. Nobody else can make the file, hold its lock or put a link there.
fn take_turn(key: &str) -> Result<File> {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt};
    let me = std::fs::metadata("/proc/self")
        .map(|m| m.uid())
        .unwrap_or(u32::MAX);
    let base = match me {
        0 => std::path::PathBuf::from("/run"),
        _ => std::env::var_os("XDG_RUNTIME_DIR")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(std::env::temp_dir),
    };
    let dir = base.join("anklume");
    let failed = |what: &std::path::Path, e| Error::io(format!("cannot use {}", what.display()), e);
    match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
        Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => return Err(failed(&dir, e)),
        _ => (),
    }
    let meta = std::fs::symlink_metadata(&dir).map_err(|e| failed(&dir, e))?;
    if !meta.is_dir() || meta.uid() != me || meta.mode() & 0o022 != 0 {
        return Err(Error::failure(format!(
            "{} is not a folder of this user's that only it may write",
            dir.display()
        )));
    }
    let path = dir.join(format!(
        "preload-{}.lock",
        key.rsplit('.').next().unwrap_or(key)
    ));
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(&path)
        .map_err(|e| failed(&path, e))?;
    file.lock().map_err(|e| failed(&path, e))?;
    Ok(file)
}

/// A refill of the pool, started when this is dropped: after the run's command, and on every
/// other way out (an error, a signal), so that a claim cut short is refilled too.
pub struct RefillOnDrop<'p, 'a> {
    plan: Option<&'p Plan<'a>>,
}

impl<'p, 'a> RefillOnDrop<'p, 'a> {
    /// A refill if `pool` (a pool exists for this specification), else nothing.
    pub fn new(plan: &'p Plan<'a>, pool: bool) -> Self {
        Self {
            plan: pool.then_some(plan),
        }
    }
}

impl Drop for RefillOnDrop<'_, '_> {
    fn drop(&mut self) {
        if let Some(plan) = self.plan {
            refill_in_background(plan);
        }
    }
}

/// Starts, detached, a refill of `plan`'s specification (`--refill`): it outlives this run and
/// does not delay its exit.
fn refill_in_background(plan: &Plan) {
    let Ok(program) = std::env::current_exe() else {
        return;
    };
    // From /: the run's directory may be gone by the time the refill reads it (infra.yml is
    // looked for there), and the options it is given say the whole specification.
    let spawned = Command::new(program)
        .current_dir("/")
        .arg("--refill")
        .arg("-q")
        .args(spec_args(plan))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn();
    if let Err(e) = spawned {
        anklume_common::error::warn(&Error::io(
            "cannot start the refill of the preloaded disposables",
            e,
        ));
    }
}

/// The options that give `plan`'s specification again.
fn spec_args(plan: &Plan) -> Vec<String> {
    let cli = plan.cli;
    let mut args = match &plan.source {
        Source::Image(image) => vec!["--image".to_owned(), image.clone()],
        Source::Golden(golden, _) => {
            vec![
                "--from".to_owned(),
                format!("{}/{}", golden.project, golden.name),
            ]
        }
    };
    args.extend(["--domain".to_owned(), plan.domain.clone()]);
    if let Some(remote) = &plan.remote {
        args.push(format!("--remote={remote}"));
    }
    if let Some(member) = &cli.target {
        args.push(format!("--target={member}"));
    }
    for profile in &cli.profiles {
        args.extend(["--profile".to_owned(), profile.clone()]);
    }
    if let Some(storage) = &cli.storage {
        args.extend(["--storage".to_owned(), storage.clone()]);
    }
    if cli.vm {
        args.push("--vm".to_owned());
    }
    let network = plan.sandbox.network_text();
    if !network.is_empty() {
        args.push(format!("--network={network}"));
    }
    let limits = plan.sandbox.limits();
    let given: Vec<String> = [("cpu", &limits.cpu), ("memory", &limits.memory)]
        .iter()
        .filter_map(|(key, value)| Some(format!("{key}={}", value.as_ref()?)))
        .collect();
    if !given.is_empty() {
        args.push(format!("--limit={}", given.join(",")));
    }
    args
}

/// A preloaded instance, as `--preload-list` shows it.
#[derive(Debug, Serialize)]
struct Row {
    name: String,
    domain: String,
    /// `ready`, or `taken` by a run.
    state: String,
    spec: String,
}

/// `--preload-list`: the preloaded instances of every domain.
pub fn list(session: &Session, cli: &Cli) -> Result<u8> {
    let rows: Vec<Row> = session
        .incus()
        .instances_described(cli.remote.as_deref(), None)?
        .into_iter()
        .filter_map(|info| {
            let spec = info.config.get(SPEC_KEY)?.clone();
            let ready = info.config.get(TOKEN_KEY).map(String::as_str) == Some(READY);
            Some(Row {
                name: info.name,
                domain: info.project,
                state: if ready { "ready" } else { "taken" }.to_owned(),
                spec,
            })
        })
        .collect();
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                r.name.clone(),
                r.domain.clone(),
                r.state.clone(),
                r.spec.clone(),
            ]
        })
        .collect();
    let text = match cli.format {
        Format::Table => table::aligned(&["NAME", "DOMAIN", "STATE", "SPECIFICATION"], &cells),
        Format::Csv => table::csv(&cells),
        Format::Json => {
            serde_json::to_string_pretty(&rows)
                .map_err(|e| Error::failure(format!("cannot write JSON: {e}")))?
                + "\n"
        }
    };
    print!("{text}");
    Ok(0)
}
