//! One shutdown deadline for every signal, and the waits bounded by it.
//!
//! The guard sets the deadline once; every queue drains under it, every export started during
//! shutdown gets `min(its export timeout, what is left)`, and the periodic metric reader's last export
//! too, so a dead collector costs the deadline once, not once per signal.

use std::future::Future;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::watch;

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

tokio::task_local! {
    /// The shutdown deadline of the worker running this export, once the guard set it.
    static STOP: watch::Receiver<Option<Instant>>;
}

/// Runs an exporter's `export` future so that [`effective`] and [`reached`] see the worker's shutdown
/// deadline: an export started before shutdown (with its own, later deadline) then ends by the
/// shutdown deadline itself and says what became of its items, instead of being cut blind.
pub(crate) async fn with_stop<F: Future>(stop: watch::Receiver<Option<Instant>>, export: F) -> F::Output {
    STOP.scope(stop, export).await
}

/// `deadline`, or the shutdown deadline of the export running on this task if that is earlier.
#[cfg_attr(not(any(feature = "otlp-grpc", feature = "otlp-http")), allow(dead_code))] // the OTLP exporters
pub(crate) fn effective(deadline: Instant) -> Instant {
    STOP.try_with(|stop| stop.borrow().map_or(deadline, |stop| stop.min(deadline))).unwrap_or(deadline)
}

/// Resolves at `deadline`, or at the shutdown deadline of the export running on this task if one is
/// set meanwhile and is earlier.
pub(crate) async fn reached(deadline: Instant) {
    let Ok(mut stop) = STOP.try_with(Clone::clone) else {
        return tokio::time::sleep_until(deadline.into()).await;
    };
    loop {
        let at = stop.borrow_and_update().map_or(deadline, |stop| stop.min(deadline));
        tokio::select! {
            () = tokio::time::sleep_until(at.into()) => return,
            changed = stop.changed() => if changed.is_err() {
                return tokio::time::sleep_until(at.into()).await;
            },
        }
    }
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

    #[tokio::test]
    async fn an_export_sees_a_shutdown_deadline_set_while_it_runs() {
        let (stop, stopped) = watch::channel(None);
        let far = Instant::now() + Duration::from_secs(600);
        assert_eq!(effective(far), far, "outside an export: its own deadline");
        let export = with_stop(stopped, async move {
            assert_eq!(effective(far), far);
            reached(far).await;
            effective(far)
        });
        let setter = async {
            tokio::time::sleep(Duration::from_millis(20)).await;
            stop.send_replace(Some(Instant::now() + Duration::from_millis(30)));
        };
        let started = Instant::now();
        let (seen, ()) = tokio::join!(export, setter);
        assert!(seen < far && started.elapsed() < Duration::from_secs(10), "{:?}", started.elapsed());
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
