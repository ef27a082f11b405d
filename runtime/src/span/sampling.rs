//! A sampler shared between the SDK and `traced`'s span fast path.
//!
//! When `traced` knows the provider's sampler it asks it first (see `span::presample`): for the child
//! of an unsampled parent a `Drop` then costs one sampler call and leaves the parent current (no span,
//! no allocation), where the SDK would build, attach and end a non-recording span; with the id
//! generator known too, roots are decided the same way and a kept one is handed to the SDK with its
//! decision, which this sampler returns instead of asking again.

use std::any::Any;
use std::sync::Arc;

use opentelemetry::trace::TraceContextExt as _;
use opentelemetry::trace::{Link, SpanKind, TraceId};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::trace::{Sampler, SamplingDecision, SamplingResult, ShouldSample};

use crate::span::presample;

/// A sampler that can be handed to the SDK and kept by `traced` at the same time.
#[derive(Debug, Clone)]
pub struct SharedSampler {
    sampler: Arc<dyn ShouldSample>,
    parent_based: bool,
    /// What the sampler answers for every root, when that does not depend on the span.
    root: Option<SamplingDecision>,
    /// Which spans' names, kinds, attributes and links the sampler may read (asked by the HTTP spans).
    #[cfg_attr(not(any(feature = "axum", feature = "reqwest")), allow(dead_code))]
    reads: Reads,
}

/// Which spans a sampler may look at beyond their parent and trace id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reads {
    /// None: the SDK's `AlwaysOn`, `AlwaysOff`, `TraceIdRatioBased`, and `ParentBased` over one of them.
    Nothing,
    /// Those without an active parent span: a `ParentBased` whose root sampler `traced` cannot see.
    Roots,
    /// Any span: a sampler of unknown type.
    Everything,
}

impl SharedSampler {
    /// Shares `sampler`.
    pub fn new(sampler: impl ShouldSample + 'static) -> Self {
        // The SDK's `ParentBased` drops every child of an unsampled local parent, whatever its root
        // sampler, and its constant samplers answer every root alike: knowing that spares the sampler
        // call on those paths.
        let sdk = (&sampler as &dyn Any).downcast_ref::<Sampler>();
        let parent_based = matches!(sdk, Some(Sampler::ParentBased(_)));
        let root = sdk.and_then(constant_root_decision);
        let reads = match sdk {
            Some(sdk) if reads_nothing(sdk) => Reads::Nothing,
            Some(Sampler::ParentBased(_)) => Reads::Roots,
            _ => Reads::Everything,
        };
        Self { sampler: Arc::new(sampler), parent_based, root, reads }
    }

    /// Shares `Sampler::ParentBased(Box::new(root))`.
    ///
    /// The same sampler as `SharedSampler::new(Sampler::ParentBased(Box::new(root)))`, except that
    /// `traced` sees its root sampler too (the SDK gives no way to look inside a `ParentBased` once
    /// built): a constant one (`AlwaysOn`, `AlwaysOff`) then answers root spans without being asked.
    pub fn parent_based(root: Sampler) -> Self {
        let root_decision = constant_root_decision(&root);
        let reads = if reads_nothing(&root) { Reads::Nothing } else { Reads::Roots };
        Self { root: root_decision, reads, ..Self::new(Sampler::ParentBased(Box::new(root))) }
    }

    /// Whether the answer for a span under `parent_context` may depend on what the sampler is shown
    /// (name, kind, attributes, links). When it cannot, a caller may decide before building them.
    #[inline]
    #[cfg_attr(not(any(feature = "axum", feature = "reqwest")), allow(dead_code))]
    pub(crate) fn reads_shown(&self, parent_context: &Context) -> bool {
        match self.reads {
            Reads::Nothing => false,
            // The SDK's `ParentBased` answers from the parent's flags whenever a span is active.
            Reads::Roots => !parent_context.has_active_span(),
            Reads::Everything => true,
        }
    }

    /// Whether a child of an unsampled, local parent is always dropped.
    #[inline]
    pub(crate) fn drops_children_of_unsampled_local_parents(&self) -> bool {
        self.parent_based
    }

    /// The sampler's answer for a span with no valid parent, without asking when it is known (the
    /// SDK's constant samplers, and the root of its `ParentBased` when no span is current).
    #[inline]
    pub(crate) fn decide_root(&self, parent_context: &Context, trace_id: TraceId, shown: &Shown<'_>) -> RootAnswer {
        // The SDK's `ParentBased` treats an active span with an invalid context as an unsampled parent.
        let asks_parent = self.parent_based && parent_context.has_active_span();
        match &self.root {
            Some(decision) if !asks_parent => RootAnswer::Constant(decision.clone()),
            _ => RootAnswer::Asked(self.decide(Some(parent_context), trace_id, shown)),
        }
    }

    /// Asks the shared sampler itself (never a decision handed over to the SDK).
    #[inline]
    pub(crate) fn decide(
        &self,
        parent_context: Option<&Context>,
        trace_id: TraceId,
        shown: &Shown<'_>,
    ) -> SamplingResult {
        let Shown { name, kind, attributes, links } = *shown;
        self.sampler.should_sample(parent_context, trace_id, name, kind, attributes, links)
    }
}

/// A sampler's answer for a root span.
#[derive(Debug)]
pub(crate) enum RootAnswer {
    /// What the SDK's constant samplers answer: this decision, no attributes, and the parent context's
    /// trace state (built only for a root the SDK is handed, see [`RootAnswer::into_result`]).
    Constant(SamplingDecision),
    /// What the sampler answered when asked.
    Asked(SamplingResult),
}

