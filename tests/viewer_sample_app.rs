//! The viewer fed by the sample app, as a user runs them: the app's own telemetry setup (from `OTEL_*`
//! variables, in a child process) exports to a viewer in this test over gRPC, http/protobuf and http/json; the
//! viewer's API shows the service, RED figures that agree with the app's own `http.server.request.duration`
//! histogram (which the viewer received too), the `/external-api` tree, the exception and the correlated log.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::Value;
use tokio::net::TcpListener;
use traced_examples::app::{telemetry, AppConfig, SampleApp};
use traced_examples::viewer::{self, RunningViewer, ViewerConfig};
use traced_tests::child;

const REQUEST_ID_LINE: &str = "exception request_id=";

/// Path, expected status, how many times.
const REQUESTS: [(&str, u16, usize); 7] = [
    ("/", 200, 3),
    ("/ping", 200, 2),
    ("/items/2?q=shoes", 200, 4),
    ("/items/3", 200, 1),
    ("/users/1", 200, 1),
    ("/external-api", 200, 2),
    ("/exception", 500, 2),
];

/// The child: the sample app with its telemetry from the environment, every endpoint, a flushing shutdown.
#[test]
fn child_scenario() {
    if child::scenario().is_none() {
        return;
    }
    let telemetry = telemetry::init().expect("telemetry from the environment");
    let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime");
    let request_id = runtime.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let config = AppConfig { io_delay: Duration::from_millis(20), ..AppConfig::default() };
        let app = SampleApp::start(config).await.expect("start the app").spawn(listener).expect("serve");
        let mut request_id = String::new();
        for (path, status, times) in REQUESTS {
            for _ in 0..times {
                let response = reqwest::get(app.url(path)).await.expect("the app answers");
                assert_eq!(response.status().as_u16(), status, "{path}");
                let body: Value = response.json().await.expect("a JSON body");
                if let Some(id) = body["request_id"].as_str() {
                    request_id = id.to_owned();
                }
            }
        }
        app.stop().await.expect("graceful stop");
        request_id
    });
    drop(runtime);
    telemetry.shutdown().expect("every signal flushed");
    println!("{REQUEST_ID_LINE}{request_id}");
}

/// Runs the child against `viewer` with `protocol`; returns the last `/exception` response's request_id.
async fn run_app(viewer: &RunningViewer, protocol: &'static str) -> String {
    let endpoint = match protocol {
        "grpc" => format!("http://{}", viewer.grpc_addr),
        _ => format!("http://{}", viewer.http_addr),
    };
    let vars = vec![
        ("OTEL_SERVICE_NAME", "sample-app".to_owned()),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", protocol.to_owned()),
        ("OTEL_TRACES_EXPORTER", "otlp".to_owned()),
        ("OTEL_METRICS_EXPORTER", "otlp".to_owned()),
        ("OTEL_LOGS_EXPORTER", "otlp".to_owned()),
    ];
    let output = tokio::task::spawn_blocking(move || child::run("child_scenario", "viewer", &vars))
        .await
        .expect("the child ran");
    child::assert_success(&output);
    let stdout = String::from_utf8_lossy(&output.stdout);
    // The test harness may print `test child_scenario ... ` before it on the same line.
    let line = stdout.split(REQUEST_ID_LINE).nth(1).and_then(|rest| rest.split_whitespace().next());
    line.unwrap_or_else(|| panic!("no request_id line in the child's output:\n{stdout}")).to_owned()
}

async fn get(viewer: &RunningViewer, path: &str) -> Value {
    let response = reqwest::get(format!("{}{path}", viewer.ui_url())).await.expect("the API answers");
    assert!(response.status().is_success(), "{path}: {}", response.status());
    response.json().await.expect("JSON")
}

fn attribute<'a>(attributes: &'a Value, key: &str) -> &'a Value {
    &attributes[key]
}

/// Per route: (count, error count, bucket bounds, bucket counts) of the app's own duration histogram.
fn histogram_per_route(metrics: &Value) -> BTreeMap<String, (u64, u64, Vec<f64>, Vec<u64>)> {
    let duration = metrics
        .as_array()
        .expect("metrics")
        .iter()
        .find(|m| m["name"] == "http.server.request.duration")
        .expect("the app's duration histogram reached the viewer");
    let mut routes = BTreeMap::new();
    for series in duration["series"].as_array().expect("series") {
        let route = attribute(&series["attributes"], "http.route").as_str().expect("http.route").to_owned();
        let value = &series["value"];
        assert_eq!(value["type"], "histogram");
        let count = value["count"].as_u64().expect("count");
        let bounds: Vec<f64> = serde_json::from_value(value["bounds"].clone()).expect("bounds");
        let counts: Vec<u64> = serde_json::from_value(value["counts"].clone()).expect("counts");
        let errors = if series["attributes"]["error.type"].is_null() { 0 } else { count };
        let entry = routes.entry(route).or_insert((0, 0, bounds, vec![0; counts.len()]));
        entry.0 += count;
        entry.1 += errors;
        for (sum, add) in entry.3.iter_mut().zip(counts) {
            *sum += add;
        }
    }
    routes
}

