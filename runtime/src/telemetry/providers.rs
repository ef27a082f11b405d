//! Settings in, SDK providers out: resource, sampler, span limits, exporters, processors, propagators,
//! and the export pipeline every exporter sits behind.
//!
//! The seam with the exporters: `otlp_span_exporter`, `otlp_log_exporter` and `otlp_metric_exporter`
//! below return a `Box<dyn BatchExport<..>>` / `Box<dyn MetricExport>`, and `Pipeline::span_processor`,
//! `log_processor` and `metric_exporter` take it; the pipeline does the rest (queue, batches,
//! accounting, deadline).

use std::time::Duration;

use opentelemetry::KeyValue;
use opentelemetry_sdk::logs::SdkLoggerProvider;
use opentelemetry_sdk::metrics::{PeriodicReader, SdkMeterProvider};
use opentelemetry_sdk::resource::TelemetryResourceDetector;
use opentelemetry_sdk::trace::{
    Sampler, SdkTracerProvider, SpanData, SpanExporter as _, SpanLimits, SpanProcessor, TracerProviderBuilder,
};
use opentelemetry_sdk::Resource;

use super::console::{ConsoleLogExporter, ConsoleMetricExporter, ConsoleOutput, ConsoleSpanExporter};
use super::error::InitError;
use super::export_runtime::ExportRuntime;
use super::otlp;
use super::pipeline::delivery::{BatchExport, LogItem, MetricExport};
use super::pipeline::sdk_export::{SdkExport, SdkMetricExport};
use super::pipeline::Pipeline;
use super::processors::{RedactingProcessor, Redaction};
use super::settings::{ExporterKind, OtlpSettings, SamplerKind, Settings, SpanLimitSettings};
use crate::{SharedIdGenerator, SharedSampler};

/// Adds one user span processor to the provider being built.
pub(crate) type AddProcessor = Box<dyn FnOnce(TracerProviderBuilder) -> TracerProviderBuilder + Send>;

/// What the builder adds to the settings: things that are code, not data.
pub(crate) struct Plan {
    pub(crate) settings: Settings,
    pub(crate) sampler: Option<SharedSampler>,
    pub(crate) span_processors: Vec<AddProcessor>,
    pub(crate) redaction: Redaction,
    pub(crate) console: ConsoleOutput,
}

/// The assembled providers, the export pipeline behind them and the runtime its workers run on.
#[derive(Debug)]
pub(crate) struct Providers {
    pub(crate) tracer: SdkTracerProvider,
    /// The tracer provider's sampler, which `#[traced]` asks first for roots and children of unsampled
    /// parents.
    pub(crate) sampler: SharedSampler,
    /// The tracer provider's id generator, with which `#[traced]` draws the ids of the roots it samples.
    pub(crate) ids: SharedIdGenerator,
    pub(crate) meter: Option<SdkMeterProvider>,
    pub(crate) logger: Option<SdkLoggerProvider>,
    /// Every queue and counted exporter, for the guard's report, flush and shutdown.
    pub(crate) pipeline: Pipeline,
    /// Dropped last: the final exports run on it.
    pub(crate) runtime: ExportRuntime,
}

pub(crate) fn build(plan: Plan) -> Result<Providers, InitError> {
    let settings = &plan.settings;
    let resource = resource(settings);
    let sampler = plan.sampler.unwrap_or_else(|| self::sampler(settings.sampler));
    let runtime = ExportRuntime::start().map_err(InitError::Runtime)?;
    let handle = runtime
        .handle()
        .ok_or_else(|| InitError::Runtime(std::io::Error::other("the exporter runtime is already shut down")))?;
    let mut pipeline = Pipeline::new(handle.clone(), settings.shutdown_timeout);

    let ids = SharedIdGenerator::default();
    let mut traces = SdkTracerProvider::builder()
        .with_resource(resource.clone())
        .with_sampler(sampler.clone())
        .with_id_generator(ids.clone())
        .with_span_limits(span_limits(&settings.span_limits));
    for add in plan.span_processors {
        traces = add(traces);
    }
    let value_length = settings.span_limits.attribute_value_length;
    for kind in &settings.traces_exporters {
        traces = match kind {
            ExporterKind::Otlp => {
                let otlp = with_deadline(&settings.otlp_traces, settings.batch.export_timeout);
                let exporter = otlp_span_exporter(&otlp, &resource)?;
                let processor = pipeline.span_processor("otlp", exporter, &settings.batch);
                traces.with_span_processor(redacted(&plan.redaction, processor, value_length))
            }
            ExporterKind::Console => {
                // The tree view's processor half sees spans start, which the exporter cannot.
                let mut exporter = ConsoleSpanExporter::new(settings.console_format, plan.console.clone());
                exporter.set_resource(&resource);
                let tracker = exporter.open_span_tracker();
                let processor = pipeline.span_processor("console", Box::new(SdkExport::new(exporter)), &settings.batch);
                traces.with_span_processor(redacted(&plan.redaction, tracker.wrap(processor), value_length))
            }
        };
    }

    let meter = if settings.metrics_exporters.is_empty() {
        None
    } else {
        let mut metrics = SdkMeterProvider::builder().with_resource(resource.clone());
        for kind in &settings.metrics_exporters {
            let exporter = metric_exporter(settings, *kind, &plan.console)?;
            let counted = pipeline.metric_exporter(exporter_name(*kind), exporter, settings.metric_export_timeout);
            metrics = metrics
                .with_reader(PeriodicReader::builder(counted).with_interval(settings.metric_export_interval).build());
        }
        Some(metrics.build())
    };

    let logger = if settings.logs_exporters.is_empty() {
        None
    } else {
        let mut logs = SdkLoggerProvider::builder().with_resource(resource.clone());
        for kind in &settings.logs_exporters {
            let exporter = log_exporter(settings, *kind, &resource, &plan.console)?;
            logs = logs.with_log_processor(pipeline.log_processor(exporter_name(*kind), exporter, &settings.log_batch));
        }
        Some(logs.build())
    };

    Ok(Providers { tracer: traces.build(), sampler, ids, meter, logger, pipeline, runtime })
}

