//! Deciding a `#[traced]` span before the SDK does, with the sampler (and id generator) `traced` knows.
//!
//! * A child of an unsampled parent that the sampler drops: the parent simply stays current.
//! * A root the sampler drops: its span context (new trace id, new span id, not sampled, the sampler's
//!   trace state) becomes current without an SDK span, so children, outgoing `traceparent` headers
//!   (`-00`), `traced::current_trace_id()` and log correlation still carry the unsampled decision.
//! * A root the sampler keeps: the SDK builds it, handed this call's ids and decision through a
//!   per-thread slot that [`SharedIdGenerator`] and [`SharedSampler`] read first, so it draws no other
//!   ids and does not ask the sampler again: the sampler runs once per span.
//!
//! The sampler sees what the SDK would show it: the current context as parent, the span's name, kind,
//! start attributes and links, and (for a root) the trace id the SDK would have used. Roots are decided
//! here only when the provider's id generator is known; otherwise the SDK draws the trace id and decides.
//!
//! Hot path, guarded by the `span_cost` benchmark (unsampled root, child of an unsampled parent).

use std::cell::{Cell, RefCell};

use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt as _, TraceFlags, TraceId};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::trace::{SamplingDecision, SamplingResult};

use crate::span::id_generator::SharedIdGenerator;
use crate::span::sampling::{RootAnswer, SharedSampler, Shown};

/// What the current context alone says of the span about to start (no sampler asked for a root yet).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Classified {
    /// A dropped child of an unsampled parent: nothing to do, the parent stays current.
    DroppedChild,
    /// A child of an unsampled parent that the sampler, asked here, keeps: the SDK builds it with that
    /// decision, which waits for it on this thread (the sampler is not asked twice: a sampler with a
    /// budget or a random draw would answer differently). Hold [`HandedOver::kept_child`] while building.
    KeptChild,
    /// A root `traced` can decide: see [`decide_root`].
    Root,
    /// Left to the SDK (a sampled parent, or a root whose ids `traced` cannot draw).
    Sdk,
}

/// What a root decided by [`decide_root`] becomes.
#[derive(Debug)]
pub(crate) enum Root {
    /// Dropped: made current as its bare span context (no SDK span), see [`DroppedRoot`].
    Dropped(DroppedRoot),
    /// Dropped with a trace state of the sampler's own: this context, holding its bare span context,
    /// becomes current.
    DroppedWithTraceState(Context),
    /// Kept: the SDK builds it with the ids and decision taken here, which wait for it on this thread
    /// until the guard drops.
    Kept(HandedOver),
}

/// A root the sampler dropped, with the trace state of the context it started in (as the SDK's samplers
/// answer): its ids, not yet a context.
///
/// Its context is built when it is entered, over the context current then, and moved into the current
/// context stack: making it current shares no reference count with the span's handle (the one
/// allocation, freed when it stops being current, and no atomic operation but that free's), and the
/// handle stays small. `#[traced]` enters a span right after starting it, under the context it started
/// in, so the context built is the one the span started in; a handle entered later elsewhere has its
/// context built at once instead (`SpanHandle::with_context_now`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct DroppedRoot {
    // Words: an id type would align the handle to 16 bytes and make it half as big again, bytes would
    // leave it unaligned (the handle's moves then stall the loads that follow them).
    trace_id: [u64; 2],
    span_id: u64,
}

impl DroppedRoot {
    /// The context with this root as its span over `parent` (the context it starts in), as
    /// `Context::current()` shows it while it is entered.
    #[inline]
    pub(crate) fn context(self, parent: &Context) -> Context {
        let trace_state = parent.span().span_context().trace_state().clone();
        let [high, low] = self.trace_id;
        let trace_id = TraceId::from((u128::from(high) << 64) | u128::from(low));
        let span_id = SpanId::from(self.span_id);
        parent.with_remote_span_context(SpanContext::new(trace_id, span_id, TraceFlags::default(), false, trace_state))
    }

    /// The context with this root as its span over the current context.
    #[inline]
    pub(crate) fn context_here(self) -> Context {
        Context::map_current(|parent| self.context(parent))
    }
}

