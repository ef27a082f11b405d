//! The OTLP exporters against collectors that fail: dead, silent, slow, refusing large requests,
//! `Unavailable` for a while, answering with partial success or a final status. Each export's
//! accounting (`exported + rejected + failed + unconfirmed` = items handed over) is held against the
//! receiver's own count, over gRPC, http/protobuf and http/json. The `init_*` tests then run
//! `traced::init()` in a child process against the same collectors and hold the guard's accounting
//! (`ended = exported + unconfirmed + pending + dropped by cause`) against the receiver.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use opentelemetry::logs::{LogRecord as _, Logger as _, LoggerProvider as _};
use opentelemetry::metrics::MeterProvider as _;
use opentelemetry::trace::{SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceId, TraceState};
use opentelemetry::{InstrumentationScope, KeyValue};
use opentelemetry_sdk::logs::{InMemoryLogExporter, SdkLoggerProvider};
use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader, SdkMeterProvider};
use opentelemetry_sdk::trace::{SpanData, SpanEvents, SpanLinks};
use opentelemetry_sdk::Resource;
use traced::telemetry::otlp_probe::{OtlpProbe, ProbeDelivery};
use traced::telemetry::Settings;
use traced_tests::{
    child, FaultOptions, Receiver, ReceiverOptions, Scripted, ScriptedCollector, SilentCollector, Transport,
};

/// The three wire protocols, with the receiver transport each needs.
const PROTOCOLS: [(Transport, &str); 3] =
    [(Transport::Grpc, "grpc"), (Transport::Http, "http/protobuf"), (Transport::Http, "http/json")];

/// A generous upper bound on how late an export may return after its deadline on a loaded machine.
const SLACK: Duration = Duration::from_secs(1);

fn settings(endpoint: &str, protocol: &str, extra: &[(&str, &str)]) -> Settings {
    let mut vars: HashMap<String, String> = [
        ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", protocol),
        ("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip"),
        // Each test gives every export its own deadline.
        ("OTEL_EXPORTER_OTLP_TIMEOUT", "60000"),
    ]
    .into_iter()
    .map(|(key, value)| (key.to_owned(), value.to_owned()))
    .collect();
    vars.extend(extra.iter().map(|(key, value)| ((*key).to_owned(), (*value).to_owned())));
    Settings::from_vars(&vars).expect("valid test settings")
}

fn probe(endpoint: &str, protocol: &str, extra: &[(&str, &str)]) -> OtlpProbe {
    let resource = Resource::builder_empty().with_service_name("export-faults").build();
    OtlpProbe::new(&settings(endpoint, protocol, extra), &resource).expect("exporters build")
}

/// `count` spans; every `every`-th one carries an attribute of `big` bytes.
fn spans(count: usize, every: usize, big: usize) -> Vec<SpanData> {
    let scope = InstrumentationScope::builder("export-faults").build();
    (0..count)
        .map(|index| {
            let payload = if (index + 1) % every == 0 { big } else { 16 };
            let context = SpanContext::new(
                TraceId::from(index as u128 + 1),
                SpanId::from(index as u64 + 1),
                TraceFlags::SAMPLED,
                false,
                TraceState::default(),
            );
            SpanData {
                span_context: context,
                parent_span_id: SpanId::INVALID,
                parent_span_is_remote: false,
                span_kind: SpanKind::Internal,
                name: format!("span-{index}").into(),
                start_time: std::time::SystemTime::now(),
                end_time: std::time::SystemTime::now(),
                attributes: vec![KeyValue::new("payload", "p".repeat(payload))],
                dropped_attributes_count: 0,
                events: SpanEvents::default(),
                links: SpanLinks::default(),
                status: Status::Unset,
                instrumentation_scope: scope.clone(),
            }
        })
        .collect()
}

/// Exports `spans` in batches of 512 (the default batch size), summing what became of them.
async fn export_in_batches(probe: &OtlpProbe, mut spans: Vec<SpanData>, timeout: Duration) -> ProbeDelivery {
    let mut total = ProbeDelivery::default();
    while !spans.is_empty() {
        let rest = spans.split_off(spans.len().min(512));
        let delivery = probe.export_spans(std::mem::replace(&mut spans, rest), timeout).await;
        total.exported += delivery.exported;
        total.rejected += delivery.rejected;
        total.failed += delivery.failed;
        total.unconfirmed += delivery.unconfirmed;
    }
    total
}

fn faulty(transport: Transport, faults: FaultOptions) -> Receiver {
    Receiver::start_blocking(transport, ReceiverOptions { faults, ..ReceiverOptions::default() })
}

const KIB: usize = 1024;
const MIB: usize = 1024 * KIB;

