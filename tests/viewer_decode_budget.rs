//! The viewer's decode budget from the outside. Requests whose decoded form would be far larger than their bytes
//! (floods of empty spans, data points, attributes or `{}`, gzip or not, protobuf or JSON, over gRPC and HTTP)
//! are refused before decoding with the protocol's "too large" answer, store nothing, and the process's memory
//! stays within a few times the request's bytes; realistic 16 MiB requests of the three signals are still taken.
//! A counting allocator also checks the estimate against what decoding really allocates.
#![allow(unsafe_code)] // the counting global allocator below

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::Write as _;
use std::sync::atomic::{AtomicUsize, Ordering};

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::{ExportTraceServiceRequest, ExportTraceServiceResponse};
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::metrics::v1::number_data_point::Value as Number;
use opentelemetry_proto::tonic::metrics::v1::{
    metric, Gauge, Histogram, HistogramDataPoint, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::{Event, Link};
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};
use prost::bytes::{Buf as _, BufMut as _};
use prost::Message;
use tonic::codec::{Codec, CompressionEncoding, DecodeBuf, Decoder, EncodeBuf, Encoder};
use traced_examples::viewer::signal::{Encoding, Signal};
use traced_examples::viewer::{self, decode_budget, RunningViewer, ViewerConfig, MAX_DECODED_BYTES, MAX_REQUEST_BYTES};

const PROTOBUF: Encoding = Encoding::Protobuf;
const JSON: Encoding = Encoding::Json;

struct CountingAllocator;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

fn grew(bytes: usize) {
    let live = LIVE.fetch_add(bytes, Ordering::Relaxed) + bytes;
    PEAK.fetch_max(live, Ordering::Relaxed);
}

// SAFETY: forwards to the system allocator; only counts the bytes live, in two atomics, without allocating.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: same contract as ours.
        let pointer = unsafe { System.alloc(layout) };
        if !pointer.is_null() {
            grew(layout.size());
        }
        pointer
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: same contract as ours.
        let pointer = unsafe { System.alloc_zeroed(layout) };
        if !pointer.is_null() {
            grew(layout.size());
        }
        pointer
    }
    unsafe fn dealloc(&self, pointer: *mut u8, layout: Layout) {
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(pointer, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }
    unsafe fn realloc(&self, pointer: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: same contract as ours.
        let moved = unsafe { System.realloc(pointer, layout, new_size) };
        if !moved.is_null() {
            match new_size.checked_sub(layout.size()) {
                Some(more) => grew(more),
                None => {
                    LIVE.fetch_sub(layout.size() - new_size, Ordering::Relaxed);
                }
            }
        }
        moved
    }
}

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

/// The tests measure the whole process's memory: one runs at a time.
static EXCLUSIVE: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Measures the most bytes live at once from now on, above those live now (every thread).
struct Watch(usize);

impl Watch {
    fn start() -> Watch {
        let live = LIVE.load(Ordering::Relaxed);
        PEAK.store(live, Ordering::Relaxed);
        Watch(live)
    }

    fn peak(&self) -> usize {
        PEAK.load(Ordering::Relaxed).saturating_sub(self.0)
    }
}

const MIB: usize = 1024 * 1024;

fn mib(bytes: usize) -> f64 {
    bytes as f64 / MIB as f64
}

// Realistic data: a web service's spans, metrics and logs.

fn text(key: &str, value: impl Into<String>) -> KeyValue {
    let value = Some(AnyValue { value: Some(Value::StringValue(value.into())) });
    KeyValue { key: key.to_owned(), value, ..Default::default() }
}

fn int(key: &str, value: i64) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue { value: Some(Value::IntValue(value)) }),
        ..Default::default()
    }
}

fn resource(index: usize) -> Option<Resource> {
    let attributes = vec![
        text("service.name", ["frontend", "cart", "payments"][index % 3]),
        text("service.version", "1.4.2"),
        text("service.instance.id", format!("0f9c5e1e-6a1b-4d2e-9c3f-{index:012}")),
        text("deployment.environment.name", "production"),
        text("host.name", format!("web-{}.eu-west-1.internal", index % 16)),
        int("process.pid", 4000 + index as i64),
        text("telemetry.sdk.name", "opentelemetry"),
        text("telemetry.sdk.version", "0.33.0"),
    ];
    Some(Resource { attributes, ..Default::default() })
}

