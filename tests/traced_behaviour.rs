//! What `#[traced]` exports, asserted on captured spans: names, kinds, typed attributes, parent links
//! (sync, async, across `.await`, into spawned tasks), status on `Err` and on panic.

use opentelemetry::trace::{SpanId, SpanKind, Status, TraceContextExt as _};
use opentelemetry::{Array, Context, KeyValue, Value};
use opentelemetry_sdk::trace::{Sampler, SpanData};
use traced::testing::capture;
use traced::traced;

fn attr(span: &SpanData, key: &str) -> Option<Value> {
    span.attributes.iter().find(|kv| kv.key.as_str() == key).map(|kv| kv.value.clone())
}

#[traced]
fn plain() -> u32 {
    7
}

#[test]
fn a_plain_function_gets_an_internal_root_span_named_after_it() {
    let capture = capture();
    assert_eq!(plain(), 7);
    let span = capture.span("plain");
    assert_eq!(span.span_kind, SpanKind::Internal);
    assert_eq!(span.parent_span_id, SpanId::INVALID);
    assert_eq!(span.status, Status::Unset, "success leaves the status unset");
    assert_eq!(span.instrumentation_scope.name(), "traced");
}

#[derive(Debug)]
struct Item {
    tags: Vec<String>,
}

#[traced(name = "load-item", attributes(item.id = item_id, query = q, demo.ratio = 0.5, flag = true,
    "http.route" = "/items/{item_id}", tags = item.tags.clone(), small = 3u8, missing = None::<i64>))]
fn load_item(item_id: u64, q: Option<&str>, item: &Item) -> usize {
    item.tags.len() + usize::from(q.is_some()) + usize::try_from(item_id).unwrap_or(0)
}

#[test]
fn attributes_keep_their_otel_types_and_none_records_nothing() {
    let capture = capture();
    let item = Item { tags: vec!["a".into(), "b".into()] };
    assert_eq!(load_item(40, Some("x"), &item), 43, "parameters stay usable after recording");
    let span = capture.span("load-item");
    assert_eq!(attr(&span, "item.id"), Some(Value::I64(40)));
    assert_eq!(attr(&span, "query"), Some(Value::String("x".into())));
    assert_eq!(attr(&span, "demo.ratio"), Some(Value::F64(0.5)));
    assert_eq!(attr(&span, "flag"), Some(Value::Bool(true)));
    assert_eq!(attr(&span, "http.route"), Some(Value::String("/items/{item_id}".into())));
    assert_eq!(attr(&span, "tags"), Some(Value::Array(Array::String(vec!["a".into(), "b".into()]))));
    assert_eq!(attr(&span, "small"), Some(Value::I64(3)));
    assert_eq!(attr(&span, "missing"), None);
}

#[traced(attributes(item_id))]
fn bare_parameter(item_id: i32) -> i32 {
    item_id
}

#[test]
fn a_bare_parameter_is_recorded_under_its_own_name() {
    let capture = capture();
    bare_parameter(5);
    assert_eq!(attr(&capture.span("bare_parameter"), "item_id"), Some(Value::I64(5)));
}

#[traced(kind = server)]
fn as_server() {}
#[traced(kind = client)]
fn as_client() {}
#[traced(kind = producer)]
fn as_producer() {}
#[traced(kind = consumer)]
fn as_consumer() {}
#[traced(kind = internal)]
fn as_internal() {}

#[test]
fn every_span_kind_is_honoured() {
    let capture = capture();
    as_server();
    as_client();
    as_producer();
    as_consumer();
    as_internal();
    assert_eq!(capture.span("as_server").span_kind, SpanKind::Server);
    assert_eq!(capture.span("as_client").span_kind, SpanKind::Client);
    assert_eq!(capture.span("as_producer").span_kind, SpanKind::Producer);
    assert_eq!(capture.span("as_consumer").span_kind, SpanKind::Consumer);
    assert_eq!(capture.span("as_internal").span_kind, SpanKind::Internal);
}

#[traced]
fn inner_sync() -> String {
    traced::current_trace_id()
}

#[traced]
fn outer_sync() -> String {
    inner_sync()
}

#[test]
fn nested_sync_calls_are_parent_and_child() {
    let capture = capture();
    let seen_trace_id = outer_sync();
    let outer = capture.span("outer_sync");
    let inner = capture.span("inner_sync");
    assert_eq!(inner.parent_span_id, outer.span_context.span_id());
    assert_eq!(inner.span_context.trace_id(), outer.span_context.trace_id());
    assert_eq!(seen_trace_id, outer.span_context.trace_id().to_string());
    assert_eq!(seen_trace_id.len(), 32);
}

#[traced]
async fn inner_async(n: u32) -> u32 {
    tokio::task::yield_now().await;
    n + 1
}

