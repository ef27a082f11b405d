//! One shutdown deadline for every signal, and the waits bounded by it.
//!
//! The guard sets the deadline once; every queue drains under it, every export started during
//! shutdown gets `min(its export timeout, what is left)`, and the periodic metric reader's last export
//! too, so a dead collector costs the deadline once, not once per signal.

use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// How long past its deadline an export may take before the worker stops waiting for it (the
/// contract gives exporters "a few milliseconds").
pub(crate) const EXPORT_GRACE: Duration = Duration::from_millis(50);

/// How long past the deadline the guard waits for the workers to count what the deadline cut.
pub(crate) const COUNTING_GRACE: Duration = Duration::from_millis(500);

/// The deadline of the shutdown or flush in progress, shared by everything that exports.
#[derive(Debug, Clone, Default)]
pub(crate) struct SharedDeadline(Arc<Mutex<Option<Instant>>>);

impl SharedDeadline {
    /// Sets the deadline; an earlier one already set stays.
    pub(crate) fn set(&self, deadline: Instant) {
        if let Ok(mut current) = self.0.lock() {
            *current = Some(current.map_or(deadline, |current| current.min(deadline)));
        }
    }

    pub(crate) fn clear(&self) {
        if let Ok(mut current) = self.0.lock() {
            *current = None;
        }
    }

    pub(crate) fn get(&self) -> Option<Instant> {
        self.0.lock().ok().and_then(|current| *current)
    }

    /// The deadline in force, else `timeout` from now.
    pub(crate) fn or_after(&self, timeout: Duration) -> Instant {
        self.get().unwrap_or_else(|| after(timeout))
    }
}

/// `timeout` from now, saturating instead of panicking on an absurd timeout.
pub(crate) fn after(timeout: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(timeout).unwrap_or_else(|| now + Duration::from_secs(365 * 24 * 3600))
}

/// Something that finishes once (a flush, a worker's stop), waited for from plain threads.
#[derive(Debug, Default)]
pub(crate) struct Completion {
    done: Mutex<bool>,
    finished: Condvar,
}

impl Completion {
    pub(crate) fn finish(&self) {
        if let Ok(mut done) = self.done.lock() {
            *done = true;
        }
        self.finished.notify_all();
    }

    pub(crate) fn is_done(&self) -> bool {
        self.done.lock().map(|done| *done).unwrap_or(true)
    }

    /// Waits until it finished (true) or `deadline` passed (false).
    pub(crate) fn wait_until(&self, deadline: Instant) -> bool {
        let Ok(mut done) = self.done.lock() else { return true };
        while !*done {
            let Some(left) = deadline.checked_duration_since(Instant::now()).filter(|left| !left.is_zero()) else {
                return false;
            };
            match self.finished.wait_timeout(done, left) {
                Ok((guard, _)) => done = guard,
                Err(_) => return true,
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_earliest_deadline_stays() {
        let shared = SharedDeadline::default();
        let soon = Instant::now() + Duration::from_secs(1);
        shared.set(soon + Duration::from_secs(1));
        shared.set(soon);
        shared.set(soon + Duration::from_secs(5));
        assert_eq!(shared.get(), Some(soon));
        assert_eq!(shared.or_after(Duration::from_secs(60)), soon);
        shared.clear();
        assert!(shared.or_after(Duration::from_secs(60)) > soon + Duration::from_secs(50));
        assert!(after(Duration::MAX) > Instant::now(), "no overflow panic");
    }

    #[test]
    fn a_wait_ends_at_completion_or_deadline() {
        let completion = Arc::new(Completion::default());
        assert!(!completion.wait_until(Instant::now() + Duration::from_millis(20)));
        let finisher = completion.clone();
        let thread = std::thread::spawn(move || finisher.finish());
        assert!(completion.wait_until(Instant::now() + Duration::from_secs(10)));
        thread.join().expect("finisher");
        assert!(completion.is_done());
    }
}
