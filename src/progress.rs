//! A progress line on stderr for commands that may take more than a
//! couple of seconds (`pj bench` of a large kernel, `pj difftest`): shown
//! only on a terminal and only once a task has run for two seconds, rewritten
//! in place, erased when done — a quick command prints nothing extra, and
//! a pipe or a log file never sees it.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

/// How long a task runs before its progress is shown: two seconds, or
/// `PJ_PROGRESS_AFTER_MS` (0: at once).
fn after() -> Duration {
    std::env::var("PJ_PROGRESS_AFTER_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .map_or(Duration::from_secs(2), Duration::from_millis)
}

/// One task's progress line.
pub struct Progress {
    what: &'static str,
    start: Instant,
    after: Duration,
    last: Instant,
    shown: bool,
    terminal: bool,
}

impl Progress {
    /// Starts timing `what` (`"bench"`).
    pub fn new(what: &'static str) -> Progress {
        let now = Instant::now();
        Progress {
            what,
            start: now,
            after: after(),
            last: now,
            shown: false,
            terminal: std::io::stderr().is_terminal(),
        }
    }

    /// Erases the line (before printing something else); the next tick
    /// shows it again.
    pub fn clear(&mut self) {
        if self.shown {
            let mut e = std::io::stderr().lock();
            let _ = write!(e, "\r\x1b[2K");
            let _ = e.flush();
            self.shown = false;
        }
    }

    /// Says where the task is (`"run 12"`), at most ten times a second.
    pub fn tick(&mut self, now: impl FnOnce() -> String) {
        if !self.terminal || self.start.elapsed() < self.after {
            return;
        }
        if self.shown && self.last.elapsed() < Duration::from_millis(100) {
            return;
        }
        self.last = Instant::now();
        self.shown = true;
        let mut e = std::io::stderr().lock();
        let _ = write!(
            e,
            "\r\x1b[2K{}: {} ({:.1} s)",
            self.what,
            now(),
            self.start.elapsed().as_secs_f64()
        );
        let _ = e.flush();
    }
}

impl Drop for Progress {
    /// Erases the line, so that what follows starts clean.
    fn drop(&mut self) {
        self.clear();
    }
}
