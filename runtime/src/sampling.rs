//! A sampler shared between the SDK and `traced`'s span fast path.
//!
//! When `traced` knows the provider's sampler it asks it first for the child of an unsampled parent:
//! a `Drop` then costs one sampler call and leaves the parent current (no span, no allocation), where
//! the SDK would build, attach and end a non-recording span.

use std::sync::Arc;

use opentelemetry::trace::{Link, SpanKind, TraceId};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::trace::{SamplingResult, ShouldSample};

/// A sampler that can be handed to the SDK and kept by `traced` at the same time.
#[derive(Debug, Clone)]
pub struct SharedSampler(Arc<dyn ShouldSample>);

impl SharedSampler {
    /// Shares `sampler`.
    pub fn new(sampler: impl ShouldSample + 'static) -> Self {
        Self(Arc::new(sampler))
    }
}

impl ShouldSample for SharedSampler {
    #[inline]
    fn should_sample(
        &self,
        parent_context: Option<&Context>,
        trace_id: TraceId,
        name: &str,
        span_kind: &SpanKind,
        attributes: &[KeyValue],
        links: &[Link],
    ) -> SamplingResult {
        self.0.should_sample(parent_context, trace_id, name, span_kind, attributes, links)
    }
}
