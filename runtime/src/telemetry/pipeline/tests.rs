//! The pipeline against in-process exporters that accept, fail, reject part of a batch, answer late,
//! never answer, or wait for the test: the accounting identity exactly, draining, the one deadline,
//! what ends after shutdown, and no work while idle.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::future::BoxFuture;
use opentelemetry::logs::{LogRecord as _, Logger as _, LoggerProvider as _};
use opentelemetry::metrics::MeterProvider as _;
use opentelemetry::trace::{Span as _, Tracer as _, TracerProvider as _};
use opentelemetry_sdk::logs::SdkLoggerProvider;
use opentelemetry_sdk::metrics::data::ResourceMetrics;
use opentelemetry_sdk::metrics::{PeriodicReader, SdkMeterProvider};
use opentelemetry_sdk::trace::SdkTracerProvider;
use tokio::sync::Semaphore;

use super::accounting::Dropped;
use super::delivery::{BatchExport, Delivery, MetricExport};
use super::Pipeline;
use crate::telemetry::export_runtime::ExportRuntime;
use crate::telemetry::guard::shut_down;
use crate::telemetry::providers::{self, Providers};
use crate::telemetry::settings::{BatchSettings, SamplerKind};

/// What a fake exporter does with each batch.
#[derive(Debug, Clone, Copy)]
enum Behaviour {
    Accept,
    Fail,
    /// Refuses the first item of every batch (OTLP partial success).
    RejectOne,
    /// Waits for the test to add a permit per export, then accepts.
    Gated,
    /// Never answers: the future stays pending, as with a collector that accepted the connection.
    Silent,
    /// Answers after this long, or says "unconfirmed" at its deadline, as the contract asks.
    Slow(Duration),
    /// A bug in the exporter.
    Panic,
}

#[derive(Debug)]
struct Fake {
    behaviour: Behaviour,
    exports: AtomicU64,
    /// Items the fake confirmed (its own count, compared with the pipeline's).
    received: AtomicU64,
    gate: Semaphore,
}

impl Fake {
    fn new(behaviour: Behaviour) -> Arc<Self> {
        Arc::new(Self { behaviour, exports: AtomicU64::new(0), received: AtomicU64::new(0), gate: Semaphore::new(0) })
    }

    async fn deliver(&self, count: usize, deadline: Instant) -> Delivery {
        self.exports.fetch_add(1, Ordering::SeqCst);
        let delivery = match self.behaviour {
            Behaviour::Accept => Delivery::exported(count),
            Behaviour::Fail => Delivery::failed(count),
            Behaviour::RejectOne => Delivery { rejected: 1, ..Delivery::exported(count - 1) },
            Behaviour::Gated => match self.gate.acquire().await {
                Ok(permit) => {
                    permit.forget();
                    Delivery::exported(count)
                }
                Err(_) => Delivery::failed(count),
            },
            Behaviour::Silent => std::future::pending().await,
            Behaviour::Panic => panic!("the exporter has a bug"),
            Behaviour::Slow(delay) => {
                let answer = Instant::now() + delay;
                tokio::time::sleep_until(answer.min(deadline).into()).await;
                if answer > deadline {
                    return Delivery::unconfirmed(count);
                }
                Delivery::exported(count)
            }
        };
        self.received.fetch_add(delivery.exported, Ordering::SeqCst);
        delivery
    }
}

#[derive(Debug)]
struct Exporter(Arc<Fake>);

impl<T: Send + 'static> BatchExport<T> for Exporter {
    fn export(&self, batch: Vec<T>, deadline: Instant) -> BoxFuture<'_, Delivery> {
        Box::pin(self.0.deliver(batch.len(), deadline))
    }
}

impl MetricExport for Exporter {
    fn export<'a>(&'a self, _metrics: &'a ResourceMetrics, deadline: Instant) -> BoxFuture<'a, Delivery> {
        Box::pin(self.0.deliver(1, deadline))
    }
}

fn batch(max_queue_size: usize, max_export_batch_size: usize, schedule_delay: Duration) -> BatchSettings {
    BatchSettings { max_queue_size, max_export_batch_size, schedule_delay, export_timeout: Duration::from_secs(30) }
}

/// A pipeline on its own runtime with a tracer provider feeding one fake span exporter.
struct Spans {
    provider: SdkTracerProvider,
    pipeline: Pipeline,
    runtime: ExportRuntime,
    fake: Arc<Fake>,
}

