//! The SDK's periodic metric reader stays (it collects on its own thread every
//! `OTEL_METRIC_EXPORT_INTERVAL`); this adapter sits between it and a [`MetricExport`], counting each
//! export as one item and giving it a deadline: its export timeout, or what is left of the shutdown
//! deadline. The export future is polled with the guard's export runtime entered, as the contract
//! promises exporters.

use std::sync::Arc;
use std::time::{Duration, Instant};

use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::metrics::data::ResourceMetrics;
use opentelemetry_sdk::metrics::exporter::PushMetricExporter;
use opentelemetry_sdk::metrics::Temporality;
use tokio::runtime::Handle;

use super::deadline::{after, reached, with_stop, SharedDeadline, EXPORT_GRACE};
use super::delivery::{Delivery, MetricExport};
use super::queue::Shared;
use crate::telemetry::export_runtime::in_runtime;

/// A [`MetricExport`] as the periodic reader's exporter, every export counted.
#[derive(Debug)]
pub(crate) struct CountedMetricExport {
    inner: Box<dyn MetricExport>,
    shared: Arc<Shared>,
    handle: Handle,
    timeout: Duration,
    shutdown: SharedDeadline,
}

impl CountedMetricExport {
    pub(crate) fn new(
        inner: Box<dyn MetricExport>,
        shared: Arc<Shared>,
        handle: Handle,
        timeout: Duration,
        shutdown: SharedDeadline,
    ) -> Self {
        Self { inner, shared, handle, timeout, shutdown }
    }

    /// The export's delivery; it ends by `deadline`, or by the shutdown deadline if one comes while it
    /// runs (an export started before shutdown would otherwise hold the reader's last one past it).
    async fn delivery(&self, metrics: &ResourceMetrics, deadline: Instant) -> Delivery {
        let export = async {
            tokio::select! {
                biased;
                delivery = self.inner.export(metrics, deadline) => Some(delivery),
                () = async {
                    reached(deadline).await;
                    tokio::time::sleep(EXPORT_GRACE).await;
                } => None,
            }
        };
        let export = with_stop(self.shared.watch_stop(), export);
        in_runtime(self.handle.clone(), export).await.unwrap_or(Delivery::unconfirmed(1)).fitted_to(1)
    }
}

impl PushMetricExporter for CountedMetricExport {
    async fn export(&self, metrics: &ResourceMetrics) -> OTelSdkResult {
        let counts = &self.shared.counts;
        if self.shared.stopped.is_done() {
            counts.after_shutdown();
            return Err(OTelSdkError::AlreadyShutdown);
        }
        let mut deadline = after(self.timeout);
        if let Some(stop) = self.shutdown.get() {
            if Instant::now() >= stop {
                // Counted as cut by the deadline: like any export's fate, not a shutdown error.
                counts.cut_on_arrival();
                return Ok(());
            }
            deadline = deadline.min(stop);
        }
        counts.accept();
        counts.exporting(1);
        let delivery = self.delivery(metrics, deadline).await;
        counts.delivered(delivery);
        // What became of the export is in the accounting, as for spans and log records: the reader's
        // flush or shutdown succeeded once the export was done with.
        Ok(())
    }

    fn force_flush(&self) -> OTelSdkResult {
        Ok(())
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown();
        Ok(())
    }

    fn temporality(&self) -> Temporality {
        self.inner.temporality()
    }
}
