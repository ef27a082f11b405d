//! What reaches a real OTLP receiver when `traced::init()` is configured only through `OTEL_*`
//! variables: compression, both protocols and JSON, sampler decisions, batch sizes, logs that
//! carry their span's ids, metrics, and a collector that is down or slow. Every scenario runs in
//! its own child process (see `traced_tests::child`) against a receiver in the parent.

use std::collections::HashMap;
use std::time::Duration;

use opentelemetry::propagation::TextMapPropagator as _;
use opentelemetry::trace::TraceContextExt as _;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use traced::traced;
use traced_tests::{child, Receiver, ReceiverOptions, Signal, TestCertificates, Transport};

const WAIT: Duration = Duration::from_secs(30);
const SAMPLED_PARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
const UNSAMPLED_PARENT: &str = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00";

#[traced(name = "job", attributes(job.index = index))]
fn job(index: u64) -> u64 {
    index + 1
}

#[traced(name = "logged-job")]
fn logged_job() {
    tracing::info!(order.id = 42, "order placed");
    tracing::debug!("cart details");
}

/// Runs `f` with the remote parent of `traceparent` as the current context.
fn under_remote_parent<T>(traceparent: &str, f: impl FnOnce() -> T) -> T {
    let headers = HashMap::from([("traceparent".to_owned(), traceparent.to_owned())]);
    let cx = TraceContextPropagator::new().extract(&headers);
    assert!(cx.span().span_context().is_valid(), "the test's traceparent parses");
    let _attached = cx.attach();
    f()
}

/// The child side of every scenario.
#[test]
fn child_scenario() {
    let Some(scenario) = child::scenario() else { return };
    let spans: u64 = std::env::var("SCENARIO_SPANS").ok().and_then(|n| n.parse().ok()).unwrap_or(10);
    let _telemetry = traced::init().expect("init from the environment");
    match scenario.as_str() {
        "spans" => (0..spans).for_each(|index| {
            job(index);
        }),
        "parent_based" => {
            (0..spans).for_each(|index| {
                under_remote_parent(SAMPLED_PARENT, || job(index));
                under_remote_parent(UNSAMPLED_PARENT, || job(index));
                job(index);
            });
        }
        "logs" => logged_job(),
        "many_logs" => (0..spans).for_each(|index| tracing::info!(index, "work item")),
        "flush_then_exit" => {
            (0..spans).for_each(|index| {
                job(index);
            });
            _telemetry.force_flush().expect("flush");
            // A serverless runtime freezes or kills the process here: no destructor runs.
            std::process::exit(0);
        }
        "metrics" => {
            let counter = opentelemetry::global::meter("shop").u64_counter("inter_service_requests").build();
            counter.add(3, &[opentelemetry::KeyValue::new("service", "b")]);
        }
        "all_signals_then_shutdown" => {
            let counter = opentelemetry::global::meter("shop").u64_counter("inter_service_requests").build();
            (0..spans).for_each(|index| {
                job(index);
                tracing::info!(index, "work item");
                counter.add(1, &[]);
            });
            let started = std::time::Instant::now();
            let report = match _telemetry.shutdown() {
                Ok(report) => report,
                Err(error) => error.report().clone(),
            };
            println!("shutdown took {} ms; the report balances: {}", started.elapsed().as_millis(), report.balances());
            return;
        }
        other => panic!("unknown scenario {other}"),
    }
    // What the guard counted while the process ran (queue-full drops are known at once).
    let (spans, logs) = (_telemetry.spans(), _telemetry.log_records());
    println!("dropped so far: spans {} log records {}", spans.dropped.queue_full, logs.dropped.queue_full);
}

fn base_vars(receiver: &Receiver) -> Vec<(&'static str, String)> {
    vec![
        ("OTEL_SERVICE_NAME", "export-test".to_owned()),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint()),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", receiver.protocol().to_owned()),
        ("OTEL_METRICS_EXPORTER", "none".to_owned()),
        ("OTEL_LOGS_EXPORTER", "none".to_owned()),
    ]
}