fn spans(behaviour: Behaviour, settings: BatchSettings, shutdown_timeout: Duration) -> Spans {
    let runtime = ExportRuntime::start().expect("runtime");
    let mut pipeline = Pipeline::new(runtime.handle().expect("handle"), shutdown_timeout);
    let fake = Fake::new(behaviour);
    let processor = pipeline.span_processor("fake", Box::new(Exporter(fake.clone())), &settings);
    let provider = SdkTracerProvider::builder().with_span_processor(processor).build();
    Spans { provider, pipeline, runtime, fake }
}

impl Spans {
    fn end(&self, count: usize) {
        let tracer = self.provider.tracer("test");
        for _ in 0..count {
            drop(tracer.start("work"));
        }
    }

    /// The whole shutdown as the guard runs it.
    fn shut_down(self) -> (super::report::ExportReport, Duration) {
        let providers = Providers {
            tracer: self.provider,
            sampler: providers::sampler(SamplerKind::AlwaysOn),
            ids: crate::SharedIdGenerator::default(),
            meter: None,
            logger: None,
            pipeline: self.pipeline,
            runtime: self.runtime,
        };
        let started = Instant::now();
        let report = match shut_down(providers) {
            Ok(report) => report,
            Err(error) => error.report().clone(),
        };
        (report, started.elapsed())
    }
}

fn wait_for(what: &str, condition: impl Fn() -> bool) {
    let until = Instant::now() + Duration::from_secs(10);
    while !condition() {
        assert!(Instant::now() < until, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(2));
    }
}

#[test]
fn a_queue_larger_than_a_batch_is_drained_at_shutdown() {
    let setup = spans(Behaviour::Accept, batch(200_000, 512, Duration::from_secs(3600)), Duration::from_secs(30));
    let fake = setup.fake.clone();
    setup.end(100_000);
    let (report, _) = setup.shut_down();
    assert_eq!(fake.received.load(Ordering::SeqCst), 100_000, "every span arrived");
    assert_eq!(report.spans.ended, 100_000);
    assert_eq!(report.spans.exported, 100_000);
    assert_eq!(report.spans.dropped, Dropped::default());
    assert!(report.balances(), "{report:?}");
    assert!(fake.exports.load(Ordering::SeqCst) >= 100_000 / 512);
}

#[test]
fn a_full_queue_drops_and_counts_while_the_exporter_is_stuck() {
    let setup = spans(Behaviour::Gated, batch(2, 2, Duration::from_secs(3600)), Duration::from_secs(5));
    let fake = setup.fake.clone();
    setup.end(2);
    wait_for("the first export", || fake.exports.load(Ordering::SeqCst) == 1);
    // The exporter is stuck on the first two: two more fill the queue, four find it full.
    setup.end(6);
    let during = setup.pipeline.report().spans;
    assert_eq!((during.ended, during.pending, during.dropped.queue_full), (8, 4, 4), "{during:?}");
    assert!(during.balances());
    fake.gate.add_permits(2);
    let (report, _) = setup.shut_down();
    assert_eq!(report.spans.exported, 4);
    assert_eq!(fake.received.load(Ordering::SeqCst), 4);
    assert_eq!(report.spans.dropped, Dropped { queue_full: 4, ..Dropped::default() });
    assert!(report.balances(), "{report:?}");
}

#[test]
fn failed_partly_rejected_and_panicking_batches_are_counted_per_item() {
    for (behaviour, expected) in [
        (Behaviour::Fail, Dropped { failed: 10, ..Dropped::default() }),
        (Behaviour::RejectOne, Dropped { rejected: 4, ..Dropped::default() }),
        (Behaviour::Panic, Dropped { failed: 10, ..Dropped::default() }),
    ] {
        let setup = spans(behaviour, batch(100, 3, Duration::from_secs(3600)), Duration::from_secs(5));
        let fake = setup.fake.clone();
        setup.end(10);
        let (report, _) = setup.shut_down();
        assert_eq!(report.spans.dropped, expected, "{behaviour:?}");
        assert_eq!(report.spans.exported, fake.received.load(Ordering::SeqCst), "{behaviour:?}");
        assert!(report.balances(), "{report:?}");
    }
}

