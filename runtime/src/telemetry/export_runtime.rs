//! A small tokio runtime owned by the guard: the export pipeline's workers run on it, and exporters
//! are polled inside it (tonic needs its reactor).
//!
//! The SDK's periodic metric reader runs on a plain thread and drives the exporter with
//! `futures_executor::block_on`. A tonic exporter polled there finds no reactor: building the channel
//! panics and every export fails. Entering this runtime on every poll of an export (`in_runtime`,
//! `block_on`) fixes that, whatever the application runs (`#[tokio::main]`, `current_thread`,
//! or no runtime at all). The runtime has its own worker thread, so `shutdown()` from inside a
//! `current_thread` runtime cannot deadlock.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn an_export_polled_by_a_plain_executor_finds_its_runtime() {
        let runtime = ExportRuntime::start().expect("runtime starts");
        let handle = runtime.handle().expect("runtime is running");
        // Panics with "no reactor running" unless a runtime is entered.
        let export = in_runtime(handle, async { tokio::time::sleep(Duration::from_millis(1)).await });
        let other_runtime = ExportRuntime::start().expect("a second runtime");
        let other = other_runtime.handle().expect("running");
        // Polled on a plain thread with an unrelated runtime entered: the export enters its own.
        std::thread::spawn(move || block_on(&other, export)).join().expect("export thread does not panic");
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
