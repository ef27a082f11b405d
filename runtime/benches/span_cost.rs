//! Cost of one traced call, in ns and heap allocations, next to the peers, in one run:
//! `cargo bench -p traced --bench span_cost`.
//!
//! Criterion measures each case; a summary pass then times 1,000,000 calls per case (median of 5 runs),
//! counts the allocations made on the calling thread, and prints the README's table. The batch
//! processor's drops at this rate are reported too, and `#[traced], sampled, init() pipeline` runs the
//! same call through `traced::init()`'s export pipeline into an in-process OTLP/HTTP sink.
#![allow(unsafe_code)] // the counting global allocator below

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::future::Future;
use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::Criterion;
use futures_util::FutureExt as _;
use opentelemetry::trace::{TraceContextExt as _, Tracer as _, TracerProvider as _};
use opentelemetry::Context;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{BatchSpanProcessor, Sampler, SdkTracerProvider, SpanData, SpanExporter};
use tracing_subscriber::layer::SubscriberExt as _;

#[cfg(all(feature = "axum", feature = "otlp-http"))]
#[path = "support/sink.rs"]
mod sink;

struct CountingAllocator;

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

// SAFETY: forwards to the system allocator; only counts, per thread, without allocating.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|count| count.set(count.get() + 1));
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|count| count.set(count.get() + 1));
        // SAFETY: same contract as ours.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

// ---- the functions under test ------------------------------------------------------------------

#[inline(never)]
fn bare(x: u64) -> u64 {
    black_box(x) + 1
}

#[traced::traced]
#[inline(never)]
fn with_traced(x: u64) -> u64 {
    black_box(x) + 1
}

#[traced::traced(name = "load-item", attributes(item.id = x))]
#[inline(never)]
fn with_traced_attribute(x: u64) -> u64 {
    black_box(x) + 1
}

#[traced::traced]
async fn with_traced_async(x: u64) -> u64 {
    black_box(x) + 1
}

#[traced::traced(level = debug)]
#[inline(never)]
fn with_traced_debug(x: u64) -> u64 {
    black_box(x) + 1
}

/// The name of the `level = debug` case: compiled out with `--features max_level_info`, else filtered at
/// run time by the default `info` threshold.
const DEBUG_CASE: &str = if cfg!(feature = "max_level_info") {
    "#[traced(level = debug)], compiled out (max_level_info)"
} else {
    "#[traced(level = debug)], filtered (threshold info), sampled provider"
};

#[traced::traced(metrics)]
#[inline(never)]
fn with_traced_metrics(x: u64) -> Result<u64, ()> {
    Ok(black_box(x) + 1)
}

#[tracing::instrument(skip_all)]
#[inline(never)]
fn with_tracing(x: u64) -> u64 {
    black_box(x) + 1
}

#[fastrace::trace]
#[inline(never)]
fn with_fastrace(x: u64) -> u64 {
    black_box(x) + 1
}

/// The SDK used directly the way its docs show: start a span and make it current.
#[inline(never)]
fn with_sdk_in_span(tracer: &opentelemetry_sdk::trace::SdkTracer, x: u64) -> u64 {
    tracer.in_span("with_sdk_in_span", |_cx| black_box(x) + 1)
}

// ---- setups -------------------------------------------------------------------------------------

/// Exports nowhere, counting what reached it.
#[derive(Debug, Clone, Default)]
struct DiscardExporter(Arc<AtomicU64>);

impl SpanExporter for DiscardExporter {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        self.0.fetch_add(batch.len() as u64, Ordering::Relaxed);
        Ok(())
    }
}

struct Sdk {
    provider: SdkTracerProvider,
    exported: Arc<AtomicU64>,
}

/// Sampled spans started by the cases of the current provider, to compare with what was exported.
static STARTED: AtomicU64 = AtomicU64::new(0);

fn started() {
    STARTED.fetch_add(1, Ordering::Relaxed);
}

/// The production shape: default batch processor settings into an exporter that discards.
fn sdk(sampler: impl opentelemetry_sdk::trace::ShouldSample + 'static) -> Sdk {
    let exporter = DiscardExporter::default();
    let exported = exporter.0.clone();
    STARTED.store(0, Ordering::Relaxed);
    let provider = SdkTracerProvider::builder()
        .with_span_processor(BatchSpanProcessor::builder(exporter).build())
        .with_sampler(sampler)
        .build();
    Sdk { provider, exported }
}

impl Sdk {
    /// Prints what the batch queue dropped, then shuts the provider down so its export thread does
    /// not compete with the next cases for the CPU.
    fn report_drops(&self, case: &str) {
        let _ = self.provider.force_flush();
        let ended = STARTED.load(Ordering::Relaxed);
        let exported = self.exported.load(Ordering::Relaxed);
        if ended > 0 {
            println!(
                "batch queue, {case}: {ended} spans ended, {exported} exported, {} dropped ({:.1}%)",
                ended - exported,
                (ended - exported) as f64 * 100.0 / ended as f64
            );
        }
        let _ = self.provider.shutdown();
    }
}

