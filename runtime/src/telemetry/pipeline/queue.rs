//! The bounded queue between the application's threads and one exporter's worker, and the state the
//! two share: counters, the wake-up rule, flush and stop requests.
//!
//! `push` is the hot path (`on_end`, `emit`; guarded by `cargo bench -p traced --bench span_cost --
//! pipeline`): a place taken in the queue (one compare-and-swap on the count of accepted items, checked
//! against the worker's count of taken ones), then a push onto the calling thread's own buffer (see
//! `buffers`) under its uncontended lock, one atomic load. It never blocks: a full queue drops the
//! item and counts it, a closed one (shut down) counts it too. The worker is woken only when it asked
//! to be: by the item that completes a batch, or by the first item after it went idle on an empty
//! queue, so a busy queue costs no wake-up per item and an idle one no timer.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::sync::{watch, Notify};

use super::accounting::{Counts, SignalAccounting};
use super::buffers::Buffers;
use super::deadline::Completion;

/// Which signal a queue carries, for messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Signal {
    Spans,
    LogRecords,
    MetricExports,
}

impl Signal {
    pub(crate) fn noun(self) -> &'static str {
        match self {
            Signal::Spans => "spans",
            Signal::LogRecords => "log records",
            Signal::MetricExports => "metric exports",
        }
    }

    fn queue(self) -> &'static str {
        match self {
            Signal::Spans => "span export queue",
            Signal::LogRecords => "log record export queue",
            Signal::MetricExports => "metric export",
        }
    }

    fn size_variable(self) -> &'static str {
        match self {
            Signal::Spans => "OTEL_BSP_MAX_QUEUE_SIZE",
            Signal::LogRecords => "OTEL_BLRP_MAX_QUEUE_SIZE",
            Signal::MetricExports => "",
        }
    }
}

/// A flush or stop asked of the worker.
#[derive(Debug, Default)]
pub(crate) struct Requests {
    /// Stop by this deadline: drain, count what is left, finish `stopped`.
    pub(crate) stop: Option<Instant>,
    /// Export everything queued up to `accepted` at the time of asking, then finish.
    pub(crate) flushes: Vec<(u64, Arc<Completion>)>,
}

/// What the queue's producers and its worker share.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) signal: Signal,
    /// Which exporter, for messages (`otlp`, `console`).
    pub(crate) exporter: &'static str,
    capacity: usize,
    pub(crate) counts: Counts,
    /// The `accepted` count at which the worker wants to be woken.
    threshold: AtomicU64,
    pub(super) wake: Notify,
    requests: Mutex<Requests>,
    pub(super) requested: Notify,
    /// The stop deadline again, for the export in flight (see `deadline::with_stop`).
    stop_deadline: watch::Sender<Option<Instant>>,
    pub(crate) stopped: Completion,
    /// Set when the worker stops (or is gone): items pushed from then on count as after shutdown.
    closed: AtomicBool,
    warned: AtomicBool,
}

impl Shared {
    pub(crate) fn new(signal: Signal, exporter: &'static str, capacity: usize) -> Self {
        Self {
            signal,
            exporter,
            capacity,
            counts: Counts::default(),
            threshold: AtomicU64::new(1),
            wake: Notify::new(),
            requests: Mutex::new(Requests::default()),
            requested: Notify::new(),
            stop_deadline: watch::Sender::new(None),
            stopped: Completion::default(),
            closed: AtomicBool::new(false),
            warned: AtomicBool::new(false),
        }
    }

    pub(crate) fn accounting(&self) -> SignalAccounting {
        self.counts.snapshot()
    }

    /// Asks the worker to stop by `deadline` (the first deadline asked stays).
    pub(crate) fn stop(&self, deadline: Instant) {
        if let Ok(mut requests) = self.requests.lock() {
            requests.stop.get_or_insert(deadline);
        }
        self.stop_deadline.send_if_modified(|stop| {
            let first = stop.is_none();
            stop.get_or_insert(deadline);
            first
        });
        self.requested.notify_one();
    }

    /// Asks the worker to export what is queued now; the completion finishes when it did.
    pub(crate) fn flush(&self) -> Arc<Completion> {
        let completion = Arc::new(Completion::default());
        if let Ok(mut requests) = self.requests.lock() {
            requests.flushes.push((self.counts.accepted(), completion.clone()));
        }
        self.requested.notify_one();
        completion
    }

    /// The stop deadline as the export in flight watches it.
    pub(super) fn watch_stop(&self) -> watch::Receiver<Option<Instant>> {
        self.stop_deadline.subscribe()
    }

