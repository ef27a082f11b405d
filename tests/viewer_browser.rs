//! The viewer's page in a real browser: headless Chromium loads each page against a viewer holding a trace
//! across two services (with an exception and a correlated log) and a metric, lets the scripts run, and the test
//! reads the DOM a person would see. A screenshot of each page is saved under the target directory.
//!
//! Needs Debian's `chromium` on the PATH (`.ci/run` installs it). Without it the test says so and passes, unless
//! `TRACED_REQUIRE_BROWSER=1` (set by `.ci/run`) makes a missing browser a failure.

mod viewer_support;

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use traced_examples::viewer::{self, RunningViewer, ViewerConfig};
use viewer_support::{browser_available, chromium, BROWSER};

const TRACE_ID: &str = "5b8efff798038103d269b633813fc60c";

fn now() -> u64 {
    u64::try_from(SystemTime::now().duration_since(UNIX_EPOCH).expect("after 1970").as_nanos()).expect("fits")
}

/// OTLP/JSON, as a collector or an SDK sends it: a checkout across `frontend` and `payments`.
fn trace_json(end: u64) -> String {
    let start = end - 50_000_000;
    let span = |id: &str, parent: &str, name: &str, kind: u8, from: u64, to: u64, extra: &str| {
        format!(
            r#"{{"traceId":"{TRACE_ID}","spanId":"{id}","parentSpanId":"{parent}","name":"{name}","kind":{kind},
            "startTimeUnixNano":"{}","endTimeUnixNano":"{}"{extra}}}"#,
            start + from,
            start + to
        )
    };
    let error = r#","status":{"code":2,"message":"card declined"},
        "attributes":[{"key":"http.route","value":{"stringValue":"/checkout"}}],
        "events":[{"name":"exception","timeUnixNano":"1","attributes":[
            {"key":"exception.type","value":{"stringValue":"PaymentError"}},
            {"key":"exception.message","value":{"stringValue":"card declined"}},
            {"key":"exception.stacktrace","value":{"stringValue":"at pay (payments.rs:12)\nat checkout"}}]}]"#;
    let server = span("1111111111111111", "", "POST /checkout", 2, 0, 50_000_000, error);
    let client = span("2222222222222222", "1111111111111111", "POST", 3, 5_000_000, 45_000_000, "");
    let downstream = span("3333333333333333", "2222222222222222", "POST /pay", 2, 6_000_000, 44_000_000, "");
    let resource = |service: &str, spans: &str| {
        format!(
            r#"{{"resource":{{"attributes":[{{"key":"service.name","value":{{"stringValue":"{service}"}}}}]}},
            "scopeSpans":[{{"scope":{{"name":"test"}},"spans":[{spans}]}}]}}"#
        )
    };
    format!(
        r#"{{"resourceSpans":[{},{}]}}"#,
        resource("frontend", &format!("{server},{client}")),
        resource("payments", &downstream)
    )
}

fn logs_json(time: u64) -> String {
    format!(
        r#"{{"resourceLogs":[{{"resource":{{"attributes":[{{"key":"service.name","value":{{"stringValue":"payments"}}}}]}},
        "scopeLogs":[{{"logRecords":[{{"timeUnixNano":"{time}","severityText":"ERROR","body":{{"stringValue":"charge refused by the bank"}},
        "traceId":"{TRACE_ID}","spanId":"3333333333333333"}}]}}]}}]}}"#
    )
}

fn metrics_json(time: u64) -> String {
    format!(
        r#"{{"resourceMetrics":[{{"resource":{{"attributes":[{{"key":"service.name","value":{{"stringValue":"payments"}}}}]}},
        "scopeMetrics":[{{"metrics":[{{"name":"payment.duration","unit":"s","histogram":{{"aggregationTemporality":2,
        "dataPoints":[{{"timeUnixNano":"{time}","count":"3","sum":0.12,"bucketCounts":["1","2","0"],"explicitBounds":[0.01,0.1],
        "attributes":[{{"key":"card","value":{{"stringValue":"visa"}}}}]}}]}}}}]}}]}}]}}"#
    )
}

async fn post(viewer: &RunningViewer, signal: &str, body: String) {
    let response = reqwest::Client::new()
        .post(format!("http://{}/v1/{signal}", viewer.http_addr))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .expect("the receiver answers");
    assert_eq!(response.status(), 200, "{signal}: {:?}", response.text().await);
}

/// Loads `page`, returns its DOM after the scripts ran, and saves a screenshot next to the test's temporary files.
async fn visit(viewer: &RunningViewer, page: &str, name: &str, profile: &Path) -> String {
    let url = format!("{}/{page}", viewer.ui_url());
    let shots = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("viewer_browser");
    std::fs::create_dir_all(&shots).expect("a screenshot folder");
    let screenshot = format!("--screenshot={}", shots.join(format!("{name}.png")).display());
    let profile = profile.to_owned();
    tokio::task::spawn_blocking(move || {
        chromium(&url, &screenshot, &profile);
        chromium(&url, "--dump-dom", &profile)
    })
    .await
    .expect("chromium ran")
}

