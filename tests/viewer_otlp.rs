//! The viewer as an OTLP consumer: a trace across two services, its logs and a metric sent by an OTLP client in
//! this test over gRPC, HTTP protobuf and HTTP JSON; the JSON API shows the tree, the exception, the logs and the
//! RED figures. Malformed and oversized requests get the protocol's error answer; the span bound holds.

use std::time::{SystemTime, UNIX_EPOCH};

use opentelemetry_proto::tonic::collector::logs::v1::logs_service_client::LogsServiceClient;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_client::MetricsServiceClient;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::metrics::v1::{metric, Gauge, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::{Event, SpanKind};
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};
use prost::Message;
use serde_json::Value as Json;
use traced_examples::viewer::{self, Limits, RunningViewer, ViewerConfig};

fn now() -> u64 {
    u64::try_from(SystemTime::now().duration_since(UNIX_EPOCH).expect("after 1970").as_nanos()).expect("fits")
}

fn string(key: &str, text: &str) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue { value: Some(Value::StringValue(text.to_owned())) }),
        ..Default::default()
    }
}

fn resource(service: &str) -> Option<Resource> {
    Some(Resource { attributes: vec![string("service.name", service)], ..Default::default() })
}

/// `checkout` (SERVER, error with an exception) -> `POST` (CLIENT) -> `payments` `POST /pay` (SERVER).
fn checkout_trace(trace: u8) -> ExportTraceServiceRequest {
    let end = now();
    let start = end - 40_000_000;
    let span = |id: u8, parent: Option<u8>, name: &str, kind: SpanKind, offset: u64, length: u64| Span {
        trace_id: vec![trace; 16],
        span_id: vec![id; 8],
        parent_span_id: parent.map(|p| vec![p; 8]).unwrap_or_default(),
        name: name.to_owned(),
        kind: kind as i32,
        start_time_unix_nano: start + offset,
        end_time_unix_nano: start + offset + length,
        ..Default::default()
    };
    let mut server = span(1, None, "POST /checkout", SpanKind::Server, 0, 40_000_000);
    server.attributes = vec![string("http.route", "/checkout"), string("cart.id", "c-42")];
    server.status = Some(Status { code: StatusCode::Error as i32, message: "card declined".to_owned() });
    server.events = vec![Event {
        time_unix_nano: start + 30_000_000,
        name: "exception".to_owned(),
        attributes: vec![
            string("exception.type", "PaymentError"),
            string("exception.message", "card declined"),
            string("exception.stacktrace", "at pay()\nat checkout()"),
        ],
        ..Default::default()
    }];
    let client = span(2, Some(1), "POST", SpanKind::Client, 5_000_000, 30_000_000);
    let downstream = span(3, Some(2), "POST /pay", SpanKind::Server, 6_000_000, 28_000_000);
    let scope = |spans| vec![ScopeSpans { spans, ..Default::default() }];
    ExportTraceServiceRequest {
        resource_spans: vec![
            ResourceSpans {
                resource: resource("frontend"),
                scope_spans: scope(vec![server, client]),
                ..Default::default()
            },
            ResourceSpans {
                resource: resource("payments"),
                scope_spans: scope(vec![downstream]),
                ..Default::default()
            },
        ],
    }
}

fn checkout_logs(trace: u8) -> ExportLogsServiceRequest {
    let record = LogRecord {
        time_unix_nano: now(),
        severity_text: "ERROR".to_owned(),
        body: Some(AnyValue { value: Some(Value::StringValue(format!("charge failed in trace {trace}"))) }),
        trace_id: vec![trace; 16],
        span_id: vec![3; 8],
        ..Default::default()
    };
    let unrelated = LogRecord { body: record.body.clone(), time_unix_nano: now(), ..Default::default() };
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: resource("payments"),
            scope_logs: vec![ScopeLogs { log_records: vec![record, unrelated], ..Default::default() }],
            ..Default::default()
        }],
    }
}

