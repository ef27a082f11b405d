//! SDK data -> OTLP protobuf messages, converted once per batch, and cut into requests that stay
//! under the request size limit.
//!
//! A batch is flattened into [`Parts`]: the resources, the scopes and the items (spans, log records
//! or metrics) each with its encoded size. Spans are items already encoded (`encode_spans`); log
//! records and metrics are proto structs, converted by opentelemetry-proto. Requests are assembled from consecutive items, so a split
//! in halves is a split of a range, and items move between requests without being converted again.

use opentelemetry_proto::tonic::collector::logs::v1::{ExportLogsServiceRequest, ExportLogsServiceResponse};
use opentelemetry_proto::tonic::collector::metrics::v1::{ExportMetricsServiceRequest, ExportMetricsServiceResponse};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
use opentelemetry_proto::tonic::common::v1::InstrumentationScope;
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::metrics::v1::{Metric, ResourceMetrics, ScopeMetrics};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::transform::common::tonic::ResourceAttributesWithSchema;
use prost::Message;

use super::encode_spans::{ResourceSpans, ScopeSpans, TraceRequest};

/// Room for the field tags and length prefixes around an item, a scope or a resource.
const FRAMING: usize = 16;

/// One OTLP signal: its messages, and how a request comes apart into items and back.
pub(crate) trait Signal: Send + Sync + 'static {
    type Item: ItemSize + Send;
    type Request: Message + Default + Send;
    type Response: Message + Default;
    /// `traces`, `logs`, `metrics`.
    const NAME: &'static str;
    /// What one item is called in warnings: `span`, `log record`, `metric`.
    const ITEM: &'static str;
    /// The collector's gRPC method.
    #[cfg_attr(not(feature = "otlp-grpc"), allow(dead_code))]
    const GRPC_PATH: &'static str;
    /// What the collector's partial success counts: `spans`, `log records`, `data points`.
    const REJECTED_UNIT: &'static str;

    fn flatten(request: Self::Request) -> Parts<Self::Item>;
    fn assemble(parts: Parts<Self::Item>) -> Self::Request;
    /// The partial success of an answer: items rejected (data points for metrics) and the message.
    fn partial_success(response: &Self::Response) -> Option<(i64, String)>;

    /// How many of the `count` items of a request a partial success of `rejected` refuses.
    fn rejected_items(rejected: i64, count: usize) -> usize {
        usize::try_from(rejected).unwrap_or(0).min(count)
    }
}

/// An item's encoded size: its message without the field key and length in front.
pub(crate) trait ItemSize {
    fn size(&self) -> usize;
}

/// A message already encoded (a span).
impl ItemSize for bytes::Bytes {
    fn size(&self) -> usize {
        self.len()
    }
}

impl ItemSize for LogRecord {
    fn size(&self) -> usize {
        self.encoded_len()
    }
}

impl ItemSize for Metric {
    fn size(&self) -> usize {
        self.encoded_len()
    }
}

/// A batch taken apart: items refer to scopes, scopes to resources, by index.
#[derive(Debug)]
pub(crate) struct Parts<I> {
    resources: Vec<(Option<Resource>, String)>,
    scopes: Vec<(usize, Option<InstrumentationScope>, String)>,
    items: Vec<Item<I>>,
}

#[derive(Debug)]
struct Item<I> {
    scope: usize,
    size: usize,
    message: I,
}

impl<I: ItemSize> Parts<I> {
    pub(super) fn new() -> Self {
        Self { resources: Vec::new(), scopes: Vec::new(), items: Vec::new() }
    }

    pub(super) fn add_resource(&mut self, resource: Option<Resource>, schema_url: String) -> usize {
        self.resources.push((resource, schema_url));
        self.resources.len() - 1
    }

    pub(super) fn add_scope(
        &mut self,
        resource: usize,
        scope: Option<InstrumentationScope>,
        schema_url: String,
    ) -> usize {
        self.scopes.push((resource, scope, schema_url));
        self.scopes.len() - 1
    }

    pub(super) fn add_items(&mut self, scope: usize, items: impl IntoIterator<Item = I>) {
        self.items.extend(items.into_iter().map(|message| Item { scope, size: message.size(), message }));
    }

    pub(crate) fn len(&self) -> usize {
        self.items.len()
    }