/// True (and said) when there is no browser to run, which fails instead under `TRACED_REQUIRE_BROWSER=1`.
fn skipped_without_browser() -> bool {
    if browser_available() {
        return false;
    }
    let required = std::env::var("TRACED_REQUIRE_BROWSER").is_ok_and(|v| v == "1");
    assert!(!required, "TRACED_REQUIRE_BROWSER=1 but `{BROWSER}` is not installed (apt-get install -y chromium)");
    eprintln!("viewer_browser: `{BROWSER}` not installed; skipping the browser test");
    true
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_page_shows_what_was_received() {
    if skipped_without_browser() {
        return;
    }
    let viewer = viewer::start(ViewerConfig::ephemeral()).await.expect("the viewer starts");
    let time = now();
    post(&viewer, "traces", trace_json(time)).await;
    post(&viewer, "logs", logs_json(time)).await;
    post(&viewer, "metrics", metrics_json(time)).await;
    let profile = std::env::temp_dir().join(format!("traced-viewer-chromium-{}", std::process::id()));

    let services = visit(&viewer, "#/services", "services", &profile).await;
    assert!(
        services.contains(r#"data-service="frontend""#) && services.contains(r#"data-service="payments""#),
        "{services}"
    );
    assert!(services.contains(r#"data-operation="POST /checkout""#), "the route row: {services}");
    assert!(services.contains("100.0%"), "the checkout's error rate is shown");
    assert!(services.contains("<polyline"), "the charts are drawn");
    assert!(services.contains("3/100000 spans"), "the store's counters: {services}");

    let traces = visit(&viewer, "#/traces?errors=true", "traces", &profile).await;
    assert!(traces.contains(&format!(r#"data-trace-id="{TRACE_ID}""#)), "{traces}");
    assert!(traces.contains("frontend: POST /checkout"));
    assert!(traces.contains("1 matching traces"));

    let trace = visit(&viewer, &format!("#/trace/{TRACE_ID}"), "trace", &profile).await;
    for (depth, id) in [(0, "1111111111111111"), (1, "2222222222222222"), (2, "3333333333333333")] {
        assert!(
            trace.contains(&format!(r#"data-span-id="{id}" data-depth="{depth}""#)),
            "row {id} at depth {depth}: {trace}"
        );
    }
    // The error span is selected first: its exception in the side panel.
    assert!(trace.contains("PaymentError") && trace.contains("at pay (payments.rs:12)"), "the exception: {trace}");
    assert!(trace.contains("charge refused by the bank"), "the correlated log");
    assert!(trace.contains("card declined"));

    let by_request_id =
        visit(&viewer, &format!("#/traces?trace_id={}", TRACE_ID.to_uppercase()), "lookup", &profile).await;
    assert!(by_request_id.contains(r#"data-span-id="3333333333333333""#), "a pasted id opens the trace");

    let metrics = visit(&viewer, "#/metrics", "metrics", &profile).await;
    assert!(metrics.contains(r#"data-metric="payment.duration""#), "{metrics}");
    assert!(metrics.contains("card=visa") && metrics.contains("count 3"), "the histogram by attribute set");

    let missing = visit(&viewer, &format!("#/trace/{}", "ab".repeat(16)), "missing", &profile).await;
    assert!(missing.contains(r#"id="missing""#), "an unknown trace says so");
    let _ = std::fs::remove_dir_all(&profile);
    viewer.stop().await;
}

/// A histogram point with a minimum and no maximum (each is optional in OTLP) next to a regular metric.
fn lopsided_histogram_json(time: u64) -> String {
    format!(
        r#"{{"resourceMetrics":[{{"resource":{{"attributes":[{{"key":"service.name","value":{{"stringValue":"payments"}}}}]}},
        "scopeMetrics":[{{"metrics":[{{"name":"lopsided","histogram":{{"aggregationTemporality":2,
        "dataPoints":[{{"timeUnixNano":"{time}","count":"1","sum":0.5,"min":0.5,"bucketCounts":["1"]}}]}}}},
        {{"name":"queue.depth","gauge":{{"dataPoints":[{{"timeUnixNano":"{time}","asInt":"7"}}]}}}}]}}]}}]}}"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_histogram_with_a_minimum_and_no_maximum_leaves_the_metrics_page_whole() {
    if skipped_without_browser() {
        return;
    }
    let viewer = viewer::start(ViewerConfig::ephemeral()).await.expect("the viewer starts");
    post(&viewer, "metrics", lopsided_histogram_json(now())).await;
    let profile = std::env::temp_dir().join(format!("traced-viewer-chromium-lopsided-{}", std::process::id()));
    let metrics = visit(&viewer, "#/metrics", "lopsided", &profile).await;
    let _ = std::fs::remove_dir_all(&profile);
    viewer.stop().await;
    assert!(metrics.contains(r#"data-metric="lopsided""#) && metrics.contains("min 0.5000"), "{metrics}");
    assert!(metrics.contains(r#"data-metric="queue.depth""#), "the other metric is shown too: {metrics}");
}