#[test]
fn a_late_answer_is_unconfirmed_and_the_rest_is_cut_by_the_deadline() {
    let timeout = Duration::from_millis(300);
    let setup = spans(Behaviour::Slow(Duration::from_secs(8)), batch(1000, 100, Duration::from_secs(3600)), timeout);
    setup.end(1000);
    let (report, took) = setup.shut_down();
    assert!(took < timeout + Duration::from_secs(1), "shutdown took {took:?}");
    let spans = report.spans;
    assert_eq!((spans.ended, spans.exported, spans.pending), (1000, 0, 0), "{spans:?}");
    assert_eq!(spans.unconfirmed, 100, "the batch in flight at the deadline");
    assert_eq!(spans.dropped, Dropped { shutdown_deadline: 900, ..Dropped::default() });
    assert!(spans.balances());
}

#[test]
fn spans_ending_after_shutdown_are_counted() {
    let setup = spans(Behaviour::Accept, batch(10, 10, Duration::from_secs(3600)), Duration::from_secs(5));
    let tracer = setup.provider.tracer("test");
    let mut late = tracer.start("outlives the pipeline");
    setup.end(3);
    setup.pipeline.begin_shutdown(Instant::now() + Duration::from_secs(5));
    assert!(setup.pipeline.wait_stopped(Instant::now() + Duration::from_secs(6)));
    late.end();
    let spans = setup.pipeline.report().spans;
    assert_eq!((spans.ended, spans.exported, spans.dropped.after_shutdown), (4, 3, 1), "{spans:?}");
    assert!(spans.balances());
}

#[test]
fn an_idle_queue_with_the_smallest_delay_does_no_work() {
    let setup = spans(Behaviour::Accept, batch(100, 10, Duration::from_millis(1)), Duration::from_secs(5));
    let fake = setup.fake.clone();
    setup.end(3);
    wait_for("the delayed export", || fake.received.load(Ordering::SeqCst) == 3);
    let exports = fake.exports.load(Ordering::SeqCst);
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(fake.exports.load(Ordering::SeqCst), exports, "no export of an empty queue");
    // The worker sleeps without a timer: the runtime's thread stays parked, not woken every millisecond.
    let parks = || setup.runtime.handle().expect("handle").metrics().worker_park_count(0);
    let before = parks();
    std::thread::sleep(Duration::from_millis(500));
    let wakeups = parks() - before;
    assert!(wakeups <= 2, "the export thread woke {wakeups} times in an idle half second");
    let (report, _) = setup.shut_down();
    assert_eq!(report.spans.exported, 3);
}

#[test]
fn a_full_batch_goes_at_once_a_partial_one_after_the_delay() {
    let setup = spans(Behaviour::Accept, batch(100, 5, Duration::from_millis(300)), Duration::from_secs(5));
    let fake = setup.fake.clone();
    setup.end(1);
    // The first span after an idle start waits for the delay.
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(fake.received.load(Ordering::SeqCst), 0, "a lone span waits for the schedule delay");
    setup.end(4);
    wait_for("the full batch", || fake.received.load(Ordering::SeqCst) == 5);
    setup.end(2);
    wait_for("the partial batch after the delay", || fake.received.load(Ordering::SeqCst) == 7);
    let (report, _) = setup.shut_down();
    assert_eq!(report.spans.exported, 7);
}

#[test]
fn force_flush_exports_what_is_queued_and_is_bounded() {
    let setup = spans(Behaviour::Accept, batch(100, 10, Duration::from_secs(3600)), Duration::from_millis(500));
    setup.end(25);
    setup.provider.force_flush().expect("flush");
    assert_eq!(setup.fake.received.load(Ordering::SeqCst), 25);
    let stuck = spans(Behaviour::Silent, batch(100, 10, Duration::from_secs(3600)), Duration::from_millis(300));
    stuck.end(5);
    let started = Instant::now();
    assert!(stuck.provider.force_flush().is_err(), "a silent collector makes the flush time out");
    assert!(started.elapsed() < Duration::from_secs(2), "flush took {:?}", started.elapsed());
    drop(setup.shut_down());
}

