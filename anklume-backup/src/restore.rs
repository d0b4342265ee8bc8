//! `restore`: a backup, decrypted in memory as it streams, imported under a temporary name,
//! then given its name; nothing is kept unless the whole stream was authenticated.

use std::io::{self, Read, Write};
use std::time::{SystemTime, UNIX_EPOCH};

use anklume_common::api::encode;
use anklume_common::progress::Progress;
use anklume_common::reference::check_instance_name;
use anklume_common::{Call, Error, InstanceRef, Interrupt, Pipes, Resolver, Result};

use crate::archive::{self, Packing};
use crate::cli::RestoreArgs;
use crate::{Keys, open_input};

/// How much of the archive may be held while looking for its index (Incus writes it first).
const INDEX_SEARCH_LIMIT: usize = 64 * 1024 * 1024;

pub fn restore(resolver: &Resolver, interrupt: &Interrupt, args: &RestoreArgs) -> Result<()> {
    if let Some(name) = &args.name {
        check_instance_name(name).map_err(Error::usage)?;
    }
    let keys = Keys::from_files(&args.key_file, args.passphrase_file.as_deref())?;
    let (plain, encrypted) = open_input(args.input(), interrupt, &keys)?;

    let (prefix, plain) = archive::peek(plain, archive::SNIFF_LEN)
        .map_err(|e| Error::io("cannot read the backup", e))?;
    let packing = Packing::sniff(&prefix);
    // The archive is checked whole as it streams; its end reaches the import only if sound.
    let plain: Box<dyn Read> = match packing {
        Some(packing) => Box::new(archive::Checked::new(plain, packing)),
        None => Box::new(plain),
    };
    let (name, stream): (String, Box<dyn Read>) = match (&args.name, packing) {
        (Some(name), _) => (name.clone(), plain),
        (None, Some(packing)) => {
            let (index, whole) = archive::index_then_stream(plain, packing, INDEX_SEARCH_LIMIT)?;
            check_instance_name(&index.name).map_err(Error::failure)?;
            (index.name, Box::new(whole))
        }
        (None, None) => {
            return Err(
                Error::failure("cannot find the instance's name: unknown compression")
                    .with_hint("name the instance with --name"),
            );
        }
    };

    // Names are unique across projects: any existing holder is checked before anything runs.
    let holders = resolver.projects_of(&InstanceRef {
        remote: None,
        name: name.clone(),
    })?;
    let replace = match holders.as_slice() {
        [] => false,
        [only] if args.force && *only == args.project => true,
        [only] if args.force => {
            return Err(Error::failure(format!(
                "instance '{name}' exists in project '{only}', not in '{}': --force replaces an instance of the target project only",
                args.project
            )));
        }
        _ => {
            return Err(Error::failure(format!(
                "instance '{name}' already exists (project {})",
                holders.join(", ")
            ))
            .with_hint("restore under another name with --name NEW, or replace it with --force"));
        }
    };

    let incus = resolver.incus();
    let temporary = temporary_name(&name);
    let mut import_args = vec![
        "import".to_owned(),
        "-".to_owned(),
        temporary.clone(),
        "--quiet".to_owned(),
    ];
    if let Some(pool) = &args.storage {
        import_args.extend(["--storage".to_owned(), pool.clone()]);
    }
    let call = Call::new("import", import_args)
        .instance(&temporary)
        .project(&args.project);
    let imported = (|| {
        let mut import = incus.stream(&call, Pipes::Stdin)?;
        let mut stdin = import
            .take_stdin()
            .ok_or_else(|| Error::failure("incus import has no input pipe"))?;
        let label = format!("restoring {name}");
        let mut progress = Progress::new(label, None, args.quiet);
        let fed = feed(stream, &mut stdin, &mut progress, encrypted);
        progress.finish();
        match fed {
            Ok(()) => {}
            // The import stopped reading: its own reason (an unknown project, a full pool)
            // says more than the broken pipe.
            Err(Fed::Refused(error)) => {
                drop(stdin);
                return Err(import.finish().err().unwrap_or(error));
            }
            // The import gets its end of stream only once everything was read and
            // authenticated; here it is killed (dropped) mid-upload, and Incus creates nothing.
            Err(Fed::Unreadable(error)) => return Err(error),
        }
        interrupt.check()?;
        drop(stdin);
        import.finish()
    })();
    let cleanup = incus.uninterruptible();
    if let Err(error) = imported {
        delete_if_present(&cleanup, &temporary, &args.project);
        return Err(error);
    }

    if replace {
        let call = Call::new("delete", ["delete", "--force", name.as_str()])
            .instance(&name)
            .project(&args.project);
        if let Err(error) = cleanup.output(&call) {
            return Err(error.with_hint(format!(
                "the backup is imported as '{temporary}' in project '{}'",
                args.project
            )));
        }
    }
    let call = Call::new("rename", ["rename", temporary.as_str(), name.as_str()])
        .instance(&temporary)
        .project(&args.project);
    cleanup.output(&call).map_err(|error| {
        error.with_hint(format!(
            "the backup is imported as '{temporary}' in project '{}'; rename it with incus rename",
            args.project
        ))
    })?;
    eprintln!(
        "anklume-backup: restored {name} (project {}){}",
        args.project,
        if replace {
            ", replacing the previous one"
        } else {
            ""
        }
    );
    println!("{name}");
    Ok(())
}

/// Why streaming into the import stopped.
enum Fed {
    /// The backup could not be read, decrypted or authenticated.
    Unreadable(Error),
    /// `incus import` stopped taking it.
    Refused(Error),
}

/// Streams the backup into the import.
fn feed(
    mut stream: Box<dyn Read>,
    sink: &mut dyn Write,
    progress: &mut Progress,
    encrypted: bool,
) -> std::result::Result<(), Fed> {
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = match stream.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) => {
                let what = if encrypted {
                    "the backup does not decrypt or is damaged"
                } else {
                    "the backup is damaged"
                };
                return Err(Fed::Unreadable(
                    Error::failure(format!("{what}: {e}")).with_hint(
                        "nothing was restored; check the file with anklume-backup verify",
                    ),
                ));
            }
        };
        sink.write_all(&buf[..n])
            .map_err(|e| Fed::Refused(Error::io("cannot send the backup to incus import", e)))?;
        progress.advance(n as u64);
    }
}

/// `NAME-restoring-XXXX`, within Incus's 63 characters.
fn temporary_name(name: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |t| t.subsec_nanos());
    let suffix = format!("-restoring-{:04x}", (nanos ^ std::process::id()) & 0xffff);
    let keep = 63 - suffix.len();
    let head = name.get(..keep.min(name.len())).unwrap_or(name);
    format!("{}{suffix}", head.trim_end_matches('-'))
}

fn delete_if_present(incus: &anklume_common::Incus, name: &str, project: &str) {
    let path = format!("/1.0/instances/{name}?project={}", encode(project));
    if incus.query::<serde_json::Value>(None, &path).is_ok() {
        let call = Call::new("delete", ["delete", "--force", name])
            .instance(name)
            .project(project);
        if let Err(error) = incus.output(&call) {
            let _ = writeln!(io::stderr(), "anklume-backup: {error}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temporary_names_stay_valid_instance_names() {
        let short = temporary_name("web");
        assert!(short.starts_with("web-restoring-"), "{short}");
        assert_eq!(check_instance_name(&short), Ok(()));
        let long = temporary_name(&"a".repeat(63));
        assert!(long.len() <= 63);
        assert_eq!(check_instance_name(&long), Ok(()));
    }
}