fn run(scenario: &str, vars: &[(&'static str, String)]) -> std::process::Output {
    let output = child::run("child_scenario", scenario, vars);
    child::assert_success(&output);
    output
}

fn with(mut vars: Vec<(&'static str, String)>, extra: &[(&'static str, &str)]) -> Vec<(&'static str, String)> {
    vars.extend(extra.iter().map(|(name, value)| (*name, (*value).to_owned())));
    vars
}

fn gzip_arrives(transport: Transport) {
    let receiver = Receiver::start_blocking(transport, ReceiverOptions::default());
    run("spans", &with(base_vars(&receiver), &[("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip")]));
    assert_eq!(receiver.wait_for_spans_blocking(10, WAIT).len(), 10);
    let requests = receiver.requests();
    assert!(!requests.is_empty());
    for request in requests {
        assert_eq!(request.compression().as_deref(), Some("gzip"), "{request:?}");
    }
}

#[test]
fn gzip_over_grpc() {
    gzip_arrives(Transport::Grpc);
}

#[test]
fn gzip_over_http() {
    gzip_arrives(Transport::Http);
}

#[test]
fn http_json_is_supported() {
    let receiver = Receiver::start_blocking(Transport::Http, ReceiverOptions::default());
    run("spans", &with(base_vars(&receiver), &[("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json")]));
    let spans = receiver.wait_for_spans_blocking(10, WAIT);
    assert_eq!(spans.len(), 10);
    assert_eq!(spans[0].resource_attribute("service.name").as_deref(), Some("export-test"));
    let request = &receiver.requests()[0];
    assert_eq!(request.content_type.as_deref(), Some("application/json"));
    assert_eq!(request.path, "/v1/traces");
}

#[test]
fn traceidratio_keeps_about_a_tenth_of_10000_roots() {
    let receiver = Receiver::start_blocking(Transport::Grpc, ReceiverOptions::default());
    let vars = with(
        base_vars(&receiver),
        &[
            ("SCENARIO_SPANS", "10000"),
            ("OTEL_TRACES_SAMPLER", "traceidratio"),
            ("OTEL_TRACES_SAMPLER_ARG", "0.1"),
            ("OTEL_BSP_MAX_QUEUE_SIZE", "20000"),
        ],
    );
    run("spans", &vars);
    // The child exited after its guard flushed: the count is final. Binomial(10000, 0.1) has a
    // standard deviation of 30, so 800..=1200 is more than six of them either way.
    let received = receiver.spans().len();
    eprintln!("traceidratio 0.1: {received} of 10000 root spans exported");
    assert!((800..=1200).contains(&received), "{received} of 10000 root spans sampled at 0.1");
}

#[test]
fn parent_based_sampler_follows_the_remote_parent() {
    let receiver = Receiver::start_blocking(Transport::Grpc, ReceiverOptions::default());
    let vars = with(
        base_vars(&receiver),
        &[
            ("SCENARIO_SPANS", "20"),
            ("OTEL_TRACES_SAMPLER", "parentbased_traceidratio"),
            ("OTEL_TRACES_SAMPLER_ARG", "0"),
        ],
    );
    run("parent_based", &vars);
    let spans = receiver.spans();
    assert_eq!(spans.len(), 20, "only the children of the sampled parent: roots sample at 0, unsampled parents win");
    for span in spans {
        assert_eq!(span.trace_id(), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(span.parent_span_id(), "00f067aa0ba902b7");
    }
}

#[test]
fn batch_size_is_honoured() {
    let receiver = Receiver::start_blocking(Transport::Http, ReceiverOptions::default());
    let vars = with(base_vars(&receiver), &[("SCENARIO_SPANS", "50"), ("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "7")]);
    run("spans", &vars);
    assert_eq!(receiver.spans().len(), 50);
    let sizes: Vec<usize> =
        receiver.requests().iter().filter(|r| r.signal == Signal::Traces).map(|r| r.items).collect();
    assert!(sizes.iter().all(|&size| size <= 7), "{sizes:?}");
    assert!(sizes.len() >= 8, "50 spans need at least 8 batches of 7: {sizes:?}");
}

#[test]
fn tracing_events_become_logs_with_their_span_ids() {
    let receiver = Receiver::start_blocking(Transport::Grpc, ReceiverOptions::default());
    run("logs", &with(base_vars(&receiver), &[("OTEL_LOGS_EXPORTER", "otlp")]));
    let span = receiver.spans().into_iter().find(|span| span.name() == "logged-job").expect("the span arrived");
    let logs = receiver.logs();
    let log = logs.iter().find(|log| log.body().as_deref() == Some("order placed")).expect("the log arrived");
    assert_eq!(log.trace_id(), span.trace_id());
    assert_eq!(log.span_id(), span.span_id());
    assert_eq!(log.attribute("order.id").as_deref(), Some("42"));
    assert_eq!(log.resource_attribute("service.name").as_deref(), Some("export-test"));
    assert_eq!(logs.len(), 1, "debug events stay out by default (TRACED_LOG_LEVEL=info)");
}

#[test]
fn traced_log_level_lets_debug_events_through() {
    let receiver = Receiver::start_blocking(Transport::Http, ReceiverOptions::default());
    run("logs", &with(base_vars(&receiver), &[("OTEL_LOGS_EXPORTER", "otlp"), ("TRACED_LOG_LEVEL", "debug")]));
    let mut bodies: Vec<String> = receiver.logs().iter().filter_map(|log| log.body()).collect();
    bodies.sort();
    assert_eq!(bodies, ["cart details", "order placed"]);
}

#[test]
fn tracing_events_become_span_events_when_logs_are_off() {
    let receiver = Receiver::start_blocking(Transport::Http, ReceiverOptions::default());
    run("logs", &base_vars(&receiver));
    let span = receiver.spans().into_iter().find(|span| span.name() == "logged-job").expect("the span arrived");
    let names: Vec<&str> = span.span.events.iter().map(|event| event.name.as_str()).collect();
    assert_eq!(names, ["order placed"]);
    assert!(receiver.logs().is_empty());
}

#[test]
fn metrics_are_exported_on_shutdown() {
    for transport in [Transport::Grpc, Transport::Http] {
        let receiver = Receiver::start_blocking(transport, ReceiverOptions::default());
        run("metrics", &with(base_vars(&receiver), &[("OTEL_METRICS_EXPORTER", "otlp")]));
        let metrics = receiver.metrics();
        let metric =
            metrics.iter().find(|metric| metric.name() == "inter_service_requests").expect("the counter arrived");
        assert_eq!(metric.resource_attribute("service.name").as_deref(), Some("export-test"));
    }
}

fn collector_trouble(vars: Vec<(&'static str, String)>) {
    let output = run(
        "spans",
        &with(
            vars,
            &[("SCENARIO_SPANS", "200"), ("OTEL_EXPORTER_OTLP_TIMEOUT", "300"), ("OTEL_BSP_SCHEDULE_DELAY", "20")],
        ),
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    let warnings = stderr
        .lines()
        .filter(|line| line.starts_with("traced: ") && line.contains("OTLP collector at") && line.contains("traces"))
        .count();
    assert_eq!(warnings, 1, "exactly one warning:\n{stderr}");
}

#[test]
fn a_dead_collector_neither_blocks_nor_crashes_and_warns_once() {
    let http = Receiver::unreachable_endpoint();
    // https builds a TLS client (aws-lc for both tonic and reqwest): it must not panic either.
    let https = http.replacen("http://", "https://", 1);
    for (endpoint, protocol) in [(&http, "grpc"), (&http, "http/protobuf"), (&https, "grpc"), (&https, "http/protobuf")]
    {
        let vars = vec![
            ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.clone()),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", protocol.to_owned()),
            ("OTEL_METRICS_EXPORTER", "none".to_owned()),
            ("OTEL_LOGS_EXPORTER", "none".to_owned()),
        ];
        collector_trouble(vars);
    }
}

#[test]
fn a_slow_collector_neither_blocks_nor_crashes_and_warns_once() {
    let options = ReceiverOptions { response_delay: Some(Duration::from_secs(3)), ..ReceiverOptions::default() };
    let receiver = Receiver::start_blocking(Transport::Grpc, options);
    collector_trouble(base_vars(&receiver));
}

/// The terms of a signal's line in the shutdown summary (`traced: spans: 10 ended = 8 exported + ...`):
/// ended, exported, unconfirmed, pending, dropped, then dropped by cause (queue full, rejected,
/// failed, shutdown deadline, after shutdown).
fn summary_terms(stderr: &str, signal: &str) -> Vec<u64> {
    let prefix = format!("traced: {signal}: ");
    let line = stderr
        .lines()
        .find(|line| line.starts_with(&prefix))
        .unwrap_or_else(|| panic!("a summary line for {signal}:\n{stderr}"));
    line[prefix.len()..]
        .split(|c: char| !c.is_ascii_digit())
        .filter(|number| !number.is_empty())
        .map(|number| number.parse().expect("a count"))
        .collect()
}

/// Runs `scenario` (2000 spans or records) against a collector that answers after 3s while exports
/// give up after 300ms, so a queue of 8 fills at once; checks the one warning naming `queue` and that
/// the shutdown summary accounts for all 2000 `items`, term by term.
fn full_queue_against_a_slow_collector(scenario: &str, queue: &str, items: &str, extra: &[(&'static str, &str)]) {
    let options = ReceiverOptions { response_delay: Some(Duration::from_secs(3)), ..ReceiverOptions::default() };
    let receiver = Receiver::start_blocking(Transport::Grpc, options);
    let vars =
        with(with(base_vars(&receiver), &[("SCENARIO_SPANS", "2000"), ("OTEL_EXPORTER_OTLP_TIMEOUT", "300")]), extra);
    let output = run(scenario, &vars);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let warning = format!("traced: the otlp {queue} is full");
    assert_eq!(stderr.lines().filter(|line| line.starts_with(&warning)).count(), 1, "{stderr}");
    let terms = summary_terms(&stderr, items);
    let [ended, exported, unconfirmed, pending, dropped, queue_full, rejected, failed, deadline, after] = terms[..]
    else {
        panic!("ten terms: {terms:?}\n{stderr}")
    };
    assert_eq!(ended, 2000, "{stderr}");
    assert_eq!(ended, exported + unconfirmed + pending + dropped, "{stderr}");
    assert_eq!(dropped, queue_full + rejected + failed + deadline + after, "{stderr}");
    assert!(queue_full > 0, "{stderr}");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let counted = stdout
        .split(&format!("{items} "))
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|count| count.parse::<u64>().ok())
        .unwrap_or_else(|| panic!("the child reports the guard's count:\n{stdout}"));
    assert!(counted > 0, "the guard counts the queue-full drops before shutdown:\n{stdout}");
}

#[test]
fn a_full_queue_drops_spans_counts_every_one_and_warns_once() {
    let queue = [("OTEL_BSP_MAX_QUEUE_SIZE", "8"), ("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "8")];
    full_queue_against_a_slow_collector("spans", "span export queue", "spans", &queue);
}

#[test]
fn a_full_log_queue_drops_records_counts_every_one_and_warns_once() {
    let logs_only =
        [("OTEL_TRACES_EXPORTER", "none"), ("OTEL_LOGS_EXPORTER", "otlp"), ("OTEL_BLRP_MAX_QUEUE_SIZE", "8")];
    full_queue_against_a_slow_collector("many_logs", "log record export queue", "log records", &logs_only);
}

/// The number after `prefix` in `text`.
fn number_after(text: &str, prefix: &str) -> u64 {
    text.split(prefix)
        .nth(1)
        .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|number| number.parse().ok())
        .unwrap_or_else(|| panic!("`{prefix}<number>` in:\n{text}"))
}

#[test]
fn a_silent_collector_costs_the_shutdown_deadline_once_for_all_signals() {
    let collector = traced_tests::SilentCollector::start();
    let vars = vec![
        ("OTEL_EXPORTER_OTLP_ENDPOINT", collector.endpoint()),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc".to_owned()),
        ("OTEL_LOGS_EXPORTER", "otlp".to_owned()),
        ("OTEL_METRICS_EXPORTER", "otlp".to_owned()),
        ("OTEL_BSP_SCHEDULE_DELAY", "50".to_owned()),
        ("OTEL_BLRP_SCHEDULE_DELAY", "50".to_owned()),
        ("TRACED_SHUTDOWN_TIMEOUT", "1500".to_owned()),
        ("SCENARIO_SPANS", "3000".to_owned()),
    ];
    let output = run("all_signals_then_shutdown", &vars);
    let (stdout, stderr) = (String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    eprintln!("{stdout}{stderr}");
    let took = number_after(&stdout, "shutdown took ");
    // Three signals one after the other would take three deadlines.
    assert!(took < 1500 + 1000, "shutdown took {took} ms for a 1500 ms deadline:\n{stderr}");
    assert!(stdout.contains("the report balances: true"), "{stdout}");
    for (signal, ended) in [("spans", 3000), ("log records", 3000), ("metric exports", 1)] {
        let [total, exported, unconfirmed, pending, dropped, queue_full, rejected, failed, deadline, after] =
            summary_terms(&stderr, signal)[..]
        else {
            panic!("ten terms for {signal}:\n{stderr}")
        };
        assert_eq!(total, ended, "{signal}:\n{stderr}");
        assert_eq!(exported, 0, "nothing is confirmed by a silent collector:\n{stderr}");
        assert_eq!(total, exported + unconfirmed + pending + dropped, "{signal}:\n{stderr}");
        assert_eq!(dropped, queue_full + rejected + failed + deadline + after, "{signal}:\n{stderr}");
        assert_eq!(pending, 0, "the deadline counted everything:\n{stderr}");
        assert!(unconfirmed > 0, "the exports in flight at the deadline are unconfirmed:\n{stderr}");
    }
}

#[test]
fn a_queue_of_100000_spans_is_drained_at_shutdown() {
    let receiver = Receiver::start_blocking(Transport::Grpc, ReceiverOptions::default());
    let vars = with(
        base_vars(&receiver),
        &[
            ("SCENARIO_SPANS", "100000"),
            ("OTEL_BSP_MAX_QUEUE_SIZE", "200000"),
            // Spans wait for shutdown unless a full batch is ready; the deadline is generous for a debug build.
            ("OTEL_BSP_SCHEDULE_DELAY", "60000"),
            ("TRACED_SHUTDOWN_TIMEOUT", "120000"),
        ],
    );
    let output = run("spans", &vars);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(receiver.spans().len(), 100_000, "{stderr}");
    assert!(!stderr.contains("traced: spans:"), "nothing was lost, so no summary:\n{stderr}");
}

#[test]
fn the_signal_endpoint_wins_and_is_used_as_is() {
    let receiver = Receiver::start_blocking(Transport::Http, ReceiverOptions::default());
    let vars = with(
        base_vars(&receiver),
        &[
            // The generic endpoint points nowhere; only the traces endpoint, a full URL, reaches the receiver.
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9"),
            ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", &format!("{}/v1/traces", receiver.endpoint())),
        ],
    );
    run("spans", &vars);
    assert_eq!(receiver.spans().len(), 10);
    assert!(receiver.requests().iter().all(|request| request.path == "/v1/traces"));
}

fn https_exports_with_the_system_roots(transport: Transport) {
    let certificates = TestCertificates::for_loopback();
    let options = ReceiverOptions { tls: Some(certificates.clone()), ..ReceiverOptions::default() };
    let receiver = Receiver::start_blocking(transport, options);
    let port = receiver.endpoint().rsplit(':').next().map(str::to_owned).unwrap_or_default();
    assert!(receiver.endpoint().starts_with("https://127.0.0.1:"));

    // Without trusting the test CA the server is rejected: verification is on.
    let untrusted = run("spans", &base_vars(&receiver));
    let stderr = String::from_utf8_lossy(&untrusted.stderr);
    assert!(stderr.contains("traced: cannot connect to the OTLP collector at https://"), "{stderr}");
    assert!(receiver.spans().is_empty());

    // The child trusts the test CA the way a deployment trusts its own: through the system roots.
    let dir = std::env::temp_dir().join(format!("traced-tls-{}-{port}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let ca = certificates.write_ca(&dir);
    let vars = with(base_vars(&receiver), &[("SSL_CERT_FILE", ca.to_str().expect("UTF-8 temp path"))]);
    run("spans", &vars);
    std::fs::remove_dir_all(&dir).expect("remove the temp dir");
    assert_eq!(receiver.spans().len(), 10, "spans arrived over TLS");
}

#[test]
fn an_https_grpc_endpoint_exports_with_the_system_roots() {
    https_exports_with_the_system_roots(Transport::Grpc);
}

#[test]
fn an_https_http_endpoint_exports_with_the_system_roots() {
    https_exports_with_the_system_roots(Transport::Http);
}

#[test]
fn force_flush_delivers_before_an_abrupt_exit() {
    let receiver = Receiver::start_blocking(Transport::Grpc, ReceiverOptions::default());
    // Only the explicit flush can send: the batch delay is a minute and the guard never drops.
    let vars = with(base_vars(&receiver), &[("OTEL_BSP_SCHEDULE_DELAY", "60000")]);
    run("flush_then_exit", &vars);
    assert_eq!(receiver.spans().len(), 10);
}
