//! What the server layer costs per request, next to no layer, a naive middleware,
//! axum-tracing-opentelemetry and opentelemetry-instrumentation-tower, in one run:
//! `cargo bench -p traced --bench http_overhead` (`-- --rounds=3` for a shorter run).
//!
//! Each case serves an axum hello world on 127.0.0.1 from a one-worker tokio runtime, with every span
//! sampled (`parentbased_always_on`, `traced::init()`'s default, with the sampler and id generator
//! known to `traced` as `init()` installs them) and exported through a batch processor into an
//! exporter that discards; the unsampled case installs `parentbased_traceidratio` at 0 instead. A raw HTTP/1.1
//! keep-alive load generator (its own runtime, threads named `loadgen`) sends the requests. CPU per
//! request is the on-CPU time of every thread except the load generator's and the main thread (so the
//! batch processor's thread counts), read from `/proc/self/task/*/schedstat` (nanoseconds). Cases run
//! interleaved for several rounds and the best round is reported: other work on a shared machine only
//! ever adds CPU time (cache misses, migrations), so the best round is the closest to the layer's own
//! cost. A second table hands requests to the router in process, without sockets, where the noise of
//! the kernel's network path is gone.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::routing::get;
use axum::Router;
use opentelemetry::metrics::NoopMeterProvider;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader, SdkMeterProvider};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{BatchSpanProcessor, Sampler, SdkTracerProvider, SpanData, SpanExporter, SpanProcessor};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use traced::{SharedIdGenerator, SharedSampler};
use tracing_subscriber::layer::SubscriberExt as _;

const CONNECTIONS: usize = 4;
const WARMUP_REQUESTS: usize = 2_000;
const REQUESTS: usize = 20_000;
const ROUNDS: usize = 7;

/// Accepts every batch and keeps nothing: the cost measured is the layer's, not an exporter's.
#[derive(Debug)]
struct Discard;

impl SpanExporter for Discard {
    async fn export(&self, _batch: Vec<SpanData>) -> OTelSdkResult {
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Case {
    Bare,
    Traced,
    TracedPipeline,
    TracedUnsampled,
    TracedWithoutMetrics,
    NaiveMiddleware,
    AxumTracingOpentelemetry,
    InstrumentationTower,
}

impl Case {
    const ALL: [Case; 8] = [
        Case::Bare,
        Case::Traced,
        Case::TracedPipeline,
        Case::TracedUnsampled,
        Case::TracedWithoutMetrics,
        Case::NaiveMiddleware,
        Case::AxumTracingOpentelemetry,
        Case::InstrumentationTower,
    ];

    fn name(self) -> &'static str {
        match self {
            Case::Bare => "axum, no layer",
            Case::Traced => "traced::axum::TracedLayer",
            Case::TracedPipeline => "TracedLayer, traced's own span pipeline",
            Case::TracedUnsampled => "TracedLayer, unsampled (ratio 0)",
            Case::TracedWithoutMetrics => "TracedLayer, spans only (no meter provider)",
            Case::NaiveMiddleware => "naive middleware (span, status code)",
            Case::AxumTracingOpentelemetry => "axum-tracing-opentelemetry 0.42",
            Case::InstrumentationTower => "opentelemetry-instrumentation-tower 0.19",
        }
    }

    fn app(self, meter: &opentelemetry::metrics::Meter) -> Router {
        let app = Router::new().route("/", get(|| async { "Hello, World!" }));
        match self {
            Case::Bare => app,
            Case::Traced | Case::TracedPipeline | Case::TracedUnsampled => {
                app.layer(traced::axum::TracedLayer::new().meter(meter))
            }
            Case::TracedWithoutMetrics => {
                let noop = opentelemetry::metrics::MeterProvider::meter(&NoopMeterProvider::new(), "spans-only");
                app.layer(traced::axum::TracedLayer::new().meter(&noop))
            }
            Case::NaiveMiddleware => app.layer(axum::middleware::from_fn(naive_middleware)),
            Case::AxumTracingOpentelemetry => {
                app.layer(axum_tracing_opentelemetry::middleware::OtelAxumLayer::default())
            }
            // Takes its tracer and meter from `opentelemetry::global` (the same providers as the others).
            Case::InstrumentationTower => app.layer(opentelemetry_instrumentation_tower::http::server::Layer::new()),
        }
    }
}

/// A tracer provider as `traced::init()` installs it: batch processor, sampler and id generator known.
struct Tracing {
    provider: SdkTracerProvider,
    sampler: SharedSampler,
    ids: SharedIdGenerator,
}

impl Tracing {
    /// `OTEL_TRACES_SAMPLER=parentbased_*` with this root sampler, into the SDK's batch processor.
    fn new(root: Sampler) -> Self {
        Self::with_processor(root, BatchSpanProcessor::builder(Discard).build())
    }

