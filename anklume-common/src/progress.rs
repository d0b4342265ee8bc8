//! A progress line on stderr, shown only to a person: never when stderr is not a terminal or
//! with `-q`, so that logs and pipelines stay clean. stdout is never touched.

use std::io::{self, IsTerminal, Read, Write};
use std::time::{Duration, Instant};

const REDRAW_EVERY: Duration = Duration::from_millis(100);

/// Counts bytes of a long transfer and redraws one stderr line at most ten times a second.
#[derive(Debug)]
pub struct Progress {
    label: String,
    total: Option<u64>,
    done: u64,
    visible: bool,
    started: Instant,
    drawn: Option<Instant>,
}

impl Progress {
    /// `total` is the expected byte count when known. Visible only when stderr is a terminal
    /// and `quiet` is false.
    pub fn new(label: impl Into<String>, total: Option<u64>, quiet: bool) -> Self {
        Self {
            label: label.into(),
            total,
            done: 0,
            visible: !quiet && io::stderr().is_terminal(),
            started: Instant::now(),
            drawn: None,
        }
    }

    /// Sets the expected total once it is known.
    pub fn set_total(&mut self, total: u64) {
        self.total = Some(total);
    }

    pub fn is_visible(&self) -> bool {
        self.visible
    }

    pub fn advance(&mut self, bytes: u64) {
        self.done += bytes;
        if self.visible && self.drawn.is_none_or(|at| at.elapsed() >= REDRAW_EVERY) {
            self.draw();
        }
    }

    /// Draws the final figures and ends the line.
    pub fn finish(&mut self) {
        if self.visible {
            self.draw();
            eprintln!();
            self.visible = false;
        }
    }

    /// Wraps a reader so that every byte read advances the progress.
    pub fn reader<R: Read>(self, inner: R) -> ProgressReader<R> {
        ProgressReader {
            inner,
            progress: self,
        }
    }

    fn draw(&mut self) {
        self.drawn = Some(Instant::now());
        let line = render(&self.label, self.done, self.total, self.started.elapsed());
        let mut err = io::stderr().lock();
        // A progress line that cannot be drawn is not worth failing the transfer.
        let _ = write!(err, "\r\x1b[2K{line}");
        let _ = err.flush();
    }
}

/// A line left unfinished (a failure, an interruption) is ended, so that the error that
/// follows starts a line of its own.
impl Drop for Progress {
    fn drop(&mut self) {
        self.finish();
    }
}

/// A reader that reports its bytes to a [`Progress`], finishing it at end of input.
#[derive(Debug)]
pub struct ProgressReader<R> {
    inner: R,
    progress: Progress,
}

impl<R: Read> Read for ProgressReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n == 0 {
            self.progress.finish();
        } else {
            self.progress.advance(n as u64);
        }
        Ok(n)
    }
}

/// The size of what stdin will give when it is a regular file (`< FILE`), for a progress
/// line with a percentage; `None` for a pipe, a terminal or a socket.
pub fn stdin_size() -> Option<u64> {
    std::fs::metadata("/proc/self/fd/0")
        .ok()
        .filter(std::fs::Metadata::is_file)
        .map(|m| m.len())
}

/// `label  12.0 MiB / 48.0 MiB  25%  6.0 MiB/s  ETA 0:06`
pub fn render(label: &str, done: u64, total: Option<u64>, elapsed: Duration) -> String {
    let rate = done as f64 / elapsed.as_secs_f64().max(0.001);
    match total {
        Some(total) if total > 0 => format!(
            "{label}  {} / {}  {}%  {}/s  ETA {}",
            human_size(done),
            human_size(total),
            (done.min(total) * 100) / total,
            human_size(rate as u64),
            eta(total.saturating_sub(done), rate)
        ),
        _ => format!(
            "{label}  {}  {}/s",
            human_size(done),
            human_size(rate as u64)
        ),
    }
}

/// The time left at `rate` bytes a second, as `M:SS` (`H:MM:SS` past an hour); `-:--` before
/// anything moved.
fn eta(left: u64, rate: f64) -> String {
    if rate < 1.0 {
        return "-:--".to_owned();
    }
    let seconds = (left as f64 / rate).ceil() as u64;
    let (h, m, s) = (seconds / 3600, seconds / 60 % 60, seconds % 60);
    match h {
        0 => format!("{m}:{s:02}"),
        h => format!("{h}:{m:02}:{s:02}"),
    }
}

/// Bytes in binary units, as `ls -h` shows them: `512 B`, `1.5 KiB`, `633.0 MiB`.
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
    fn renders_amount_share_and_rate() {
        let mib = 1024 * 1024;
        assert_eq!(
            render(
                "export web",
                12 * mib,
                Some(48 * mib),
                Duration::from_secs(2)
            ),
            "export web  12.0 MiB / 48.0 MiB  25%  6.0 MiB/s  ETA 0:06"
        );
        assert_eq!(
            render("restore", 0, Some(mib), Duration::from_secs(1)),
            "restore  0 B / 1.0 MiB  0%  0 B/s  ETA -:--"
        );
        assert_eq!(eta(7200 + 61, 1.0), "2:01:01");
        assert_eq!(
            render("pull", 512, None, Duration::from_secs(1)),
            "pull  512 B  512 B/s"
        );
    }

    #[test]
    fn sizes_read_like_ls_h() {
        assert_eq!(human_size(512), "512 B");
        assert_eq!(human_size(1536), "1.5 KiB");
        assert_eq!(human_size(633 * 1024 * 1024), "633.0 MiB");
    }

    #[test]
    fn quiet_progress_is_never_visible() {
        assert!(!Progress::new("x", None, true).is_visible());
    }

    #[test]
    fn the_reader_passes_every_byte_through() {
        let data = vec![7u8; 100_000];
        let mut out = Vec::new();
        Progress::new("copy", Some(100_000), true)
            .reader(&data[..])
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out, data);
    }
}
