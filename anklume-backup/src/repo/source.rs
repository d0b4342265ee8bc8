//! `incus export`'s stream as the single file of a snapshot (rustic's `ReadSource`). Its end
//! reaches rustic only once Incus said the export succeeded: a failed or killed export is a
//! read error. rustic saves a snapshot even then (without the file: it skips files it cannot
//! read), so [`ExportSource::complete`] tells whether the snapshot holds the whole export.

use std::ffi::OsStr;
use std::io::{self, Read};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use anklume_common::progress::Progress;
use anklume_common::{Interrupt, InterruptibleReader, Stream};
use rustic_core::repofile::{Metadata, Node, NodeType};
use rustic_core::{
    ErrorKind, ReadSource, ReadSourceEntry, ReadSourceOpen, RusticError, RusticResult,
};

/// The export, read once.
pub struct ExportSource {
    path: PathBuf,
    reader: Mutex<Option<ExportReader>>,
    error: Arc<Mutex<Option<anklume_common::Error>>>,
    complete: Arc<AtomicBool>,
}

impl ExportSource {
    /// `export` (whose stdout is still in it) as the file `path` of the snapshot.
    pub fn new(
        mut export: Stream,
        path: PathBuf,
        interrupt: &Interrupt,
        progress: Progress,
    ) -> Self {
        let stdout = export.take_stdout();
        let error = Arc::new(Mutex::new(None));
        let complete = Arc::new(AtomicBool::new(false));
        let reader = ExportReader {
            stdout: stdout.map(|out| InterruptibleReader::spawn(out, interrupt)),
            export: Some(export),
            progress,
            error: Arc::clone(&error),
            complete: Arc::clone(&complete),
        };
        Self {
            path,
            reader: Mutex::new(Some(reader)),
            error,
            complete,
        }
    }

    /// Whether the export was read to its end and Incus said it succeeded.
    pub fn complete(&self) -> bool {
        self.complete.load(Ordering::SeqCst)
    }

    /// Incus's own error, when the export failed: it says more than rustic's.
    pub fn incus_error(&self) -> Option<anklume_common::Error> {
        self.error.lock().ok()?.take()
    }
}

pub struct Opener(Option<ExportReader>);

impl ReadSourceOpen for Opener {
    type Reader = ExportReader;

    fn open(self) -> RusticResult<ExportReader> {
        self.0
            .ok_or_else(|| RusticError::new(ErrorKind::Internal, "the export was already read"))
    }
}

impl ReadSource for ExportSource {
    type Open = Opener;
    type Iter = std::iter::Once<RusticResult<ReadSourceEntry<Opener>>>;

    fn size(&self) -> RusticResult<Option<u64>> {
        Ok(None)
    }

    fn entries(&self) -> Self::Iter {
        let reader = self.reader.lock().ok().and_then(|mut r| r.take());
        let name = self.path.file_name().unwrap_or(OsStr::new("export.tar"));
        let meta = Metadata {
            mode: Some(0o600),
            mtime: Some(rustic_core::jiff::Timestamp::now()),
            ..Metadata::default()
        };
        std::iter::once(Ok(ReadSourceEntry {
            path: self.path.clone(),
            node: Node::new_node(name, NodeType::File, meta),
            open: Some(Opener(reader)),
        }))
    }
}

/// The export's output; at its end, Incus's verdict.
pub struct ExportReader {
    stdout: Option<InterruptibleReader>,
    export: Option<Stream>,
    progress: Progress,
    error: Arc<Mutex<Option<anklume_common::Error>>>,
    complete: Arc<AtomicBool>,
}

impl Read for ExportReader {
    /// Fills `buf` whole unless the export ends: rustic's chunker shrinks its buffer to every
    /// short read and never grows it back, so short reads would make it read byte by byte.
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let Some(stdout) = self.stdout.as_mut() else {
            return Err(io::Error::other("incus export has no output pipe"));
        };
        let mut n = 0;
        while n < buf.len() {
            match stdout.read(&mut buf[n..])? {
                0 => break,
                read => n += read,
            }
        }
        self.progress.advance(n as u64);
        if n > 0 || buf.is_empty() {
            return Ok(n);
        }
        self.progress.finish();
        match self.export.take().map(Stream::finish) {
            Some(Err(error)) => {
                let message = error.message().to_owned();
                if let Ok(mut slot) = self.error.lock() {
                    *slot = Some(error);
                }
                Err(io::Error::other(message))
            }
            Some(Ok(())) => {
                self.complete.store(true, Ordering::SeqCst);
                Ok(0)
            }
            None => Ok(0),
        }
    }
}
