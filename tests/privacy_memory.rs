//! Bounded by default: a client sending 300 KB headers cannot make the spans waiting for a collector
//! that never answers grow the process. Every copied value is capped when it is copied, so 2,000 such
//! requests against the sample app must raise the peak RSS (`VmHWM`) by less than 32 MB; without the
//! caps the same run held every header in the export queue (11 MB -> 927 MB).
//!
//! The app runs in a child process (its `init()` is process-global and its peak RSS must be its own);
//! the parent starts the collector: a listener on 127.0.0.1 that accepts connections and never reads
//! nor answers.

use std::io::Write as _;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures_util::stream::{self, StreamExt as _};
use opentelemetry::Context;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{Span, SpanData, SpanProcessor};
use traced::Telemetry;
use traced_examples::app::{AppConfig, SampleApp};
use traced_tests::child;

const REQUESTS: usize = 2_000;
const CONCURRENCY: usize = 8;
const FAT_HEADER_BYTES: usize = 300 * 1024;
const GROWTH_LIMIT_KB: u64 = 32 * 1024;
const RESULT_LINE: &str = "PEAK RSS GROWTH KB: ";

/// Counts the server spans that end and the longest string value any of them carried.
#[derive(Debug, Default)]
struct Observed {
    server_spans: AtomicUsize,
    longest_value: AtomicUsize,
}

#[derive(Debug)]
struct Observer(Arc<Observed>);

impl SpanProcessor for Observer {
    fn on_start(&self, _span: &mut Span, _cx: &Context) {}

    fn on_end(&self, span: SpanData) {
        if span.span_kind != opentelemetry::trace::SpanKind::Server {
            return;
        }
        self.0.server_spans.fetch_add(1, Ordering::Relaxed);
        let longest = span.attributes.iter().map(|kv| kv.value.as_str().len()).max().unwrap_or(0);
        self.0.longest_value.fetch_max(longest, Ordering::Relaxed);
    }

    fn force_flush(&self) -> OTelSdkResult {
        Ok(())
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        Ok(())
    }
}

/// `VmHWM` (peak resident set) of this process, in kB.
fn peak_rss_kb() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status is readable");
    let line = status.lines().find(|line| line.starts_with("VmHWM:")).expect("a VmHWM line");
    line.split_whitespace().nth(1).and_then(|kb| kb.parse().ok()).expect("VmHWM in kB")
}

/// The child: the sample app with OTLP to the silent collector, then the fat requests.
#[test]
fn child_scenario() {
    if child::scenario().is_none() {
        return;
    }
    let observed = Arc::new(Observed::default());
    let telemetry =
        Telemetry::builder().span_processor(Observer(observed.clone())).init().expect("telemetry from the environment");
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let growth = runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let config = AppConfig { io_delay: Duration::ZERO, ..AppConfig::default() };
        // The sample app's routes served by plain `axum::serve`, whose hyper reads heads up to ~400 KB
        // (the sample app's own server refuses heads over 64 KiB): `traced` must stay bounded whatever
        // the server in front of it accepts.
        let app = SampleApp::start(config).await.expect("start the app");
        let address = listener.local_addr().expect("address").to_string();
        let service = app.router().into_make_service_with_connect_info::<SocketAddr>();
        let server = tokio::spawn(async move { axum::serve(listener, service).await });
        let client = reqwest::Client::new();
        // Warm up with ordinary requests: the baseline includes the app, the runtime and the exporters.
        for _ in 0..20 {
            let response =
                client.get(format!("http://{address}/items/1?q=warm")).send().await.expect("the app answers");
            assert_eq!(response.status(), 200);
        }
        let before = peak_rss_kb();
        let fat = http::HeaderValue::from_str(&"A".repeat(FAT_HEADER_BYTES)).expect("a valid header value");
        let fat_host = http::HeaderValue::from_str(&format!("{}:80", "h".repeat(FAT_HEADER_BYTES))).expect("a host");
        let ok = AtomicU64::new(0);
        stream::iter(0..REQUESTS)
            .for_each_concurrent(CONCURRENCY, |index| {
                let mut request = client.get(format!("http://{address}/items/1?q={index}"));
                // Half the requests carry a fat User-Agent, the other half a fat Host.
                request = if index % 2 == 0 {
                    request.header(http::header::USER_AGENT, fat.clone())
                } else {
                    request.header(http::header::HOST, fat_host.clone())
                };
                let ok = &ok;
                async move {
                    let response = request.send().await.expect("the app answers");
                    assert_eq!(response.status(), 200);
                    ok.fetch_add(1, Ordering::Relaxed);
                }
            })
            .await;
        assert_eq!(ok.load(Ordering::Relaxed), REQUESTS as u64);
        let after = peak_rss_kb();
        server.abort();
        after.saturating_sub(before)
    });
    let spans = observed.server_spans.load(Ordering::Relaxed);
    let longest = observed.longest_value.load(Ordering::Relaxed);
    assert!(spans >= REQUESTS, "every request had its server span: {spans}");
    assert!(longest <= 2048, "the longest recorded value is {longest} bytes");
    println!("{RESULT_LINE}{growth}");
    std::io::stdout().flush().expect("flush stdout");
    // The collector never answers: shutting down would only wait for the export deadline.
    std::mem::forget(telemetry);
    std::process::exit(0);
}

#[test]
fn fat_headers_do_not_grow_the_process_while_the_collector_is_silent() {
    // A collector that accepts connections and never answers; its sockets live until the test ends.
    let collector = std::net::TcpListener::bind("127.0.0.1:0").expect("bind the silent collector");
    let endpoint = format!("http://{}", collector.local_addr().expect("collector address"));
    let held = std::thread::spawn(move || {
        let mut connections = Vec::new();
        for connection in collector.incoming().take(64) {
            match connection {
                Ok(connection) => connections.push(connection),
                Err(_) => break,
            }
        }
        connections
    });
    let vars = [
        ("OTEL_SERVICE_NAME", "sample-app".to_owned()),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf".to_owned()),
        ("OTEL_TRACES_EXPORTER", "otlp".to_owned()),
        ("OTEL_METRICS_EXPORTER", "otlp".to_owned()),
        ("OTEL_LOGS_EXPORTER", "otlp".to_owned()),
    ];
    let output = child::run("child_scenario", "fat-headers", &vars);
    child::assert_success(&output);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let growth: u64 = stdout
        .lines()
        .find_map(|line| line.split_once(RESULT_LINE))
        .and_then(|(_, kb)| kb.trim().parse().ok())
        .unwrap_or_else(|| panic!("the child reported its peak RSS growth:\n{stdout}"));
    println!("peak RSS growth over {REQUESTS} requests with {FAT_HEADER_BYTES}-byte headers: {growth} kB");
    assert!(growth < GROWTH_LIMIT_KB, "peak RSS grew by {growth} kB (limit {GROWTH_LIMIT_KB} kB)");
    drop(held);
}