fn scope() -> Option<InstrumentationScope> {
    Some(InstrumentationScope { name: "traced".to_owned(), version: "0.1.0".to_owned(), ..Default::default() })
}

const ROUTES: [&str; 4] = ["/items/{id}", "/checkout", "/users/{id}/orders", "/"];
const USER_AGENT: &str =
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36";

/// Span `n` (unique over `0..`): ten attributes; a third with an event (an exception with its stack trace, or a
/// retry), a tenth with a link; five spans a trace.
fn span(n: u64) -> Span {
    let route = ROUTES[n as usize % ROUTES.len()];
    let mut trace_id = vec![0; 16];
    trace_id[..8].copy_from_slice(&(n / 5 + 1).to_be_bytes());
    let span_id = (n + 1).to_be_bytes().to_vec();
    let start = 1_764_000_000_000_000_000 + n * 1_000_000;
    let mut span = Span {
        trace_id: trace_id.clone(),
        span_id,
        parent_span_id: if n.is_multiple_of(5) { Vec::new() } else { n.to_be_bytes().to_vec() },
        name: format!("GET {route}"),
        kind: 2,
        start_time_unix_nano: start,
        end_time_unix_nano: start + 3_000_000 + n % 1000 * 1000,
        attributes: vec![
            text("http.request.method", "GET"),
            text("url.path", route.replace("{id}", &n.to_string())),
            text("http.route", route),
            int("http.response.status_code", if n.is_multiple_of(3) { 500 } else { 200 }),
            text("server.address", "shop.example.com"),
            int("server.port", 443),
            text("user_agent.original", USER_AGENT),
            text("network.protocol.version", "1.1"),
            text("client.address", format!("10.0.{}.{}", n % 256, n % 199)),
            text("app.user.id", format!("u-{:08}", n % 100_000)),
        ],
        ..Default::default()
    };
    if n.is_multiple_of(3) {
        span.events = vec![Event {
            time_unix_nano: start + 1_000_000,
            name: "exception".to_owned(),
            attributes: vec![
                text("exception.type", "app::errors::PaymentDeclined"),
                text("exception.message", format!("card declined for order {n}")),
                text("exception.stacktrace", "at app::payments::charge (src/payments.rs:88)\n".repeat(5)),
            ],
            ..Default::default()
        }];
        span.status = Some(Status { code: 2, message: "card declined".to_owned() });
    } else if n % 3 == 1 {
        span.events =
            vec![Event { name: "retry".to_owned(), attributes: vec![int("attempt", 2)], ..Default::default() }];
    }
    if n.is_multiple_of(10) {
        span.links = vec![Link {
            trace_id,
            span_id: (n + 7).to_be_bytes().to_vec(),
            attributes: vec![text("link.kind", "follows_from"), int("batch.size", 20)],
            ..Default::default()
        }];
    }
    span
}

const SPANS_PER_RESOURCE: u64 = 200;

fn traces(resources: usize, first: u64) -> ExportTraceServiceRequest {
    let resource_spans = (0..resources)
        .map(|r| ResourceSpans {
            resource: resource(r),
            scope_spans: vec![ScopeSpans {
                scope: scope(),
                spans: (0..SPANS_PER_RESOURCE).map(|i| span(first + r as u64 * SPANS_PER_RESOURCE + i)).collect(),
                ..Default::default()
            }],
            ..Default::default()
        })
        .collect();
    ExportTraceServiceRequest { resource_spans }
}

