//! Counted admission to an SDK batch processor's queue, shared by spans and log records.
//!
//! A slow or dead collector must cost telemetry, never a stalled request: a batch processor's queue
//! fills and further items are dropped. The SDK counts those drops privately and reports them only
//! through its internal logs, which `traced` does not compile in, so users were never told. A
//! [`QueueStats`] admits an item only while fewer than the queue size wait for export, so the SDK's
//! own queue (a channel of that size) never overflows and every drop is ours to count: the first
//! prints one warning, shutdown prints the totals (queue full, failed exports).

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use opentelemetry_sdk::error::OTelSdkResult;

/// Which queue, for messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Queued {
    Spans,
    LogRecords,
}

impl Queued {
    fn noun(self) -> &'static str {
        match self {
            Queued::Spans => "spans",
            Queued::LogRecords => "log records",
        }
    }

    fn queue(self) -> &'static str {
        match self {
            Queued::Spans => "span export queue",
            Queued::LogRecords => "log record export queue",
        }
    }

    fn size_variable(self) -> &'static str {
        match self {
            Queued::Spans => "OTEL_BSP_MAX_QUEUE_SIZE",
            Queued::LogRecords => "OTEL_BLRP_MAX_QUEUE_SIZE",
        }
    }
}

/// Spans or log records the exporters never delivered, by cause; see
/// [`crate::TelemetryGuard::dropped_spans`] and [`crate::TelemetryGuard::dropped_log_records`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Dropped {
    /// Dropped on arrival because the export queue was full.
    pub queue_full: u64,
    /// Handed to the exporter in a batch whose export failed (collector down, slow or refusing).
    pub export_failed: u64,
}

impl Dropped {
    /// Both causes together.
    pub fn total(&self) -> u64 {
        self.queue_full + self.export_failed
    }
}

impl std::ops::Add for Dropped {
    type Output = Self;

    fn add(self, other: Self) -> Self {
        Self { queue_full: self.queue_full + other.queue_full, export_failed: self.export_failed + other.export_failed }
    }
}

/// The counters one processor shares with its exporter.
#[derive(Debug)]
pub(crate) struct QueueStats {
    queued: Queued,
    /// Which exporter, for messages (`otlp`, `console`).
    exporter: &'static str,
    capacity: usize,
    /// Items handed to the SDK processor whose export has not started.
    pub(crate) waiting: AtomicUsize,
    queue_full: AtomicU64,
    export_failed: AtomicU64,
    warned: AtomicBool,
}

impl QueueStats {
    pub(crate) fn new(queued: Queued, exporter: &'static str, capacity: usize) -> Self {
        Self {
            queued,
            exporter,
            capacity,
            waiting: AtomicUsize::new(0),
            queue_full: AtomicU64::new(0),
            export_failed: AtomicU64::new(0),
            warned: AtomicBool::new(false),
        }
    }

    /// Takes a place in the queue, or counts a drop. Never more than `capacity` places are taken, so
    /// the SDK's channel of that size always has room.
    pub(crate) fn admit(&self) -> bool {
        if self.waiting.fetch_add(1, Ordering::AcqRel) < self.capacity {
            return true;
        }
        self.waiting.fetch_sub(1, Ordering::AcqRel);
        self.queue_full.fetch_add(1, Ordering::Relaxed);
        if !self.warned.swap(true, Ordering::Relaxed) {
            eprintln!("{}", self.queue_full_warning());
        }
        false
    }

