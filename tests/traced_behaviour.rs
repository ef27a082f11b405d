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

#[traced(attributes(n))]
fn returns_a_future(n: u32, fail: bool) -> impl std::future::Future<Output = Result<u32, NotFound>> + Send {
    async move {
        let first = inner_async(n).await;
        tokio::task::yield_now().await;
        let second = may_fail(fail)?;
        Ok(first + u32::from(second))
    }
}

#[tokio::test]
async fn a_function_returning_an_async_block_is_traced_while_its_future_runs() {
    let capture = capture();
    let future = returns_a_future(1, false);
    assert!(capture.spans().is_empty(), "nothing has run before the first poll");
    assert_eq!(future.await.ok(), Some(3));
    let parent = capture.span("returns_a_future");
    assert_eq!(attr(&parent, "n"), Some(Value::I64(1)));
    let children = [capture.span("inner_async"), capture.span("may_fail")];
    for child in &children {
        assert_eq!(child.parent_span_id, parent.span_context.span_id(), "{}", child.name);
        assert!(parent.end_time >= child.end_time, "the span ends after the future's work");
    }
    assert_eq!(parent.status, Status::Unset);
    capture.clear();
    assert!(returns_a_future(1, true).await.is_err());
    assert!(matches!(capture.span("returns_a_future").status, Status::Error { .. }), "the `Err` is seen");
}

/// Notes the span current when it is dropped.
struct NotesDropSpan(std::sync::Arc<std::sync::Mutex<Option<String>>>);

impl Drop for NotesDropSpan {
    fn drop(&mut self) {
        *self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(traced::current_span_id());
    }
}

#[traced]
async fn cancelled_mid_way(seen: std::sync::Arc<std::sync::Mutex<Option<String>>>) -> u8 {
    let _rollback = NotesDropSpan(seen);
    std::future::pending::<()>().await;
    1
}

