//! Malformed `traceparent` values never fail a request: each starts a fresh trace.

mod axum_support;

use axum::routing::get;
use axum::Router;
use opentelemetry::trace::{SpanId, TraceId};

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
