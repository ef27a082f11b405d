//! OTLP requests turned into what the store keeps: spans, log records and metric points, each capped as it is
//! copied (string lengths, list lengths), with invalid items (bad trace or span ids) counted as rejected.

use std::sync::Arc;

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as ProtoValue;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::metrics::v1::metric::Data;
use opentelemetry_proto::tonic::metrics::v1::number_data_point::Value as NumberValue;
use opentelemetry_proto::tonic::resource::v1::Resource as ProtoResource;
use serde_json::Value;

/// A string longer than this is cut (on a character boundary) with a `…` appended.
pub const MAX_STRING_BYTES: usize = 16 * 1024;
/// Attributes, events and links kept per item; the rest are counted as dropped.
pub const MAX_LIST_ITEMS: usize = 128;
/// How deep nested values (arrays, maps) are kept.
const MAX_DEPTH: usize = 4;

pub type TraceId = [u8; 16];
pub type SpanId = [u8; 8];
pub type Attributes = Vec<(String, Value)>;

/// The resource (and scope) a batch of items came from, shared by its items; the resource's service name and
/// attributes are read once and shared by the origins of all its scopes.
#[derive(Debug)]
pub struct Origin {
    pub service: Arc<str>,
    pub resource: Arc<Attributes>,
    pub scope: String,
    /// [`Origin::weight`], reckoned once: every item of the origin charges it as it is stored and evicted.
    weight: usize,
}

#[derive(Debug)]
pub struct Span {
    pub trace_id: TraceId,
    pub span_id: SpanId,
    pub parent: Option<SpanId>,
    pub name: String,
    pub kind: i32,
    pub start: u64,
    pub end: u64,
    pub attributes: Attributes,
    pub dropped_attributes: u32,
    pub events: Vec<Event>,
    pub dropped_events: u32,
    pub links: Vec<Link>,
    pub dropped_links: u32,
    /// 0 unset, 1 ok, 2 error (OTLP's status codes).
    pub status_code: i32,
    pub status_message: String,
    pub origin: Arc<Origin>,
}

impl Span {
    pub fn duration_nanos(&self) -> u64 {
        self.end.saturating_sub(self.start)
    }

    pub fn is_error(&self) -> bool {
        self.status_code == 2
    }
    /// The bytes this span holds, about: its struct, its text, its lists and its origin ([`Origin::weight`]).
    pub fn weight(&self) -> usize {
        let events: usize = self
            .events
            .iter()
            .map(|event| std::mem::size_of::<Event>() + event.name.len() + attributes_weight(&event.attributes))
            .sum();
        let links: usize = self
            .links
            .iter()
            .map(|link| {
                std::mem::size_of::<Link>()
                    + link.trace_id.len()
                    + link.span_id.len()
                    + attributes_weight(&link.attributes)
            })
            .sum();
        std::mem::size_of::<Span>()
            + std::mem::size_of::<std::sync::Arc<Span>>()
            + self.origin.weight()
            + self.name.len()
            + self.status_message.len()
            + attributes_weight(&self.attributes)
            + events
            + links
    }
}

/// The bytes of a list of attributes, about.
pub fn attributes_weight(attributes: &Attributes) -> usize {
    attributes.iter().map(|(key, value)| std::mem::size_of::<(String, Value)>() + key.len() + value_weight(value)).sum()
}

