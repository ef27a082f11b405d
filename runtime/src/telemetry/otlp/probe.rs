//! Drives the OTLP exporters directly, without providers or queues, so the end-to-end tests of
//! `traced-tests` can hold each exporter's answer against a fault collector's own count. Not a public
//! API (feature `testing`, hidden from the docs): names may change in any release.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use opentelemetry::InstrumentationScope;
use opentelemetry_sdk::logs::SdkLogRecord;
use opentelemetry_sdk::metrics::data::ResourceMetrics;
use opentelemetry_sdk::trace::SpanData;
use opentelemetry_sdk::Resource;

use super::encode::{Logs, Metrics, Traces};
use super::export::Exporter;
use super::warnings::Sink;
use crate::telemetry::pipeline::delivery::{BatchExport, Delivery, MetricExport};
use crate::telemetry::{InitError, Settings};

/// What became of the items of one export: each item in exactly one field.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProbeDelivery {
    /// Confirmed by the collector.
    pub exported: u64,
    /// Refused by the collector (or too large to send).
    pub rejected: u64,
    /// Never delivered.
    pub failed: u64,
    /// Sent without an answer before the deadline.
    pub unconfirmed: u64,
}

impl From<Delivery> for ProbeDelivery {
    fn from(delivery: Delivery) -> Self {
        let Delivery { exported, rejected, failed, unconfirmed } = delivery;
        Self { exported, rejected, failed, unconfirmed }
    }
}

/// The three OTLP exporters `settings` describe, with their warnings kept instead of printed.
#[derive(Debug)]
pub struct OtlpProbe {
    traces: Exporter<Traces>,
    logs: Exporter<Logs>,
    metrics: Exporter<Metrics>,
    warnings: Arc<Mutex<Vec<String>>>,
}

impl OtlpProbe {
    /// Builds the exporters of `settings.otlp_traces`, `otlp_logs` and `otlp_metrics`.
    pub fn new(settings: &Settings, resource: &Resource) -> Result<Self, InitError> {
        let warnings = Arc::new(Mutex::new(Vec::new()));
        let kept = Arc::clone(&warnings);
        let sink: Sink =
            Arc::new(move |line: &str| kept.lock().unwrap_or_else(PoisonError::into_inner).push(line.into()));
        Ok(Self {
            traces: super::exporter(&settings.otlp_traces, resource, Arc::clone(&sink))?,
            logs: super::exporter(&settings.otlp_logs, resource, Arc::clone(&sink))?,
            metrics: super::exporter(&settings.otlp_metrics, resource, sink)?,
            warnings,
        })
    }

    /// Exports one batch of spans with `timeout` as its deadline (call inside a tokio runtime).
    pub async fn export_spans(&self, spans: Vec<SpanData>, timeout: Duration) -> ProbeDelivery {
        self.traces.export(spans, Instant::now() + timeout).await.into()
    }

    /// Exports one batch of log records.
    pub async fn export_logs(
        &self,
        logs: Vec<(SdkLogRecord, InstrumentationScope)>,
        timeout: Duration,
    ) -> ProbeDelivery {
        let batch = logs.into_iter().map(Box::new).collect();
        self.logs.export(batch, Instant::now() + timeout).await.into()
    }

    /// Exports one metric collection (counted as one item).
    pub async fn export_metrics(&self, metrics: &ResourceMetrics, timeout: Duration) -> ProbeDelivery {
        MetricExport::export(&self.metrics, metrics, Instant::now() + timeout).await.into()
    }

    /// The warnings printed so far (each kind once per signal).
    pub fn warnings(&self) -> Vec<String> {
        self.warnings.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }
}