fn queue_metric(value: i64) -> ExportMetricsServiceRequest {
    let point = NumberDataPoint {
        attributes: vec![string("queue", "payments")],
        time_unix_nano: now(),
        value: Some(opentelemetry_proto::tonic::metrics::v1::number_data_point::Value::AsInt(value)),
        ..Default::default()
    };
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: resource("payments"),
            scope_metrics: vec![ScopeMetrics {
                metrics: vec![Metric {
                    name: "queue.depth".to_owned(),
                    unit: "{item}".to_owned(),
                    data: Some(metric::Data::Gauge(Gauge { data_points: vec![point] })),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

fn json<T: serde::Serialize>(message: &T) -> Vec<u8> {
    serde_json::to_vec(message).expect("serializable")
}

async fn get(viewer: &RunningViewer, path: &str) -> Json {
    let response = reqwest::get(format!("{}{path}", viewer.ui_url())).await.expect("the API answers");
    assert!(response.status().is_success(), "{path}: {}", response.status());
    response.json().await.expect("JSON")
}

async fn post(viewer: &RunningViewer, signal: &str, content_type: &str, body: Vec<u8>) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("http://{}/v1/{signal}", viewer.http_addr))
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .expect("the receiver answers")
}

/// What every transport must produce for trace `trace`.
async fn assert_checkout(viewer: &RunningViewer, trace: u8) {
    let id = format!("{trace:02x}").repeat(16);
    let view = get(viewer, &format!("/api/traces/{id}")).await;
    let rows: Vec<(String, String, u64, String)> = view["spans"]
        .as_array()
        .expect("spans")
        .iter()
        .map(|s| {
            let text = |key: &str| s[key].as_str().expect(key).to_owned();
            (text("service"), text("name"), s["depth"].as_u64().expect("depth"), text("kind"))
        })
        .collect();
    let expected = [
        ("frontend", "POST /checkout", 0, "server"),
        ("frontend", "POST", 1, "client"),
        ("payments", "POST /pay", 2, "server"),
    ]
    .map(|(a, b, c, d)| (a.to_owned(), b.to_owned(), c, d.to_owned()));
    assert_eq!(rows, expected, "the waterfall across services");
    let root = &view["spans"][0];
    assert_eq!(root["status"], "error");
    assert_eq!(root["attributes"]["cart.id"], "c-42");
    assert_eq!(root["resource"]["service.name"], "frontend");
    let exception = &root["events"][0];
    assert_eq!(exception["name"], "exception");
    assert_eq!(exception["attributes"]["exception.type"], "PaymentError");
    assert_eq!(exception["attributes"]["exception.stacktrace"], "at pay()\nat checkout()");
    assert!((exception["offset_ms"].as_f64().expect("offset") - 30.0).abs() < 1e-6);
    assert!((view["duration_ms"].as_f64().expect("duration") - 40.0).abs() < 1e-6);
    let logs = view["logs"].as_array().expect("logs");
    assert_eq!(logs.len(), 1, "only the correlated record: {logs:?}");
    assert_eq!(logs[0]["body"], format!("charge failed in trace {trace}"));
    assert_eq!(logs[0]["span_id"], "0303030303030303");
}

async fn start(limits: Limits) -> RunningViewer {
    viewer::start(ViewerConfig { limits, ..ViewerConfig::ephemeral() }).await.expect("the viewer starts")
}

#[tokio::test]
async fn every_transport_gives_the_same_views() {
    let viewer = start(Limits::default()).await;

    // gRPC, with gzip.
    let endpoint = format!("http://{}", viewer.grpc_addr);
    let mut traces = TraceServiceClient::connect(endpoint.clone()).await.expect("connect");
    traces = traces.send_compressed(tonic::codec::CompressionEncoding::Gzip);
    let answer = traces.export(checkout_trace(1)).await.expect("exported").into_inner();
    assert_eq!(answer.partial_success, None);
    LogsServiceClient::connect(endpoint.clone()).await.expect("connect").export(checkout_logs(1)).await.expect("logs");
    MetricsServiceClient::connect(endpoint).await.expect("connect").export(queue_metric(7)).await.expect("metrics");

    // HTTP, protobuf.
    let protobuf = "application/x-protobuf";
    let response = post(&viewer, "traces", protobuf, checkout_trace(2).encode_to_vec()).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], protobuf);
    assert_eq!(post(&viewer, "logs", protobuf, checkout_logs(2).encode_to_vec()).await.status(), 200);

    // HTTP, JSON (hex ids, string nanos: the OTLP/JSON mapping).
    let body = json(&checkout_trace(3));
    assert!(String::from_utf8_lossy(&body).contains(&"03".repeat(16)), "hex trace ids on the wire");
    let response = post(&viewer, "traces", "application/json", body).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    assert_eq!(post(&viewer, "logs", "application/json", json(&checkout_logs(3))).await.status(), 200);
    assert_eq!(post(&viewer, "metrics", "application/json", json(&queue_metric(9))).await.status(), 200);

    for trace in 1..=3 {
        assert_checkout(&viewer, trace).await;
    }

    // Services: both, with their SERVER operations; the frontend's are all errors.
    let services = get(&viewer, "/api/services?window=60").await;
    let names: Vec<&str> =
        services["services"].as_array().expect("services").iter().map(|s| s["name"].as_str().expect("name")).collect();
    assert_eq!(names, ["frontend", "payments"]);
    let frontend = &services["services"][0];
    assert_eq!(frontend["operations"].as_array().expect("ops").len(), 1, "the CLIENT span is not an operation");
    let checkout = &frontend["operations"][0];
    assert_eq!((checkout["name"].as_str(), checkout["requests"].as_u64()), (Some("POST /checkout"), Some(3)));
    assert_eq!(checkout["error_rate"], 1.0);
    assert!((checkout["p99_ms"].as_f64().expect("p99") - 40.0).abs() < 1e-6);
    assert!((checkout["rate_per_second"].as_f64().expect("rate") - 3.0 / 60.0).abs() < 1e-9);
    assert_eq!(services["services"][1]["operations"][0]["error_rate"], 0.0);
    let every_name = get(&viewer, "/api/services?window=60&all=true").await;
    assert_eq!(every_name["services"][0]["operations"].as_array().expect("ops").len(), 2);

    // Trace search.
    let errors = get(&viewer, "/api/traces?errors=true&service=frontend").await;
    assert_eq!(errors["matched"], 3);
    assert_eq!(errors["traces"][0]["trace_id"], "03".repeat(16), "newest first");
    assert_eq!(errors["traces"][0]["services"], serde_json::json!(["frontend", "payments"]));
    assert_eq!(get(&viewer, "/api/traces?attr=cart.id%3Dc-42").await["matched"], 3);
    assert_eq!(get(&viewer, "/api/traces?attr=cart.id%3Dnope").await["matched"], 0);
    assert_eq!(get(&viewer, "/api/traces?min_ms=39&service=payments").await["matched"], 0, "POST /pay took 28 ms");
    assert_eq!(get(&viewer, "/api/traces?name=POST%20%2Fpay&min_ms=27").await["matched"], 3);
    let direct = get(&viewer, &format!("/api/traces?trace_id={}", "02".repeat(16).to_uppercase())).await;
    assert_eq!(
        (direct["matched"].as_u64(), direct["traces"][0]["root_name"].as_str()),
        (Some(1), Some("POST /checkout"))
    );

    // Metrics: the latest value of the series (gRPC sent 7, then JSON 9).
    let metrics = get(&viewer, "/api/metrics").await;
    let queue = metrics.as_array().expect("metrics").iter().find(|m| m["name"] == "queue.depth").expect("queue.depth");
    assert_eq!(queue["series"].as_array().expect("series").len(), 1);
    assert_eq!(queue["series"][0]["value"], serde_json::json!({"type": "gauge", "value": 9.0}));
    assert_eq!(queue["series"][0]["attributes"]["queue"], "payments");

    let stats = get(&viewer, "/api/stats").await;
    assert_eq!(
        (stats["spans"].as_u64(), stats["logs"].as_u64(), stats["spans_evicted"].as_u64()),
        (Some(9), Some(6), Some(0))
    );
    viewer.stop().await;
}

#[tokio::test]
async fn bad_requests_get_protocol_errors_and_the_viewer_lives_on() {
    let viewer = start(Limits::default()).await;
    let garbage = post(&viewer, "traces", "application/x-protobuf", vec![0xff; 64]).await;
    assert_eq!(garbage.status(), 400);
    assert_eq!(post(&viewer, "traces", "application/json", b"[1,2".to_vec()).await.status(), 400);
    assert_eq!(post(&viewer, "traces", "text/plain", b"hello".to_vec()).await.status(), 415);
    assert_eq!(post(&viewer, "nothing", "application/json", b"{}".to_vec()).await.status(), 404);
    let huge = vec![b' '; viewer::MAX_REQUEST_BYTES + 1];
    assert_eq!(post(&viewer, "logs", "application/json", huge).await.status(), 413);

    // A span with invalid ids is refused as a partial success, the others are kept.
    let mut request = checkout_trace(4);
    request.resource_spans[1].scope_spans[0].spans[0].span_id = vec![0; 8];
    let response = post(&viewer, "traces", "application/json", serde_json::to_vec(&request).expect("json")).await;
    assert_eq!(response.status(), 200);
    let answer: Json = response.json().await.expect("JSON");
    // int64 in OTLP/JSON: a number or a decimal string, both valid.
    assert_eq!(answer["partialSuccess"]["rejectedSpans"].to_string().trim_matches('"'), "1", "{answer}");

    // gRPC: a message over the cap is refused by tonic's decoder with OUT_OF_RANGE.
    let mut client = TraceServiceClient::connect(format!("http://{}", viewer.grpc_addr))
        .await
        .expect("connect")
        .max_encoding_message_size(64 * 1024 * 1024);
    let mut big = checkout_trace(5);
    big.resource_spans[0].scope_spans[0].spans[0]
        .attributes
        .push(string("blob", &"x".repeat(viewer::MAX_REQUEST_BYTES)));
    let status = client.export(big).await.expect_err("too large");
    assert_eq!(status.code(), tonic::Code::OutOfRange, "{status}");

    assert_eq!(client.export(checkout_trace(6)).await.expect("still serving").into_inner().partial_success, None);
    let stats = get(&viewer, "/api/stats").await;
    assert_eq!((stats["spans"].as_u64(), stats["spans_rejected"].as_u64()), (Some(5), Some(1)));
    viewer.stop().await;
}

#[tokio::test]
async fn the_span_bound_evicts_oldest_traces_and_counts_them() {
    let viewer = start(Limits { max_spans: 50, ..Limits::default() }).await;
    for trace in 1..=40u8 {
        let response = post(&viewer, "traces", "application/x-protobuf", checkout_trace(trace).encode_to_vec()).await;
        assert_eq!(response.status(), 200);
        let stats = get(&viewer, "/api/stats").await;
        assert!(stats["spans"].as_u64().expect("spans") <= 50, "{stats}");
    }
    let stats = get(&viewer, "/api/stats").await;
    // 40 traces of 3 spans: the newest 16 fit (48 spans), 24 traces were evicted whole.
    assert_eq!(stats["spans"], 48);
    assert_eq!((stats["spans_evicted"].as_u64(), stats["traces_evicted"].as_u64()), (Some(72), Some(24)));
    let response = reqwest::get(format!("{}/api/traces/{}", viewer.ui_url(), "01".repeat(16))).await.expect("answer");
    assert_eq!(response.status(), 404, "the oldest trace is gone");
    assert_checkout_tree_kept(&viewer, 40).await;
    viewer.stop().await;
}

async fn assert_checkout_tree_kept(viewer: &RunningViewer, trace: u8) {
    let view = get(viewer, &format!("/api/traces/{}", format!("{trace:02x}").repeat(16))).await;
    assert_eq!(view["spans"].as_array().expect("spans").len(), 3);
}

/// Opens an OTLP/HTTP request whose body is announced but not yet sent: the viewer waits for it.
async fn unfinished_upload(viewer: &RunningViewer, body: &[u8]) -> tokio::net::TcpStream {
    use tokio::io::AsyncWriteExt as _;
    let mut stream = tokio::net::TcpStream::connect(viewer.http_addr).await.expect("connect");
    let head = format!(
        "POST /v1/traces HTTP/1.1\r\nhost: {}\r\ncontent-type: application/x-protobuf\r\ncontent-length: {}\r\n\r\n",
        viewer.http_addr,
        body.len()
    );
    stream.write_all(head.as_bytes()).await.expect("head");
    stream.write_all(&body[..1]).await.expect("first byte");
    stream
}

/// Each request may hold up to its 16 MiB body and `MAX_DECODED_BYTES` once decoded (the decode budget,
/// tested in `viewer_decode_budget.rs`): the requests read and decoded at once are bounded too. Past
/// `MAX_REQUESTS_IN_FLIGHT`, an OTLP request (either door) waits for one to finish.
#[tokio::test]
async fn otlp_requests_in_flight_are_bounded_across_both_doors() {
    use tokio::io::AsyncWriteExt as _;
    let viewer = start(Limits::default()).await;
    let bodies: Vec<Vec<u8>> =
        (0..viewer::MAX_REQUESTS_IN_FLIGHT).map(|i| checkout_trace(10 + i as u8).encode_to_vec()).collect();
    let mut uploads = Vec::new();
    for body in &bodies {
        uploads.push(unfinished_upload(&viewer, body).await);
    }
    // Give the server time to take the uploads in (they hold every slot from then on).
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;

    let mut client = TraceServiceClient::connect(format!("http://{}", viewer.grpc_addr)).await.expect("connect");
    let mut waiting = tonic::Request::new(checkout_trace(2));
    waiting.set_timeout(std::time::Duration::from_millis(700));
    let status = client.export(waiting).await.expect_err("no slot for it while the uploads run");
    assert!(matches!(status.code(), tonic::Code::DeadlineExceeded | tonic::Code::Cancelled), "{status}");
    let http = reqwest::Client::new()
        .post(format!("http://{}/v1/traces", viewer.http_addr))
        .header("content-type", "application/x-protobuf")
        .timeout(std::time::Duration::from_millis(700))
        .body(checkout_trace(3).encode_to_vec())
        .send()
        .await;
    assert!(http.as_ref().is_err_and(reqwest::Error::is_timeout), "{http:?}");
    assert_eq!(get(&viewer, "/api/stats").await["spans"], 0, "nothing decoded while every slot is taken");

    // The uploads finish: their slots free, the next requests go through at once.
    for (upload, body) in uploads.iter_mut().zip(&bodies) {
        upload.write_all(&body[1..]).await.expect("rest of the body");
    }
    assert_eq!(client.export(checkout_trace(4)).await.expect("a free slot").into_inner().partial_success, None);
    assert_eq!(
        post(&viewer, "traces", "application/x-protobuf", checkout_trace(5).encode_to_vec()).await.status(),
        200
    );
    for trace in [10, 4, 5] {
        assert_checkout_tree_kept(&viewer, trace).await;
    }
    viewer.stop().await;
}

/// DNS rebinding: a web site whose name is made to resolve to 127.0.0.1 reads the page and its API as its own
/// origin (the browser sends the site's name as `Host`). The page and the API answer only loopback names.
#[tokio::test]
async fn the_page_answers_loopback_host_names_only() {
    let viewer = start(Limits::default()).await;
    let port = viewer.ui_addr.port();
    let client = reqwest::Client::new();
    let status = |host: String, path: &'static str| {
        let request = client.get(format!("{}{path}", viewer.ui_url())).header("host", host);
        async move { request.send().await.expect("an answer").status().as_u16() }
    };
    for host in [format!("127.0.0.1:{port}"), format!("localhost:{port}"), "[::1]".to_owned(), "app.localhost".into()] {
        assert_eq!(status(host.clone(), "/api/stats").await, 200, "{host}");
        assert_eq!(status(host.clone(), "/").await, 200, "{host}");
    }
    for host in [format!("attacker.example:{port}"), "attacker.example".to_owned(), "127.0.0.1.nip.io".into()] {
        assert_eq!(status(host.clone(), "/api/stats").await, 403, "{host}");
        assert_eq!(status(host.clone(), "/api/traces").await, 403, "{host}");
        assert_eq!(status(host.clone(), "/").await, 403, "{host}");
    }
    viewer.stop().await;
}

