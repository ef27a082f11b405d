//! The value `traced::init()` returns: while it lives, telemetry is installed; when it drops (or
//! [`TelemetryGuard::shutdown`] is called) every provider flushes and shuts down, so a short-lived
//! process loses no span, and `#[traced]` goes back to the (now no-op) global provider.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use opentelemetry::global;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::logs::SdkLoggerProvider;
use opentelemetry_sdk::metrics::SdkMeterProvider;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tokio::runtime::{Handle, RuntimeFlavor};

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
    /// same and ignores failures; dropped on a `current_thread` runtime, it blocks that runtime for
    /// at most 2 s and a helper thread finishes the exports, so a collector running on that runtime
    /// (a test's in-process receiver) can still answer them.
    pub fn shutdown(mut self) -> Result<(), ShutdownError> {
        self.shutdown_in_place()
    }

    fn shutdown_in_place(&mut self) -> Result<(), ShutdownError> {
        let Some(claim) = self.claim.take() else { return Ok(()) };
        let result = self.uninstall().map_or(Ok(()), shut_down);
        drop(claim);
        result
    }

    /// Stops routing telemetry to the providers and hands them over, to be shut down.
    fn uninstall(&mut self) -> Option<Providers> {
        // `#[traced]` stops using the SDK tracer before its provider goes away.
        backend::install_global();
        let providers = self.providers.take()?;
        global::set_tracer_provider(opentelemetry::trace::noop::NoopTracerProvider::new());
        if providers.meter.is_some() {
            global::set_meter_provider(opentelemetry::metrics::NoopMeterProvider::new());
        }
        logs::stop_routing();
        Some(providers)
    }
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        if !drives_current_thread_runtime() {
            let _ = self.shutdown_in_place();
            return;
        }
        let Some(claim) = self.claim.take() else { return };
        if let Some(providers) = self.uninstall() {
            shut_down_beside_this_thread(providers);
        }
        drop(claim);
    }
}

/// Flushes and shuts down every provider; the gRPC runtime goes last, as the final exports run on it.
fn shut_down(providers: Providers) -> Result<(), ShutdownError> {
    let Providers { tracer, meter, logger, runtime, .. } = providers;
    let result = collect([
        ("traces", Some(tracer.shutdown())),
        ("metrics", meter.as_ref().map(SdkMeterProvider::shutdown)),
        ("logs", logger.as_ref().map(SdkLoggerProvider::shutdown)),
    ]);
    drop(runtime);
    result
}

/// How long a guard dropped on a `current_thread` runtime waits for the final exports.
const CURRENT_THREAD_SHUTDOWN_WAIT: Duration = Duration::from_secs(2);

/// Whether this thread runs a `current_thread` tokio runtime: blocking it stalls every task on it,
/// including a collector living there (a test's in-process receiver) that the final exports wait for.
fn drives_current_thread_runtime() -> bool {
    Handle::try_current().is_ok_and(|handle| handle.runtime_flavor() == RuntimeFlavor::CurrentThread)
}

/// Shuts the providers down on a helper thread and waits for it a bounded time: a collector elsewhere
/// has answered by then; one on this thread's runtime answers once the caller goes on, and the helper
/// completes the exports then instead of timing out while this thread blocks.
fn shut_down_beside_this_thread(providers: Providers) {
    let (finished, done) = mpsc::channel();
    let helper = std::thread::Builder::new().name("traced-shutdown".into()).spawn(move || {
        let _ = shut_down(providers);
        let _ = finished.send(());
    });
    // Without a helper, the providers were dropped with the closure, which shuts them down here.
    if helper.is_ok() {
        let _ = done.recv_timeout(CURRENT_THREAD_SHUTDOWN_WAIT);
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
