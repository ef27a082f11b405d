//! The viewer full: 100,000 spans (20,000 traces over three services) sent over OTLP/HTTP into a store bounded at
//! 100,000, then 10,000 more. The bound holds, eviction is counted, and every API the page calls still answers
//! right, and (with `chromium` installed) each page renders in a browser. The time of each call and of each page
//! load is printed (`--nocapture`) for the README; no test asserts a duration.

mod viewer_support;

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};
use prost::Message;
use traced_examples::viewer::{self, Limits, RunningViewer, ViewerConfig};

const SERVICES: [&str; 3] = ["frontend", "cart", "payments"];
const ROUTES: [&str; 4] = ["GET /items/{id}", "POST /checkout", "GET /", "GET /users/{id}"];
const TRACES_PER_REQUEST: u32 = 200;
const SPANS_PER_TRACE: u32 = 5;

fn kv(key: &str, value: Value) -> KeyValue {
    KeyValue { key: key.to_owned(), value: Some(AnyValue { value: Some(value) }), ..Default::default() }
}

/// Traces `first..first + TRACES_PER_REQUEST`: a SERVER root per trace and four children over the services,
/// ending within the last four minutes; every 50th trace is an error.
fn batch(first: u32, now: u64) -> ExportTraceServiceRequest {
    let mut per_service: Vec<Vec<Span>> = vec![Vec::new(); SERVICES.len()];
    for trace in first..first + TRACES_PER_REQUEST {
        let mut trace_id = [0u8; 16];
        trace_id[..4].copy_from_slice(&trace.to_be_bytes());
        trace_id[15] = 1;
        let end = now - u64::from(trace % 240) * 1_000_000_000;
        let length = 1_000_000 + u64::from(trace % 97) * 1_000_000;
        for index in 0..SPANS_PER_TRACE {
            let mut span_id = [0u8; 8];
            span_id[..4].copy_from_slice(&trace.to_be_bytes());
            span_id[7] = index as u8 + 1;
            let server = index == 0 || index == 3;
            let route = ROUTES[(trace as usize + index as usize) % ROUTES.len()];
            let error = index == 0 && trace % 50 == 0;
            per_service[index as usize % SERVICES.len()].push(Span {
                trace_id: trace_id.to_vec(),
                span_id: span_id.to_vec(),
                parent_span_id: if index == 0 {
                    Vec::new()
                } else {
                    vec![span_id[0], span_id[1], span_id[2], span_id[3], 0, 0, 0, index.saturating_sub(1) as u8 + 1]
                },
                name: if server { route.to_owned() } else { format!("step-{index}") },
                kind: if server { 2 } else { 1 },
                start_time_unix_nano: end - length + u64::from(index) * 1000,
                end_time_unix_nano: end - u64::from(index) * 1000,
                attributes: vec![
                    kv("http.route", Value::StringValue(route.to_owned())),
                    kv("http.response.status_code", Value::IntValue(if error { 500 } else { 200 })),
                    kv("user.id", Value::IntValue(i64::from(trace % 1000))),
                    kv("url.path", Value::StringValue(format!("/items/{trace}"))),
                ],
                status: error.then(|| Status { code: 2, message: "boom".to_owned() }),
                ..Default::default()
            });
        }
    }
    ExportTraceServiceRequest {
        resource_spans: per_service
            .into_iter()
            .zip(SERVICES)
            .map(|(spans, service)| ResourceSpans {
                resource: Some(Resource {
                    attributes: vec![kv("service.name", Value::StringValue(service.to_owned()))],
                    ..Default::default()
                }),
                scope_spans: vec![ScopeSpans { spans, ..Default::default() }],
                ..Default::default()
            })
            .collect(),
    }
}