/// The span the SDK is about to build on this thread, decided by [`decide_root`]; empty otherwise.
struct Slot {
    trace_id: Cell<Option<TraceId>>,
    span_id: Cell<Option<SpanId>>,
    result: RefCell<Option<(TraceId, SamplingResult)>>,
}

thread_local! {
    static HANDED_OVER: Slot = const {
        Slot { trace_id: Cell::new(None), span_id: Cell::new(None), result: RefCell::new(None) }
    };
}

/// Classifies the span `shown` about to start under `parent`, asking the sampler only for the child of
/// an unsampled parent; `can_draw_ids` says whether the provider's id generator is known. The result
/// fits a register: this is the whole of the most frequent unsampled path (a dropped child). Kept out
/// of line so that the thread-local access around it stays inlined in the caller.
#[inline(never)]
pub(crate) fn classify(sampler: &SharedSampler, can_draw_ids: bool, parent: &Context, shown: &Shown<'_>) -> Classified {
    let parent_span = parent.span();
    let parent_span_context = parent_span.span_context();
    if parent_span_context.is_valid() {
        return classify_child(sampler, parent, parent_span_context, shown);
    }
    // Under suppression the SDK makes an empty span without asking anyone: leave it to the SDK.
    if can_draw_ids && !parent.is_telemetry_suppressed() {
        Classified::Root
    } else {
        Classified::Sdk
    }
}

/// Asks the sampler for the child of an unsampled parent (under the SDK's `ParentBased`, the answer
/// for a local parent is known without asking); a kept one's decision is handed to the SDK. Any other
/// child is left to the SDK.
#[inline]
fn classify_child(
    sampler: &SharedSampler,
    parent: &Context,
    parent_span_context: &SpanContext,
    shown: &Shown<'_>,
) -> Classified {
    if parent_span_context.is_sampled() {
        return Classified::Sdk;
    }
    if sampler.drops_children_of_unsampled_local_parents() && !parent_span_context.is_remote() {
        return Classified::DroppedChild;
    }
    // As for a root: under suppression the SDK asks no sampler.
    if parent.is_telemetry_suppressed() {
        return Classified::Sdk;
    }
    let trace_id = parent_span_context.trace_id();
    let result = sampler.decide(Some(parent), trace_id, shown);
    if result.decision == SamplingDecision::Drop {
        discard(result.attributes);
        return Classified::DroppedChild;
    }
    offer_result(trace_id, result);
    Classified::KeptChild
}

/// Decides a root (see [`classify`]): draws its ids as the SDK would (span id, then trace id) and asks
/// the sampler.
#[inline(never)]
pub(crate) fn decide_root(
    sampler: &SharedSampler,
    ids: &SharedIdGenerator,
    parent: &Context,
    shown: &Shown<'_>,
) -> Root {
    let (trace_id, span_id) = ids.generate_root_ids();
    let trace_id_value = u128::from_be_bytes(trace_id.to_bytes());
    let dropped = DroppedRoot {
        trace_id: [(trace_id_value >> 64) as u64, trace_id_value as u64],
        span_id: u64::from_be_bytes(span_id.to_bytes()),
    };
    match sampler.decide_root(parent, trace_id, shown) {
        RootAnswer::Constant(SamplingDecision::Drop) => Root::Dropped(dropped),
        RootAnswer::Asked(SamplingResult { decision: SamplingDecision::Drop, attributes, trace_state }) => {
            discard(attributes);
            if trace_state == *parent.span().span_context().trace_state() {
                Root::Dropped(dropped)
            } else {
                let span_context = SpanContext::new(trace_id, span_id, TraceFlags::default(), false, trace_state);
                Root::DroppedWithTraceState(parent.with_remote_span_context(span_context))
            }
        }
        answer => Root::Kept(hand_over(trace_id, span_id, answer.into_result(parent))),
    }
}

/// Drops `items`, skipping the out-of-line call `Vec<KeyValue>`'s drop makes even when it holds nothing
/// (24 instructions a call on the unsampled paths, callgrind): a `Vec` without capacity owns no memory.
#[inline]
pub(crate) fn discard(items: Vec<KeyValue>) {
    if items.capacity() == 0 {
        std::mem::forget(items);
    } else {
        drop(items);
    }
}

