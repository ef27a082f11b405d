//! Malformed `traceparent` values never fail a request: each starts a fresh trace. The propagators
//! `traced::init()` installs are skipped for a request carrying none of their headers, any other one
//! always runs.

mod axum_support;

use axum::routing::get;
use axum::Router;
use opentelemetry::propagation::text_map_propagator::FieldIter;
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt as _, TraceFlags, TraceId, TraceState};
use opentelemetry::Context;

use axum_support::{capture, serve, server_spans};
use traced::axum::TracedLayer;

const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";

/// Each value breaks one rule of W3C Trace Context; the trace id above appears in most, so joining
/// the bogus trace would show.
const MALFORMED: [&str; 24] = [
    "",
    "garbage",
    "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
    "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-",
    "00-04bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
    "00-4bf92f3577b34da6a3ce929d0e0e4736-000f067aa0ba902b7-01",
    "00-4bf92f3577b34da6a3ce929d0e0e4736-0f067aa0ba902b7-01",
    "00-4bf92f3577b34da6a3ce929d0e0e473x-00f067aa0ba902b7-01",
    "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902bz-01",
    "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
    "00-4bf92f3577b34da6a3ce929d0e0e4736-00F067AA0BA902B7-01",
    "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
    "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
    "00-00000000000000000000000000000000-0000000000000000-00",
    "0-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1",
    "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0x",
    "00_4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7_01",
    "00-+bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    "00-4bf92f3577b34da6a3ce929d0e0e4736-+0f067aa0ba902b7-01",
    "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x",
    "00-4bf92f3577b34da6a3ce929d0e0e4736--00f067aa0ba902b7-01",
];

#[tokio::test]
async fn malformed_traceparents_start_fresh_traces_and_never_fail() {
    let capture = capture();
    let router = Router::new().route("/items/{item_id}", get(|| async { "item" })).layer(TracedLayer::new());
    let address = serve(router).await;
    let client = reqwest::Client::new();
    let too_long = format!("00-{TRACE_ID}-00f067aa0ba902b7-01{}", "0".repeat(4096));
    let mut values: Vec<&str> = MALFORMED.to_vec();
    values.push(&too_long);

    for value in &values {
        let response = client
            .get(format!("http://{address}/items/1"))
            .header("traceparent", *value)
            .header("tracestate", "vendor=value")
            .send()
            .await
            .unwrap_or_else(|error| panic!("{value:?}: {error}"));
        assert_eq!(response.status(), 200, "{value:?}");
    }

    let spans = server_spans(&capture, values.len()).await;
    assert_eq!(spans.len(), values.len());
    let bogus = TraceId::from_hex(TRACE_ID).expect("hex");
    for span in &spans {
        assert_eq!(span.parent_span_id, SpanId::INVALID, "a fresh trace has no parent");
        assert_ne!(span.span_context.trace_id(), bogus);
        assert!(
            span.span_context.trace_state().header().is_empty(),
            "tracestate without a valid traceparent is dropped"
        );
    }
}

#[tokio::test]
async fn without_trace_headers_a_request_starts_a_root_and_with_a_traceparent_it_continues() {
    let capture = capture();
    let router = Router::new().route("/items/{item_id}", get(|| async { "item" })).layer(TracedLayer::new());
    let address = serve(router).await;
    let client = reqwest::Client::new();
    let url = format!("http://{address}/items/1");
    for _ in 0..2 {
        let response = client.get(&url).header("x-request-id", "1").send().await.expect("request");
        assert_eq!(response.status(), 200);
    }
    let traceparent = format!("00-{TRACE_ID}-00f067aa0ba902b7-01");
    let response = client.get(&url).header("traceparent", traceparent).send().await.expect("request");
    assert_eq!(response.status(), 200);

    let spans = server_spans(&capture, 3).await;
    let (children, roots): (Vec<_>, Vec<_>) = spans.iter().partition(|span| span.parent_span_id != SpanId::INVALID);
    assert_eq!(roots.len(), 2, "{spans:?}");
    assert_ne!(roots[0].span_context.trace_id(), roots[1].span_context.trace_id(), "each root has its own trace");
    let [child] = children.as_slice() else { panic!("one continued trace: {spans:?}") };
    assert_eq!(child.span_context.trace_id(), TraceId::from_hex(TRACE_ID).expect("hex"));
    assert_eq!(child.parent_span_id, SpanId::from_hex("00f067aa0ba902b7").expect("hex"));
    assert!(child.parent_span_is_remote);
    assert!(child.span_context.is_sampled());
}

/// Continues the trace of `x-custom-trace`, a header its `fields()` do not list.
#[derive(Debug)]
struct Unlisted;

impl TextMapPropagator for Unlisted {
    fn inject_context(&self, _: &Context, _: &mut dyn Injector) {}

    fn extract_with_context(&self, cx: &Context, extractor: &dyn Extractor) -> Context {
        let Some(trace_id) = extractor.get("x-custom-trace").and_then(|hex| TraceId::from_hex(hex).ok()) else {
            return cx.clone();
        };
        let parent = SpanContext::new(trace_id, SpanId::from(7), TraceFlags::SAMPLED, true, TraceState::NONE);
        cx.with_remote_span_context(parent)
    }

    fn fields(&self) -> FieldIter<'_> {
        FieldIter::new(&[])
    }
}

#[tokio::test]
async fn a_propagator_reading_a_header_it_does_not_list_still_runs() {
    let capture = capture();
    traced::propagation::set_text_map_propagator(Unlisted);
    let router = Router::new().route("/items/{item_id}", get(|| async { "item" })).layer(TracedLayer::new());
    let address = serve(router).await;
    let response = reqwest::Client::new()
        .get(format!("http://{address}/items/1"))
        .header("x-custom-trace", TRACE_ID)
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 200);

    let span = axum_support::server_span(&capture).await;
    assert_eq!(span.span_context.trace_id(), TraceId::from_hex(TRACE_ID).expect("hex"));
    assert_eq!(span.parent_span_id, SpanId::from(7));
}
