//! `restore`: a backup, decrypted and authenticated in memory as it streams into `incus
//! import`, which sees the end of its stream only once the whole backup was authenticated;
//! nothing is kept otherwise. A replacement (`--force`) is imported under a temporary name and
//! swapped in.

use std::io::{Read, Write};

use anklume_common::error::warn;
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

pub fn restore(session: &Session, args: &RestoreArgs) -> Result<()> {
    let keys = Keys::new(&args.keys)?;
    let remote = target_remote(args)?;
    let (plain, verdict) = open_input(args.input(), &session.interrupt, &keys)?;
    let (name, stream) = name_and_stream(plain, args)?;
    let wanted = Located {
        remote,
        project: args.project.clone(),
        name,
    };
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
        verdict.as_ref(),
        args,
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
    eprintln!(
        "anklume-backup: restored {}{}",
        place(&wanted),
        if replace {
            ", replacing the previous one"
        } else {
            ""
        }
    );
    println!("{}", reference(&wanted));
    Ok(())
}

/// The remote to restore on: `--name REMOTE:NEW` or `--remote REMOTE`; `None` for the
/// client's default remote.
fn target_remote(args: &RestoreArgs) -> Result<Option<String>> {
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

/// The instance's name (`--name`, else the one the backup records) and the backup's stream,
/// checked whole as it streams: its end reaches the import only if the archive is sound.
fn name_and_stream(
    plain: Box<dyn Read + Send + Sync>,
    args: &RestoreArgs,
) -> Result<(String, Box<dyn Read + Send>)> {
    let (prefix, plain) = archive::peek(plain, archive::SNIFF_LEN)
        .map_err(|e| Error::io("cannot read the backup", e))?;
    let packing = Packing::sniff(&prefix);
    let plain: Box<dyn Read + Send> = match packing {
        Some(packing) => Box::new(archive::Checked::new(plain, packing)),
        None => Box::new(plain),
    };
    match (&args.name, packing) {
        (Some(name), _) => Ok((name.name.clone(), plain)),
        (None, Some(packing)) => {
            let (index, whole) = archive::index_then_stream(plain, packing, INDEX_SEARCH_LIMIT)?;
            check_instance_name(&index.name).map_err(Error::failure)?;
            Ok((index.name, Box::new(whole)))
        }
        (None, None) => Err(
            Error::failure("cannot find the instance's name: unknown compression")
                .with_hint("name the instance with --name"),
        ),
    }
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
    verdict: Option<&Verdict>,
    args: &RestoreArgs,
) -> Result<()> {
    // Written through the stream, never through its pipe taken out: dropped on any path (a
    // panic included), the import is killed before its input closes.
    let mut import = session.incus().import(temporary, args.storage.as_deref())?;
    let label = format!("restoring {name}");
    let mut progress = Progress::new(label, None, args.quiet);
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
            None => damaged(verdict.is_some(), &e.to_string())
                .with_hint("nothing was restored; check the file with anklume-backup verify"),
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
