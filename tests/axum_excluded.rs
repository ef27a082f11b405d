//! Excluded URLs set on the layer: no span and no metric for them, everything else traced.

mod axum_support;

use axum::routing::get;
use axum::Router;

use axum_support::{capture, serve, server_spans, MetricsCapture};
use traced::axum::{ExcludedUrls, TracedLayer};

#[tokio::test]
async fn excluded_urls_get_no_span_and_no_metric() {
    let spans = capture();
    let metrics = MetricsCapture::new();
    let excluded = ExcludedUrls::parse("health,ping").expect("valid patterns");
    let router = Router::new()
        .route("/health", get(|| async { "ok" }))
        .route("/api/ping", get(|| async { "pong" }))
        .route("/items/{item_id}", get(|| async { "item" }))
        .layer(TracedLayer::new().excluded_urls(excluded).meter(&metrics.meter()));
    let address = serve(router).await;
    let client = reqwest::Client::new();
    for path in ["/health", "/api/ping", "/items/1"] {
        let response = client.get(format!("http://{address}{path}")).send().await.expect("request");
        assert_eq!(response.status(), 200, "{path} is still served");
        response.text().await.expect("body");
    }

    let names: Vec<String> = server_spans(&spans, 1).await.into_iter().map(|span| span.name.into_owned()).collect();
    assert_eq!(names, vec!["GET /items/{item_id}".to_owned()]);
    let points = metrics.histogram("http.server.request.duration");
    assert_eq!(points.len(), 1);
    assert_eq!(points[0].1, 1, "only /items/1 was measured");
}

#[test]
fn an_invalid_pattern_is_an_error() {
    let error = ExcludedUrls::parse("ok,(").expect_err("unclosed group");
    assert!(error.to_string().contains("`(` is not a valid regular expression"), "{error}");
}
