//! Acceptance, from outside: hostile and credential-carrying headers against the axum layer, the way
//! the standard variables configure it.
//!
//! - `OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SANITIZE_FIELDS` entries are searched in the header
//!   name, case-insensitively, as the Python instrumentations do (`re.search`): a configuration copied
//!   from a Python service must redact at least what it redacted there.
//! - Captured header values that carry URLs (`Referer`, `Location`) lose userinfo and the values of
//!   sensitive query keys, like every other URL `traced` records.
//! - A repeated `traceparent` is malformed (W3C Trace Context test suite,
//!   `test_traceparent_duplicated`): the request starts a fresh trace and is answered normally.

mod axum_support;

use std::collections::HashMap;

use axum::http::HeaderMap;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use opentelemetry::trace::{SpanId, TraceId};
use opentelemetry::{Array, StringValue, Value};

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

async fn redirect() -> impl IntoResponse {
    let mut headers = HeaderMap::new();
    let location = "https://app.example/cb?code=CODESECRET&state=1#access_token=FRAGSECRET";
    headers.insert("location", location.parse().expect("value"));
    headers.insert("x-upstream", "http://svc:UPSTREAMPW@10.0.0.2:8080/".parse().expect("value"));
    (headers, "ok")
}

#[tokio::test]
async fn sanitize_fields_are_searched_in_the_name_as_python_does() {
    let capture = capture();
    let settings = settings(&[
        ("OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_REQUEST", ".*"),
        ("OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SANITIZE_FIELDS", "token,Session, x-api"),
    ]);
    let address =
        serve(Router::new().route("/", get(|| async { "ok" })).layer(TracedLayer::from_settings(&settings))).await;
    let response = reqwest::Client::new()
        .get(format!("http://{address}/"))
        .header("x-auth-token", "TOKENSECRET")
        .header("X-Session-Id", "SESSIONSECRET")
        .header("x-api-key", "APIKEYSECRET")
        .header("x-request-id", "visible")
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 200);
    let span = server_span(&capture).await;
    assert_eq!(attr(&span, "http.request.header.x-auth-token"), strings(&["[REDACTED]"]));
    assert_eq!(attr(&span, "http.request.header.x-session-id"), strings(&["[REDACTED]"]));
    assert_eq!(attr(&span, "http.request.header.x-api-key"), strings(&["[REDACTED]"]));
    assert_eq!(attr(&span, "http.request.header.x-request-id"), strings(&["visible"]));
    let all = format!("{:?}", span.attributes);
    for secret in ["TOKENSECRET", "SESSIONSECRET", "APIKEYSECRET"] {
        assert!(!all.contains(secret), "{secret} in {all}");
    }
}

#[tokio::test]
async fn sanitize_fields_given_in_code_are_searched_too() {
    let capture = capture();
    let layer = TracedLayer::new().capture_request_headers([".*"]).sanitize_headers(["token"]);
    let address = serve(Router::new().route("/", get(|| async { "ok" })).layer(layer)).await;
    let response =
        reqwest::Client::new().get(format!("http://{address}/")).header("x-csrf-token", "CSRFSECRET").send().await;
    assert_eq!(response.expect("request").status(), 200);
    let span = server_span(&capture).await;
    assert_eq!(attr(&span, "http.request.header.x-csrf-token"), strings(&["[REDACTED]"]));
}

#[tokio::test]
async fn captured_urls_lose_userinfo_and_secret_query_values() {
    let capture = capture();
    let settings = settings(&[
        ("OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_REQUEST", "referer,x-forwarded-uri"),
        ("OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_RESPONSE", "location,x-upstream"),
    ]);
    let address = serve(Router::new().route("/", get(redirect)).layer(TracedLayer::from_settings(&settings))).await;
    let response = reqwest::Client::new()
        .get(format!("http://{address}/"))
        .header("referer", "https://u:REFERERPW@shop.example/reset?token=RESETSECRET&lang=en")
        .header("x-forwarded-uri", "/login?password=FWDSECRET")
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 200);
    let span = server_span(&capture).await;
    assert_eq!(
        attr(&span, "http.request.header.referer"),
        strings(&["https://shop.example/reset?token=REDACTED&lang=en"])
    );
    assert_eq!(attr(&span, "http.request.header.x-forwarded-uri"), strings(&["/login?password=REDACTED"]));
    assert_eq!(
        attr(&span, "http.response.header.location"),
        strings(&["https://app.example/cb?code=REDACTED&state=1#access_token=REDACTED"])
    );
    assert_eq!(attr(&span, "http.response.header.x-upstream"), strings(&["http://10.0.0.2:8080/"]));
}

#[tokio::test]
async fn a_repeated_traceparent_starts_a_fresh_trace() {
    let capture = capture();
    let address = serve(Router::new().route("/", get(|| async { "ok" })).layer(TracedLayer::new())).await;
    let first = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let second = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    let client = reqwest::Client::new();
    for pair in [[first, second], [first, first]] {
        let response = client
            .get(format!("http://{address}/"))
            .header("traceparent", pair[0])
            .header("traceparent", pair[1])
            .header("tracestate", "vendor=1")
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), 200);
    }
    let spans = server_spans(&capture, 2).await;
    for span in spans {
        let trace_id = span.span_context.trace_id();
        assert_ne!(trace_id, TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").expect("hex"));
        assert_ne!(trace_id, TraceId::from_hex("0af7651916cd43dd8448eb211c80319c").expect("hex"));
        assert_eq!(span.parent_span_id, SpanId::INVALID, "a root span");
        assert!(span.span_context.trace_state().header().is_empty(), "no tracestate without a traceparent");
    }
}
