//! The layer's RED metrics, read from an in-memory metric exporter: `http.server.request.duration`
//! (seconds, the conventions' buckets and attributes) and `http.server.active_requests`.

mod axum_support;

use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use opentelemetry::KeyValue;

use axum_support::{capture, serve, server_spans, MetricsCapture};
use traced::axum::TracedLayer;

const BUCKETS: [f64; 14] = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0];

fn sorted(mut attributes: Vec<KeyValue>) -> Vec<(String, String)> {
    let mut pairs: Vec<(String, String)> =
        attributes.drain(..).map(|kv| (kv.key.as_str().to_owned(), kv.value.to_string())).collect();
    pairs.sort();
    pairs
}

fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut pairs: Vec<(String, String)> = expected.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    pairs.sort();
    pairs
}

#[tokio::test]
async fn request_duration_is_a_histogram_per_route_and_status() {
    let spans = capture();
    let metrics = MetricsCapture::new();
    let router = Router::new()
        .route("/items/{item_id}", get(|| async { "item" }))
        .route("/fail", get(|| async { StatusCode::INTERNAL_SERVER_ERROR }))
        .layer(TracedLayer::new().meter(&metrics.meter()));
    let address = serve(router).await;
    let client = reqwest::Client::new();
    for path in ["/items/1", "/items/2", "/fail"] {
        client.get(format!("http://{address}{path}")).send().await.expect("request");
    }
    server_spans(&spans, 3).await;

    let mut points = metrics.histogram("http.server.request.duration");
    points.sort_by_key(|(_, count, _)| *count);
    assert_eq!(points.len(), 2, "{points:?}");
    let (failed, failed_count, bounds) = points.remove(0);
    assert_eq!(failed_count, 1);
    assert_eq!(bounds, BUCKETS.to_vec());
    assert_eq!(
        sorted(failed),
        pairs(&[
            ("http.request.method", "GET"),
            ("url.scheme", "http"),
            ("http.route", "/fail"),
            ("network.protocol.version", "1.1"),
            ("http.response.status_code", "500"),
            ("error.type", "500"),
        ])
    );
    let (ok, ok_count, _) = points.remove(0);
    assert_eq!(ok_count, 2);
    assert_eq!(
        sorted(ok),
        pairs(&[
            ("http.request.method", "GET"),
            ("url.scheme", "http"),
            ("http.route", "/items/{item_id}"),
            ("network.protocol.version", "1.1"),
            ("http.response.status_code", "200"),
        ])
    );
    let unit = metrics.with_metric("http.server.request.duration", |metric| metric.map(|m| m.unit().to_owned()));
    assert_eq!(unit.as_deref(), Some("s"));
}

#[tokio::test]
async fn the_duration_recorded_is_the_server_span_length() {
    let spans = capture();
    let metrics = MetricsCapture::new();
    let slow = || async {
        tokio::time::sleep(std::time::Duration::from_millis(30)).await;
        "slow"
    };
    let router = Router::new().route("/slow", get(slow)).layer(TracedLayer::new().meter(&metrics.meter()));
    let address = serve(router).await;
    reqwest::get(format!("http://{address}/slow")).await.expect("request");
    let span = server_spans(&spans, 1).await.remove(0);

    let length = span.end_time.duration_since(span.start_time).expect("the span ends after it starts");
    let recorded = metrics.histogram_sum("http.server.request.duration");
    assert!(length.as_secs_f64() >= 0.03, "{length:?}");
    // One monotonic reading gives both (the span's end is its start plus the duration).
    assert!((recorded - length.as_secs_f64()).abs() < 1e-6, "metric {recorded} s, span {length:?}");
}

/// A `/slow` route whose first request waits in its handler: the receiver hears when it got there,
/// the sender lets it answer.
fn slow_route() -> (Router, tokio::sync::oneshot::Receiver<()>, tokio::sync::oneshot::Sender<()>) {
    let (entered_tx, entered_rx) = tokio::sync::oneshot::channel::<()>();
    let (release_tx, release_rx) = tokio::sync::oneshot::channel::<()>();
    let gate = std::sync::Arc::new(std::sync::Mutex::new(Some((entered_tx, release_rx))));
    let router = Router::new().route(
        "/slow",
        get(move || {
            let gate = gate.lock().expect("gate").take();
            async move {
                if let Some((entered, release)) = gate {
                    let _ = entered.send(());
                    let _ = release.await;
                }
                "done"
            }
        }),
    );
    (router, entered_rx, release_tx)
}

#[tokio::test]
async fn active_requests_count_requests_in_flight() {
    let spans = capture();
    let metrics = MetricsCapture::new();
    let (router, entered_rx, release_tx) = slow_route();
    let router = router.layer(TracedLayer::new().meter(&metrics.meter()));
    let address = serve(router).await;
    let request = tokio::spawn(reqwest::get(format!("http://{address}/slow")));
    entered_rx.await.expect("the handler started");

    let active = metrics.sum("http.server.active_requests");
    assert_eq!(active.len(), 1);
    assert_eq!(active[0].1, 1, "one request in flight");
    assert_eq!(sorted(active[0].0.clone()), pairs(&[("http.request.method", "GET"), ("url.scheme", "http")]));

    release_tx.send(()).expect("release the handler");
    request.await.expect("task").expect("request");
    server_spans(&spans, 1).await;
    assert_eq!(metrics.sum("http.server.active_requests")[0].1, 0, "back to zero once the response was sent");
}

#[tokio::test]
async fn active_requests_add_up_over_every_layer_of_the_process() {
    // An app and its admin server, each with its own layer: the series they share (GET, http) counts both.
    let spans = capture();
    let metrics = MetricsCapture::new();
    let (app, entered_rx, release_tx) = slow_route();
    let app = app.layer(TracedLayer::new().meter(&metrics.meter()));
    let admin =
        Router::new().route("/health", get(|| async { "ok" })).layer(TracedLayer::new().meter(&metrics.meter()));
    let app_address = serve(app).await;
    let admin_address = serve(admin).await;
    reqwest::get(format!("http://{admin_address}/health")).await.expect("admin request");
    server_spans(&spans, 1).await;
    let request = tokio::spawn(reqwest::get(format!("http://{app_address}/slow")));
    entered_rx.await.expect("the handler started");

    let active = metrics.sum("http.server.active_requests");
    assert_eq!(active.len(), 1, "{active:?}");
    assert_eq!(active[0].1, 1, "the app's request in flight, the admin server's done");

    release_tx.send(()).expect("release the handler");
    request.await.expect("task").expect("request");
    server_spans(&spans, 2).await;
    assert_eq!(metrics.sum("http.server.active_requests")[0].1, 0, "back to zero once the response was sent");
}
