//! The layer's configuration comes from `Settings` (the variables parsed as a pure function) or from
//! what `traced::init()` installed, so no test needs a process of its own to set a variable.

mod axum_support;

use std::collections::HashMap;

use axum::routing::{any, get};
use axum::Router;
use opentelemetry::trace::SpanKind;

use axum_support::{attr, capture, serve, server_spans, string, MetricsCapture};
use traced::axum::TracedLayer;
use traced::http_settings::{ExcludedUrls, HttpSettings};
use traced::telemetry::Settings;

fn settings(vars: &[(&str, &str)]) -> Settings {
    let vars: HashMap<String, String> = vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    Settings::from_vars(&vars).expect("valid settings")
}

#[tokio::test]
async fn the_known_methods_variable_is_a_full_override() {
    let spans = capture();
    let metrics = MetricsCapture::new();
    let settings = settings(&[("OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS", "GET,PURGE")]);
    let router = Router::new()
        .route("/cache", any(|| async { "ok" }))
        .layer(TracedLayer::from_settings(&settings).meter(&metrics.meter()));
    let address = serve(router).await;
    let client = reqwest::Client::new();
    for method in ["PURGE", "POST"] {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("valid method");
        let response = client.request(method, format!("http://{address}/cache")).send().await.expect("request");
        assert_eq!(response.status(), 200);
    }

    let servers: Vec<_> =
        server_spans(&spans, 2).await.into_iter().filter(|s| s.span_kind == SpanKind::Server).collect();
    let purge = servers.iter().find(|span| span.name == "PURGE /cache").expect("PURGE is known now");
    assert_eq!(attr(purge, "http.request.method"), string("PURGE"));
    assert_eq!(attr(purge, "http.request.method_original"), None);
    let post = servers.iter().find(|span| span.name == "HTTP /cache").expect("POST is not known any more");
    assert_eq!(attr(post, "http.request.method"), string("_OTHER"));
    assert_eq!(attr(post, "http.request.method_original"), string("POST"));

    let mut methods: Vec<String> = metrics
        .sum("http.server.active_requests")
        .into_iter()
        .flat_map(|(attributes, _)| attributes)
        .filter(|kv| kv.key.as_str() == "http.request.method")
        .map(|kv| kv.value.to_string())
        .collect();
    methods.sort();
    assert_eq!(methods, ["PURGE", "_OTHER"]);
}

#[tokio::test]
async fn known_methods_in_code_win_over_the_settings() {
    let spans = capture();
    let settings = settings(&[("OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS", "GET")]);
    let layer = TracedLayer::from_settings(&settings).known_methods(["GET", "PURGE"]);
    let address = serve(Router::new().route("/cache", any(|| async { "ok" })).layer(layer)).await;
    let method = reqwest::Method::from_bytes(b"PURGE").expect("valid method");
    reqwest::Client::new().request(method, format!("http://{address}/cache")).send().await.expect("request");
    let spans = server_spans(&spans, 1).await;
    assert_eq!(spans[0].name, "PURGE /cache");
}

#[tokio::test]
async fn the_layers_excluded_urls_win_over_the_generic_variable() {
    let spans = capture();
    let settings = settings(&[("OTEL_RUST_AXUM_EXCLUDED_URLS", "health, ping"), ("OTEL_RUST_EXCLUDED_URLS", "items")]);
    let router = Router::new()
        .route("/health", get(|| async { "ok" }))
        .route("/ping", get(|| async { "pong" }))
        .route("/items/{item_id}", get(|| async { "item" }))
        .layer(TracedLayer::from_settings(&settings));
    let address = serve(router).await;
    for path in ["/health", "/ping", "/items/1"] {
        let response = reqwest::get(format!("http://{address}{path}")).await.expect("request");
        assert_eq!(response.status(), 200);
    }
    let names: Vec<String> = server_spans(&spans, 1).await.into_iter().map(|span| span.name.into_owned()).collect();
    assert_eq!(names, vec!["GET /items/{item_id}".to_owned()], "the layer's variable wins over the generic one");
}

#[tokio::test]
async fn a_layer_built_after_init_uses_the_installed_settings() {
    let http = HttpSettings {
        excluded_urls: ExcludedUrls::parse("^/health$").expect("valid pattern"),
        known_methods: Some(vec!["GET".to_owned()]),
        ..HttpSettings::default()
    };
    {
        // With the capture lock held, so no other test of this binary loses its spans meanwhile.
        let _no_provider = traced::testing::without_provider();
        let telemetry = traced::Telemetry::builder()
            .ignore_environment()
            .traces_exporters([])
            .metrics_exporters([])
            .logs_exporters([])
            .tracing_subscriber(false)
            .http_settings(http)
            .init()
            .expect("init");
        telemetry.shutdown().expect("shutdown");
    }
    let spans = capture();
    let router = Router::new()
        .route("/health", get(|| async { "ok" }))
        .route("/items", any(|| async { "items" }))
        .layer(TracedLayer::new());
    let address = serve(router).await;
    reqwest::get(format!("http://{address}/health")).await.expect("request");
    reqwest::Client::new().post(format!("http://{address}/items")).send().await.expect("request");
    let names: Vec<String> = server_spans(&spans, 1).await.into_iter().map(|span| span.name.into_owned()).collect();
    assert_eq!(names, vec!["HTTP /items".to_owned()], "/health is excluded and POST is not a known method");
}
