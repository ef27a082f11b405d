//! Header capture by the standard variables (`OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_*`) and the
//! builder methods, on the server layer and the client: names or whole-name regexes in any case,
//! sanitized values, credentials never, bounded.

mod axum_support;

use std::collections::HashMap;

use axum::http::HeaderMap;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use opentelemetry::trace::SpanKind;
use opentelemetry::{Array, StringValue, Value};
use opentelemetry_sdk::trace::SpanData;

use axum_support::{attr, capture, serve, server_span, server_spans};
use traced::axum::TracedLayer;
use traced::telemetry::Settings;

fn settings(vars: &[(&str, &str)]) -> Settings {
    let vars: HashMap<String, String> = vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    Settings::from_vars(&vars).expect("valid settings")
}

fn strings(values: &[&str]) -> Option<Value> {
    Some(Value::Array(Array::String(values.iter().map(|value| StringValue::from((*value).to_owned())).collect())))
}

fn header_keys(span: &SpanData) -> Vec<String> {
    let mut keys: Vec<String> = span
        .attributes
        .iter()
        .map(|kv| kv.key.as_str().to_owned())
        .filter(|key| key.starts_with("http.request.header.") || key.starts_with("http.response.header."))
        .collect();
    keys.sort();
    keys
}

/// Answers with a few headers of its own, credentials included.
async fn handler() -> impl IntoResponse {
    let mut headers = HeaderMap::new();
    headers.insert("x-response-id", "r-1".parse().expect("value"));
    headers.append("set-cookie", "session=SECRETCOOKIE".parse().expect("value"));
    headers.insert("x-session-token", "SECRETTOKEN".parse().expect("value"));
    (headers, "ok")
}

fn request(client: &reqwest::Client, url: &str) -> reqwest::RequestBuilder {
    client
        .get(url)
        .header("X-Request-Id", "abc")
        .header("x-tenant-name", "acme")
        .header("x-tenant-name", "other")
        .header("authorization", "Bearer SECRETBEARER")
        .header("proxy-authorization", "Basic SECRETPROXY")
        .header("cookie", "id=SECRETCOOKIE")
        .header("x-api-key", "SECRETKEY")
}

#[tokio::test]
async fn the_server_variables_capture_sanitize_and_never_take_credentials() {
    let spans = capture();
    let settings = settings(&[
        ("OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_REQUEST", "x-request-id,X-TENANT-.*,.*key,authorization"),
        ("OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_RESPONSE", ".*"),
        ("OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SANITIZE_FIELDS", "x-api-key,.*session.*"),
    ]);
    let router = Router::new().route("/items", get(handler)).layer(TracedLayer::from_settings(&settings));
    let address = serve(router).await;
    let response = request(&reqwest::Client::new(), &format!("http://{address}/items")).send().await.expect("send");
    assert_eq!(response.text().await.expect("body"), "ok");

    let span = server_span(&spans).await;
    assert_eq!(attr(&span, "http.request.header.x-request-id"), strings(&["abc"]));
    assert_eq!(attr(&span, "http.request.header.x-tenant-name"), strings(&["acme", "other"]));
    assert_eq!(attr(&span, "http.request.header.x-api-key"), strings(&["[REDACTED]"]));
    assert_eq!(attr(&span, "http.response.header.x-response-id"), strings(&["r-1"]));
    assert_eq!(attr(&span, "http.response.header.x-session-token"), strings(&["[REDACTED]"]));
    assert_eq!(
        header_keys(&span),
        [
            "http.request.header.x-api-key",
            "http.request.header.x-request-id",
            "http.request.header.x-tenant-name",
            "http.response.header.content-type",
            "http.response.header.x-response-id",
            "http.response.header.x-session-token",
        ],
        "no credentials, nothing unasked"
    );
    let everything = format!("{span:?}");
    assert!(!everything.contains("SECRET"), "a secret reached the span: {everything}");
}