#[tokio::test]
async fn a_cancelled_async_fn_drops_its_locals_inside_its_span() {
    let capture = capture();
    let seen = std::sync::Arc::default();
    let cancelled =
        tokio::time::timeout(std::time::Duration::from_millis(1), cancelled_mid_way(std::sync::Arc::clone(&seen)));
    assert!(cancelled.await.is_err(), "the call was cancelled");
    let span = capture.span("cancelled_mid_way");
    let seen = seen.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
    assert_eq!(seen, Some(span.span_context.span_id().to_string()), "a rollback logged on drop is correlated");
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

struct Query;

#[traced]
impl Query {
    fn r#match(&self) {}
}

#[test]
fn impl_block_methods_named_with_raw_identifiers_are_named_as_the_language_names_them() {
    let capture = capture();
    Query.r#match();
    let span = capture.span("Query::match");
    let function = attr(&span, "code.function.name").map(|value| value.as_str().into_owned());
    assert_eq!(function.as_deref(), Some("traced_behaviour::Query::match"));
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

// `parent = ..`, `root` and `links(..)`.

fn remote(id: u8) -> opentelemetry::trace::SpanContext {
    use opentelemetry::trace::{SpanContext, TraceFlags, TraceId, TraceState};
    SpanContext::new(
        TraceId::from_bytes([id; 16]),
        SpanId::from_bytes([id; 8]),
        TraceFlags::SAMPLED,
        true,
        TraceState::default(),
    )
}

fn context_of(span_context: opentelemetry::trace::SpanContext) -> Context {
    Context::new().with_remote_span_context(span_context)
}

#[traced(parent = cx)]
fn parent_by_value(cx: Context) -> String {
    inner_sync()
}

#[traced(parent = cx)]
fn parent_by_reference(cx: &Context) -> String {
    inner_sync()
}

#[traced(parent = span_context)]
fn parent_span_context(span_context: opentelemetry::trace::SpanContext) -> String {
    inner_sync()
}

#[traced(parent = &span_context)]
fn parent_span_context_reference(span_context: opentelemetry::trace::SpanContext) -> String {
    inner_sync()
}

#[traced(parent = cx.as_ref())]
fn parent_optional_context(cx: Option<Context>) -> String {
    inner_sync()
}

#[traced(parent = span_context)]
fn parent_optional_span_context(span_context: Option<opentelemetry::trace::SpanContext>) -> String {
    inner_sync()
}

#[traced(root)]
fn new_root() -> String {
    inner_sync()
}

#[traced(root)]
fn root_keeps_baggage() -> Option<String> {
    use opentelemetry::baggage::BaggageExt as _;
    Context::current().baggage().get("tenant").map(|value| value.as_str().to_owned())
}

#[traced(parent = &cx)]
async fn async_parent(cx: Context) -> u32 {
    inner_async(1).await
}

#[traced]
fn current_then(explicit: impl FnOnce() -> String) -> String {
    explicit()
}

#[test]
fn each_accepted_parent_type_becomes_the_parent_and_children_follow_it() {
    let capture = capture();
    type Call = Box<dyn FnOnce(opentelemetry::trace::SpanContext) -> String>;
    let cases: [(&str, u8, Call); 6] = [
        ("parent_by_value", 1, Box::new(|sc| parent_by_value(context_of(sc)))),
        ("parent_by_reference", 2, Box::new(|sc| parent_by_reference(&context_of(sc)))),
        ("parent_span_context", 3, Box::new(parent_span_context)),
        ("parent_span_context_reference", 4, Box::new(parent_span_context_reference)),
        ("parent_optional_context", 5, Box::new(|sc| parent_optional_context(Some(context_of(sc))))),
        ("parent_optional_span_context", 6, Box::new(|sc| parent_optional_span_context(Some(sc)))),
    ];
    for (name, id, call) in cases {
        let given = remote(id);
        // Called inside another span: the explicit parent wins over the current one.
        let trace_id = current_then(|| call(given.clone()));
        let span = capture.span(name);
        assert_eq!(span.span_context.trace_id(), given.trace_id(), "{name}");
        assert_eq!(span.parent_span_id, given.span_id(), "{name}");
        assert!(span.parent_span_is_remote, "{name}: the given span context was remote");
        assert_eq!(trace_id, given.trace_id().to_string(), "{name}: the child runs in the given trace");
        let children = capture.children(span.span_context.span_id());
        assert_eq!(children.len(), 1, "{name}: `inner_sync` is the explicit-parent span's child");
        capture.clear();
    }
}

#[test]
fn none_as_parent_is_the_current_context() {
    let capture = capture();
    current_then(|| parent_optional_context(None));
    current_then(|| parent_optional_span_context(None));
    let outers = capture.spans_named("current_then");
    for (name, outer) in ["parent_optional_context", "parent_optional_span_context"].into_iter().zip(outers) {
        let span = capture.span(name);
        assert_eq!(span.parent_span_id, outer.span_context.span_id(), "{name}");
        assert_eq!(span.span_context.trace_id(), outer.span_context.trace_id(), "{name}");
    }
}

#[test]
fn root_starts_a_new_trace_whatever_is_current_and_keeps_the_rest_of_the_context() {
    use opentelemetry::baggage::BaggageExt as _;
    let capture = capture();
    let _attached = Context::current().with_baggage([KeyValue::new("tenant", "acme")]).attach();
    assert_eq!(root_keeps_baggage().as_deref(), Some("acme"));
    let child_trace = current_then(new_root);
    let outer = capture.span("current_then");
    let root = capture.span("new_root");
    assert_eq!(root.parent_span_id, SpanId::INVALID);
    assert_ne!(root.span_context.trace_id(), outer.span_context.trace_id());
    assert_eq!(child_trace, root.span_context.trace_id().to_string(), "the child joins the new trace");
    assert_eq!(capture.children(root.span_context.span_id()).len(), 1);
}

/// A context value that is not baggage.
#[derive(Debug, PartialEq)]
struct Tenant(&'static str);

#[traced(root)]
fn root_sees_context_values() -> Option<&'static str> {
    Context::current().get::<Tenant>().map(|tenant| tenant.0)
}

#[test]
fn root_is_decided_as_a_root_by_a_parent_based_sampler() {
    // `parentbased_always_on` is the default sampler: a root must be sampled by the root sampler, not
    // dropped as the child of an unsampled parent, whether a span is current or not.
    let capture = traced::testing::capture_with_sampler(Sampler::ParentBased(Box::new(Sampler::AlwaysOn)));
    let at_top = new_root();
    let inside = current_then(new_root);
    let roots = capture.spans_named("new_root");
    assert_eq!(roots.len(), 2, "{:?}", capture.spans());
    for (root, child_trace) in roots.iter().zip([at_top, inside]) {
        assert!(root.span_context.is_sampled());
        assert_eq!(root.parent_span_id, SpanId::INVALID);
        assert_eq!(child_trace, root.span_context.trace_id().to_string(), "the child joins the new trace");
        assert_eq!(capture.children(root.span_context.span_id()).len(), 1, "its child is sampled with it");
    }
    assert_ne!(roots[1].span_context.trace_id(), capture.span("current_then").span_context.trace_id());
    let _attached = Context::current().with_value(Tenant("acme")).attach();
    assert_eq!(root_sees_context_values(), Some("acme"), "the body keeps the context's other values");
}

#[test]
fn an_explicit_parent_that_designates_no_span_starts_a_new_sampled_trace() {
    // A message without trace headers gives an invalid span context: the span is a root, sampled by the
    // root sampler, not dropped as the child of an unsampled parent under `parentbased_always_on`.
    use opentelemetry::trace::SpanContext;
    let capture = traced::testing::capture_with_sampler(Sampler::ParentBased(Box::new(Sampler::AlwaysOn)));
    parent_span_context(SpanContext::empty_context());
    parent_optional_span_context(Some(SpanContext::empty_context()));
    current_then(|| parent_span_context_reference(SpanContext::empty_context()));
    let outer = capture.span("current_then");
    for name in ["parent_span_context", "parent_optional_span_context", "parent_span_context_reference"] {
        let span = capture.span(name);
        assert!(span.span_context.is_sampled(), "{name}");
        assert_eq!(span.parent_span_id, SpanId::INVALID, "{name}");
        assert_ne!(span.span_context.trace_id(), outer.span_context.trace_id(), "{name}");
        assert_eq!(capture.children(span.span_context.span_id()).len(), 1, "{name}: its child is sampled with it");
    }
}

#[tokio::test]
async fn an_async_fn_starts_under_its_explicit_parent() {
    let capture = capture();
    let given = remote(9);
    assert_eq!(async_parent(context_of(given.clone())).await, 2);
    let span = capture.span("async_parent");
    assert_eq!(span.parent_span_id, given.span_id());
    assert_eq!(capture.children(span.span_context.span_id()).len(), 1, "inner_async follows it");
}

#[traced(links(first, second.as_ref(), third, None::<opentelemetry::trace::SpanContext>))]
fn linked(
    first: opentelemetry::trace::SpanContext,
    second: Option<opentelemetry::trace::SpanContext>,
    third: &opentelemetry::trace::SpanContext,
) {
}

#[traced]
fn not_linked() {}

#[test]
fn links_are_recorded_invalid_ones_skipped_and_samplers_see_them() {
    #[derive(Debug, Clone)]
    struct KeepLinked;
    impl opentelemetry_sdk::trace::ShouldSample for KeepLinked {
        fn should_sample(
            &self,
            parent: Option<&Context>,
            trace_id: opentelemetry::trace::TraceId,
            name: &str,
            kind: &SpanKind,
            attributes: &[KeyValue],
            links: &[opentelemetry::trace::Link],
        ) -> opentelemetry_sdk::trace::SamplingResult {
            let inner = if links.len() == 2 { Sampler::AlwaysOn } else { Sampler::AlwaysOff };
            inner.should_sample(parent, trace_id, name, kind, attributes, links)
        }
    }
    let capture = traced::testing::capture_with_sampler(KeepLinked);
    not_linked();
    linked(remote(1), Some(remote(2)), &opentelemetry::trace::SpanContext::empty_context());
    assert_eq!(capture.spans().len(), 1, "the sampler kept the span with two links only");
    let span = capture.span("linked");
    let linked_to: Vec<_> = span.links.iter().map(|link| link.span_context.span_id()).collect();
    assert_eq!(linked_to, [remote(1).span_id(), remote(2).span_id()]);
    assert_eq!(span.parent_span_id, SpanId::INVALID, "links leave the parent as it was: none here");
}

#[test]
fn links_and_parents_cost_nothing_when_no_provider_is_installed() {
    let _no_provider = traced::testing::without_provider();
    assert_eq!(new_root(), "0".repeat(32));
    let given = remote(7);
    // The given parent is still propagated, as a no-op provider keeps the parent's span context.
    assert_eq!(parent_span_context(given.clone()), given.trace_id().to_string());
}

// `#[traced]` on impl blocks.

#[derive(Debug, Default)]
struct Repo<T> {
    items: Vec<T>,
}

#[derive(Debug)]
struct Missing;

#[traced(attributes(repo.kind = "memory"))]
impl<T: Clone + Send + Sync> Repo<T> {
    fn new() -> Self {
        Self { items: Vec::new() }
    }

    #[traced(name = "repo-put", kind = client)]
    fn put(&mut self, item: T) -> usize {
        self.items.push(item);
        self.items.len()
    }

    #[traced(attributes(index))]
    fn get(&self, index: usize) -> Result<T, Missing> {
        self.items.get(index).cloned().ok_or(Missing)
    }

    #[traced(skip)]
    fn len(&self) -> usize {
        self.items.len()
    }

    async fn fetch(&self, index: usize) -> Result<T, Missing> {
        tokio::task::yield_now().await;
        self.get(index)
    }

    const fn capacity_hint() -> usize {
        16
    }
}

#[tokio::test]
async fn every_method_of_a_traced_impl_gets_a_span_and_its_own_options_win_one_by_one() {
    let capture = capture();
    let mut repo = Repo::<String>::new();
    assert_eq!(repo.put("a".to_owned()), 1);
    assert_eq!(repo.get(0).ok().as_deref(), Some("a"));
    assert_eq!(repo.len(), 1);
    assert!(repo.fetch(3).await.is_err());
    assert_eq!(Repo::<String>::capacity_hint(), 16);

    let new = capture.span("Repo::new");
    assert_eq!(attr(&new, "repo.kind"), Some(Value::String("memory".into())), "impl-level options apply");
    let put = capture.span("repo-put");
    assert_eq!(put.span_kind, SpanKind::Client, "the method's own kind");
    assert_eq!(attr(&put, "repo.kind"), Some(Value::String("memory".into())), "options it does not give stay");
    let get = capture.spans_named("Repo::get");
    assert_eq!(get.len(), 2, "called directly and by `fetch`");
    assert_eq!(attr(&get[0], "index"), Some(Value::I64(0)));
    assert_eq!(attr(&get[0], "repo.kind"), None, "the method's `attributes` replace the impl's");
    assert!(capture.spans_named("Repo::len").is_empty(), "`skip` leaves the method untouched");
    let fetch = capture.span("Repo::fetch");
    assert!(matches!(fetch.status, Status::Error { .. }), "an async method's `Err` is seen");
    assert_eq!(get[1].parent_span_id, fetch.span_context.span_id(), "nested across `.await`");
    assert_eq!(capture.spans().len(), 5, "no span for `len` nor the `const fn`");
}

trait Greeter {
    fn greet(&self, who: &str) -> String;
    fn bow(&self) {}
}

struct English;

#[traced(kind = server)]
impl Greeter for English {
    fn greet(&self, who: &str) -> String {
        format!("hello {who}")
    }
}

#[async_trait::async_trait]
trait Fetcher {
    async fn fetch(&self, id: u64) -> Result<u64, Missing>;
}

struct TracedOutside;
struct TracedInside;

#[traced(attributes(id))]
#[async_trait::async_trait]
impl Fetcher for TracedOutside {
    async fn fetch(&self, id: u64) -> Result<u64, Missing> {
        tokio::task::yield_now().await;
        if id == 0 {
            Err(Missing)
        } else {
            Ok(id)
        }
    }
}

#[async_trait::async_trait]
#[traced(attributes(id))]
impl Fetcher for TracedInside {
    async fn fetch(&self, id: u64) -> Result<u64, Missing> {
        tokio::task::yield_now().await;
        if id == 0 {
            Err(Missing)
        } else {
            Ok(id)
        }
    }
}

#[tokio::test]
async fn trait_impls_and_async_trait_impls_in_either_order_are_traced() {
    let capture = capture();
    assert_eq!(English.greet("you"), "hello you");
    English.bow();
    assert_eq!(capture.span("English::greet").span_kind, SpanKind::Server);
    assert!(capture.spans_named("English::bow").is_empty(), "a default method of the trait is not in the impl");

    for (name, fetcher) in [
        ("TracedOutside::fetch", Box::new(TracedOutside) as Box<dyn Fetcher + Send + Sync>),
        ("TracedInside::fetch", Box::new(TracedInside)),
    ] {
        assert_eq!(fetcher.fetch(4).await.ok(), Some(4));
        assert!(fetcher.fetch(0).await.is_err());
        let spans = capture.spans_named(name);
        assert_eq!(spans.len(), 2, "{name}");
        assert_eq!(attr(&spans[0], "id"), Some(Value::I64(4)), "{name}");
        assert_eq!(spans[0].status, Status::Unset, "{name}");
        assert!(matches!(spans[1].status, Status::Error { .. }), "{name}");
    }
}

// `level = ..` against the run-time threshold.

#[traced(level = error)]
fn at_error() {}
#[traced(level = warn)]
fn at_warn() {}
#[traced]
fn at_info() {}
#[traced(level = debug)]
fn at_debug() {}
#[traced(level = trace)]
fn at_trace() {}

#[traced(level = info)]
fn chain_info() -> String {
    chain_debug()
}

#[traced(level = debug)]
fn chain_debug() -> String {
    chain_leaf()
}

#[traced(level = warn)]
fn chain_leaf() -> String {
    traced::current_span_id()
}

/// Puts the threshold back when the test ends, before its capture lets the next test run.
struct ThresholdRestored(tracing::level_filters::LevelFilter);

impl Drop for ThresholdRestored {
    fn drop(&mut self) {
        traced::set_span_level(self.0);
    }
}

#[test]
fn each_level_is_created_only_at_or_below_the_threshold() {
    use tracing::level_filters::LevelFilter;
    let capture = capture();
    let _restored = ThresholdRestored(traced::span_level());
    assert_eq!(traced::span_level(), LevelFilter::INFO, "the default threshold");
    let thresholds = [
        LevelFilter::OFF,
        LevelFilter::ERROR,
        LevelFilter::WARN,
        LevelFilter::INFO,
        LevelFilter::DEBUG,
        LevelFilter::TRACE,
    ];
    let functions: [(&str, fn()); 5] = [
        ("at_error", at_error),
        ("at_warn", at_warn),
        ("at_info", at_info),
        ("at_debug", at_debug),
        ("at_trace", at_trace),
    ];
    for (created, threshold) in thresholds.into_iter().enumerate() {
        traced::set_span_level(threshold);
        for (_, function) in functions {
            function();
        }
        let names: Vec<String> = capture.spans().iter().map(|span| span.name.to_string()).collect();
        let expected: Vec<&str> = functions.iter().take(created).map(|(name, _)| *name).collect();
        assert_eq!(names, expected, "threshold {threshold}");
        capture.clear();
    }
}

#[test]
fn the_children_of_a_filtered_span_attach_to_the_nearest_created_ancestor() {
    use tracing::level_filters::LevelFilter;
    let capture = capture();
    let _restored = ThresholdRestored(traced::span_level());

    traced::set_span_level(LevelFilter::INFO);
    let leaf_id = chain_info();
    let outer = capture.span("chain_info");
    let leaf = capture.span("chain_leaf");
    assert!(capture.spans_named("chain_debug").is_empty(), "debug is above the info threshold");
    assert_eq!(leaf.parent_span_id, outer.span_context.span_id(), "the leaf skips the filtered level");
    assert_eq!(leaf_id, leaf.span_context.span_id().to_string(), "and is current inside itself");
    capture.clear();

    traced::set_span_level(LevelFilter::DEBUG);
    chain_info();
    let middle = capture.span("chain_debug");
    assert_eq!(middle.parent_span_id, capture.span("chain_info").span_context.span_id());
    assert_eq!(capture.span("chain_leaf").parent_span_id, middle.span_context.span_id());
    capture.clear();

    traced::set_span_level(LevelFilter::WARN);
    chain_info();
    let leaf = capture.span("chain_leaf");
    assert_eq!(capture.spans().len(), 1);
    assert_eq!(leaf.parent_span_id, SpanId::INVALID, "no created ancestor: a root");
}

// Code location.

const LOCATED_LINE: i64 = line!() as i64 + 2;
#[traced(name = "somewhere")]
fn located() {}

/// Puts the code-attribute switch back when the test ends, before its capture lets the next test run.
struct CodeAttributesRestored(bool);

impl Drop for CodeAttributesRestored {
    fn drop(&mut self) {
        traced::set_code_attributes(self.0);
    }
}

#[test]
fn every_span_carries_its_function_file_and_line_unless_turned_off() {
    let capture = capture();
    let _restored = CodeAttributesRestored(traced::code_attributes());
    assert!(traced::code_attributes(), "on by default");
    located();
    let span = capture.span("somewhere");
    let string = |value: &str| Some(Value::String(value.to_owned().into()));
    assert_eq!(attr(&span, "code.function.name"), string("traced_behaviour::located"));
    assert_eq!(attr(&span, "code.file.path"), string(file!()));
    assert_eq!(attr(&span, "code.line.number"), Some(Value::I64(LOCATED_LINE)));

    Repo::<u8>::new();
    let method = capture.span("Repo::new");
    assert_eq!(attr(&method, "code.function.name"), string("traced_behaviour::Repo::new"), "the type is named");
    capture.clear();

    traced::set_code_attributes(false);
    located();
    let span = capture.span("somewhere");
    assert!(span.attributes.iter().all(|kv| !kv.key.as_str().starts_with("code.")), "{:?}", span.attributes);
}
