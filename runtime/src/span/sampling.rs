//! A sampler shared between the SDK and `traced`'s span fast path.
//!
//! When `traced` knows the provider's sampler it asks it first for the child of an unsampled parent:
//! a `Drop` then costs one sampler call and leaves the parent current (no span, no allocation), where
//! the SDK would build, attach and end a non-recording span.

use std::any::Any;
use std::sync::Arc;

use opentelemetry::trace::{Link, SpanKind, TraceId};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::trace::{Sampler, SamplingResult, ShouldSample};

/// A sampler that can be handed to the SDK and kept by `traced` at the same time.
#[derive(Debug, Clone)]
pub struct SharedSampler {
    sampler: Arc<dyn ShouldSample>,
    parent_based: bool,
}

impl SharedSampler {
    /// Shares `sampler`.
    pub fn new(sampler: impl ShouldSample + 'static) -> Self {
        // The SDK's `ParentBased` drops every child of an unsampled local parent, whatever its root
        // sampler: knowing that spares the sampler call on that path.
        let parent_based = matches!((&sampler as &dyn Any).downcast_ref::<Sampler>(), Some(Sampler::ParentBased(_)));
        Self { sampler: Arc::new(sampler), parent_based }
    }

    /// Whether a child of an unsampled, local parent is always dropped.
    #[inline]
    pub(crate) fn drops_children_of_unsampled_local_parents(&self) -> bool {
        self.parent_based
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
        self.sampler.should_sample(parent_context, trace_id, name, span_kind, attributes, links)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_sdk_parent_based_sampler_is_known_to_drop_children_of_unsampled_parents() {
        let parent_based = SharedSampler::new(Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(0.5))));
        assert!(parent_based.drops_children_of_unsampled_local_parents());
        assert!(!SharedSampler::new(Sampler::AlwaysOn).drops_children_of_unsampled_local_parents());
        assert!(!SharedSampler::new(Sampler::TraceIdRatioBased(0.1)).drops_children_of_unsampled_local_parents());
    }
}