fn poll_once<F: Future>(future: F) -> F::Output {
    future.now_or_never().expect("the benchmarked future never waits")
}

// ---- measurement --------------------------------------------------------------------------------

struct Row {
    case: &'static str,
    ns_per_call: f64,
    allocations_per_call: f64,
}

/// Median ns per call over 5 runs of `calls` calls, and allocations per call on this thread.
fn measure(case: &'static str, calls: u64, mut call: impl FnMut(u64)) -> Row {
    for i in 0..calls / 10 {
        call(i);
    }
    let mut runs = Vec::new();
    for _ in 0..5 {
        let start = Instant::now();
        for i in 0..calls {
            call(i);
        }
        runs.push(start.elapsed().as_nanos() as f64 / calls as f64);
    }
    runs.sort_by(f64::total_cmp);
    let before = ALLOCATIONS.with(Cell::get);
    for i in 0..calls / 10 {
        call(i);
    }
    let allocations = ALLOCATIONS.with(Cell::get) - before;
    Row { case, ns_per_call: runs[2], allocations_per_call: allocations as f64 / (calls / 10) as f64 }
}

/// Runs one case under criterion and in the summary pass (`cargo bench --bench span_cost -- unsampled`
/// runs only the cases whose name contains `unsampled`).
fn case(c: &mut Criterion, rows: &mut Vec<Row>, summary: bool, case: &'static str, mut call: impl FnMut(u64)) {
    let filter = std::env::args().skip(1).find(|arg| !arg.starts_with('-'));
    if filter.is_some_and(|filter| !case.contains(filter.as_str())) {
        return;
    }
    c.bench_function(case, |b| {
        let mut i = 0u64;
        b.iter(|| {
            i += 1;
            call(i)
        })
    });
    if summary {
        rows.push(measure(case, 1_000_000, call));
    }
}

