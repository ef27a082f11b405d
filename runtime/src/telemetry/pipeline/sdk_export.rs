//! SDK exporters (`SpanExporter`, `LogExporter`, `PushMetricExporter`: the console exporters) as [`BatchExport`] and
//! [`MetricExport`]: `Ok` is exported, a timeout unconfirmed, any other error failed.
//!
//! Span and log exports run on the export runtime's blocking threads, one at a time per exporter:
//! the SDK exporters may block (console output, the blocking reqwest client), which must not stall
//! the workers. An export that overruns its deadline is unconfirmed and left to finish there.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::future::BoxFuture;
use opentelemetry::InstrumentationScope;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::logs::{LogBatch, LogExporter, SdkLogRecord};
use opentelemetry_sdk::metrics::data::ResourceMetrics;
use opentelemetry_sdk::metrics::exporter::PushMetricExporter;
use opentelemetry_sdk::metrics::Temporality;
use opentelemetry_sdk::trace::{SpanData, SpanExporter};
use tokio::runtime::Handle;
use tokio::sync::Mutex;
use tokio::time::timeout_at;

use super::delivery::{BatchExport, Delivery, LogItem, MetricExport};
use crate::telemetry::export_runtime::block_on;

/// How long an SDK exporter's own shutdown may take.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(1);

/// An SDK exporter behind the pipeline's contract.
#[derive(Debug)]
pub(crate) struct SdkExport<E> {
    inner: Arc<E>,
    /// Held by the blocking thread running an export, so exports never overlap.
    turn: Arc<Mutex<()>>,
}

impl<E: Send + Sync + 'static> SdkExport<E> {
    pub(crate) fn new(inner: E) -> Self {
        Self { inner: Arc::new(inner), turn: Arc::new(Mutex::new(())) }
    }

    /// Runs `export` of `count` items on a blocking thread, waiting for it until `deadline`.
    async fn run<F>(&self, count: usize, deadline: Instant, export: F) -> Delivery
    where
        F: FnOnce(&E, &Handle) -> OTelSdkResult + Send + 'static,
    {
        let deadline = tokio::time::Instant::from_std(deadline);
        // The previous export overran its deadline and still runs: this batch is never sent.
        let Ok(turn) = timeout_at(deadline, self.turn.clone().lock_owned()).await else {
            return Delivery::failed(count);
        };
        let (inner, handle) = (self.inner.clone(), Handle::current());
        let task = tokio::task::spawn_blocking(move || {
            let _turn = turn;
            export(&inner, &handle)
        });
        match timeout_at(deadline, task).await {
            Ok(Ok(result)) => outcome(result, count),
            // The export panicked.
            Ok(Err(_)) => Delivery::failed(count),
            Err(_) => Delivery::unconfirmed(count),
        }
    }
}

fn outcome(result: OTelSdkResult, count: usize) -> Delivery {
    match result {
        Ok(()) => Delivery::exported(count),
        Err(OTelSdkError::Timeout(_)) => Delivery::unconfirmed(count),
        Err(_) => Delivery::failed(count),
    }
}

impl<E: SpanExporter + 'static> BatchExport<SpanData> for SdkExport<E> {
    fn export(&self, batch: Vec<SpanData>, deadline: Instant) -> BoxFuture<'_, Delivery> {
        let count = batch.len();
        Box::pin(self.run(count, deadline, move |inner, handle| block_on(handle, inner.export(batch))))
    }

    fn shutdown(&self) {
        let _ = self.inner.shutdown_with_timeout(SHUTDOWN_TIMEOUT);
    }
}

impl<E: LogExporter + 'static> BatchExport<LogItem> for SdkExport<E> {
    fn export(&self, batch: Vec<LogItem>, deadline: Instant) -> BoxFuture<'_, Delivery> {
        let count = batch.len();
        Box::pin(self.run(count, deadline, move |inner, handle| {
            let records: Vec<(&SdkLogRecord, &InstrumentationScope)> =
                batch.iter().map(|item| (&item.0, &item.1)).collect();
            block_on(handle, inner.export(LogBatch::new(&records)))
        }))
    }

    fn shutdown(&self) {
        let _ = self.inner.shutdown_with_timeout(SHUTDOWN_TIMEOUT);
    }
}

/// An SDK metric exporter behind the pipeline's contract. It runs on the periodic reader's own
/// thread, which may block.
#[derive(Debug)]
pub(crate) struct SdkMetricExport<E>(pub(crate) E);

impl<E: PushMetricExporter + std::fmt::Debug + 'static> MetricExport for SdkMetricExport<E> {
    fn export<'a>(&'a self, metrics: &'a ResourceMetrics, _deadline: Instant) -> BoxFuture<'a, Delivery> {
        Box::pin(async move { outcome(self.0.export(metrics).await, 1) })
    }

    fn temporality(&self) -> Temporality {
        self.0.temporality()
    }

    fn shutdown(&self) {
        let _ = self.0.shutdown_with_timeout(SHUTDOWN_TIMEOUT);
    }
}
