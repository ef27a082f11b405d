//! The log processor that feeds one exporter's queue.

use std::time::Duration;

use opentelemetry::InstrumentationScope;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::logs::{LogProcessor, SdkLogRecord};

use super::delivery::LogItem;
use super::queue::Queue;
use super::Control;

/// Queues log records for one exporter's worker.
#[derive(Debug)]
pub(crate) struct LogPipeline {
    queue: Queue<LogItem>,
    control: Control,
}

impl LogPipeline {
    pub(crate) fn new(queue: Queue<LogItem>, control: Control) -> Self {
        Self { queue, control }
    }
}

impl LogProcessor for LogPipeline {
    // Hot path for every exported `tracing` event: the record is copied only if the queue has room.
    fn emit(&self, record: &mut SdkLogRecord, scope: &InstrumentationScope) {
        self.queue.push_with(|| Some(Box::new((record.clone(), scope.clone()))));
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.control.flush(&self.queue.shared)
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        self.control.stop(&self.queue.shared)
    }
}