#[test]
fn all_three_signals_stuck_cost_the_deadline_once() {
    let timeout = Duration::from_millis(400);
    let runtime = ExportRuntime::start().expect("runtime");
    let mut pipeline = Pipeline::new(runtime.handle().expect("handle"), timeout);
    let settings = batch(1000, 10, Duration::from_secs(3600));
    let (span_fake, log_fake, metric_fake) =
        (Fake::new(Behaviour::Silent), Fake::new(Behaviour::Silent), Fake::new(Behaviour::Silent));
    let spans = pipeline.span_processor("fake", Box::new(Exporter(span_fake.clone())), &settings);
    let logs = pipeline.log_processor("fake", Box::new(Exporter(log_fake.clone())), &settings);
    let metrics = pipeline.metric_exporter("fake", Box::new(Exporter(metric_fake)), Duration::from_secs(30));
    let tracer = SdkTracerProvider::builder().with_span_processor(spans).build();
    let logger = SdkLoggerProvider::builder().with_log_processor(logs).build();
    let meter = SdkMeterProvider::builder()
        .with_reader(PeriodicReader::builder(metrics).with_interval(Duration::from_secs(3600)).build())
        .build();
    for _ in 0..50 {
        drop(tracer.tracer("test").start("work"));
        let mut record = logger.logger("test").create_log_record();
        record.set_body("work".into());
        logger.logger("test").emit(record);
    }
    meter.meter("test").u64_counter("work").build().add(1, &[]);
    wait_for("the stuck exports", || {
        span_fake.exports.load(Ordering::SeqCst) == 1 && log_fake.exports.load(Ordering::SeqCst) == 1
    });
    let providers = Providers {
        tracer,
        sampler: providers::sampler(SamplerKind::AlwaysOn),
        ids: crate::SharedIdGenerator::default(),
        meter: Some(meter),
        logger: Some(logger),
        pipeline,
        runtime,
    };
    let started = Instant::now();
    let result = shut_down(providers);
    let took = started.elapsed();
    assert!(took < timeout + Duration::from_secs(1), "shutdown took {took:?} for a {timeout:?} deadline");
    let report = match result {
        Ok(report) => report,
        Err(error) => error.report().clone(),
    };
    assert!(report.balances(), "{report:?}");
    for signal in [report.spans, report.log_records] {
        assert_eq!((signal.ended, signal.unconfirmed, signal.pending), (50, 10, 0), "{signal:?}");
        assert_eq!(signal.dropped, Dropped { shutdown_deadline: 40, ..Dropped::default() }, "{signal:?}");
    }
    assert_eq!(report.metric_exports.ended, 1, "{:?}", report.metric_exports);
    assert_eq!(report.metric_exports.unconfirmed, 1, "{:?}", report.metric_exports);
    assert_eq!(report.exporters.len(), 3);
    let summary = report.summary().expect("something was not exported");
    assert_eq!(summary.lines().count(), 3, "{summary}");
    assert!(summary.starts_with("traced: spans: 50 ended = 0 exported + 10 unconfirmed + 0 pending + 40 dropped"));
}

// Each thread queues into a buffer of its own (`buffers`): none may be stranded.

/// Ends `count` spans on a new thread, which then waits (idle, alive) until the returned sender is
/// dropped or sent to.
fn end_on_idle_thread(setup: &Spans, count: usize) -> (std::sync::mpsc::Sender<()>, std::thread::JoinHandle<()>) {
    let tracer = setup.provider.tracer("test");
    let (ended, wait_ended) = std::sync::mpsc::channel();
    let (release, wait_release) = std::sync::mpsc::channel::<()>();
    let thread = std::thread::spawn(move || {
        for _ in 0..count {
            drop(tracer.start("idle thread"));
        }
        ended.send(()).expect("the test waits");
        let _ = wait_release.recv();
    });
    wait_ended.recv().expect("the thread ended its spans");
    (release, thread)
}

#[test]
fn a_span_on_a_thread_gone_idle_is_exported_by_the_schedule_delay() {
    let setup = spans(Behaviour::Accept, batch(100, 10, Duration::from_millis(200)), Duration::from_secs(5));
    let fake = setup.fake.clone();
    let (release, thread) = end_on_idle_thread(&setup, 3);
    wait_for("the delayed export of the idle thread's spans", || fake.received.load(Ordering::SeqCst) == 3);
    let spans = setup.pipeline.report().spans;
    assert_eq!((spans.ended, spans.exported, spans.pending), (3, 3, 0), "{spans:?}");
    drop(release);
    thread.join().expect("the idle thread");
    let (report, _) = setup.shut_down();
    assert_eq!(report.spans.exported, 3);
}

