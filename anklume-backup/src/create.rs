//! `create`: `incus export` streamed through encryption into a file that appears only when
//! complete.

use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{self, BufWriter, Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use anklume_common::progress::Progress;
use anklume_common::{
    Call, Error, InstanceRef, Interrupt, InterruptibleReader, Pipes, Resolver, Result,
};

use crate::cli::CreateArgs;
use crate::{crypto, read_passphrase};

pub fn create(resolver: &Resolver, interrupt: &Interrupt, args: &CreateArgs) -> Result<()> {
    let instance: InstanceRef = args.instance.parse()?;
    let located = resolver.locate(&instance, args.project.as_deref())?;

    // Keys are checked before anything starts: a wrong recipient costs no export.
    let recipients = if args.recipients.is_empty() && args.recipient_file.is_empty() {
        Vec::new()
    } else {
        crypto::load_recipients(&args.recipient_file, &args.recipients)
            .map_err(|e| Error::failure(e.to_string()))?
    };
    let passphrase = args
        .passphrase_file
        .as_deref()
        .map(read_passphrase)
        .transpose()?;
    let encrypted = !recipients.is_empty() || passphrase.is_some();

    let stamp = chrono::Local::now().format("%Y%m%d-%H%M%S");
    let file_name = format!(
        "{}-{stamp}.{}{}",
        located.name,
        args.compression.extension(),
        if encrypted { ".gpg" } else { "" }
    );
    let target = Target::open(&args.output, &file_name, args.force)?;

    let mut export_args = vec![
        "export".to_owned(),
        located.incus_name(),
        "-".to_owned(),
        "--compression".to_owned(),
        args.compression.incus_name().to_owned(),
        "--quiet".to_owned(),
    ];
    if args.instance_only {
        export_args.push("--instance-only".to_owned());
    }
    let call = Call::new("export", export_args)
        .instance(&located)
        .project(&located.project);
    let mut export = resolver.incus().stream(&call, Pipes::Stdout)?;
    let stdout = export
        .take_stdout()
        .ok_or_else(|| Error::failure("incus export has no output pipe"))?;
    let mut source = InterruptibleReader::spawn(stdout, interrupt);

    let label = format!("backing up {located}");
    let mut progress = Progress::new(label, None, args.quiet || target.is_stdout());
    let mut out = target.writer()?;
    let written = if encrypted {
        crypto::encrypt(out, &recipients, passphrase.as_deref())
            .map_err(|e| Error::failure(e.to_string()))
            .and_then(|mut sealed| {
                let n = pump(&mut source, &mut sealed, &mut progress, &target)?;
                let mut out = sealed
                    .finish()
                    .map_err(|e| Error::failure(format!("cannot finish the encryption: {e}")))?;
                flush(&mut out, &target).map(|()| n)
            })
    } else {
        pump(&mut source, &mut out, &mut progress, &target)
            .and_then(|n| flush(&mut out, &target).map(|()| n))
    };
    progress.finish();
    // Incus's verdict comes before ours: an export that failed half-way must not be kept.
    let bytes = written.and_then(|n| export.finish().map(|()| n))?;
    interrupt.check()?;
    let path = target.commit()?;

    let what = match (recipients.len(), passphrase.is_some()) {
        (0, false) => "not encrypted".to_owned(),
        (0, true) => "encrypted with a passphrase".to_owned(),
        (n, with_passphrase) => format!(
            "encrypted to {n} certificate{}{}",
            if n == 1 { "" } else { "s" },
            if with_passphrase {
                " and a passphrase"
            } else {
                ""
            }
        ),
    };
    match path {
        Some(path) => {
            eprintln!(
                "anklume-backup: backed up {located} to {} ({}, {what})",
                path.display(),
                human_size(bytes)
            );
            println!("{}", path.display());
        }
        None => eprintln!(
            "anklume-backup: backed up {located} to stdout ({}, {what})",
            human_size(bytes)
        ),
    }
    Ok(())
}

fn flush(out: &mut dyn Write, target: &Target) -> Result<()> {
    out.flush()
        .map_err(|e| Error::io(format!("cannot write {}", target.describe()), e))
}

/// Copies everything; a read error is Incus's side, a write error ours.
fn pump(
    source: &mut dyn Read,
    sink: &mut dyn Write,
    progress: &mut Progress,
    target: &Target,
) -> Result<u64> {
    let mut buf = vec![0u8; 256 * 1024];
    let mut total = 0;
    loop {
        let n = match source.read(&mut buf) {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(e) => return Err(Error::io("cannot read what incus export writes", e)),
        };
        sink.write_all(&buf[..n])
            .map_err(|e| Error::io(format!("cannot write {}", target.describe()), e))?;
        total += n as u64;
        progress.advance(n as u64);
    }
}

/// Where the backup goes: stdout, or a hidden partial file renamed to its final name when
/// complete, and removed if anything fails before.
struct Target {
    output: Output,
    committed: bool,
}

enum Output {
    Stdout,
    File {
        partial: PathBuf,
        path: PathBuf,
        file: File,
    },
}

impl Target {
    fn open(dir: &Path, file_name: &str, force: bool) -> Result<Self> {
        if dir.as_os_str() == "-" {
            return Ok(Self {
                output: Output::Stdout,
                committed: false,
            });
        }
        if !dir.is_dir() {
            DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(|e| Error::io(format!("cannot create {}", dir.display()), e))?;
        }
        let path = dir.join(file_name);
        if path.exists() && !force {
            return Err(Error::failure(format!("{} already exists", path.display()))
                .with_hint("pass --force to replace it"));
        }
        let partial = dir.join(format!(".{file_name}.partial"));
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&partial)
            .map_err(|e| Error::io(format!("cannot create {}", partial.display()), e))?;
        Ok(Self {
            output: Output::File {
                partial,
                path,
                file,
            },
            committed: false,
        })
    }

    fn is_stdout(&self) -> bool {
        matches!(self.output, Output::Stdout)
    }

    fn describe(&self) -> String {
        match &self.output {
            Output::Stdout => "stdout".to_owned(),
            Output::File { partial, .. } => partial.display().to_string(),
        }
    }

    /// A buffered writer into the target.
    fn writer(&self) -> Result<Box<dyn Write + Send + Sync>> {
        Ok(match &self.output {
            Output::Stdout => Box::new(BufWriter::with_capacity(256 * 1024, io::stdout())),
            Output::File { file, partial, .. } => Box::new(BufWriter::with_capacity(
                256 * 1024,
                file.try_clone()
                    .map_err(|e| Error::io(format!("cannot write {}", partial.display()), e))?,
            )),
        })
    }

    /// Makes the backup durable under its final name; `None` for stdout.
    fn commit(mut self) -> Result<Option<PathBuf>> {
        self.committed = true;
        match &self.output {
            Output::Stdout => {
                io::stdout()
                    .flush()
                    .map_err(|e| Error::io("cannot write to stdout", e))?;
                Ok(None)
            }
            Output::File {
                partial,
                path,
                file,
            } => {
                let failed = |e| Error::io(format!("cannot save {}", path.display()), e);
                let done = file
                    .sync_all()
                    .and_then(|()| fs::rename(partial, path))
                    .and_then(|()| File::open(path.parent().unwrap_or(Path::new("."))))
                    .and_then(|dir| dir.sync_all());
                if let Err(e) = done {
                    let _ = fs::remove_file(partial);
                    return Err(failed(e));
                }
                Ok(Some(path.clone()))
            }
        }
    }
}

impl Drop for Target {
    fn drop(&mut self) {
        if let (false, Output::File { partial, .. }) = (self.committed, &self.output) {
            let _ = fs::remove_file(partial);
        }
    }
}

/// Bytes in binary units, for messages.
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_like_ls_h() {
        assert_eq!(human_size(512), "512 B");
        assert_eq!(human_size(1536), "1.5 KiB");
        assert_eq!(human_size(633 * 1024 * 1024), "633.0 MiB");
    }
}
