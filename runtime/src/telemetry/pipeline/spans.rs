//! The span processor that feeds one exporter's queue: only sampled spans are queued (a span a
//! sampler recorded without sampling never reaches an exporter, as the specification asks).

use std::time::Duration;

use opentelemetry::Context;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{Span, SpanData, SpanProcessor};

use super::queue::Queue;
use super::Control;

/// Queues sampled spans for one exporter's worker.
#[derive(Debug)]
pub(crate) struct SpanPipeline {
    queue: Queue<SpanData>,
    control: Control,
}

impl SpanPipeline {
    pub(crate) fn new(queue: Queue<SpanData>, control: Control) -> Self {
        Self { queue, control }
    }
}

impl SpanProcessor for SpanPipeline {
    fn on_start(&self, _span: &mut Span, _cx: &Context) {}

    // Hot path: `cargo bench -p traced --bench span_cost -- pipeline`.
    fn on_end(&self, span: SpanData) {
        if span.span_context.is_sampled() {
            self.queue.push(span);
        }
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.control.flush(&self.queue.shared)
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        self.control.stop(&self.queue.shared)
    }
}
