//! What became of every item of one exporter: counters the queue, the worker and the metric adapter
//! add to, and the public figures they add up to.
//!
//! Each term is counted where it happens, none is derived from the others, so
//! `ended = exported + unconfirmed + pending + dropped` is a check that holds, not a definition. A
//! snapshot taken while items move may catch one between two counters; once the pipeline is idle or
//! shut down the identity is exact.

use std::sync::atomic::{AtomicU64, Ordering};

use super::delivery::Delivery;

/// Items that did not reach the collector, by cause (see [`SignalAccounting`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Dropped {
    /// Dropped on arrival: the export queue was full (`OTEL_BSP_MAX_QUEUE_SIZE`, `OTEL_BLRP_MAX_QUEUE_SIZE`).
    pub queue_full: u64,
    /// The collector answered and refused them (OTLP partial success, a non-retryable status, too large).
    pub rejected: u64,
    /// Never delivered: connection refused, retries exhausted, an encoding error.
    pub failed: u64,
    /// Still queued when the shutdown deadline passed (`TRACED_SHUTDOWN_TIMEOUT`).
    pub shutdown_deadline: u64,
    /// Ended after the pipeline had shut down.
    pub after_shutdown: u64,
}

impl Dropped {
    /// Every cause together.
    pub fn total(&self) -> u64 {
        self.queue_full + self.rejected + self.failed + self.shutdown_deadline + self.after_shutdown
    }
}

impl std::ops::Add for Dropped {
    type Output = Self;

    fn add(self, other: Self) -> Self {
        Self {
            queue_full: self.queue_full + other.queue_full,
            rejected: self.rejected + other.rejected,
            failed: self.failed + other.failed,
            shutdown_deadline: self.shutdown_deadline + other.shutdown_deadline,
            after_shutdown: self.after_shutdown + other.after_shutdown,
        }
    }
}

/// What became of the items of one signal (spans, log records, or metric exports, one per periodic
/// collection): `ended = exported + unconfirmed + pending + dropped.total()`.
///
/// Summed over the signal's exporters: with both `console` and `otlp`, each span counts once per
/// exporter.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SignalAccounting {
    /// Items handed to the pipeline: sampled spans that ended, log records emitted, metric exports
    /// the periodic reader started.
    pub ended: u64,
    /// The collector confirmed them.
    pub exported: u64,
    /// Sent, but no answer came before the export's deadline: maybe delivered, maybe not (not counted
    /// as lost).
    pub unconfirmed: u64,
    /// Waiting in the queue or being exported right now.
    pub pending: u64,
    /// Lost, by cause.
    pub dropped: Dropped,
}

impl SignalAccounting {
    /// Lost, by cause.
    pub fn dropped(&self) -> Dropped {
        self.dropped
    }

    /// Whether every item is accounted for: `ended = exported + unconfirmed + pending + dropped`.
    pub fn balances(&self) -> bool {
        self.ended == self.exported + self.unconfirmed + self.pending + self.dropped.total()
    }

    /// Whether anything is not (yet) confirmed: dropped, unconfirmed or still pending.
    pub fn is_incomplete(&self) -> bool {
        self.exported != self.ended
    }

    /// One line of the shutdown summary, e.g. `spans: 10 ended = 8 exported + 0 unconfirmed + ...`.
    pub(crate) fn line(&self, signal: &str) -> String {
        let Dropped { queue_full, rejected, failed, shutdown_deadline, after_shutdown } = self.dropped;
        format!(
            "{signal}: {} ended = {} exported + {} unconfirmed + {} pending + {} dropped (queue full {queue_full}, \
             rejected {rejected}, failed {failed}, shutdown deadline {shutdown_deadline}, after shutdown \
             {after_shutdown})",
            self.ended,
            self.exported,
            self.unconfirmed,
            self.pending,
            self.dropped.total()
        )
    }
}

impl std::ops::Add for SignalAccounting {
    type Output = Self;

    fn add(self, other: Self) -> Self {
        Self {
            ended: self.ended + other.ended,
            exported: self.exported + other.exported,
            unconfirmed: self.unconfirmed + other.unconfirmed,
            pending: self.pending + other.pending,
            dropped: self.dropped + other.dropped,
        }
    }
}

impl std::iter::Sum for SignalAccounting {
    fn sum<I: Iterator<Item = Self>>(iter: I) -> Self {
        iter.fold(Self::default(), |sum, item| sum + item)
    }
}

/// The counters of one exporter's pipeline.
#[derive(Debug, Default)]
pub(crate) struct Counts {
    /// Into the queue (the hot path's one counter on success).
    pub(super) accepted: AtomicU64,
    queue_full: AtomicU64,
    after_shutdown: AtomicU64,
    /// Out of the queue, by the worker: exported batches and what the deadline cut.
    taken: AtomicU64,
    /// The batch being exported.
    in_flight: AtomicU64,
    exported: AtomicU64,
    rejected: AtomicU64,
    failed: AtomicU64,
    unconfirmed: AtomicU64,
    shutdown_deadline: AtomicU64,
}

