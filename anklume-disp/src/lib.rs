//! anklume-disp: disposable Incus instances.
//!
//! Launch (ephemeral) → run a shell, a command or the console → destroy. The instance is held
//! by a [`Disposable`] guard from the moment Incus created it, so every way out — the command's
//! end, an error, SIGINT/SIGTERM/SIGHUP — destroys it.

pub mod cli;
mod preload;
mod sandbox;
mod specs;
mod watchdog;

use std::io::{self, IsTerminal, Write};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use anklume_common::error::{shell_word, warn};
use anklume_common::interrupt::ignore_hangup;
use anklume_common::pristine::{self, PRISTINE};
use anklume_common::reference::check_project_name;
use anklume_common::{
    Error, Exec, Fault, Incus, Infra, InstanceRef, Located, NewInstance, Object, Origin, Resolver,
    Result, Session, temp,
};
use sandbox::Sandbox;
use watchdog::{TOKEN_KEY, Watchdog};

pub use cli::Cli;

/// Image used when neither --image nor infra.yml names one.
pub const FALLBACK_IMAGE: &str = "images:debian/13";
/// Domain used when neither --domain nor infra.yml's disposable domains give one.
pub const FALLBACK_DOMAIN: &str = "default";
/// The snapshot of a golden image that --from clones.
/// How often a `--ttl` reaper looks whether its instance is still there.
const REAPER_LOOKS_EVERY: Duration = Duration::from_secs(5);
/// How long a VM's agent may take to answer after the start.
const VM_AGENT_WAIT: Duration = Duration::from_secs(120);
/// The interactive shell: bash when the instance has it, else sh (by existence, not exit status).
const SHELL: &str = "if command -v bash >/dev/null 2>&1; then exec bash -l; else exec sh -l; fi";

/// Runs anklume-disp; returns the exit status of the shell or command.
pub fn run(cli: &Cli) -> Result<u8> {
    if let Some(uuid) = &cli.reap {
        return reap(cli, uuid);
    }
    if cli.watch {
        return watchdog::run();
    }
    let session = Session::start()?;
    if cli.preload_list {
        return preload::list(&session, cli);
    }
    let incus = session.incus();
    let plan = Plan::new(cli, &session.resolver)?;
    if cli.vm {
        check_vm_support(incus, plan.remote.as_deref())?;
    }
    if let Some(member) = &cli.target {
        incus.check_member(plan.remote.as_deref(), member)?;
    }
    // Told `done` once the disposable is destroyed or kept (--no-attach); any other way out
    // leaves it to check and act.
    let mut watchdog = Watchdog::start()?;
    if cli.preload.is_some() || cli.refill {
        let kept = preload::maintain(&session, &plan, cli.preload, &mut watchdog)?;
        watchdog.done();
        return Ok(kept);
    }
    // The pool, if any, is refilled in the background once this run is done, whichever way
    // it ends.
    let (taken, _refill) = match preload::eligible(&plan) {
        true => preload::take(&session, &plan, &mut watchdog)?,
        false => (None, preload::RefillOnDrop::new(&plan, false)),
    };
    let preloaded = taken.is_some();
    let disposable = match taken {
        Some(disposable) => disposable,
        None => launch(&session.resolver, &plan, &mut watchdog)?,
    };
    session.interrupt.check()?;
    if cli.vm {
        wait_for_vm_agent(incus, &disposable)?;
    }
    if cli.no_attach {
        let kept = leave_running(cli, incus, disposable)?;
        watchdog.done();
        return Ok(kept);
    }
    let status = attach(cli, incus, &disposable, &plan.sandbox)?;
    if preloaded {
        // Its watchdog destroys it as we leave (our token is on it): the run does not wait.
        disposable.keep();
        drop(watchdog);
    } else {
        disposable.destroy()?;
        watchdog.done();
    }
    Ok(exit_code(status))
}

/// Where the instance comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Source {
    Image(String),
    /// The `pristine` snapshot of a golden instance, in its project, and the overrides that
    /// leave the clone without the golden's static addresses.
    Golden(Located, Vec<String>),
}

