//! `OTEL_RUST_AXUM_EXCLUDED_URLS` is read by `TracedLayer::new()`. Its own test binary with one test,
//! because it sets a process-wide environment variable.

mod axum_support;

use axum::routing::get;
use axum::Router;

use axum_support::{capture, serve, server_spans};
use traced::axum::{TracedLayer, EXCLUDED_URLS_ENV, GENERIC_EXCLUDED_URLS_ENV};

#[tokio::test]
async fn the_environment_variable_excludes_urls() {
    assert_eq!(EXCLUDED_URLS_ENV, "OTEL_RUST_AXUM_EXCLUDED_URLS");
    assert_eq!(GENERIC_EXCLUDED_URLS_ENV, "OTEL_RUST_EXCLUDED_URLS");
    // The only test in this process: nothing else reads the environment meanwhile.
    std::env::set_var(EXCLUDED_URLS_ENV, "health, ping");
    std::env::set_var(GENERIC_EXCLUDED_URLS_ENV, "items");
    let spans = capture();
    let router = Router::new()
        .route("/health", get(|| async { "ok" }))
        .route("/ping", get(|| async { "pong" }))
        .route("/items/{item_id}", get(|| async { "item" }))
        .layer(TracedLayer::new());
    let address = serve(router).await;
    for path in ["/health", "/ping", "/items/1"] {
        let response = reqwest::get(format!("http://{address}{path}")).await.expect("request");
        assert_eq!(response.status(), 200);
    }
    let names: Vec<String> = server_spans(&spans, 1).await.into_iter().map(|span| span.name.into_owned()).collect();
    assert_eq!(names, vec!["GET /items/{item_id}".to_owned()], "the layer's variable wins over the generic one");
}