/// Per resource: request durations as histograms (15 buckets) and counts as sums, a gauge, 40 series each.
fn metrics(resources: usize, _: u64) -> ExportMetricsServiceRequest {
    let point_attributes = |i: usize| {
        vec![
            text("http.request.method", ["GET", "POST"][i % 2]),
            text("http.route", ROUTES[i % ROUTES.len()]),
            int("http.response.status_code", [200, 404, 500][i % 3]),
        ]
    };
    let bounds = vec![0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0];
    let histogram = |i: usize| HistogramDataPoint {
        attributes: point_attributes(i),
        start_time_unix_nano: 1_764_000_000_000_000_000,
        time_unix_nano: 1_764_000_060_000_000_000,
        count: 1000 + i as u64,
        sum: Some(12.5 * i as f64),
        bucket_counts: (0..15).map(|b| (b * 7 + i) as u64).collect(),
        explicit_bounds: bounds.clone(),
        min: Some(0.001),
        max: Some(9.5),
        ..Default::default()
    };
    let number = |i: usize| NumberDataPoint {
        attributes: point_attributes(i),
        start_time_unix_nano: 1_764_000_000_000_000_000,
        time_unix_nano: 1_764_000_060_000_000_000,
        value: Some(Number::AsInt(i as i64 * 3)),
        ..Default::default()
    };
    let metric = |name: &str, unit: &str, data| Metric {
        name: name.to_owned(),
        description: format!("{name}, as the semantic conventions define it"),
        unit: unit.to_owned(),
        data: Some(data),
        ..Default::default()
    };
    let resource_metrics = (0..resources)
        .map(|r| ResourceMetrics {
            resource: resource(r),
            scope_metrics: vec![ScopeMetrics {
                scope: scope(),
                metrics: vec![
                    metric(
                        "http.server.request.duration",
                        "s",
                        metric::Data::Histogram(Histogram {
                            data_points: (0..40).map(histogram).collect(),
                            aggregation_temporality: 2,
                        }),
                    ),
                    metric(
                        "http.server.requests",
                        "{request}",
                        metric::Data::Sum(Sum {
                            data_points: (0..40).map(number).collect(),
                            aggregation_temporality: 2,
                            is_monotonic: true,
                        }),
                    ),
                    metric(
                        "http.server.active_requests",
                        "{request}",
                        metric::Data::Gauge(Gauge { data_points: (0..40).map(number).collect() }),
                    ),
                ],
                ..Default::default()
            }],
            ..Default::default()
        })
        .collect();
    ExportMetricsServiceRequest { resource_metrics }
}

/// Per resource 200 records: a sentence of a body, five attributes, the trace and span ids.
fn logs(resources: usize, first: u64) -> ExportLogsServiceRequest {
    let record = |n: u64| LogRecord {
        time_unix_nano: 1_764_000_000_000_000_000 + n,
        observed_time_unix_nano: 1_764_000_000_000_000_000 + n,
        severity_number: 9,
        severity_text: "INFO".to_owned(),
        body: Some(AnyValue {
            value: Some(Value::StringValue(format!(
                "order {n} charged: 3 items, 42.00 EUR, card ending 4242, took 38 ms"
            ))),
        }),
        attributes: vec![
            text("code.function", "app::payments::charge"),
            text("code.filepath", "src/payments.rs"),
            int("code.lineno", 88),
            text("order.id", format!("o-{n:010}")),
            text("thread.name", "tokio-runtime-worker"),
        ],
        trace_id: (n / 5 + 1).to_be_bytes().repeat(2),
        span_id: (n + 1).to_be_bytes().to_vec(),
        ..Default::default()
    };
    let resource_logs = (0..resources)
        .map(|r| ResourceLogs {
            resource: resource(r),
            scope_logs: vec![ScopeLogs {
                scope: scope(),
                log_records: (0..200).map(|i| record(first + r as u64 * 200 + i)).collect(),
                ..Default::default()
            }],
            ..Default::default()
        })
        .collect();
    ExportLogsServiceRequest { resource_logs }
}

/// As many resources of `build` as fit in `bytes` once encoded by `encode`.
fn sized<T>(bytes: usize, first: u64, build: fn(usize, u64) -> T, encode: fn(&T) -> Vec<u8>) -> (T, Vec<u8>) {
    let mut resources = bytes / encode(&build(1, first)).len();
    loop {
        let request = build(resources, first);
        let encoded = encode(&request);
        if encoded.len() <= bytes {
            assert!(encoded.len() > bytes * 9 / 10, "{} of {bytes}", encoded.len());
            return (request, encoded);
        }
        resources -= 1 + (encoded.len() - bytes) / (encoded.len() / resources);
    }
}

fn protobuf<T: Message>(request: &T) -> Vec<u8> {
    request.encode_to_vec()
}

fn json<T: serde::Serialize>(request: &T) -> Vec<u8> {
    serde_json::to_vec(request).expect("serializable")
}

