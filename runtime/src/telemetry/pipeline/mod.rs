//! The export pipeline: bounded queues, export workers, exact accounting and one shutdown deadline.
//!
//! Files, one job each: `delivery` (the contract exporters implement), `accounting` (the counters
//! and the public figures), `report` (the guard's report), `queue` (the hot path and what producers
//! share with a worker), `buffers` (each producing thread's buffer, which the worker empties),
//! `worker` (batching, exporting, draining), `spans` and `logs` (the SDK processors that feed
//! queues), `metrics` (the periodic reader's counted exporter), `sdk_export` (SDK exporters behind
//! the contract), `deadline` (the shutdown deadline and bounded waits), `discard` (the pipeline into
//! an exporter that discards, for `span_cost`).

pub(crate) mod accounting;
mod buffers;
pub(crate) mod deadline;
pub(crate) mod delivery;
pub(crate) mod discard;
mod logs;
mod metrics;
mod queue;
pub(crate) mod report;
pub(crate) mod sdk_export;
mod spans;
mod worker;

#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::time::Duration;

use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::trace::SpanData;
use tokio::runtime::Handle;

use self::accounting::SignalAccounting;
use self::deadline::{Completion, SharedDeadline, COUNTING_GRACE};
use self::delivery::{BatchExport, LogItem, MetricExport};
pub(crate) use self::logs::LogPipeline;
pub(crate) use self::metrics::CountedMetricExport;
use self::queue::{Queue, Shared, Signal};
use self::report::{ExportReport, ExporterAccounting};
pub(crate) use self::spans::SpanPipeline;
use self::worker::{Batching, Worker};
use super::settings::BatchSettings;

/// The deadlines the processors obey when the SDK asks them to flush or shut down.
#[derive(Debug, Clone)]
pub(crate) struct Control {
    /// Set by the guard at shutdown: one deadline for every signal.
    shutdown: SharedDeadline,
    /// Set by the guard while it flushes.
    flush: SharedDeadline,
    /// `TRACED_SHUTDOWN_TIMEOUT`: the deadline when nobody set one.
    timeout: Duration,
}

impl Control {
    /// Waits (bounded) until the worker exported what is queued now.
    fn flush(&self, shared: &Shared) -> OTelSdkResult {
        if shared.stopped.is_done() {
            return Ok(());
        }
        let deadline = self.flush.or_after(self.timeout);
        if shared.flush().wait_until(deadline) {
            Ok(())
        } else {
            Err(OTelSdkError::Timeout(self.timeout))
        }
    }

    /// Stops the worker by the shutdown deadline and waits until it counted what is left.
    fn stop(&self, shared: &Shared) -> OTelSdkResult {
        let deadline = self.shutdown.or_after(self.timeout);
        shared.stop(deadline);
        if shared.stopped.wait_until(deadline + COUNTING_GRACE) {
            Ok(())
        } else {
            Err(OTelSdkError::Timeout(self.timeout))
        }
    }
}

/// Every queue and counted metric exporter of one `init()`, for the guard.
#[derive(Debug)]
pub(crate) struct Pipeline {
    handle: Handle,
    control: Control,
    queues: Vec<Arc<Shared>>,
    metrics: Vec<Arc<Shared>>,
}

impl Pipeline {
    /// Workers will run on `handle` (the guard's export runtime).
    pub(crate) fn new(handle: Handle, shutdown_timeout: Duration) -> Self {
        let control = Control {
            shutdown: SharedDeadline::default(),
            flush: SharedDeadline::default(),
            timeout: shutdown_timeout,
        };
        Self { handle, control, queues: Vec::new(), metrics: Vec::new() }
    }

    pub(crate) fn shutdown_timeout(&self) -> Duration {
        self.control.timeout
    }

