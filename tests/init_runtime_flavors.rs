//! `traced::init()` configured only through `OTEL_*` variables, under every way a program runs:
//! `#[tokio::main]` (multi-thread), `#[tokio::main(flavor = "current_thread")]`, and a plain
//! `fn main` with no runtime, over gRPC and HTTP. Each case runs in its own child process; the
//! parent's receiver must hold every span once the child's guard has dropped and the child exited.

use std::time::Duration;

use traced::traced;
use traced_tests::{child, ReceivedSpan, Receiver, ReceiverOptions, Transport};

/// Spans per scenario: `SPANS` roots, each with one child.
const SPANS: usize = 40;
const WAIT: Duration = Duration::from_secs(30);

#[traced(name = "job", attributes(job.index = index))]
fn job(index: u64) -> u64 {
    square(index)
}

#[traced]
fn square(value: u64) -> u64 {
    traced::record("square.input", value);
    value * value
}

#[traced(name = "async-job", attributes(job.index = index))]
async fn async_job(index: u64) -> u64 {
    tokio::task::yield_now().await;
    square(index)
}

/// The child side: does nothing unless started by `run_flavor`.
#[test]
fn child_scenario() {
    let Some(scenario) = child::scenario() else { return };
    match scenario.as_str() {
        "multi_thread" => {
            tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime").block_on(async_main())
        }
        "current_thread" => {
            tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime").block_on(async_main())
        }
        "plain" => plain_main(),
        other => panic!("unknown scenario {other}"),
    }
}

/// What `#[tokio::main] async fn main` does: init, work, and the guard drops at the end of `main`.
async fn async_main() {
    let _telemetry = traced::init().expect("init from the environment");
    for index in 0..SPANS as u64 {
        async_job(index).await;
    }
}

fn plain_main() {
    let _telemetry = traced::init().expect("init from the environment");
    for index in 0..SPANS as u64 {
        job(index);
    }
}

fn run_flavor(scenario: &str, transport: Transport) {
    let receiver = Receiver::start_blocking(transport, ReceiverOptions::default());
    let vars = [
        ("OTEL_SERVICE_NAME", "flavor-test".to_owned()),
        ("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment=ci,team=core%20platform".to_owned()),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint()),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", receiver.protocol().to_owned()),
        ("OTEL_EXPORTER_OTLP_HEADERS", "signoz-ingestion-key=secret-key".to_owned()),
        ("OTEL_TRACES_EXPORTER", "otlp".to_owned()),
        ("OTEL_METRICS_EXPORTER", "none".to_owned()),
        ("OTEL_LOGS_EXPORTER", "none".to_owned()),
        // A long delay: only the guard's flush can deliver the spans before the child exits.
        ("OTEL_BSP_SCHEDULE_DELAY", "60000".to_owned()),
    ];
    let output = child::run("child_scenario", scenario, &vars);
    child::assert_success(&output);

    // The child has exited: whatever it flushed on drop is already here.
    let spans = receiver.wait_for_spans_blocking(2 * SPANS, WAIT);
    assert_eq!(spans.len(), 2 * SPANS, "every span arrived before the child exited");
    assert_received(&spans, &receiver);
}

fn assert_received(spans: &[ReceivedSpan], receiver: &Receiver) {
    let first = &spans[0];
    assert_eq!(first.resource_attribute("service.name").as_deref(), Some("flavor-test"));
    assert_eq!(first.resource_attribute("deployment.environment").as_deref(), Some("ci"));
    assert_eq!(first.resource_attribute("team").as_deref(), Some("core platform"), "percent-decoded");
    assert_eq!(first.resource_attribute("telemetry.sdk.language").as_deref(), Some("rust"));
    let roots: Vec<_> = spans.iter().filter(|span| span.parent_span_id().is_empty()).collect();
    assert_eq!(roots.len(), SPANS);
    let mut indexes: Vec<u64> = roots.iter().filter_map(|span| span.attribute("job.index")?.parse().ok()).collect();
    indexes.sort_unstable();
    assert_eq!(indexes, (0..SPANS as u64).collect::<Vec<_>>());
    for child in spans.iter().filter(|span| span.name() == "square") {
        let parent =
            roots.iter().find(|root| root.span_id() == child.parent_span_id()).expect("each child has its root");
        assert_eq!(parent.trace_id(), child.trace_id());
        assert!(child.attribute("square.input").is_some());
    }
    for request in receiver.requests() {
        assert_eq!(request.header("signoz-ingestion-key").as_deref(), Some("secret-key"));
        assert_eq!(request.headers.get_all("signoz-ingestion-key").iter().count(), 1, "sent once");
    }
}

#[test]
fn grpc_under_tokio_multi_thread() {
    run_flavor("multi_thread", Transport::Grpc);
}

#[test]
fn grpc_under_tokio_current_thread() {
    run_flavor("current_thread", Transport::Grpc);
}

#[test]
fn grpc_in_plain_main() {
    run_flavor("plain", Transport::Grpc);
}

#[test]
fn http_under_tokio_multi_thread() {
    run_flavor("multi_thread", Transport::Http);
}

#[test]
fn http_under_tokio_current_thread() {
    run_flavor("current_thread", Transport::Http);
}

#[test]
fn http_in_plain_main() {
    run_flavor("plain", Transport::Http);
}
