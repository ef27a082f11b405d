//! Excluded URLs: no span and no metric for them, everything else traced and counted, whatever a
//! client puts in the `Host` header, the query, the request target's authority or an encoded path.

mod axum_support;

use std::collections::HashMap;
use std::net::SocketAddr;

use axum::extract::Path;
use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use axum_support::{attr, capture, serve, server_spans, string, MetricsCapture};
use traced::axum::{ExcludedUrls, TracedLayer};
use traced::telemetry::Settings;

fn app(layer: TracedLayer) -> Router {
    Router::new()
        .route("/health", get(|| async { "ok" }))
        .route("/ping", get(|| async { "pong" }))
        .route("/api/ping", get(|| async { "pong" }))
        .route("/users/{id}", get(|Path(id): Path<String>| async move { id }))
        .route("/exception", get(|| async { (StatusCode::INTERNAL_SERVER_ERROR, "boom") }))
        .layer(layer)
}

/// Sends `head` (a request line and headers, without the final empty line) as written and returns
/// the response's status code.
async fn raw(address: SocketAddr, head: &str) -> u16 {
    let mut stream = tokio::net::TcpStream::connect(address).await.expect("connect");
    stream.write_all(format!("{head}\r\nConnection: close\r\n\r\n").as_bytes()).await.expect("send");
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.expect("read");
    let response = String::from_utf8_lossy(&response);
    let status = response.split(' ').nth(1).unwrap_or_default();
    status.parse().unwrap_or_else(|_| panic!("no status in {response:?}"))
}

fn measured(metrics: &MetricsCapture) -> u64 {
    metrics.histogram("http.server.request.duration").iter().map(|(_, count, _)| count).sum()
}

#[tokio::test]
async fn excluded_urls_get_no_span_and_no_metric() {
    let spans = capture();
    let metrics = MetricsCapture::new();
    let excluded = ExcludedUrls::parse("health,ping").expect("valid patterns");
    let address = serve(app(TracedLayer::new().excluded_urls(excluded).meter(&metrics.meter()))).await;
    let client = reqwest::Client::new();
    for path in ["/health", "/api/ping", "/users/1"] {
        let response = client.get(format!("http://{address}{path}")).send().await.expect("request");
        assert_eq!(response.status(), 200, "{path} is still served");
        response.text().await.expect("body");
    }

    let names: Vec<String> = server_spans(&spans, 1).await.into_iter().map(|span| span.name.into_owned()).collect();
    assert_eq!(names, vec!["GET /users/{id}".to_owned()]);
    assert_eq!(measured(&metrics), 1, "only /users/1 was measured");
}

#[tokio::test]
async fn a_client_cannot_hide_a_request_from_spans_or_the_duration_metric() {
    let spans = capture();
    let metrics = MetricsCapture::new();
    let vars = HashMap::from([("OTEL_RUST_AXUM_EXCLUDED_URLS".to_owned(), "ping".to_owned())]);
    let settings = Settings::from_vars(&vars).expect("valid settings");
    let address = serve(app(TracedLayer::from_settings(&settings).meter(&metrics.meter()))).await;

    // Each attempt reaches a handler that is not excluded; the last request is the one that is.
    let attempts = [
        ("GET /users/2 HTTP/1.1\r\nHost: ping", 200, "/users/{id}"),
        ("GET /users/2 HTTP/1.1\r\nHost: ping:80\r\nX-Forwarded-Host: ping", 200, "/users/{id}"),
        ("GET /exception?x=ping HTTP/1.1\r\nHost: localhost", 500, "/exception"),
        ("GET /exception?ping HTTP/1.1\r\nHost: localhost", 500, "/exception"),
        ("GET http://ping/users/2 HTTP/1.1\r\nHost: ping", 200, "/users/{id}"),
        ("GET /users/ping HTTP/1.1\r\nHost: localhost", 200, "/users/{id}"),
        ("GET /users/p%69ng HTTP/1.1\r\nHost: localhost", 200, "/users/{id}"),
        ("GET /users/2%3Fx=ping HTTP/1.1\r\nHost: localhost", 200, "/users/{id}"),
        ("GET /users/2%23ping HTTP/1.1\r\nHost: localhost", 200, "/users/{id}"),
        ("GET /users/2;ping HTTP/1.1\r\nHost: localhost", 200, "/users/{id}"),
        ("GET /users/2#ping HTTP/1.1\r\nHost: localhost", 200, "/users/{id}"),
    ];
    for (head, status, _) in attempts {
        assert_eq!(raw(address, head).await, status, "{head}");
    }
    assert_eq!(raw(address, "GET /ping HTTP/1.1\r\nHost: localhost").await, 200);

    let spans = server_spans(&spans, attempts.len()).await;
    assert_eq!(spans.len(), attempts.len(), "every attempt has a span, /ping has none");
    let mut routes: Vec<_> = spans.iter().map(|span| attr(span, "http.route")).collect();
    let mut expected: Vec<_> = attempts.iter().map(|(_, _, route)| string(route)).collect();
    routes.sort_by_key(|route| format!("{route:?}"));
    expected.sort_by_key(|route| format!("{route:?}"));
    assert_eq!(routes, expected);
    assert_eq!(measured(&metrics), attempts.len() as u64, "every attempt is measured, /ping is not");
}

#[tokio::test]
async fn an_unmatched_request_is_judged_by_its_path_alone() {
    let spans = capture();
    let metrics = MetricsCapture::new();
    let excluded = ExcludedUrls::parse("^/static/").expect("valid pattern");
    let router = Router::new()
        .route("/users/{id}", get(|| async { "user" }))
        .fallback(|| async { (StatusCode::NOT_FOUND, "nothing here") })
        .layer(TracedLayer::new().excluded_urls(excluded).meter(&metrics.meter()));
    let address = serve(router).await;
    assert_eq!(raw(address, "GET /static/app.js HTTP/1.1\r\nHost: localhost").await, 404);
    assert_eq!(raw(address, "GET /other?/static/ HTTP/1.1\r\nHost: localhost").await, 404);
    assert_eq!(raw(address, "GET http://static/ HTTP/1.1\r\nHost: static").await, 404);
    let spans = server_spans(&spans, 2).await;
    let mut paths: Vec<_> = spans.iter().map(|span| attr(span, "url.path")).collect();
    paths.sort_by_key(|path| format!("{path:?}"));
    assert_eq!(paths, vec![string("/"), string("/other")], "/static/app.js is excluded, the others are not");
    assert_eq!(measured(&metrics), 2);
}

#[tokio::test]
async fn nested_routes_are_judged_by_their_full_template() {
    let spans = capture();
    let excluded = ExcludedUrls::parse("^/api/ping$").expect("valid pattern");
    let api = Router::new()
        .route("/ping", get(|| async { "pong" }))
        .route("/users/{id}", get(|Path(id): Path<String>| async move { id }));
    let router = Router::new().nest("/api", api).layer(TracedLayer::new().excluded_urls(excluded));
    let address = serve(router).await;
    assert_eq!(raw(address, "GET /api/ping HTTP/1.1\r\nHost: localhost").await, 200);
    assert_eq!(raw(address, "GET /api/users/ping HTTP/1.1\r\nHost: localhost").await, 200);
    let spans = server_spans(&spans, 1).await;
    assert_eq!(spans.len(), 1);
    assert_eq!(attr(&spans[0], "http.route"), string("/api/users/{id}"));
}

#[test]
fn an_invalid_pattern_is_an_error() {
    let error = ExcludedUrls::parse("ok,(").expect_err("unclosed group");
    assert!(error.to_string().contains("`(` is not a valid regular expression"), "{error}");
}