fn exporter_name(kind: ExporterKind) -> &'static str {
    match kind {
        ExporterKind::Otlp => "otlp",
        ExporterKind::Console => "console",
    }
}

/// The log exporter of one `OTEL_LOGS_EXPORTER` kind.
fn log_exporter(
    settings: &Settings,
    kind: ExporterKind,
    resource: &Resource,
    console: &ConsoleOutput,
) -> Result<Box<dyn BatchExport<LogItem>>, InitError> {
    match kind {
        ExporterKind::Otlp => {
            otlp_log_exporter(&with_deadline(&settings.otlp_logs, settings.log_batch.export_timeout), resource)
        }
        ExporterKind::Console => Ok(Box::new(SdkExport::new(ConsoleLogExporter::new(console.clone())))),
    }
}

/// The metric exporter of one `OTEL_METRICS_EXPORTER` kind.
fn metric_exporter(
    settings: &Settings,
    kind: ExporterKind,
    console: &ConsoleOutput,
) -> Result<Box<dyn MetricExport>, InitError> {
    match kind {
        ExporterKind::Otlp => {
            otlp_metric_exporter(&with_deadline(&settings.otlp_metrics, settings.metric_export_timeout))
        }
        ExporterKind::Console => Ok(Box::new(SdkMetricExport(ConsoleMetricExporter::new(console.clone())))),
    }
}

// The seam: the OTLP exporter of each signal, as the pipeline takes it (exports are polled inside the
// export runtime); `resource` goes into every request.

fn otlp_span_exporter(
    settings: &OtlpSettings,
    resource: &Resource,
) -> Result<Box<dyn BatchExport<SpanData>>, InitError> {
    otlp::span_exporter(settings, resource)
}

fn otlp_log_exporter(settings: &OtlpSettings, resource: &Resource) -> Result<Box<dyn BatchExport<LogItem>>, InitError> {
    otlp::log_exporter(settings, resource)
}

fn otlp_metric_exporter(settings: &OtlpSettings) -> Result<Box<dyn MetricExport>, InitError> {
    otlp::metric_exporter(settings)
}

/// An OTLP export ends by the pipeline's deadline or its own timeout, whichever comes first:
/// `OTEL_BSP_EXPORT_TIMEOUT`, `OTEL_BLRP_EXPORT_TIMEOUT` and `OTEL_METRIC_EXPORT_TIMEOUT` cap the latter.
fn with_deadline(otlp: &OtlpSettings, deadline: Duration) -> OtlpSettings {
    let mut capped = otlp.clone();
    capped.timeout = capped.timeout.min(deadline);
    capped
}

/// What every exporting processor gets: value length limit, then redaction.
fn redacted<P: SpanProcessor>(
    redaction: &Redaction,
    processor: P,
    value_length: Option<usize>,
) -> RedactingProcessor<P> {
    redaction.clone().wrap(processor).with_value_length_limit(value_length)
}

fn resource(settings: &Settings) -> Resource {
    let attributes = settings.resource_attributes.iter().map(|(key, value)| KeyValue::new(key.clone(), value.clone()));
    Resource::builder_empty()
        .with_detector(Box::new(TelemetryResourceDetector))
        .with_attributes(attributes)
        .with_service_name(settings.service_name.clone())
        .build()
}

/// The sampler of `kind`, shared so that `#[traced]` knows it (and the root sampler of a `ParentBased`).
pub(crate) fn sampler(kind: SamplerKind) -> SharedSampler {
    match kind {
        SamplerKind::AlwaysOn => SharedSampler::new(Sampler::AlwaysOn),
        SamplerKind::AlwaysOff => SharedSampler::new(Sampler::AlwaysOff),
        SamplerKind::TraceIdRatio(ratio) => SharedSampler::new(Sampler::TraceIdRatioBased(ratio)),
        SamplerKind::ParentBasedAlwaysOn => SharedSampler::parent_based(Sampler::AlwaysOn),
        SamplerKind::ParentBasedAlwaysOff => SharedSampler::parent_based(Sampler::AlwaysOff),
        SamplerKind::ParentBasedTraceIdRatio(ratio) => SharedSampler::parent_based(Sampler::TraceIdRatioBased(ratio)),
    }
}