/// Everything decided before anything is created.
#[derive(Debug)]
struct Plan<'a> {
    cli: &'a Cli,
    /// The remote it is made on: --remote's, or the golden's.
    remote: Option<String>,
    source: Source,
    domain: String,
    /// Mounts, ports, user, network and limits, checked: what was checked is what is applied.
    sandbox: Sandbox,
    /// Recorded on the instance at its creation: how the watchdog knows it is ours.
    token: String,
}

impl<'a> Plan<'a> {
    fn new(cli: &'a Cli, resolver: &Resolver) -> Result<Self> {
        // Read whenever there is one: it also gives a domain's network and limits.
        let infra = Infra::load()?;
        let mut remote = cli.remote.clone();
        let source = match (&cli.from, &cli.image) {
            (Some(golden), _) => golden_source(cli, resolver, golden, &mut remote)?,
            (None, Some(image)) => Source::Image(image.clone()),
            (None, None) => Source::Image(
                infra
                    .as_ref()
                    .and_then(|i| i.default_os_image.clone())
                    .unwrap_or_else(|| FALLBACK_IMAGE.to_owned()),
            ),
        };
        // A bare alias with --remote names that remote's image, as --domain names its project.
        let source = match (source, &remote) {
            (Source::Image(image), Some(remote)) if !image.contains(':') => {
                Source::Image(format!("{remote}:{image}"))
            }
            (source, _) => source,
        };
        let domain = match (&cli.domain, &source) {
            (Some(domain), _) => domain.clone(),
            // A clone stays beside its golden, where its profiles and networks exist.
            (None, Source::Golden(golden, _)) => golden.project.clone(),
            (None, Source::Image(_)) => {
                match infra.as_ref().and_then(Infra::first_disposable_domain) {
                    Some(domain) => {
                        let source = infra.as_ref().map(|i| i.source.display().to_string());
                        say(
                            cli,
                            &format!(
                                "using disposable domain '{}' from {}",
                                domain.name,
                                source.unwrap_or_default()
                            ),
                        );
                        domain.name.clone()
                    }
                    None => FALLBACK_DOMAIN.to_owned(),
                }
            }
        };
        let of_domain = infra
            .as_ref()
            .and_then(|i| i.domains.iter().find(|d| d.name == domain));
        let sandbox = Sandbox::plan(
            cli,
            resolver.incus(),
            (remote.as_deref(), &domain),
            of_domain,
        )?;
        Ok(Self {
            cli,
            remote,
            source,
            domain,
            sandbox,
            token: temp::token(),
        })
    }

    /// Options of the new instance, whatever its source.
    fn instance_options(&self) -> NewInstance {
        self.instance_options_with(&[])
    }

    /// Options of the new instance, with `extra` configuration (a preloaded one's keys).
    fn instance_options_with(&self, extra: &[(String, String)]) -> NewInstance {
        NewInstance {
            ephemeral: true,
            vm: self.cli.vm,
            storage: self.cli.storage.clone(),
            profiles: self.cli.profiles.clone(),
            device_overrides: match &self.source {
                Source::Golden(_, resets) => resets.clone(),
                Source::Image(_) => Vec::new(),
            },
            config: [(TOKEN_KEY.to_owned(), self.token.clone())]
                .into_iter()
                .chain(self.sandbox.config())
                .chain(extra.iter().cloned())
                .collect(),
            target: self.cli.target.clone(),
        }
    }

    /// Where the instance named `name` will live.
    fn place(&self, name: &str) -> Located {
        Located {
            remote: self.remote.clone(),
            project: self.domain.clone(),
            name: name.to_owned(),
        }
    }
}

