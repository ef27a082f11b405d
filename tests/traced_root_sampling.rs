//! Root spans decided by `traced` before the SDK (the sampler and id generator are known, as after
//! `traced::init()` or `traced::testing::capture_with_sampler`): the sampler is asked once per span,
//! with the trace id the span gets, and a dropped root still carries its unsampled trace to children,
//! `traced::current_trace_id()` and outgoing `traceparent` / `tracestate` headers.

use std::sync::{Arc, Mutex, PoisonError};

use opentelemetry::trace::{Link, SpanKind, TraceContextExt as _, TraceId, TraceState};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::trace::{Sampler, SamplingDecision, SamplingResult, ShouldSample};
use traced::traced;

/// Asks `inner` and remembers each trace id and answer.
#[derive(Debug, Clone)]
struct Counting {
    inner: Sampler,
    trace_state: Option<TraceState>,
    answers: Arc<Mutex<Vec<(TraceId, SamplingDecision)>>>,
}

impl Counting {
    fn new(inner: Sampler, trace_state: Option<TraceState>) -> Self {
        Self { inner, trace_state, answers: Arc::default() }
    }

    fn answers(&self) -> Vec<(TraceId, SamplingDecision)> {
        self.answers.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }
}

impl ShouldSample for Counting {
    fn should_sample(
        &self,
        parent: Option<&Context>,
        trace_id: TraceId,
        name: &str,
        kind: &SpanKind,
        attributes: &[KeyValue],
        links: &[Link],
    ) -> SamplingResult {
        let mut result = self.inner.should_sample(parent, trace_id, name, kind, attributes, links);
        if let Some(trace_state) = &self.trace_state {
            result.trace_state = trace_state.clone();
        }
        self.answers.lock().unwrap_or_else(PoisonError::into_inner).push((trace_id, result.decision.clone()));
        result
    }
}

#[traced]
fn child() -> String {
    traced::current_trace_id()
}

/// Inside a root: its trace and span ids, the headers it sends, and its child's trace id.
#[traced]
fn root() -> (String, String, http::HeaderMap, String) {
    let mut headers = http::HeaderMap::new();
    traced::propagation::inject(&mut headers);
    (traced::current_trace_id(), traced::current_span_id(), headers, child())
}

fn header(headers: &http::HeaderMap, name: &str) -> Option<String> {
    headers.get(name).and_then(|value| value.to_str().ok()).map(str::to_owned)
}

#[test]
fn a_dropped_root_sends_new_ids_with_the_sampled_flag_off_and_the_samplers_trace_state() {
    traced::propagation::set_text_map_propagator(opentelemetry_sdk::propagation::TraceContextPropagator::new());
    let trace_state = TraceState::from_key_value([("vendor", "x")]).expect("valid");
    let sampler = Counting::new(Sampler::AlwaysOff, Some(trace_state));
    let capture = traced::testing::capture_with_sampler(sampler.clone());
    let (trace_id, span_id, headers, child_trace_id) = root();
    let (second_trace_id, ..) = root();

    assert!(capture.spans().is_empty());
    assert_ne!(trace_id, "0".repeat(32));
    assert_ne!(span_id, "0".repeat(16));
    assert_ne!(trace_id, second_trace_id, "each root starts its own trace");
    assert_eq!(header(&headers, "traceparent"), Some(format!("00-{trace_id}-{span_id}-00")));
    assert_eq!(header(&headers, "tracestate").as_deref(), Some("vendor=x"));
    assert_eq!(child_trace_id, trace_id, "the child joins the unsampled trace");
    let answers = sampler.answers();
    // Roots and the children of unsampled parents are asked: 2 roots, 2 children, each once.
    assert_eq!(answers.len(), 4, "{answers:?}");
    assert_eq!(answers[0].0.to_string(), trace_id, "the sampler saw the trace id the span got");
    assert!(!Context::current().has_active_span(), "nothing is left current");
}

