//! `#[traced]` as a user meets it from another crate: their own SDK provider set with
//! `opentelemetry::global::set_tracer_provider` (no `traced::testing`, no `traced::init()`), and code
//! built under `#![deny(warnings)]`, so a lint fired by generated code on the user's own tokens
//! (e.g. `unused_braces` on the body `{ Ok(1) }` of an `async fn`, or `{ helper() }` of a sync one)
//! fails this build.
#![deny(warnings)]

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock, PoisonError};

use opentelemetry::trace::{SpanKind, Status};
use opentelemetry::Value;
use opentelemetry_sdk::trace::{InMemorySpanExporter, SpanData};
use traced::{record_errors, traced};
use traced_tests::in_memory_tracer_provider;

/// The provider is process-wide: installed once, and each test takes its turn with the exporter.
fn exporter() -> MutexGuard<'static, InMemorySpanExporter> {
    static EXPORTER: OnceLock<Mutex<InMemorySpanExporter>> = OnceLock::new();
    let exporter = EXPORTER.get_or_init(|| {
        let (provider, exporter) = in_memory_tracer_provider();
        opentelemetry::global::set_tracer_provider(provider);
        Mutex::new(exporter)
    });
    let exporter = exporter.lock().unwrap_or_else(PoisonError::into_inner);
    exporter.reset();
    exporter
}

fn span(exporter: &InMemorySpanExporter, name: &str) -> SpanData {
    let spans = exporter.get_finished_spans().expect("the in-memory exporter answers");
    let mut matching = spans.iter().filter(|span| span.name == name);
    match (matching.next(), matching.next()) {
        (Some(span), None) => span.clone(),
        _ => panic!("expected one span {name:?}, got {:?}", spans.iter().map(|span| &span.name).collect::<Vec<_>>()),
    }
}

fn attr(span: &SpanData, key: &str) -> Option<Value> {
    span.attributes.iter().find(|kv| kv.key.as_str() == key).map(|kv| kv.value.clone())
}

#[derive(Debug)]
struct NotFound;

impl std::fmt::Display for NotFound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("no such item")
    }
}

impl std::error::Error for NotFound {}

// Single-expression bodies: the shape that tripped `unused_braces` in async fns.
#[traced]
async fn answer() -> u32 {
    42
}

#[traced]
async fn find(id: u64) -> Result<u64, NotFound> {
    if id == 0 {
        Err(NotFound)
    } else {
        Ok(id)
    }
}

#[record_errors]
#[traced]
async fn find_recorded(id: u64) -> Result<u64, NotFound> {
    find(id).await
}

fn mark(done: &AtomicBool) {
    done.store(true, Ordering::Relaxed);
}

// A body that is one call to a unit function, and one that never returns: the sync shapes that
// tripped `unused_braces`.
#[traced]
fn unit_body(done: &AtomicBool) {
    mark(done)
}

#[traced]
fn diverges() -> ! {
    panic!("gave up")
}

#[traced(name = "load-item", kind = client, attributes(item.id = item_id, "http.route" = "/items/{id}", q))]
async fn load_item(item_id: u64, q: Option<&str>) -> u64 {
    traced::record("demo.io_delay_seconds", 0.2);
    tokio::task::yield_now().await;
    child(item_id)
}

#[traced]
fn child(item_id: u64) -> u64 {
    item_id
}

#[traced(name = "parent")]
async fn parent() -> (String, String) {
    let own = traced::current_trace_id();
    let spawned = traced::spawn(async { spawned_child().await }).await.unwrap_or_default();
    (own, spawned)
}

#[traced]
async fn spawned_child() -> String {
    traced::current_trace_id()
}

/// Runs `future` to completion on a runtime of its own (the test holds the exporter's turn meanwhile).
fn run<F: std::future::Future>(future: F) -> F::Output {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build();
    runtime.expect("a tokio runtime").block_on(future)
}

#[test]
fn single_expression_async_bodies_keep_their_value_and_outcome() {
    let exporter = exporter();
    assert_eq!(run(answer()), 42);
    assert_eq!(run(find(3)).ok(), Some(3));
    assert!(run(find_recorded(0)).is_err());

    assert_eq!(span(&exporter, "answer").status, Status::Unset);
    let found = exporter.get_finished_spans().expect("spans").into_iter().filter(|span| span.name == "find");
    let statuses: Vec<bool> = found.map(|span| matches!(span.status, Status::Error { .. })).collect();
    assert_eq!(statuses, [false, true], "Ok leaves the status unset, Err sets ERROR");
    let recorded = span(&exporter, "find_recorded");
    assert!(recorded.events.iter().any(|event| event.name == "exception"));
}

#[test]
fn single_expression_sync_bodies_run_inside_their_span() {
    let exporter = exporter();
    let done = AtomicBool::new(false);
    unit_body(&done);
    assert!(done.load(Ordering::Relaxed));
    assert_eq!(span(&exporter, "unit_body").status, Status::Unset);

    assert!(std::panic::catch_unwind(|| diverges()).is_err());
    assert!(matches!(span(&exporter, "diverges").status, Status::Error { .. }), "a panic fails the span");
}

#[test]
fn a_user_installed_global_provider_gets_named_typed_nested_spans() {
    let exporter = exporter();
    assert_eq!(run(load_item(2, Some("x"))), 2);

    let item = span(&exporter, "load-item");
    assert_eq!(item.span_kind, SpanKind::Client);
    assert_eq!(attr(&item, "item.id"), Some(Value::I64(2)));
    assert_eq!(attr(&item, "http.route"), Some(Value::from("/items/{id}")));
    assert_eq!(attr(&item, "q"), Some(Value::from("x")));
    assert_eq!(attr(&item, "demo.io_delay_seconds"), Some(Value::F64(0.2)));
    let child = span(&exporter, "child");
    assert_eq!(child.parent_span_id, item.span_context.span_id(), "a child across `.await`");
    assert_eq!(child.span_context.trace_id(), item.span_context.trace_id());
}

#[test]
fn spawned_work_and_the_trace_id_follow_the_user_provider() {
    let exporter = exporter();
    let (own, spawned) = run(parent());
    let parent = span(&exporter, "parent");
    assert_eq!(own, parent.span_context.trace_id().to_string());
    assert_eq!(spawned, own);
    assert_eq!(span(&exporter, "spawned_child").parent_span_id, parent.span_context.span_id());
}