/// `--from [REMOTE:][PROJECT/]GOLDEN`: the golden instance, and the overrides that leave its
/// clone without the golden's static addresses. A remote named there is where the clone is
/// made (`remote`, which --remote may already have set: they must agree).
fn golden_source(
    cli: &Cli,
    resolver: &Resolver,
    golden: &str,
    remote: &mut Option<String>,
) -> Result<Source> {
    let (named_remote, golden) = match golden.split_once(':') {
        Some((named, rest)) => {
            anklume_common::reference::check_remote_name(named).map_err(Error::usage)?;
            (Some(named.to_owned()), rest)
        }
        None => (None, golden),
    };
    match (&named_remote, &*remote) {
        (Some(named), Some(given)) if named != given => {
            return Err(Error::usage(format!(
                "--from {named}:{golden} is on remote '{named}', but --remote {given} was given"
            ))
            .with_hint("a clone is made beside its golden image: give one remote"));
        }
        (Some(named), _) => *remote = Some(named.clone()),
        _ => (),
    }
    // PROJECT/GOLDEN: neither a project nor an instance name holds a '/'.
    let (project, golden) = match golden.split_once('/') {
        Some((project, name)) => {
            check_project_name(project).map_err(Error::usage)?;
            (Some(project), name)
        }
        None => (None, golden),
    };
    let mut reference: InstanceRef = golden.parse()?;
    reference.remote = remote.clone();
    let holders = resolver.projects_of(&reference)?;
    if project.is_none() && holders.len() > 1 {
        return Err(Error::failure(format!(
            "golden instance '{golden}' exists in several projects: {}",
            holders.join(", ")
        ))
        .with_hint(format!("choose one with --from PROJECT/{golden}")));
    }
    let golden = resolver.locate(&reference, project)?;
    let info = resolver.incus().instance(&golden)?;
    if info.is_vm() && !cli.mount.is_empty() {
        // A VM reads host paths through a server running as the host's root: no id map.
        return Err(Error::usage(format!(
            "--from {golden}: a virtual machine cannot share host paths (--mount)"
        )));
    }
    let resets = info.static_address_resets();
    if !resets.is_empty() {
        say(
            cli,
            &format!("{golden} has static addresses: the disposable gets none"),
        );
    }
    Ok(Source::Golden(golden, resets))
}

/// A launched instance, destroyed when this guard is dropped unless [`Disposable::keep`] is
/// called.
#[derive(Debug)]
pub struct Disposable {
    incus: Incus,
    at: Located,
    /// Its `volatile.uuid`, once known: only that very instance is destroyed, never a
    /// namesake someone created after it was gone.
    uuid: Option<String>,
    armed: bool,
}

impl Disposable {
    pub(crate) fn new(incus: &Incus, at: Located) -> Self {
        Self {
            // Destruction must run even after a signal.
            incus: incus.uninterruptible(),
            at,
            uuid: None,
            armed: true,
        }
    }

    /// Destroys the instance if it is still ours.
    fn destroy_ours(&self) -> Result<()> {
        let Some(uuid) = &self.uuid else {
            return self.incus.destroy(&self.at);
        };
        if !self.incus.destroy_if_same(&self.at, uuid)?
            && self.incus.check_instance(&self.at).is_ok()
        {
            warn(&Error::failure(format!(
                "instance '{}' (project {}) is no longer the disposable: another instance took its name, and is left as it is",
                self.at.name, self.at.project
            )));
        }
        Ok(())
    }

    pub fn name(&self) -> &str {
        &self.at.name
    }

    pub fn project(&self) -> &str {
        &self.at.project
    }

    /// Deletes the instance now (a disposable instance needs no clean shutdown).
    pub fn destroy(mut self) -> Result<()> {
        self.armed = false;
        self.destroy_ours()
    }

    /// Leaves the instance running (`--no-attach`).
    pub(crate) fn keep(mut self) {
        self.armed = false;
    }
}

impl Drop for Disposable {
    fn drop(&mut self) {
        if self.armed
            && let Err(error) = self.destroy_ours()
        {
            warn(&error);
        }
    }
}

/// Candidate names: the chosen one, or `disp-YYYYMMDD-HHMMSS` then `-2`, `-3`, ...
fn candidate_names(chosen: Option<&str>) -> Vec<String> {
    match chosen {
        Some(name) => vec![name.to_owned()],
        None => {
            let base = chrono::Local::now()
                .format("disp-%Y%m%d-%H%M%S")
                .to_string();
            std::iter::once(base.clone())
                .chain((2..=99).map(|n| format!("{base}-{n}")))
                .collect()
        }
    }
}