impl Counts {
    /// One item entered the queue; returns how many did so far.
    pub(super) fn accept(&self) -> u64 {
        self.accepted.fetch_add(1, Ordering::SeqCst) + 1
    }

    /// Takes a place for one item if fewer than `capacity` are accepted and not yet taken; returns how
    /// many were accepted so far, or `None` when the queue is full. (`taken` read first can only be
    /// behind, so a queue is never over-filled; at worst an item finds it full as the worker empties it.)
    pub(super) fn reserve(&self, capacity: u64) -> Option<u64> {
        let taken = self.taken.load(Ordering::Acquire);
        let room = |accepted: u64| (accepted.saturating_sub(taken) < capacity).then_some(accepted + 1);
        self.accepted.fetch_update(Ordering::SeqCst, Ordering::Relaxed, room).ok().map(|accepted| accepted + 1)
    }

    pub(super) fn accepted(&self) -> u64 {
        self.accepted.load(Ordering::SeqCst)
    }

    /// One item found the queue full; returns how many did so far.
    pub(super) fn queue_full(&self) -> u64 {
        self.queue_full.fetch_add(1, Ordering::Relaxed) + 1
    }

    pub(super) fn after_shutdown(&self) {
        self.after_shutdown.fetch_add(1, Ordering::Relaxed);
    }

    /// `count` items left the queue for the exporter.
    pub(super) fn exporting(&self, count: usize) {
        self.in_flight.store(count as u64, Ordering::Release);
        self.taken.fetch_add(count as u64, Ordering::AcqRel);
    }

    /// The batch being exported came back with `delivery` (fitted to its size).
    pub(super) fn delivered(&self, delivery: Delivery) {
        self.exported.fetch_add(delivery.exported, Ordering::Relaxed);
        self.rejected.fetch_add(delivery.rejected, Ordering::Relaxed);
        self.failed.fetch_add(delivery.failed, Ordering::Relaxed);
        self.unconfirmed.fetch_add(delivery.unconfirmed, Ordering::Relaxed);
        self.in_flight.store(0, Ordering::Release);
    }

    /// `count` items were still queued when the shutdown deadline passed.
    pub(super) fn cut_by_deadline(&self, count: u64) {
        self.taken.fetch_add(count, Ordering::AcqRel);
        self.shutdown_deadline.fetch_add(count, Ordering::Relaxed);
    }

    /// An item that was never queued (a metric export started after the deadline) is cut.
    pub(super) fn cut_on_arrival(&self) {
        self.accept();
        self.cut_by_deadline(1);
    }

    pub(crate) fn snapshot(&self) -> SignalAccounting {
        let load = |counter: &AtomicU64| counter.load(Ordering::Acquire);
        let dropped = Dropped {
            queue_full: load(&self.queue_full),
            rejected: load(&self.rejected),
            failed: load(&self.failed),
            shutdown_deadline: load(&self.shutdown_deadline),
            after_shutdown: load(&self.after_shutdown),
        };
        let (exported, unconfirmed) = (load(&self.exported), load(&self.unconfirmed));
        let in_flight = load(&self.in_flight);
        let taken = load(&self.taken);
        let accepted = load(&self.accepted);
        SignalAccounting {
            ended: accepted + dropped.queue_full + dropped.after_shutdown,
            exported,
            unconfirmed,
            pending: accepted.saturating_sub(taken) + in_flight,
            dropped,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_term_is_counted_where_it_happens() {
        let counts = Counts::default();
        for _ in 0..10 {
            counts.accept();
        }
        counts.queue_full();
        counts.after_shutdown();
        counts.exporting(4);
        let moving = counts.snapshot();
        assert_eq!((moving.ended, moving.pending), (12, 10), "the batch in flight is pending");
        assert!(moving.balances(), "{moving:?}");
        counts.delivered(Delivery { exported: 1, rejected: 1, failed: 1, unconfirmed: 1 });
        counts.cut_by_deadline(6);
        let done = counts.snapshot();
        assert!(done.balances(), "{done:?}");
        assert_eq!(done.pending, 0);
        assert_eq!(
            done.dropped,
            Dropped { queue_full: 1, rejected: 1, failed: 1, shutdown_deadline: 6, after_shutdown: 1 }
        );
        assert_eq!((done.exported, done.unconfirmed), (1, 1));
        assert_eq!(
            done.line("spans"),
            "spans: 12 ended = 1 exported + 1 unconfirmed + 0 pending + 10 dropped (queue full 1, rejected 1, \
             failed 1, shutdown deadline 6, after shutdown 1)"
        );
    }

    #[test]
    fn a_miscount_shows_as_an_imbalance() {
        let counts = Counts::default();
        counts.accept();
        counts.exporting(1);
        counts.delivered(Delivery::exported(2));
        assert!(!counts.snapshot().balances());
    }
}
