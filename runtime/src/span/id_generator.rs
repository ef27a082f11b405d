//! An id generator shared between the SDK and `traced`'s span fast path.
//!
//! Knowing the provider's id generator (and its sampler) lets `#[traced]` decide a root span before the
//! SDK does, with the trace id the SDK would have used: a dropped root then costs no SDK span at all,
//! and a kept one is handed to the SDK with its ids and decision (see `span::presample`), so the
//! sampler runs once per span.

use std::sync::Arc;

use opentelemetry::trace::{SpanId, TraceId};
use opentelemetry_sdk::trace::{IdGenerator, RandomIdGenerator};

use crate::span::presample;

/// An id generator that can be handed to the SDK and kept by `traced` at the same time.
///
/// ```
/// use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider};
/// use traced::{SharedIdGenerator, SharedSampler};
///
/// let sampler = SharedSampler::new(Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(0.1))));
/// let ids = SharedIdGenerator::default();
/// let provider =
///     SdkTracerProvider::builder().with_sampler(sampler.clone()).with_id_generator(ids.clone()).build();
/// traced::install_tracer_provider_with_sampler_and_ids(&provider, sampler, ids);
/// ```
#[derive(Debug, Clone)]
pub struct SharedIdGenerator {
    generator: Arc<dyn IdGenerator>,
}

impl SharedIdGenerator {
    /// Shares `generator`.
    pub fn new(generator: impl IdGenerator + 'static) -> Self {
        Self { generator: Arc::new(generator) }
    }

    /// A new trace id from the shared generator itself (never a handed-over one).
    #[inline]
    pub(crate) fn generate_trace_id(&self) -> TraceId {
        self.generator.new_trace_id()
    }

    /// A new span id from the shared generator itself (never a handed-over one).
    #[inline]
    pub(crate) fn generate_span_id(&self) -> SpanId {
        self.generator.new_span_id()
    }
}

impl Default for SharedIdGenerator {
    /// The SDK's default, random ids.
    fn default() -> Self {
        Self::new(RandomIdGenerator::default())
    }
}

impl IdGenerator for SharedIdGenerator {
    #[inline]
    fn new_trace_id(&self) -> TraceId {
        presample::take_trace_id().unwrap_or_else(|| self.generator.new_trace_id())
    }

    #[inline]
    fn new_span_id(&self) -> SpanId {
        presample::take_span_id().unwrap_or_else(|| self.generator.new_span_id())
    }
}