fn launch(resolver: &Resolver, plan: &Plan, watchdog: &mut Watchdog) -> Result<Disposable> {
    let incus = resolver.incus();
    for name in candidate_names(plan.cli.name.as_deref()) {
        // Names are unique across projects in anklume: skip one that another project uses.
        let users = resolver.projects_of(&InstanceRef {
            remote: plan.remote.clone(),
            name: name.clone(),
        })?;
        if !users.is_empty() {
            if plan.cli.name.is_some() {
                return Err(taken_error(&name, &users.join(", ")));
            }
            continue;
        }
        match create(incus, plan, &name, &plan.instance_options(), watchdog) {
            Ok(disposable) => return Ok(disposable),
            // Another launch got the name first.
            Err(e) if e.is(Fault::AlreadyExists) && plan.cli.name.is_none() => continue,
            Err(e) if e.is(Fault::AlreadyExists) => return Err(taken_error(&name, &plan.domain)),
            Err(e) => return Err(explain_launch_failure(e, incus, plan)),
        }
    }
    Err(
        Error::failure("no free disp-YYYYMMDD-HHMMSS name left for this second (99 taken)")
            .with_hint("choose one with --name"),
    )
}

fn taken_error(name: &str, projects: &str) -> Error {
    Error::failure(format!(
        "instance name '{name}' is already used (project {projects})"
    ))
    .with_hint("choose another --name, or leave it out for a generated one")
}

/// Creates and starts the instance, returning its guard as soon as it exists.
///
/// Create and start are two calls, not one `incus launch`: when the start of a launch fails,
/// the instance it created stays (stopped, so even an ephemeral one is never deleted), and
/// the guard must hold it from the moment it exists.
fn create(
    incus: &Incus,
    plan: &Plan,
    name: &str,
    options: &NewInstance,
    watchdog: &mut Watchdog,
) -> Result<Disposable> {
    let at = plan.place(name);
    watchdog.watch(&at, &plan.token)?;
    let made = match &plan.source {
        Source::Image(image) => incus.create(&at, Origin::Image(image), options),
        Source::Golden(golden, _) => pristine::copy(incus, golden, &at, options),
    };
    watchdog.created();
    made?;
    let mut disposable = Disposable::new(incus, at);
    disposable.uuid = Some(incus.uuid(&disposable.at)?);
    plan.sandbox.apply_network(incus, &disposable.at)?;
    plan.sandbox.apply_devices(incus, &disposable.at)?;
    incus.start(&disposable.at)?;
    Ok(disposable)
}