impl RootAnswer {
    /// The answer in full, for a span started under `parent_context`.
    pub(crate) fn into_result(self, parent_context: &Context) -> SamplingResult {
        match self {
            RootAnswer::Constant(decision) => SamplingResult {
                decision,
                attributes: Vec::new(),
                trace_state: parent_context.span().span_context().trace_state().clone(),
            },
            RootAnswer::Asked(result) => result,
        }
    }
}

/// What a sampler is shown of a span about to start, besides its parent context and trace id.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Shown<'a> {
    pub(crate) name: &'a str,
    pub(crate) kind: &'a SpanKind,
    pub(crate) attributes: &'a [KeyValue],
    pub(crate) links: &'a [Link],
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
        // The SDK building a span `traced` already decided: the decision comes with it.
        match presample::take_result(trace_id) {
            Some(result) => result,
            None => self.sampler.should_sample(parent_context, trace_id, name, span_kind, attributes, links),
        }
    }
}

/// Whether `sampler` decides from the parent context and the trace id alone.
fn reads_nothing(sampler: &Sampler) -> bool {
    matches!(sampler, Sampler::AlwaysOn | Sampler::AlwaysOff | Sampler::TraceIdRatioBased(_))
}

/// What `sampler` answers for any root span, when that does not depend on the span (trace id ratios
/// do; what a `ParentBased` delegates to cannot be seen).
fn constant_root_decision(sampler: &Sampler) -> Option<SamplingDecision> {
    match sampler {
        Sampler::AlwaysOn => Some(SamplingDecision::RecordAndSample),
        Sampler::AlwaysOff => Some(SamplingDecision::Drop),
        _ => None,
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

    #[test]
    fn known_root_answers_are_the_samplers_own() {
        use opentelemetry::trace::{SpanContext, SpanId, TraceFlags, TraceState};

        let samplers = [
            (SharedSampler::new(Sampler::AlwaysOn), Sampler::AlwaysOn),
            (SharedSampler::new(Sampler::AlwaysOff), Sampler::AlwaysOff),
            (SharedSampler::parent_based(Sampler::AlwaysOn), Sampler::ParentBased(Box::new(Sampler::AlwaysOn))),
            (SharedSampler::parent_based(Sampler::AlwaysOff), Sampler::ParentBased(Box::new(Sampler::AlwaysOff))),
        ];
        // A context with no valid span but a trace state, the most a root's parent context can carry.
        let state = TraceState::from_key_value([("vendor", "x")]).expect("valid");
        let invalid = SpanContext::new(TraceId::INVALID, SpanId::INVALID, TraceFlags::default(), false, state);
        for parent in [Context::new(), Context::new().with_remote_span_context(invalid)] {
            for (shared, sampler) in &samplers {
                assert!(shared.root.is_some(), "{sampler:?}");
                assert_eq!(
                    shared.drops_children_of_unsampled_local_parents(),
                    matches!(sampler, Sampler::ParentBased(_))
                );
                let shown = Shown { name: "s", kind: &SpanKind::Internal, attributes: &[], links: &[] };
                let answer = shared.decide_root(&parent, TraceId::from(5), &shown);
                // `ParentBased` asks about an active span, even an invalid one.
                let asks = matches!(sampler, Sampler::ParentBased(_)) && parent.has_active_span();
                assert_eq!(matches!(answer, RootAnswer::Asked(_)), asks, "{sampler:?}");
                let known = answer.into_result(&parent);
                let asked = sampler.should_sample(Some(&parent), TraceId::from(5), "s", &SpanKind::Internal, &[], &[]);
                assert_eq!(
                    (known.decision, known.attributes, known.trace_state),
                    (asked.decision, asked.attributes, asked.trace_state)
                );
            }
        }
        assert!(SharedSampler::new(Sampler::TraceIdRatioBased(0.5)).root.is_none(), "depends on the trace id");
        let hidden = SharedSampler::new(Sampler::ParentBased(Box::new(Sampler::AlwaysOff)));
        assert!(hidden.root.is_none(), "built elsewhere, its root sampler is asked");
        assert!(SharedSampler::parent_based(Sampler::TraceIdRatioBased(1.0)).root.is_none());
    }

    #[test]
    fn only_samplers_that_may_read_the_span_are_said_to() {
        use opentelemetry::trace::{SpanContext, SpanId, TraceFlags, TraceState};

        let root = Context::new();
        let span_context =
            SpanContext::new(TraceId::from(1), SpanId::from(2), TraceFlags::default(), true, TraceState::NONE);
        let child = Context::new().with_remote_span_context(span_context);
        let reads = |sampler: &SharedSampler| (sampler.reads_shown(&root), sampler.reads_shown(&child));
        for blind in [Sampler::AlwaysOn, Sampler::AlwaysOff, Sampler::TraceIdRatioBased(0.1)] {
            assert_eq!(reads(&SharedSampler::new(blind.clone())), (false, false), "{blind:?}");
            assert_eq!(reads(&SharedSampler::parent_based(blind.clone())), (false, false), "{blind:?}");
        }
        let hidden_root = SharedSampler::new(Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(0.1))));
        assert_eq!(reads(&hidden_root), (true, false));
        let custom = SharedSampler::new(SharedSampler::new(Sampler::AlwaysOn));
        assert_eq!(reads(&custom), (true, true));
        assert_eq!(
            reads(&SharedSampler::parent_based(Sampler::ParentBased(Box::new(Sampler::AlwaysOn)))),
            (true, false)
        );
    }
}
