//! rustic's progress (checking packs, repacking, reading the index) as one line on stderr, on a
//! terminal only and never with `-q`, like every other progress line of the tools.

use std::io::{self, IsTerminal, Write};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anklume_common::progress::render;
use rustic_core::{Progress, ProgressBars, ProgressType, RusticProgress};

/// Hands rustic a [`Line`] for each of its steps; hidden ones when not on a terminal.
#[derive(Debug, Clone, Copy)]
pub struct Bars {
    visible: bool,
}

impl Bars {
    pub fn new(quiet: bool) -> Self {
        Self {
            visible: !quiet && io::stderr().is_terminal(),
        }
    }
}

impl ProgressBars for Bars {
    fn progress(&self, kind: ProgressType, prefix: &str) -> Progress {
        if !self.visible {
            return Progress::hidden();
        }
        Progress::new(Line {
            bytes: matches!(kind, ProgressType::Bytes),
            state: Mutex::new(State {
                title: prefix.trim_end_matches(['.', ' ']).to_owned(),
                done: 0,
                total: None,
                started: Instant::now(),
                drawn: None,
            }),
        })
    }
}

#[derive(Debug)]
struct State {
    title: String,
    done: u64,
    total: Option<u64>,
    started: Instant,
    drawn: Option<Instant>,
}

/// One step's line: bytes with rate and ETA, or a count of things.
#[derive(Debug)]
struct Line {
    /// Bytes (else a count).
    bytes: bool,
    state: Mutex<State>,
}

impl Line {
    fn draw(&self, state: &mut State, last: bool) {
        if !last
            && state
                .drawn
                .is_some_and(|at| at.elapsed() < Duration::from_millis(100))
        {
            return;
        }
        state.drawn = Some(Instant::now());
        let text = match (self.bytes, state.total) {
            (true, total) => render(&state.title, state.done, total, state.started.elapsed()),
            (false, Some(total)) if total > 0 => format!(
                "{}  {} / {total}  {}%",
                state.title,
                state.done,
                state.done.min(total) * 100 / total
            ),
            (false, _) if state.done > 0 => format!("{}  {}", state.title, state.done),
            (false, _) => format!("{}…", state.title),
        };
        let mut err = io::stderr().lock();
        let _ = write!(err, "\r\x1b[2K{text}{}", if last { "\n" } else { "" });
        let _ = err.flush();
    }
}

impl RusticProgress for Line {
    fn is_hidden(&self) -> bool {
        false
    }

    fn set_length(&self, len: u64) {
        if let Ok(mut state) = self.state.lock() {
            state.total = Some(len);
        }
    }

    fn set_title(&self, title: &str) {
        if let Ok(mut state) = self.state.lock() {
            state.title = title.to_owned();
        }
    }

    fn inc(&self, inc: u64) {
        if let Ok(mut state) = self.state.lock() {
            state.done += inc;
            self.draw(&mut state, false);
        }
    }

    fn finish(&self) {
        if let Ok(mut state) = self.state.lock() {
            self.draw(&mut state, true);
        }
    }
}