/// Counting spans does not bound memory: a span of 128 events of 128 empty attributes is 33 KB on the wire (and a
/// few hundred bytes gzipped) but 1 MB stored, so 100,000 of them took 100 GB. Spans are evicted past a byte
/// budget too, oldest traces first, and the bytes held are shown.
#[tokio::test]
async fn the_span_store_is_bounded_in_bytes_too() {
    let max_bytes = 16 * 1024 * 1024;
    let viewer = start(Limits { max_bytes, ..Limits::default() }).await;
    let heavy = |trace: u16| {
        let mut request = checkout_trace(1);
        let span = &mut request.resource_spans[0].scope_spans[0].spans[0];
        span.trace_id = [trace.to_be_bytes().as_slice(), &[7; 14]].concat();
        span.events =
            (0..128).map(|_| Event { attributes: vec![KeyValue::default(); 128], ..Default::default() }).collect();
        request.resource_spans.truncate(1);
        request.resource_spans[0].scope_spans[0].spans.truncate(1);
        request
    };
    for batch in 0..4u16 {
        let mut request = heavy(batch * 50);
        for trace in 1..50 {
            let mut more = heavy(batch * 50 + trace);
            request.resource_spans[0].scope_spans[0].spans.append(&mut more.resource_spans[0].scope_spans[0].spans);
        }
        assert_eq!(post(&viewer, "traces", "application/x-protobuf", request.encode_to_vec()).await.status(), 200);
        let stats = get(&viewer, "/api/stats").await;
        assert!(stats["span_bytes"].as_u64().expect("span_bytes") <= max_bytes as u64, "{stats}");
    }
    let stats = get(&viewer, "/api/stats").await;
    let (kept, evicted) = (stats["spans"].as_u64().expect("spans"), stats["spans_evicted"].as_u64().expect("evicted"));
    assert!(kept > 0 && evicted > 0 && kept + evicted == 200, "{stats}");
    // The newest trace is kept.
    let newest = get(&viewer, &format!("/api/traces/{}", hex_id(199))).await;
    assert_eq!(newest["spans"][0]["events"].as_array().expect("events").len(), 128);
    viewer.stop().await;
}