fn value_weight(value: &Value) -> usize {
    match value {
        Value::String(text) => text.len(),
        Value::Array(values) => values.iter().map(|v| std::mem::size_of::<Value>() + value_weight(v)).sum(),
        Value::Object(map) => {
            map.iter().map(|(k, v)| 2 * std::mem::size_of::<Value>() + k.len() + value_weight(v)).sum()
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => 0,
    }
}

#[derive(Debug)]
pub struct Event {
    pub time: u64,
    pub name: String,
    pub attributes: Attributes,
}

#[derive(Debug)]
pub struct Link {
    pub trace_id: String,
    pub span_id: String,
    pub attributes: Attributes,
}

#[derive(Debug)]
pub struct LogRecord {
    pub time: u64,
    pub severity: String,
    pub body: Value,
    pub attributes: Attributes,
    pub trace_id: Option<TraceId>,
    pub span_id: Option<SpanId>,
    pub origin: Arc<Origin>,
}

impl LogRecord {
    /// The bytes this record holds, about, its origin included ([`Origin::weight`]).
    pub fn weight(&self) -> usize {
        std::mem::size_of::<LogRecord>()
            + self.origin.weight()
            + std::mem::size_of::<Arc<LogRecord>>()
            + self.severity.len()
            + value_weight(&self.body)
            + attributes_weight(&self.attributes)
    }
}

/// One data point of a metric, the latest one the viewer got for its series.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum PointValue {
    Gauge { value: f64 },
    Sum { value: f64, monotonic: bool, temporality: &'static str },
    Histogram { count: u64, sum: Option<f64>, min: Option<f64>, max: Option<f64>, bounds: Vec<f64>, counts: Vec<u64> },
    ExponentialHistogram { count: u64, sum: Option<f64>, min: Option<f64>, max: Option<f64>, scale: i32 },
    Summary { count: u64, sum: f64, quantiles: Vec<(f64, f64)> },
}

/// The metric's name, unit and description and the service are shared by all the points of one metric.
#[derive(Debug, Clone)]
pub struct MetricPoint {
    pub name: Arc<str>,
    pub unit: Arc<str>,
    pub description: Arc<str>,
    pub service: Arc<str>,
    pub attributes: Attributes,
    pub time: u64,
    pub value: PointValue,
}

impl MetricPoint {
    /// The bytes this point holds, about: its struct, its texts (shared by the points of a metric, but a series
    /// keeps one point), its attributes and its value's lists.
    pub fn weight(&self) -> usize {
        let lists = match &self.value {
            PointValue::Histogram { bounds, counts, .. } => 8 * (bounds.len() + counts.len()),
            PointValue::Summary { quantiles, .. } => 16 * quantiles.len(),
            PointValue::Gauge { .. } | PointValue::Sum { .. } | PointValue::ExponentialHistogram { .. } => 0,
        };
        std::mem::size_of::<MetricPoint>()
            + self.name.len()
            + self.unit.len()
            + self.description.len()
            + self.service.len()
            + attributes_weight(&self.attributes)
            + lists
    }
}

/// What one request held: the items to store and how many were refused.
#[derive(Debug, Default)]
pub struct Batch<T> {
    pub items: Vec<T>,
    pub rejected: i64,
}

pub fn spans(request: ExportTraceServiceRequest) -> Batch<Span> {
    let mut batch = Batch { items: Vec::new(), rejected: 0 };
    for resource_spans in request.resource_spans {
        let resource = Origin::of(resource_spans.resource);
        for scope_spans in resource_spans.scope_spans {
            let origin = resource.with_scope(scope_spans.scope.as_ref());
            for span in scope_spans.spans {
                let (Some(trace_id), Some(span_id)) = (trace_id(&span.trace_id), span_id(&span.span_id)) else {
                    batch.rejected += 1;
                    continue;
                };
                let (attributes, dropped_attributes) = attributes(span.attributes, span.dropped_attributes_count);
                let dropped_events = span.dropped_events_count.saturating_add(excess(span.events.len()));
                let events = span.events.into_iter().take(MAX_LIST_ITEMS).map(|event| Event {
                    time: event.time_unix_nano,
                    name: cap(event.name),
                    attributes: attributes_of(event.attributes),
                });
                let dropped_links = span.dropped_links_count.saturating_add(excess(span.links.len()));
                let links = span.links.into_iter().take(MAX_LIST_ITEMS).map(|link| Link {
                    trace_id: capped_hex(&link.trace_id),
                    span_id: capped_hex(&link.span_id),
                    attributes: attributes_of(link.attributes),
                });
                let status = span.status.unwrap_or_default();
                batch.items.push(Span {
                    trace_id,
                    span_id,
                    parent: self::span_id(&span.parent_span_id),
                    name: cap(span.name),
                    kind: span.kind,
                    start: span.start_time_unix_nano,
                    end: span.end_time_unix_nano.max(span.start_time_unix_nano),
                    attributes,
                    dropped_attributes,
                    events: events.collect(),
                    dropped_events,
                    links: links.collect(),
                    dropped_links,
                    status_code: status.code,
                    status_message: cap(status.message),
                    origin: Arc::clone(&origin),
                });
            }
        }
    }
    batch
}

pub fn logs(request: ExportLogsServiceRequest) -> Batch<LogRecord> {
    let mut batch = Batch { items: Vec::new(), rejected: 0 };
    for resource_logs in request.resource_logs {
        let resource = Origin::of(resource_logs.resource);
        for scope_logs in resource_logs.scope_logs {
            let origin = resource.with_scope(scope_logs.scope.as_ref());
            for record in scope_logs.log_records {
                // Empty ids mean "not correlated"; ids of a wrong length are malformed.
                let bad_trace = !record.trace_id.is_empty() && record.trace_id.len() != 16;
                let bad_span = !record.span_id.is_empty() && record.span_id.len() != 8;
                if bad_trace || bad_span {
                    batch.rejected += 1;
                    continue;
                }
                let time =
                    if record.time_unix_nano == 0 { record.observed_time_unix_nano } else { record.time_unix_nano };
                batch.items.push(LogRecord {
                    time,
                    severity: if record.severity_text.is_empty() {
                        severity_name(record.severity_number).to_owned()
                    } else {
                        cap(record.severity_text)
                    },
                    body: record.body.map(|body| value(body, 0)).unwrap_or(Value::Null),
                    attributes: attributes_of(record.attributes),
                    trace_id: trace_id(&record.trace_id),
                    span_id: span_id(&record.span_id),
                    origin: Arc::clone(&origin),
                });
            }
        }
    }
    batch
}

pub fn metrics(request: ExportMetricsServiceRequest) -> Batch<MetricPoint> {
    let mut batch = Batch { items: Vec::new(), rejected: 0 };
    for resource_metrics in request.resource_metrics {
        let service = Origin::of(resource_metrics.resource).service;
        for scope_metrics in resource_metrics.scope_metrics {
            for metric in scope_metrics.metrics {
                let [name, unit, description]: [Arc<str>; 3] =
                    [metric.name, metric.unit, metric.description].map(|text| cap(text).into());
                let point = |attributes: Vec<KeyValue>, time: u64, value: PointValue| MetricPoint {
                    name: Arc::clone(&name),
                    unit: Arc::clone(&unit),
                    description: Arc::clone(&description),
                    service: Arc::clone(&service),
                    attributes: attributes_of(attributes),
                    time,
                    value,
                };
                match metric.data {
                    Some(Data::Gauge(gauge)) => batch.items.extend(gauge.data_points.into_iter().map(|p| {
                        let value = number(p.value);
                        point(p.attributes, p.time_unix_nano, PointValue::Gauge { value })
                    })),
                    Some(Data::Sum(sum)) => {
                        let temporality = temporality(sum.aggregation_temporality);
                        batch.items.extend(sum.data_points.into_iter().map(|p| {
                            let value =
                                PointValue::Sum { value: number(p.value), monotonic: sum.is_monotonic, temporality };
                            point(p.attributes, p.time_unix_nano, value)
                        }));
                    }
                    Some(Data::Histogram(histogram)) => {
                        batch.items.extend(histogram.data_points.into_iter().map(|p| {
                            let value = PointValue::Histogram {
                                count: p.count,
                                sum: p.sum,
                                min: p.min,
                                max: p.max,
                                bounds: p.explicit_bounds.into_iter().take(MAX_LIST_ITEMS * 4).collect(),
                                counts: p.bucket_counts.into_iter().take(MAX_LIST_ITEMS * 4 + 1).collect(),
                            };
                            point(p.attributes, p.time_unix_nano, value)
                        }))
                    }
                    Some(Data::ExponentialHistogram(histogram)) => {
                        batch.items.extend(histogram.data_points.into_iter().map(|p| {
                            let value = PointValue::ExponentialHistogram {
                                count: p.count,
                                sum: p.sum,
                                min: p.min,
                                max: p.max,
                                scale: p.scale,
                            };
                            point(p.attributes, p.time_unix_nano, value)
                        }));
                    }
                    Some(Data::Summary(summary)) => batch.items.extend(summary.data_points.into_iter().map(|p| {
                        let quantiles =
                            p.quantile_values.iter().take(MAX_LIST_ITEMS).map(|q| (q.quantile, q.value)).collect();
                        point(
                            p.attributes,
                            p.time_unix_nano,
                            PointValue::Summary { count: p.count, sum: p.sum, quantiles },
                        )
                    })),
                    None => batch.rejected += 1,
                }
            }
        }
    }
    batch
}

impl Origin {
    pub fn new(service: Arc<str>, resource: Arc<Attributes>, scope: String) -> Origin {
        let weight = std::mem::size_of::<Origin>() + service.len() + scope.len() + attributes_weight(&resource);
        Origin { service, resource, scope, weight }
    }

    /// The bytes of an origin, about. Each item charges its origin's in full: items share one only within a
    /// request, so a request of one span can hold a resource of 2 MiB that the span alone would not account for.
    pub fn weight(&self) -> usize {
        self.weight
    }

    /// A resource's origin, without a scope yet.
    fn of(resource: Option<ProtoResource>) -> Origin {
        let resource = resource.map(|r| attributes_of(r.attributes)).unwrap_or_default();
        let service = resource
            .iter()
            .find(|(key, _)| key == "service.name")
            .and_then(|(_, value)| value.as_str())
            .unwrap_or("unknown_service")
            .into();
        Origin::new(service, Arc::new(resource), String::new())
    }

    /// The origin of one scope of this resource, sharing its service name and attributes.
    fn with_scope(&self, scope: Option<&InstrumentationScope>) -> Arc<Origin> {
        let scope = scope.map(|s| cap(s.name.clone())).unwrap_or_default();
        let weight = self.weight + scope.len();
        Arc::new(Origin { service: Arc::clone(&self.service), resource: Arc::clone(&self.resource), scope, weight })
    }
}

fn excess(len: usize) -> u32 {
    u32::try_from(len.saturating_sub(MAX_LIST_ITEMS)).unwrap_or(u32::MAX)
}

fn attributes(list: Vec<KeyValue>, dropped: u32) -> (Attributes, u32) {
    let dropped = dropped.saturating_add(excess(list.len()));
    (attributes_of(list), dropped)
}

fn attributes_of(list: Vec<KeyValue>) -> Attributes {
    list.into_iter()
        .take(MAX_LIST_ITEMS)
        .map(|kv| (cap(kv.key), kv.value.map(|v| value(v, 0)).unwrap_or(Value::Null)))
        .collect()
}

/// An OTLP value as JSON: strings, numbers and booleans as such, bytes as hex, arrays and maps nested (capped).
fn value(any: AnyValue, depth: usize) -> Value {
    match any.value {
        None => Value::Null,
        Some(ProtoValue::StringValue(text)) => Value::String(cap(text)),
        Some(ProtoValue::BoolValue(flag)) => Value::Bool(flag),
        Some(ProtoValue::IntValue(number)) => Value::from(number),
        Some(ProtoValue::DoubleValue(number)) => {
            serde_json::Number::from_f64(number).map(Value::Number).unwrap_or_else(|| Value::String(number.to_string()))
        }
        // An index into a profile's string table: meaningless without the table.
        Some(ProtoValue::StringValueStrindex(index)) => Value::String(format!("<string #{index}>")),
        Some(ProtoValue::BytesValue(bytes)) => Value::String(capped_hex(&bytes)),
        Some(_) if depth >= MAX_DEPTH => Value::String("…".to_owned()),
        Some(ProtoValue::ArrayValue(array)) => {
            Value::Array(array.values.into_iter().take(MAX_LIST_ITEMS).map(|v| value(v, depth + 1)).collect())
        }
        Some(ProtoValue::KvlistValue(list)) => Value::Object(
            list.values
                .into_iter()
                .take(MAX_LIST_ITEMS)
                .map(|kv| (cap(kv.key), kv.value.map(|v| value(v, depth + 1)).unwrap_or(Value::Null)))
                .collect(),
        ),
    }
}

fn number(value: Option<NumberValue>) -> f64 {
    match value {
        Some(NumberValue::AsDouble(number)) => number,
        // Precision past 2^53 does not matter on a screen.
        #[allow(clippy::cast_precision_loss)]
        Some(NumberValue::AsInt(number)) => number as f64,
        None => f64::NAN,
    }
}

fn temporality(code: i32) -> &'static str {
    match code {
        1 => "delta",
        2 => "cumulative",
        _ => "unspecified",
    }
}

