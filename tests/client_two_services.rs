//! One trace across two services: A's handler calls B through the instrumented client; B's server
//! span is the child of A's CLIENT span. Plus the client span's attributes and failures.

mod axum_support;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use opentelemetry::trace::{SpanKind, Status};

use axum_support::{attr, capture, int, serve, server_spans, string};
use traced::axum::TracedLayer;
use traced::client::{Client, RequestBuilderExt as _};

async fn service_b() -> std::net::SocketAddr {
    let router = Router::new()
        .route("/items/{item_id}", get(|| async { "from b" }))
        .route("/broken", get(|| async { StatusCode::BAD_GATEWAY }))
        .layer(TracedLayer::new());
    serve(router).await
}

async fn call_b(State((client, b)): State<(Client, std::net::SocketAddr)>) -> String {
    let response = client.get(format!("http://{b}/items/7?sig=secret")).send().await.expect("call B");
    response.text().await.expect("B's body")
}

#[tokio::test]
async fn a_call_from_a_to_b_is_one_trace_with_b_under_the_client_span() {
    let capture = capture();
    let b = service_b().await;
    let a_router =
        Router::new().route("/external-api", get(call_b)).layer(TracedLayer::new()).with_state((Client::new(), b));
    let a = serve(a_router).await;

    let response = reqwest::get(format!("http://{a}/external-api")).await.expect("request A");
    assert_eq!(response.text().await.expect("body"), "from b");

    let spans = server_spans(&capture, 2).await;
    let find = |name: &str, kind: SpanKind| {
        spans.iter().find(|span| span.name == name && span.span_kind == kind).cloned().unwrap_or_else(|| {
            panic!(
                "no {kind:?} span {name:?} in {:?}",
                spans.iter().map(|s| (&s.name, &s.span_kind)).collect::<Vec<_>>()
            )
        })
    };
    let a_server = find("GET /external-api", SpanKind::Server);
    let a_client = find("GET", SpanKind::Client);
    let b_server = find("GET /items/{item_id}", SpanKind::Server);

    let trace_id = a_server.span_context.trace_id();
    assert_eq!(a_client.span_context.trace_id(), trace_id);
    assert_eq!(b_server.span_context.trace_id(), trace_id);
    assert_eq!(a_client.parent_span_id, a_server.span_context.span_id());
    assert_eq!(b_server.parent_span_id, a_client.span_context.span_id(), "B's parent is A's client span");
    assert!(b_server.parent_span_is_remote);

    assert_eq!(attr(&a_client, "http.request.method"), string("GET"));
    assert_eq!(attr(&a_client, "server.address"), string("127.0.0.1"));
    assert_eq!(attr(&a_client, "server.port"), int(i64::from(b.port())));
    assert_eq!(attr(&a_client, "url.full"), string(&format!("http://{b}/items/7?sig=REDACTED")));
    assert_eq!(attr(&a_client, "http.response.status_code"), int(200));
    assert_eq!(attr(&a_client, "network.protocol.version"), string("1.1"));
    assert_eq!(a_client.status, Status::Unset);
}

#[tokio::test]
async fn a_failed_status_marks_the_client_span_as_error() {
    let capture = capture();
    let b = service_b().await;
    let response = reqwest::Client::new().get(format!("http://{b}/broken")).send_traced().await.expect("request");
    assert_eq!(response.status(), 502);

    let spans = server_spans(&capture, 1).await;
    let client = spans.iter().find(|span| span.span_kind == SpanKind::Client).expect("a client span");
    assert!(matches!(client.status, Status::Error { .. }), "{:?}", client.status);
    assert_eq!(attr(client, "error.type"), string("502"));
    let server = spans.iter().find(|span| span.span_kind == SpanKind::Server).expect("B's span");
    assert_eq!(server.parent_span_id, client.span_context.span_id(), "send_traced injects traceparent too");
}

#[tokio::test]
async fn a_connection_error_is_recorded_with_its_type() {
    let capture = capture();
    // Bind and drop: nothing listens on this port any more.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("address");
    let error = Client::new().get(format!("http://{closed}/")).send().await.expect_err("nothing listens");
    assert!(error.is_connect(), "{error}");

    let span = capture.spans().into_iter().find(|span| span.span_kind == SpanKind::Client).expect("a client span");
    assert_eq!(attr(&span, "error.type"), string("connect"));
    assert!(matches!(span.status, Status::Error { .. }));
    assert_eq!(attr(&span, "http.response.status_code"), None);
}