/// What the budget sees in `body` and what decoding it really holds at most; prints the ratios.
fn measure<S: Signal>(what: &str, body: &[u8], encoding: Encoding) -> (usize, usize) {
    let estimate = match encoding {
        Encoding::Protobuf => decode_budget::protobuf(body, S::SCHEMA, usize::MAX),
        Encoding::Json => decode_budget::json(body, S::SCHEMA, usize::MAX),
    };
    let estimate = estimate.expect("a well-formed body");
    let watch = Watch::start();
    let decoded: S = match encoding {
        Encoding::Protobuf => S::decode(body).expect("decodes"),
        Encoding::Json => serde_json::from_slice(body).expect("decodes"),
    };
    let peak = watch.peak();
    drop(decoded);
    let wire = body.len() as f64;
    println!(
        "{what}: {:.1} MiB on the wire, estimate {:.1} MiB ({:.2}x), decode peak {:.1} MiB ({:.2}x)",
        mib(body.len()),
        mib(estimate),
        estimate as f64 / wire,
        mib(peak),
        peak as f64 / wire
    );
    (estimate, peak)
}

/// Realistic requests as large as accepted estimate at a few times their size and fit the budget with room;
/// for them and for hostile shapes small enough to decode, decoding never holds twice the estimate.
#[tokio::test]
async fn the_estimate_bounds_what_decoding_holds_and_realistic_requests_fit() {
    let _alone = EXCLUSIVE.lock().await;
    let largest = MAX_REQUEST_BYTES - 64 * 1024;
    let realistic = [
        measure::<ExportTraceServiceRequest>("traces, protobuf", &sized(largest, 0, traces, protobuf).1, PROTOBUF),
        measure::<ExportTraceServiceRequest>("traces, JSON", &sized(largest, 0, traces, json).1, JSON),
        measure::<ExportMetricsServiceRequest>("metrics, protobuf", &sized(largest, 0, metrics, protobuf).1, PROTOBUF),
        measure::<ExportMetricsServiceRequest>("metrics, JSON", &sized(largest, 0, metrics, json).1, JSON),
        measure::<ExportLogsServiceRequest>("logs, protobuf", &sized(largest, 0, logs, protobuf).1, PROTOBUF),
        measure::<ExportLogsServiceRequest>("logs, JSON", &sized(largest, 0, logs, json).1, JSON),
    ];
    for (estimate, peak) in &realistic {
        assert!(*estimate <= MAX_DECODED_BYTES / 2, "a realistic request fits with room: {estimate}");
        assert!(*peak <= 2 * estimate, "decoding held {peak} bytes for an estimate of {estimate}");
    }

    let small = MAX_REQUEST_BYTES / 64;
    type Measure = fn(&str, &[u8], Encoding) -> (usize, usize);
    let hostile: [(&str, Vec<u8>, Encoding, Measure); 6] = [
        ("empty spans", hostile_traces(small), PROTOBUF, measure::<ExportTraceServiceRequest>),
        ("empty points", hostile_metrics(small), PROTOBUF, measure::<ExportMetricsServiceRequest>),
        ("empty attributes", hostile_logs(small), PROTOBUF, measure::<ExportLogsServiceRequest>),
        ("{} resource spans", json_traces(small), JSON, measure::<ExportTraceServiceRequest>),
        ("{} gauge points", json_metrics(small), JSON, measure::<ExportMetricsServiceRequest>),
        ("{} in nested arrays", json_logs(small), JSON, measure::<ExportLogsServiceRequest>),
    ];
    for (what, body, encoding, measure) in hostile {
        let (estimate, peak) = measure(what, &body, encoding);
        assert!(estimate > 20 * body.len(), "{what}: a hostile shape amplifies ({estimate} for {})", body.len());
        assert!(peak <= 2 * estimate, "{what}: decoding held {peak} bytes for an estimate of {estimate}");
    }
}

// Hostile bodies of about `bytes` bytes.