/// Puts the blame where it belongs: Incus answers "Image not found" for an unknown project.
fn explain_launch_failure(error: Error, incus: &Incus, plan: &Plan) -> Error {
    let domain = &plan.domain;
    // `REMOTE: ` in the commands of the hints, for an instance on another remote.
    let on = plan
        .remote
        .as_ref()
        .map(|r| format!("{} ", shell_word(&format!("{r}:"))))
        .unwrap_or_default();
    if let Ok(false) = incus
        .uninterruptible()
        .project_exists(plan.remote.as_deref(), domain)
    {
        return Error::failure(format!("domain '{domain}' does not exist")).with_hint(format!(
            "choose one of `{}` with --domain, or create it with `incus project create`",
            format!("incus project list {on}").trim_end()
        ));
    }
    let image = match &plan.source {
        Source::Image(image) => image.as_str(),
        Source::Golden(golden, _) => golden.name.as_str(),
    };
    let (message, hint) = match error.fault() {
        Some(Fault::NotFound(Object::Snapshot)) => (
            format!("golden instance '{image}' has no '{PRISTINE}' snapshot"),
            format!("make it a golden image first: anklume-golden create {image}"),
        ),
        Some(Fault::NotFound(Object::Image)) => (
            format!("image '{image}' not found in domain '{domain}'"),
            format!(
                "choose one of `incus image list {on}--project {}` with --image (a project with features.images=true sees only its own images), or set global.default_os_image in infra.yml",
                shell_word(domain)
            ),
        ),
        Some(Fault::Unreachable) => (
            format!("image '{image}' cannot be fetched: {}", error.message()),
            "check the network, or use a local image (`incus image list`) with --image".to_owned(),
        ),
        Some(Fault::NotFound(Object::StoragePool)) => (
            format!(
                "storage pool '{}' does not exist",
                plan.cli.storage.as_deref().unwrap_or_default()
            ),
            "choose one of `incus storage list` with --storage".to_owned(),
        ),
        Some(Fault::NotFound(Object::Profile)) => (
            format!(
                "a profile does not exist in domain '{domain}': {}",
                error.message()
            ),
            format!(
                "choose from `incus profile list {on}--project {}` with --profile",
                shell_word(domain)
            ),
        ),
        Some(Fault::NoRootDisk) => (
            format!("domain '{domain}' gives its instances no root disk: its profiles have none"),
            format!(
                "choose a pool with --storage, or add a root disk to the profile: incus profile device add default root disk path=/ pool=default --project {}",
                shell_word(domain)
            ),
        ),
        Some(Fault::NotAVmImage) => (
            format!("image '{image}' is a container image; --vm needs a virtual-machine image"),
            "leave out --vm, or choose a VM image".to_owned(),
        ),
        _ => return error,
    };
    Error::failure(message).with_hint(hint)
}

fn check_vm_support(incus: &Incus, remote: Option<&str>) -> Result<()> {
    let drivers = incus.drivers(remote)?;
    if drivers.iter().any(|d| d == "qemu") {
        return Ok(());
    }
    Err(Error::failure(format!(
        "this host cannot run virtual machines: Incus reports only the '{}' driver (no QEMU/KVM)",
        drivers.join(" | ")
    ))
    .with_hint("leave out --vm for a container; VMs need KVM and vhost_vsock on the host"))
}

fn wait_for_vm_agent(incus: &Incus, disposable: &Disposable) -> Result<()> {
    let deadline = Instant::now() + VM_AGENT_WAIT;
    while incus.exec_captured(&disposable.at, &["true"]).is_err() {
        if Instant::now() >= deadline {
            return Err(Error::failure(format!(
                "the VM agent of '{}' did not answer within {} s",
                disposable.name(),
                VM_AGENT_WAIT.as_secs()
            ))
            .with_hint(format!(
                "check that the image runs incus-agent; `incus console {} --project {}` shows the boot",
                shell_word(&disposable.at.incus_name()),
                shell_word(disposable.project())
            )));
        }
        thread::sleep(Duration::from_millis(500));
    }
    Ok(())
}

/// Shell, command or console, attached to our terminal and standard streams.
fn attach(
    cli: &Cli,
    incus: &Incus,
    disposable: &Disposable,
    sandbox: &Sandbox,
) -> Result<ExitStatus> {
    if cli.console {
        say(
            cli,
            &format!(
                "console of {}: detach with Ctrl+a q, which destroys it",
                disposable.name()
            ),
        );
        return incus.console(&disposable.at);
    }
    let argv = match (&cli.cmd, cli.command.is_empty()) {
        (Some(cmd), _) => vec!["sh".into(), "-c".into(), cmd.clone()],
        (None, false) => cli.command.clone(),
        (None, true) => vec!["sh".into(), "-c".into(), SHELL.into()],
    };
    let exec = Exec {
        argv,
        cwd: sandbox.cwd(),
        user: sandbox.user(),
        env: cli.env.clone(),
        // No terminal unless stdin is one: stdout and stderr stay separate byte streams.
        non_interactive: !io::stdin().is_terminal(),
    };
    incus.exec(&disposable.at, &exec)
}

/// `incus exec` exits with the command's status (128+N after signal N); a client that died of a
/// signal itself gets the same convention.
fn exit_code(status: ExitStatus) -> u8 {
    match (status.code(), status.signal()) {
        (Some(code), _) => (code & 0xff) as u8,
        (None, Some(signal)) => (128 + signal).clamp(0, 255) as u8,
        (None, None) => 1,
    }
}

