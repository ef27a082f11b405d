//! A small tokio runtime owned by the guard: the export pipeline's workers run on it, and exporters
//! are polled inside it (tonic needs its reactor).
//!
//! The SDK's periodic metric reader runs on a plain thread and drives the exporter with
//! `futures_executor::block_on`. A tonic exporter polled there finds no reactor: building the channel
//! panics and every export fails. Building the exporter inside this runtime and entering it on every
//! poll of an export fixes both, whatever the application runs (`#[tokio::main]`, `current_thread`,
//! or no runtime at all). The runtime has its own worker thread, so `shutdown()` from inside a
//! `current_thread` runtime cannot deadlock.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::logs::{LogBatch, LogExporter};
use opentelemetry_sdk::metrics::data::ResourceMetrics;
use opentelemetry_sdk::metrics::exporter::PushMetricExporter;
use opentelemetry_sdk::metrics::Temporality;
use opentelemetry_sdk::trace::{SpanData, SpanExporter};
use opentelemetry_sdk::Resource;
use tokio::runtime::{Handle, Runtime};

/// The runtime, shut down without blocking when the guard drops (it may drop inside async code).
#[derive(Debug)]
pub(crate) struct ExportRuntime {
    runtime: Option<Runtime>,
}

impl ExportRuntime {
    pub(crate) fn start() -> std::io::Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("traced-export")
            .enable_all()
            .build()?;
        Ok(Self { runtime: Some(runtime) })
    }

    pub(crate) fn handle(&self) -> Option<Handle> {
        self.runtime.as_ref().map(|runtime| runtime.handle().clone())
    }
}

impl Drop for ExportRuntime {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// An exporter whose every call runs with `handle` entered (gRPC exporters only).
#[cfg_attr(not(feature = "otlp-grpc"), allow(dead_code))]
#[derive(Debug)]
pub(crate) struct InRuntime<E> {
    handle: Handle,
    inner: Arc<E>,
}

#[cfg_attr(not(feature = "otlp-grpc"), allow(dead_code))]
impl<E> InRuntime<E> {
    /// Builds the exporter inside the runtime (tonic spawns its connection task at build time).
    pub(crate) fn build<Err>(handle: Handle, build: impl FnOnce() -> Result<E, Err>) -> Result<Self, Err> {
        let inner = {
            let _entered = handle.enter();
            build()?
        };
        Ok(Self { handle, inner: Arc::new(inner) })
    }

    fn entered<'a, T>(&'a self, f: impl FnOnce(&'a E) -> T) -> T {
        let _entered = self.handle.enter();
        f(&self.inner)
    }
}

/// Runs `future` to completion on this (plain or blocking-pool) thread with `handle` entered, parking
/// between wake-ups, as the SDK's own threads do. Unlike `Handle::block_on` it does not mark the thread
/// as running async code, so an exporter that blocks inside (the blocking reqwest client builds and
/// drops a runtime of its own) may.
pub(crate) fn block_on<F: Future>(handle: &Handle, future: F) -> F::Output {
    struct Unpark(std::thread::Thread);
    impl std::task::Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let _entered = handle.enter();
    let waker = Arc::new(Unpark(std::thread::current())).into();
    let mut cx = Context::from_waker(&waker);
    let mut future = std::pin::pin!(future);
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
        std::thread::park();
    }
}

/// `future`, polled with `handle` entered.
pub(crate) fn in_runtime<F: Future>(handle: Handle, future: F) -> Entered<F> {
    Entered { handle, inner: future }
}

pin_project_lite::pin_project! {
    /// Enters the runtime around each poll, so timers and I/O the exporter creates find their driver.
    pub(crate) struct Entered<F> {
        handle: Handle,
        #[pin]
        inner: F,
    }
}

impl<F: Future> Future for Entered<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let _entered = this.handle.enter();
        this.inner.poll(cx)
    }
}

#[cfg_attr(not(feature = "otlp-grpc"), allow(dead_code))]
impl<E> InRuntime<E> {
    fn run<'a, F: Future + 'a>(&'a self, future: impl FnOnce(&'a E) -> F) -> Entered<F> {
        let inner = self.entered(future);
        Entered { handle: self.handle.clone(), inner }
    }
}

impl<E: SpanExporter> SpanExporter for InRuntime<E> {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        self.run(|inner| inner.export(batch)).await
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.entered(|inner| inner.shutdown_with_timeout(timeout))
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.entered(|inner| inner.force_flush())
    }

    fn set_resource(&mut self, resource: &Resource) {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.set_resource(resource);
        }
    }
}

impl<E: PushMetricExporter> PushMetricExporter for InRuntime<E> {
    async fn export(&self, metrics: &ResourceMetrics) -> OTelSdkResult {
        self.run(|inner| inner.export(metrics)).await
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.entered(|inner| inner.force_flush())
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.entered(|inner| inner.shutdown_with_timeout(timeout))
    }

    fn temporality(&self) -> Temporality {
        self.inner.temporality()
    }
}

impl<E: LogExporter> LogExporter for InRuntime<E> {
    async fn export(&self, batch: LogBatch<'_>) -> OTelSdkResult {
        self.run(|inner| inner.export(batch)).await
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.entered(|inner| inner.shutdown_with_timeout(timeout))
    }

    fn set_resource(&mut self, resource: &Resource) {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.set_resource(resource);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct NeedsReactor;

    impl SpanExporter for NeedsReactor {
        async fn export(&self, _batch: Vec<SpanData>) -> OTelSdkResult {
            // Panics with "no reactor running" unless a runtime is entered.
            tokio::time::sleep(Duration::from_millis(1)).await;
            Ok(())
        }
    }

    #[test]
    fn export_polled_by_a_plain_executor_finds_the_runtime() {
        let runtime = ExportRuntime::start().expect("runtime starts");
        let handle = runtime.handle().expect("runtime is running");
        let exporter = InRuntime::build(handle, || Ok::<_, ()>(NeedsReactor)).expect("exporter builds");
        let other_runtime = ExportRuntime::start().expect("a second runtime");
        let other = other_runtime.handle().expect("running");
        // Polled on a plain thread with an unrelated runtime entered: the exporter enters its own.
        let result = std::thread::spawn(move || block_on(&other, exporter.export(Vec::new())))
            .join()
            .expect("export thread does not panic");
        assert!(result.is_ok());
    }

    #[test]
    fn an_export_may_build_and_drop_a_runtime_on_a_blocking_thread() {
        // What the blocking reqwest client does on every request in debug builds.
        let runtime = ExportRuntime::start().expect("runtime starts");
        let handle = runtime.handle().expect("runtime is running");
        let inner = handle.clone();
        let blocking = handle.spawn_blocking(move || {
            block_on(&inner, async {
                drop(tokio::runtime::Builder::new_current_thread().build().expect("a runtime of its own"));
                tokio::time::sleep(Duration::from_millis(1)).await;
            })
        });
        let joined = std::thread::spawn(move || block_on(&handle, blocking)).join().expect("no panic");
        assert!(joined.is_ok(), "the blocking task did not panic");
    }
}