/// `payload` wrapped in length-delimited fields, outermost first.
fn nest(path: &[u32], payload: Vec<u8>) -> Vec<u8> {
    path.iter().rev().fold(payload, |inner, number| {
        let mut outer = Vec::with_capacity(inner.len() + 16);
        prost::encoding::encode_key(*number, prost::encoding::WireType::LengthDelimited, &mut outer);
        prost::encoding::encode_varint(inner.len() as u64, &mut outer);
        outer.extend(inner);
        outer
    })
}

/// Empty spans (`ScopeSpans.spans`, field 2: 2 bytes each).
fn hostile_traces(bytes: usize) -> Vec<u8> {
    nest(&[1, 2], [0x12, 0x00].repeat(bytes / 2 - 8))
}

/// Empty data points of one gauge (`Gauge.data_points`, field 1).
fn hostile_metrics(bytes: usize) -> Vec<u8> {
    nest(&[1, 2, 2, 5], [0x0a, 0x00].repeat(bytes / 2 - 12))
}

/// Empty attributes of one log record (`LogRecord.attributes`, field 6).
fn hostile_logs(bytes: usize) -> Vec<u8> {
    nest(&[1, 2, 2], [0x32, 0x00].repeat(bytes / 2 - 12))
}

fn json_flood(head: &str, tail: &str, bytes: usize) -> Vec<u8> {
    let count = (bytes - head.len() - tail.len()) / 3;
    format!("{head}{}{{}}{tail}", "{},".repeat(count - 1)).into_bytes()
}