#[traced]
async fn outer_async() -> u32 {
    let first = inner_async(1).await;
    tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    // After the await points this is still the outer span's context.
    traced::record("after.await", true);
    first + inner_async(first).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_children_keep_their_parent_across_await_points() {
    let capture = capture();
    assert_eq!(outer_async().await, 5);
    let outer = capture.span("outer_async");
    let inners = capture.spans_named("inner_async");
    assert_eq!(inners.len(), 2);
    for inner in &inners {
        assert_eq!(inner.parent_span_id, outer.span_context.span_id());
        assert_eq!(inner.span_context.trace_id(), outer.span_context.trace_id());
    }
    assert_eq!(attr(&outer, "after.await"), Some(Value::Bool(true)));
    assert!(outer.end_time >= inners[1].end_time, "the parent ends after its children");
}

#[traced]
async fn spawned_child() -> String {
    traced::current_trace_id()
}

#[traced]
async fn spawning_parent() -> (String, String) {
    use traced::FutureExt as _;
    let kept = tokio::spawn(spawned_child().in_current_span()).await.unwrap_or_default();
    let via_helper = traced::spawn(spawned_child()).await.unwrap_or_default();
    (kept, via_helper)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spawned_tasks_keep_the_context_with_the_helper() {
    let capture = capture();
    let (kept, via_helper) = spawning_parent().await;
    let parent = capture.span("spawning_parent");
    assert_eq!(kept, parent.span_context.trace_id().to_string());
    assert_eq!(via_helper, kept);
    for child in capture.spans_named("spawned_child") {
        assert_eq!(child.parent_span_id, parent.span_context.span_id());
    }
}

#[derive(Debug)]
struct NotFound;

#[traced]
fn may_fail(fail: bool) -> Result<u8, NotFound> {
    if fail {
        return Err(NotFound);
    }
    Ok(1)
}

#[traced]
fn uses_question_mark(fail: bool) -> Result<u8, NotFound> {
    let value = may_fail(fail)?;
    Ok(value + 1)
}

#[test]
fn an_err_sets_status_error_and_the_concrete_error_type() {
    let capture = capture();
    assert!(uses_question_mark(true).is_err());
    for name in ["may_fail", "uses_question_mark"] {
        let span = capture.span(name);
        assert!(matches!(span.status, Status::Error { .. }), "{name}: {:?}", span.status);
        let error_type = attr(&span, "error.type").map(|v| v.as_str().into_owned());
        assert_eq!(error_type.as_deref(), Some(std::any::type_name::<NotFound>()));
    }
    capture.clear();
    assert_eq!(uses_question_mark(false).ok(), Some(2));
    assert_eq!(capture.span("uses_question_mark").status, Status::Unset);
    assert_eq!(attr(&capture.span("may_fail"), "error.type"), None);
}

#[traced]
async fn async_may_fail() -> std::io::Result<()> {
    tokio::task::yield_now().await;
    Err(std::io::Error::other("disk on fire"))
}

#[tokio::test]
async fn an_async_err_sets_status_error_even_through_a_result_alias() {
    let capture = capture();
    assert!(async_may_fail().await.is_err());
    let span = capture.span("async_may_fail");
    assert!(matches!(span.status, Status::Error { .. }));
    assert_eq!(attr(&span, "error.type"), Some(Value::String("std::io::error::Error".into())));
}

#[traced]
fn panics(boom: bool) -> u8 {
    if boom {
        panic!("boom");
    }
    0
}

#[test]
fn a_panic_still_ends_the_span_with_status_error() {
    let capture = capture();
    assert!(std::panic::catch_unwind(|| panics(true)).is_err());
    let span = capture.span("panics");
    assert!(matches!(span.status, Status::Error { .. }), "{:?}", span.status);
}

#[traced]
async fn async_panics() {
    tokio::task::yield_now().await;
    panic!("async boom");
}

#[tokio::test]
async fn an_async_panic_ends_the_span_with_status_error() {
    let capture = capture();
    assert!(tokio::spawn(async_panics()).await.is_err());
    assert!(matches!(capture.span("async_panics").status, Status::Error { .. }));
}

struct Store {
    hits: u32,
}

trait Lookup {
    fn lookup(&self, key: &str) -> usize;
}

impl Store {
    #[traced]
    fn new() -> Self {
        Store { hits: 0 }
    }

    #[traced(attributes(store.hits = self.hits))]
    fn hit(&mut self) -> u32 {
        self.hits += 1;
        self.hits
    }

    #[traced]
    #[allow(clippy::multiple_bound_locations)] // both places on purpose: the macro must keep each
    fn generic<T: Into<u64> + Copy>(&self, value: T) -> u64
    where
        T: std::fmt::Debug,
    {
        value.into()
    }

    #[traced]
    fn borrowed<'a>(&'a self, text: &'a str) -> &'a str {
        &text[..1]
    }

    #[traced]
    fn iterate(&self, limit: u32) -> impl Iterator<Item = u32> {
        0..limit
    }
}

impl Lookup for Store {
    #[traced(name = "store.lookup", attributes(key))]
    fn lookup(&self, key: &str) -> usize {
        key.len() + self.hits as usize
    }
}

#[test]
fn methods_associated_functions_generics_and_trait_impls_are_traced() {
    let capture = capture();
    let mut store = Store::new();
    assert_eq!(store.hit(), 1);
    assert_eq!(store.generic(3u8), 3);
    assert_eq!(store.borrowed("xy"), "x");
    assert_eq!(store.iterate(3).sum::<u32>(), 3);
    assert_eq!(store.lookup("abc"), 4);
    for name in ["new", "hit", "generic", "borrowed", "iterate", "store.lookup"] {
        capture.span(name);
    }
    assert_eq!(attr(&capture.span("hit"), "store.hits"), Some(Value::I64(0)), "evaluated at span start");
    assert_eq!(attr(&capture.span("store.lookup"), "key"), Some(Value::String("abc".into())));
}

#[traced(attributes(priority = "high"))]
fn sampled_by_attribute() {}

#[traced]
fn child_of_unsampled() -> String {
    traced::current_trace_id()
}

#[traced]
fn unsampled_root() -> (String, String) {
    (traced::current_trace_id(), child_of_unsampled())
}

#[test]
fn samplers_see_the_attributes_and_unsampled_roots_propagate_their_decision() {
    #[derive(Debug, Clone)]
    struct KeepHighPriority;
    impl opentelemetry_sdk::trace::ShouldSample for KeepHighPriority {
        fn should_sample(
            &self,
            parent: Option<&Context>,
            trace_id: opentelemetry::trace::TraceId,
            name: &str,
            kind: &SpanKind,
            attributes: &[KeyValue],
            links: &[opentelemetry::trace::Link],
        ) -> opentelemetry_sdk::trace::SamplingResult {
            let keep = attributes.iter().any(|kv| kv.key.as_str() == "priority");
            let inner = if keep { Sampler::AlwaysOn } else { Sampler::AlwaysOff };
            inner.should_sample(parent, trace_id, name, kind, attributes, links)
        }
    }
    let capture = traced::testing::capture_with_sampler(Sampler::ParentBased(Box::new(KeepHighPriority)));
    sampled_by_attribute();
    let (root_trace, child_trace) = unsampled_root();
    assert_eq!(capture.spans().len(), 1, "only the high-priority span is kept");
    capture.span("sampled_by_attribute");
    assert_eq!(root_trace, child_trace, "the child joins the unsampled trace rather than starting its own");
    assert_ne!(root_trace, "0".repeat(32));
}

#[test]
fn with_no_tracer_provider_nothing_is_recorded_or_made_current() {
    let _no_provider = traced::testing::without_provider();
    assert_eq!(inner_sync(), "0".repeat(32));
    assert!(!Context::current().span().span_context().is_valid());
}

#[traced]
fn boxed_error(fail: bool) -> Result<u8, Box<dyn std::error::Error + Send + Sync>> {
    if fail {
        return Err(Box::new(std::io::Error::other("unsized on the way out")));
    }
    Ok(u8::try_from(300u32).map_err(Box::new)?)
}

#[test]
fn a_body_that_coerces_into_the_return_type_still_compiles_and_fails_the_span() {
    let capture = capture();
    assert!(boxed_error(true).is_err());
    assert!(boxed_error(false).is_err());
    let spans = capture.spans_named("boxed_error");
    assert_eq!(spans.len(), 2);
    for span in spans {
        assert!(matches!(span.status, Status::Error { .. }));
        let error_type = attr(&span, "error.type").map(|v| v.as_str().into_owned()).unwrap_or_default();
        assert!(error_type.starts_with("alloc::boxed::Box<dyn"), "{error_type}");
    }
}

#[traced]
fn unsampled_call_out() -> (String, Option<String>) {
    let mut headers = http::HeaderMap::new();
    traced::propagation::inject(&mut headers);
    let traceparent = headers.get("traceparent").and_then(|value| value.to_str().ok()).map(str::to_owned);
    (traced::current_trace_id(), traceparent)
}

#[test]
fn an_unsampled_span_still_propagates_its_trace_with_the_sampled_flag_off() {
    traced::propagation::set_text_map_propagator(opentelemetry_sdk::propagation::TraceContextPropagator::new());
    let capture = traced::testing::capture_with_sampler(Sampler::ParentBased(Box::new(Sampler::AlwaysOff)));
    let (trace_id, traceparent) = unsampled_call_out();
    assert!(capture.spans().is_empty());
    let traceparent = traceparent.expect("an unsampled trace is propagated too");
    assert!(traceparent.starts_with(&format!("00-{trace_id}-")), "{traceparent}");
    assert!(traceparent.ends_with("-00"), "sampled flag off: {traceparent}");
}
