//! A panicking handler: 500 with the JSON error body whose `request_id` is the trace id, an
//! `exception` event, ERROR status, and the server keeps answering.

mod axum_support;

use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use opentelemetry::trace::Status;

use axum_support::{attr, capture, serve, server_span, server_spans, string};
use traced::axum::TracedLayer;
use traced::ErrorResponse;

async fn exception() -> &'static str {
    panic!("boom: the database is gone")
}

fn app(layer: TracedLayer) -> Router {
    Router::new().route("/exception", get(exception)).route("/ok", get(|| async { "fine" })).layer(layer)
}

#[tokio::test]
async fn a_panic_becomes_a_json_500_with_the_trace_id_and_the_server_keeps_serving() {
    let capture = capture();
    let address = serve(app(TracedLayer::new())).await;
    let client = reqwest::Client::new();

    let response = client.get(format!("http://{address}/exception")).send().await.expect("request");
    assert_eq!(response.status(), 500);
    assert_eq!(response.headers()["content-type"], "application/json");
    let body: serde_json::Value = response.json().await.expect("JSON body");

    let span = server_span(&capture).await;
    let trace_id = span.span_context.trace_id().to_string();
    assert_eq!(body, serde_json::json!({"message": "something went wrong.", "request_id": trace_id}));
    assert_eq!(span.name, "GET /exception");
    assert_eq!(span.status, Status::error("boom: the database is gone"));
    assert_eq!(attr(&span, "error.type"), string("panic"));
    assert_eq!(attr(&span, "http.response.status_code"), axum_support::int(500));
    let event = span.events.iter().find(|event| event.name == "exception").expect("an exception event");
    let event_attr =
        |key: &str| event.attributes.iter().find(|kv| kv.key.as_str() == key).map(|kv| kv.value.to_string());
    assert_eq!(event_attr("exception.type").as_deref(), Some("panic"));
    assert_eq!(event_attr("exception.message").as_deref(), Some("boom: the database is gone"));

    // Same client, same connection pool: the server is still up.
    let next = client.get(format!("http://{address}/ok")).send().await.expect("next request");
    assert_eq!(next.status(), 200);
    assert_eq!(next.text().await.expect("body"), "fine");
    server_spans(&capture, 2).await;
}

#[tokio::test]
async fn the_panic_response_is_configurable() {
    let _capture = capture();
    let error = ErrorResponse::new()
        .with_status(StatusCode::SERVICE_UNAVAILABLE)
        .with_message("try again later")
        .with_request_id(false);
    let address = serve(app(TracedLayer::new().panic_response(error))).await;
    let response = reqwest::get(format!("http://{address}/exception")).await.expect("request");
    assert_eq!(response.status(), 503);
    let body: serde_json::Value = response.json().await.expect("JSON body");
    assert_eq!(body, serde_json::json!({"message": "try again later"}));
}

/// A body that sends one chunk, then panics while producing the next.
async fn panicking_stream() -> axum::body::Body {
    use futures_util::StreamExt as _;
    let chunks = futures_util::stream::iter([0, 1]).map(|index| {
        if index == 1 {
            panic!("the stream broke: token=T0PSECRET");
        }
        Ok::<_, std::io::Error>("partial")
    });
    axum::body::Body::from_stream(chunks)
}

#[tokio::test]
async fn a_panic_inside_a_streaming_body_marks_the_span_failed() {
    let capture = capture();
    let address = serve(Router::new().route("/stream", get(panicking_stream)).layer(TracedLayer::new())).await;
    // The head may or may not have left before the panic: the response is cut off either way.
    let received = match reqwest::get(format!("http://{address}/stream")).await {
        Ok(response) => response.text().await,
        Err(error) => Err(error),
    };
    assert!(received.is_err(), "the response is cut off: {received:?}");

    let span = server_span(&capture).await;
    assert_eq!(span.status, Status::error("the stream broke: token=REDACTED"));
    assert_eq!(attr(&span, "error.type"), string("panic"));
    let event = span.events.iter().find(|event| event.name == "exception").expect("an exception event");
    let message =
        event.attributes.iter().find(|kv| kv.key.as_str() == "exception.message").map(|kv| kv.value.to_string());
    assert_eq!(message.as_deref(), Some("the stream broke: token=REDACTED"));
}

/// An error whose `Debug` (what `unwrap()` panics with) shows optional credentials, as `Url`'s does.
#[derive(Debug)]
#[allow(dead_code)] // read through `Debug` only
struct ConnectFailed {
    database: reqwest::Url,
    password: Option<String>,
}

// The panic under test is the one `unwrap()` makes of an `Err`: its message is the error's `Debug`.
#[allow(clippy::unwrap_used, clippy::unnecessary_literal_unwrap)]
async fn unwrapping() -> &'static str {
    let database = reqwest::Url::parse("postgres://app:URLPWSECRET@db:5432/app").expect("valid URL");
    let failed: Result<(), ConnectFailed> = Err(ConnectFailed { database, password: Some("FIELDPWSECRET".to_owned()) });
    failed.unwrap();
    "unreachable"
}

#[tokio::test]
async fn a_panic_quoting_optional_credentials_in_debug_output_records_neither() {
    let capture = capture();
    let address = serve(Router::new().route("/connect", get(unwrapping)).layer(TracedLayer::new())).await;
    let response = reqwest::get(format!("http://{address}/connect")).await.expect("request");
    assert_eq!(response.status(), 500);

    let span = server_span(&capture).await;
    let Status::Error { description } = &span.status else { panic!("status {:?}", span.status) };
    let event = span.events.iter().find(|event| event.name == "exception").expect("an exception event");
    let message =
        event.attributes.iter().find(|kv| kv.key.as_str() == "exception.message").map(|kv| kv.value.to_string());
    for recorded in [description.to_string(), message.unwrap_or_default()] {
        assert_eq!(recorded.matches("password: Some(\"REDACTED\")").count(), 2, "{recorded}");
        assert!(!recorded.contains("URLPWSECRET") && !recorded.contains("FIELDPWSECRET"), "{recorded}");
    }
}