    /// The encoded size of item `index` alone.
    pub(crate) fn item_size(&self, index: usize) -> usize {
        self.items[index].size
    }

    /// An estimate of the encoded size of a request holding all the items, never below the real one
    /// by more than the framing allowance.
    fn estimate(&self) -> usize {
        let headers: usize =
            self.resources.iter().map(|(r, _)| r.as_ref().map_or(0, Message::encoded_len)).sum::<usize>()
                + self
                    .scopes
                    .iter()
                    .map(|(_, s, url)| s.as_ref().map_or(0, Message::encoded_len) + url.len())
                    .sum::<usize>();
        headers + FRAMING * (self.resources.len() + self.scopes.len()) + self.item_bytes(0..self.items.len())
    }

    fn item_bytes(&self, range: std::ops::Range<usize>) -> usize {
        self.items[range].iter().map(|item| item.size + FRAMING).sum()
    }

    /// Splits off the items from `at` on, with the scopes and resources they need.
    pub(crate) fn split_off(&mut self, at: usize) -> Self {
        let items = self.items.split_off(at);
        Self { resources: self.resources.clone(), scopes: self.scopes.clone(), items }
    }

    /// Cuts the parts into runs of consecutive items whose requests stay under `limit` bytes (by
    /// estimate; the caller checks the encoded size). An item above the limit alone is a run of its own.
    pub(crate) fn chunks(mut self, limit: usize) -> Vec<Self> {
        let overhead = self.estimate() - self.item_bytes(0..self.items.len());
        let mut cuts = Vec::new();
        let mut size = overhead;
        for (index, item) in self.items.iter().enumerate() {
            let bytes = item.size + FRAMING;
            if index > 0 && size + bytes > limit && size > overhead {
                cuts.push(index);
                size = overhead;
            }
            size += bytes;
        }
        let mut chunks = Vec::with_capacity(cuts.len() + 1);
        for cut in cuts.into_iter().rev() {
            chunks.push(self.split_off(cut));
        }
        chunks.push(self);
        chunks.reverse();
        chunks
    }

    /// Groups the items back under their scopes and resources (empty scopes and resources left out).
    fn grouped<S, R>(
        self,
        scope: impl Fn(Option<InstrumentationScope>, String, Vec<I>) -> S,
        resource: impl Fn(Option<Resource>, String, Vec<S>) -> R,
    ) -> Vec<R> {
        let mut per_scope: Vec<Vec<I>> = self.scopes.iter().map(|_| Vec::new()).collect();
        for item in self.items {
            per_scope[item.scope].push(item.message);
        }
        let mut per_resource: Vec<Vec<S>> = self.resources.iter().map(|_| Vec::new()).collect();
        for ((owner, header, url), items) in self.scopes.into_iter().zip(per_scope) {
            if !items.is_empty() {
                per_resource[owner].push(scope(header, url, items));
            }
        }
        self.resources
            .into_iter()
            .zip(per_resource)
            .filter(|(_, scopes)| !scopes.is_empty())
            .map(|((header, url), scopes)| resource(header, url, scopes))
            .collect()
    }
}

/// Spans, each encoded once (`encode_spans`).
#[derive(Debug)]
pub(crate) struct Traces;

impl Signal for Traces {
    type Item = bytes::Bytes;
    type Request = TraceRequest;
    type Response = ExportTraceServiceResponse;
    const NAME: &'static str = "traces";
    const ITEM: &'static str = "span";
    const GRPC_PATH: &'static str = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";
    const REJECTED_UNIT: &'static str = "spans";

    fn flatten(request: Self::Request) -> Parts<bytes::Bytes> {
        let mut parts = Parts::new();
        for resource_spans in request.resource_spans {
            let owner = parts.add_resource(resource_spans.resource, resource_spans.schema_url);
            for scope_spans in resource_spans.scope_spans {
                let scope = parts.add_scope(owner, scope_spans.scope, scope_spans.schema_url);
                parts.add_items(scope, scope_spans.spans);
            }
        }
        parts
    }

    fn assemble(parts: Parts<bytes::Bytes>) -> Self::Request {
        let resource_spans = parts.grouped(
            |scope, schema_url, spans| ScopeSpans { scope, spans, schema_url },
            |resource, schema_url, scope_spans| ResourceSpans { resource, scope_spans, schema_url },
        );
        TraceRequest { resource_spans }
    }