fn severity_name(number: i32) -> &'static str {
    match number {
        1..=4 => "TRACE",
        5..=8 => "DEBUG",
        9..=12 => "INFO",
        13..=16 => "WARN",
        17..=20 => "ERROR",
        21..=24 => "FATAL",
        _ => "",
    }
}

/// A 16-byte, not all-zero id (the OTLP rule for a valid trace id).
fn trace_id(bytes: &[u8]) -> Option<TraceId> {
    let id: TraceId = bytes.try_into().ok()?;
    (id != [0; 16]).then_some(id)
}

fn span_id(bytes: &[u8]) -> Option<SpanId> {
    let id: SpanId = bytes.try_into().ok()?;
    (id != [0; 8]).then_some(id)
}

pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut text, byte| {
        let _ = write!(text, "{byte:02x}");
        text
    })
}

/// Bytes as hex, cut as strings are (only the bytes that can show are read).
fn capped_hex(bytes: &[u8]) -> String {
    cap(hex(&bytes[..bytes.len().min(MAX_STRING_BYTES / 2 + 1)]))
}

/// Parses 32 hex digits (case-insensitive, surrounding spaces ignored) into a trace id.
pub fn parse_trace_id(text: &str) -> Option<TraceId> {
    let text = text.trim();
    if text.len() != 32 || !text.is_ascii() {
        return None;
    }
    let mut id = [0u8; 16];
    for (index, byte) in id.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&text[index * 2..index * 2 + 2], 16).ok()?;
    }
    Some(id)
}