    fn with_processor(root: Sampler, processor: impl SpanProcessor + 'static) -> Self {
        let sampler = SharedSampler::parent_based(root);
        let ids = SharedIdGenerator::default();
        let provider = SdkTracerProvider::builder()
            .with_sampler(sampler.clone())
            .with_id_generator(ids.clone())
            .with_span_processor(processor)
            .build();
        Self { provider, sampler, ids }
    }

    /// Makes this the provider of `traced` and of `opentelemetry::global` (the peers' tracer).
    fn install(&self) {
        traced::install_tracer_provider_with_sampler_and_ids(&self.provider, self.sampler.clone(), self.ids.clone());
    }
}

/// Every case samples every span but the unsampled one, which samples none. All but one export
/// through the SDK's batch processor; the pipeline case through `traced`'s own (queue, worker, the
/// attribute `Vec`s handed back for reuse), as `traced::init()` builds it.
struct Providers {
    sampled: Tracing,
    unsampled: Tracing,
    pipeline: Tracing,
    pipeline_fate: traced::telemetry::DiscardingSpanPipeline,
}

impl Providers {
    fn new() -> Self {
        // A queue that holds a whole in-process round, so that no span is dropped for want of room.
        let batch = traced::telemetry::BatchSettings { max_queue_size: 1_000_000, ..Default::default() };
        let (pipeline_fate, processor) =
            traced::telemetry::DiscardingSpanPipeline::start(&batch).expect("traced's span pipeline");
        Self {
            sampled: Tracing::new(Sampler::AlwaysOn),
            unsampled: Tracing::new(Sampler::TraceIdRatioBased(0.0)),
            pipeline: Tracing::with_processor(Sampler::AlwaysOn, processor),
            pipeline_fate,
        }
    }

    fn install_for(&self, case: Case) {
        match case {
            Case::TracedUnsampled => self.unsampled.install(),
            Case::TracedPipeline => self.pipeline.install(),
            _ => self.sampled.install(),
        }
    }

