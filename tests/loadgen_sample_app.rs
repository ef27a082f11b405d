//! The load generator in-process against the sample app: its summary must agree, route by route,
//! with the server's own metrics (`http.server.request.duration` and `inter_service_requests`).
//!
//! One test in this binary: it installs the global meter provider.

use std::collections::BTreeMap;
use std::time::Duration;

use opentelemetry::{KeyValue, Value};
use opentelemetry_sdk::metrics::data::{AggregatedMetrics, Metric, MetricData, ResourceMetrics};
use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader, SdkMeterProvider};
use tokio::net::TcpListener;
use traced_examples::app::{AppConfig, SampleApp};
use traced_examples::loadgen::{self, LoadConfig, WaitTime, SAMPLE_APP};

/// Requests and failures (status >= 400) per `{METHOD} {route}`, the names the load generator uses.
fn server_counts(metric: &Metric) -> BTreeMap<String, (u64, u64)> {
    let AggregatedMetrics::F64(MetricData::Histogram(histogram)) = metric.data() else {
        panic!("http.server.request.duration is not an f64 histogram: {metric:?}");
    };
    let mut counts = BTreeMap::new();
    for point in histogram.data_points() {
        let attributes: Vec<&KeyValue> = point.attributes().collect();
        let get = |key: &str| attributes.iter().find(|kv| kv.key.as_str() == key).map(|kv| kv.value.clone());
        let name = format!("{} {}", get("http.request.method").expect("method"), get("http.route").expect("route"));
        let failed = matches!(get("http.response.status_code"), Some(Value::I64(status)) if status >= 400);
        let entry: &mut (u64, u64) = counts.entry(name).or_default();
        entry.0 += point.count();
        entry.1 += if failed { point.count() } else { 0 };
    }
    counts
}

/// `inter_service_requests` per `target_service`.
fn inter_service_requests(metric: &Metric) -> Vec<(String, u64)> {
    let AggregatedMetrics::U64(MetricData::Sum(sum)) = metric.data() else {
        panic!("inter_service_requests is not a u64 sum: {metric:?}");
    };
    sum.data_points()
        .map(|point| {
            let target = point.attributes().find(|kv| kv.key.as_str() == "target_service").expect("target_service");
            (target.value.to_string(), point.value())
        })
        .collect()
}

fn find<'a>(exported: &'a [ResourceMetrics], name: &str) -> &'a Metric {
    exported
        .iter()
        .rev()
        .find_map(|resource| resource.scope_metrics().flat_map(|scope| scope.metrics()).find(|m| m.name() == name))
        .unwrap_or_else(|| panic!("no metric {name} was exported"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn summary_counts_match_the_servers_metrics() {
    let exporter = InMemoryMetricExporter::default();
    let meters = SdkMeterProvider::builder().with_reader(PeriodicReader::builder(exporter.clone()).build()).build();
    // Before the app is built: the layer and the app's counter take their instruments from it.
    opentelemetry::global::set_meter_provider(meters.clone());

    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind an ephemeral port");
    let app = SampleApp::start(AppConfig { io_delay: Duration::from_millis(2), ..AppConfig::default() })
        .await
        .expect("start the app")
        .spawn(listener)
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
    // Stopping waits for every response to finish, so every request has been measured.
    app.stop().await.expect("graceful stop");
    meters.force_flush().expect("flush metrics");
    let exported = exporter.get_finished_metrics().expect("exported metrics");
    println!("{summary}");

    assert_eq!(summary.total.requests, 400);
    let server = server_counts(find(&exported, "http.server.request.duration"));
    for endpoint in SAMPLE_APP {
        let row = summary.endpoint(endpoint.name).unwrap_or_else(|| panic!("no row for {}", endpoint.name));
        assert!(row.requests > 0, "{} was never called", endpoint.name);
        assert_eq!(server.get(endpoint.name), Some(&(row.requests, row.failures)), "{}", endpoint.name);
        let expected_failures = if endpoint.name == "GET /exception" { row.requests } else { 0 };
        assert_eq!(row.failures, expected_failures, "{}", endpoint.name);
        assert!(row.p50 <= row.p95 && row.p95 <= row.p99 && row.p99 <= row.max, "{row:?}");
    }
    // Each `/external-api` call reached the built-in todo service once and was counted once.
    let external = summary.endpoint("GET /external-api").map_or(0, |row| row.requests);
    assert_eq!(server.get("GET /todos/{id}"), Some(&(external, 0)));
    assert_eq!(server.values().map(|(requests, _)| requests).sum::<u64>(), 400 + external);
    assert_eq!(
        inter_service_requests(find(&exported, "inter_service_requests")),
        vec![("todo-service".to_owned(), external)]
    );
    assert_eq!(summary.failures.len(), 1, "only /exception fails: {:?}", summary.failures);
    assert_eq!(summary.failures[0].reason, "HTTP 500");
}