    pub(super) fn take_requests(&self) -> Requests {
        self.requests.lock().map(|mut requests| std::mem::take(&mut *requests)).unwrap_or_default()
    }

    pub(super) fn stop_deadline(&self) -> Option<Instant> {
        self.requests.lock().ok().and_then(|requests| requests.stop)
    }

    /// From now on, pushes count as after shutdown (read under a buffer's lock, so an item pushed
    /// before is in a buffer when the worker empties it next).
    pub(super) fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
    }

    /// The worker wants a wake-up once `accepted` reaches `threshold`; false if it already did.
    pub(super) fn wake_at(&self, threshold: u64) -> bool {
        self.threshold.store(threshold, Ordering::SeqCst);
        self.counts.accepted() < threshold
    }

    fn queue_full(&self) {
        if self.counts.queue_full() == 1 && !self.warned.swap(true, Ordering::Relaxed) {
            eprintln!("{}", self.queue_full_warning());
        }
    }

    fn queue_full_warning(&self) -> String {
        format!(
            "traced: the {} {} is full ({}={}): {} are dropped until the exporter catches up; they are counted \
             and the totals are printed at shutdown (this warning is printed once)",
            self.exporter,
            self.signal.queue(),
            self.signal.size_variable(),
            self.capacity,
            self.signal.noun()
        )
    }
}

/// The producers' end of one exporter's queue.
#[derive(Debug)]
pub(crate) struct Queue<T> {
    buffers: Arc<Buffers<T>>,
    pub(crate) shared: Arc<Shared>,
}

impl<T: Send + 'static> Queue<T> {
    /// A queue of `capacity` items and the buffers its worker empties; an emptied thread buffer keeps
    /// room for `retained` items (the export batch size).
    pub(crate) fn new(shared: Arc<Shared>, retained: usize) -> (Self, Arc<Buffers<T>>) {
        let buffers = Arc::new(Buffers::new(retained.min(shared.capacity)));
        (Self { buffers: buffers.clone(), shared }, buffers)
    }

    // Hot path: see the module comment and the `pipeline` cases of span_cost.
    pub(crate) fn push(&self, item: T) {
        // Closures below hold the item by reference: moving a span (hundreds of bytes) costs.
        let mut item = Some(item);
        self.push_with(|| item.take());
    }

    /// As `push`, making the item only if the queue has room (a log record is copied to be queued).
    pub(crate) fn push_with(&self, make: impl FnOnce() -> Option<T>) {
        let shared = &*self.shared;
        let mut accepted = 0;
        self.buffers.with_own(|buffer| {
            if shared.closed.load(Ordering::SeqCst) {
                return shared.counts.after_shutdown();
            }
            match shared.counts.reserve(shared.capacity as u64) {
                Some(count) => {
                    buffer.extend(make());
                    accepted = count;
                }
                None => shared.queue_full(),
            }
        });
        if accepted != 0 && accepted == shared.threshold.load(Ordering::SeqCst) {
            shared.wake.notify_one();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_queue_counts_and_warns_once_a_closed_one_counts_after_shutdown() {
        let shared = Arc::new(Shared::new(Signal::Spans, "otlp", 2));
        let (queue, _buffers) = Queue::new(shared.clone(), 512);
        for item in 0..5 {
            queue.push(item);
        }
        let accounting = shared.accounting();
        assert_eq!((accounting.ended, accounting.pending, accounting.dropped.queue_full), (5, 2, 3));
        assert!(shared.warned.load(Ordering::Relaxed));
        let warning = shared.queue_full_warning();
        assert!(
            warning.starts_with("traced: the otlp span export queue is full (OTEL_BSP_MAX_QUEUE_SIZE=2): spans are"),
            "{warning}"
        );
        shared.close();
        queue.push(6);
        assert_eq!(shared.accounting().dropped.after_shutdown, 1);
        assert_eq!(shared.accounting().ended, 6);
    }

    #[test]
    fn the_worker_is_woken_exactly_at_its_threshold() {
        let shared = Arc::new(Shared::new(Signal::LogRecords, "console", 8));
        let (queue, _buffers) = Queue::new(shared.clone(), 512);
        assert!(shared.wake_at(3));
        queue.push(1);
        queue.push(2);
        let woken = futures_util::FutureExt::now_or_never(shared.wake.notified());
        assert!(woken.is_none(), "no wake-up before the threshold");
        queue.push(3);
        assert!(futures_util::FutureExt::now_or_never(shared.wake.notified()).is_some());
        assert!(!shared.wake_at(2), "already reached: the worker does not wait");
    }
}