/// Offers the ids and decision of a kept root to the SDK build that follows on this thread, until the
/// guard drops.
#[inline]
pub(crate) fn hand_over(trace_id: TraceId, span_id: SpanId, result: SamplingResult) -> HandedOver {
    let _ = HANDED_OVER.try_with(|slot| {
        slot.trace_id.set(Some(trace_id));
        slot.span_id.set(Some(span_id));
    });
    offer_result(trace_id, result);
    HandedOver(())
}

/// Offers the decision for a span of `trace_id` to the SDK build that follows on this thread.
#[inline]
fn offer_result(trace_id: TraceId, result: SamplingResult) {
    let _ = HANDED_OVER.try_with(|slot| {
        if let Ok(mut handed) = slot.result.try_borrow_mut() {
            *handed = Some((trace_id, result));
        }
    });
}

/// Clears what the SDK did not take (e.g. a provider already shut down builds nothing).
#[derive(Debug)]
pub(crate) struct HandedOver(());

impl HandedOver {
    /// The guard over the decision [`classify`] handed over for a [`Classified::KeptChild`].
    #[inline]
    pub(crate) fn kept_child() -> Self {
        Self(())
    }
}

impl Drop for HandedOver {
    #[inline]
    fn drop(&mut self) {
        let _ = HANDED_OVER.try_with(|slot| {
            slot.trace_id.set(None);
            slot.span_id.set(None);
            if let Ok(mut result) = slot.result.try_borrow_mut() {
                *result = None;
            }
        });
    }
}

/// The trace id handed over for the span being built on this thread, once.
#[inline]
pub(crate) fn take_trace_id() -> Option<TraceId> {
    HANDED_OVER.try_with(|slot| slot.trace_id.take()).ok().flatten()
}

/// The span id handed over for the span being built on this thread, once.
#[inline]
pub(crate) fn take_span_id() -> Option<SpanId> {
    HANDED_OVER.try_with(|slot| slot.span_id.take()).ok().flatten()
}