    /// A span processor feeding `exporter` (named `name` in messages) through its own queue and worker.
    pub(crate) fn span_processor(
        &mut self,
        name: &'static str,
        exporter: Box<dyn BatchExport<SpanData>>,
        batch: &BatchSettings,
    ) -> SpanPipeline {
        let queue = self.queue(Signal::Spans, name, exporter, batch);
        SpanPipeline::new(queue, self.control.clone())
    }

    /// A log processor feeding `exporter` through its own queue and worker.
    pub(crate) fn log_processor(
        &mut self,
        name: &'static str,
        exporter: Box<dyn BatchExport<LogItem>>,
        batch: &BatchSettings,
    ) -> LogPipeline {
        let queue = self.queue(Signal::LogRecords, name, exporter, batch);
        LogPipeline::new(queue, self.control.clone())
    }

    /// The exporter a periodic metric reader drives: `exporter`, counted, within `timeout` per export.
    pub(crate) fn metric_exporter(
        &mut self,
        name: &'static str,
        exporter: Box<dyn MetricExport>,
        timeout: Duration,
    ) -> CountedMetricExport {
        let shared = Arc::new(Shared::new(Signal::MetricExports, name, 1));
        self.metrics.push(shared.clone());
        CountedMetricExport::new(exporter, shared, self.handle.clone(), timeout, self.control.shutdown.clone())
    }

    fn queue<T: Send + 'static>(
        &mut self,
        signal: Signal,
        name: &'static str,
        exporter: Box<dyn BatchExport<T>>,
        batch: &BatchSettings,
    ) -> Queue<T> {
        let shared = Arc::new(Shared::new(signal, name, batch.max_queue_size));
        let (queue, buffers) = Queue::new(shared.clone(), batch.max_export_batch_size);
        let batching = Batching {
            max_export_batch_size: batch.max_export_batch_size,
            schedule_delay: batch.schedule_delay,
            export_timeout: batch.export_timeout,
        };
        self.handle.spawn(Worker::new(buffers, shared.clone(), exporter, batching).run());
        self.queues.push(shared);
        queue
    }

    /// The figures so far.
    pub(crate) fn report(&self) -> ExportReport {
        let exporters: Vec<ExporterAccounting> = self
            .queues
            .iter()
            .chain(&self.metrics)
            .map(|shared| ExporterAccounting {
                signal: shared.signal.noun(),
                exporter: shared.exporter,
                accounting: shared.accounting(),
            })
            .collect();
        let sum = |signal: Signal| -> SignalAccounting {
            exporters
                .iter()
                .filter(|exporter| exporter.signal == signal.noun())
                .map(|exporter| exporter.accounting)
                .sum()
        };
        ExportReport {
            spans: sum(Signal::Spans),
            log_records: sum(Signal::LogRecords),
            metric_exports: sum(Signal::MetricExports),
            exporters,
        }
    }

    /// Sets the one shutdown deadline and asks every worker to drain by it (without waiting).
    pub(crate) fn begin_shutdown(&self, deadline: std::time::Instant) {
        self.control.shutdown.set(deadline);
        // Metric exporters have no worker: `stop` only ends the export in flight by the deadline.
        for shared in self.queues.iter().chain(&self.metrics) {
            shared.stop(deadline);
        }
    }

    /// Waits until every worker stopped, or `until`; false if one did not.
    pub(crate) fn wait_stopped(&self, until: std::time::Instant) -> bool {
        self.queues.iter().all(|shared| shared.stopped.wait_until(until))
    }

    /// Metric exports from now on count as after shutdown.
    pub(crate) fn metrics_stopped(&self) {
        for shared in &self.metrics {
            shared.stopped.finish();
        }
    }

    /// Sets the flush deadline and asks every worker to export what is queued (without waiting).
    pub(crate) fn begin_flush(&self, deadline: std::time::Instant) -> Vec<Arc<Completion>> {
        self.control.flush.set(deadline);
        self.queues.iter().filter(|shared| !shared.stopped.is_done()).map(|shared| shared.flush()).collect()
    }

    pub(crate) fn end_flush(&self) {
        self.control.flush.clear();
    }
}
