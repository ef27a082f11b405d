//! The SDK's batch span processor, with the spans it drops counted and reported.
//!
//! A slow or dead collector must cost spans, never a stalled request: the batch processor's queue
//! (`OTEL_BSP_MAX_QUEUE_SIZE`) fills and further spans are dropped. The SDK counts those drops
//! privately and reports them only through its internal logs, which `traced` does not compile in, so
//! users were never told. [`CountedBatch`] admits a span only while fewer than the queue size are
//! waiting for export, so the SDK's own queue never overflows and every drop is ours to count: the
//! first prints one warning, and shutdown prints the totals (queue full, failed exports).
//!
//! It also keeps spans that were recorded but not sampled away from exporters, as the specification
//! asks (the SDK's batch processor would export them).

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use opentelemetry::Context;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{BatchConfigBuilder, BatchSpanProcessor, Span, SpanData, SpanExporter, SpanProcessor};
use opentelemetry_sdk::Resource;

use super::settings::BatchSettings;

/// Spans an exporter never delivered, by cause; see [`crate::TelemetryGuard::dropped_spans`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DroppedSpans {
    /// Dropped at the end of the span because the export queue was full.
    pub queue_full: u64,
    /// Handed to the exporter in a batch whose export failed (collector down, slow or refusing).
    pub export_failed: u64,
}

impl DroppedSpans {
    /// Both causes together.
    pub fn total(&self) -> u64 {
        self.queue_full + self.export_failed
    }
}

impl std::ops::Add for DroppedSpans {
    type Output = Self;

    fn add(self, other: Self) -> Self {
        Self { queue_full: self.queue_full + other.queue_full, export_failed: self.export_failed + other.export_failed }
    }
}

/// The counters one processor shares with its exporter.
#[derive(Debug)]
pub(crate) struct QueueStats {
    /// Which exporter, for messages (`otlp`, `console`).
    exporter: &'static str,
    capacity: usize,
    /// Spans handed to the SDK processor whose export has not started.
    waiting: AtomicUsize,
    queue_full: AtomicU64,
    export_failed: AtomicU64,
    warned: AtomicBool,
}

impl QueueStats {
    fn new(exporter: &'static str, capacity: usize) -> Self {
        Self {
            exporter,
            capacity,
            waiting: AtomicUsize::new(0),
            queue_full: AtomicU64::new(0),
            export_failed: AtomicU64::new(0),
            warned: AtomicBool::new(false),
        }
    }

    /// Takes a place in the queue, or counts a drop. Never more than `capacity` places are taken, so
    /// the SDK's channel of that size always has room.
    fn admit(&self) -> bool {
        if self.waiting.fetch_add(1, Ordering::AcqRel) < self.capacity {
            return true;
        }
        self.waiting.fetch_sub(1, Ordering::AcqRel);
        self.queue_full.fetch_add(1, Ordering::Relaxed);
        if !self.warned.swap(true, Ordering::Relaxed) {
            eprintln!("{}", self.queue_full_warning());
        }
        false
    }

    /// `count` spans left the queue for the exporter.
    fn release(&self, count: usize) {
        // Saturating: a span admitted before a reset (there is none today) must not wrap the count.
        let _ = self
            .waiting
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |waiting| Some(waiting.saturating_sub(count)));
    }

    pub(crate) fn dropped(&self) -> DroppedSpans {
        DroppedSpans {
            queue_full: self.queue_full.load(Ordering::Relaxed),
            export_failed: self.export_failed.load(Ordering::Relaxed),
        }
    }

    fn queue_full_warning(&self) -> String {
        format!(
            "traced: the {} span export queue is full (OTEL_BSP_MAX_QUEUE_SIZE={}): spans are dropped until the \
             exporter catches up; they are counted and the total is printed at shutdown (this warning is printed once)",
            self.exporter, self.capacity
        )
    }

    /// The shutdown summary, if anything was dropped.
    fn summary(&self) -> Option<String> {
        let dropped = self.dropped();
        (dropped.total() > 0).then(|| {
            format!(
                "traced: {} spans were not exported by the {} exporter: {} dropped with the queue full, {} in failed \
                 exports",
                dropped.total(),
                self.exporter,
                dropped.queue_full,
                dropped.export_failed
            )
        })
    }
}

/// Builds [`CountedBatch`] processors with the `OTEL_BSP_*` settings.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SpanQueue {
    pub(crate) batch: BatchSettings,
}

impl SpanQueue {
    /// A batch processor exporting to `exporter`, named `name` in messages.
    pub(crate) fn processor<E: SpanExporter + 'static>(&self, name: &'static str, exporter: E) -> CountedBatch {
        let stats = Arc::new(QueueStats::new(name, self.batch.max_queue_size));
        let config = BatchConfigBuilder::default()
            .with_max_queue_size(self.batch.max_queue_size)
            .with_max_export_batch_size(self.batch.max_export_batch_size)
            .with_scheduled_delay(self.batch.schedule_delay)
            .build();
        let exporter = Released { inner: exporter, stats: stats.clone() };
        CountedBatch { inner: BatchSpanProcessor::builder(exporter).with_batch_config(config).build(), stats }
    }
}

/// The SDK batch processor behind a counted admission.
#[derive(Debug)]
pub(crate) struct CountedBatch {
    inner: BatchSpanProcessor,
    stats: Arc<QueueStats>,
}

impl CountedBatch {
    pub(crate) fn stats(&self) -> Arc<QueueStats> {
        self.stats.clone()
    }
}

impl SpanProcessor for CountedBatch {
    fn on_start(&self, span: &mut Span, cx: &Context) {
        self.inner.on_start(span, cx);
    }