/// A copy of at most [`MAX_STRING_BYTES`] (and `…`) in an allocation of its own size: truncating in place would
/// keep the whole received buffer allocated behind a short string, unseen by the store's weights.
fn cap(text: String) -> String {
    if text.len() <= MAX_STRING_BYTES {
        return text;
    }
    let mut end = MAX_STRING_BYTES;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let mut short = String::with_capacity(end + '…'.len_utf8());
    short.push_str(&text[..end]);
    short.push('…');
    short
}

#[cfg(test)]
mod tests {
    use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span as ProtoSpan};

    use super::*;

    fn string(key: &str, text: &str) -> KeyValue {
        KeyValue {
            key: key.to_owned(),
            value: Some(AnyValue { value: Some(ProtoValue::StringValue(text.to_owned())) }),
            ..Default::default()
        }
    }

    fn request(spans: Vec<ProtoSpan>) -> ExportTraceServiceRequest {
        ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                resource: Some(ProtoResource {
                    attributes: vec![string("service.name", "shop")],
                    ..Default::default()
                }),
                scope_spans: vec![ScopeSpans { spans, ..Default::default() }],
                ..Default::default()
            }],
        }
    }

    #[test]
    fn invalid_ids_are_rejected_and_counted() {
        let good = ProtoSpan { trace_id: vec![1; 16], span_id: vec![2; 8], name: "ok".into(), ..Default::default() };
        let zero = ProtoSpan { trace_id: vec![0; 16], span_id: vec![2; 8], ..Default::default() };
        let short = ProtoSpan { trace_id: vec![1; 15], span_id: vec![2; 8], ..Default::default() };
        let batch = spans(request(vec![good, zero, short]));
        assert_eq!((batch.items.len(), batch.rejected), (1, 2));
        assert_eq!(&*batch.items[0].origin.service, "shop");
        assert_eq!(batch.items[0].parent, None, "an empty parent id means a root");
    }

    #[test]
    fn long_strings_and_lists_are_capped_when_copied() {
        let attributes = (0..MAX_LIST_ITEMS + 5).map(|i| string(&format!("k{i}"), &"x".repeat(100_000))).collect();
        let span = ProtoSpan { trace_id: vec![1; 16], span_id: vec![2; 8], attributes, ..Default::default() };
        let batch = spans(request(vec![span]));
        let span = &batch.items[0];
        assert_eq!((span.attributes.len(), span.dropped_attributes), (MAX_LIST_ITEMS, 5));
        let text = span.attributes[0].1.as_str().expect("a string");
        assert!(text.len() <= MAX_STRING_BYTES + '…'.len_utf8() && text.ends_with('…'));
    }

    #[test]
    fn a_capped_string_does_not_keep_the_received_buffer() {
        let name = "n".repeat(1 << 20);
        let span = ProtoSpan {
            trace_id: vec![1; 16],
            span_id: vec![2; 8],
            name: name.clone(),
            attributes: vec![string("big", &name)],
            ..Default::default()
        };
        let batch = spans(request(vec![span]));
        let span = &batch.items[0];
        let value = match &span.attributes[0].1 {
            Value::String(text) => text,
            other => panic!("a string, not {other:?}"),
        };
        let largest = MAX_STRING_BYTES + '…'.len_utf8();
        assert!(span.name.capacity() <= largest, "the name holds {} bytes", span.name.capacity());
        assert!(value.capacity() <= largest, "the attribute holds {} bytes", value.capacity());
    }

    #[test]
    fn the_scopes_of_a_resource_share_its_attributes() {
        let mut request = request(Vec::new());
        let resource = &mut request.resource_spans[0];
        resource.resource.as_mut().expect("a resource").attributes.push(string("host.name", &"h".repeat(1000)));
        resource.scope_spans = (1..=3u8)
            .map(|scope| ScopeSpans {
                spans: vec![ProtoSpan { trace_id: vec![scope; 16], span_id: vec![scope; 8], ..Default::default() }],
                ..Default::default()
            })
            .collect();
        let batch = spans(request);
        assert_eq!(batch.items.len(), 3);
        for span in &batch.items[1..] {
            assert_eq!(span.origin.resource.as_ptr(), batch.items[0].origin.resource.as_ptr(), "copied per scope");
            assert_eq!(span.origin.service.as_ptr(), batch.items[0].origin.service.as_ptr(), "copied per scope");
        }
    }

    #[test]
    fn the_points_of_a_metric_share_its_text() {
        use opentelemetry_proto::tonic::metrics::v1::{Gauge, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics};
        let long = "m".repeat(MAX_STRING_BYTES);
        let metric = Metric {
            name: long.clone(),
            unit: long.clone(),
            description: long.clone(),
            data: Some(Data::Gauge(Gauge { data_points: vec![NumberDataPoint::default(); 3] })),
            ..Default::default()
        };
        let request = ExportMetricsServiceRequest {
            resource_metrics: vec![ResourceMetrics {
                resource: Some(ProtoResource { attributes: vec![string("service.name", &long)], ..Default::default() }),
                scope_metrics: vec![ScopeMetrics { metrics: vec![metric], ..Default::default() }],
                ..Default::default()
            }],
        };
        let batch = metrics(request);
        assert_eq!(batch.items.len(), 3);
        let first = &batch.items[0];
        for point in &batch.items[1..] {
            assert_eq!(point.name.as_ptr(), first.name.as_ptr(), "the name copied per point");
            assert_eq!(point.unit.as_ptr(), first.unit.as_ptr(), "the unit copied per point");
            assert_eq!(point.description.as_ptr(), first.description.as_ptr(), "the description copied per point");
            assert_eq!(point.service.as_ptr(), first.service.as_ptr(), "the service copied per point");
        }
    }

    #[test]
    fn the_ids_of_a_link_are_capped_as_strings_are() {
        use opentelemetry_proto::tonic::trace::v1::span::Link as ProtoLink;
        let link = ProtoLink { trace_id: vec![0xab; 1 << 20], span_id: vec![0xcd; 8], ..Default::default() };
        let span = ProtoSpan { trace_id: vec![1; 16], span_id: vec![2; 8], links: vec![link], ..Default::default() };
        let batch = spans(request(vec![span]));
        let link = &batch.items[0].links[0];
        assert!(link.trace_id.len() <= MAX_STRING_BYTES + '…'.len_utf8(), "{} bytes kept", link.trace_id.len());
        assert!(link.trace_id.starts_with("abab") && link.trace_id.ends_with('…'));
        assert_eq!(link.span_id, "cdcdcdcdcdcdcdcd");
    }

    #[test]
    fn trace_ids_parse_from_hex() {
        let id = parse_trace_id(" 0102030405060708090A0b0c0d0e0f10 ").expect("valid");
        assert_eq!(hex(&id), "0102030405060708090a0b0c0d0e0f10");
        assert_eq!(parse_trace_id("xyz"), None);
        assert_eq!(parse_trace_id(&"é".repeat(16)), None);
    }
}
