//! Capture the spans your code produces, in your own tests (feature `testing`).
//!
//! ```
//! #[traced::traced(name = "load-item")]
//! fn load_item() {}
//!
//! let capture = traced::testing::capture();
//! load_item();
//! assert_eq!(capture.span("load-item").name, "load-item");
//! ```

use std::sync::{Mutex, MutexGuard, PoisonError};

use opentelemetry::global::GlobalTracerProvider;
use opentelemetry::trace::{SpanId, TraceId};
use opentelemetry_sdk::trace::{InMemorySpanExporter, Sampler, SdkTracerProvider, ShouldSample, SpanData};

use crate::span::backend;
use crate::span::id_generator::SharedIdGenerator;
use crate::span::sampling::SharedSampler;

/// Tests in one binary run in parallel but the tracer provider is process-wide: captures take turns.
static CAPTURE_LOCK: Mutex<()> = Mutex::new(());

/// Installs an in-memory tracer provider sampling everything until the capture is dropped, then puts
/// back the provider that was there before (one the test set up itself keeps working).
pub fn capture() -> SpanCapture {
    capture_with_sampler(Sampler::AlwaysOn)
}

/// Like [`capture`], with the sampler of your choice.
pub fn capture_with_sampler(sampler: impl ShouldSample + 'static) -> SpanCapture {
    let lock = CAPTURE_LOCK.lock().unwrap_or_else(PoisonError::into_inner);
    let replaced = Replaced::take();
    let exporter = InMemorySpanExporter::default();
    let sampler = SharedSampler::new(sampler);
    let ids = SharedIdGenerator::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .with_sampler(sampler.clone())
        .with_id_generator(ids.clone())
        .build();
    crate::install_tracer_provider_with_sampler_and_ids(&provider, sampler, ids);
    SpanCapture { exporter, provider, replaced, _lock: lock }
}

/// Runs with no tracer provider at all (the state of a program that never set one up), until dropped.
///
/// Takes the same turn as [`capture`], so a test can check what happens without telemetry; the
/// provider that was there before comes back when it is dropped.
pub fn without_provider() -> NoProvider {
    let lock = CAPTURE_LOCK.lock().unwrap_or_else(PoisonError::into_inner);
    let replaced = Replaced::take();
    uninstall();
    NoProvider { replaced, _lock: lock }
}

/// The turn taken by [`without_provider`].
#[derive(Debug)]
pub struct NoProvider {
    replaced: Replaced,
    _lock: MutexGuard<'static, ()>,
}

impl Drop for NoProvider {
    fn drop(&mut self) {
        self.replaced.restore();
    }
}

fn uninstall() {
    backend::install_global();
    opentelemetry::global::set_tracer_provider(opentelemetry::trace::noop::NoopTracerProvider::new());
}

/// The tracer provider a capture replaced: the global one and where `#[traced]` sent its spans.
///
/// Putting the global one back wraps it in one more `GlobalTracerProvider` (the only handle the
/// API gives out); harmless in tests.
struct Replaced {
    global: GlobalTracerProvider,
    backend: backend::Snapshot,
}

impl Replaced {
    fn take() -> Self {
        Self { global: opentelemetry::global::tracer_provider(), backend: backend::snapshot() }
    }

    fn restore(&self) {
        opentelemetry::global::set_tracer_provider(self.global.clone());
        backend::restore(&self.backend);
    }
}

impl std::fmt::Debug for Replaced {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Replaced").field("backend", &self.backend).finish_non_exhaustive()
    }
}

/// The spans ended while it is alive; see [`capture`].
#[derive(Debug)]
pub struct SpanCapture {
    exporter: InMemorySpanExporter,
    provider: SdkTracerProvider,
    replaced: Replaced,
    _lock: MutexGuard<'static, ()>,
}

impl SpanCapture {
    /// Every span ended so far, in the order they ended.
    pub fn spans(&self) -> Vec<SpanData> {
        // The simple processor exports synchronously; the flush only matters for custom processors.
        let _ = self.provider.force_flush();
        self.exporter.get_finished_spans().unwrap_or_default()
    }

    /// The one span named `name`; panics with the names seen when there is none or several.
    pub fn span(&self, name: &str) -> SpanData {
        let spans = self.spans();
        let mut matching = spans.iter().filter(|span| span.name == name);
        match (matching.next(), matching.next()) {
            (Some(span), None) => span.clone(),
            _ => panic!(
                "expected exactly one span named {name:?}, got: {:?}",
                spans.iter().map(|span| &span.name).collect::<Vec<_>>()
            ),
        }
    }

    /// The spans named `name`.
    pub fn spans_named(&self, name: &str) -> Vec<SpanData> {
        self.spans().into_iter().filter(|span| span.name == name).collect()
    }

    /// The spans of one trace.
    pub fn trace(&self, trace_id: TraceId) -> Vec<SpanData> {
        self.spans().into_iter().filter(|span| span.span_context.trace_id() == trace_id).collect()
    }

    /// The children of the span `parent`.
    pub fn children(&self, parent: SpanId) -> Vec<SpanData> {
        self.spans().into_iter().filter(|span| span.parent_span_id == parent).collect()
    }

    /// Forgets the spans captured so far.
    pub fn clear(&self) {
        self.exporter.reset();
    }

    /// The provider spans go to, for code that needs a tracer of its own.
    pub fn provider(&self) -> &SdkTracerProvider {
        &self.provider
    }
}

impl Drop for SpanCapture {
    fn drop(&mut self) {
        self.replaced.restore();
        let _ = self.provider.shutdown();
    }
}