    // Hot path: one atomic add per span (guarded by the `span_cost` benchmark).
    fn on_end(&self, span: SpanData) {
        if span.span_context.is_sampled() && self.stats.admit() {
            self.inner.on_end(span);
        }
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        let result = self.inner.shutdown_with_timeout(timeout);
        if let Some(summary) = self.stats.summary() {
            eprintln!("{summary}");
        }
        result
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}

/// The exporter side: frees queue places as batches leave, counts spans of failed exports.
#[derive(Debug)]
struct Released<E> {
    inner: E,
    stats: Arc<QueueStats>,
}

impl<E: SpanExporter> SpanExporter for Released<E> {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let count = batch.len();
        self.stats.release(count);
        let result = self.inner.export(batch).await;
        if result.is_err() {
            self.stats.export_failed.fetch_add(count as u64, Ordering::Relaxed);
        }
        result
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc::{channel, Receiver, Sender};
    use std::sync::Mutex;

    use opentelemetry::trace::{Link, Span as _, SpanKind, TraceId, TraceState, Tracer as _, TracerProvider as _};
    use opentelemetry::KeyValue;
    use opentelemetry_sdk::error::OTelSdkError;
    use opentelemetry_sdk::trace::{SamplingDecision, SamplingResult, SdkTracerProvider, ShouldSample};

    use super::*;

    /// Reports each export as it starts, then waits for the test to let it finish.
    #[derive(Debug)]
    struct Gated {
        started: Mutex<Sender<usize>>,
        proceed: Mutex<Receiver<bool>>,
    }

    impl Gated {
        /// The exporter, what it reports as exports start, and the switch that lets each one finish.
        fn new() -> (Self, Receiver<usize>, Sender<bool>) {
            let (started_tx, started) = channel();
            let (proceed, proceed_rx) = channel();
            (Self { started: Mutex::new(started_tx), proceed: Mutex::new(proceed_rx) }, started, proceed)
        }
    }

    impl SpanExporter for Gated {
        async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
            let _ = self.started.lock().map(|started| started.send(batch.len()));
            let succeed = self.proceed.lock().ok().and_then(|proceed| proceed.recv().ok()).unwrap_or(true);
            if succeed {
                Ok(())
            } else {
                Err(OTelSdkError::InternalFailure("collector refused".into()))
            }
        }
    }

    fn queue(max_queue_size: usize, max_export_batch_size: usize) -> SpanQueue {
        let batch = BatchSettings {
            max_queue_size,
            max_export_batch_size,
            schedule_delay: Duration::from_secs(3600),
            ..BatchSettings::default()
        };
        SpanQueue { batch }
    }

    #[test]
    fn admission_never_exceeds_the_queue_and_counts_each_refusal() {
        let stats = QueueStats::new("otlp", 2);
        assert!(stats.admit() && stats.admit());
        assert!(!stats.admit() && !stats.admit());
        stats.release(1);
        assert!(stats.admit());
        assert!(!stats.admit());
        assert_eq!(stats.dropped(), DroppedSpans { queue_full: 3, export_failed: 0 });
        assert!(stats.warned.load(Ordering::Relaxed));
        assert!(stats.queue_full_warning().contains("OTEL_BSP_MAX_QUEUE_SIZE=2"));
        assert!(stats.queue_full_warning().contains("printed once"));
    }

    #[test]
    fn spans_ending_while_the_exporter_is_stuck_are_dropped_and_counted() {
        let (exporter, started, proceed) = Gated::new();
        let processor = queue(2, 2).processor("otlp", exporter);
        let stats = processor.stats();
        let provider = SdkTracerProvider::builder().with_span_processor(processor).build();
        let tracer = provider.tracer("test");
        let start = |name: &'static str| tracer.start(name);
        drop((start("a"), start("b")));
        assert_eq!(started.recv().expect("a full batch is exported"), 2);
        // The exporter is stuck on [a, b]: c and d fill the queue, e and f find it full.
        for name in ["c", "d", "e", "f"] {
            drop(start(name));
        }
        assert_eq!(stats.dropped(), DroppedSpans { queue_full: 2, export_failed: 0 });
        proceed.send(false).expect("fail the stuck export");
        proceed.send(true).expect("let the next export through");
        assert_eq!(started.recv().expect("c and d follow"), 2);
        provider.shutdown().expect("shutdown");
        assert_eq!(stats.dropped(), DroppedSpans { queue_full: 2, export_failed: 2 });
        let summary = stats.summary().expect("a summary");
        assert!(summary.starts_with("traced: 4 spans were not exported by the otlp exporter: 2 dropped"), "{summary}");
    }

    /// Records every span without sampling it, as a custom sampler may.
    #[derive(Debug, Clone)]
    struct RecordOnly;

    impl ShouldSample for RecordOnly {
        fn should_sample(
            &self,
            _parent: Option<&Context>,
            _trace_id: TraceId,
            _name: &str,
            _kind: &SpanKind,
            _attributes: &[KeyValue],
            _links: &[Link],
        ) -> SamplingResult {
            SamplingResult {
                decision: SamplingDecision::RecordOnly,
                attributes: Vec::new(),
                trace_state: TraceState::default(),
            }
        }
    }

    #[test]
    fn recorded_but_unsampled_spans_take_no_place_and_are_not_exported() {
        let (exporter, started, _proceed) = Gated::new();
        let processor = queue(1, 1).processor("console", exporter);
        let stats = processor.stats();
        let provider = SdkTracerProvider::builder().with_sampler(RecordOnly).with_span_processor(processor).build();
        let span = provider.tracer("test").start("recorded");
        assert!(span.is_recording());
        drop(span);
        assert_eq!(stats.waiting.load(Ordering::Relaxed), 0);
        provider.shutdown().expect("shutdown");
        assert!(started.try_recv().is_err(), "nothing was exported");
        assert_eq!(stats.summary(), None);
    }
}