fn leave_running(cli: &Cli, incus: &Incus, disposable: Disposable) -> Result<u8> {
    if let Some(ttl) = cli.ttl {
        start_reaper(incus, &disposable, ttl)?;
    }
    let name = disposable.name().to_owned();
    let full_name = shell_word(&disposable.at.incus_name());
    let domain = disposable.project().to_owned();
    let project = shell_word(&domain);
    let mut stdout = io::stdout().lock();
    // On another remote, as `incus` takes it: REMOTE:NAME.
    writeln!(stdout, "{}", disposable.at.incus_name())
        .and_then(|()| stdout.flush())
        .map_err(|e| Error::io("cannot write the instance name to standard output", e))?;
    disposable.keep();
    say(
        cli,
        &format!("{name} is running in domain '{domain}' (ephemeral: stopping it destroys it)"),
    );
    say(
        cli,
        &format!("  shell:   incus exec {full_name} --project {project} -- sh"),
    );
    say(
        cli,
        &format!("  destroy: incus stop {full_name} --project {project}"),
    );
    if let Some(ttl) = cli.ttl {
        say(
            cli,
            &format!("  destroyed automatically in {} s", ttl.as_secs()),
        );
    }
    Ok(0)
}

/// Starts a detached copy of ourselves that destroys the instance when `ttl` has passed, even
/// after this process has exited or its terminal has closed.
fn start_reaper(incus: &Incus, disposable: &Disposable, ttl: Duration) -> Result<()> {
    let uuid = incus.uuid(&disposable.at)?;
    let program = std::env::current_exe()
        .map_err(|e| Error::io("cannot find anklume-disp's own binary for --ttl", e))?;
    let remote = disposable.at.remote.iter().flat_map(|r| ["--remote", r]);
    Command::new(program)
        .current_dir("/")
        .args(remote)
        .args([
            "--reap",
            &uuid,
            "--no-attach",
            "--quiet",
            "--name",
            disposable.name(),
        ])
        .args([
            "--domain",
            disposable.project(),
            "--ttl",
            &ttl.as_secs().to_string(),
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        // Out of our process group: a Ctrl-C or hang-up of this terminal does not reach it.
        .process_group(0)
        .spawn()
        .map(drop)
        .map_err(|e| Error::io("cannot start the --ttl timer", e))
}

/// The `--reap` side of [`start_reaper`].
fn reap(cli: &Cli, uuid: &str) -> Result<u8> {
    ignore_hangup()?;
    let (Some(name), Some(project), Some(ttl)) = (&cli.name, &cli.domain, cli.ttl) else {
        return Err(Error::usage("--reap needs --name, --domain and --ttl"));
    };
    let at = Located {
        remote: cli.remote.clone(),
        project: project.clone(),
        name: name.clone(),
    };
    let incus = Incus::from_env();
    // Until the deadline, it looks now and then: once the instance is gone (stopped, deleted)
    // or replaced by a namesake, it has nothing left to do and leaves.
    let deadline = Instant::now() + ttl;
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        if left.is_zero() {
            break;
        }
        thread::sleep(left.min(REAPER_LOOKS_EVERY));
        match incus.uuid(&at) {
            Ok(current) if current == uuid => (),
            Ok(_) => return Ok(0),
            Err(e) if e.is_not_found() => return Ok(0),
            // The daemon restarting, say: looked at again.
            Err(_) => (),
        }
    }
    // Gone already, or replaced by a namesake: nothing of ours to destroy. A failure (the
    // daemon restarting, say) is tried again, more and more slowly, until it is done.
    let mut pause = Duration::from_secs(1);
    while incus.destroy_if_same(&at, uuid).is_err() {
        thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_secs(30));
    }
    Ok(0)
}

fn say(cli: &Cli, message: &str) {
    if !cli.quiet {
        eprintln!("anklume-disp: {message}");
    }
}