fn hex_id(trace: u16) -> String {
    format!("{trace:04x}{}", "07".repeat(14))
}

/// A resource is stored with the spans that come with it: requests of one span each with a resource of 512 KiB
/// held 512 KiB per span while the byte bound counted a few hundred bytes, so 100,000 of them held 50 GB.
#[tokio::test]
async fn resources_count_toward_the_byte_bound() {
    let max_bytes = 2 * 1024 * 1024;
    let viewer = start(Limits { max_bytes, ..Limits::default() }).await;
    let resource_bytes = 128 * 4096;
    for trace in 1..=10u8 {
        let mut request = checkout_trace(trace);
        request.resource_spans.truncate(1);
        request.resource_spans[0].scope_spans[0].spans.truncate(1);
        let attributes = &mut request.resource_spans[0].resource.as_mut().expect("a resource").attributes;
        attributes.extend((1..128).map(|key| string(&format!("k{key}"), &"r".repeat(4096))));
        assert_eq!(post(&viewer, "traces", "application/x-protobuf", request.encode_to_vec()).await.status(), 200);
    }
    let stats = get(&viewer, "/api/stats").await;
    let (kept, evicted) = (stats["spans"].as_u64().expect("spans"), stats["spans_evicted"].as_u64().expect("evicted"));
    assert!(kept * resource_bytes <= max_bytes as u64, "{kept} resources of 512 KiB held: {stats}");
    assert!(kept > 0 && kept + evicted == 10, "{stats}");
    viewer.stop().await;
}

