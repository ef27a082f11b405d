//! Spans of the function forms `#[traced]` rewrites in special ways: `#[async_trait]` methods (the
//! boxed future), `Result<impl Trait, E>` returns (the erased return type), `#[track_caller]` (the
//! unwrapped body), native `async fn` in traits and trait default methods.

use async_trait::async_trait;
use opentelemetry::trace::{SpanKind, Status};
use opentelemetry::Value;
use opentelemetry_sdk::trace::SpanData;
use traced::testing::capture;
use traced::traced;

fn attr(span: &SpanData, key: &str) -> Option<Value> {
    span.attributes.iter().find(|kv| kv.key.as_str() == key).map(|kv| kv.value.clone())
}

#[derive(Debug)]
struct Missing;

#[traced]
async fn lookup(id: u64) -> Option<String> {
    tokio::task::yield_now().await;
    (id == 1).then(|| "ada".to_owned())
}

#[async_trait]
trait Repository {
    async fn find(&self, id: u64) -> Result<String, Missing>;
}

struct Names {
    table: &'static str,
}

#[async_trait]
impl Repository for Names {
    #[traced(name = "names.find", kind = client, attributes(id, db.collection.name = self.table))]
    async fn find(&self, id: u64) -> Result<String, Missing> {
        lookup(id).await.ok_or(Missing)
    }
}

#[tokio::test]
async fn async_trait_methods_get_their_span_with_attributes_children_and_errors() {
    let capture = capture();
    let names = Names { table: "names" };
    assert_eq!(names.find(1).await.ok().as_deref(), Some("ada"));
    let span = capture.span("names.find");
    assert_eq!(span.span_kind, SpanKind::Client);
    assert_eq!(attr(&span, "id"), Some(Value::I64(1)));
    assert_eq!(attr(&span, "db.collection.name"), Some(Value::String("names".into())));
    assert_eq!(span.status, Status::Unset);
    assert_eq!(capture.span("lookup").parent_span_id, span.span_context.span_id(), "inner future runs in the span");

    capture.clear();
    assert!(names.find(2).await.is_err());
    let span = capture.span("names.find");
    assert!(matches!(span.status, Status::Error { .. }), "{:?}", span.status);
    assert_eq!(attr(&span, "error.type"), Some(Value::String(std::any::type_name::<Missing>().into())));
}

#[traced]
fn doubled(n: i64) -> Result<impl std::fmt::Display, Missing> {
    if n < 0 {
        return Err(Missing);
    }
    Ok(n * 2)
}

#[traced]
async fn doubled_later(n: i64) -> Result<impl std::fmt::Display, Missing> {
    tokio::task::yield_now().await;
    doubled(n)
}

#[tokio::test]
async fn an_err_is_seen_through_an_impl_trait_in_the_ok_type() {
    let capture = capture();
    assert!(doubled_later(-1).await.is_err());
    for name in ["doubled", "doubled_later"] {
        let span = capture.span(name);
        assert!(matches!(span.status, Status::Error { .. }), "{name}: {:?}", span.status);
    }
    capture.clear();
    assert_eq!(doubled_later(2).await.map(|v| v.to_string()).ok().as_deref(), Some("4"));
    assert_eq!(capture.span("doubled_later").status, Status::Unset);
}

#[traced]
#[track_caller]
fn caller_line(fail: bool) -> Result<u32, Missing> {
    if fail {
        return Err(Missing);
    }
    Ok(std::panic::Location::caller().line())
}

#[test]
fn track_caller_functions_are_traced_but_keep_their_callers_location() {
    let capture = capture();
    let line = line!() + 1;
    assert_eq!(caller_line(false).ok(), Some(line));
    assert!(caller_line(true).is_err());
    let spans = capture.spans_named("caller_line");
    assert_eq!(spans.len(), 2);
    // The body runs unwrapped, so the `Err` is not observed (documented on the macro).
    assert!(spans.iter().all(|span| span.status == Status::Unset));
}

trait Store {
    #[traced(name = "store.describe", attributes(store.size = self.size()))]
    fn describe(&self) -> String {
        format!("{} items", self.size())
    }

    fn size(&self) -> u32;

    async fn load(&self, id: u64) -> Result<String, Missing>;
}

struct Memory;

impl Store for Memory {
    fn size(&self) -> u32 {
        3
    }

    #[traced(name = "memory.load", attributes(id))]
    async fn load(&self, id: u64) -> Result<String, Missing> {
        lookup(id).await.ok_or(Missing)
    }
}

#[tokio::test]
async fn trait_default_methods_and_native_async_fn_in_traits() {
    let capture = capture();
    assert_eq!(Memory.describe(), "3 items");
    assert_eq!(attr(&capture.span("store.describe"), "store.size"), Some(Value::I64(3)));
    assert!(Memory.load(9).await.is_err());
    let load = capture.span("memory.load");
    assert!(matches!(load.status, Status::Error { .. }));
    assert_eq!(capture.span("lookup").parent_span_id, load.span_context.span_id());
}