/// The issue's case: 2,100 spans, one with a 300 KB attribute every 20, a collector with the usual
/// 4 MiB limit. Requests are cut under the limit before sending: everything arrives, nothing refused.
#[tokio::test]
async fn large_batches_are_cut_under_the_limit_and_all_arrive() {
    for (transport, protocol) in PROTOCOLS {
        let receiver = faulty(transport, FaultOptions { max_request_bytes: Some(4 * MIB), ..Default::default() });
        let probe = probe(&receiver.endpoint(), protocol, &[]);
        let delivery = export_in_batches(&probe, spans(2100, 20, 300 * KIB), Duration::from_secs(30)).await;
        assert_eq!(delivery, ProbeDelivery { exported: 2100, ..Default::default() }, "{protocol}");
        assert_eq!(receiver.spans().len(), 2100, "{protocol}");
        assert!(receiver.refused().is_empty(), "{protocol}: {:?}", receiver.refused());
        assert!(receiver.requests().len() > 5, "{protocol}: batches above 4 MiB were cut");
        assert_eq!(probe.warnings(), Vec::<String>::new(), "{protocol}");
    }
}

/// A collector whose limit is below ours (1 MiB): its refusals are split in halves until they fit.
#[tokio::test]
async fn requests_refused_as_too_large_are_split_until_they_fit() {
    for (transport, protocol) in PROTOCOLS {
        let receiver = faulty(transport, FaultOptions { max_request_bytes: Some(MIB), ..Default::default() });
        let probe = probe(&receiver.endpoint(), protocol, &[]);
        let delivery = export_in_batches(&probe, spans(2100, 20, 300 * KIB), Duration::from_secs(30)).await;
        assert_eq!(delivery, ProbeDelivery { exported: 2100, ..Default::default() }, "{protocol}");
        assert_eq!(receiver.spans().len(), 2100, "{protocol}");
        assert!(!receiver.refused().is_empty(), "{protocol}: the collector refused some requests first");
        assert_eq!(probe.warnings(), Vec::<String>::new(), "{protocol}");
    }
}

/// A collector that refuses anything above 200 KB: each 300 KB span alone is refused (after the
/// halvings that isolate it) and counted rejected with a warning saying so; every small span arrives.
#[tokio::test]
async fn a_span_too_large_alone_for_the_collector_is_rejected_and_said_so() {
    for (transport, protocol) in PROTOCOLS {
        let receiver = faulty(transport, FaultOptions { max_request_bytes: Some(200 * KIB), ..Default::default() });
        let probe = probe(&receiver.endpoint(), protocol, &[]);
        let delivery = export_in_batches(&probe, spans(600, 20, 300 * KIB), Duration::from_secs(30)).await;
        assert_eq!(delivery, ProbeDelivery { exported: 570, rejected: 30, ..Default::default() }, "{protocol}");
        let received = receiver.spans();
        assert_eq!(received.len(), 570, "{protocol}");
        assert!(received.iter().all(|span| span.attribute("payload").is_some_and(|p| p.len() == 16)));
        let warnings = probe.warnings();
        assert_eq!(warnings.len(), 1, "{protocol}: {warnings:#?}");
        assert!(
            warnings[0].contains("refuses a span of") && warnings[0].contains("alone as too large"),
            "{warnings:?}"
        );
        assert!(!warnings[0].contains("does not answer"), "{warnings:?}");
    }
}

/// Our own limit (`TRACED_OTLP_MAX_REQUEST_BYTES`) below one span: that span is never sent.
#[tokio::test]
async fn a_span_above_our_own_limit_is_not_sent_and_counted_rejected() {
    for (transport, protocol) in PROTOCOLS {
        let receiver = faulty(transport, FaultOptions::default());
        let probe = probe(&receiver.endpoint(), protocol, &[("TRACED_OTLP_MAX_REQUEST_BYTES", "200000")]);
        let delivery = export_in_batches(&probe, spans(600, 20, 300 * KIB), Duration::from_secs(30)).await;
        assert_eq!(delivery, ProbeDelivery { exported: 570, rejected: 30, ..Default::default() }, "{protocol}");
        assert_eq!(receiver.spans().len(), 570, "{protocol}");
        assert!(receiver.refused().is_empty(), "{protocol}");
        let warnings = probe.warnings();
        assert_eq!(warnings.len(), 1, "{protocol}: {warnings:#?}");
        assert!(warnings[0].contains("200000-byte limit") && warnings[0].contains("TRACED_OTLP_MAX_REQUEST_BYTES"));
    }
}

/// `Unavailable` (503) twice, then OK: the retries deliver everything.
#[tokio::test]
async fn transient_refusals_are_retried_until_accepted() {
    for (transport, protocol) in PROTOCOLS {
        let receiver = faulty(transport, FaultOptions { unavailable_first: 2, ..Default::default() });
        let probe = probe(&receiver.endpoint(), protocol, &[]);
        let delivery = probe.export_spans(spans(100, 1000, 0), Duration::from_secs(10)).await;
        assert_eq!(delivery, ProbeDelivery { exported: 100, ..Default::default() }, "{protocol}");
        assert_eq!(receiver.spans().len(), 100, "{protocol}");
        assert_eq!(receiver.refused().len(), 2, "{protocol}");
        assert_eq!(probe.warnings(), Vec::<String>::new(), "{protocol}");
    }
}