    fn partial_success(response: &Self::Response) -> Option<(i64, String)> {
        response.partial_success.as_ref().map(|partial| (partial.rejected_spans, partial.error_message.clone()))
    }
}

/// Log records.
#[derive(Debug)]
pub(crate) struct Logs;

impl Signal for Logs {
    type Item = LogRecord;
    type Request = ExportLogsServiceRequest;
    type Response = ExportLogsServiceResponse;
    const NAME: &'static str = "logs";
    const ITEM: &'static str = "log record";
    const GRPC_PATH: &'static str = "/opentelemetry.proto.collector.logs.v1.LogsService/Export";
    const REJECTED_UNIT: &'static str = "log records";

    fn flatten(request: Self::Request) -> Parts<LogRecord> {
        let mut parts = Parts::new();
        for resource_logs in request.resource_logs {
            let owner = parts.add_resource(resource_logs.resource, resource_logs.schema_url);
            for scope_logs in resource_logs.scope_logs {
                let scope = parts.add_scope(owner, scope_logs.scope, scope_logs.schema_url);
                parts.add_items(scope, scope_logs.log_records);
            }
        }
        parts
    }

    fn assemble(parts: Parts<LogRecord>) -> Self::Request {
        let resource_logs = parts.grouped(
            |scope, schema_url, log_records| ScopeLogs { scope, log_records, schema_url },
            |resource, schema_url, scope_logs| ResourceLogs { resource, scope_logs, schema_url },
        );
        ExportLogsServiceRequest { resource_logs }
    }

    fn partial_success(response: &Self::Response) -> Option<(i64, String)> {
        response.partial_success.as_ref().map(|partial| (partial.rejected_log_records, partial.error_message.clone()))
    }
}

/// Metrics: one item is one metric with all its data points.
#[derive(Debug)]
pub(crate) struct Metrics;

impl Signal for Metrics {
    type Item = Metric;
    type Request = ExportMetricsServiceRequest;
    type Response = ExportMetricsServiceResponse;
    const NAME: &'static str = "metrics";
    const ITEM: &'static str = "metric";
    const GRPC_PATH: &'static str = "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export";
    const REJECTED_UNIT: &'static str = "data points";

    fn flatten(request: Self::Request) -> Parts<Metric> {
        let mut parts = Parts::new();
        for resource_metrics in request.resource_metrics {
            let owner = parts.add_resource(resource_metrics.resource, resource_metrics.schema_url);
            for scope_metrics in resource_metrics.scope_metrics {
                let scope = parts.add_scope(owner, scope_metrics.scope, scope_metrics.schema_url);
                parts.add_items(scope, scope_metrics.metrics);
            }
        }
        parts
    }

    fn assemble(parts: Parts<Metric>) -> Self::Request {
        let resource_metrics = parts.grouped(
            |scope, schema_url, metrics| ScopeMetrics { scope, metrics, schema_url },
            |resource, schema_url, scope_metrics| ResourceMetrics { resource, scope_metrics, schema_url },
        );
        ExportMetricsServiceRequest { resource_metrics }
    }

    fn partial_success(response: &Self::Response) -> Option<(i64, String)> {
        response.partial_success.as_ref().map(|partial| (partial.rejected_data_points, partial.error_message.clone()))
    }

    /// Data points are not items: any rejected data point refuses the whole request.
    fn rejected_items(rejected: i64, count: usize) -> usize {
        if rejected > 0 {
            count
        } else {
            0
        }
    }
}

pub(crate) use super::encode_spans::spans;

/// A batch of log records as OTLP, grouped by scope (the record's target names it) under the resource.
pub(crate) fn logs(
    batch: &[crate::telemetry::pipeline::delivery::LogItem],
    resource: &ResourceAttributesWithSchema,
) -> Parts<LogRecord> {
    use opentelemetry_proto::transform::logs::tonic::group_logs_by_resource_and_scope;
    let records: Vec<_> = batch.iter().map(|item| (&item.0, &item.1)).collect();
    let batch = opentelemetry_sdk::logs::LogBatch::new(&records);
    Logs::flatten(ExportLogsServiceRequest { resource_logs: group_logs_by_resource_and_scope(&batch, resource) })
}

/// One metric collection as OTLP.
pub(crate) fn metrics(collection: &opentelemetry_sdk::metrics::data::ResourceMetrics) -> Parts<Metric> {
    Metrics::flatten(ExportMetricsServiceRequest::from(collection))
}

