//! anklume-disp: disposable Incus instances.
//!
//! Launch (ephemeral) → run a shell, a command or the console → destroy. The instance is held
//! by a [`Disposable`] guard from the moment Incus created it, so every way out — the command's
//! end, an error, SIGINT/SIGTERM/SIGHUP — destroys it.

pub mod cli;

use std::io::{self, IsTerminal, Write};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use anklume_common::interrupt::ignore_hangup;
use anklume_common::{Call, Error, Incus, Infra, InstanceRef, Interrupt, Resolver, Result};

pub use cli::Cli;

/// Image used when neither --image nor infra.yml names one.
pub const FALLBACK_IMAGE: &str = "images:debian/13";
/// Domain used when neither --domain nor infra.yml's disposable domains give one.
pub const FALLBACK_DOMAIN: &str = "default";
/// Name of the disk device that --mount adds.
const MOUNT_DEVICE: &str = "anklume-mount";
/// How many times (100 ms apart) a start or a delete waits for another operation on the
/// instance to end: a competing launch's create, or a start we abandoned.
const BUSY_TRIES: u32 = 50;
/// How long a VM's agent may take to answer after the start.
const VM_AGENT_WAIT: Duration = Duration::from_secs(120);
/// The interactive shell: bash when the instance has it, else sh (by existence, not exit status).
const SHELL: &str = "if command -v bash >/dev/null 2>&1; then exec bash -l; else exec sh -l; fi";

/// Runs anklume-disp; returns the exit status of the shell or command.
pub fn run(cli: &Cli) -> Result<u8> {
    if let Some(uuid) = &cli.reap {
        return reap(cli, uuid);
    }
    let interrupt = Interrupt::catch()?;
    let incus = Incus::from_env().with_interrupt(interrupt.clone());
    let resolver = Resolver::new(incus.clone());
    let plan = Plan::new(cli, &resolver)?;
    if cli.vm {
        check_vm_support(&incus)?;
    }
    let disposable = launch(&resolver, &plan)?;
    interrupt.check()?;
    if cli.vm {
        wait_for_vm_agent(&incus, &disposable)?;
    }
    if cli.no_attach {
        return leave_running(cli, &incus, disposable);
    }
    let status = attach(cli, &incus, &disposable)?;
    disposable.destroy()?;
    Ok(exit_code(status))
}

/// Where the instance comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Source {
    Image(String),
    /// The `pristine` snapshot of a golden instance, in its project.
    Golden {
        name: String,
        project: String,
    },
}

/// Everything decided before anything is created.
#[derive(Debug)]
struct Plan<'a> {
    cli: &'a Cli,
    source: Source,
    domain: String,
    /// The --mount folder, made absolute (Incus needs an absolute source).
    host_dir: Option<PathBuf>,
}

