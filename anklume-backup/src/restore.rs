//! `restore`: a backup, decrypted and authenticated in memory as it streams into `incus
//! import`, which sees the end of its stream only once the whole backup was authenticated;
//! nothing is kept otherwise. A replacement (`--force`) is imported under a temporary name and
//! swapped in.

use std::io::{Read, Write};

use anklume_common::error::{shell_word, terminal_safe, warn};
use anklume_common::progress::Progress;
use anklume_common::pump::{PumpError, pump};
use anklume_common::reference::check_instance_name;
use anklume_common::{
    Error, InstanceRef, InterruptibleReader, Located, Result, Session, Stop, temp,
};

use crate::archive::{self, Packing};
use crate::cli::RestoreArgs;
use crate::inspect::damaged;
use crate::sign::Verdict;
use crate::{Keys, open_input, unauthenticated};

/// How much of the archive may be held while looking for its index (Incus writes it first).
const INDEX_SEARCH_LIMIT: usize = 64 * 1024 * 1024;

/// A backup's plain stream, and what is known of it before it is read.
pub struct Source {
    pub plain: Box<dyn Read + Send + Sync>,
    /// The signature check of an encrypted backup file, decided once it is read whole.
    pub verdict: Option<Verdict>,
    /// The instance's name recorded beside the archive (a repository's snapshot tag).
    pub name: Option<String>,
    /// Its project recorded beside the archive (a repository's snapshot tag), before the one
    /// the archive's index records.
    pub project: Option<String>,
    /// Its size, when known, for the progress line.
    pub size: Option<u64>,
    /// Whether its reading already shows progress (a file's bytes counted as they are read).
    pub counted: bool,
    /// `the backup`, `snapshot 1a2b3c4d`: for messages.
    pub what: String,
}

pub fn restore(session: &Session, args: &RestoreArgs) -> Result<()> {
    let keys = Keys::new(&args.keys)?;
    // The file's own bytes are counted as they are read: its size is known, encrypted or not.
    let label = format!(
        "restoring {}",
        terminal_safe(&args.input().to_string_lossy())
    );
    let progress = Progress::new(label, None, args.quiet);
    let (plain, verdict) = open_input(args.input(), &session.interrupt, &keys, progress)?;
    let source = Source {
        plain,
        verdict,
        name: None,
        project: None,
        size: None,
        counted: true,
        what: "the backup".to_owned(),
    };
    restore_stream(session, source, args)
}

/// Restores `source` as `--name`, else the name recorded, else the one in the archive's
/// index; into `project`, else the project the backup came from when it exists here, else
/// `default`. The project and the pool are checked before any data moves.
pub fn restore_stream(session: &Session, source: Source, args: &RestoreArgs) -> Result<()> {
    let remote = target_remote(args)?;
    let (name, indexed, stream) = name_and_stream(source.plain, args, source.name)?;
    // One look-up of the project either way: the one asked for must exist; the recorded one
    // is taken only if it does.
    let project = match &args.project {
        Some(project) => project.clone(),
        None => {
            let recorded = source.project.or(indexed);
            recorded_or_default(session, remote.as_deref(), recorded, args.quiet)?
        }
    };
    check_target(session, remote.as_deref(), args)?;
    let wanted = Located {
        remote,
        project,
        name,
    };
    let verdict = source.verdict;
    let about = (
        source.size.filter(|_| !source.counted),
        source.what.as_str(),
    );
    let quiet = args.quiet || source.counted;
    let replace = must_replace(session, &wanted, args.force)?;

    // The import sees the end of its stream only once the whole backup was authenticated, so
    // a free name is imported into directly: a SIGKILL at any moment leaves either nothing or
    // the whole restored instance. Only a replacement goes through a temporary name.
    let target = Located {
        name: match replace {
            true => temporary_name(session, &wanted, "restoring")?,
            false => wanted.name.clone(),
        },
        ..wanted.clone()
    };
    if let Err(error) = import(
        session,
        (&target, &wanted.name),
        stream,
        (verdict.as_ref(), about),
        (args, quiet),
    ) {
        // Incus creates nothing from a refused or killed import. A temporary instance (its
        // name unguessable, so ours) is removed should one exist; a free name is never touched,
        // as someone else may have taken it meanwhile.
        let cleanup = session.incus().uninterruptible();
        if replace
            && cleanup.check_instance(&target).is_ok()
            && let Err(left) = cleanup.destroy(&target)
        {
            warn(&left);
        }
        return Err(error);
    }
    if replace {
        take_its_name(session, &target, &wanted.name)?;
    }
    // Moved once it has its name: a failed move leaves the restored instance, named, where
    // Incus put it.
    if let Some(member) = &args.target {
        place_on_member(session, &wanted, member)?;
    }
    if !args.quiet {
        eprintln!(
            "anklume-backup: restored {}{}",
            place(&wanted),
            if replace {
                ", replacing the previous one"
            } else {
                ""
            }
        );
    }
    println!("{}", reference(&wanted));
    Ok(())
}

