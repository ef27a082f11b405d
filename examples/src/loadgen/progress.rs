//! The live progress line: totals so far and the request rate of the last tick, on stderr.

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Counters every user bumps after each request, read by the progress line.
#[derive(Debug, Default)]
pub struct Live {
    requests: AtomicU64,
    failures: AtomicU64,
}

impl Live {
    pub fn record(&self, failed: bool) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        if failed {
            self.failures.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Rewrites one terminal line in place while the run lasts.
#[derive(Debug)]
pub struct Progress {
    enabled: bool,
    users: u32,
    duration: Duration,
    last: Option<(Duration, u64)>,
}

impl Progress {
    pub fn new(enabled: bool, users: u32, duration: Duration) -> Self {
        Self { enabled, users, duration, last: None }
    }

    pub fn show(&mut self, elapsed: Duration, spawned: u32, live: &Live) {
        if self.enabled {
            let line = self.line(elapsed, spawned, live);
            let mut stderr = std::io::stderr().lock();
            // A terminal gets one line rewritten in place; a file or pipe gets a line per tick.
            // A closed stderr must not end the run.
            let _ = if stderr.is_terminal() { write!(stderr, "\r{line}\x1b[K") } else { writeln!(stderr, "{line}") };
            let _ = stderr.flush();
        }
    }

    /// The last line: totals and the average rate over the whole run.
    pub fn finish(&mut self, elapsed: Duration, spawned: u32, live: &Live) {
        if self.enabled {
            self.last = None;
            self.show(elapsed, spawned, live);
            if std::io::stderr().is_terminal() {
                eprintln!();
            }
        }
    }

    fn line(&mut self, elapsed: Duration, spawned: u32, live: &Live) -> String {
        let requests = live.requests.load(Ordering::Relaxed);
        let failures = live.failures.load(Ordering::Relaxed);
        let (since, before) = self.last.replace((elapsed, requests)).unwrap_or_default();
        let window = elapsed.saturating_sub(since).as_secs_f64();
        let rate = if window > 0.0 { requests.saturating_sub(before) as f64 / window } else { 0.0 };
        let failed_percent = if requests > 0 { failures as f64 * 100.0 / requests as f64 } else { 0.0 };
        format!(
            "[{:>4}s/{}s] users {spawned}/{} | requests {requests} | failures {failures} ({failed_percent:.1}%) | {rate:.1} req/s",
            elapsed.as_secs(),
            self.duration.as_secs(),
            self.users,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_shows_totals_and_the_rate_since_the_last_tick() {
        let live = Live::default();
        let mut progress = Progress::new(false, 10, Duration::from_secs(30));
        for failed in [false, false, true, false] {
            live.record(failed);
        }
        let first = progress.line(Duration::from_secs(2), 3, &live);
        assert_eq!(first, "[   2s/30s] users 3/10 | requests 4 | failures 1 (25.0%) | 2.0 req/s");
        live.record(false);
        let second = progress.line(Duration::from_millis(2500), 4, &live);
        assert!(second.ends_with("requests 5 | failures 1 (20.0%) | 2.0 req/s"), "{second}");
    }
}
