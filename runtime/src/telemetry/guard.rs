//! The value `traced::init()` returns: while it lives, telemetry is installed; when it drops (or
//! [`TelemetryGuard::shutdown`] is called) every signal flushes and shuts down in parallel under one
//! deadline, so a short-lived process loses no span (and says what it lost when the collector did
//! not keep up), and `#[traced]` goes back to the (now no-op) global provider.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use opentelemetry::global;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::logs::SdkLoggerProvider;
use opentelemetry_sdk::metrics::SdkMeterProvider;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tokio::runtime::{Handle, RuntimeFlavor};

use super::error::{InitError, ShutdownError};
use super::logs;
use super::pipeline::accounting::SignalAccounting;
use super::pipeline::deadline::{after, COUNTING_GRACE};
use super::pipeline::report::ExportReport;
use super::providers::Providers;
use crate::span::backend;

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
        crate::install_tracer_provider_with_sampler_and_ids(
            &providers.tracer,
            providers.sampler.clone(),
            providers.ids.clone(),
        );
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

    /// What became of the sampled spans so far, summed over the span exporters (zero when the SDK is
    /// disabled): `ended = exported + unconfirmed + pending + dropped`. A warning on stderr announces
    /// the first queue-full drop; shutdown prints every term when anything was not exported.
    pub fn spans(&self) -> SignalAccounting {
        self.report().spans
    }

    /// What became of the log records so far, as [`TelemetryGuard::spans`].
    pub fn log_records(&self) -> SignalAccounting {
        self.report().log_records
    }

    /// What became of the metric exports so far (one per periodic collection), as
    /// [`TelemetryGuard::spans`].
    pub fn metric_exports(&self) -> SignalAccounting {
        self.report().metric_exports
    }

    /// Every signal's figures so far, and each exporter's.
    pub fn report(&self) -> ExportReport {
        self.providers.as_ref().map(|providers| providers.pipeline.report()).unwrap_or_default()
    }

    /// Exports everything queued so far, e.g. before a serverless function returns; waits at most the
    /// shutdown deadline (`TRACED_SHUTDOWN_TIMEOUT`), all signals in parallel.
    pub fn force_flush(&self) -> Result<(), ShutdownError> {
        let Some(providers) = &self.providers else { return Ok(()) };
        let pipeline = &providers.pipeline;
        let deadline = after(pipeline.shutdown_timeout());
        let flushes = pipeline.begin_flush(deadline);
        let tracer = providers.tracer.clone();
        let mut jobs: Vec<Job> = vec![("traces", Box::new(move || tracer.force_flush()))];
        if let Some(meter) = providers.meter.clone() {
            jobs.push(("metrics", Box::new(move || meter.force_flush())));
        }
        if let Some(logger) = providers.logger.clone() {
            jobs.push(("logs", Box::new(move || logger.force_flush())));
        }
        let mut failures = in_parallel(jobs, deadline, pipeline.shutdown_timeout());
        if !flushes.iter().all(|flush| flush.wait_until(deadline)) && failures.is_empty() {
            failures.push(("traces and logs", OTelSdkError::Timeout(pipeline.shutdown_timeout())));
        }
        pipeline.end_flush();
        if failures.is_empty() {
            Ok(())
        } else {
            Err(ShutdownError::new(failures, pipeline.report()))
        }
    }

    /// Flushes and shuts down every signal in parallel under one deadline (`TRACED_SHUTDOWN_TIMEOUT`,
    /// default 5 s): each queue is drained batch after batch, what the deadline cuts is counted. Returns
    /// what became of every item, also printed on stderr when anything was not exported; an error
    /// when a signal did not finish in time. Dropping the guard does the same and ignores the result;
    /// dropped on a `current_thread` runtime, it blocks that runtime for at most 2 s and a helper
    /// thread finishes the exports, so a collector running on that runtime (a test's in-process
    /// receiver) can still answer them.
    pub fn shutdown(mut self) -> Result<ExportReport, ShutdownError> {
        self.shutdown_in_place()
    }

    fn shutdown_in_place(&mut self) -> Result<ExportReport, ShutdownError> {
        let Some(claim) = self.claim.take() else { return Ok(ExportReport::default()) };
        let result = self.uninstall().map_or(Ok(ExportReport::default()), shut_down);
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

/// One signal's flush or shutdown, run beside the others.
type Job = (&'static str, Box<dyn FnOnce() -> OTelSdkResult + Send>);

/// Runs `jobs` on threads of their own, waiting for them until `deadline` (plus the time the workers
/// need to count what it cut); returns the failures, a job still running counting as timed out after
/// `timeout` (the deadline's length, for the message).
fn in_parallel(jobs: Vec<Job>, deadline: Instant, timeout: Duration) -> Vec<(&'static str, OTelSdkError)> {
    let (finished, results) = mpsc::channel();
    let mut running = Vec::new();
    for (signal, job) in jobs {
        let finished = finished.clone();
        let spawned = std::thread::Builder::new().name(format!("traced-{signal}")).spawn(move || {
            let _ = finished.send((signal, job()));
        });
        if spawned.is_ok() {
            running.push(signal);
        }
        // Without a thread, the job was dropped unrun: its pipeline still stops by the deadline.
    }
    drop(finished);
    let until = deadline + COUNTING_GRACE;
    let mut failures = Vec::new();
    while !running.is_empty() {
        let left = until.saturating_duration_since(Instant::now());
        match results.recv_timeout(left) {
            Ok((signal, result)) => {
                running.retain(|running| *running != signal);
                if let Err(error) = result {
                    failures.push((signal, error));
                }
            }
            Err(_) => break,
        }
    }
    failures.extend(running.into_iter().map(|signal| (signal, OTelSdkError::Timeout(timeout))));
    failures
}

/// Shuts every signal down in parallel under one deadline; the export runtime goes last, as the
/// final exports run on it. Prints the summary when anything was not exported.
pub(crate) fn shut_down(providers: Providers) -> Result<ExportReport, ShutdownError> {
    let Providers { tracer, meter, logger, pipeline, runtime, .. } = providers;
    let deadline = after(pipeline.shutdown_timeout());
    // Every queue starts draining now, before the providers ask their processors one by one.
    pipeline.begin_shutdown(deadline);
    let mut jobs: Vec<Job> = vec![("traces", Box::new(move || tracer.shutdown()))];
    if let Some(meter) = meter {
        jobs.push(("metrics", Box::new(move || meter.shutdown())));
    }
    if let Some(logger) = logger {
        jobs.push(("logs", Box::new(move || logger.shutdown())));
    }
    let failures = in_parallel(jobs, deadline, pipeline.shutdown_timeout());
    pipeline.metrics_stopped();
    pipeline.wait_stopped(deadline + COUNTING_GRACE);
    let report = pipeline.report();
    if let Some(summary) = report.summary() {
        eprintln!("{summary}");
    }
    drop(runtime);
    if failures.is_empty() {
        Ok(report)
    } else {
        Err(ShutdownError::new(failures, report))
    }
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
