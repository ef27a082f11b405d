//! The span processor half of the tree view: it sees spans start, which the exporter cannot, so the
//! exporter knows when a trace is whole; and it prints what is held on `force_flush`, which the SDK's
//! batch processor does not pass on to its exporter.

use std::sync::Arc;
use std::time::Duration;

use opentelemetry::trace::Span as _;
use opentelemetry::Context;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{Span, SpanData, SpanProcessor};
use opentelemetry_sdk::Resource;

use super::spans::Trees;

/// Hands out [`TrackOpenSpans`] wrappers; empty for the raw format, which holds nothing back.
#[derive(Debug, Clone)]
pub(crate) struct OpenSpanTracker(pub(super) Option<Arc<Trees>>);

impl OpenSpanTracker {
    /// Wraps the processor that feeds the console exporter.
    pub(crate) fn wrap<P: SpanProcessor>(self, inner: P) -> TrackOpenSpans<P> {
        TrackOpenSpans { trees: self.0, inner }
    }
}

/// Counts each sampled span as it starts, then forwards everything to `inner`.
#[derive(Debug)]
pub(crate) struct TrackOpenSpans<P> {
    trees: Option<Arc<Trees>>,
    inner: P,
}

impl<P: SpanProcessor> SpanProcessor for TrackOpenSpans<P> {
    fn on_start(&self, span: &mut Span, cx: &Context) {
        // Only sampled spans reach the exporter; counting others would hold their trace forever.
        if let Some(trees) = &self.trees {
            let context = span.span_context();
            if context.is_sampled() {
                trees.started(context.trace_id());
            }
        }
        self.inner.on_start(span, cx);
    }

    fn on_end(&self, span: SpanData) {
        self.inner.on_end(span);
    }

    fn force_flush(&self) -> OTelSdkResult {
        let result = self.inner.force_flush();
        if let Some(trees) = &self.trees {
            trees.print_held();
        }
        result
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}