    fn shutdown(&self) {
        let _ = self.pipeline.provider.force_flush();
        let spans = self.pipeline_fate.spans();
        eprintln!(
            "traced's span pipeline: {} of {} spans exported, {} dropped",
            spans.exported,
            spans.ended,
            spans.dropped.total()
        );
        for tracing in [&self.sampled, &self.unsampled, &self.pipeline] {
            let _ = tracing.provider.shutdown();
        }
    }
}

/// The floor: what a hand-written OpenTelemetry middleware does with no attributes but the status code.
async fn naive_middleware(request: axum::extract::Request, next: axum::middleware::Next) -> axum::response::Response {
    use opentelemetry::context::FutureExt as _;
    use opentelemetry::trace::{TraceContextExt as _, Tracer as _};

    let tracer = opentelemetry::global::tracer("naive");
    let span = tracer.span_builder("GET /").with_kind(opentelemetry::trace::SpanKind::Server).start(&tracer);
    let cx = opentelemetry::Context::current_with_span(span);
    let response = next.run(request).with_context(cx.clone()).await;
    let span = cx.span();
    span.set_attribute(opentelemetry::KeyValue::new(
        "http.response.status_code",
        i64::from(response.status().as_u16()),
    ));
    span.end();
    response
}

/// One measurement: requests per second and server-side CPU nanoseconds per request.
#[derive(Debug, Clone, Copy)]
struct Sample {
    requests_per_second: f64,
    cpu_ns_per_request: f64,
}

fn main() {
    let providers = Providers::new();
    let provider = providers.sampled.provider.clone();
    // Aggregates like a real app; its first export (every 60 s) comes after the run.
    let meter_provider = SdkMeterProvider::builder()
        .with_reader(PeriodicReader::builder(InMemoryMetricExporter::default()).build())
        .build();
    let meter = opentelemetry::metrics::MeterProvider::meter(&meter_provider, "http_overhead");
    // opentelemetry-instrumentation-tower only reads the global meter provider.
    opentelemetry::global::set_meter_provider(meter_provider.clone());
    providers.sampled.install();
    traced::propagation::set_text_map_propagator(TraceContextPropagator::new());
    // axum-tracing-opentelemetry creates `tracing` spans that tracing-opentelemetry turns into OTel spans.
    let subscriber = tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("axum-tracing-opentelemetry")));
    tracing::subscriber::set_global_default(subscriber).expect("no other subscriber in the bench");

    let loadgen = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("loadgen")
        .enable_all()
        .build()
        .expect("load generator runtime");

    // `cargo bench --bench http_overhead -- traced` runs the cases whose name contains `traced` (and
    // the baseline, which the ratios need).
    let filters: Vec<String> = std::env::args().skip(1).filter(|arg| !arg.starts_with("--")).collect();
    let selected = |case: &Case| {
        *case == Case::Bare || filters.is_empty() || filters.iter().any(|filter| case.name().contains(filter.as_str()))
    };
    let mut samples: Vec<(Case, Vec<Sample>)> =
        Case::ALL.iter().filter(|case| selected(case)).map(|case| (*case, Vec::new())).collect();
    // `-- --in-process` skips the TCP rounds (quick iterations on the layer's own cost).
    let rounds = if std::env::args().any(|arg| arg == "--in-process") { 0 } else { rounds() };
    // `cargo test --all-targets` runs benches without `--bench` (and unoptimised): one round of each
    // case proves the harness works without spending minutes on numbers nobody reads.
    let smoke_test = !std::env::args().any(|arg| arg == "--bench");
    let rounds = if smoke_test { 1 } else { rounds };
    for round in 0..rounds {
        for (case, results) in &mut samples {
            providers.install_for(*case);
            let sample = measure(*case, &meter, &loadgen);
            eprintln!(
                "round {}: {:<44} {:>9.0} req/s {:>7.2} µs CPU/request",
                round + 1,
                case.name(),
                sample.requests_per_second,
                sample.cpu_ns_per_request / 1_000.0
            );
            results.push(sample);
        }
    }
    if rounds > 0 {
        report(&samples);
    }
    if !smoke_test {
        in_process_report(&meter, &providers, &samples.iter().map(|(case, _)| *case).collect::<Vec<_>>());
    }
    providers.shutdown();
}

