//! The OTLP exporters against collectors that fail: dead, silent, slow, refusing large requests,
//! `Unavailable` for a while, answering with partial success or a final status. Each export's
//! accounting (`exported + rejected + failed + unconfirmed` = items handed over) is held against the
//! receiver's own count, over gRPC, http/protobuf and http/json.

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
use traced_tests::{FaultOptions, Receiver, ReceiverOptions, SilentCollector, Transport};

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

/// The case: 2,100 spans, one with a 300 KB attribute every 20, a collector with the usual
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

/// A `Retry-After` longer than the deadline is not waited for: the batch fails at once.
#[tokio::test]
async fn a_retry_after_beyond_the_deadline_fails_at_once() {
    let options =
        FaultOptions { unavailable_first: 1, retry_after: Some(Duration::from_secs(60)), ..Default::default() };
    let receiver = faulty(Transport::Http, options);
    let probe = probe(&receiver.endpoint(), "http/protobuf", &[]);
    let started = Instant::now();
    let delivery = probe.export_spans(spans(10, 1000, 0), Duration::from_secs(5)).await;
    assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
    assert_eq!(delivery, ProbeDelivery { failed: 10, ..Default::default() });
    assert_eq!(receiver.refused().len(), 1);
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
