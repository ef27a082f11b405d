//! Cost of one traced call, in ns and heap allocations, next to the peers, in one run:
//! `cargo bench -p traced --bench span_cost`.
//!
//! Criterion measures each case; a summary pass then times 1,000,000 calls per case (median of 5 runs),
//! counts the allocations made on the calling thread, and prints the README's table. The batch
//! processor's drops at this rate are reported too, and `#[traced], sampled, init() pipeline` runs the
//! same call through `traced::init()`'s export pipeline into an in-process OTLP/HTTP sink.
//!
//! Then the process CPU pass (cases named `cpu: ...`; `-- cpu` runs only them): CPU time of the whole
//! process (calling thread, export threads, everything) over 1,000,000 calls and the flush that
//! exports them, per call, for the sampled cases of each peer, each into its own pipeline, and prints
//! the README's second table.
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

#[path = "support/cpu.rs"]
mod cpu;
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

/// Fastrace records nothing without a root: one every 100 calls, made current.
fn with_fastrace_root(root: &mut Option<(fastrace::Span, fastrace::local::LocalParentGuard)>, i: u64) {
    if i.is_multiple_of(100) {
        end_fastrace_root(root);
        let span = fastrace::Span::root("root", fastrace::collector::SpanContext::random());
        let guard = span.set_local_parent();
        root.replace((span, guard));
    }
    black_box(with_fastrace(i));
}