fn span_limits(limits: &SpanLimitSettings) -> SpanLimits {
    SpanLimits {
        max_events_per_span: limits.event_count,
        max_attributes_per_span: limits.attribute_count,
        max_links_per_span: limits.link_count,
        max_attributes_per_event: limits.event_attribute_count,
        max_attributes_per_link: limits.link_attribute_count,
    }
}

#[cfg(test)]
mod tests {
    use opentelemetry::trace::{TraceContextExt as _, Tracer as _, TracerProvider as _};

    use super::super::console::capture::Captured;
    use super::*;

    fn plan(vars: &[(&str, &str)], captured: &Captured) -> Plan {
        let vars = vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        Plan {
            settings: Settings::from_vars(&vars).expect("valid settings"),
            sampler: None,
            span_processors: Vec::new(),
            redaction: Redaction::new().keys(["secret"]),
            console: ConsoleOutput::new(captured.clone()),
        }
    }

    #[test]
    fn console_traces_carry_resource_limits_and_redaction() {
        let captured = Captured::default();
        let vars = [
            ("OTEL_TRACES_EXPORTER", "console"),
            ("OTEL_METRICS_EXPORTER", "none"),
            ("OTEL_LOGS_EXPORTER", "none"),
            ("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", "4"),
        ];
        let providers = build(plan(&vars, &captured)).expect("providers");
        assert!(providers.meter.is_none() && providers.logger.is_none());
        providers.tracer.tracer("t").in_span("work", |cx| {
            cx.span().set_attribute(KeyValue::new("note", "abcdefgh"));
            cx.span().set_attribute(KeyValue::new("secret", "hunter2"));
        });
        providers.tracer.shutdown().expect("shutdown");
        let text = captured.text();
        assert!(text.contains("note=\"abcd\""), "{text}");
        assert!(text.contains("secret=\"[REDACTED]\""), "{text}");
    }

    #[test]
    fn the_largest_accepted_values_neither_allocate_up_front_nor_hang() {
        let captured = Captured::default();
        let vars = [
            ("OTEL_TRACES_EXPORTER", "console"),
            ("OTEL_METRICS_EXPORTER", "console"),
            ("OTEL_LOGS_EXPORTER", "console"),
            ("OTEL_BSP_MAX_QUEUE_SIZE", "1000000"),
            ("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "1000000"),
            ("OTEL_BLRP_MAX_QUEUE_SIZE", "1000000"),
            ("OTEL_BSP_SCHEDULE_DELAY", "3600000"),
            ("OTEL_BLRP_SCHEDULE_DELAY", "3600000"),
            ("OTEL_BSP_EXPORT_TIMEOUT", "600000"),
            ("OTEL_METRIC_EXPORT_INTERVAL", "86400000"),
            ("OTEL_METRIC_EXPORT_TIMEOUT", "600000"),
            ("OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", "65536"),
            ("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", "16777216"),
            ("TRACED_SHUTDOWN_TIMEOUT", "600000"),
        ];
        let providers = build(plan(&vars, &captured)).expect("providers");
        providers.tracer.tracer("t").in_span("work", |_| {});
        let started = std::time::Instant::now();
        let report = super::super::guard::shut_down(providers).expect("a clean shutdown");
        assert!(started.elapsed() < Duration::from_secs(5), "an empty queue stops at once: {:?}", started.elapsed());
        assert_eq!((report.spans.ended, report.spans.exported), (1, 1));
        assert!(captured.text().contains("work"));
    }

    #[test]
    fn every_sampler_kind_maps_to_the_sdk_sampler() {
        let provider = |kind| SdkTracerProvider::builder().with_sampler(sampler(kind)).build();
        let sampled = |kind| provider(kind).tracer("t").in_span("s", |cx| cx.span().span_context().is_sampled());
        assert!(sampled(SamplerKind::AlwaysOn));
        assert!(!sampled(SamplerKind::AlwaysOff));
        assert!(!sampled(SamplerKind::TraceIdRatio(0.0)));
        assert!(sampled(SamplerKind::ParentBasedTraceIdRatio(1.0)));
        assert!(!sampled(SamplerKind::ParentBasedAlwaysOff));
    }

    #[test]
    fn export_deadlines_cap_the_otlp_timeouts() {
        let vars = [("OTEL_BSP_EXPORT_TIMEOUT", "2000"), ("OTEL_METRIC_EXPORT_TIMEOUT", "20000")];
        let settings = plan(&vars, &Captured::default()).settings;
        let traces = with_deadline(&settings.otlp_traces, settings.batch.export_timeout);
        let metrics = with_deadline(&settings.otlp_metrics, settings.metric_export_timeout);
        assert_eq!(traces.timeout, Duration::from_secs(2), "the batch deadline is shorter than the 10s default");
        assert_eq!(metrics.timeout, Duration::from_secs(10), "the exporter's own timeout is shorter");
        assert_eq!(traces.endpoint, settings.otlp_traces.endpoint);
    }
}
