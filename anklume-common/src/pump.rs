//! The one byte pump of the tools: copies a stream in bounded memory, advancing a progress
//! line, stopping at a signal, and telling a failure to read from a failure to write so that
//! each caller can name the side that failed.

use std::io::{self, Read, Write};

use crate::interrupt::Interrupt;
use crate::progress::Progress;

/// How much is moved at once.
const BUFFER: usize = 256 * 1024;

/// Why a pump stopped before the end of its source.
#[derive(Debug)]
pub enum PumpError {
    /// The source failed.
    Read(io::Error),
    /// The sink failed.
    Write(io::Error),
    /// A signal arrived (its number).
    Interrupted(i32),
}

/// Copies `source` into `sink` until the source ends; returns the bytes moved. Reads that
/// report `Interrupted` are retried; `interrupt`, when given, is checked between chunks.
pub fn pump(
    source: &mut dyn Read,
    sink: &mut dyn Write,
    mut progress: Option<&mut Progress>,
    interrupt: Option<&Interrupt>,
) -> Result<u64, PumpError> {
    let mut buf = vec![0u8; BUFFER];
    let mut total = 0;
    loop {
        if let Some(signal) = interrupt.and_then(Interrupt::signal) {
            return Err(PumpError::Interrupted(signal));
        }
        let n = match source.read(&mut buf) {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(PumpError::Read(e)),
        };
        sink.write_all(&buf[..n]).map_err(PumpError::Write)?;
        total += n as u64;
        if let Some(progress) = progress.as_deref_mut() {
            progress.advance(n as u64);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Failing;

    impl Read for Failing {
        fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
            Err(io::Error::other("disk on fire"))
        }
    }

    impl Write for Failing {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Err(io::ErrorKind::StorageFull.into())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn everything_is_moved_and_counted() {
        let data = vec![9u8; 600_000];
        let mut out = Vec::new();
        let mut progress = Progress::new("copy", None, true);
        let moved = pump(&mut &data[..], &mut out, Some(&mut progress), None).unwrap();
        assert_eq!(moved, 600_000);
        assert_eq!(out, data);
    }

    #[test]
    fn the_failing_side_is_told() {
        let mut out = Vec::new();
        let read = pump(&mut Failing, &mut out, None, None);
        assert!(matches!(read, Err(PumpError::Read(_))), "{read:?}");
        let write = pump(&mut &b"x"[..], &mut Failing, None, None);
        assert!(matches!(write, Err(PumpError::Write(_))), "{write:?}");
    }
}
