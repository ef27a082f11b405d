//! The SDK's batch span processor behind a counted admission (see `export_queue`): spans dropped
//! because the queue is full, or lost in a failed export, are counted and reported.
//!
//! It also keeps spans that were recorded but not sampled away from exporters, as the specification
//! asks (the SDK's batch processor would export them).

use std::sync::Arc;
use std::time::Duration;

use opentelemetry::Context;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{BatchConfigBuilder, BatchSpanProcessor, Span, SpanData, SpanExporter, SpanProcessor};
use opentelemetry_sdk::Resource;

use super::export_queue::{Counted, QueueStats, Queued, Released};
use super::settings::BatchSettings;

/// Builds [`CountedBatch`] processors with the `OTEL_BSP_*` settings.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SpanQueue {
    pub(crate) batch: BatchSettings,
}

impl SpanQueue {
    /// A batch processor exporting to `exporter`, named `name` in messages.
    pub(crate) fn processor<E: SpanExporter + 'static>(&self, name: &'static str, exporter: E) -> CountedBatch {
        let stats = Arc::new(QueueStats::new(Queued::Spans, name, self.batch.max_queue_size));
        let config = BatchConfigBuilder::default()
            .with_max_queue_size(self.batch.max_queue_size)
            .with_max_export_batch_size(self.batch.max_export_batch_size)
            .with_scheduled_delay(self.batch.schedule_delay)
            .build();
        let exporter = Released::new(exporter, &stats);
        Counted { inner: BatchSpanProcessor::builder(exporter).with_batch_config(config).build(), stats }
    }
}

/// The SDK batch span processor behind a counted admission.
pub(crate) type CountedBatch = Counted<BatchSpanProcessor>;

impl SpanProcessor for CountedBatch {
    fn on_start(&self, span: &mut Span, cx: &Context) {
        self.inner.on_start(span, cx);
    }

    // Hot path: one atomic add per span on top of the SDK processor's own (no benchmark covers this wrapper yet).
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
        self.stats.report();
        result
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}

impl<E: SpanExporter> SpanExporter for Released<E> {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        self.counted(batch.len(), self.inner.export(batch)).await
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
    use std::sync::atomic::Ordering;
    use std::sync::mpsc::{channel, Receiver, Sender};
    use std::sync::Mutex;

    use opentelemetry::trace::{Link, Span as _, SpanKind, TraceId, TraceState, Tracer as _, TracerProvider as _};
    use opentelemetry::KeyValue;
    use opentelemetry_sdk::error::OTelSdkError;
    use opentelemetry_sdk::trace::{SamplingDecision, SamplingResult, SdkTracerProvider, ShouldSample};

    use super::super::export_queue::Dropped;
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
        assert_eq!(stats.dropped(), Dropped { queue_full: 2, export_failed: 0 });
        proceed.send(false).expect("fail the stuck export");
        proceed.send(true).expect("let the next export through");
        assert_eq!(started.recv().expect("c and d follow"), 2);
        provider.shutdown().expect("shutdown");
        assert_eq!(stats.dropped(), Dropped { queue_full: 2, export_failed: 2 });
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