impl<'a> Plan<'a> {
    fn new(cli: &'a Cli, resolver: &Resolver) -> Result<Self> {
        let needs_infra = cli.domain.is_none() || (cli.image.is_none() && cli.from.is_none());
        let infra = if needs_infra { Infra::load()? } else { None };
        let source = match (&cli.from, &cli.image) {
            (Some(golden), _) => {
                let reference: InstanceRef = golden.parse()?;
                if reference.remote.is_some() {
                    return Err(Error::usage(format!(
                        "--from {golden}: a golden instance on a remote is not supported"
                    )));
                }
                let located = resolver.locate(&reference, None)?;
                Source::Golden {
                    name: located.name,
                    project: located.project,
                }
            }
            (None, Some(image)) => Source::Image(image.clone()),
            (None, None) => Source::Image(
                infra
                    .as_ref()
                    .and_then(|i| i.default_os_image.clone())
                    .unwrap_or_else(|| FALLBACK_IMAGE.to_owned()),
            ),
        };
        let domain = match (&cli.domain, &source) {
            (Some(domain), _) => domain.clone(),
            // A clone stays beside its golden, where its profiles and networks exist.
            (None, Source::Golden { project, .. }) => project.clone(),
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
        let host_dir = cli
            .mount
            .as_ref()
            .map(|m| shareable_folder(&m.host_dir))
            .transpose()?;
        Ok(Self {
            cli,
            source,
            domain,
            host_dir,
        })
    }

    /// Arguments shared by `incus launch`, `create` and `copy`.
    fn instance_options(&self) -> Vec<String> {
        let mut args = vec!["--ephemeral".to_owned()];
        if self.cli.vm {
            args.push("--vm".into());
        }
        if let Some(pool) = &self.cli.storage {
            args.extend(["--storage".into(), pool.clone()]);
        }
        for profile in &self.cli.profiles {
            args.extend(["--profile".into(), profile.clone()]);
        }
        args
    }
}

fn shareable_folder(dir: &Path) -> Result<PathBuf> {
    let absolute = std::fs::canonicalize(dir)
        .map_err(|e| Error::io(format!("cannot share host folder '{}'", dir.display()), e))?;
    if !absolute.is_dir() {
        return Err(Error::failure(format!(
            "cannot share '{}': not a folder",
            dir.display()
        )));
    }
    Ok(absolute)
}

/// A launched instance, destroyed when this guard is dropped unless [`Disposable::keep`] is
/// called.
#[derive(Debug)]
pub struct Disposable {
    incus: Incus,
    name: String,
    project: String,
    armed: bool,
}

impl Disposable {
    fn new(incus: &Incus, name: &str, project: &str) -> Self {
        Self {
            // Destruction must run even after a signal.
            incus: incus.uninterruptible(),
            name: name.to_owned(),
            project: project.to_owned(),
            armed: true,
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn project(&self) -> &str {
        &self.project
    }

    fn call(&self, action: &str, args: &[&str]) -> Call {
        Call::new(action, args)
            .instance(&self.name)
            .project(&self.project)
    }

    /// Deletes the instance now (`--force`: a disposable instance needs no clean shutdown).
    pub fn destroy(mut self) -> Result<()> {
        self.armed = false;
        self.delete()
    }

    /// Leaves the instance running (`--no-attach`).
    fn keep(mut self) {
        self.armed = false;
    }

    fn delete(&self) -> Result<()> {
        let call = self.call("destroy", &["delete", "--force", &self.name]);
        let mut tries = 0;
        loop {
            match self.incus.output(&call) {
                Ok(_) => return Ok(()),
                // Already gone: an ephemeral instance whose command powered it off.
                Err(e) if e.incus_message().is_some_and(|m| m.contains("not found")) => {
                    return Ok(());
                }
                // A start we gave up on (a signal killed `incus start`) still runs in the
                // daemon, which refuses the delete until it ends.
                Err(e) if tries < BUSY_TRIES && is_busy(&e) => {
                    tries += 1;
                    thread::sleep(Duration::from_millis(100));
                }
                // Any other refusal (an ephemeral instance deleting itself as we stop it, an
                // operation Incus has not settled yet): try again a few times before leaving
                // the instance behind.
                Err(e) if tries < BUSY_TRIES => {
                    tries += 10;
                    let _ = anklume_common::error::report("anklume-disp", &e, &mut io::stderr());
                    thread::sleep(Duration::from_millis(500));
                }
                Err(e) => {
                    return Err(e.with_hint(format!(
                        "remove it by hand: incus delete --force {} --project {}",
                        self.name, self.project
                    )));
                }
            }
        }
    }
}

impl Drop for Disposable {
    fn drop(&mut self) {
        if self.armed
            && let Err(error) = self.delete()
        {
            let _ = anklume_common::error::report("anklume-disp", &error, &mut io::stderr());
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

/// Incus's answers when another launch got the name first (each seen in parallel launches).
fn name_taken(error: &Error) -> bool {
    error.incus_message().is_some_and(|m| {
        m.contains("already exists")
            || m.contains("UNIQUE constraint failed")
            || (m.contains("Failed creating instance record") && m.contains("is busy running"))
    })
}

fn launch(resolver: &Resolver, plan: &Plan) -> Result<Disposable> {
    let incus = resolver.incus();
    for name in candidate_names(plan.cli.name.as_deref()) {
        // Names are unique across projects in anklume: skip one that another project uses.
        let users = resolver.projects_of(&InstanceRef {
            remote: None,
            name: name.clone(),
        })?;
        if !users.is_empty() {
            if plan.cli.name.is_some() {
                return Err(taken_error(&name, &users.join(", ")));
            }
            continue;
        }
        match create(incus, plan, &name) {
            Ok(disposable) => return Ok(disposable),
            Err(e) if name_taken(&e) && plan.cli.name.is_none() => continue,
            Err(e) if name_taken(&e) => return Err(taken_error(&name, &plan.domain)),
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
fn create(incus: &Incus, plan: &Plan, name: &str) -> Result<Disposable> {
    let mut args: Vec<String> = match &plan.source {
        Source::Image(image) => vec!["create".into(), image.clone(), name.into()],
        Source::Golden { name: golden, .. } => vec![
            "copy".into(),
            format!("{golden}/pristine"),
            name.into(),
            "--target-project".into(),
            plan.domain.clone(),
        ],
    };
    args.extend(plan.instance_options());
    let call = match &plan.source {
        Source::Image(_) => Call::new("create", args)
            .instance(name)
            .project(&plan.domain),
        Source::Golden {
            name: golden,
            project,
        } => Call::new("clone", args).instance(golden).project(project),
    };
    // Creation is never cut in the middle (see Call::own_process_group): once Incus has
    // started creating, we wait for its answer so that we know what to destroy.
    incus.uninterruptible().output(&call.own_process_group())?;
    let disposable = Disposable::new(incus, name, &plan.domain);
    if let Some((mount, host_dir)) = plan.cli.mount.as_ref().zip(plan.host_dir.as_ref()) {
        let source = format!("source={}", host_dir.display());
        let path = format!("path={}", mount.path);
        // shift=true: the container's root may write to the folder (idmapped mount).
        let args = [
            "config",
            "device",
            "add",
            name,
            MOUNT_DEVICE,
            "disk",
            &source,
            &path,
            "shift=true",
        ];
        incus.output(&disposable.call("share a host folder with", &args))?;
    }
    start(incus, &disposable)?;
    Ok(disposable)
}

/// Incus refuses to act while another operation on the instance runs.
fn is_busy(error: &Error) -> bool {
    error
        .incus_message()
        .is_some_and(|m| m.contains("is busy running"))
}

/// Starts a new instance. Another launch that tried the same name a moment ago may still hold
/// it with its failing create ("Instance is busy running a "create" operation"): wait for it.
fn start(incus: &Incus, disposable: &Disposable) -> Result<()> {
    let call = disposable.call("start", &["start", disposable.name()]);
    let mut tries = 0;
    loop {
        match incus.output(&call) {
            Err(e) if tries < BUSY_TRIES && is_busy(&e) => {
                tries += 1;
                thread::sleep(Duration::from_millis(100));
            }
            outcome => return outcome.map(drop),
        }
    }
}

/// Puts the blame where it belongs: Incus answers "Image not found" for an unknown project.
fn explain_launch_failure(error: Error, incus: &Incus, plan: &Plan) -> Error {
    let incus_says = error.incus_message().unwrap_or_default().to_owned();
    let domain = &plan.domain;
    let project_exists = incus
        .uninterruptible()
        .query::<serde_json::Value>(None, &format!("/1.0/projects/{domain}"))
        .is_ok();
    if !project_exists {
        return Error::failure(format!("domain '{domain}' does not exist")).with_hint(
            "choose one of `incus project list` with --domain, or create it with `incus project create`",
        );
    }
    let image = match &plan.source {
        Source::Image(image) => image.as_str(),
        Source::Golden { name, .. } => name.as_str(),
    };
    let (message, hint) = if incus_says.contains("Instance_snapshot not found") {
        (
            format!("golden instance '{image}' has no 'pristine' snapshot"),
            format!("make it a golden image first: anklume-golden create {image}"),
        )
    } else if incus_says.starts_with("Image ") && incus_says.contains("not found") {
        (
            format!("image '{image}' not found in domain '{domain}'"),
            "choose one of `incus image list` with --image, or set global.default_os_image in infra.yml".to_owned(),
        )
    } else if incus_says.contains("Failed getting remote image info") {
        (
            format!("image '{image}' cannot be fetched: {incus_says}"),
            "check the network, or use a local image (`incus image list`) with --image".to_owned(),
        )
    } else if incus_says.contains("Storage pool not found") {
        (
            format!(
                "storage pool '{}' does not exist",
                plan.cli.storage.as_deref().unwrap_or_default()
            ),
            "choose one of `incus storage list` with --storage".to_owned(),
        )
    } else if incus_says.contains("Requested profile") {
        (
            format!("{incus_says} in domain '{domain}'"),
            format!("choose from `incus profile list --project {domain}` with --profile"),
        )
    } else if incus_says.contains("Asked for a VM but image is of type container") {
        (
            format!("image '{image}' is a container image; --vm needs a virtual-machine image"),
            "leave out --vm, or choose a VM image".to_owned(),
        )
    } else {
        return error;
    };
    Error::failure(message).with_hint(hint)
}

fn check_vm_support(incus: &Incus) -> Result<()> {
    let server: serde_json::Value = incus.query(None, "/1.0")?;
    let drivers = server["environment"]["driver"].as_str().unwrap_or_default();
    if drivers.split('|').any(|d| d.trim() == "qemu") {
        return Ok(());
    }
    Err(Error::failure(format!(
        "this host cannot run virtual machines: Incus reports only the '{}' driver (no QEMU/KVM)",
        drivers.trim()
    ))
    .with_hint("leave out --vm for a container; VMs need KVM and vhost_vsock on the host"))
}

fn wait_for_vm_agent(incus: &Incus, disposable: &Disposable) -> Result<()> {
    let deadline = Instant::now() + VM_AGENT_WAIT;
    let probe = disposable.call(
        "reach the agent of",
        &["exec", disposable.name(), "--", "true"],
    );
    while incus.output(&probe).is_err() {
        if Instant::now() >= deadline {
            return Err(Error::failure(format!(
                "the VM agent of '{}' did not answer within {} s",
                disposable.name(),
                VM_AGENT_WAIT.as_secs()
            ))
            .with_hint(format!(
                "check that the image runs incus-agent; `incus console {} --project {}` shows the boot",
                disposable.name(),
                disposable.project()
            )));
        }
        thread::sleep(Duration::from_millis(500));
    }
    Ok(())
}

/// Shell, command or console, attached to our terminal and standard streams.
fn attach(cli: &Cli, incus: &Incus, disposable: &Disposable) -> Result<ExitStatus> {
    let name = disposable.name();
    if cli.console {
        say(
            cli,
            &format!("console of {name}: detach with Ctrl+a q, which destroys it"),
        );
        return incus.interactive(&disposable.call("attach to the console of", &["console", name]));
    }
    let mut args: Vec<String> = vec!["exec".into(), name.into()];
    if !io::stdin().is_terminal() {
        // No terminal unless stdin is one: stdout and stderr stay separate byte streams.
        args.push("--force-noninteractive".into());
    }
    if let Some(mount) = &cli.mount {
        args.extend(["--cwd".into(), mount.path.clone()]);
    }
    args.push("--".into());
    match (&cli.cmd, cli.command.is_empty()) {
        (Some(cmd), _) => args.extend(["sh".into(), "-c".into(), cmd.clone()]),
        (None, false) => args.extend(cli.command.iter().cloned()),
        (None, true) => args.extend(["sh".into(), "-c".into(), SHELL.into()]),
    }
    let call = Call::new("run a command in", args)
        .instance(name)
        .project(disposable.project());
    incus.interactive(&call)
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
    let (name, project) = (
        disposable.name().to_owned(),
        disposable.project().to_owned(),
    );
    let mut stdout = io::stdout().lock();
    writeln!(stdout, "{name}")
        .and_then(|()| stdout.flush())
        .map_err(|e| Error::io("cannot write the instance name to standard output", e))?;
    disposable.keep();
    say(
        cli,
        &format!("{name} is running in domain '{project}' (ephemeral: stopping it destroys it)"),
    );
    say(
        cli,
        &format!("  shell:   incus exec {name} --project {project} -- sh"),
    );
    say(
        cli,
        &format!("  destroy: incus stop {name} --project {project}"),
    );
    if let Some(ttl) = cli.ttl {
        say(
            cli,
            &format!("  destroyed automatically in {} s", ttl.as_secs()),
        );
    }
    Ok(0)
}

/// The identity of this very instance, so that the reaper never deletes a later namesake.
fn instance_uuid(incus: &Incus, name: &str, project: &str) -> Result<String> {
    let instance: serde_json::Value =
        incus.query(None, &format!("/1.0/instances/{name}?project={project}"))?;
    instance["config"]["volatile.uuid"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| Error::failure(format!("instance '{name}' has no volatile.uuid")))
}

/// Starts a detached copy of ourselves that destroys the instance when `ttl` has passed, even
/// after this process has exited or its terminal has closed.
fn start_reaper(incus: &Incus, disposable: &Disposable, ttl: Duration) -> Result<()> {
    let uuid = instance_uuid(incus, disposable.name(), disposable.project())?;
    let program = std::env::current_exe()
        .map_err(|e| Error::io("cannot find anklume-disp's own binary for --ttl", e))?;
    Command::new(program)
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
    thread::sleep(ttl);
    let incus = Incus::from_env();
    match instance_uuid(&incus, name, project) {
        Ok(current) if current == uuid => {
            let call = Call::new("destroy", ["delete", "--force", name.as_str()])
                .instance(name)
                .project(project);
            incus.output(&call)?;
            Ok(0)
        }
        // Gone already, or replaced by a namesake: nothing of ours to destroy.
        _ => Ok(0),
    }
}

fn say(cli: &Cli, message: &str) {
    if !cli.quiet {
        eprintln!("anklume-disp: {message}");
    }
}
