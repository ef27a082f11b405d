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