fn json_traces(bytes: usize) -> Vec<u8> {
    json_flood(r#"{"resourceSpans":["#, "]}", bytes)
}

fn json_metrics(bytes: usize) -> Vec<u8> {
    json_flood(r#"{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"gauge":{"dataPoints":["#, "]}}]}]}]}", bytes)
}

/// A log body of arrays nested 10 deep around the flood: serde buffers it once per level.
fn json_logs(bytes: usize) -> Vec<u8> {
    let open = format!(
        r#"{{"resourceLogs":[{{"scopeLogs":[{{"logRecords":[{{"body":{}"#,
        r#"{"arrayValue":{"values":["#.repeat(10)
    );
    let close = format!("{}}}]}}]}}]}}", "]}}".repeat(10));
    json_flood(&open, &close, bytes)
}

fn gzip(body: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(body).expect("compress");
    encoder.finish().expect("compress")
}

/// Sends pre-encoded protobuf bytes as a gRPC message and reads the answer's bytes.
#[derive(Debug, Clone, Copy)]
struct RawCodec;

impl Codec for RawCodec {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = RawCodec;
    type Decoder = RawCodec;

    fn encoder(&mut self) -> RawCodec {
        RawCodec
    }

    fn decoder(&mut self) -> RawCodec {
        RawCodec
    }
}

impl Encoder for RawCodec {
    type Item = Vec<u8>;
    type Error = tonic::Status;

    fn encode(&mut self, item: Vec<u8>, buffer: &mut EncodeBuf<'_>) -> Result<(), tonic::Status> {
        buffer.put_slice(&item);
        Ok(())
    }
}

impl Decoder for RawCodec {
    type Item = Vec<u8>;
    type Error = tonic::Status;

    fn decode(&mut self, buffer: &mut DecodeBuf<'_>) -> Result<Option<Vec<u8>>, tonic::Status> {
        Ok(Some(buffer.copy_to_bytes(buffer.remaining()).to_vec()))
    }
}

async fn grpc_export(
    viewer: &RunningViewer,
    service: &str,
    body: Vec<u8>,
    gzip: bool,
) -> Result<Vec<u8>, tonic::Status> {
    let endpoint = tonic::transport::Endpoint::from_shared(format!("http://{}", viewer.grpc_addr)).expect("a URI");
    let channel = endpoint.connect().await.expect("connect");
    let mut grpc = tonic::client::Grpc::new(channel).max_encoding_message_size(usize::MAX);
    if gzip {
        grpc = grpc.send_compressed(CompressionEncoding::Gzip);
    }
    grpc.ready().await.expect("ready");
    let path = http::uri::PathAndQuery::try_from(format!("/{service}/Export")).expect("a path");
    grpc.unary(tonic::Request::new(body), path, RawCodec).await.map(tonic::Response::into_inner)
}

async fn http_export(
    viewer: &RunningViewer,
    signal: &str,
    content_type: &str,
    body: Vec<u8>,
    gzip: bool,
) -> reqwest::Response {
    let mut request = reqwest::Client::new()
        .post(format!("http://{}/v1/{signal}", viewer.http_addr))
        .header("content-type", content_type);
    if gzip {
        request = request.header("content-encoding", "gzip");
    }
    request.body(body).send().await.expect("the receiver answers")
}

/// `google.rpc.Status` as the viewer answers it.
#[derive(Clone, PartialEq, prost::Message)]
struct RpcStatus {
    #[prost(int32, tag = "1")]
    code: i32,
    #[prost(string, tag = "2")]
    message: String,
}

fn nothing_stored(viewer: &RunningViewer) {
    let data = viewer.store.read();
    assert_eq!((data.span_count, data.logs.len(), data.series.len()), (0, 0, 0));
}

const SERVICES: [(&str, &str); 3] = [
    ("traces", "opentelemetry.proto.collector.trace.v1.TraceService"),
    ("metrics", "opentelemetry.proto.collector.metrics.v1.MetricsService"),
    ("logs", "opentelemetry.proto.collector.logs.v1.LogsService"),
];

/// Each signal's flood, as large as accepted on the wire (or a few KiB gzipped), gets 413 with a
/// `google.rpc.Status` (`RESOURCE_EXHAUSTED`) in the request's encoding over HTTP and `RESOURCE_EXHAUSTED` over
/// gRPC, naming the limit; nothing is stored and the process's memory grows by a few times the body at most
/// (decoded, the body would have held gigabytes).
#[tokio::test]
async fn floods_are_refused_before_decoding_at_every_door() {
    let _alone = EXCLUSIVE.lock().await;
    let viewer = viewer::start(ViewerConfig::ephemeral()).await.expect("the viewer starts");
    let largest = MAX_REQUEST_BYTES - 64;
    let floods = [
        (hostile_traces(largest), json_traces(largest)),
        (hostile_metrics(largest), json_metrics(largest)),
        (hostile_logs(largest), json_logs(largest)),
    ];
    let limit = MAX_DECODED_BYTES.to_string();
    for ((signal, service), (protobuf, json)) in SERVICES.into_iter().zip(floods) {
        for zipped in [false, true] {
            let body = |bytes: &Vec<u8>| if zipped { gzip(bytes) } else { bytes.clone() };
            let (protobuf_body, json_body) = (body(&protobuf), body(&json));
            let case = format!("{signal}, gzip {zipped}");

            let watch = Watch::start();
            let response = http_export(&viewer, signal, "application/x-protobuf", protobuf_body, zipped).await;
            assert_eq!(response.status(), 413, "{case}");
            let status = RpcStatus::decode(response.bytes().await.expect("a body")).expect("a protobuf Status");
            assert_eq!(status.code, 8, "{case}");
            assert!(status.message.contains(&limit), "{case}: {}", status.message);
            report(&case, "HTTP protobuf", &watch);

            let watch = Watch::start();
            let response = http_export(&viewer, signal, "application/json", json_body, zipped).await;
            assert_eq!(response.status(), 413, "{case}");
            let status: serde_json::Value = response.json().await.expect("a JSON Status");
            assert_eq!(status["code"], 8, "{case}");
            assert!(status["message"].as_str().expect("a message").contains(&limit), "{case}: {status}");
            report(&case, "HTTP JSON", &watch);

            let watch = Watch::start();
            let refused = grpc_export(&viewer, service, protobuf.clone(), zipped).await.expect_err("refused");
            assert_eq!(refused.code(), tonic::Code::ResourceExhausted, "{case}: {refused}");
            assert!(refused.message().contains(&limit), "{case}: {refused}");
            report(&case, "gRPC", &watch);
        }
    }
    nothing_stored(&viewer);
    viewer.stop().await;
}

fn report(case: &str, door: &str, watch: &Watch) {
    let peak = watch.peak();
    println!("{case} over {door}: the process's memory peaked {:.1} MiB above its start", mib(peak));
    assert!(peak < 4 * MAX_REQUEST_BYTES, "{case} over {door}: {peak} bytes");
}

/// AnyValue arrays nested past the walk's depth limit are refused as malformed (400, gRPC `INTERNAL`).
#[tokio::test]
async fn values_nested_too_deep_are_malformed() {
    let _alone = EXCLUSIVE.lock().await;
    let viewer = viewer::start(ViewerConfig::ephemeral()).await.expect("the viewer starts");
    let body = (0..40).fold(AnyValue { value: Some(Value::IntValue(1)) }, |inner, _| AnyValue {
        value: Some(Value::ArrayValue(opentelemetry_proto::tonic::common::v1::ArrayValue { values: vec![inner] })),
    });
    let request = ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            scope_logs: vec![ScopeLogs {
                log_records: vec![LogRecord { body: Some(body), ..Default::default() }],
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    for zipped in [false, true] {
        let encoded = if zipped { gzip(&request.encode_to_vec()) } else { request.encode_to_vec() };
        let response = http_export(&viewer, "logs", "application/x-protobuf", encoded, zipped).await;
        assert_eq!(response.status(), 400);
        let status = RpcStatus::decode(response.bytes().await.expect("a body")).expect("a protobuf Status");
        assert!(status.message.contains("nested more than"), "{}", status.message);
        let response = http_export(&viewer, "logs", "application/json", json(&request), false).await;
        assert_eq!(response.status(), 400);
        let refused = grpc_export(&viewer, SERVICES[2].1, request.encode_to_vec(), zipped).await.expect_err("refused");
        assert_eq!(refused.code(), tonic::Code::Internal, "{refused}");
    }
    nothing_stored(&viewer);
    viewer.stop().await;
}

/// Realistic requests as large as accepted go through every door, gzip or not, and are stored whole; taking one
/// in (its bytes on both sides of the socket, inflating, decoding, converting) and storing it holds well under
/// twice the budget.
#[tokio::test]
async fn realistic_requests_as_large_as_accepted_are_stored() {
    let _alone = EXCLUSIVE.lock().await;
    let viewer = viewer::start(ViewerConfig::ephemeral()).await.expect("the viewer starts");
    let largest = MAX_REQUEST_BYTES - 64 * 1024;
    let (mut sent, mut first) = (0, 0);
    let doors = [("gRPC", PROTOBUF, false), ("gRPC", PROTOBUF, true), ("HTTP", PROTOBUF, true), ("HTTP", JSON, false)];
    for (door, encoding, zipped) in doors {
        let (request, body) = match encoding {
            Encoding::Protobuf => sized(largest, first, traces, protobuf),
            Encoding::Json => sized(largest, first, traces, json),
        };
        let spans = request.resource_spans.len() * SPANS_PER_RESOURCE as usize;
        drop(request);
        let body = if zipped && door == "HTTP" { gzip(&body) } else { body };
        let case = format!("{door} {encoding:?}, gzip {zipped}");
        let watch = Watch::start();
        if door == "gRPC" {
            let answer = grpc_export(&viewer, SERVICES[0].1, body, zipped).await.expect("stored");
            let answer = ExportTraceServiceResponse::decode(&answer[..]).expect("an answer");
            assert_eq!(answer.partial_success, None, "{case}");
        } else {
            let content_type = if encoding == JSON { "application/json" } else { "application/x-protobuf" };
            assert_eq!(http_export(&viewer, "traces", content_type, body, zipped).await.status(), 200, "{case}");
        }
        let peak = watch.peak();
        println!("{case}: {spans} spans stored; the process's memory peaked {:.1} MiB above its start", mib(peak));
        assert!(peak < 2 * MAX_DECODED_BYTES, "{case}: {peak} bytes");
        (sent, first) = (sent + spans, first + spans as u64);
        assert_eq!(viewer.store.read().span_count, sent, "{case}: every span stored");
    }

    let (_, body) = sized(largest, 0, logs, protobuf);
    let records = ExportLogsServiceRequest::decode(&body[..]).expect("decodes").resource_logs.len() * 200;
    assert_eq!(http_export(&viewer, "logs", "application/x-protobuf", gzip(&body), true).await.status(), 200);
    assert_eq!(viewer.store.read().logs.len(), records);
    let (_, body) = sized(largest, 0, metrics, json);
    assert_eq!(http_export(&viewer, "metrics", "application/json", body, false).await.status(), 200);
    assert!(!viewer.store.read().series.is_empty());
    viewer.stop().await;
}