#[test]
fn spans_of_an_exited_thread_are_exported_by_the_delay_by_a_flush_and_at_shutdown() {
    let end_and_exit = |setup: &Spans, count: usize| {
        let tracer = setup.provider.tracer("test");
        std::thread::spawn(move || {
            for _ in 0..count {
                drop(tracer.start("exited thread"));
            }
        })
        .join()
        .expect("the thread");
    };
    let delayed = spans(Behaviour::Accept, batch(100, 10, Duration::from_millis(200)), Duration::from_secs(5));
    end_and_exit(&delayed, 4);
    wait_for("the delayed export", || delayed.fake.received.load(Ordering::SeqCst) == 4);
    // A thread that exited after its buffer was emptied leaves nothing behind.
    end_and_exit(&delayed, 2);
    wait_for("the second delayed export", || delayed.fake.received.load(Ordering::SeqCst) == 6);

    let flushed = spans(Behaviour::Accept, batch(100, 10, Duration::from_secs(3600)), Duration::from_secs(5));
    end_and_exit(&flushed, 5);
    flushed.provider.force_flush().expect("flush");
    assert_eq!(flushed.fake.received.load(Ordering::SeqCst), 5);

    let at_shutdown = spans(Behaviour::Accept, batch(100, 10, Duration::from_secs(3600)), Duration::from_secs(5));
    end_and_exit(&at_shutdown, 7);
    let fake = at_shutdown.fake.clone();
    let (report, _) = at_shutdown.shut_down();
    assert_eq!((report.spans.ended, report.spans.exported), (7, 7), "{:?}", report.spans);
    assert_eq!(fake.received.load(Ordering::SeqCst), 7);
    for setup in [delayed, flushed] {
        let (report, _) = setup.shut_down();
        assert!(report.balances() && report.spans.pending == 0, "{report:?}");
    }
}

#[test]
fn a_flush_reaches_the_spans_buffered_by_every_thread() {
    let setup = spans(Behaviour::Accept, batch(1000, 100, Duration::from_secs(3600)), Duration::from_secs(5));
    setup.end(1);
    let idle: Vec<_> = (1..=4).map(|count| end_on_idle_thread(&setup, count)).collect();
    assert_eq!(setup.fake.received.load(Ordering::SeqCst), 0, "nothing due yet: below a batch, long delay");
    setup.provider.force_flush().expect("flush");
    assert_eq!(setup.fake.received.load(Ordering::SeqCst), 11, "1 + 1 + 2 + 3 + 4");
    for (release, thread) in idle {
        drop(release);
        thread.join().expect("the idle thread");
    }
    let (report, _) = setup.shut_down();
    assert_eq!((report.spans.ended, report.spans.exported), (11, 11));
}