/// The remote to restore on: `--name REMOTE:NEW` or `--remote REMOTE`; `None` for the
/// client's default remote.
pub fn target_remote(args: &RestoreArgs) -> Result<Option<String>> {
    let named = args.name.as_ref().and_then(|name| name.remote.clone());
    match (named, &args.remote) {
        (Some(named), Some(remote)) if named != *remote => Err(Error::usage(format!(
            "--name {named}:… and --remote {remote} name two different remotes"
        ))),
        (named, remote) => Ok(named.or_else(|| remote.clone())),
    }
}

/// `[REMOTE:]NAME`, as the user would type it.
fn reference(at: &Located) -> String {
    match &at.remote {
        Some(remote) => format!("{remote}:{}", at.name),
        None => at.name.clone(),
    }
}

/// `NAME (project P[, remote R])`, for messages.
fn place(at: &Located) -> String {
    match &at.remote {
        Some(remote) => format!("{} (project {}, remote {remote})", at.name, at.project),
        None => format!("{} (project {})", at.name, at.project),
    }
}

/// An unguessable free name beside `at`, on its remote.
fn temporary_name(session: &Session, at: &Located, tag: &str) -> Result<String> {
    temp::instance_name(&session.resolver, at.remote.as_deref(), &at.name, tag)
}

/// The instance's name (`--name`, else the one the backup records), the project the archive's
/// index records, and the backup's stream, checked whole as it streams: its end reaches the
/// import only if the archive is sound.
fn name_and_stream(
    plain: Box<dyn Read + Send + Sync>,
    args: &RestoreArgs,
    recorded: Option<String>,
) -> Result<(String, Option<String>, Box<dyn Read + Send>)> {
    let (prefix, plain) = archive::peek(plain, archive::SNIFF_LEN)
        .map_err(|e| Error::io("cannot read the backup", e))?;
    let packing = Packing::sniff(&prefix);
    let plain: Box<dyn Read + Send> = match packing {
        Some(packing) => Box::new(archive::Checked::new(plain, packing)),
        None => Box::new(plain),
    };
    let given = args.name.as_ref().map(|n| n.name.clone()).or(recorded);
    match (given, packing) {
        (given, Some(packing)) => {
            let (index, whole) = archive::index_then_stream(plain, packing, INDEX_SEARCH_LIMIT)?;
            let project = index.project().map(str::to_owned);
            let name = match given {
                Some(name) => name,
                None => check_instance_name(&index.name)
                    .map_err(Error::failure)
                    .map(|()| index.name)?,
            };
            Ok((name, project, Box::new(whole)))
        }
        (Some(name), None) => Ok((name, None, plain)),
        (None, None) => Err(
            Error::failure("cannot find the instance's name: unknown compression")
                .with_hint("name the instance with --name"),
        ),
    }
}