/// Metric series are bounded in bytes too: 10,000 series (the default count) of 128 attributes of 4 KiB took
/// 10 GB, past any `--max-memory-mib`; a new series past the byte bound is dropped and counted.
#[tokio::test]
async fn metric_series_are_bounded_in_bytes_too() {
    let max_bytes = 4 * 1024 * 1024;
    let viewer = start(Limits { max_bytes, ..Limits::default() }).await;
    let series_bytes = 128 * 4096;
    let heavy = |series: i64, value: i64| {
        let mut request = queue_metric(value);
        let metric = &mut request.resource_metrics[0].scope_metrics[0].metrics[0];
        let Some(metric::Data::Gauge(gauge)) = &mut metric.data else { panic!("a gauge") };
        let attributes = &mut gauge.data_points[0].attributes;
        attributes.push(string("series", &series.to_string()));
        attributes.extend((2..128).map(|key| string(&format!("k{key}"), &"a".repeat(4096))));
        request.encode_to_vec()
    };
    for series in 1..=20 {
        assert_eq!(post(&viewer, "metrics", "application/x-protobuf", heavy(series, 1)).await.status(), 200);
    }
    let stats = get(&viewer, "/api/stats").await;
    let (kept, dropped) =
        (stats["series"].as_u64().expect("series"), stats["series_dropped"].as_u64().expect("dropped"));
    assert!(kept * series_bytes <= max_bytes as u64, "{kept} series of 512 KiB held: {stats}");
    assert!(kept > 0 && kept + dropped == 20, "{stats}");
    assert!(stats["series_bytes"].as_u64().expect("series_bytes") <= max_bytes as u64, "{stats}");
    // A series kept still takes its newer points.
    assert_eq!(post(&viewer, "metrics", "application/x-protobuf", heavy(1, 2)).await.status(), 200);
    let after = get(&viewer, "/api/stats").await;
    assert_eq!((after["series"].as_u64(), after["series_dropped"].as_u64()), (Some(kept), Some(dropped)), "{after}");
    let metrics = get(&viewer, "/api/metrics").await;
    let first = metrics[0]["series"].as_array().expect("series").iter().find(|s| s["attributes"]["series"] == "1");
    assert_eq!(first.map(|s| &s["value"]["value"]), Some(&Json::from(2.0)), "the newer point of series 1");
    viewer.stop().await;
}