/// The decision handed over for the span of `trace_id` being built on this thread, once.
#[inline]
pub(crate) fn take_result(trace_id: TraceId) -> Option<SamplingResult> {
    HANDED_OVER
        .try_with(|slot| {
            let (handed_for, result) = slot.result.try_borrow_mut().ok()?.take()?;
            (handed_for == trace_id).then_some(result)
        })
        .ok()
        .flatten()
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;
    use std::sync::{Arc, Mutex, PoisonError};

    use opentelemetry::trace::{Link, Span as _, SpanBuilder, SpanKind, TraceState, Tracer as _, TracerProvider as _};
    use opentelemetry::KeyValue;
    use opentelemetry_sdk::trace::{InMemorySpanExporter, Sampler, SdkTracerProvider, ShouldSample};

    use super::*;

    /// What a sampler was shown.
    #[derive(Debug, Clone, PartialEq)]
    struct Seen {
        parent: Option<(SpanContext, Option<String>)>,
        trace_id: TraceId,
        name: String,
        kind: SpanKind,
        attributes: Vec<KeyValue>,
        links: Vec<SpanContext>,
    }

    /// Answers `answer` (or `inner`'s decision) and remembers what it was shown.
    #[derive(Debug, Clone)]
    struct Recorder {
        seen: Arc<Mutex<Vec<Seen>>>,
        inner: Sampler,
        answer: Option<(SamplingDecision, Vec<KeyValue>, TraceState)>,
    }

    impl Recorder {
        fn new(inner: Sampler) -> Self {
            Self { seen: Arc::default(), inner, answer: None }
        }

        fn answering(decision: SamplingDecision, attributes: Vec<KeyValue>, trace_state: TraceState) -> Self {
            Self { answer: Some((decision, attributes, trace_state)), ..Self::new(Sampler::AlwaysOn) }
        }

        fn seen(&self) -> Vec<Seen> {
            self.seen.lock().unwrap_or_else(PoisonError::into_inner).clone()
        }
    }

    impl ShouldSample for Recorder {
        fn should_sample(
            &self,
            parent: Option<&Context>,
            trace_id: TraceId,
            name: &str,
            kind: &SpanKind,
            attributes: &[KeyValue],
            links: &[Link],
        ) -> SamplingResult {
            let parent_seen = parent.map(|cx| {
                let baggage = cx.get::<&'static str>().map(|value| (*value).to_owned());
                (cx.span().span_context().clone(), baggage)
            });
            self.seen.lock().unwrap_or_else(PoisonError::into_inner).push(Seen {
                parent: parent_seen,
                trace_id,
                name: name.to_owned(),
                kind: kind.clone(),
                attributes: attributes.to_vec(),
                links: links.iter().map(|link| link.span_context.clone()).collect(),
            });
            match &self.answer {
                Some((decision, attributes, trace_state)) => SamplingResult {
                    decision: decision.clone(),
                    attributes: attributes.clone(),
                    trace_state: trace_state.clone(),
                },
                None => self.inner.should_sample(parent, trace_id, name, kind, attributes, links),
            }
        }
    }

    fn provider(sampler: &SharedSampler, ids: &SharedIdGenerator) -> (SdkTracerProvider, InMemorySpanExporter) {
        let exporter = InMemorySpanExporter::default();
        let provider = SdkTracerProvider::builder()
            .with_simple_exporter(exporter.clone())
            .with_sampler(sampler.clone())
            .with_id_generator(ids.clone())
            .build();
        (provider, exporter)
    }

    const SHOWN: Shown<'static> = Shown { name: "load-item", kind: &SpanKind::Server, attributes: &[], links: &[] };

    fn root(sampler: &SharedSampler, ids: &SharedIdGenerator, parent: &Context) -> Root {
        let attributes = [KeyValue::new("item.id", 7)];
        let shown = Shown { attributes: &attributes, ..SHOWN };
        assert_eq!(classify(sampler, true, parent, &shown), Classified::Root);
        decide_root(sampler, ids, parent, &shown)
    }

    /// The context a dropped root makes current under `parent`.
    fn dropped(root: Root, parent: &Context) -> Context {
        match root {
            Root::Dropped(dropped) => dropped.context(parent),
            Root::DroppedWithTraceState(cx) => cx,
            Root::Kept(_) => panic!("a dropped root is decided here"),
        }
    }

    fn trace_state(entry: (&str, &str)) -> TraceState {
        TraceState::from_key_value([entry]).expect("a valid trace state")
    }

    #[test]
    fn a_dropped_root_becomes_a_new_unsampled_span_context_with_the_samplers_trace_state() {
        let recorder = Recorder::answering(SamplingDecision::Drop, Vec::new(), trace_state(("vendor", "x")));
        let sampler = SharedSampler::new(recorder.clone());
        let decided = root(&sampler, &SharedIdGenerator::default(), &Context::new());
        assert!(matches!(decided, Root::DroppedWithTraceState(_)), "not the parent's trace state: built at once");
        let cx = dropped(decided, &Context::new());
        let span_context = cx.span().span_context().clone();
        assert!(!cx.span().is_recording());
        let seen = recorder.seen();
        assert_eq!(seen.len(), 1, "the sampler is asked once");
        assert!(span_context.is_valid());
        assert_eq!(span_context.trace_id(), seen[0].trace_id, "the trace id the sampler saw");
        assert!(!span_context.is_sampled() && !span_context.is_remote());
        assert_eq!(span_context.trace_state().get("vendor"), Some("x"));
    }

    #[test]
    fn a_kept_root_is_built_by_the_sdk_with_the_ids_and_the_decision_handed_over() {
        let recorder = Recorder::answering(
            SamplingDecision::RecordAndSample,
            vec![KeyValue::new("sampler.note", "kept")],
            trace_state(("vendor", "y")),
        );
        let (sampler, ids) = (SharedSampler::new(recorder.clone()), SharedIdGenerator::default());
        let (provider, exporter) = provider(&sampler, &ids);
        let (span, span_id) = {
            let Root::Kept(_handed_over) = root(&sampler, &ids, &Context::new()) else {
                panic!("a kept root is handed to the SDK");
            };
            let span_id = HANDED_OVER.with(|slot| slot.span_id.get()).expect("handed over");
            let builder = SpanBuilder::from_name(Cow::Borrowed("load-item")).with_kind(SpanKind::Server);
            (provider.tracer("t").build_with_context(builder, &Context::new()), span_id)
        };
        let trace_id = recorder.seen()[0].trace_id;
        assert_eq!(recorder.seen().len(), 1, "the SDK took the decision instead of asking again");
        assert_eq!((span.span_context().trace_id(), span.span_context().span_id()), (trace_id, span_id));
        assert!(span.span_context().is_sampled());
        assert_eq!(span.span_context().trace_state().get("vendor"), Some("y"));
        drop(span);
        let exported = exporter.get_finished_spans().expect("exported");
        assert_eq!(exported.len(), 1);
        assert!(exported[0].attributes.contains(&KeyValue::new("sampler.note", "kept")), "{exported:?}");

        // The next span on this thread is the SDK's own business again.
        drop(provider.tracer("t").start("next"));
        assert_eq!(recorder.seen().len(), 2);
        assert_ne!(recorder.seen()[1].trace_id, trace_id);
    }

    #[test]
    fn a_root_kept_for_recording_only_is_handed_over_too() {
        let recorder = Recorder::answering(SamplingDecision::RecordOnly, Vec::new(), TraceState::default());
        let (sampler, ids) = (SharedSampler::new(recorder.clone()), SharedIdGenerator::default());
        let (provider, exporter) = provider(&sampler, &ids);
        let span = {
            let Root::Kept(_handed_over) = root(&sampler, &ids, &Context::new()) else {
                panic!("a recorded root is handed to the SDK");
            };
            provider.tracer("t").build_with_context(SpanBuilder::from_name("load-item"), &Context::new())
        };
        let trace_id = recorder.seen()[0].trace_id;
        assert!(span.is_recording() && !span.span_context().is_sampled());
        assert_eq!(span.span_context().trace_id(), trace_id);
        assert_eq!(recorder.seen().len(), 1);
        drop(span);
        assert!(exporter.get_finished_spans().expect("exported").is_empty(), "recorded, not sampled");
    }

    #[test]
    fn ratio_sampling_decides_on_the_trace_id_the_span_gets() {
        let ratio = Sampler::TraceIdRatioBased(0.5);
        let (sampler, ids) = (SharedSampler::new(ratio.clone()), SharedIdGenerator::default());
        let verdict = |trace_id| ratio.should_sample(None, trace_id, "load-item", &SpanKind::Server, &[], &[]).decision;
        let (mut dropped_count, mut kept) = (0, 0);
        for _ in 0..400 {
            match root(&sampler, &ids, &Context::new()) {
                Root::Kept(_handed_over) => {
                    let trace_id = take_trace_id().expect("handed over");
                    assert_eq!(verdict(trace_id), SamplingDecision::RecordAndSample);
                    kept += 1;
                }
                decided => {
                    let cx = dropped(decided, &Context::new());
                    assert_eq!(verdict(cx.span().span_context().trace_id()), SamplingDecision::Drop);
                    dropped_count += 1;
                }
            }
        }
        assert!(dropped_count > 100 && kept > 100, "about half each: {dropped_count} dropped, {kept} kept");
    }

    #[test]
    fn the_sampler_is_shown_what_the_sdk_shows_it() {
        let recorder = Recorder::answering(SamplingDecision::Drop, Vec::new(), TraceState::default());
        let (sampler, ids) = (SharedSampler::new(recorder.clone()), SharedIdGenerator::default());
        let parent = Context::new().with_value("baggage-like entry");
        let decided = root(&sampler, &ids, &parent);
        assert!(matches!(decided, Root::Dropped(_)), "the parent's (empty) trace state: built when entered");
        let cx = dropped(decided, &parent);
        assert_eq!(cx.get::<&'static str>(), Some(&"baggage-like entry"), "over its parent context");
        // The same span through the SDK alone (no hand-over).
        let sdk = SdkTracerProvider::builder().with_sampler(recorder.clone()).build();
        let builder = SpanBuilder::from_name("load-item")
            .with_kind(SpanKind::Server)
            .with_attributes([KeyValue::new("item.id", 7)]);
        drop(sdk.tracer("t").build_with_context(builder, &parent));
        let mut seen = recorder.seen();
        assert_eq!(seen.len(), 2);
        assert_eq!(cx.span().span_context().trace_id(), seen[0].trace_id, "the trace id it was decided on");
        assert_ne!(seen[0].trace_id, seen[1].trace_id, "each draws its own trace id");
        seen[1].trace_id = seen[0].trace_id;
        assert_eq!(seen[0], seen[1]);
        assert_eq!(seen[0].parent.as_ref().and_then(|(_, entry)| entry.as_deref()), Some("baggage-like entry"));
    }

    #[test]
    fn a_root_dropped_by_a_constant_sampler_keeps_the_parent_contexts_trace_state() {
        // The most a root's parent context can carry: no valid span, a trace state (as the SDK's samplers
        // answer, the dropped root keeps it).
        let state = trace_state(("vendor", "z"));
        let invalid = SpanContext::new(TraceId::INVALID, SpanId::INVALID, TraceFlags::default(), false, state);
        let parent = Context::new().with_remote_span_context(invalid);
        for sampler in [SharedSampler::new(Sampler::AlwaysOff), SharedSampler::parent_based(Sampler::AlwaysOff)] {
            let decided = root(&sampler, &SharedIdGenerator::default(), &parent);
            assert!(matches!(decided, Root::Dropped(_)), "{sampler:?}");
            let cx = dropped(decided, &parent);
            let span_context = cx.span().span_context().clone();
            assert!(span_context.is_valid() && !span_context.is_sampled());
            assert_eq!(span_context.trace_state().get("vendor"), Some("z"), "{sampler:?}");
        }
    }

    #[test]
    fn a_dropped_roots_context_is_built_over_the_current_context_with_its_trace_state() {
        let sampler = SharedSampler::parent_based(Sampler::AlwaysOff);
        let started_in = Context::new().with_value("started in");
        let Root::Dropped(root) = root(&sampler, &SharedIdGenerator::default(), &started_in) else {
            panic!("a dropped root is decided here");
        };
        let _attached = started_in.attach();
        let (entered, again) = (root.context_here(), root.context_here());
        assert_eq!(entered.get::<&'static str>(), Some(&"started in"));
        assert_eq!(entered.span().span_context(), again.span().span_context(), "the same span at each entry");
    }

    #[test]
    fn attributes_a_sampler_gives_a_dropped_root_go_nowhere() {
        let recorder = Recorder::answering(
            SamplingDecision::Drop,
            vec![KeyValue::new("sampler.note", "x")],
            TraceState::default(),
        );
        let sampler = SharedSampler::new(recorder);
        let decided = root(&sampler, &SharedIdGenerator::default(), &Context::new());
        assert!(matches!(decided, Root::Dropped(_)));
        assert!(!dropped(decided, &Context::new()).span().is_recording());
    }

    #[test]
    fn without_the_id_generator_or_under_suppression_roots_are_left_to_the_sdk() {
        let recorder = Recorder::new(Sampler::AlwaysOff);
        let sampler = SharedSampler::new(recorder.clone());
        assert_eq!(classify(&sampler, false, &Context::new(), &SHOWN), Classified::Sdk);
        let suppressed = Context::new().with_telemetry_suppressed();
        assert_eq!(classify(&sampler, true, &suppressed, &SHOWN), Classified::Sdk);
        assert!(recorder.seen().is_empty(), "the SDK asks, not us");
    }

    #[test]
    fn under_suppression_the_child_of_an_unsampled_remote_parent_is_left_to_the_sdk() {
        // The SDK builds an empty span under suppression without asking the sampler: a sampler with a
        // budget must not spend it on a span that will not exist.
        let recorder = Recorder::new(Sampler::AlwaysOn);
        let sampler = SharedSampler::new(recorder.clone());
        let (provider, exporter) = provider(&sampler, &SharedIdGenerator::default());
        let unsampled =
            SpanContext::new(TraceId::from(7), SpanId::from(8), TraceFlags::default(), true, TraceState::default());
        let suppressed = Context::new().with_remote_span_context(unsampled).with_telemetry_suppressed();
        assert_eq!(classify(&sampler, true, &suppressed, &SHOWN), Classified::Sdk);
        drop(provider.tracer("t").build_with_context(SpanBuilder::from_name("load-item"), &suppressed));
        assert!(recorder.seen().is_empty(), "asked {} times", recorder.seen().len());
        assert!(exporter.get_finished_spans().expect("exported").is_empty());
        assert!(take_result(TraceId::from(7)).is_none(), "nothing handed over");
    }

    #[test]
    fn what_the_sdk_does_not_take_is_cleared() {
        let (sampler, ids) = (SharedSampler::new(Sampler::AlwaysOn), SharedIdGenerator::default());
        let Root::Kept(handed_over) = root(&sampler, &ids, &Context::new()) else {
            panic!("a kept root is handed to the SDK");
        };
        let trace_id = HANDED_OVER.with(|slot| slot.trace_id.get()).expect("handed over");
        drop(handed_over);
        assert_eq!((take_trace_id(), take_span_id()), (None, None));
        assert!(take_result(trace_id).is_none());
    }

    #[test]
    fn children_of_unsampled_parents_keep_the_parent_and_other_children_go_to_the_sdk() {
        let parent = |flags| {
            let span_context = SpanContext::new(TraceId::from(1), SpanId::from(2), flags, false, TraceState::default());
            Context::new().with_remote_span_context(span_context)
        };
        let parent_based = SharedSampler::new(Sampler::ParentBased(Box::new(Sampler::AlwaysOn)));
        assert_eq!(classify(&parent_based, true, &parent(TraceFlags::default()), &SHOWN), Classified::DroppedChild);
        assert_eq!(classify(&parent_based, true, &parent(TraceFlags::SAMPLED), &SHOWN), Classified::Sdk);
        assert_eq!(classify(&parent_based, true, &parent(TraceFlags::SAMPLED), &SHOWN), Classified::Sdk);
        let always_on = SharedSampler::new(Sampler::AlwaysOn);
        let _handed_over = HandedOver::kept_child();
        assert_eq!(classify(&always_on, true, &parent(TraceFlags::default()), &SHOWN), Classified::KeptChild);
    }

    #[test]
    fn a_kept_child_of_an_unsampled_parent_is_decided_once() {
        let recorder = Recorder::answering(
            SamplingDecision::RecordAndSample,
            vec![KeyValue::new("sampler.note", "kept")],
            trace_state(("vendor", "k")),
        );
        let (sampler, ids) = (SharedSampler::new(recorder.clone()), SharedIdGenerator::default());
        let (provider, exporter) = provider(&sampler, &ids);
        let unsampled =
            SpanContext::new(TraceId::from(7), SpanId::from(8), TraceFlags::default(), true, TraceState::default());
        let parent = Context::new().with_remote_span_context(unsampled);
        let span = {
            assert_eq!(classify(&sampler, true, &parent, &SHOWN), Classified::KeptChild);
            let _handed_over = HandedOver::kept_child();
            provider.tracer("t").build_with_context(SpanBuilder::from_name("load-item"), &parent)
        };
        assert_eq!(recorder.seen().len(), 1, "the SDK took the decision instead of asking again");
        assert_eq!(span.span_context().trace_id(), TraceId::from(7));
        assert!(span.span_context().is_sampled());
        assert_eq!(span.span_context().trace_state().get("vendor"), Some("k"));
        drop(span);
        let exported = exporter.get_finished_spans().expect("exported");
        assert_eq!(exported.len(), 1);
        assert_eq!(exported[0].parent_span_id, SpanId::from(8));
        let notes = exported[0].attributes.iter().filter(|kv| kv.key.as_str() == "sampler.note").count();
        assert_eq!(notes, 1, "{exported:?}");

        // Not taken (no SDK build followed): cleared with its guard, the next child is asked again.
        drop((classify(&sampler, true, &parent, &SHOWN), HandedOver::kept_child()));
        assert!(take_result(TraceId::from(7)).is_none());
        drop(provider.tracer("t").build_with_context(SpanBuilder::from_name("next"), &parent));
        assert_eq!(recorder.seen().len(), 3);
    }
}