/// The project the backup came from when it exists on the target, else `default` (said on
/// stderr when the recorded one is missing).
fn recorded_or_default(
    session: &Session,
    remote: Option<&str>,
    recorded: Option<String>,
    quiet: bool,
) -> Result<String> {
    let Some(recorded) = recorded else {
        return Ok("default".to_owned());
    };
    if session.incus().project_exists(remote, &recorded)? {
        return Ok(recorded);
    }
    if !quiet {
        eprintln!(
            "anklume-backup: the backup comes from project '{}', which does not exist here: restoring into 'default' (choose with --project)",
            terminal_safe(&recorded)
        );
    }
    Ok("default".to_owned())
}

/// The project asked for, the storage pool the import needs and the cluster member it goes
/// to, checked before any data moves.
fn check_target(session: &Session, remote: Option<&str>, args: &RestoreArgs) -> Result<()> {
    let (project, pool) = (args.project.as_deref(), args.storage.as_deref());
    let incus = session.incus();
    if let Some(member) = &args.target {
        incus.check_member(remote, member)?;
    }
    let on = remote
        .map(|r| format!(" on remote '{r}'"))
        .unwrap_or_default();
    let remote_flag = remote.map(|r| format!(" {r}:")).unwrap_or_default();
    if let Some(project) = project
        && !incus.project_exists(remote, project)?
    {
        return Err(
            Error::failure(format!("project '{project}' does not exist{on}")).with_hint(format!(
                "choose one of `incus project list{remote_flag}` with --project, or create it: incus project create {}",
                shell_word(&remote.map_or_else(|| project.to_owned(), |r| format!("{r}:{project}")))
            )),
        );
    }
    if let Some(pool) = pool
        && !incus.storage_pool_exists(remote, pool)?
    {
        return Err(
            Error::failure(format!("storage pool '{pool}' does not exist{on}")).with_hint(format!(
                "choose one of `incus storage list{remote_flag}` with --storage"
            )),
        );
    }
    Ok(())
}

/// Names are unique across projects: any existing holder is checked before anything runs.
/// `Ok(true)` when `force` replaces the instance of that name in the target project.
fn must_replace(session: &Session, wanted: &Located, force: bool) -> Result<bool> {
    let holders = session.resolver.projects_of(&InstanceRef {
        remote: wanted.remote.clone(),
        name: wanted.name.clone(),
    })?;
    let name = reference(wanted);
    match holders.as_slice() {
        [] => Ok(false),
        [only] if force && *only == wanted.project => Ok(true),
        [only] if force => Err(Error::failure(format!(
            "instance '{name}' exists in project '{only}', not in '{}': --force replaces an instance of the target project only",
            wanted.project
        ))),
        _ => Err(Error::failure(format!(
            "instance '{name}' already exists (project {})",
            holders.join(", ")
        ))
        .with_hint("restore under another name with --name NEW, or replace it with --force")),
    }
}

