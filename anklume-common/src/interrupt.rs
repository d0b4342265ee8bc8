//! SIGINT, SIGTERM and SIGHUP turned into a flag the runner checks, so that a tool can clean up
//! (destroy a disposable instance, remove a partial backup) before it exits 128 + N.

use std::io::{self, Read};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::thread;
use std::time::Duration;

use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};

use crate::error::{Error, Result};

/// Records the first of SIGINT, SIGTERM or SIGHUP received by the process.
#[derive(Debug, Clone, Default)]
pub struct Interrupt(Arc<AtomicUsize>);

impl Interrupt {
    /// Catches SIGINT, SIGTERM and SIGHUP from now on: they no longer end the process but set
    /// this flag, which [`crate::Incus::with_interrupt`] acts on. Later signals are caught too,
    /// so that a second Ctrl-C cannot cut the cleanup short.
    pub fn catch() -> Result<Self> {
        let interrupt = Self::default();
        for signal in [SIGINT, SIGTERM, SIGHUP] {
            signal_hook::flag::register_usize(signal, Arc::clone(&interrupt.0), signal as usize)
                .map_err(|e| Error::io("cannot catch signals", e))?;
        }
        Ok(interrupt)
    }

    /// The signal received, if any.
    pub fn signal(&self) -> Option<i32> {
        match self.0.load(Ordering::SeqCst) {
            0 => None,
            signal => Some(signal as i32),
        }
    }

    /// `Err(interrupted)` once a signal has arrived.
    pub fn check(&self) -> Result<()> {
        match self.signal() {
            Some(signal) => Err(Error::interrupted(signal)),
            None => Ok(()),
        }
    }
}

/// Makes SIGHUP harmless for a process that must outlive the terminal that started it.
pub fn ignore_hangup() -> Result<()> {
    signal_hook::flag::register(SIGHUP, Arc::default())
        .map(drop)
        .map_err(|e| Error::io("cannot ignore SIGHUP", e))
}

/// A reader whose blocking reads run on a thread of their own, so that a signal is noticed even
/// while no input comes: after our handler, a blocked read(2) is restarted, never interrupted.
/// Once the flag is set, `read` fails; the thread ends with the process. The thread reads
/// ahead (four chunks): work done while reading (decryption) overlaps with the writes.
///
/// The end of input is a message of its own: a reading thread that stopped without it (a
/// panic) is an error, never taken for a clean end.
pub struct InterruptibleReader {
    // In a Mutex only to be Sync, as OpenPGP readers require; never contended.
    chunks: Mutex<mpsc::Receiver<io::Result<Vec<u8>>>>,
    current: Vec<u8>,
    position: usize,
    interrupt: Interrupt,
    ended: bool,
}

impl InterruptibleReader {
    /// Size of each read; with four in flight, memory stays bounded whatever the input.
    const CHUNK: usize = 64 * 1024;

    pub fn spawn<R: Read + Send + 'static>(mut input: R, interrupt: &Interrupt) -> Self {
        let (sender, chunks) = mpsc::sync_channel(4);
        thread::spawn(move || {
            loop {
                let mut chunk = vec![0u8; Self::CHUNK];
                let (sent, last) = match input.read(&mut chunk) {
                    // The end: an empty chunk.
                    Ok(0) => (sender.send(Ok(Vec::new())), true),
                    Ok(n) => {
                        chunk.truncate(n);
                        (sender.send(Ok(chunk)), false)
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => (sender.send(Err(e)), true),
                };
                if sent.is_err() || last {
                    break;
                }
            }
        });
        Self {
            chunks: Mutex::new(chunks),
            current: Vec::new(),
            position: 0,
            interrupt: interrupt.clone(),
            ended: false,
        }
    }
}

impl Read for InterruptibleReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.position == self.current.len() && !self.ended {
            if let Some(signal) = self.interrupt.signal() {
                return Err(io::Error::other(format!("interrupted by signal {signal}")));
            }
            let chunks = self
                .chunks
                .get_mut()
                .map_err(|_| io::Error::other("reader thread failed"))?;
            match chunks.recv_timeout(Duration::from_millis(100)) {
                Ok(chunk) => {
                    self.current = chunk?;
                    self.position = 0;
                    self.ended = self.current.is_empty();
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    return Err(io::Error::other(
                        "the reading thread stopped before the end",
                    ));
                }
            }
        }
        let n = buf.len().min(self.current.len() - self.position);
        buf[..n].copy_from_slice(&self.current[self.position..self.position + n]);
        self.position += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader that yields `data` then panics instead of ending.
    struct Panicking(io::Cursor<Vec<u8>>);

    impl Read for Panicking {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            match self.0.read(buf)? {
                0 => panic!("a reader that dies"),
                n => Ok(n),
            }
        }
    }

    #[test]
    fn the_input_comes_through_whole_and_then_ends() {
        let data: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
        let mut reader =
            InterruptibleReader::spawn(io::Cursor::new(data.clone()), &Interrupt::default());
        let mut read = Vec::new();
        reader.read_to_end(&mut read).unwrap();
        assert_eq!(read, data);
        assert_eq!(reader.read(&mut [0u8; 8]).unwrap(), 0);
    }

    #[test]
    fn a_reading_thread_that_dies_is_an_error_not_an_end() {
        let reader = Panicking(io::Cursor::new(vec![7u8; 100_000]));
        let mut reader = InterruptibleReader::spawn(reader, &Interrupt::default());
        let mut read = Vec::new();
        let error = reader.read_to_end(&mut read).unwrap_err();
        assert!(
            error.to_string().contains("stopped before the end"),
            "{error}"
        );
        assert_eq!(read.len(), 100_000);
    }
}
