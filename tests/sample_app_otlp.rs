//! End to end, as a user runs it: the sample app with telemetry from `OTEL_*` variables only,
//! exporting OTLP to a receiver in this test. Every endpoint is driven in a child process (its
//! `traced::init()` is process-global); the parent asserts what the receiver got.

use std::collections::BTreeMap;
use std::process::Output;
use std::time::Duration;

use opentelemetry_proto::tonic::metrics::v1::metric::Data;
use opentelemetry_proto::tonic::metrics::v1::number_data_point::Value as NumberValue;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use tokio::net::TcpListener;
use traced_examples::app::{telemetry, AppConfig, SampleApp};
use traced_tests::{child, ReceivedMetric, ReceivedSpan, Receiver, ReceiverOptions, Transport};

/// What the child prints so the parent can compare it with the spans.
const REQUEST_ID_LINE: &str = "exception request_id=";

/// The requests the child sends, with the status each must get.
const REQUESTS: [(&str, u16); 7] = [
    ("/", 200),
    ("/ping", 200),
    ("/items/2?q=shoes", 200),
    ("/items/3", 200),
    ("/users/1", 200),
    ("/external-api", 200),
    ("/exception", 500),
];

/// The child side: the sample app's own telemetry setup, every endpoint, then a flushing shutdown.
#[test]
fn child_scenario() {
    if child::scenario().is_none() {
        return;
    }
    let telemetry = telemetry::init().expect("telemetry from the environment");
    let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime");
    let request_id = runtime.block_on(drive_every_endpoint());
    drop(runtime);
    telemetry.shutdown().expect("every signal flushed");
    println!("{REQUEST_ID_LINE}{request_id}");
}

async fn drive_every_endpoint() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind an ephemeral port");
    let config = AppConfig { io_delay: Duration::from_millis(5), ..AppConfig::default() };
    let app = SampleApp::start(config).await.expect("start the app").spawn(listener).expect("serve");
    let mut request_id = String::new();
    for (path, status) in REQUESTS {
        let response = reqwest::get(app.url(path)).await.expect("the app answers");
        assert_eq!(response.status().as_u16(), status, "{path}");
        let body: serde_json::Value = response.json().await.expect("a JSON body");
        if path == "/exception" {
            request_id = body["request_id"].as_str().expect("request_id").to_owned();
        }
    }
    // Waits for every response to finish, so every server span has ended before the flush.
    app.stop().await.expect("graceful stop");
    request_id
}

fn run_child(receiver: &Receiver) -> String {
    let vars = [
        ("OTEL_SERVICE_NAME", "sample-app".to_owned()),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint()),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", receiver.protocol().to_owned()),
    ];
    let output: Output = child::run("child_scenario", "sample-app", &vars);
    child::assert_success(&output);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout.lines().find_map(|line| line.strip_prefix(REQUEST_ID_LINE));
    line.expect("the child printed the request_id").to_owned()
}

fn one<'a>(spans: &'a [ReceivedSpan], name: &str) -> &'a ReceivedSpan {
    let matching: Vec<&ReceivedSpan> = spans.iter().filter(|span| span.name() == name).collect();
    assert_eq!(
        matching.len(),
        1,
        "one span named {name}; got {:?}",
        spans.iter().map(|s| s.name()).collect::<Vec<_>>()
    );
    matching[0]
}

fn kind(span: &ReceivedSpan) -> SpanKind {
    SpanKind::try_from(span.span.kind).unwrap_or(SpanKind::Unspecified)
}