/// The histogram bucket (lower, upper bound in seconds) holding the nearest-rank `quantile`.
fn bucket_of(quantile: f64, count: u64, bounds: &[f64], counts: &[u64]) -> (f64, f64) {
    let rank = ((quantile * count as f64).ceil() as u64).max(1);
    let mut seen = 0;
    for (index, bucket) in counts.iter().enumerate() {
        seen += bucket;
        if seen >= rank {
            let lower = if index == 0 { 0.0 } else { bounds[index - 1] };
            return (lower, bounds.get(index).copied().unwrap_or(f64::INFINITY));
        }
    }
    panic!("rank {rank} past the histogram's count {count}");
}

async fn check(viewer: &RunningViewer, request_id: &str) {
    let services = get(viewer, "/api/services?window=600").await;
    let list = services["services"].as_array().expect("services");
    assert_eq!(list.len(), 1, "{services}");
    let service = &list[0];
    assert_eq!(service["name"], "sample-app");

    // RED per route against the app's own histogram.
    let histogram = histogram_per_route(&get(viewer, "/api/metrics").await);
    let operations: BTreeMap<String, &Value> = service["operations"]
        .as_array()
        .expect("operations")
        .iter()
        .map(|op| (op["name"].as_str().expect("name").trim_start_matches("GET ").to_owned(), op))
        .collect();
    assert_eq!(operations.keys().collect::<Vec<_>>(), histogram.keys().collect::<Vec<_>>(), "the same routes");
    for (route, (count, errors, bounds, counts)) in &histogram {
        let op = operations[route];
        assert_eq!(op["requests"].as_u64(), Some(*count), "{route}: requests");
        assert_eq!(op["errors"].as_u64(), Some(*errors), "{route}: errors");
        for (quantile, key) in [(0.5, "p50_ms"), (0.95, "p95_ms"), (0.99, "p99_ms")] {
            let seconds = op[key].as_f64().expect("a percentile") / 1000.0;
            let (lower, upper) = bucket_of(quantile, *count, bounds, counts);
            // The span and the histogram time the same request a few microseconds apart.
            assert!(
                seconds >= lower - 0.0005 && seconds <= upper + 0.0005,
                "{route} {key}: the span says {seconds} s, the histogram ({lower}, {upper}]"
            );
        }
    }
    assert_eq!(operations["/exception"]["error_rate"], 1.0);
    assert_eq!(operations["/"]["error_rate"], 0.0);
    assert_eq!(service["requests"].as_u64(), Some(histogram.values().map(|h| h.0).sum()));

    // `/external-api`: server -> client -> the todo service's server span, one trace.
    let external = get(viewer, "/api/traces?name=GET%20%2Fexternal-api&limit=1").await;
    assert_eq!(external["matched"], 2);
    let trace_id = external["traces"][0]["trace_id"].as_str().expect("trace id");
    let tree = get(viewer, &format!("/api/traces/{trace_id}")).await;
    let rows: Vec<(u64, &str, &str)> = tree["spans"]
        .as_array()
        .expect("spans")
        .iter()
        .map(|s| {
            (s["depth"].as_u64().expect("depth"), s["kind"].as_str().expect("kind"), s["name"].as_str().expect("name"))
        })
        .collect();
    assert_eq!(rows, [(0, "server", "GET /external-api"), (1, "client", "GET"), (2, "server", "GET /todos/{id}")]);

    // The request_id of an error response finds its trace and its exception.
    let found = get(viewer, &format!("/api/traces?trace_id={request_id}")).await;
    assert_eq!(found["traces"][0]["root_name"], "GET /exception");
    let exception = get(viewer, &format!("/api/traces/{request_id}")).await;
    let span = &exception["spans"][0];
    assert_eq!(span["status"], "error");
    let event = &span["events"][0];
    assert_eq!(event["name"], "exception");
    assert_eq!(event["attributes"]["exception.message"], "this is a test exception");
    assert_eq!(event["attributes"]["exception.type"], "traced_examples::app::error::AppError");
    assert_eq!(get(viewer, "/api/traces?errors=true").await["matched"], 2);

    // `/items/2`: `load-item` under the request, and the log line it wrote, correlated.
    let items = get(viewer, "/api/traces?attr=url.path%3D%2Fitems%2F2&limit=1").await;
    assert_eq!(items["matched"], 4);
    let trace_id = items["traces"][0]["trace_id"].as_str().expect("trace id");
    let tree = get(viewer, &format!("/api/traces/{trace_id}")).await;
    assert_eq!(tree["spans"][1]["name"], "load-item");
    assert_eq!(tree["spans"][1]["depth"], 1);
    assert_eq!(tree["spans"][1]["attributes"]["item.id"], 2);
    let logs = tree["logs"].as_array().expect("logs");
    assert!(
        logs.iter()
            .any(|log| log["body"] == "slow path: waiting on simulated I/O"
                && log["span_id"] == tree["spans"][1]["span_id"]),
        "the load-item log line, with its span id: {logs:?}"
    );
}

async fn end_to_end(protocol: &'static str) {
    let viewer = viewer::start(ViewerConfig::ephemeral()).await.expect("the viewer starts");
    let request_id = run_app(&viewer, protocol).await;
    check(&viewer, &request_id).await;
    let stats = get(&viewer, "/api/stats").await;
    assert_eq!((stats["spans_rejected"].as_u64(), stats["spans_evicted"].as_u64()), (Some(0), Some(0)));
    viewer.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sample_app_over_grpc() {
    if child::scenario().is_none() {
        end_to_end("grpc").await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sample_app_over_http_protobuf() {
    if child::scenario().is_none() {
        end_to_end("http/protobuf").await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sample_app_over_http_json() {
    if child::scenario().is_none() {
        end_to_end("http/json").await;
    }
}
