//! The SDK's batch log processor behind a counted admission (see `export_queue`): log records
//! dropped because the queue is full, or lost in a failed export, are counted and reported.

use std::sync::Arc;
use std::time::Duration;

use opentelemetry::logs::Severity;
use opentelemetry::InstrumentationScope;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::logs::{
    BatchConfigBuilder, BatchLogProcessor, LogBatch, LogExporter, LogProcessor, SdkLogRecord,
};
use opentelemetry_sdk::Resource;

use super::export_queue::{Counted, QueueStats, Queued, Released};
use super::settings::BatchSettings;

/// Builds [`CountedLogBatch`] processors with the `OTEL_BLRP_*` settings.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LogQueue {
    pub(crate) batch: BatchSettings,
}

impl LogQueue {
    /// A batch processor exporting to `exporter`, named `name` in messages.
    pub(crate) fn processor<E: LogExporter + 'static>(&self, name: &'static str, exporter: E) -> CountedLogBatch {
        let stats = Arc::new(QueueStats::new(Queued::LogRecords, name, self.batch.max_queue_size));
        let config = BatchConfigBuilder::default()
            .with_max_queue_size(self.batch.max_queue_size)
            .with_max_export_batch_size(self.batch.max_export_batch_size)
            .with_scheduled_delay(self.batch.schedule_delay)
            .build();
        let exporter = Released::new(exporter, &stats);
        Counted { inner: BatchLogProcessor::builder(exporter).with_batch_config(config).build(), stats }
    }
}

/// The SDK batch log processor behind a counted admission.
pub(crate) type CountedLogBatch = Counted<BatchLogProcessor>;

impl LogProcessor for CountedLogBatch {
    // Hot path for every exported `tracing` event: one atomic add.
    fn emit(&self, record: &mut SdkLogRecord, scope: &InstrumentationScope) {
        if self.stats.admit() {
            self.inner.emit(record, scope);
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

    fn event_enabled(&self, level: Severity, target: &str, name: Option<&str>) -> bool {
        self.inner.event_enabled(level, target, name)
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}

impl<E: LogExporter> LogExporter for Released<E> {
    async fn export(&self, batch: LogBatch<'_>) -> OTelSdkResult {
        self.counted(batch.iter().count(), self.inner.export(batch)).await
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn event_enabled(&self, level: Severity, target: &str, name: Option<&str>) -> bool {
        self.inner.event_enabled(level, target, name)
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

    use opentelemetry::logs::{LogRecord as _, Logger as _, LoggerProvider as _};
    use opentelemetry_sdk::error::OTelSdkError;
    use opentelemetry_sdk::logs::SdkLoggerProvider;

    use super::super::export_queue::Dropped;
    use super::*;

    /// Reports each export as it starts, then waits for the test to say how it ends.
    #[derive(Debug)]
    struct Gated {
        started: Mutex<Sender<usize>>,
        outcome: Mutex<Receiver<bool>>,
    }

    impl LogExporter for Gated {
        async fn export(&self, batch: LogBatch<'_>) -> OTelSdkResult {
            let _ = self.started.lock().map(|started| started.send(batch.iter().count()));
            match self.outcome.lock().ok().and_then(|outcome| outcome.recv().ok()) {
                Some(false) => Err(OTelSdkError::InternalFailure("collector refused".into())),
                _ => Ok(()),
            }
        }
    }

    #[test]
    fn records_emitted_while_the_exporter_is_stuck_are_dropped_and_counted() {
        let (started_tx, started) = channel();
        let (outcome, outcome_rx) = channel();
        let exporter = Gated { started: Mutex::new(started_tx), outcome: Mutex::new(outcome_rx) };
        let batch = BatchSettings {
            max_queue_size: 2,
            max_export_batch_size: 2,
            schedule_delay: Duration::from_secs(3600),
            ..BatchSettings::default()
        };
        let processor = LogQueue { batch }.processor("otlp", exporter);
        let stats = processor.stats();
        let provider = SdkLoggerProvider::builder().with_log_processor(processor).build();
        let logger = provider.logger("test");
        let emit = |body: &'static str| {
            let mut record = logger.create_log_record();
            record.set_body(body.into());
            logger.emit(record);
        };
        emit("a");
        emit("b");
        assert_eq!(started.recv().expect("a full batch is exported"), 2);
        for body in ["c", "d", "e", "f"] {
            emit(body);
        }
        assert_eq!(stats.dropped(), Dropped { queue_full: 2, export_failed: 0 });
        outcome.send(false).expect("fail the stuck export");
        outcome.send(true).expect("let the next export through");
        assert_eq!(started.recv().expect("c and d follow"), 2);
        provider.shutdown().expect("shutdown");
        assert_eq!(stats.dropped(), Dropped { queue_full: 2, export_failed: 2 });
        assert_eq!(stats.waiting.load(Ordering::Relaxed), 0);
    }
}