/// The same cases without sockets: requests handed straight to the router on one thread, so the
/// layer's own cost shows without the kernel's noise. CPU of every thread (the batch processor's too).
fn in_process_report(meter: &opentelemetry::metrics::Meter, providers: &Providers, cases: &[Case]) {
    let calls = calls();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    // `with_state(())` turns every route into its service once, as `axum::serve` does
    // (`into_make_service*`); a bare `Router<()>` would rebuild the layered route on each request.
    let apps: Vec<Router> = cases.iter().map(|case| case.app(meter).with_state(())).collect();
    let mut runs: Vec<Vec<f64>> = vec![Vec::new(); cases.len()];
    let peer = SocketAddr::from(([127, 0, 0, 1], 50_000));
    // Rounds interleave the cases, so a busy moment on the machine hits them all alike.
    for _ in 0..rounds() {
        for ((app, runs), case) in apps.iter().zip(&mut runs).zip(cases) {
            providers.install_for(*case);
            let cpu_before = process_cpu_ns();
            runtime.block_on(async {
                for _ in 0..calls {
                    let request = axum::http::Request::get("/")
                        .header("host", "127.0.0.1:8000")
                        .header("user-agent", "http_overhead")
                        .extension(axum::extract::ConnectInfo(peer))
                        .body(axum::body::Body::empty())
                        .expect("request");
                    let response = tower::ServiceExt::oneshot(app.clone(), request).await.expect("infallible");
                    let body = axum::body::to_bytes(response.into_body(), 64).await.expect("body");
                    std::hint::black_box(body);
                }
            });
            runs.push(process_cpu_ns().saturating_sub(cpu_before) as f64 / calls as f64);
        }
    }
    let results: Vec<(Case, f64)> = cases.iter().copied().zip(runs.into_iter().map(lowest)).collect();
    let bare = results[0].1;
    println!("\nin process (no sockets): {calls} calls x {} rounds, best round\n", rounds());
    println!("| case | CPU µs/request | extra CPU µs/request |");
    println!("| --- | ---: | ---: |");
    for (case, cpu) in results {
        println!("| {} | {:.2} | {:+.2} |", case.name(), cpu / 1_000.0, (cpu - bare) / 1_000.0);
    }
}

/// On-CPU nanoseconds of every thread of the process.
fn process_cpu_ns() -> u64 {
    cpu_ns_of_threads(|_| true)
}

/// Serves `case` on a fresh one-worker runtime and drives it with the load generator.
fn measure(case: Case, meter: &opentelemetry::metrics::Meter, loadgen: &tokio::runtime::Runtime) -> Sample {
    let server = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("server")
        .enable_all()
        .build()
        .expect("server runtime");
    let app = case.app(meter);
    let address = server.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1:0");
        let address = listener.local_addr().expect("local address");
        // With the peer's address, as the README tells users to serve (client.address, network.peer.*).
        let app = app.into_make_service_with_connect_info::<SocketAddr>();
        tokio::spawn(async move { axum::serve(listener, app).await.expect("server runs") });
        address
    });

    loadgen.block_on(drive(address, WARMUP_REQUESTS));
    let cpu_before = server_side_cpu_ns();
    let started = Instant::now();
    loadgen.block_on(drive(address, REQUESTS));
    let elapsed = started.elapsed();
    let cpu = server_side_cpu_ns().saturating_sub(cpu_before);
    server.shutdown_timeout(Duration::from_secs(1));
    Sample {
        requests_per_second: REQUESTS as f64 / elapsed.as_secs_f64(),
        cpu_ns_per_request: cpu as f64 / REQUESTS as f64,
    }
}

/// Sends `total` requests over `CONNECTIONS` keep-alive connections, one in flight per connection.
async fn drive(address: SocketAddr, total: usize) {
    let per_connection = total / CONNECTIONS;
    let connections: Vec<_> =
        (0..CONNECTIONS).map(|_| tokio::spawn(async move { hello_requests(address, per_connection).await })).collect();
    for connection in connections {
        connection.await.expect("load generator task");
    }
}

async fn hello_requests(address: SocketAddr, count: usize) {
    const REQUEST: &[u8] = b"GET / HTTP/1.1\r\nhost: 127.0.0.1\r\nuser-agent: http_overhead\r\n\r\n";
    let mut stream = TcpStream::connect(address).await.expect("connect");
    stream.set_nodelay(true).expect("nodelay");
    let mut buffer = Vec::with_capacity(4096);
    for _ in 0..count {
        stream.write_all(REQUEST).await.expect("send request");
        read_response(&mut stream, &mut buffer).await;
    }
}

