//! The server layer over real TCP: span names, the stable HTTP attributes, status rules, parents,
//! captured headers and the `traceresponse` header.

mod axum_support;

use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::Router;
use opentelemetry::trace::{SpanId, SpanKind, Status, TraceId};
use opentelemetry::{Array, Value};

use axum_support::{attr, capture, int, serve, server_span, string};
use traced::axum::TracedLayer;

#[traced::traced(name = "load-item")]
async fn load_item(item_id: u64) -> String {
    format!("item {item_id}")
}

fn app(layer: TracedLayer) -> Router {
    Router::new()
        .route("/items/{item_id}", get(|axum::extract::Path(id): axum::extract::Path<u64>| load_item(id)))
        .route("/fail", get(|| async { (StatusCode::INTERNAL_SERVER_ERROR, "down") }))
        .route("/bad", post(|| async { (StatusCode::BAD_REQUEST, "no") }))
        .layer(layer)
}

#[tokio::test]
async fn a_matched_request_is_named_after_its_route_with_the_stable_attributes() {
    let capture = capture();
    let layer = TracedLayer::new().capture_request_headers(["X-Request-Id", "authorization"]);
    let address = serve(app(layer)).await;
    let response = reqwest::Client::new()
        .get(format!("http://{address}/items/42?q=shoes&sig=secret"))
        .header("user-agent", "traced-tests/1")
        .header("x-request-id", "req-7")
        .header("authorization", "Bearer secret")
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.expect("body"), "item 42");

    let span = server_span(&capture).await;
    assert_eq!(span.name, "GET /items/{item_id}");
    assert_eq!(span.span_kind, SpanKind::Server);
    assert_eq!(span.status, Status::Unset);
    assert_eq!(span.parent_span_id, SpanId::INVALID, "no traceparent: a root span");
    assert_eq!(attr(&span, "http.request.method"), string("GET"));
    assert_eq!(attr(&span, "http.route"), string("/items/{item_id}"));
    assert_eq!(attr(&span, "url.path"), string("/items/42"));
    assert_eq!(attr(&span, "url.query"), string("q=shoes&sig=REDACTED"));
    assert_eq!(attr(&span, "url.scheme"), string("http"));
    assert_eq!(attr(&span, "http.response.status_code"), int(200));
    assert_eq!(attr(&span, "network.protocol.version"), string("1.1"));
    assert_eq!(attr(&span, "server.address"), string("127.0.0.1"));
    assert_eq!(attr(&span, "server.port"), int(i64::from(address.port())));
    assert_eq!(attr(&span, "client.address"), string("127.0.0.1"));
    assert_eq!(attr(&span, "network.peer.address"), string("127.0.0.1"));
    assert_eq!(attr(&span, "user_agent.original"), string("traced-tests/1"));
    assert_eq!(
        attr(&span, "http.request.header.x-request-id"),
        Some(Value::Array(Array::String(vec!["req-7".into()])))
    );
    assert_eq!(attr(&span, "http.request.header.authorization"), None, "credentials are never captured");
    assert_eq!(attr(&span, "error.type"), None);

    let child = capture.span("load-item");
    assert_eq!(child.parent_span_id, span.span_context.span_id(), "handler spans are children of the server span");
    assert_eq!(child.span_context.trace_id(), span.span_context.trace_id());
}

#[tokio::test]
async fn an_unmatched_request_is_named_by_its_method_and_a_404_is_no_error() {
    let capture = capture();
    let address = serve(app(TracedLayer::new())).await;
    let response = reqwest::get(format!("http://{address}/nowhere")).await.expect("request");
    assert_eq!(response.status(), 404);

    let span = server_span(&capture).await;
    assert_eq!(span.name, "GET");
    assert_eq!(attr(&span, "http.route"), None);
    assert_eq!(attr(&span, "http.response.status_code"), int(404));
    assert_eq!(span.status, Status::Unset, "4xx is the client's error");
    assert_eq!(attr(&span, "error.type"), None);
}

#[tokio::test]
async fn a_client_error_leaves_the_status_unset() {
    let capture = capture();
    let address = serve(app(TracedLayer::new())).await;
    let response = reqwest::Client::new().post(format!("http://{address}/bad")).send().await.expect("request");
    assert_eq!(response.status(), 400);

    let span = server_span(&capture).await;
    assert_eq!(span.name, "POST /bad");
    assert_eq!(span.status, Status::Unset);
    assert_eq!(attr(&span, "error.type"), None);
}

