//! The contract between the export pipeline (queues, workers, accounting, shutdown) and the
//! exporters (OTLP over gRPC or HTTP, console): an exporter says what became of every item it was
//! handed, so the pipeline can keep `ended = exported + dropped by reason` exact.
//!
//! Rules every exporter follows:
//! - `export` is called with one batch at a time per exporter (never concurrently), and its future is
//!   polled inside the guard's tokio runtime, so exporters may use tokio I/O and timers.
//! - it returns by `deadline` (give or take a few milliseconds), whatever the collector does: what has
//!   been sent without an answer by then is `unconfirmed`.
//! - the returned [`Delivery`] accounts for every item of the batch exactly once.
//! - it never prints a secret: endpoints lose their userinfo, error text goes through the redaction
//!   module before it is printed.

use std::time::Instant;

use futures_util::future::BoxFuture;
use opentelemetry::InstrumentationScope;
use opentelemetry_sdk::logs::SdkLogRecord;
use opentelemetry_sdk::metrics::data::ResourceMetrics;
use opentelemetry_sdk::metrics::Temporality;

/// A log record waiting for export, with the scope that emitted it.
pub(crate) type LogItem = Box<(SdkLogRecord, InstrumentationScope)>;

/// What became of the items of one batch (or of one metric export, counted as 1): each item in
/// exactly one field.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Delivery {
    /// The collector confirmed them.
    pub(crate) exported: u64,
    /// The collector answered and refused them: OTLP partial success (`rejected_spans`,
    /// `rejected_log_records`, `rejected_data_points` counted as one export), an item too large to
    /// send even alone, a non-retryable status (400, `InvalidArgument`, ...).
    pub(crate) rejected: u64,
    /// Never delivered: connection refused, retries exhausted on transient errors, an encoding error.
    pub(crate) failed: u64,
    /// Sent, but no answer came before the deadline: maybe delivered, maybe not.
    pub(crate) unconfirmed: u64,
}

impl Delivery {
    pub(crate) fn exported(count: usize) -> Self {
        Self { exported: count as u64, ..Self::default() }
    }

    pub(crate) fn failed(count: usize) -> Self {
        Self { failed: count as u64, ..Self::default() }
    }

    pub(crate) fn unconfirmed(count: usize) -> Self {
        Self { unconfirmed: count as u64, ..Self::default() }
    }

    /// Every item the delivery accounts for.
    pub(crate) fn total(&self) -> u64 {
        self.exported + self.rejected + self.failed + self.unconfirmed
    }

    /// This delivery made to account for exactly `count` items, whatever the exporter returned: items
    /// it left out count as failed, items it counted twice are taken off the least certain outcome
    /// first (unconfirmed, failed, rejected, then exported).
    pub(crate) fn fitted_to(self, count: usize) -> Self {
        let count = count as u64;
        let total = self.total();
        if total <= count {
            return Self { failed: self.failed + (count - total), ..self };
        }
        let mut surplus = total - count;
        let mut fitted = self;
        for field in [&mut fitted.unconfirmed, &mut fitted.failed, &mut fitted.rejected, &mut fitted.exported] {
            let taken = surplus.min(*field);
            *field -= taken;
            surplus -= taken;
        }
        fitted
    }
}

impl std::ops::Add for Delivery {
    type Output = Self;

    fn add(self, other: Self) -> Self {
        Self {
            exported: self.exported + other.exported,
            rejected: self.rejected + other.rejected,
            failed: self.failed + other.failed,
            unconfirmed: self.unconfirmed + other.unconfirmed,
        }
    }
}

/// An exporter of batches of `T` (`SpanData`, [`LogItem`]).
pub(crate) trait BatchExport<T>: Send + Sync + std::fmt::Debug + 'static {
    /// Exports `batch`, returning by `deadline` with what became of each item.
    fn export(&self, batch: Vec<T>, deadline: Instant) -> BoxFuture<'_, Delivery>;

    /// Called once, after the last export (at shutdown, once the queue is drained or the deadline
    /// passed); returns promptly. The console exporter prints the traces it still holds.
    fn shutdown(&self) {}
}

/// An exporter of metrics: one collection is one item.
pub(crate) trait MetricExport: Send + Sync + std::fmt::Debug + 'static {
    /// Exports one collection, returning by `deadline`; the delivery's fields sum to 1.
    fn export<'a>(&'a self, metrics: &'a ResourceMetrics, deadline: Instant) -> BoxFuture<'a, Delivery>;

    /// The temporality the SDK aggregates for this exporter (OTLP and console: cumulative).
    fn temporality(&self) -> Temporality {
        Temporality::Cumulative
    }

    /// Called once, after the last export; returns promptly.
    fn shutdown(&self) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_delivery_is_fitted_to_its_batch() {
        assert_eq!(Delivery::exported(3).fitted_to(5), Delivery { exported: 3, failed: 2, ..Delivery::default() });
        let over = Delivery { exported: 4, rejected: 1, failed: 1, unconfirmed: 2 };
        assert_eq!(over.fitted_to(5), Delivery { exported: 4, rejected: 1, ..Delivery::default() });
        assert_eq!(Delivery::exported(9).fitted_to(2), Delivery::exported(2));
        assert_eq!(Delivery::unconfirmed(2).fitted_to(2), Delivery::unconfirmed(2));
    }
}
