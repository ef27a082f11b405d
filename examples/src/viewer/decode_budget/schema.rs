//! The three OTLP export requests as far as decoding them allocates: which fields hold nested messages and what
//! each decoded element of a repeated one weighs (`size_of` the real opentelemetry-proto type), which hold packed
//! numbers or string lists, and (for OTLP/JSON) where serde buffers a value before decoding it. Field numbers and
//! JSON names follow opentelemetry-proto 0.33's generated types (`opentelemetry.proto.{common,resource,trace,
//! metrics,logs}.v1`). A field not listed decodes into its parent's struct: it costs what its bytes hold.

use std::mem::size_of;

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::KeyValueList;
use opentelemetry_proto::tonic::common::v1::{AnyValue, ArrayValue, EntityRef, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::metrics::v1::exponential_histogram_data_point::Buckets;
use opentelemetry_proto::tonic::metrics::v1::summary_data_point::ValueAtQuantile;
use opentelemetry_proto::tonic::metrics::v1::{
    Exemplar, ExponentialHistogram, ExponentialHistogramDataPoint, Gauge, Histogram, HistogramDataPoint, Metric,
    NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum, Summary, SummaryDataPoint,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::{Event, Link};
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};

/// A message type.
#[derive(Debug)]
pub struct Message {
    /// The decoded struct's size: what each element of a repeated field of this type costs.
    pub size: usize,
    pub fields: &'static [Field],
    /// OTLP/JSON: the struct has a `#[serde(flatten)]` oneof, so serde buffers the value of every key that is not
    /// one of its named fields (the oneof's and unknown ones) as a tree of `Content` nodes before decoding it.
    pub json_buffers_others: bool,
}

impl Message {
    /// The field numbered `number`, and its index in [`Message::fields`].
    pub fn field(&self, number: u32) -> Option<(usize, &'static Field)> {
        self.fields.iter().enumerate().find(|(_, field)| field.number == number)
    }

    pub fn json_field(&self, name: &str) -> Option<&'static Field> {
        self.fields.iter().find(|field| field.json == name)
    }
}

/// A field whose decoding allocates more than its bytes, or that OTLP/JSON buffers.
#[derive(Debug)]
pub struct Field {
    pub number: u32,
    /// The OTLP/JSON key (lowerCamelCase, the only spelling serde accepts).
    pub json: &'static str,
    pub kind: Kind,
    /// OTLP/JSON: buffered copies serde makes of the value, on top of those of its parent (a flattened oneof's
    /// variant: 1; `AnyValue`'s `intValue`, read again through an untagged enum: 2).
    pub json_copies: usize,
}

