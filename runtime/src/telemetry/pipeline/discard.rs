//! `traced`'s own span pipeline (queue, worker, accounting) in front of an exporter that discards,
//! for `span_cost`: the SDK's batch processor and the peers are measured into an exporter that
//! discards, so this is the equal footing for the pipeline `traced::init()` builds (not a public API).

use std::time::{Duration, Instant};

use futures_util::future::BoxFuture;
use opentelemetry_sdk::trace::{SpanData, SpanProcessor};

use super::accounting::SignalAccounting;
use super::delivery::{BatchExport, Delivery};
use super::Pipeline;
use crate::span::recycled_attributes;
use crate::telemetry::export_runtime::ExportRuntime;
use crate::telemetry::settings::BatchSettings;

/// Drops every batch on the worker (handing its attribute `Vec`s back, as the OTLP exporter does) and
/// confirms it.
#[derive(Debug)]
struct Discard;

impl BatchExport<SpanData> for Discard {
    fn export(&self, batch: Vec<SpanData>, _deadline: Instant) -> BoxFuture<'_, Delivery> {
        let delivery = Delivery::exported(batch.len());
        recycled_attributes::give_back(batch);
        Box::pin(std::future::ready(delivery))
    }
}

/// A span pipeline on an export runtime of its own whose exporter discards; keep it alive while its
/// processor is in use.
#[derive(Debug)]
#[doc(hidden)]
pub struct DiscardingSpanPipeline {
    pipeline: Pipeline,
    _runtime: ExportRuntime,
}

impl DiscardingSpanPipeline {
    /// The pipeline and the span processor that feeds it (as `traced::init()` builds it, without the
    /// redaction and limit processors in front).
    pub fn start(batch: &BatchSettings) -> std::io::Result<(Self, impl SpanProcessor)> {
        let runtime = ExportRuntime::start()?;
        let handle = runtime.handle().ok_or_else(|| std::io::Error::other("the export runtime is shut down"))?;
        let mut pipeline = Pipeline::new(handle, Duration::from_secs(5));
        let processor = pipeline.span_processor("discard", Box::new(Discard), batch);
        Ok((Self { pipeline, _runtime: runtime }, processor))
    }

    /// What became of the spans so far.
    pub fn spans(&self) -> SignalAccounting {
        self.pipeline.report().spans
    }
}
