//! Exponential backoff with jitter, never past the export deadline.

use std::hash::{BuildHasher, Hasher};
use std::time::{Duration, Instant};

/// The first wait after a transient failure; each later one doubles, up to [`MAX_DELAY`].
const INITIAL_DELAY: Duration = Duration::from_millis(100);
const MAX_DELAY: Duration = Duration::from_secs(5);
/// Retries of one request at most (the deadline usually ends them first).
const MAX_RETRIES: u32 = 8;

/// The retry schedule of one request.
#[derive(Debug)]
pub(super) struct Backoff {
    retries: u32,
    deadline: Instant,
}

impl Backoff {
    pub(super) fn new(deadline: Instant) -> Self {
        Self { retries: 0, deadline }
    }

    /// When to try again: the collector's own delay if it gave one and it is longer, else our jittered
    /// exponential delay; `None` when that would reach the deadline or the retries are used up.
    pub(super) fn next(&mut self, asked: Option<Duration>, now: Instant) -> Option<Instant> {
        if self.retries >= MAX_RETRIES {
            return None;
        }
        let exponential = INITIAL_DELAY.saturating_mul(1 << self.retries.min(16)).min(MAX_DELAY);
        self.retries += 1;
        let delay = jitter(exponential).max(asked.unwrap_or_default());
        let at = now.checked_add(delay)?;
        (at < self.deadline).then_some(at)
    }
}

/// A delay drawn uniformly from [delay / 2, delay], so exporters that failed together do not retry
/// together.
fn jitter(delay: Duration) -> Duration {
    let half = delay / 2;
    let nanos = u64::try_from(half.as_nanos()).unwrap_or(u64::MAX).max(1);
    half + Duration::from_nanos(random() % nanos)
}

/// A random number from the standard library's per-process random hash keys and the clock.
fn random() -> u64 {
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(Instant::now().elapsed().as_nanos());
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_with_jitter_and_stop_at_the_deadline() {
        let start = Instant::now();
        let mut backoff = Backoff::new(start + Duration::from_secs(60));
        let mut previous_max = Duration::ZERO;
        for retry in 0..6u32 {
            let at = backoff.next(None, start).expect("far from the deadline");
            let delay = at - start;
            let nominal = INITIAL_DELAY * (1 << retry);
            assert!(
                delay >= nominal / 2 && delay <= nominal,
                "retry {retry}: {delay:?} within [{nominal:?}/2, {nominal:?}]"
            );
            assert!(nominal > previous_max || nominal == MAX_DELAY);
            previous_max = nominal;
        }
        let mut short = Backoff::new(start + Duration::from_millis(40));
        assert_eq!(short.next(None, start), None, "the first 50-100 ms wait would pass a 40 ms deadline");
    }

    #[test]
    fn the_collector_delay_wins_when_longer_and_retries_are_bounded() {
        let start = Instant::now();
        let mut backoff = Backoff::new(start + Duration::from_secs(3600));
        let at = backoff.next(Some(Duration::from_secs(2)), start).expect("within the deadline");
        assert_eq!(at - start, Duration::from_secs(2));
        let granted = (0..100).filter(|_| backoff.next(None, start).is_some()).count();
        assert_eq!(granted as u32, MAX_RETRIES - 1);
        let mut late = Backoff::new(start + Duration::from_secs(1));
        assert_eq!(late.next(Some(Duration::from_secs(2)), start), None, "a delay past the deadline is no retry");
    }
}
