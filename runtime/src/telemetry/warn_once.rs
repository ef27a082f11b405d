//! One warning on stderr the first time a signal's export fails.
//!
//! A collector that is down or too slow must not stall the application: the exporter gives up after
//! its timeout and the batch is dropped. Saying so on every batch would flood the output, saying
//! nothing hides why a dashboard is empty; so each exporter reports its first failure, once.
//! (The SDK's own diagnostics go through `tracing` targets that `traced` keeps out of the export
//! pipeline, so this is the one message a user sees.)

#![cfg_attr(not(any(feature = "otlp-grpc", feature = "otlp-http")), allow(dead_code))]

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::logs::{LogBatch, LogExporter};
use opentelemetry_sdk::metrics::data::ResourceMetrics;
use opentelemetry_sdk::metrics::exporter::PushMetricExporter;
use opentelemetry_sdk::metrics::Temporality;
use opentelemetry_sdk::trace::{SpanData, SpanExporter};
use opentelemetry_sdk::Resource;

/// Wraps an exporter; prints one warning naming the signal and endpoint at its first failure.
#[derive(Debug)]
pub(crate) struct WarnOnce<E> {
    inner: E,
    signal: &'static str,
    endpoint: String,
    warned: AtomicBool,
}

impl<E> WarnOnce<E> {
    pub(crate) fn new(inner: E, signal: &'static str, endpoint: &str) -> Self {
        // Printed: never with userinfo.
        Self {
            inner,
            signal,
            endpoint: crate::privacy::redact_url(endpoint).into_owned(),
            warned: AtomicBool::new(false),
        }
    }

    fn check(&self, result: OTelSdkResult) -> OTelSdkResult {
        if let Err(error) = &result {
            if !self.warned.swap(true, Ordering::Relaxed) {
                eprintln!("{}", self.message(error));
            }
        }
        result
    }

    fn message(&self, error: &dyn std::fmt::Display) -> String {
        let error = crate::privacy::redact_text(&error.to_string()).into_owned();
        format!(
            "traced: exporting {} to {} failed ({error}); data is dropped while the collector does not answer \
             (this warning is printed once)",
            self.signal, self.endpoint
        )
    }
}

impl<E: SpanExporter> SpanExporter for WarnOnce<E> {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        self.check(self.inner.export(batch).await)
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}

impl<E: PushMetricExporter> PushMetricExporter for WarnOnce<E> {
    async fn export(&self, metrics: &ResourceMetrics) -> OTelSdkResult {
        self.check(self.inner.export(metrics).await)
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn temporality(&self) -> Temporality {
        self.inner.temporality()
    }
}

impl<E: LogExporter> LogExporter for WarnOnce<E> {
    async fn export(&self, batch: LogBatch<'_>) -> OTelSdkResult {
        self.check(self.inner.export(batch).await)
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}

#[cfg(test)]
mod tests {
    use opentelemetry_sdk::error::OTelSdkError;

    use super::*;

    #[derive(Debug)]
    struct Failing;

    impl SpanExporter for Failing {
        async fn export(&self, _batch: Vec<SpanData>) -> OTelSdkResult {
            Err(OTelSdkError::InternalFailure("connection refused".into()))
        }
    }

    #[test]
    fn only_the_first_failure_is_reported() {
        let exporter = WarnOnce::new(Failing, "traces", "http://127.0.0.1:9");
        let message = exporter.message(&"connection refused");
        assert!(message.starts_with("traced: exporting traces to http://127.0.0.1:9 failed (connection refused)"));
        assert!(!exporter.warned.load(Ordering::Relaxed));
        for _ in 0..3 {
            let result = futures_util::FutureExt::now_or_never(exporter.export(Vec::new()));
            assert!(matches!(result, Some(Err(_))), "the failure still reaches the processor");
        }
        assert!(exporter.warned.load(Ordering::Relaxed));
    }
}