#[test]
fn counts_stay_exact_with_many_threads_filling_a_small_queue() {
    let setup = spans(Behaviour::Accept, batch(256, 64, Duration::from_millis(5)), Duration::from_secs(10));
    let fake = setup.fake.clone();
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let tracer = setup.provider.tracer("test");
            std::thread::spawn(move || {
                for _ in 0..20_000 {
                    drop(tracer.start("concurrent"));
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().expect("a producing thread");
    }
    let (report, _) = setup.shut_down();
    let spans = report.spans;
    assert_eq!(spans.ended, 160_000, "{spans:?}");
    assert_eq!(spans.exported, fake.received.load(Ordering::SeqCst), "{spans:?}");
    assert_eq!(spans.ended, spans.exported + spans.dropped.queue_full, "only the full queue drops: {spans:?}");
    assert_eq!(spans.pending, 0);
    assert!(spans.balances(), "{spans:?}");
}

#[test]
fn a_thread_that_queued_before_shutdown_counts_what_it_ends_after() {
    let setup = spans(Behaviour::Accept, batch(100, 10, Duration::from_secs(3600)), Duration::from_secs(5));
    let tracer = setup.provider.tracer("test");
    let (go, wait_go) = std::sync::mpsc::channel::<()>();
    let (ended, wait_ended) = std::sync::mpsc::channel();
    let thread = std::thread::spawn(move || {
        drop(tracer.start("before"));
        ended.send(()).expect("the test waits");
        wait_go.recv().expect("the test says when");
        drop(tracer.start("after"));
    });
    wait_ended.recv().expect("the thread ended its first span");
    setup.pipeline.begin_shutdown(Instant::now() + Duration::from_secs(5));
    assert!(setup.pipeline.wait_stopped(Instant::now() + Duration::from_secs(6)));
    go.send(()).expect("the thread waits");
    thread.join().expect("the thread");
    let spans = setup.pipeline.report().spans;
    assert_eq!((spans.ended, spans.exported, spans.dropped.after_shutdown), (2, 1, 1), "{spans:?}");
    assert!(spans.balances());
}

/// Records what each span of a batch carries, then hands the attribute `Vec`s back as `traced`'s own
/// exporters do (OTLP, console, discard).
#[cfg(feature = "testing")]
#[derive(Debug, Default)]
struct Recycling(std::sync::Mutex<Vec<Vec<opentelemetry::KeyValue>>>);

#[cfg(feature = "testing")]
#[derive(Debug)]
struct RecyclingExporter(Arc<Recycling>);

#[cfg(feature = "testing")]
impl BatchExport<opentelemetry_sdk::trace::SpanData> for RecyclingExporter {
    fn export(&self, batch: Vec<opentelemetry_sdk::trace::SpanData>, _deadline: Instant) -> BoxFuture<'_, Delivery> {
        let mut seen = self.0 .0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        seen.extend(batch.iter().map(|span| span.attributes.clone()));
        let count = batch.len();
        crate::span::recycled_attributes::give_back(batch);
        Box::pin(std::future::ready(Delivery::exported(count)))
    }
}

#[cfg(feature = "testing")]
#[test]
fn spans_in_vecs_handed_back_carry_their_own_attributes_only() {
    use opentelemetry::trace::SpanKind;
    use opentelemetry::{KeyValue, Value};

    use crate::span::{start_span, Site};

    static SITE: Site = Site::new("recycled", SpanKind::Internal).with_code("shop", "shop::load", "src/shop.rs", 7);
    const EXTRA: [&str; 3] = ["extra.a", "extra.b", "extra.c"];
    const SPANS: i64 = 2_000;

    let _turn = crate::testing::without_provider();
    let runtime = ExportRuntime::start().expect("runtime");
    let mut pipeline = Pipeline::new(runtime.handle().expect("handle"), Duration::from_secs(5));
    let recycling = Arc::new(Recycling::default());
    let exporter = Box::new(RecyclingExporter(recycling.clone()));
    let processor = pipeline.span_processor("recycling", exporter, &batch(10_000, 64, Duration::from_secs(3600)));
    let sampler = crate::SharedSampler::parent_based(opentelemetry_sdk::trace::Sampler::AlwaysOn);
    let ids = crate::SharedIdGenerator::default();
    let provider = SdkTracerProvider::builder()
        .with_span_processor(processor)
        .with_sampler(sampler.clone())
        .with_id_generator(ids.clone())
        .build();
    crate::install_tracer_provider_with_sampler_and_ids(&provider, sampler, ids);
    // Flushed every 100 spans, so that later spans take the Vecs of earlier ones.
    for id in 0..SPANS {
        drop(start_span(&SITE, |attributes| {
            attributes.push("span.id", &id);
            for (offset, key) in (0..).zip(EXTRA.iter().take(id.rem_euclid(4) as usize)) {
                attributes.push(key, &(id * 10 + offset));
            }
        }));
        if id % 100 == 99 {
            provider.force_flush().expect("flushed");
        }
    }
    let seen = std::mem::take(&mut *recycling.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner));
    assert_eq!(seen.len(), SPANS as usize);
    let mut ids: Vec<i64> = Vec::new();
    for attributes in &seen {
        let Some(Value::I64(id)) = attributes.first().map(|kv| kv.value.clone()) else {
            panic!("the span's own id comes first: {attributes:?}");
        };
        let mut expected = vec![KeyValue::new("span.id", id)];
        expected.extend(
            (0..)
                .zip(EXTRA.iter().take(id.rem_euclid(4) as usize))
                .map(|(offset, key)| KeyValue::new(*key, id * 10 + offset)),
        );
        expected.extend([
            KeyValue::new("code.function.name", "shop::load"),
            KeyValue::new("code.file.path", "src/shop.rs"),
            KeyValue::new("code.line.number", 7_i64),
        ]);
        assert_eq!(attributes, &expected, "span {id}");
        ids.push(id);
    }
    ids.sort_unstable();
    assert_eq!(ids, (0..SPANS).collect::<Vec<_>>(), "every span once");
    drop(provider.shutdown());
}