/// `Unavailable` for ever: failed once the retries reach the deadline, returned by the deadline.
#[tokio::test]
async fn a_collector_unavailable_until_the_deadline_fails_the_batch_in_time() {
    for (transport, protocol) in PROTOCOLS {
        let receiver = faulty(transport, FaultOptions { unavailable_first: usize::MAX, ..Default::default() });
        let probe = probe(&receiver.endpoint(), protocol, &[]);
        let started = Instant::now();
        let delivery = probe.export_spans(spans(50, 1000, 0), Duration::from_secs(2)).await;
        assert!(started.elapsed() < Duration::from_secs(2) + SLACK, "{protocol}: {:?}", started.elapsed());
        assert_eq!(delivery, ProbeDelivery { failed: 50, ..Default::default() }, "{protocol}");
        assert!(receiver.spans().is_empty());
        assert!(receiver.refused().len() >= 2, "{protocol}: retried");
        let warnings = probe.warnings();
        assert_eq!(warnings.len(), 1, "{protocol}: {warnings:#?}");
        assert!(warnings[0].contains("kept refusing") && warnings[0].contains("counted as failed"), "{warnings:?}");
    }
}

/// The collector's delay (HTTP `Retry-After`, gRPC `ResourceExhausted` with `RetryInfo`) is honoured;
/// one longer than the deadline is not waited for: the batch fails at once.
#[tokio::test]
async fn the_collector_retry_delay_is_honoured_within_the_deadline() {
    for (transport, protocol) in PROTOCOLS {
        let asked = Duration::from_secs(1);
        let options = FaultOptions { unavailable_first: 1, retry_after: Some(asked), ..Default::default() };
        let receiver = faulty(transport, options);
        let probe = probe(&receiver.endpoint(), protocol, &[]);
        let started = Instant::now();
        let delivery = probe.export_spans(spans(10, 1000, 0), Duration::from_secs(5)).await;
        assert_eq!(delivery, ProbeDelivery { exported: 10, ..Default::default() }, "{protocol}");
        assert!(started.elapsed() >= asked, "{protocol}: waited {:?}", started.elapsed());
        assert_eq!(receiver.refused().len(), 1, "{protocol}");

        let far = Some(Duration::from_secs(60));
        let receiver = faulty(transport, FaultOptions { unavailable_first: 1, retry_after: far, ..Default::default() });
        let probe = self::probe(&receiver.endpoint(), protocol, &[]);
        let started = Instant::now();
        let delivery = probe.export_spans(spans(10, 1000, 0), Duration::from_secs(5)).await;
        assert!(started.elapsed() < Duration::from_secs(2), "{protocol}: {:?}", started.elapsed());
        assert_eq!(delivery, ProbeDelivery { failed: 10, ..Default::default() }, "{protocol}");
        assert_eq!(receiver.refused().len(), 1, "{protocol}");
    }
}

/// A partial success: the rejected count moves from exported to rejected, with the collector's message.
#[tokio::test]
async fn partial_success_is_counted_rejected_with_the_collector_message() {
    for (transport, protocol) in PROTOCOLS {
        let receiver = faulty(transport, FaultOptions { reject_per_request: Some(3), ..Default::default() });
        let probe = probe(&receiver.endpoint(), protocol, &[]);
        let delivery = probe.export_spans(spans(40, 1000, 0), Duration::from_secs(10)).await;
        assert_eq!(delivery, ProbeDelivery { exported: 37, rejected: 3, ..Default::default() }, "{protocol}");
        assert_eq!(receiver.spans().len() as u64 - receiver.rejected_items(), 37, "{protocol}");
        let warnings = probe.warnings();
        assert_eq!(warnings.len(), 1, "{protocol}: {warnings:#?}");
        assert!(warnings[0].contains("rejected 3 spans") && warnings[0].contains("test receiver rejects 3"));
    }
}

/// A final status (InvalidArgument / 400, Unauthenticated / 401): rejected, not retried, warned once
/// per status.
#[tokio::test]
async fn a_final_refusal_is_rejected_without_retry() {
    for (transport, protocol, code, status) in [
        (Transport::Grpc, "grpc", 3, "gRPC InvalidArgument"),
        (Transport::Grpc, "grpc", 16, "gRPC Unauthenticated"),
        (Transport::Http, "http/protobuf", 400, "HTTP 400 Bad Request"),
        (Transport::Http, "http/json", 401, "HTTP 401 Unauthorized"),
        // Not followed: the headers (API keys) never go where the collector points.
        (Transport::Http, "http/protobuf", 307, "HTTP 307 Temporary Redirect"),
    ] {
        let receiver = faulty(transport, FaultOptions { refuse_with: Some(code), ..Default::default() });
        let probe = probe(&receiver.endpoint(), protocol, &[]);
        for _ in 0..2 {
            let delivery = probe.export_spans(spans(20, 1000, 0), Duration::from_secs(10)).await;
            assert_eq!(delivery, ProbeDelivery { rejected: 20, ..Default::default() }, "{protocol}");
        }
        assert_eq!(receiver.refused().len(), 2, "{protocol}: one attempt per export");
        let warnings = probe.warnings();
        assert_eq!(warnings.len(), 1, "{protocol}: {warnings:#?}");
        assert!(warnings[0].contains(status) && warnings[0].contains("test receiver refuses"), "{warnings:?}");
    }
}