    /// `count` items left the queue for the exporter.
    pub(crate) fn release(&self, count: usize) {
        // Saturating, so a miscount can never wrap into a queue that looks full forever.
        let _ = self
            .waiting
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |waiting| Some(waiting.saturating_sub(count)));
    }

    /// A batch of `count` items failed to export.
    pub(crate) fn failed(&self, count: usize) {
        self.export_failed.fetch_add(count as u64, Ordering::Relaxed);
    }

    pub(crate) fn dropped(&self) -> Dropped {
        Dropped {
            queue_full: self.queue_full.load(Ordering::Relaxed),
            export_failed: self.export_failed.load(Ordering::Relaxed),
        }
    }

    fn queue_full_warning(&self) -> String {
        let noun = self.queued.noun();
        format!(
            "traced: the {} {} is full ({}={}): {noun} are dropped until the exporter catches up; they are counted \
             and the total is printed at shutdown (this warning is printed once)",
            self.exporter,
            self.queued.queue(),
            self.queued.size_variable(),
            self.capacity
        )
    }

    /// Prints the totals, if anything was dropped (at shutdown).
    pub(crate) fn report(&self) {
        if let Some(summary) = self.summary() {
            eprintln!("{summary}");
        }
    }

    pub(crate) fn summary(&self) -> Option<String> {
        let dropped = self.dropped();
        (dropped.total() > 0).then(|| {
            format!(
                "traced: {} {} were not exported by the {} exporter: {} dropped with the queue full, {} in failed \
                 exports",
                dropped.total(),
                self.queued.noun(),
                self.exporter,
                dropped.queue_full,
                dropped.export_failed
            )
        })
    }
}

/// An SDK batch processor behind a counted admission (`span_queue` and `log_queue` implement the
/// processor traits for it).
#[derive(Debug)]
pub(crate) struct Counted<P> {
    pub(super) inner: P,
    pub(super) stats: Arc<QueueStats>,
}

impl<P> Counted<P> {
    pub(crate) fn stats(&self) -> Arc<QueueStats> {
        self.stats.clone()
    }
}

/// The exporter side: frees queue places as a batch leaves, counts the items of a failed export.
#[derive(Debug)]
pub(crate) struct Released<E> {
    pub(super) inner: E,
    pub(super) stats: Arc<QueueStats>,
}

impl<E> Released<E> {
    pub(super) fn new(inner: E, stats: &Arc<QueueStats>) -> Self {
        Self { inner, stats: stats.clone() }
    }

    /// Runs the export of `count` items.
    pub(super) async fn counted(&self, count: usize, export: impl Future<Output = OTelSdkResult>) -> OTelSdkResult {
        self.stats.release(count);
        let result = export.await;
        if result.is_err() {
            self.stats.failed(count);
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admission_never_exceeds_the_queue_and_counts_each_refusal() {
        let stats = QueueStats::new(Queued::Spans, "otlp", 2);
        assert!(stats.admit() && stats.admit());
        assert!(!stats.admit() && !stats.admit());
        stats.release(1);
        assert!(stats.admit());
        assert!(!stats.admit());
        stats.failed(2);
        assert_eq!(stats.dropped(), Dropped { queue_full: 3, export_failed: 2 });
        assert!(stats.warned.load(Ordering::Relaxed));
        let warning = stats.queue_full_warning();
        assert!(
            warning.starts_with("traced: the otlp span export queue is full (OTEL_BSP_MAX_QUEUE_SIZE=2)"),
            "{warning}"
        );
        assert!(warning.ends_with("(this warning is printed once)"), "{warning}");
        assert_eq!(
            stats.summary().as_deref(),
            Some("traced: 5 spans were not exported by the otlp exporter: 3 dropped with the queue full, 2 in failed exports")
        );
    }

    #[test]
    fn log_record_messages_name_their_queue() {
        let stats = QueueStats::new(Queued::LogRecords, "console", 1);
        assert!(stats.admit() && !stats.admit());
        let warning = stats.queue_full_warning();
        assert!(warning.contains("console log record export queue is full (OTEL_BLRP_MAX_QUEUE_SIZE=1)"), "{warning}");
        assert!(stats.summary().is_some_and(|summary| summary.starts_with("traced: 1 log records were not exported")));
        stats.release(5);
        assert_eq!(stats.waiting.load(Ordering::Relaxed), 0, "release saturates");
    }
}