fn assert_spans(spans: &[ReceivedSpan], request_id: &str) {
    let servers: Vec<&str> = spans.iter().filter(|s| kind(s) == SpanKind::Server).map(|s| s.name()).collect();
    let mut servers_sorted = servers.clone();
    servers_sorted.sort_unstable();
    assert_eq!(
        servers_sorted,
        [
            "GET /",
            "GET /exception",
            "GET /external-api",
            "GET /items/{item_id}",
            "GET /items/{item_id}",
            "GET /ping",
            "GET /todos/{id}",
            "GET /users/{user_id}",
        ],
        "one server span per request, named by route"
    );
    assert!(spans.iter().all(|s| s.resource_attribute("service.name").as_deref() == Some("sample-app")));

    // `load-item` under its request; even ids record the simulated I/O.
    for load in spans.iter().filter(|s| s.name() == "load-item") {
        let parent = spans.iter().find(|s| s.span_id() == load.parent_span_id()).expect("load-item has its parent");
        assert_eq!(parent.name(), "GET /items/{item_id}");
        match load.attribute("item.id").as_deref() {
            Some("2") => assert_eq!(load.attribute("demo.io_delay_seconds").as_deref(), Some("0.005")),
            Some("3") => assert_eq!(load.attribute("demo.io_delay_seconds"), None),
            other => panic!("unexpected item.id {other:?}"),
        }
    }
    assert_eq!(spans.iter().filter(|s| s.name() == "load-item").count(), 2);

    // `/external-api`: server -> client -> the todo service's server span, one trace.
    let outer = one(spans, "GET /external-api");
    let client = spans.iter().find(|s| kind(s) == SpanKind::Client).expect("a CLIENT span");
    let downstream = one(spans, "GET /todos/{id}");
    assert_eq!(client.parent_span_id(), outer.span_id());
    assert_eq!((downstream.trace_id(), downstream.parent_span_id()), (outer.trace_id(), client.span_id()));

    // `/exception`: ERROR, and the caller's request_id finds the trace.
    let exception = one(spans, "GET /exception");
    assert_eq!(exception.trace_id(), request_id);
    let status = exception.span.status.as_ref().map(|s| s.code);
    assert_eq!(status, Some(StatusCode::Error as i32));
    let event = exception.span.events.iter().find(|e| e.name == "exception").expect("an exception event");
    assert_eq!(attribute(&event.attributes, "exception.message"), "this is a test exception");

    // The traced dependency: a `database_operation` child of the request reading the user.
    let database = one(spans, "database_operation");
    assert_eq!(database.parent_span_id(), one(spans, "GET /users/{user_id}").span_id());
    assert_eq!(database.attribute("db.namespace").as_deref(), Some("demo"));
}

/// The last export of `name` (metrics are cumulative, so the last one holds every request).
fn last<'a>(metrics: &'a [ReceivedMetric], name: &str) -> &'a ReceivedMetric {
    metrics.iter().rev().find(|m| m.name() == name).unwrap_or_else(|| panic!("no metric {name} received"))
}

fn attribute(attributes: &[opentelemetry_proto::tonic::common::v1::KeyValue], key: &str) -> String {
    use opentelemetry_proto::tonic::common::v1::any_value::Value;
    let value = attributes.iter().find(|kv| kv.key == key).and_then(|kv| kv.value.as_ref()?.value.as_ref());
    match value {
        Some(Value::StringValue(text)) => text.clone(),
        Some(Value::IntValue(number)) => number.to_string(),
        other => panic!("{key}: {other:?}"),
    }
}

fn assert_metrics(metrics: &[ReceivedMetric]) {
    let Some(Data::Histogram(durations)) = &last(metrics, "http.server.request.duration").metric.data else {
        panic!("http.server.request.duration is a histogram");
    };
    let mut per_route = BTreeMap::new();
    for point in &durations.data_points {
        *per_route.entry(attribute(&point.attributes, "http.route")).or_insert(0) += point.count;
    }
    let expected: BTreeMap<String, u64> = [
        ("/", 1),
        ("/exception", 1),
        ("/external-api", 1),
        ("/items/{item_id}", 2),
        ("/ping", 1),
        ("/todos/{id}", 1),
        ("/users/{user_id}", 1),
    ]
    .into_iter()
    .map(|(route, count)| (route.to_owned(), count))
    .collect();
    assert_eq!(per_route, expected, "a duration count per route");

    let Some(Data::Sum(calls)) = &last(metrics, "inter_service_requests").metric.data else {
        panic!("inter_service_requests is a sum");
    };
    let points: Vec<(String, Option<NumberValue>)> =
        calls.data_points.iter().map(|p| (attribute(&p.attributes, "target_service"), p.value)).collect();
    assert_eq!(points, [("todo-service".to_owned(), Some(NumberValue::AsInt(1)))]);
}

fn end_to_end(transport: Transport) {
    let receiver = Receiver::start_blocking(transport, ReceiverOptions::default());
    let request_id = run_child(&receiver);
    // The child flushed before it exited: everything has arrived.
    assert_spans(&receiver.spans(), &request_id);
    assert_metrics(&receiver.metrics());

    let items = receiver.spans().into_iter().find(|s| s.attribute("url.path").as_deref() == Some("/items/2"));
    let items = items.expect("the /items/2 server span");
    let logs = receiver.logs();
    let slow = logs.iter().find(|log| log.body().as_deref() == Some("slow path: waiting on simulated I/O"));
    let slow = slow.expect("the load-item log line");
    assert_eq!(slow.trace_id(), items.trace_id(), "the log line carries its request's trace id");
}

#[test]
fn sample_app_over_otlp_grpc() {
    if child::scenario().is_none() {
        end_to_end(Transport::Grpc);
    }
}

#[test]
fn sample_app_over_otlp_http() {
    if child::scenario().is_none() {
        end_to_end(Transport::Http);
    }
}