#[tokio::test]
async fn a_server_error_sets_error_status_and_type() {
    let capture = capture();
    let address = serve(app(TracedLayer::new())).await;
    let response = reqwest::get(format!("http://{address}/fail")).await.expect("request");
    assert_eq!(response.status(), 500);

    let span = server_span(&capture).await;
    assert_eq!(span.name, "GET /fail");
    assert!(matches!(span.status, Status::Error { .. }), "{:?}", span.status);
    assert_eq!(attr(&span, "error.type"), string("500"));
    assert_eq!(attr(&span, "http.response.status_code"), int(500));
}

#[tokio::test]
async fn an_unknown_method_is_recorded_as_other() {
    let capture = capture();
    let router = Router::new().fallback(|| async { "any" }).layer(TracedLayer::new());
    let address = serve(router).await;
    let method = reqwest::Method::from_bytes(b"PURGE").expect("valid method");
    let response =
        reqwest::Client::new().request(method, format!("http://{address}/cache")).send().await.expect("request");
    assert_eq!(response.status(), 200);

    let span = server_span(&capture).await;
    assert_eq!(span.name, "HTTP");
    assert_eq!(attr(&span, "http.request.method"), string("_OTHER"));
    assert_eq!(attr(&span, "http.request.method_original"), string("PURGE"));
}

#[tokio::test]
async fn an_incoming_traceparent_becomes_the_parent() {
    let capture = capture();
    let address = serve(app(TracedLayer::new())).await;
    let response = reqwest::Client::new()
        .get(format!("http://{address}/items/1"))
        .header("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 200);

    let span = server_span(&capture).await;
    assert_eq!(span.span_context.trace_id(), TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").expect("hex"));
    assert_eq!(span.parent_span_id, SpanId::from_hex("00f067aa0ba902b7").expect("hex"));
    assert!(span.parent_span_is_remote);
}

#[tokio::test]
async fn the_traceresponse_header_names_the_trace_when_enabled() {
    let capture = capture();
    let address = serve(app(TracedLayer::new().trace_response_header(true))).await;
    let response = reqwest::get(format!("http://{address}/items/3")).await.expect("request");
    let header = response.headers()["traceresponse"].to_str().expect("ascii").to_owned();

    let span = server_span(&capture).await;
    let context = &span.span_context;
    assert_eq!(header, format!("00-{}-{}-01", context.trace_id(), context.span_id()));
}

#[tokio::test]
async fn no_traceresponse_header_by_default() {
    let _capture = capture();
    let address = serve(app(TracedLayer::new())).await;
    let response = reqwest::get(format!("http://{address}/items/3")).await.expect("request");
    assert!(response.headers().get("traceresponse").is_none());
}

#[tokio::test]
async fn response_headers_are_captured_when_asked() {
    let capture = capture();
    let router = Router::new()
        .route("/", get(|| async { ([("x-cache", "hit"), ("set-cookie", "session=1")], "ok") }))
        .layer(TracedLayer::new().capture_response_headers(["x-cache", "set-cookie"]));
    let address = serve(router).await;
    reqwest::get(format!("http://{address}/")).await.expect("request");

    let span = server_span(&capture).await;
    assert_eq!(attr(&span, "http.response.header.x-cache"), Some(Value::Array(Array::String(vec!["hit".into()]))));
    assert_eq!(attr(&span, "http.response.header.set-cookie"), None);
}

async fn failing_stream() -> axum::body::Body {
    let chunks: Vec<Result<&'static str, std::io::Error>> =
        vec![Ok("partial"), Err(std::io::Error::other("disk gone"))];
    axum::body::Body::from_stream(futures_util::stream::iter(chunks))
}

#[tokio::test]
async fn a_body_that_fails_midway_marks_the_span_failed() {
    let capture = capture();
    let router = Router::new().route("/stream", get(failing_stream)).layer(TracedLayer::new());
    let address = serve(router).await;
    // hyper may wait for the first chunks before sending the head: the failure shows on either side.
    let received = match reqwest::get(format!("http://{address}/stream")).await {
        Ok(response) => response.text().await,
        Err(error) => Err(error),
    };
    assert!(received.is_err(), "the response is cut off: {received:?}");

    let span = server_span(&capture).await;
    assert!(matches!(span.status, Status::Error { .. }), "{:?}", span.status);
    assert_eq!(attr(&span, "error.type"), string("axum_core::error::Error"));
}