#[tokio::test]
async fn builder_methods_win_over_the_variables() {
    let spans = capture();
    let settings = settings(&[("OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_REQUEST", "x-request-id")]);
    let layer = TracedLayer::from_settings(&settings)
        .capture_request_headers(["x-tenant-name"])
        .sanitize_headers(["x-tenant-.*"]);
    let address = serve(Router::new().route("/items", get(handler)).layer(layer)).await;
    request(&reqwest::Client::new(), &format!("http://{address}/items")).send().await.expect("send");
    let span = server_span(&spans).await;
    assert_eq!(header_keys(&span), ["http.request.header.x-tenant-name"]);
    assert_eq!(attr(&span, "http.request.header.x-tenant-name"), strings(&["[REDACTED]", "[REDACTED]"]));
}

#[tokio::test]
async fn a_flood_of_headers_is_captured_within_bounds() {
    let spans = capture();
    let layer = TracedLayer::new().capture_request_headers(["x-.*"]);
    let address = serve(Router::new().route("/items", get(handler)).layer(layer)).await;
    let mut flood = reqwest::Client::new().get(format!("http://{address}/items"));
    for index in 0..40 {
        flood = flood.header(format!("x-flood-{index}"), "v");
    }
    for _ in 0..20 {
        flood = flood.header("x-flood-0", "again");
    }
    flood = flood.header("x-fat", "y".repeat(20_000));
    assert_eq!(flood.send().await.expect("send").status(), 200);
    let span = server_span(&spans).await;
    let keys = header_keys(&span);
    assert_eq!(keys.len(), 32, "{keys:?}");
    let Some(Value::Array(Array::String(values))) = attr(&span, "http.request.header.x-flood-0") else {
        panic!("x-flood-0 was captured")
    };
    assert_eq!(values.len(), 16);
}

#[tokio::test]
async fn the_client_variables_capture_its_request_and_response_headers() {
    let captured = capture();
    let address = serve(Router::new().route("/items", get(handler)).layer(TracedLayer::new())).await;
    let settings = settings(&[
        ("OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_CLIENT_REQUEST", "x-request-id,.*"),
        ("OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_CLIENT_RESPONSE", "x-response-id,set-cookie,x-session-.*"),
        ("OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SANITIZE_FIELDS", ".*key"),
    ]);
    let client = traced::client::Client::from_settings(&settings);
    let url = format!("http://{address}/items");
    let response = client
        .get(&url)
        .header("X-Request-Id", "abc")
        .header("authorization", "Bearer SECRETBEARER")
        .header("cookie", "id=SECRETCOOKIE")
        .header("x-api-key", "SECRETKEY")
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), 200);

    let spans = server_spans(&captured, 1).await;
    let span = spans.iter().find(|span| span.span_kind == SpanKind::Client).expect("a client span");
    assert_eq!(attr(span, "http.request.header.x-request-id"), strings(&["abc"]));
    assert_eq!(attr(span, "http.request.header.x-api-key"), strings(&["[REDACTED]"]));
    assert_eq!(attr(span, "http.response.header.x-response-id"), strings(&["r-1"]));
    assert_eq!(attr(span, "http.response.header.x-session-token"), strings(&["SECRETTOKEN"]), "not sanitized");
    assert_eq!(
        header_keys(span),
        [
            "http.request.header.x-api-key",
            "http.request.header.x-request-id",
            "http.response.header.x-response-id",
            "http.response.header.x-session-token",
        ],
        "no credentials either way, no propagation header"
    );
    assert!(!format!("{span:?}").contains("SECRETBEARER") && !format!("{span:?}").contains("SECRETCOOKIE"));
}

#[tokio::test]
async fn the_clients_builder_methods_win_over_its_settings() {
    let captured = capture();
    let address = serve(Router::new().route("/items", get(handler))).await;
    let settings = settings(&[("OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_CLIENT_RESPONSE", "x-session-token")]);
    let client = traced::client::Client::from_settings(&settings)
        .capture_request_headers(["x-request-id"])
        .capture_response_headers(["X-Response-Id", "set-cookie"])
        .sanitize_headers(["x-request-.*"]);
    client.get(format!("http://{address}/items")).header("x-request-id", "abc").send().await.expect("send");
    let span = captured.span("GET");
    assert_eq!(span.span_kind, SpanKind::Client);
    assert_eq!(header_keys(&span), ["http.request.header.x-request-id", "http.response.header.x-response-id"]);
    assert_eq!(attr(&span, "http.request.header.x-request-id"), strings(&["[REDACTED]"]));
}