#[derive(Debug)]
pub enum Kind {
    /// A nested message held inline by its parent (optional, or a oneof's variant).
    One(&'static Message),
    /// A repeated message: every element is one more struct.
    Many(&'static Message),
    /// Repeated numbers decoded `decoded` bytes wide, packed (`wire` bytes each, or varints when `None`) or not.
    Numbers { decoded: usize, wire: Option<usize> },
    /// Repeated strings: a `String` and its bytes each.
    Strings,
    /// A scalar or string named here only for OTLP/JSON's buffering rules.
    Scalar,
}

const fn field(number: u32, json: &'static str, kind: Kind) -> Field {
    Field { number, json, kind, json_copies: 0 }
}

/// A variant of a oneof that OTLP/JSON buffers once (`#[serde(flatten)]`).
const fn variant(number: u32, json: &'static str, kind: Kind) -> Field {
    Field { number, json, kind, json_copies: 1 }
}

const fn message(size: usize, fields: &'static [Field]) -> Message {
    Message { size, fields, json_buffers_others: false }
}

const fn flattening(size: usize, fields: &'static [Field]) -> Message {
    Message { size, fields, json_buffers_others: true }
}

const U64: Kind = Kind::Numbers { decoded: size_of::<u64>(), wire: Some(size_of::<u64>()) };
const F64: Kind = Kind::Numbers { decoded: size_of::<f64>(), wire: Some(size_of::<f64>()) };
const VARINT_U64: Kind = Kind::Numbers { decoded: size_of::<u64>(), wire: None };

// common.v1 and resource.v1
static ANY_VALUE: Message = flattening(
    size_of::<AnyValue>(),
    &[
        Field { number: 3, json: "intValue", kind: Kind::Scalar, json_copies: 2 },
        variant(5, "arrayValue", Kind::One(&ARRAY_VALUE)),
        variant(6, "kvlistValue", Kind::One(&KEY_VALUE_LIST)),
    ],
);
static ARRAY_VALUE: Message = message(size_of::<ArrayValue>(), &[field(1, "values", Kind::Many(&ANY_VALUE))]);
static KEY_VALUE_LIST: Message = message(size_of::<KeyValueList>(), &[field(1, "values", Kind::Many(&KEY_VALUE))]);
static KEY_VALUE: Message = message(size_of::<KeyValue>(), &[field(2, "value", Kind::One(&ANY_VALUE))]);
static SCOPE: Message = message(size_of::<InstrumentationScope>(), &[field(3, "attributes", Kind::Many(&KEY_VALUE))]);
static ENTITY_REF: Message =
    message(size_of::<EntityRef>(), &[field(3, "idKeys", Kind::Strings), field(4, "descriptionKeys", Kind::Strings)]);
static RESOURCE: Message = message(
    size_of::<Resource>(),
    &[field(1, "attributes", Kind::Many(&KEY_VALUE)), field(3, "entityRefs", Kind::Many(&ENTITY_REF))],
);

// trace.v1
pub static TRACES: Message =
    message(size_of::<ExportTraceServiceRequest>(), &[field(1, "resourceSpans", Kind::Many(&RESOURCE_SPANS))]);
static RESOURCE_SPANS: Message = message(
    size_of::<ResourceSpans>(),
    &[field(1, "resource", Kind::One(&RESOURCE)), field(2, "scopeSpans", Kind::Many(&SCOPE_SPANS))],
);
static SCOPE_SPANS: Message =
    message(size_of::<ScopeSpans>(), &[field(1, "scope", Kind::One(&SCOPE)), field(2, "spans", Kind::Many(&SPAN))]);
static SPAN: Message = message(
    size_of::<Span>(),
    &[
        field(9, "attributes", Kind::Many(&KEY_VALUE)),
        field(11, "events", Kind::Many(&EVENT)),
        field(13, "links", Kind::Many(&LINK)),
    ],
);
static EVENT: Message = message(size_of::<Event>(), &[field(3, "attributes", Kind::Many(&KEY_VALUE))]);
static LINK: Message = message(size_of::<Link>(), &[field(4, "attributes", Kind::Many(&KEY_VALUE))]);

// metrics.v1
pub static METRICS: Message =
    message(size_of::<ExportMetricsServiceRequest>(), &[field(1, "resourceMetrics", Kind::Many(&RESOURCE_METRICS))]);
static RESOURCE_METRICS: Message = message(
    size_of::<ResourceMetrics>(),
    &[field(1, "resource", Kind::One(&RESOURCE)), field(2, "scopeMetrics", Kind::Many(&SCOPE_METRICS))],
);
static SCOPE_METRICS: Message = message(
    size_of::<ScopeMetrics>(),
    &[field(1, "scope", Kind::One(&SCOPE)), field(2, "metrics", Kind::Many(&METRIC))],
);
static METRIC: Message = flattening(
    size_of::<Metric>(),
    &[
        field(1, "name", Kind::Scalar),
        field(2, "description", Kind::Scalar),
        field(3, "unit", Kind::Scalar),
        field(12, "metadata", Kind::Many(&KEY_VALUE)),
        variant(5, "gauge", Kind::One(&GAUGE)),
        variant(7, "sum", Kind::One(&SUM)),
        variant(9, "histogram", Kind::One(&HISTOGRAM)),
        variant(10, "exponentialHistogram", Kind::One(&EXPONENTIAL_HISTOGRAM)),
        variant(11, "summary", Kind::One(&SUMMARY)),
    ],
);
static GAUGE: Message = message(size_of::<Gauge>(), &[field(1, "dataPoints", Kind::Many(&NUMBER_POINT))]);
static SUM: Message = message(size_of::<Sum>(), &[field(1, "dataPoints", Kind::Many(&NUMBER_POINT))]);
static HISTOGRAM: Message = message(size_of::<Histogram>(), &[field(1, "dataPoints", Kind::Many(&HISTOGRAM_POINT))]);
static EXPONENTIAL_HISTOGRAM: Message =
    message(size_of::<ExponentialHistogram>(), &[field(1, "dataPoints", Kind::Many(&EXPONENTIAL_HISTOGRAM_POINT))]);
static SUMMARY: Message = message(size_of::<Summary>(), &[field(1, "dataPoints", Kind::Many(&SUMMARY_POINT))]);
static NUMBER_POINT: Message = flattening(
    size_of::<NumberDataPoint>(),
    &[
        field(7, "attributes", Kind::Many(&KEY_VALUE)),
        field(2, "startTimeUnixNano", Kind::Scalar),
        field(3, "timeUnixNano", Kind::Scalar),
        field(5, "exemplars", Kind::Many(&EXEMPLAR)),
        field(8, "flags", Kind::Scalar),
    ],
);
static HISTOGRAM_POINT: Message = message(
    size_of::<HistogramDataPoint>(),
    &[
        field(9, "attributes", Kind::Many(&KEY_VALUE)),
        field(6, "bucketCounts", U64),
        field(7, "explicitBounds", F64),
        field(8, "exemplars", Kind::Many(&EXEMPLAR)),
    ],
);
static EXPONENTIAL_HISTOGRAM_POINT: Message = message(
    size_of::<ExponentialHistogramDataPoint>(),
    &[
        field(1, "attributes", Kind::Many(&KEY_VALUE)),
        field(8, "positive", Kind::One(&BUCKETS)),
        field(9, "negative", Kind::One(&BUCKETS)),
        field(11, "exemplars", Kind::Many(&EXEMPLAR)),
    ],
);
static BUCKETS: Message = message(size_of::<Buckets>(), &[field(2, "bucketCounts", VARINT_U64)]);
static SUMMARY_POINT: Message = message(
    size_of::<SummaryDataPoint>(),
    &[field(7, "attributes", Kind::Many(&KEY_VALUE)), field(6, "quantileValues", Kind::Many(&QUANTILE))],
);
static QUANTILE: Message = message(size_of::<ValueAtQuantile>(), &[]);
static EXEMPLAR: Message = flattening(
    size_of::<Exemplar>(),
    &[
        field(7, "filteredAttributes", Kind::Many(&KEY_VALUE)),
        field(2, "timeUnixNano", Kind::Scalar),
        field(4, "spanId", Kind::Scalar),
        field(5, "traceId", Kind::Scalar),
    ],
);

// logs.v1
pub static LOGS: Message =
    message(size_of::<ExportLogsServiceRequest>(), &[field(1, "resourceLogs", Kind::Many(&RESOURCE_LOGS))]);
static RESOURCE_LOGS: Message = message(
    size_of::<ResourceLogs>(),
    &[field(1, "resource", Kind::One(&RESOURCE)), field(2, "scopeLogs", Kind::Many(&SCOPE_LOGS))],
);
static SCOPE_LOGS: Message = message(
    size_of::<ScopeLogs>(),
    &[field(1, "scope", Kind::One(&SCOPE)), field(2, "logRecords", Kind::Many(&LOG_RECORD))],
);
static LOG_RECORD: Message = message(
    size_of::<LogRecord>(),
    &[field(5, "body", Kind::One(&ANY_VALUE)), field(6, "attributes", Kind::Many(&KEY_VALUE))],
);
