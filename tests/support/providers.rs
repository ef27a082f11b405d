//! The simplest SDK tracer provider a test can own: every span exported at once into memory.

use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};

/// A provider with a simple (synchronous) exporter into the returned in-memory exporter.
pub fn in_memory_tracer_provider() -> (SdkTracerProvider, InMemorySpanExporter) {
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder().with_simple_exporter(exporter.clone()).build();
    (provider, exporter)
}
