//! `traced::propagation::{inject, extract}` over `http::HeaderMap` with the global propagator.

mod axum_support;

use axum::http::{HeaderMap, HeaderValue};
use opentelemetry::baggage::BaggageExt as _;
use opentelemetry::trace::{TraceContextExt as _, Tracer as _, TracerProvider as _};
use opentelemetry::{Context, KeyValue};

use axum_support::capture;

#[test]
fn the_current_span_is_injected_and_extracted_back() {
    let capture = capture();
    let tracer = capture.provider().tracer("propagation-test");
    let span = tracer.start("outgoing");
    let cx = Context::current_with_span(span).with_baggage(vec![KeyValue::new("user.tier", "gold")]);
    let expected = cx.span().span_context().clone();

    let mut headers = HeaderMap::new();
    {
        let _current = cx.clone().attach();
        traced::propagation::inject(&mut headers);
    }
    assert_eq!(headers["traceparent"], format!("00-{}-{}-01", expected.trace_id(), expected.span_id()).as_str());
    assert_eq!(headers["baggage"], "user.tier=gold");

    let extracted = traced::propagation::extract(&headers);
    let remote = extracted.span().span_context().clone();
    assert_eq!(remote.trace_id(), expected.trace_id());
    assert_eq!(remote.span_id(), expected.span_id());
    assert!(remote.is_remote());
    assert_eq!(extracted.baggage().get("user.tier").map(ToString::to_string).as_deref(), Some("gold"));
}

#[test]
fn a_malformed_traceparent_is_not_extracted_but_baggage_is() {
    let _capture = capture();
    let mut headers = HeaderMap::new();
    headers.insert("traceparent", HeaderValue::from_static("00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01"));
    headers.insert("baggage", HeaderValue::from_static("user.tier=gold"));
    let extracted = traced::propagation::extract(&headers);
    assert!(!extracted.span().span_context().is_valid(), "a short trace id starts a fresh trace");
    assert_eq!(extracted.baggage().get("user.tier").map(ToString::to_string).as_deref(), Some("gold"));
}

#[test]
fn nothing_is_injected_without_a_span() {
    let _capture = capture();
    let mut headers = HeaderMap::new();
    traced::propagation::inject_context(&Context::new(), &mut headers);
    assert!(headers.get("traceparent").is_none());
}

/// What service B received from service A's instrumented client, for the headers A was called with.
async fn downstream_headers(incoming: &[(&str, String)]) -> HeaderMap {
    use axum::extract::State;
    use axum::routing::get;
    use axum::Router;
    use axum_support::serve;

    let (sender, mut received) = tokio::sync::mpsc::unbounded_channel::<HeaderMap>();
    let b = Router::new().route(
        "/b",
        get(move |headers: HeaderMap| {
            let _ = sender.send(headers);
            async { "b" }
        }),
    );
    let b = serve(b.layer(traced::axum::TracedLayer::new())).await;
    let a = Router::new()
        .route(
            "/a",
            get(move |State(client): State<traced::client::Client>| async move {
                client.get(format!("http://{b}/b")).send().await.map(|_| "a").unwrap_or("failed")
            }),
        )
        .layer(traced::axum::TracedLayer::new())
        .with_state(traced::client::Client::new());
    let a = serve(a).await;
    let mut request = reqwest::Client::new().get(format!("http://{a}/a"));
    for (name, value) in incoming {
        request = request.header(*name, value.as_str());
    }
    assert_eq!(request.send().await.expect("call A").text().await.expect("A's body"), "a");
    received.recv().await.expect("B was called")
}

#[tokio::test]
async fn no_empty_header_goes_downstream() {
    let _capture = capture();
    let parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    for incoming in [
        vec![],
        vec![("traceparent", parent.to_owned())],
        vec![("traceparent", parent.to_owned()), ("tracestate", String::new())],
        vec![("traceparent", parent.to_owned()), ("baggage", format!("k={}", "v".repeat(9 * 1024)))],
        vec![("traceparent", "00-zz".to_owned()), ("tracestate", "vendor=1".to_owned())],
    ] {
        let received = downstream_headers(&incoming).await;
        assert!(received.contains_key("traceparent"), "B joins the trace: {received:?}");
        for name in ["tracestate", "baggage"] {
            assert!(!received.contains_key(name), "{name} sent downstream for {incoming:?}: {received:?}");
        }
    }
}

#[tokio::test]
async fn tracestate_and_baggage_go_downstream_within_the_w3c_limits() {
    let _capture = capture();
    let parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let state: Vec<String> = (0..40).map(|i| format!("vendor{i}=value{i}")).collect();
    let baggage: Vec<String> = (0..180).map(|i| format!("k{i}=v{i}")).collect();
    let received = downstream_headers(&[
        ("traceparent", parent.to_owned()),
        ("tracestate", state.join(",")),
        ("baggage", baggage.join(",")),
    ])
    .await;
    let sent_state = received["tracestate"].to_str().expect("text");
    let mut kept = state[..32].to_vec();
    while kept.join(",").len() > 512 {
        kept.pop();
    }
    assert_eq!(sent_state, kept.join(","), "at most the first 32 members, cut from the end to 512 characters");
    assert_eq!(received["baggage"].to_str().expect("text"), baggage.join(","), "180 members, unchanged");
}
