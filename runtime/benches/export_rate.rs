//! Spans made at a fixed rate through `traced::init()`'s export pipeline into a fast in-process OTLP/HTTP
//! sink, then shut down: what was made, exported, dropped (by cause), and the export throughput.
//!
//! `cargo bench -p traced --bench export_rate -- 100000 5` (spans per second, seconds; those are the
//! defaults). The `OTEL_BSP_*` and `TRACED_SHUTDOWN_TIMEOUT` variables apply as usual, e.g.
//! `OTEL_BSP_MAX_QUEUE_SIZE=20000 cargo bench -p traced --bench export_rate`. Not a timed test: it
//! prints figures. Under `cargo test --all-targets` it makes 2,000 spans and checks the accounting.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use traced::telemetry::settings::{ExporterKind, Protocol};
use traced::traced;

#[path = "support/sink.rs"]
mod sink;

#[traced(name = "work", attributes(work.index = index))]
fn work(index: u64) -> u64 {
    index.wrapping_mul(31)
}

fn main() {
    let bench = std::env::args().any(|arg| arg == "--bench");
    let numbers: Vec<f64> =
        std::env::args().skip(1).filter(|arg| !arg.starts_with('-')).filter_map(|arg| arg.parse().ok()).collect();
    let (rate, seconds) = if bench {
        (numbers.first().copied().unwrap_or(100_000.0), numbers.get(1).copied().unwrap_or(5.0))
    } else {
        (10_000.0, 0.2)
    };

    let received = Arc::new(sink::Received::default());
    let endpoint = sink::start(received.clone(), true);
    let telemetry = traced::Telemetry::builder()
        .traces_exporters([ExporterKind::Otlp])
        .metrics_exporters([])
        .logs_exporters([])
        .otlp_protocol(Protocol::HttpProtobuf)
        .otlp_endpoint(endpoint)
        .tracing_subscriber(false)
        .init()
        .expect("init");

    let start = Instant::now();
    let duration = Duration::from_secs_f64(seconds);
    let mut made = 0u64;
    // Time spent making spans on this thread (span start, end, and the push into the export queue).
    let mut making = Duration::ZERO;
    while start.elapsed() < duration {
        let due = (start.elapsed().as_secs_f64() * rate) as u64;
        let burst = Instant::now();
        while made < due {
            std::hint::black_box(work(made));
            made += 1;
        }
        making += burst.elapsed();
        std::thread::sleep(Duration::from_micros(200));
    }
    let made_in = start.elapsed();
    let before_shutdown = telemetry.spans();
    let shutdown_started = Instant::now();
    let report = match telemetry.shutdown() {
        Ok(report) => report,
        Err(error) => error.report().clone(),
    };
    let shutdown_took = shutdown_started.elapsed();
    let total = start.elapsed();
    let spans = report.spans;
    let dropped = spans.dropped;

    println!(
        "export_rate: {made} spans made in {made_in:.2?} ({rate:.0} spans/s asked), {:.0} ns per span on the \
         calling thread",
        making.as_nanos() as f64 / made.max(1) as f64
    );
    println!(
        "  queue {} (OTEL_BSP_MAX_QUEUE_SIZE), batch {} (OTEL_BSP_MAX_EXPORT_BATCH_SIZE)",
        std::env::var("OTEL_BSP_MAX_QUEUE_SIZE").unwrap_or_else(|_| "2048".into()),
        std::env::var("OTEL_BSP_MAX_EXPORT_BATCH_SIZE").unwrap_or_else(|_| "512".into())
    );
    println!(
        "  ended {}, exported {}, unconfirmed {}, pending {}, dropped {} ({:.2}%): queue full {}, rejected {}, \
         failed {}, shutdown deadline {}, after shutdown {}",
        spans.ended,
        spans.exported,
        spans.unconfirmed,
        spans.pending,
        dropped.total(),
        dropped.total() as f64 * 100.0 / spans.ended.max(1) as f64,
        dropped.queue_full,
        dropped.rejected,
        dropped.failed,
        dropped.shutdown_deadline,
        dropped.after_shutdown
    );
    println!(
        "  exported while running {}, then shutdown drained {} in {shutdown_took:.2?}",
        before_shutdown.exported,
        spans.exported - before_shutdown.exported
    );
    println!(
        "  export throughput {:.0} spans/s; the sink received {} spans in {} requests ({:.1} MB)",
        spans.exported as f64 / total.as_secs_f64(),
        received.spans.load(Ordering::Relaxed),
        received.requests.load(Ordering::Relaxed),
        received.bytes.load(Ordering::Relaxed) as f64 / 1e6
    );

    assert!(spans.balances(), "the accounting identity holds: {spans:?}");
    assert_eq!(spans.ended, made, "every sampled span ended is counted");
    let at_sink = received.spans.load(Ordering::Relaxed);
    assert!(
        (spans.exported..=spans.exported + spans.unconfirmed).contains(&at_sink),
        "the sink has every exported span, and unconfirmed ones at most: {at_sink} received, {spans:?}"
    );
}
