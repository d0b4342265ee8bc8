//! The `incus` client's own closing `Error: ...` line, told apart from the output before it:
//! a stderr passed through as it comes, all but a last line that starts with `Error: `, which
//! is held back and given to the caller to say in the tool's words.

use std::io::{self, Read, Write};

const PREFIX: &[u8] = b"Error: ";

/// A line held back longer than this is not the client's: it is passed on (and what follows).
const HELD_LIMIT: usize = 4096;

/// Copies `input` to `output` as it comes, holding back the last line when it starts with
/// `Error: `; returns that line, without its prefix and newline. A held line that more output
/// follows is passed on: only the very last one is the client's.
pub fn pass_all_but_closing_error(mut input: impl Read, output: &mut dyn Write) -> Option<String> {
    let mut filter = Filter::default();
    let mut buf = [0u8; 8192];
    loop {
        let n = match input.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        };
        let passed = filter.feed(&buf[..n]);
        // A stderr that cannot be written to has nobody to tell.
        let _ = output.write_all(&passed).and_then(|()| output.flush());
    }
    let (rest, closing) = filter.closing();
    let _ = output.write_all(&rest).and_then(|()| output.flush());
    closing
}

#[derive(Default)]
struct Filter {
    /// The line under way, while it may still be an `Error: ` line.
    held: Vec<u8>,
    /// A whole `Error: ` line, passed on only if more output follows.
    complete: Option<Vec<u8>>,
    /// Whether the next byte starts a line.
    mid_line: bool,
}

impl Filter {
    /// What may be written now of `bytes`.
    fn feed(&mut self, bytes: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(bytes.len());
        for &byte in bytes {
            let holding = !self.held.is_empty() || (!self.mid_line && byte == PREFIX[0]);
            if holding {
                self.held.push(byte);
                let len = self.held.len().min(PREFIX.len());
                if self.held[..len] != PREFIX[..len] || self.held.len() > HELD_LIMIT {
                    self.release(&mut out);
                } else if byte == b'\n' {
                    if let Some(earlier) = self.complete.take() {
                        out.extend(earlier);
                    }
                    self.complete = Some(std::mem::take(&mut self.held));
                }
            } else {
                if let Some(earlier) = self.complete.take() {
                    out.extend(earlier);
                }
                out.push(byte);
            }
            self.mid_line = byte != b'\n';
        }
        out
    }

    /// A held beginning that turned out not to be an `Error: ` line goes out.
    fn release(&mut self, out: &mut Vec<u8>) {
        if let Some(earlier) = self.complete.take() {
            out.extend(earlier);
        }
        out.append(&mut self.held);
    }

    /// At the end: what is still to be written, and the closing line if the output ended
    /// with one.
    fn closing(mut self) -> (Vec<u8>, Option<String>) {
        let mut rest = Vec::new();
        let line = match (self.complete.take(), self.held.starts_with(PREFIX)) {
            (earlier, true) => {
                rest.extend(earlier.unwrap_or_default());
                std::mem::take(&mut self.held)
            }
            (Some(line), false) if self.held.is_empty() => line,
            (earlier, false) => {
                rest.extend(earlier.unwrap_or_default());
                rest.append(&mut self.held);
                return (rest, None);
            }
        };
        let text = String::from_utf8_lossy(&line[PREFIX.len()..]);
        (rest, Some(text.trim_end_matches(['\n', '\r']).to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(input: &[u8]) -> (String, Option<String>) {
        let mut out = Vec::new();
        let closing = pass_all_but_closing_error(input, &mut out);
        (String::from_utf8(out).unwrap(), closing)
    }

    #[test]
    fn only_a_last_error_line_is_held_back() {
        let (out, closing) = run(b"sh: nosuch: not found\nError: Command not found\n");
        assert_eq!(out, "sh: nosuch: not found\n");
        assert_eq!(closing.as_deref(), Some("Command not found"));
        // Followed by more output, it was the command's own.
        let (out, closing) = run(b"Error: mine\nmore\n");
        assert_eq!(out, "Error: mine\nmore\n");
        assert_eq!(closing, None);
        // Not at the start of a line, or not quite the prefix: passed on.
        let (out, closing) = run(b"an Error: here\nErr\nErrand\n");
        assert_eq!(out, "an Error: here\nErr\nErrand\n");
        assert_eq!(closing, None);
        // Without its newline, and split across reads the same way.
        let (out, closing) = run(b"x\nError: Command not executable");
        assert_eq!(out, "x\n");
        assert_eq!(closing.as_deref(), Some("Command not executable"));
    }

    #[test]
    fn bytes_pass_as_they_come() {
        let mut filter = Filter::default();
        assert_eq!(filter.feed(b"prompt> "), b"prompt> ");
        assert_eq!(filter.feed(b"\nE"), b"\n");
        assert_eq!(filter.feed(b"rrno"), b"Errno");
        assert_eq!(filter.closing(), (Vec::new(), None));
    }

    #[test]
    fn nothing_is_lost_at_the_end_and_a_long_line_is_not_held() {
        let (out, closing) = run(b"Error: one\nError: two\n");
        assert_eq!(out, "Error: one\n");
        assert_eq!(closing.as_deref(), Some("two"));
        let (out, closing) = run(b"x\nErr");
        assert_eq!(out, "x\nErr");
        assert_eq!(closing, None);
        let long = format!("Error: {}", "y".repeat(10_000));
        let (out, closing) = run(long.as_bytes());
        assert_eq!(out, long);
        assert_eq!(closing, None);
    }
}