/// Ends the root: its guard first (which hands the local spans to the root), then the root itself.
fn end_fastrace_root(root: &mut Option<(fastrace::Span, fastrace::local::LocalParentGuard)>) {
    if let Some((span, guard)) = root.take() {
        drop(guard);
        drop(span);
    }
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

/// [`sdk`] with the id generator shared too, installed for `#[traced]` as `traced::init()` does.
fn sdk_with_ids(sampler: traced::SharedSampler) -> Sdk {
    let exporter = DiscardExporter::default();
    let exported = exporter.0.clone();
    STARTED.store(0, Ordering::Relaxed);
    let ids = traced::SharedIdGenerator::default();
    let provider = SdkTracerProvider::builder()
        .with_span_processor(BatchSpanProcessor::builder(exporter).build())
        .with_sampler(sampler.clone())
        .with_id_generator(ids.clone())
        .build();
    traced::install_tracer_provider_with_sampler_and_ids(&provider, sampler, ids);
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

/// Whether the name filter on the command line (if any) selects `case`.
fn selected(case: &str) -> bool {
    let filter = std::env::args().skip(1).find(|arg| !arg.starts_with('-'));
    filter.is_none_or(|filter| case.contains(filter.as_str()))
}

/// Runs one case under criterion and in the summary pass (`cargo bench --bench span_cost -- unsampled`
/// runs only the cases whose name contains `unsampled`).
fn case(c: &mut Criterion, rows: &mut Vec<Row>, summary: bool, case: &'static str, mut call: impl FnMut(u64)) {
    if !selected(case) {
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
        let mut root = None;
        move |i| with_fastrace_root(&mut root, i)
    });
    fastrace::flush();

    // As `traced::init()` sets up: `#[traced]` knows the sampler and the id generator, and samples roots
    // itself (the sampler is asked once per span either way).
    let sampler = traced::SharedSampler::new(Sampler::AlwaysOn);
    let presampled = sdk_with_ids(sampler.clone());
    case(&mut c, &mut rows, summary, "#[traced], sampled root, sampler and ids known", |i| {
        started();
        black_box(with_traced(i));
    });
    presampled.report_drops("#[traced], sampler and ids known");
    let sampler = traced::SharedSampler::parent_based(Sampler::AlwaysOff);
    let presampled = sdk_with_ids(sampler.clone());
    case(&mut c, &mut rows, summary, "#[traced], unsampled root", |i| {
        black_box(with_traced(i));
    });
    drop(presampled.provider.shutdown());

    let unsampled = sdk(sampler.clone());
    traced::install_tracer_provider_with_sampler(&unsampled.provider, sampler);
    case(&mut c, &mut rows, summary, "#[traced], id generator unknown, unsampled root", |i| {
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
        let endpoint = sink::start(Arc::new(sink::Received::default()), false);
        let telemetry = init_into_sink(endpoint, traced::telemetry::BatchSettings::default());
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

    let cpu_rows = if summary { cpu_pass() } else { Vec::new() };

    let disabled = traced::Telemetry::builder().ignore_environment().disabled(true).init();
    let _disabled = disabled.expect("a disabled init always succeeds");
    case(&mut c, &mut rows, summary, "#[traced], OTEL_SDK_DISABLED=true", |i| {
        black_box(with_traced(i));
    });

    c.final_summary();
    if summary {
        print_table(&rows);
        print_cpu_table(&cpu_rows);
    }
}

/// `traced::init()` with spans only, over OTLP/HTTP to `endpoint`.
#[cfg(all(feature = "axum", feature = "otlp-http"))]
fn init_into_sink(endpoint: String, batch: traced::telemetry::BatchSettings) -> traced::TelemetryGuard {
    use traced::telemetry::settings::{ExporterKind, Protocol};
    traced::Telemetry::builder()
        .ignore_environment()
        .traces_exporters([ExporterKind::Otlp])
        .metrics_exporters([])
        .logs_exporters([])
        .otlp_protocol(Protocol::HttpProtobuf)
        .otlp_endpoint(endpoint)
        .batch(batch)
        .tracing_subscriber(false)
        .init()
        .expect("init")
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

// ---- process CPU per span -----------------------------------------------------------------------

/// Queue size of every pipeline in the CPU pass: room for everything made between two exports, so
/// that every span is exported (and pays for it) rather than dropped.
const CPU_QUEUE: usize = 65_536;
const CPU_CALLS: u64 = 1_000_000;

struct CpuRow {
    case: &'static str,
    /// Process CPU (every thread, minus an excluded sink thread) per call, calls and flush included.
    process_ns: f64,
    /// The calling thread's CPU per call (calls and flushes, which mostly wait).
    calling_ns: f64,
    allocations_per_call: f64,
    /// What the pipeline says became of the spans, where it can tell.
    fate: String,
}

/// `calls` calls then `flush` (which returns once everything they made is exported), three times after a
/// warm-up; the median round by process CPU. The CPU time of the thread `excluded` (a sink standing for
/// the collector; 0 for none) is left out. With `flush_every`, a flush also follows every so many calls:
/// for an exporter slower than the calls, so that it exports every span instead of dropping most.
fn cpu_measure(
    case: &'static str,
    excluded: u64,
    flush_every: Option<u64>,
    mut call: impl FnMut(u64),
    mut flush: impl FnMut(),
) -> CpuRow {
    let mut calls = |count: u64| {
        for i in 0..count {
            call(i);
            if flush_every.is_some_and(|every| (i + 1).is_multiple_of(every)) {
                flush();
            }
        }
        flush();
    };
    calls(CPU_CALLS / 10);
    let mut rounds = Vec::new();
    for _ in 0..3 {
        let (process, sink, thread) = (cpu::process(), cpu::thread(excluded), cpu::this_thread());
        let allocations = ALLOCATIONS.with(Cell::get);
        calls(CPU_CALLS);
        let calling = cpu::this_thread() - thread;
        let allocations = ALLOCATIONS.with(Cell::get) - allocations;
        let total = (cpu::process() - process).saturating_sub(cpu::thread(excluded) - sink);
        let per_call = |time: Duration| time.as_nanos() as f64 / CPU_CALLS as f64;
        rounds.push(CpuRow {
            case,
            process_ns: per_call(total),
            calling_ns: per_call(calling),
            allocations_per_call: allocations as f64 / CPU_CALLS as f64,
            fate: String::new(),
        });
    }
    rounds.sort_by(|a, b| a.process_ns.total_cmp(&b.process_ns));
    rounds.swap_remove(1)
}

/// The SDK's batch processor into an exporter that discards, with room for every span.
fn sdk_cpu() -> Sdk {
    let exporter = DiscardExporter::default();
    let exported = exporter.0.clone();
    STARTED.store(0, Ordering::Relaxed);
    let config = opentelemetry_sdk::trace::BatchConfigBuilder::default().with_max_queue_size(CPU_QUEUE).build();
    let processor = BatchSpanProcessor::builder(exporter).with_batch_config(config).build();
    let provider = SdkTracerProvider::builder().with_span_processor(processor).with_sampler(Sampler::AlwaysOn).build();
    Sdk { provider, exported }
}

impl Sdk {
    /// Flushes; then what was exported of what the cases started, for the table.
    fn fate(&self) -> String {
        let _ = self.provider.force_flush();
        format!("{} of {} exported", self.exported.load(Ordering::Relaxed), STARTED.load(Ordering::Relaxed))
    }
}

fn pipeline_fate(spans: traced::SignalAccounting) -> String {
    format!("{} of {} exported, {} dropped", spans.exported, spans.ended, spans.dropped.total())
}

fn cpu_batch() -> traced::telemetry::BatchSettings {
    traced::telemetry::BatchSettings { max_queue_size: CPU_QUEUE, ..Default::default() }
}

/// A case through the SDK's batch processor into an exporter that discards: `setup` returns the call.
fn sdk_case<F: FnMut(u64)>(case: &'static str, setup: impl FnOnce(&SdkTracerProvider) -> F) -> CpuRow {
    let sdk = sdk_cpu();
    let mut call = setup(&sdk.provider);
    let mut row = cpu_measure(
        case,
        0,
        None,
        |i| {
            started();
            call(i);
        },
        || drop(sdk.provider.force_flush()),
    );
    drop(call);
    row.fate = sdk.fate();
    let _ = sdk.provider.shutdown();
    row
}

/// `#[traced]` through `traced`'s own pipeline into an exporter that discards, with the sampler
/// (`parentbased_always_on`, the default) and id generator known, as `traced::init()` installs them.
fn traced_pipeline_case(case: &'static str, code_attributes: bool) -> CpuRow {
    let (pipeline, processor) = traced::telemetry::DiscardingSpanPipeline::start(&cpu_batch()).expect("pipeline");
    let sampler = traced::SharedSampler::parent_based(Sampler::AlwaysOn);
    let ids = traced::SharedIdGenerator::default();
    let provider = SdkTracerProvider::builder()
        .with_span_processor(processor)
        .with_sampler(sampler.clone())
        .with_id_generator(ids.clone())
        .build();
    traced::install_tracer_provider_with_sampler_and_ids(&provider, sampler, ids);
    traced::set_code_attributes(code_attributes);
    let mut row = cpu_measure(
        case,
        0,
        None,
        |i| {
            black_box(with_traced(i));
        },
        || drop(provider.force_flush()),
    );
    traced::set_code_attributes(true);
    row.fate = pipeline_fate(pipeline.spans());
    let _ = provider.shutdown();
    row
}

/// The sampled cases of every peer, each into its own pipeline, measured in process CPU.
fn cpu_pass() -> Vec<CpuRow> {
    // The bare loop, subtracted from every row.
    let mut rows = vec![cpu_measure(
        "cpu: bare function",
        0,
        None,
        |i| {
            black_box(bare(i));
        },
        || {},
    )];
    let mut run = |case: &'static str, measure: &mut dyn FnMut(&'static str) -> CpuRow| {
        if selected(case) {
            rows.push(measure(case));
        }
    };

    run("cpu: #[traced], sampled, traced pipeline", &mut |case| traced_pipeline_case(case, true));
    run("cpu: #[traced], sampled, code attributes off, traced pipeline", &mut |case| traced_pipeline_case(case, false));

    #[cfg(all(feature = "axum", feature = "otlp-http"))]
    run("cpu: #[traced], sampled, init() pipeline, OTLP/HTTP", &mut |case| {
        let received = Arc::new(sink::Received::default());
        let telemetry = init_into_sink(sink::start(received.clone(), false), cpu_batch());
        while received.thread.load(Ordering::Relaxed) == 0 {
            std::thread::yield_now();
        }
        let mut row = cpu_measure(
            case,
            received.thread.load(Ordering::Relaxed),
            Some(CPU_QUEUE as u64 / 4),
            |i| {
                black_box(with_traced(i));
            },
            || drop(telemetry.force_flush()),
        );
        row.fate = pipeline_fate(telemetry.spans());
        drop(telemetry.shutdown());
        row
    });

    run("cpu: #[traced], sampled, SDK batch processor", &mut |case| {
        sdk_case(case, |provider| {
            traced::install_tracer_provider(provider);
            |i| {
                black_box(with_traced(i));
            }
        })
    });
    run("cpu: SDK tracer.in_span, sampled, SDK batch processor", &mut |case| {
        sdk_case(case, |provider| {
            let tracer = provider.tracer("bench");
            move |i| {
                black_box(with_sdk_in_span(&tracer, i));
            }
        })
    });
    run("cpu: tracing::instrument + tracing-opentelemetry, sampled, SDK batch processor", &mut |case| {
        sdk_case(case, |provider| {
            let subscriber = tracing_subscriber::registry()
                .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("bench")));
            let subscriber = tracing::subscriber::set_default(subscriber);
            move |i| {
                let _current = &subscriber;
                black_box(with_tracing(i));
            }
        })
    });

    // The reporter was set once, above (fastrace allows one).
    run("cpu: fastrace::trace, sampled (root every 100 calls)", &mut |case| {
        let root = std::cell::RefCell::new(None);
        cpu_measure(
            case,
            0,
            None,
            |i| with_fastrace_root(&mut root.borrow_mut(), i),
            || {
                end_fastrace_root(&mut root.borrow_mut());
                fastrace::flush();
            },
        )
    });
    if rows.len() == 1 {
        rows.clear();
    }
    rows
}

fn print_cpu_table(rows: &[CpuRow]) {
    let Some(bare) = rows.iter().find(|row| row.case == "cpu: bare function") else {
        return;
    };
    let tracing_ns = rows
        .iter()
        .find(|row| row.case.starts_with("cpu: tracing::instrument"))
        .map_or(f64::NAN, |row| row.process_ns - bare.process_ns);
    println!("\n| case | process CPU ns/span | calling thread ns/span | allocations/span | vs tracing-opentelemetry | spans |");
    println!("| --- | ---: | ---: | ---: | ---: | --- |");
    for row in rows {
        let (process, calling) = if std::ptr::eq(row, bare) {
            (row.process_ns, row.calling_ns)
        } else {
            (row.process_ns - bare.process_ns, row.calling_ns - bare.calling_ns)
        };
        println!(
            "| {} | {process:.0} | {calling:.0} | {:.2} | {:.2}x | {} |",
            row.case.trim_start_matches("cpu: "),
            row.allocations_per_call,
            process / tracing_ns,
            row.fate
        );
    }
}
