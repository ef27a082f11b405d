//! The value `traced::init()` returns: while it lives, telemetry is installed; when it drops (or
//! [`TelemetryGuard::shutdown`] is called) every provider flushes and shuts down, so a short-lived
//! process loses no span, and `#[traced]` goes back to the (now no-op) global provider.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use opentelemetry::global;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::logs::SdkLoggerProvider;
use opentelemetry_sdk::metrics::SdkMeterProvider;
use opentelemetry_sdk::trace::SdkTracerProvider;

use super::error::{InitError, ShutdownError};
use super::export_queue::{Dropped, QueueStats};
use super::logs;
use super::providers::Providers;
use crate::backend;

/// Set while a guard is alive: a second `init()` is an error, not a silent replacement.
static ACTIVE: AtomicBool = AtomicBool::new(false);

/// Claims the single installation slot.
pub(crate) fn claim() -> Result<Claim, InitError> {
    ACTIVE
        .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
        .map_err(|_| InitError::AlreadyInitialized)?;
    Ok(Claim(()))
}

/// The slot, released on drop unless a guard takes it over (so a failed `init()` can be retried).
#[derive(Debug)]
pub(crate) struct Claim(());

impl Drop for Claim {
    fn drop(&mut self) {
        ACTIVE.store(false, Ordering::Release);
    }
}

/// Keeps telemetry installed; flushes and shuts everything down when dropped.
#[derive(Debug)]
#[must_use = "telemetry shuts down as soon as the guard is dropped: keep it alive until the end of `main`"]
pub struct TelemetryGuard {
    providers: Option<Providers>,
    claim: Option<Claim>,
}

impl TelemetryGuard {
    /// Installs `providers` globally: `#[traced]` spans, the global tracer and meter providers.
    pub(crate) fn install(providers: Providers, claim: Claim) -> Self {
        crate::install_tracer_provider_with_sampler(&providers.tracer, providers.sampler.clone());
        if let Some(meter) = &providers.meter {
            global::set_meter_provider(meter.clone());
        }
        Self { providers: Some(providers), claim: Some(claim) }
    }

    /// `OTEL_SDK_DISABLED=true`: nothing is installed and `#[traced]` spans cost one atomic load.
    pub(crate) fn disabled(claim: Claim) -> Self {
        backend::install_disabled();
        Self { providers: None, claim: Some(claim) }
    }

    /// The tracer provider, for libraries that take one explicitly; `None` when the SDK is disabled.
    pub fn tracer_provider(&self) -> Option<&SdkTracerProvider> {
        self.providers.as_ref().map(|providers| &providers.tracer)
    }

    /// The meter provider; `None` when metrics are off (`OTEL_METRICS_EXPORTER=none`) or disabled.
    pub fn meter_provider(&self) -> Option<&SdkMeterProvider> {
        self.providers.as_ref().and_then(|providers| providers.meter.as_ref())
    }

    /// The logger provider; `None` when logs are off (`OTEL_LOGS_EXPORTER=none`) or disabled.
    pub fn logger_provider(&self) -> Option<&SdkLoggerProvider> {
        self.providers.as_ref().and_then(|providers| providers.logger.as_ref())
    }

    /// A `tracing` layer that turns events into logs (or span events when logs are off), for an
    /// application that sets its own global subscriber; `init()` routes events itself otherwise.
    pub fn tracing_layer<S>(&self) -> Box<dyn tracing_subscriber::Layer<S> + Send + Sync>
    where
        S: tracing::Subscriber + for<'span> tracing_subscriber::registry::LookupSpan<'span> + Send + Sync,
    {
        logs::layer(self.logger_provider())
    }

    /// Spans the span exporters did not deliver so far (queue full, failed exports), summed over
    /// exporters; zero when the SDK is disabled. A warning on stderr announces the first queue-full
    /// drop, and shutdown prints the totals.
    pub fn dropped_spans(&self) -> Dropped {
        self.providers.as_ref().map(|providers| total(&providers.span_queues)).unwrap_or_default()
    }

    /// Log records the log exporters did not deliver so far, as [`TelemetryGuard::dropped_spans`].
    pub fn dropped_log_records(&self) -> Dropped {
        self.providers.as_ref().map(|providers| total(&providers.log_queues)).unwrap_or_default()
    }

    /// Exports everything buffered so far, e.g. before a serverless function returns.
    pub fn force_flush(&self) -> Result<(), ShutdownError> {
        let Some(providers) = &self.providers else { return Ok(()) };
        collect([
            ("traces", Some(providers.tracer.force_flush())),
            ("metrics", providers.meter.as_ref().map(SdkMeterProvider::force_flush)),
            ("logs", providers.logger.as_ref().map(SdkLoggerProvider::force_flush)),
        ])
    }

    /// Flushes and shuts down every provider, reporting what failed. Dropping the guard does the
    /// same and ignores failures.
    pub fn shutdown(mut self) -> Result<(), ShutdownError> {
        self.shutdown_in_place()
    }

    fn shutdown_in_place(&mut self) -> Result<(), ShutdownError> {
        let Some(claim) = self.claim.take() else { return Ok(()) };
        // `#[traced]` stops using the SDK tracer before its provider goes away.
        backend::install_global();
        let result = match self.providers.take() {
            None => Ok(()),
            Some(providers) => {
                global::set_tracer_provider(opentelemetry::trace::noop::NoopTracerProvider::new());
                if providers.meter.is_some() {
                    global::set_meter_provider(opentelemetry::metrics::NoopMeterProvider::new());
                }
                logs::stop_routing();
                let Providers { tracer, meter, logger, runtime, .. } = providers;
                let result = collect([
                    ("traces", Some(tracer.shutdown())),
                    ("metrics", meter.as_ref().map(SdkMeterProvider::shutdown)),
                    ("logs", logger.as_ref().map(SdkLoggerProvider::shutdown)),
                ]);
                // The gRPC runtime goes last: the final exports above ran on it.
                drop(runtime);
                result
            }
        };
        drop(claim);
        result
    }
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        let _ = self.shutdown_in_place();
    }
}

fn total(queues: &[Arc<QueueStats>]) -> Dropped {
    queues.iter().map(|queue| queue.dropped()).fold(Dropped::default(), |sum, dropped| sum + dropped)
}

fn collect(results: [(&'static str, Option<OTelSdkResult>); 3]) -> Result<(), ShutdownError> {
    let failures: Vec<_> = results
        .into_iter()
        .filter_map(|(signal, result)| match result {
            Some(Err(error)) => Some((signal, error)),
            _ => None,
        })
        .collect();
    if failures.is_empty() {
        Ok(())
    } else {
        Err(ShutdownError { failures })
    }
}