async fn timed_get(viewer: &RunningViewer, path: &str) -> (serde_json::Value, f64) {
    let started = Instant::now();
    let response = reqwest::get(format!("{}{path}", viewer.ui_url())).await.expect("the API answers");
    assert!(response.status().is_success(), "{path}: {}", response.status());
    let body = response.bytes().await.expect("a body");
    let elapsed = started.elapsed().as_secs_f64() * 1000.0;
    eprintln!("viewer_scale: GET {path} -> {} bytes in {elapsed:.1} ms", body.len());
    (serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null), elapsed)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_store_stays_bounded_and_answers() {
    let viewer = viewer::start(ViewerConfig { limits: Limits::default(), ..ViewerConfig::ephemeral() })
        .await
        .expect("the viewer starts");
    let now =
        u64::try_from(SystemTime::now().duration_since(UNIX_EPOCH).expect("after 1970").as_nanos()).expect("fits");
    let client = reqwest::Client::new();
    let total_traces = 22_000;
    let started = Instant::now();
    for first in (0..total_traces).step_by(TRACES_PER_REQUEST as usize) {
        let response = client
            .post(format!("http://{}/v1/traces", viewer.http_addr))
            .header("content-type", "application/x-protobuf")
            .body(batch(first, now).encode_to_vec())
            .send()
            .await
            .expect("the receiver answers");
        assert_eq!(response.status(), 200);
    }
    eprintln!(
        "viewer_scale: {} spans received in {:.0} ms",
        total_traces * SPANS_PER_TRACE,
        started.elapsed().as_secs_f64() * 1000.0
    );

    let (stats, _) = timed_get(&viewer, "/api/stats").await;
    assert_eq!(stats["spans"], 100_000, "the bound, exactly: every trace has 5 spans");
    assert_eq!(stats["traces"], 20_000);
    assert_eq!((stats["spans_evicted"].as_u64(), stats["traces_evicted"].as_u64()), (Some(10_000), Some(2_000)));

    let page = reqwest::get(viewer.ui_url()).await.expect("the page").text().await.expect("text");
    assert!(page.contains("/app.js"));

    let (services, _) = timed_get(&viewer, "/api/services?window=300&buckets=30").await;
    let list = services["services"].as_array().expect("services");
    assert_eq!(list.len(), 3);
    // Roots go to `frontend` (index 0), the second SERVER span (index 3) to `frontend` too (3 % 3).
    let frontend = &list[1];
    assert_eq!(frontend["name"], "frontend");
    assert_eq!(frontend["requests"], 40_000, "two SERVER spans per kept trace, all in the window");
    assert_eq!(frontend["errors"], 400, "every 50th of the 20,000 kept traces");
    timed_get(&viewer, "/api/services?window=86400&all=true").await;

    let (latest, _) = timed_get(&viewer, "/api/traces?limit=100").await;
    assert_eq!(latest["matched"], 20_000);
    assert_eq!(latest["traces"].as_array().expect("traces").len(), 100);
    let (errors, _) = timed_get(&viewer, "/api/traces?errors=true&service=frontend&limit=100").await;
    assert_eq!(errors["matched"], 400);
    let (by_attribute, _) = timed_get(&viewer, "/api/traces?attr=url.path%3D%2Fitems%2F21999").await;
    assert_eq!(by_attribute["matched"], 1);
    let (slow, _) = timed_get(&viewer, "/api/traces?min_ms=97&limit=100").await;
    assert_eq!(slow["matched"], 206, "the roots of traces with id % 97 == 96 last 97 ms");
    assert_eq!(timed_get(&viewer, "/api/traces?min_ms=97.001").await.0["matched"], 0);

    let newest = by_attribute["traces"][0]["trace_id"].as_str().expect("trace id").to_owned();
    let (tree, _) = timed_get(&viewer, &format!("/api/traces/{newest}")).await;
    assert_eq!(tree["spans"].as_array().expect("spans").len(), 5);
    let (direct, _) = timed_get(&viewer, &format!("/api/traces?trace_id={newest}")).await;
    assert_eq!(direct["matched"], 1);
    timed_get(&viewer, "/api/metrics").await;

    if viewer_support::browser_available() {
        // Chromium's own start-up, on an empty page, is the baseline the page times are read against (in-page
        // clocks are virtual under --virtual-time-budget, so they cannot time the network).
        let profile = std::env::temp_dir().join(format!("traced-viewer-scale-{}", std::process::id()));
        let browse = |url: String| {
            let profile = profile.clone();
            async move {
                let started = Instant::now();
                let dom = tokio::task::spawn_blocking(move || viewer_support::chromium(&url, "--dump-dom", &profile))
                    .await
                    .expect("chromium ran");
                (dom, started.elapsed().as_secs_f64() * 1000.0)
            }
        };
        // The first start warms the profile and the disk cache.
        browse("about:blank".to_owned()).await;
        let (_, blank) = browse("about:blank".to_owned()).await;
        for (page, expected) in [
            ("#/services".to_owned(), r#"data-service="frontend""#.to_owned()),
            ("#/traces".to_owned(), "20000 matching traces".to_owned()),
            (format!("#/trace/{newest}"), r#"data-depth="4""#.to_owned()),
        ] {
            let (dom, elapsed) = browse(format!("{}/{page}", viewer.ui_url())).await;
            assert!(dom.contains(&expected), "{page}: {expected} in {dom}");
            eprintln!("viewer_scale: chromium --dump-dom {page} took {elapsed:.0} ms (about:blank: {blank:.0} ms)");
        }
        let _ = std::fs::remove_dir_all(&profile);
    }
    viewer.stop().await;
}