#[test]
fn ratio_sampled_roots_ask_once_with_the_trace_id_they_keep() {
    let sampler = Counting::new(Sampler::TraceIdRatioBased(0.5), None);
    let capture = traced::testing::capture_with_sampler(sampler.clone());
    let inside: Vec<String> = (0..200).map(|_| child()).collect();

    let answers = sampler.answers();
    assert_eq!(answers.len(), 200, "once per span");
    let kept: Vec<String> = answers
        .iter()
        .filter(|(_, decision)| *decision == SamplingDecision::RecordAndSample)
        .map(|(trace_id, _)| trace_id.to_string())
        .collect();
    assert!((50..150).contains(&kept.len()), "about half of 200: {}", kept.len());
    let exported: Vec<String> = capture.spans().iter().map(|span| span.span_context.trace_id().to_string()).collect();
    assert_eq!(exported, kept, "exactly the kept ones, with the trace id the sampler saw");
    let seen: Vec<String> = answers.iter().map(|(trace_id, _)| trace_id.to_string()).collect();
    assert_eq!(inside, seen, "dropped or kept, the span inside has the trace id the sampler saw");
}

/// A root polled several times: its trace and span ids at the first and the last poll, as
/// `traced::current_*` and `Context::current()` show them, and its child's trace id.
#[traced]
async fn polled_root() -> [String; 5] {
    let first = (traced::current_trace_id(), traced::current_span_id());
    tokio::task::yield_now().await;
    tokio::task::yield_now().await;
    let current = Context::current();
    assert!(!current.span().is_recording());
    assert!(!current.span().span_context().is_sampled());
    [first.0, first.1, current.span().span_context().trace_id().to_string(), traced::current_span_id(), child()]
}

#[tokio::test(flavor = "current_thread")]
async fn a_dropped_async_root_is_current_at_every_poll_and_only_while_polled() {
    let sampler = Counting::new(Sampler::AlwaysOff, None);
    let _capture = traced::testing::capture_with_sampler(sampler.clone());
    // Two roots polled in turn on one thread: each poll sees its own root.
    let (one, two) = tokio::join!(polled_root(), polled_root());
    for [trace_id, span_id, trace_id_later, span_id_later, child_trace_id] in [&one, &two] {
        assert_ne!(trace_id, &"0".repeat(32));
        assert_ne!(span_id, &"0".repeat(16));
        assert_eq!((trace_id, span_id), (trace_id_later, span_id_later), "the same root at every poll");
        assert_eq!(child_trace_id, trace_id, "the child joins the unsampled trace");
    }
    assert_ne!(one[0], two[0], "each root starts its own trace");
    assert!(!Context::current().has_active_span(), "nothing is left current");
}

/// Keeps the spans it is asked about while its budget lasts (a rate limiter's shape): asking it twice
/// for one span spends two and may change the answer.
#[derive(Debug, Clone)]
struct Budget(Arc<Mutex<u32>>);

impl ShouldSample for Budget {
    fn should_sample(
        &self,
        parent: Option<&Context>,
        _trace_id: TraceId,
        _name: &str,
        _kind: &SpanKind,
        _attributes: &[KeyValue],
        _links: &[Link],
    ) -> SamplingResult {
        let mut left = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let decision = if *left > 0 {
            *left -= 1;
            SamplingDecision::RecordAndSample
        } else {
            SamplingDecision::Drop
        };
        let trace_state = parent.map(|cx| cx.span().span_context().trace_state().clone()).unwrap_or_default();
        SamplingResult { decision, attributes: Vec::new(), trace_state }
    }
}

#[test]
fn a_sampler_keeping_the_child_of_an_unsampled_caller_is_asked_once() {
    traced::propagation::set_text_map_propagator(opentelemetry_sdk::propagation::TraceContextPropagator::new());
    let budget = Budget(Arc::new(Mutex::new(2)));
    let capture = traced::testing::capture_with_sampler(budget.clone());
    let mut headers = http::HeaderMap::new();
    headers.insert("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00".parse().expect("valid"));
    let caller = traced::propagation::extract(&headers);
    let _attached = caller.attach();

    let trace_ids = [child(), child(), child()];

    assert_eq!(*budget.0.lock().unwrap_or_else(PoisonError::into_inner), 0, "one ask per span");
    let exported = capture.spans();
    assert_eq!(exported.len(), 2, "the first two kept, the third dropped: {exported:?}");
    for span in &exported {
        assert_eq!(span.span_context.trace_id().to_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(span.parent_span_id.to_string(), "00f067aa0ba902b7");
    }
    assert!(trace_ids.iter().all(|id| id == "4bf92f3577b34da6a3ce929d0e0e4736"), "{trace_ids:?}");
}
