//! The load generator in-process against the sample app: its summary must agree with what the
//! server saw, route by route.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{MatchedPath, Request};
use axum::middleware::{from_fn, Next};
use tokio::net::TcpListener;
use traced_examples::app::{AppConfig, SampleApp};
use traced_examples::loadgen::{self, LoadConfig, WaitTime, SAMPLE_APP};

/// Requests the server answered, by `{METHOD} {route}` (the names the load generator uses).
type ServerCounts = Arc<Mutex<BTreeMap<String, (u64, u64)>>>;

// TODO(issue 4): read these from `http.server.request.duration` once the layer and the test metric
// reader land; this middleware stands where the layer will be.
fn count_requests(counts: ServerCounts) -> impl Fn(Request, Next) -> futures_util::future::BoxFuture<'static, axum::response::Response> + Clone {
    move |request: Request, next: Next| {
        let counts = counts.clone();
        Box::pin(async move {
            let route = request.extensions().get::<MatchedPath>().map_or("unmatched", |p| p.as_str()).to_owned();
            let name = format!("{} {route}", request.method());
            let response = next.run(request).await;
            let failed = u64::from(response.status().as_u16() >= 400);
            let mut counts = counts.lock().expect("no test thread panicked holding the lock");
            let entry = counts.entry(name).or_default();
            *entry = (entry.0 + 1, entry.1 + failed);
            response
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn summary_counts_match_what_the_server_answered() {
    let counts = ServerCounts::default();
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind an ephemeral port");
    let app = SampleApp::start(AppConfig { io_delay: Duration::from_millis(2), ..AppConfig::default() })
        .await
        .expect("start the app")
        .spawn_with(listener, |router| router.route_layer(from_fn(count_requests(counts.clone()))))
        .expect("serve");

    // The budget ends the run, not the clock: no request is cut off, so both sides count the same.
    let config = LoadConfig {
        users: 4,
        spawn_rate: 100.0,
        duration: Duration::from_secs(120),
        max_requests: 400,
        wait: WaitTime { min: Duration::ZERO, max: Duration::from_millis(5) },
        seed: Some(42),
        ..LoadConfig::new(&app.url(""), false).expect("loopback host")
    };
    let summary = loadgen::run(config).await.expect("the run completes");
    app.stop().await.expect("graceful stop");
    println!("{summary}");

    assert_eq!(summary.total.requests, 400);
    let server = counts.lock().expect("lock").clone();
    for endpoint in SAMPLE_APP {
        let row = summary.endpoint(endpoint.name).unwrap_or_else(|| panic!("no row for {}", endpoint.name));
        assert!(row.requests > 0, "{} was never called", endpoint.name);
        assert_eq!(server.get(endpoint.name), Some(&(row.requests, row.failures)), "{}", endpoint.name);
        let expected_failures = if endpoint.name == "GET /exception" { row.requests } else { 0 };
        assert_eq!(row.failures, expected_failures, "{}", endpoint.name);
        assert!(row.p50 <= row.p95 && row.p95 <= row.p99 && row.p99 <= row.max, "{row:?}");
    }
    assert_eq!(server.values().map(|(requests, _)| requests).sum::<u64>(), 400);
    assert_eq!(summary.failures.len(), 1, "only /exception fails: {:?}", summary.failures);
    assert_eq!(summary.failures[0].reason, "HTTP 500");
}