/// Reads one response (head and `content-length` body) and leaves the buffer empty for the next.
async fn read_response(stream: &mut TcpStream, buffer: &mut Vec<u8>) {
    loop {
        if let Some(length) = complete_response_length(buffer) {
            buffer.drain(..length);
            return;
        }
        let mut chunk = [0_u8; 4096];
        let read = stream.read(&mut chunk).await.expect("read response");
        assert!(read > 0, "the server closed the connection");
        buffer.extend_from_slice(&chunk[..read]);
    }
}

/// The length of the first complete response in `buffer`, if it has arrived.
fn complete_response_length(buffer: &[u8]) -> Option<usize> {
    let head_end = buffer.windows(4).position(|window| window == b"\r\n\r\n")? + 4;
    let head = std::str::from_utf8(&buffer[..head_end]).ok()?;
    assert!(head.starts_with("HTTP/1.1 200"), "unexpected response: {head}");
    let body_length = head
        .lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("content-length").then(|| value.trim().parse::<usize>().ok())?
        })
        .unwrap_or(0);
    (buffer.len() >= head_end + body_length).then_some(head_end + body_length)
}

/// On-CPU nanoseconds of every thread but the load generator's and the main thread.
fn server_side_cpu_ns() -> u64 {
    let main_tid = std::process::id().to_string();
    cpu_ns_of_threads(|task| {
        task.file_name().to_str() != Some(main_tid.as_str())
            && std::fs::read_to_string(task.path().join("comm")).is_ok_and(|name| !name.starts_with("loadgen"))
    })
}

/// Sum of the on-CPU nanoseconds (`/proc/self/task/<tid>/schedstat`) of the threads `include` keeps.
fn cpu_ns_of_threads(include: impl Fn(&std::fs::DirEntry) -> bool) -> u64 {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else { return 0 };
    tasks
        .filter_map(Result::ok)
        .filter(|task| include(task))
        .filter_map(|task| std::fs::read_to_string(task.path().join("schedstat")).ok())
        .filter_map(|stat| stat.split_whitespace().next()?.parse::<u64>().ok())
        .sum()
}

/// `--calls=N` (default 100,000): requests per case and round in process (a few thousand under
/// `valgrind --tool=callgrind`, whose instruction counts are steady on a busy machine).
fn calls() -> usize {
    std::env::args().find_map(|arg| arg.strip_prefix("--calls=")?.parse().ok()).unwrap_or(100_000)
}

/// `--rounds=N` (default 7): rounds of each case, interleaved.
fn rounds() -> usize {
    std::env::args().find_map(|arg| arg.strip_prefix("--rounds=")?.parse().ok()).unwrap_or(ROUNDS)
}

fn lowest(values: impl IntoIterator<Item = f64>) -> f64 {
    values.into_iter().fold(f64::INFINITY, f64::min)
}

fn highest(values: impl IntoIterator<Item = f64>) -> f64 {
    values.into_iter().fold(0.0, f64::max)
}

fn report(samples: &[(Case, Vec<Sample>)]) {
    let summary: Vec<(Case, f64, f64)> = samples
        .iter()
        .map(|(case, results)| {
            let rps = highest(results.iter().map(|s| s.requests_per_second));
            let cpu = lowest(results.iter().map(|s| s.cpu_ns_per_request));
            (*case, rps, cpu)
        })
        .collect();
    let (_, bare_rps, bare_cpu) = summary[0];
    println!("\nhttp_overhead: {REQUESTS} requests x {} rounds, {CONNECTIONS} connections, best round\n", rounds());
    println!("| case | req/s | req/s vs no layer | CPU µs/request | extra CPU µs/request | CPU vs no layer |");
    println!("| --- | ---: | ---: | ---: | ---: | ---: |");
    for (case, rps, cpu) in summary {
        println!(
            "| {} | {:.0} | {:.2} | {:.2} | {:+.2} | {:.2} |",
            case.name(),
            rps,
            rps / bare_rps,
            cpu / 1_000.0,
            (cpu - bare_cpu) / 1_000.0,
            cpu / bare_cpu
        );
    }
}