/// Streams the backup of `name` into `incus import` as `temporary`.
fn import(
    session: &Session,
    (temporary, name): (&Located, &str),
    stream: Box<dyn Read + Send>,
    (verdict, (size, what)): (Option<&Verdict>, (Option<u64>, &str)),
    (args, quiet): (&RestoreArgs, bool),
) -> Result<()> {
    // Written through the stream, never through its pipe taken out: dropped on any path (a
    // panic included), the import is killed before its input closes.
    let mut import = session.incus().import(temporary, args.storage.as_deref())?;
    let label = format!("restoring {name}");
    let mut progress = Progress::new(label, size, quiet);
    // Decrypted, authenticated and checked on a thread of its own, ahead of the upload.
    let mut stream = InterruptibleReader::spawn(stream, &session.interrupt);
    let interrupt = Some(&session.interrupt);
    let fed = pump(&mut stream, &mut import, Some(&mut progress), interrupt);
    progress.finish();
    let unread = match fed {
        Ok(_) => session.interrupt.check().err(),
        // The import stopped reading: its own reason (an unknown project, a full pool) says
        // more than the broken pipe.
        Err(PumpError::Write(e)) => {
            let refused = Error::io("cannot send the backup to incus import", e);
            return Err(import.finish().err().unwrap_or(refused));
        }
        Err(PumpError::Read(_)) if let Some(signal) = session.interrupt.signal() => {
            Some(Error::interrupted(signal))
        }
        Err(PumpError::Read(e)) => Some(match verdict.and_then(Verdict::refusal) {
            Some(why) => unauthenticated(format!("{why}; nothing was restored")),
            None if what == "the backup" => damaged(verdict.is_some(), &e.to_string())
                .with_hint("nothing was restored; check the file with anklume-backup verify"),
            None => Error::failure(format!("{what} is damaged: {e}"))
                .with_hint("nothing was restored; check the repository with anklume-backup verify --repo LOCATION --read-data"),
        }),
        Err(PumpError::Interrupted(signal)) => Some(Error::interrupted(signal)),
    };
    if let Some(error) = unread {
        // The import gets its end of stream only once everything was read and authenticated:
        // here it is killed before its input closes, so that it cannot take a clean end of a
        // truncated stream as complete, and Incus creates nothing.
        drop(import);
        return Err(error);
    }
    import
        .flush()
        .map_err(|e| Error::io("cannot send the backup to incus import", e))?;
    import.finish()
}

/// Moves the imported instance to cluster member `member` unless Incus placed it there: an
/// import goes to the member the client speaks to. A failed move leaves it restored where it
/// is, and says how to move it.
fn place_on_member(session: &Session, imported: &Located, member: &str) -> Result<()> {
    let incus = session.incus().uninterruptible();
    let location = incus.instance(imported)?.location;
    if location == member {
        return Ok(());
    }
    incus.move_to_member(imported, member).map_err(|error| {
        error.with_hint(format!(
            "the backup is restored as {}, on member '{location}'; move it with: incus move {} --target {} --project {}",
            place(imported),
            shell_word(&imported.incus_name()),
            shell_word(member),
            shell_word(&imported.project)
        ))
    })
}

/// Renames the imported `temporary` to `name`, replacing the instance of that name: it is
/// stopped and renamed aside first, and deleted only once the new one has its name; any
/// failure on the way puts the old one back as it was (running again if it ran).
fn take_its_name(session: &Session, temporary: &Located, name: &str) -> Result<()> {
    let incus = session.incus().uninterruptible();
    let kept = || {
        format!(
            "the backup is imported as '{}' in project '{}'",
            temporary.name, temporary.project
        )
    };
    let old = Located {
        name: name.to_owned(),
        ..temporary.clone()
    };
    let aside_name = temporary_name(session, &old, "replaced")?;
    let aside = Located {
        name: aside_name.clone(),
        ..old.clone()
    };
    let info = incus.instance(&old)?;
    if info.ephemeral {
        // Stopping an ephemeral instance deletes it: it cannot be put aside, nor back.
        incus
            .destroy(&old)
            .map_err(|error| error.with_hint(kept()))?;
        return incus
            .rename(temporary, name)
            .map_err(|error| error.with_hint(kept()));
    }
    let was_running = !info.is_stopped();
    if was_running {
        incus.stop(&old, Stop::Force)?;
    }
    let put_back = |error: Error| {
        let back = incus.rename(&aside, name).and_then(|()| match was_running {
            true => incus.start(&old),
            false => Ok(()),
        });
        if let Err(left) = back {
            warn(&left);
        }
        error.with_hint(kept())
    };
    incus.rename(&old, &aside_name).map_err(|e| {
        if was_running && let Err(left) = incus.start(&old) {
            warn(&left);
        }
        e.with_hint(kept())
    })?;
    incus.rename(temporary, name).map_err(put_back)?;
    incus.destroy(&aside).map_err(|error| {
        error.with_hint(format!(
            "the previous instance is left as '{aside_name}' in project '{}'",
            old.project
        ))
    })
}
