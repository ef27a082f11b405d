//! What arrived, flattened so tests read one span, metric or log record at a time.

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue};
use opentelemetry_proto::tonic::logs::v1::LogRecord;
use opentelemetry_proto::tonic::metrics::v1::Metric;
use opentelemetry_proto::tonic::trace::v1::Span;

/// How an export arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// OTLP/gRPC
    Grpc,
    /// OTLP/HTTP
    Http,
}

/// Which service an export went to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// `/v1/traces` or `TraceService/Export`
    Traces,
    /// `/v1/metrics` or `MetricsService/Export`
    Metrics,
    /// `/v1/logs` or `LogsService/Export`
    Logs,
}

/// One export request as it arrived.
#[derive(Debug, Clone)]
pub struct ReceivedRequest {
    /// gRPC or HTTP.
    pub transport: Transport,
    /// The signal.
    pub signal: Signal,
    /// The HTTP path (`/opentelemetry.proto.collector.trace.v1.TraceService/Export` for gRPC).
    pub path: String,
    /// Request headers (gRPC metadata included).
    pub headers: http::HeaderMap,
    /// `Content-Type` for HTTP.
    pub content_type: Option<String>,
    /// How many spans, data points or log records it carried.
    pub items: usize,
}

impl ReceivedRequest {
    /// A header's value as text.
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers.get(name).and_then(|value| value.to_str().ok()).map(str::to_owned)
    }

    /// The payload compression: `content-encoding` (HTTP) or `grpc-encoding` (gRPC).
    pub fn compression(&self) -> Option<String> {
        self.header("content-encoding").or_else(|| self.header("grpc-encoding"))
    }
}

/// One span with the resource and scope it was exported under.
#[derive(Debug, Clone)]
pub struct ReceivedSpan {
    /// Resource attributes.
    pub resource: Vec<KeyValue>,
    /// Instrumentation scope name.
    pub scope: String,
    /// The span as sent.
    pub span: Span,
}

impl ReceivedSpan {
    pub(super) fn flatten(request: ExportTraceServiceRequest) -> impl Iterator<Item = ReceivedSpan> {
        request.resource_spans.into_iter().flat_map(|resource_spans| {
            let resource = resource_spans.resource.map(|resource| resource.attributes).unwrap_or_default();
            resource_spans.scope_spans.into_iter().flat_map(move |scope_spans| {
                let scope = scope_spans.scope.map(|scope| scope.name).unwrap_or_default();
                let resource = resource.clone();
                scope_spans.spans.into_iter().map(move |span| ReceivedSpan {
                    resource: resource.clone(),
                    scope: scope.clone(),
                    span,
                })
            })
        })
    }

    /// The span name.
    pub fn name(&self) -> &str {
        &self.span.name
    }

    /// Trace id, 32 lowercase hex digits.
    pub fn trace_id(&self) -> String {
        hex(&self.span.trace_id)
    }

    /// Span id, 16 lowercase hex digits.
    pub fn span_id(&self) -> String {
        hex(&self.span.span_id)
    }

    /// Parent span id, or `""` for a root span.
    pub fn parent_span_id(&self) -> String {
        hex(&self.span.parent_span_id)
    }

    /// A span attribute as text (strings unquoted).
    pub fn attribute(&self, key: &str) -> Option<String> {
        find(&self.span.attributes, key)
    }

    /// A resource attribute as text.
    pub fn resource_attribute(&self, key: &str) -> Option<String> {
        find(&self.resource, key)
    }
}

/// One metric with the resource it was exported under.
#[derive(Debug, Clone)]
pub struct ReceivedMetric {
    /// Resource attributes.
    pub resource: Vec<KeyValue>,
    /// The metric as sent.
    pub metric: Metric,
}

impl ReceivedMetric {
    pub(super) fn flatten(request: ExportMetricsServiceRequest) -> impl Iterator<Item = ReceivedMetric> {
        request.resource_metrics.into_iter().flat_map(|resource_metrics| {
            let resource = resource_metrics.resource.map(|resource| resource.attributes).unwrap_or_default();
            resource_metrics
                .scope_metrics
                .into_iter()
                .flat_map(|scope| scope.metrics)
                .map(move |metric| ReceivedMetric { resource: resource.clone(), metric })
        })
    }

    /// The metric name.
    pub fn name(&self) -> &str {
        &self.metric.name
    }

    /// A resource attribute as text.
    pub fn resource_attribute(&self, key: &str) -> Option<String> {
        find(&self.resource, key)
    }
}

/// One log record with the resource it was exported under.
#[derive(Debug, Clone)]
pub struct ReceivedLog {
    /// Resource attributes.
    pub resource: Vec<KeyValue>,
    /// The record as sent.
    pub record: LogRecord,
}

impl ReceivedLog {
    pub(super) fn flatten(request: ExportLogsServiceRequest) -> impl Iterator<Item = ReceivedLog> {
        request.resource_logs.into_iter().flat_map(|resource_logs| {
            let resource = resource_logs.resource.map(|resource| resource.attributes).unwrap_or_default();
            resource_logs
                .scope_logs
                .into_iter()
                .flat_map(|scope| scope.log_records)
                .map(move |record| ReceivedLog { resource: resource.clone(), record })
        })
    }

    /// The body as text.
    pub fn body(&self) -> Option<String> {
        self.record.body.as_ref().and_then(text)
    }

    /// Trace id of the span the record was emitted in, or `""`.
    pub fn trace_id(&self) -> String {
        hex(&self.record.trace_id)
    }

    /// Span id of the span the record was emitted in, or `""`.
    pub fn span_id(&self) -> String {
        hex(&self.record.span_id)
    }

    /// A record attribute as text.
    pub fn attribute(&self, key: &str) -> Option<String> {
        find(&self.record.attributes, key)
    }

    /// A resource attribute as text.
    pub fn resource_attribute(&self, key: &str) -> Option<String> {
        find(&self.resource, key)
    }
}

pub(super) fn count_data_points(metric: &Metric) -> usize {
    use opentelemetry_proto::tonic::metrics::v1::metric::Data;
    match &metric.data {
        Some(Data::Gauge(gauge)) => gauge.data_points.len(),
        Some(Data::Sum(sum)) => sum.data_points.len(),
        Some(Data::Histogram(histogram)) => histogram.data_points.len(),
        Some(Data::ExponentialHistogram(histogram)) => histogram.data_points.len(),
        Some(Data::Summary(summary)) => summary.data_points.len(),
        None => 0,
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

fn find(attributes: &[KeyValue], key: &str) -> Option<String> {
    attributes.iter().find(|kv| kv.key == key).and_then(|kv| kv.value.as_ref()).and_then(text)
}

fn text(value: &AnyValue) -> Option<String> {
    Some(match value.value.as_ref()? {
        Value::StringValue(text) => text.clone(),
        Value::BoolValue(flag) => flag.to_string(),
        Value::IntValue(number) => number.to_string(),
        Value::DoubleValue(number) => number.to_string(),
        other => format!("{other:?}"),
    })
}