#[cfg(test)]
mod tests {
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
    use opentelemetry_proto::tonic::trace::v1::{
        ResourceSpans as ProtoResourceSpans, ScopeSpans as ProtoScopeSpans, Span,
    };

    use super::*;

    fn span(name: &str, bytes: usize) -> Span {
        let value = AnyValue { value: Some(any_value::Value::StringValue("x".repeat(bytes))) };
        Span {
            name: name.to_owned(),
            attributes: vec![KeyValue { key: "big".to_owned(), value: Some(value), ..Default::default() }],
            ..Default::default()
        }
    }

    fn request(scopes: &[(&str, Vec<Span>)]) -> ExportTraceServiceRequest {
        let scope_spans = scopes
            .iter()
            .map(|(name, spans)| ProtoScopeSpans {
                scope: Some(InstrumentationScope { name: (*name).to_owned(), ..Default::default() }),
                spans: spans.clone(),
                schema_url: String::new(),
            })
            .collect();
        let resource = Resource { attributes: Vec::new(), dropped_attributes_count: 0, entity_refs: Vec::new() };
        ExportTraceServiceRequest {
            resource_spans: vec![ProtoResourceSpans {
                resource: Some(resource),
                scope_spans,
                schema_url: String::new(),
            }],
        }
    }

    /// The span names of a request (of spans encoded or not) per scope.
    fn names(request: &impl Message) -> Vec<(String, Vec<String>)> {
        let request = ExportTraceServiceRequest::decode(request.encode_to_vec().as_slice()).expect("a request");
        request.resource_spans[0]
            .scope_spans
            .iter()
            .map(|s| (s.scope.clone().unwrap_or_default().name, s.spans.iter().map(|s| s.name.clone()).collect()))
            .collect()
    }

    #[test]
    fn chunks_stay_under_the_limit_and_keep_every_item_once_under_its_scope() {
        let a: Vec<Span> = (0..30).map(|i| span(&format!("a{i}"), if i % 10 == 9 { 3000 } else { 100 })).collect();
        let b: Vec<Span> = (0..30).map(|i| span(&format!("b{i}"), 100)).collect();
        let original = request(&[("a", a), ("b", b)]);
        let limit = 4000;
        let chunks = Traces::flatten(Traces::from_messages(&original)).chunks(limit);
        assert!(chunks.len() > 3, "{} chunks", chunks.len());
        let mut seen = Vec::new();
        for chunk in chunks {
            let request = Traces::assemble(chunk);
            assert!(request.encoded_len() <= limit, "{} bytes", request.encoded_len());
            for (scope, spans) in names(&request) {
                assert!(spans.iter().all(|name| name.starts_with(&scope)), "{scope}: {spans:?}");
                seen.extend(spans);
            }
        }
        let expected: Vec<String> = names(&original).into_iter().flat_map(|(_, spans)| spans).collect();
        assert_eq!(seen, expected);
    }

    #[test]
    fn an_item_above_the_limit_is_a_chunk_of_its_own() {
        let spans = vec![span("small", 10), span("huge", 10_000), span("small2", 10)];
        let chunks = Traces::flatten(Traces::from_messages(&request(&[("s", spans)]))).chunks(2000);
        let sizes: Vec<usize> = chunks.iter().map(Parts::len).collect();
        assert_eq!(sizes, [1, 1, 1]);
        assert!(chunks[1].item_size(0) > 10_000);
    }

    #[test]
    fn a_batch_under_the_limit_is_one_request_equal_to_the_original() {
        let original = request(&[("a", vec![span("1", 10), span("2", 10)]), ("b", vec![span("3", 10)])]);
        let original = Traces::from_messages(&original);
        let chunks = Traces::flatten(original.clone()).chunks(1 << 20);
        assert_eq!(chunks.len(), 1);
        let mut chunk = chunks.into_iter().next().expect("one chunk");
        let tail = chunk.split_off(2);
        assert_eq!(names(&Traces::assemble(tail)), [("b".to_owned(), vec!["3".to_owned()])]);
        assert_eq!(Traces::assemble(chunk).resource_spans[0].scope_spans.len(), 1, "the empty scope is left out");
        let again = Traces::assemble(Traces::flatten(original.clone()));
        assert_eq!(again, original);
    }
}