fn main() {
    // `cargo test --all-targets` runs benches once without `--bench`: skip the summary then.
    let summary = std::env::args().any(|arg| arg == "--bench");
    let mut c = Criterion::default()
        .configure_from_args()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    let mut rows = Vec::new();

    case(&mut c, &mut rows, summary, "bare function", |i| {
        black_box(bare(i));
    });
    // Nothing installed yet: the no-op global provider.
    case(&mut c, &mut rows, summary, "#[traced], no provider installed", |i| {
        black_box(with_traced(i));
    });
    case(&mut c, &mut rows, summary, "#[traced] async, no provider installed", |i| {
        black_box(poll_once(with_traced_async(i)));
    });

    let sampled = sdk(Sampler::AlwaysOn);
    traced::install_tracer_provider(&sampled.provider);
    case(&mut c, &mut rows, summary, "#[traced], sampled", |i| {
        started();
        black_box(with_traced(i));
    });
    case(&mut c, &mut rows, summary, "#[traced] + 1 attribute, sampled", |i| {
        started();
        black_box(with_traced_attribute(i));
    });
    case(&mut c, &mut rows, summary, "#[traced] async, sampled", |i| {
        started();
        black_box(poll_once(with_traced_async(i)));
    });
    traced::set_code_attributes(false);
    case(&mut c, &mut rows, summary, "#[traced], sampled, code attributes off", |i| {
        started();
        black_box(with_traced(i));
    });
    traced::set_code_attributes(true);
    case(&mut c, &mut rows, summary, DEBUG_CASE, |i| {
        black_box(with_traced_debug(i));
    });
    // Its instruments come from the global meter provider at the first call: a real one, exporting to
    // memory once a minute (never during the run).
    let meters = opentelemetry_sdk::metrics::SdkMeterProvider::builder()
        .with_reader(
            opentelemetry_sdk::metrics::PeriodicReader::builder(
                opentelemetry_sdk::metrics::InMemoryMetricExporter::default(),
            )
            .with_interval(Duration::from_secs(60))
            .build(),
        )
        .build();
    opentelemetry::global::set_meter_provider(meters.clone());
    case(&mut c, &mut rows, summary, "#[traced(metrics)], sampled", |i| {
        started();
        black_box(with_traced_metrics(i)).ok();
    });
    let tracer = sampled.provider.tracer("bench");
    case(&mut c, &mut rows, summary, "SDK tracer.in_span, sampled", |i| {
        started();
        black_box(with_sdk_in_span(&tracer, i));
    });
    sampled.report_drops("#[traced] and SDK, sampled");

    let tracing_sdk = sdk(Sampler::AlwaysOn);
    let subscriber = tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(tracing_sdk.provider.tracer("bench")));
    tracing::subscriber::with_default(subscriber, || {
        case(&mut c, &mut rows, summary, "tracing::instrument + tracing-opentelemetry, sampled", |i| {
            started();
            black_box(with_tracing(i));
        });
    });
    tracing_sdk.report_drops("tracing-opentelemetry, sampled");

    fastrace::set_reporter(DiscardReporter, fastrace::collector::Config::default());
    case(&mut c, &mut rows, summary, "fastrace::trace, sampled (root every 100 calls)", {
        let mut root: Option<(fastrace::Span, fastrace::local::LocalParentGuard)> = None;
        move |i| {
            if i % 100 == 0 {
                drop(root.take());
                let span = fastrace::Span::root("root", fastrace::collector::SpanContext::random());
                let guard = span.set_local_parent();
                root.replace((span, guard));
            }
            black_box(with_fastrace(i));
        }
    });
    fastrace::flush();

    let sampler = traced::SharedSampler::new(Sampler::ParentBased(Box::new(Sampler::AlwaysOff)));
    let unsampled = sdk(sampler.clone());
    traced::install_tracer_provider_with_sampler(&unsampled.provider, sampler);
    case(&mut c, &mut rows, summary, "#[traced], unsampled root", |i| {
        black_box(with_traced(i));
    });
    let parent = unsampled.provider.tracer("bench").start("unsampled parent");
    let parent_cx = Context::current_with_span(parent);
    {
        let _attached = parent_cx.clone().attach();
        case(&mut c, &mut rows, summary, "#[traced], child of an unsampled parent", |i| {
            black_box(with_traced(i));
        });
        case(&mut c, &mut rows, summary, "#[traced] async, child of an unsampled parent", |i| {
            black_box(poll_once(with_traced_async(i)));
        });
        // Once the process has called a `metrics` function, every `#[traced]` function makes itself the
        // metrics caller (a thread-local set and restored); before, it only loads an atomic. A full run
        // has called one above ("#[traced(metrics)], sampled"), so the two rows above are the cost
        // without any `metrics` function only in a run filtered to them (`-- "unsampled parent"`).
        black_box(with_traced_metrics(0)).ok();
        case(&mut c, &mut rows, summary, "#[traced], child of an unsampled parent, metrics in use", |i| {
            black_box(with_traced(i));
        });
        case(&mut c, &mut rows, summary, "#[traced] async, child of an unsampled parent, metrics in use", |i| {
            black_box(poll_once(with_traced_async(i)));
        });
    }

    // The production shape of `traced::init()`: the export pipeline (our queue and worker) into an
    // in-process OTLP/HTTP sink that answers at once. Compare with "#[traced], sampled" (the SDK's
    // batch processor into an exporter that discards).
    #[cfg(all(feature = "axum", feature = "otlp-http"))]
    {
        use traced::telemetry::settings::{ExporterKind, Protocol};
        let endpoint = sink::start(Arc::new(sink::Received::default()), false);
        let telemetry = traced::Telemetry::builder()
            .ignore_environment()
            .traces_exporters([ExporterKind::Otlp])
            .metrics_exporters([])
            .logs_exporters([])
            .otlp_protocol(Protocol::HttpProtobuf)
            .otlp_endpoint(endpoint)
            .tracing_subscriber(false)
            .init()
            .expect("init");
        case(&mut c, &mut rows, summary, "#[traced], sampled, init() pipeline", |i| {
            black_box(with_traced(i));
        });
        let spans = telemetry.spans();
        if spans.ended > 0 {
            println!(
                "init() pipeline: {} spans ended, {} exported, {} dropped ({:.1}%), {} pending",
                spans.ended,
                spans.exported,
                spans.dropped.total(),
                spans.dropped.total() as f64 * 100.0 / spans.ended as f64,
                spans.pending
            );
        }
        drop(telemetry.shutdown());
    }

    let disabled = traced::Telemetry::builder().ignore_environment().disabled(true).init();
    let _disabled = disabled.expect("a disabled init always succeeds");
    case(&mut c, &mut rows, summary, "#[traced], OTEL_SDK_DISABLED=true", |i| {
        black_box(with_traced(i));
    });

    c.final_summary();
    if summary {
        print_table(&rows);
    }
}

struct DiscardReporter;

impl fastrace::collector::Reporter for DiscardReporter {
    fn report(&mut self, spans: Vec<fastrace::collector::SpanRecord>) {
        black_box(spans);
    }
}

fn print_table(rows: &[Row]) {
    let tracing_ns =
        rows.iter().find(|row| row.case.starts_with("tracing::instrument")).map_or(f64::NAN, |row| row.ns_per_call);
    println!("\n| case | ns/call | allocations/call | vs tracing-opentelemetry |");
    println!("| --- | ---: | ---: | ---: |");
    for row in rows {
        println!(
            "| {} | {:.1} | {:.2} | {:.1}x cheaper |",
            row.case,
            row.ns_per_call,
            row.allocations_per_call,
            tracing_ns / row.ns_per_call
        );
    }
}