/// A collector whose refusal quotes the API key it was sent (`unknown key <value>`): the warning on
/// stderr says the status and the message, never the key. The partial success's message, likewise.
#[tokio::test]
async fn a_collector_quoting_the_api_key_back_never_gets_it_printed() {
    let secret = "K3Y-5ECRET-VALUE";
    let headers = [("OTEL_EXPORTER_OTLP_HEADERS", "x-ingest-key=K3Y-5ECRET-VALUE,x-tenant=acme")];
    for (transport, protocol, code, status) in [
        (Transport::Grpc, "grpc", 16, "gRPC Unauthenticated"),
        (Transport::Http, "http/protobuf", 401, "HTTP 401 Unauthorized"),
        (Transport::Http, "http/json", 403, "HTTP 403 Forbidden"),
    ] {
        let faults =
            FaultOptions { refuse_with: Some(code), refusal_quotes_header: Some("x-ingest-key"), ..Default::default() };
        let receiver = faulty(transport, faults);
        let probe = probe(&receiver.endpoint(), protocol, &headers);
        let delivery = probe.export_spans(spans(5, 1000, 0), Duration::from_secs(10)).await;
        assert_eq!(delivery, ProbeDelivery { rejected: 5, ..Default::default() }, "{protocol}");
        let warnings = probe.warnings();
        assert_eq!(warnings.len(), 1, "{protocol}: {warnings:#?}");
        assert!(warnings[0].contains(status) && warnings[0].contains("refuses the key"), "{warnings:?}");
        assert!(!warnings[0].contains(secret), "{protocol}: {warnings:?}");
    }
    let echo = format!(r#"{{"partialSuccess":{{"rejectedSpans":"1","errorMessage":"key {secret} over quota"}}}}"#);
    let collector = ScriptedCollector::start(move |_| {
        Scripted::response("200 OK", &["content-type: application/json"], echo.as_bytes())
    });
    let probe = probe(&collector.endpoint(), "http/json", &headers);
    let delivery = probe.export_spans(spans(5, 1000, 0), Duration::from_secs(10)).await;
    assert_eq!(delivery, ProbeDelivery { exported: 4, rejected: 1, ..Default::default() });
    let warnings = probe.warnings();
    assert!(warnings.len() == 1 && warnings[0].contains("over quota"), "{warnings:#?}");
    assert!(!warnings[0].contains(secret), "{warnings:?}");
}

/// An OTLP/HTTP collector's refusal carries a `google.rpc.Status` in the request's encoding (protobuf
/// for http/protobuf, JSON for http/json): the warning quotes its message, not the encoded bytes.
#[tokio::test]
async fn an_http_refusal_is_quoted_by_the_message_of_its_status() {
    let message = format!("the request is invalid: {}", "x".repeat(110));
    let mut protobuf = vec![0x08, 0x03, 0x12, message.len() as u8, 0x01];
    protobuf.extend_from_slice(message.as_bytes());
    let json = format!(r#"{{"code":3,"message":"{message}","details":[]}}"#).into_bytes();
    for (protocol, content_type, body) in [
        ("http/protobuf", "content-type: application/x-protobuf", protobuf),
        ("http/json", "content-type: application/json", json),
    ] {
        let collector =
            ScriptedCollector::start(move |_| Scripted::response("400 Bad Request", &[content_type], &body));
        let probe = probe(&collector.endpoint(), protocol, &[]);
        let delivery = probe.export_spans(spans(5, 1000, 0), Duration::from_secs(10)).await;
        assert_eq!(delivery, ProbeDelivery { rejected: 5, ..Default::default() }, "{protocol}");
        let warnings = probe.warnings();
        assert_eq!(warnings.len(), 1, "{protocol}: {warnings:#?}");
        assert!(warnings[0].contains(&format!("with HTTP 400 Bad Request ({message});")), "{warnings:#?}");
    }
}

/// A refusal whose body never ends (a proxy's 503 that stalls after its headers): the status decides,
/// the body is not waited for until the deadline, and the retry delivers the batch.
#[tokio::test]
async fn a_refusal_whose_body_stalls_is_retried_without_waiting_for_its_body() {
    let stalled = b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 1000\r\n\r\nupstream is resta".to_vec();
    let collector = ScriptedCollector::start(move |request| match request {
        0 => Scripted::Stall(stalled.clone()),
        _ => Scripted::response("200 OK", &["content-type: application/x-protobuf"], b""),
    });
    let probe = probe(&collector.endpoint(), "http/protobuf", &[]);
    let delivery = probe.export_spans(spans(5, 1000, 0), Duration::from_secs(5)).await;
    assert_eq!(delivery, ProbeDelivery { exported: 5, ..Default::default() });
    assert_eq!(collector.requests(), 2);
    assert_eq!(probe.warnings(), Vec::<String>::new());
}

/// Nothing listens: failed, by the deadline, and the warning shows the endpoint without its password.
#[tokio::test]
async fn a_dead_collector_fails_the_batch_by_the_deadline_without_printing_secrets() {
    let dead = Receiver::unreachable_endpoint().replace("http://", "http://user:PWSECRET@");
    for (_, protocol) in PROTOCOLS {
        let probe = probe(&dead, protocol, &[]);
        let started = Instant::now();
        let delivery = probe.export_spans(spans(30, 1000, 0), Duration::from_secs(2)).await;
        assert!(started.elapsed() < Duration::from_secs(2) + SLACK, "{protocol}: {:?}", started.elapsed());
        assert_eq!(delivery, ProbeDelivery { failed: 30, ..Default::default() }, "{protocol}");
        let warnings = probe.warnings();
        assert_eq!(warnings.len(), 1, "{protocol}: {warnings:#?}");
        assert!(warnings[0].contains("cannot connect to the OTLP collector at http://127.0.0.1:"), "{warnings:?}");
        assert!(warnings.iter().all(|w| !w.contains("PWSECRET") && !w.contains("user:")), "{warnings:?}");
    }
}

/// The collector accepts the connection and never answers: unconfirmed, by the deadline.
#[tokio::test]
async fn a_silent_collector_leaves_the_batch_unconfirmed_by_the_deadline() {
    let silent = SilentCollector::start();
    for (_, protocol) in PROTOCOLS {
        let probe = probe(&silent.endpoint(), protocol, &[]);
        let started = Instant::now();
        let delivery = probe.export_spans(spans(30, 1000, 0), Duration::from_millis(1500)).await;
        assert!(started.elapsed() < Duration::from_millis(1500) + SLACK, "{protocol}: {:?}", started.elapsed());
        assert_eq!(delivery, ProbeDelivery { unconfirmed: 30, ..Default::default() }, "{protocol}");
        let warnings = probe.warnings();
        assert_eq!(warnings.len(), 1, "{protocol}: {warnings:#?}");
        assert!(warnings[0].contains("did not answer") && warnings[0].contains("unconfirmed"), "{warnings:?}");
    }
    assert!(silent.connections() >= 3);
}

/// A slow collector: an answer within the deadline is exported; one after it is unconfirmed, and the
/// data did arrive (which is why it is not counted lost).
#[tokio::test]
async fn a_slow_collector_is_exported_in_time_and_unconfirmed_after() {
    for (transport, protocol) in PROTOCOLS {
        let options = ReceiverOptions { response_delay: Some(Duration::from_millis(1500)), ..Default::default() };
        let receiver = Receiver::start_blocking(transport, options);
        let probe = probe(&receiver.endpoint(), protocol, &[]);
        let in_time = probe.export_spans(spans(10, 1000, 0), Duration::from_secs(5)).await;
        assert_eq!(in_time, ProbeDelivery { exported: 10, ..Default::default() }, "{protocol}");
        let started = Instant::now();
        let late = probe.export_spans(spans(10, 1000, 0), Duration::from_millis(500)).await;
        assert!(started.elapsed() < Duration::from_millis(500) + SLACK, "{protocol}: {:?}", started.elapsed());
        assert_eq!(late, ProbeDelivery { unconfirmed: 10, ..Default::default() }, "{protocol}");
        // Unconfirmed means maybe delivered: gRPC resets the stream when we stop waiting, so the
        // collector drops it; over HTTP it may still record the late request.
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let received = receiver.spans().len();
        match transport {
            Transport::Grpc => assert_eq!(received, 10, "{protocol}"),
            Transport::Http => assert!(received == 10 || received == 20, "{protocol}: {received}"),
        }
    }
}

/// Only the headers the settings give, and our User-Agent.
#[tokio::test]
async fn requests_carry_the_configured_headers_and_our_user_agent() {
    for (transport, protocol) in PROTOCOLS {
        let receiver = faulty(transport, FaultOptions::default());
        let headers = [("OTEL_EXPORTER_OTLP_HEADERS", "x-api-key=k1,x-tenant=acme")];
        let probe = probe(&receiver.endpoint(), protocol, &headers);
        let delivery = probe.export_spans(spans(3, 1000, 0), Duration::from_secs(10)).await;
        assert_eq!(delivery, ProbeDelivery { exported: 3, ..Default::default() }, "{protocol}");
        let request = receiver.requests().pop().expect("one request");
        assert_eq!(request.header("x-api-key").as_deref(), Some("k1"), "{protocol}");
        assert_eq!(request.header("x-tenant").as_deref(), Some("acme"), "{protocol}");
        let agent = request.header("user-agent").unwrap_or_default();
        assert!(agent.starts_with(concat!("traced/", env!("CARGO_PKG_VERSION"))), "{protocol}: {agent}");
        assert_eq!(request.compression().as_deref(), Some("gzip"), "{protocol}");
    }
}

/// A partial success over OTLP/JSON as the OpenTelemetry Collector writes it: proto3's JSON mapping
/// puts an int64 in a string (`"rejectedSpans":"3"`); a number is read as well.
#[tokio::test]
async fn a_json_partial_success_counts_its_rejected_items_written_as_a_string_or_a_number() {
    for count in [r#""3""#, "3"] {
        let body = format!(r#"{{"partialSuccess":{{"rejectedSpans":{count},"errorMessage":"over quota"}}}}"#);
        let json = ["content-type: application/json"];
        let collector = ScriptedCollector::start(move |_| Scripted::response("200 OK", &json, body.as_bytes()));
        let probe = probe(&collector.endpoint(), "http/json", &[]);
        let delivery = probe.export_spans(spans(10, 1000, 0), Duration::from_secs(10)).await;
        assert_eq!(delivery, ProbeDelivery { exported: 7, rejected: 3, ..Default::default() }, "{count}");
        let warnings = probe.warnings();
        assert!(
            warnings.len() == 1 && warnings[0].contains("rejected 3 spans of a request of 10 spans (over quota)"),
            "{warnings:#?}"
        );
    }
}

/// A grpc-go collector (the OpenTelemetry Collector) answers a gzip request gzip-compressed, even to
/// a client that did not say it accepts gzip (the test receiver does the same): the answer is read,
/// and the export counted exported, with or without compression.
#[tokio::test]
async fn a_grpc_answer_compressed_like_the_request_is_read() {
    let receiver = faulty(Transport::Grpc, FaultOptions { reject_per_request: Some(2), ..Default::default() });
    for compression in ["gzip", "none"] {
        let probe = probe(&receiver.endpoint(), "grpc", &[("OTEL_EXPORTER_OTLP_COMPRESSION", compression)]);
        let delivery = probe.export_spans(spans(10, 1000, 0), Duration::from_secs(10)).await;
        assert_eq!(delivery, ProbeDelivery { exported: 8, rejected: 2, ..Default::default() }, "{compression}");
        let warnings = probe.warnings();
        assert!(warnings.len() == 1 && warnings[0].contains("rejected 2 spans"), "{compression}: {warnings:#?}");
    }
    assert_eq!(receiver.spans().len(), 20);
}

/// Log records: the same accounting, a too-large one rejected alone.
#[tokio::test]
async fn log_records_are_accounted_like_spans() {
    let exporter = InMemoryLogExporter::default();
    let provider = SdkLoggerProvider::builder().with_simple_exporter(exporter.clone()).build();
    let logger = provider.logger("export-faults");
    for index in 0..200 {
        let mut record = logger.create_log_record();
        let body = if index % 50 == 49 { "b".repeat(300 * KIB) } else { format!("record {index}") };
        record.set_body(body.into());
        logger.emit(record);
    }
    let emitted = exporter.get_emitted_logs().expect("emitted logs");
    for (transport, protocol) in PROTOCOLS {
        let receiver = faulty(transport, FaultOptions { max_request_bytes: Some(200 * KIB), ..Default::default() });
        let probe = probe(&receiver.endpoint(), protocol, &[]);
        let batch = emitted.iter().map(|log| (log.record.clone(), log.instrumentation.clone())).collect();
        let delivery = probe.export_logs(batch, Duration::from_secs(20)).await;
        assert_eq!(delivery, ProbeDelivery { exported: 196, rejected: 4, ..Default::default() }, "{protocol}");
        assert_eq!(receiver.logs().len(), 196, "{protocol}");
        assert!(probe.warnings()[0].contains("refuses a log record of"), "{:?}", probe.warnings());
    }
}

/// Metrics: one collection is one item; a partial success makes it rejected.
#[tokio::test]
async fn a_metric_collection_is_one_item() {
    let exporter = InMemoryMetricExporter::default();
    let provider = SdkMeterProvider::builder().with_reader(PeriodicReader::builder(exporter.clone()).build()).build();
    let counter = provider.meter("export-faults").u64_counter("requests").build();
    for index in 0..20 {
        counter.add(1, &[KeyValue::new("route", format!("/r{index}"))]);
    }
    provider.force_flush().expect("collect");
    let collection = exporter.get_finished_metrics().expect("metrics").pop().expect("one collection");
    for (transport, protocol) in PROTOCOLS {
        let receiver = faulty(transport, FaultOptions::default());
        let probe = probe(&receiver.endpoint(), protocol, &[]);
        let delivery = probe.export_metrics(&collection, Duration::from_secs(10)).await;
        assert_eq!(delivery, ProbeDelivery { exported: 1, ..Default::default() }, "{protocol}");
        assert_eq!(receiver.requests()[0].items, 20, "{protocol}: every data point arrived");

        let partial = faulty(transport, FaultOptions { reject_per_request: Some(2), ..Default::default() });
        let probe = self::probe(&partial.endpoint(), protocol, &[]);
        let delivery = probe.export_metrics(&collection, Duration::from_secs(10)).await;
        assert_eq!(delivery, ProbeDelivery { rejected: 1, ..Default::default() }, "{protocol}");
        assert!(probe.warnings()[0].contains("rejected 2 data points"), "{:?}", probe.warnings());
    }
    provider.shutdown().expect("shutdown");
}

// ---- Through `traced::init()`: the guard's accounting against the receiver's count. ----

#[traced::traced(name = "work")]
fn work(big: bool) {
    let payload = if big { "p".repeat(300 * KIB) } else { "small".to_owned() };
    traced::record("payload", payload);
}

/// The child side: `SCENARIO_SPANS` spans (one in 20 with a 300 KB attribute when `SCENARIO_BIG` is
/// set), then shutdown; prints the span accounting and how long shutdown took.
#[test]
fn child_scenario() {
    let Some(scenario) = child::scenario() else { return };
    let count: usize = std::env::var("SCENARIO_SPANS").ok().and_then(|n| n.parse().ok()).unwrap_or(100);
    let big = std::env::var("SCENARIO_BIG").is_ok();
    let mut builder = traced::Telemetry::builder();
    if scenario == "code_header" {
        builder = builder.otlp_header("x-api-key", "from-code");
    }
    let telemetry = builder.init().expect("init from the environment");
    for index in 0..count {
        work(big && (index + 1) % 20 == 0);
    }
    let started = Instant::now();
    let report = match telemetry.shutdown() {
        Ok(report) => report,
        Err(error) => error.report().clone(),
    };
    let spans = report.spans;
    let dropped = spans.dropped;
    println!(
        "REPORT {} {} {} {} {} {} {} {} {} {}",
        spans.ended,
        spans.exported,
        spans.unconfirmed,
        spans.pending,
        dropped.queue_full,
        dropped.rejected,
        dropped.failed,
        dropped.shutdown_deadline,
        dropped.after_shutdown,
        started.elapsed().as_millis()
    );
}

/// The span figures the child printed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Accounting {
    ended: u64,
    exported: u64,
    unconfirmed: u64,
    pending: u64,
    queue_full: u64,
    rejected: u64,
    failed: u64,
    shutdown_deadline: u64,
    after_shutdown: u64,
}

/// Runs a child against `endpoint` and returns its accounting (checked to balance) and shutdown time.
fn init_run(scenario: &str, endpoint: &str, protocol: &str, extra: &[(&'static str, &str)]) -> (Accounting, Duration) {
    let mut vars: Vec<(&str, String)> = vec![
        ("OTEL_SERVICE_NAME", "export-faults".to_owned()),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.to_owned()),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", protocol.to_owned()),
        ("OTEL_METRICS_EXPORTER", "none".to_owned()),
        ("OTEL_LOGS_EXPORTER", "none".to_owned()),
        ("OTEL_BSP_MAX_QUEUE_SIZE", "4096".to_owned()),
    ];
    vars.extend(extra.iter().map(|(name, value)| (*name, (*value).to_owned())));
    let output = child::run("child_scenario", scenario, &vars);
    child::assert_success(&output);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout
        .lines()
        .find_map(|line| line.split_once("REPORT ").map(|(_, report)| report))
        .unwrap_or_else(|| panic!("no report: {stdout}\n{}", String::from_utf8_lossy(&output.stderr)));
    let n: Vec<u64> = line.split(' ').map(|n| n.parse().expect("a number")).collect();
    let accounting = Accounting {
        ended: n[0],
        exported: n[1],
        unconfirmed: n[2],
        pending: n[3],
        queue_full: n[4],
        rejected: n[5],
        failed: n[6],
        shutdown_deadline: n[7],
        after_shutdown: n[8],
    };
    let a = accounting;
    let dropped = a.queue_full + a.rejected + a.failed + a.shutdown_deadline + a.after_shutdown;
    assert_eq!(a.ended, a.exported + a.unconfirmed + a.pending + dropped, "the identity holds: {a:?}");
    (accounting, Duration::from_millis(n[9]))
}

/// The issue's case end to end: 2,100 spans, a 300 KB one every 20, a 4 MiB collector: all arrive.
#[test]
fn init_large_spans_into_a_4_mib_collector_all_arrive() {
    for (transport, protocol) in PROTOCOLS {
        let receiver = faulty(transport, FaultOptions { max_request_bytes: Some(4 * MIB), ..Default::default() });
        let extra = [("SCENARIO_SPANS", "2100"), ("SCENARIO_BIG", "1")];
        let (accounting, _) = init_run("spans", &receiver.endpoint(), protocol, &extra);
        assert_eq!(accounting, Accounting { ended: 2100, exported: 2100, ..Default::default() }, "{protocol}");
        let received = receiver.spans();
        assert_eq!(received.len(), 2100, "{protocol}");
        let big = received.iter().filter(|span| span.attribute("payload").is_some_and(|p| p.len() == 300 * KIB));
        assert_eq!(big.count(), 105, "{protocol}");
        assert!(receiver.refused().is_empty(), "{protocol}");
    }
}

/// A 200 KB collector: the large spans are counted rejected, the rest exported, nothing else lost.
#[test]
fn init_spans_too_large_for_the_collector_are_counted_rejected() {
    for (transport, protocol) in PROTOCOLS {
        let receiver = faulty(transport, FaultOptions { max_request_bytes: Some(200 * KIB), ..Default::default() });
        let extra = [("SCENARIO_SPANS", "400"), ("SCENARIO_BIG", "1")];
        let (accounting, _) = init_run("spans", &receiver.endpoint(), protocol, &extra);
        let expected = Accounting { ended: 400, exported: 380, rejected: 20, ..Default::default() };
        assert_eq!(accounting, expected, "{protocol}");
        assert_eq!(receiver.spans().len(), 380, "{protocol}");
    }
}

/// `Unavailable` twice, then OK; and a partial success of 3 per request.
#[test]
fn init_transient_refusals_and_partial_success_balance_against_the_receiver() {
    for (transport, protocol) in PROTOCOLS {
        let receiver = faulty(transport, FaultOptions { unavailable_first: 2, ..Default::default() });
        let (accounting, _) = init_run("spans", &receiver.endpoint(), protocol, &[("SCENARIO_SPANS", "300")]);
        assert_eq!(accounting, Accounting { ended: 300, exported: 300, ..Default::default() }, "{protocol}");
        assert_eq!(receiver.spans().len(), 300, "{protocol}");

        let partial = faulty(transport, FaultOptions { reject_per_request: Some(3), ..Default::default() });
        let (accounting, _) = init_run("spans", &partial.endpoint(), protocol, &[("SCENARIO_SPANS", "300")]);
        assert_eq!(accounting.ended, 300, "{protocol}");
        assert_eq!(accounting.rejected, partial.rejected_items(), "{protocol}: {accounting:?}");
        assert_eq!(accounting.exported, partial.spans().len() as u64 - partial.rejected_items(), "{protocol}");
        assert_eq!(accounting.exported + accounting.rejected, 300, "{protocol}: {accounting:?}");
    }
}

/// Dead and silent collectors: nothing exported, everything accounted, shutdown within its deadline.
#[test]
fn init_dead_and_silent_collectors_cost_the_deadline_once_and_count_everything() {
    let silent = SilentCollector::start();
    let dead = Receiver::unreachable_endpoint();
    for (_, protocol) in PROTOCOLS {
        for (endpoint, answers) in [(&dead, false), (&silent.endpoint(), true)] {
            let extra = [("SCENARIO_SPANS", "500"), ("TRACED_SHUTDOWN_TIMEOUT", "1500")];
            let (accounting, took) = init_run("spans", endpoint, protocol, &extra);
            assert_eq!(accounting.ended, 500, "{protocol} {endpoint}");
            assert_eq!(accounting.exported, 0, "{protocol} {endpoint}: {accounting:?}");
            assert!(took < Duration::from_millis(1500) + SLACK, "{protocol} {endpoint}: shutdown took {took:?}");
            if answers {
                // Sent, never answered: maybe delivered, not lost.
                assert!(accounting.unconfirmed > 0, "{protocol} silent: {accounting:?}");
            } else {
                // Nothing can have been delivered: no connection was ever made.
                assert_eq!(accounting.unconfirmed, 0, "{protocol} dead: {accounting:?}");
                assert_eq!(accounting.failed + accounting.shutdown_deadline, 500, "{protocol} dead: {accounting:?}");
            }
        }
    }
}

/// A header set in code wins over the same one from `OTEL_EXPORTER_OTLP_HEADERS`; only these are sent.
#[test]
fn init_code_headers_win_over_the_environment() {
    for (transport, protocol) in PROTOCOLS {
        let receiver = faulty(transport, FaultOptions::default());
        let extra = [("SCENARIO_SPANS", "5"), ("OTEL_EXPORTER_OTLP_HEADERS", "x-api-key=from-env,x-tenant=acme")];
        let (accounting, _) = init_run("code_header", &receiver.endpoint(), protocol, &extra);
        assert_eq!(accounting.exported, 5, "{protocol}");
        for request in receiver.requests() {
            assert_eq!(request.headers.get_all("x-api-key").iter().count(), 1, "{protocol}");
            assert_eq!(request.header("x-api-key").as_deref(), Some("from-code"), "{protocol}");
            assert_eq!(request.header("x-tenant").as_deref(), Some("acme"), "{protocol}");
        }
    }
}
