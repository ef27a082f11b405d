//! `OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS` replaces the list of known methods (the conventions'
//! override). Its own test binary with one test: the variable is process-wide and read once.

mod axum_support;

use axum::routing::any;
use axum::Router;
use opentelemetry::trace::SpanKind;

use axum_support::{attr, capture, serve, server_spans, string, MetricsCapture};
use traced::axum::TracedLayer;

#[tokio::test]
async fn the_known_methods_variable_is_a_full_override() {
    // The only test in this process: nothing else reads the environment meanwhile.
    std::env::set_var("OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS", "GET,PURGE");
    let spans = capture();
    let metrics = MetricsCapture::new();
    let router =
        Router::new().route("/cache", any(|| async { "ok" })).layer(TracedLayer::new().meter(&metrics.meter()));
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