/// The services view and `/api/stats` show the 100 busiest services and operations and count the rest: a sender
/// making up 100,000 service names made each poll of the page hundreds of MB of JSON and as many page sections.
#[tokio::test]
async fn the_services_views_show_the_busiest_and_count_the_rest() {
    let viewer = start(Limits::default()).await;
    let mut request = checkout_trace(1);
    let template = request.resource_spans[0].clone();
    let span_of = |service: &str, name: &str, id: u16| {
        let mut resource_spans = template.clone();
        resource_spans.resource = resource(service);
        let spans = &mut resource_spans.scope_spans[0].spans;
        spans.truncate(1);
        spans[0].name = name.to_owned();
        spans[0].span_id = [id.to_be_bytes().as_slice(), &[9; 6]].concat();
        resource_spans
    };
    let mut all: Vec<ResourceSpans> = (0..150).map(|n| span_of(&format!("made-up-{n:03}"), "GET /", n)).collect();
    all.extend((0..150).map(|n| span_of("busy", &format!("GET /{n:03}"), 1000 + n)));
    request.resource_spans = all;
    assert_eq!(post(&viewer, "traces", "application/x-protobuf", request.encode_to_vec()).await.status(), 200);
    let view = get(&viewer, "/api/services?window=60").await;
    let services = view["services"].as_array().expect("services");
    assert_eq!((services.len(), view["services_not_shown"].as_u64()), (100, Some(51)), "{view}");
    let busy = services.iter().find(|s| s["name"] == "busy").expect("the busiest service is shown");
    assert_eq!(busy["operations"].as_array().map(Vec::len), Some(100));
    assert_eq!(busy["operations_not_shown"], 50);
    let stats = get(&viewer, "/api/stats").await;
    assert_eq!((stats["services"].as_array().map(Vec::len), stats["services_total"].as_u64()), (Some(100), Some(151)));
    viewer.stop().await;
}
