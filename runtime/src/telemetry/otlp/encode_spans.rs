//! Spans straight to OTLP protobuf: each `SpanData` is written as the bytes of one
//! `opentelemetry.proto.trace.v1.Span`, field by field, with no proto structs and no `String` per
//! attribute; the batch is grouped by scope with a linear search (a batch has few scopes).
//!
//! An embedded message and a `bytes` field share their wire format, so [`TraceRequest`] (spans as
//! bytes) is wire-identical to `ExportTraceServiceRequest`. Every field holds what opentelemetry-proto
//! 0.33's conversion (`group_spans_by_resource_and_scope`) puts there, in its order: the tests compare
//! the bytes. Guarded by `cargo bench -p traced --bench span_cost -- cpu` (the `init()` OTLP/HTTP row).

use std::ops::Range;

use bytes::Bytes;
use opentelemetry::trace::{SpanId, TraceFlags};
use opentelemetry::{Array, KeyValue, Value};
use opentelemetry_proto::tonic::common::v1::InstrumentationScope;
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{span, status, SpanFlags};
use opentelemetry_proto::transform::common::tonic::ResourceAttributesWithSchema;
use opentelemetry_sdk::trace::SpanData;

use super::encode::Parts;
use crate::span::recycled_attributes;

/// `ExportTraceServiceRequest`, each span already encoded.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct TraceRequest {
    #[prost(message, repeated, tag = "1")]
    pub(crate) resource_spans: Vec<ResourceSpans>,
}

/// `ResourceSpans`, each span already encoded.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct ResourceSpans {
    #[prost(message, optional, tag = "1")]
    pub(crate) resource: Option<Resource>,
    #[prost(message, repeated, tag = "2")]
    pub(crate) scope_spans: Vec<ScopeSpans>,
    #[prost(string, tag = "3")]
    pub(crate) schema_url: String,
}

/// `ScopeSpans` with its spans as their encoded `Span` messages.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct ScopeSpans {
    #[prost(message, optional, tag = "1")]
    pub(crate) scope: Option<InstrumentationScope>,
    #[prost(bytes = "bytes", repeated, tag = "2")]
    pub(crate) spans: Vec<Bytes>,
    #[prost(string, tag = "3")]
    pub(crate) schema_url: String,
}

/// OTLP/JSON is written from the proto structs serde knows: the request's bytes read back into them
/// (the same structs the SDK's conversion builds; a test compares them).
#[cfg(feature = "otlp-http")]
impl serde::Serialize for TraceRequest {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
        use prost::Message;
        let request = ExportTraceServiceRequest::decode(self.encode_to_vec().as_slice())
            .map_err(<S::Error as serde::ser::Error>::custom)?;
        request.serialize(serializer)
    }
}

/// At most this much is reserved for a batch's spans up front (beyond, the buffer grows as it goes).
const MAX_RESERVE: usize = 4 << 20;

/// A batch of spans as OTLP: one resource, its scopes in order of first appearance, each span under
/// its scope in batch order (as the SDK's conversion groups them). The spans are written one after
/// the other into one buffer; each item is a slice of it (no allocation per span). The spans' attribute
/// `Vec`s then go back to the threads that start spans.
pub(crate) fn spans(batch: Vec<SpanData>, resource: &ResourceAttributesWithSchema) -> Parts<Bytes> {
    let mut scopes: Vec<(&opentelemetry::InstrumentationScope, Vec<Range<usize>>)> = Vec::new();
    let mut last = 0;
    let mut buffer = Vec::new();
    for data in &batch {
        let scope = &data.instrumentation_scope;
        let index = if scopes.get(last).is_some_and(|(known, _)| same_scope(known, scope)) {
            last
        } else if let Some(index) = scopes.iter().position(|(known, _)| same_scope(known, scope)) {
            index
        } else {
            scopes.push((scope, Vec::new()));
            scopes.len() - 1
        };
        last = index;
        let start = buffer.len();
        write_span(data, &mut buffer);
        if start == 0 {
            // Spans of a batch look alike: room for all of them at the first one's size, and some.
            buffer.reserve(((buffer.len() + buffer.len() / 8) * batch.len()).min(MAX_RESERVE));
        }
        scopes[index].1.push(start..buffer.len());
    }
    let buffer = Bytes::from(buffer);
    let mut parts = Parts::new();
    let resource = parts.add_resource(
        Some(Resource {
            attributes: resource.attributes.0.clone(),
            dropped_attributes_count: 0,
            entity_refs: Vec::new(),
        }),
        resource.schema_url.clone().unwrap_or_default(),
    );
    for (scope, ranges) in scopes {
        let schema_url = scope.schema_url().map(ToOwned::to_owned).unwrap_or_default();
        let index = parts.add_scope(resource, Some(InstrumentationScope::from((scope, None))), schema_url);
        parts.add_items(index, ranges.into_iter().map(|range| buffer.slice(range)));
    }
    recycled_attributes::give_back(batch);
    parts
}

/// The SDK's scope equality (which sorts the attributes to compare them), without its allocations
/// when the attributes come in the same order.
fn same_scope(a: &opentelemetry::InstrumentationScope, b: &opentelemetry::InstrumentationScope) -> bool {
    a.name() == b.name()
        && a.version() == b.version()
        && a.schema_url() == b.schema_url()
        && (a.attributes().eq(b.attributes()) || a == b)
}

#[cfg(test)]
impl super::encode::Traces {
    /// The request of these messages, its spans encoded (tests build requests this way).
    pub(crate) fn from_messages(
        request: &opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest,
    ) -> TraceRequest {
        use prost::Message;
        TraceRequest::decode(request.encode_to_vec().as_slice()).expect("wire-identical")
    }
}

// ---- protobuf wire format -----------------------------------------------------------------------

const VARINT: u32 = 0;
const FIXED64: u32 = 1;
const LEN: u32 = 2;
const FIXED32: u32 = 5;

fn varint(buf: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        buf.push(value as u8 | 0x80);
        value >>= 7;
    }
    buf.push(value as u8);
}

fn key(buf: &mut Vec<u8>, tag: u32, wire_type: u32) {
    varint(buf, u64::from(tag << 3 | wire_type));
}

/// A `bytes` or `string` field, written even when empty (a `oneof` member).
fn bytes(buf: &mut Vec<u8>, tag: u32, value: &[u8]) {
    key(buf, tag, LEN);
    varint(buf, value.len() as u64);
    buf.extend_from_slice(value);
}

/// A proto3 `string` or `bytes` field: left out when empty.
fn text(buf: &mut Vec<u8>, tag: u32, value: &str) {
    if !value.is_empty() {
        bytes(buf, tag, value.as_bytes());
    }
}

/// A proto3 varint field (`uint32`, `int32` enums of non-negative values): left out when zero.
fn uint(buf: &mut Vec<u8>, tag: u32, value: u32) {
    if value != 0 {
        key(buf, tag, VARINT);
        varint(buf, u64::from(value));
    }
}

fn fixed64(buf: &mut Vec<u8>, tag: u32, value: u64) {
    if value != 0 {
        key(buf, tag, FIXED64);
        buf.extend_from_slice(&value.to_le_bytes());
    }
}

fn fixed32(buf: &mut Vec<u8>, tag: u32, value: u32) {
    if value != 0 {
        key(buf, tag, FIXED32);
        buf.extend_from_slice(&value.to_le_bytes());
    }
}

/// An embedded message written by `body`: its length is known once written, so a one-byte length
/// is reserved and widened in place when the message is 128 bytes or more.
fn message(buf: &mut Vec<u8>, tag: u32, body: impl FnOnce(&mut Vec<u8>)) {
    key(buf, tag, LEN);
    buf.push(0);
    let start = buf.len();
    body(buf);
    let len = buf.len() - start;
    if len < 0x80 {
        buf[start - 1] = len as u8;
    } else {
        let mut prefix = Vec::with_capacity(10);
        varint(&mut prefix, len as u64);
        // Rare (a long value, a large event): the body moves right by the extra length bytes.
        buf.splice(start - 1..start, prefix);
    }
}

// ---- the messages -------------------------------------------------------------------------------

fn nanos(time: std::time::SystemTime) -> u64 {
    time.duration_since(std::time::UNIX_EPOCH).map_or(0, |since| since.as_nanos() as u64)
}

/// Trace flags, with "is the parent (or linked span) remote" known.
fn flags(trace_flags: TraceFlags, remote: bool) -> u32 {
    let known = SpanFlags::ContextHasIsRemoteMask as u32;
    let remote = if remote { SpanFlags::ContextIsRemoteMask as u32 } else { 0 };
    u32::from(trace_flags.to_u8()) | known | remote
}

/// The body of a `Span` message.
fn write_span(data: &SpanData, buf: &mut Vec<u8>) {
    let context = &data.span_context;
    bytes(buf, 1, &context.trace_id().to_bytes());
    bytes(buf, 2, &context.span_id().to_bytes());
    text(buf, 3, &context.trace_state().header());
    if data.parent_span_id != SpanId::INVALID {
        bytes(buf, 4, &data.parent_span_id.to_bytes());
    }
    text(buf, 5, &data.name);
    uint(buf, 6, span::SpanKind::from(data.span_kind.clone()) as u32);
    fixed64(buf, 7, nanos(data.start_time));
    fixed64(buf, 8, nanos(data.end_time));
    attributes(buf, 9, &data.attributes);
    uint(buf, 10, data.dropped_attributes_count);
    for event in data.events.iter() {
        message(buf, 11, |buf| {
            fixed64(buf, 1, nanos(event.timestamp));
            text(buf, 2, &event.name);
            attributes(buf, 3, &event.attributes);
            uint(buf, 4, event.dropped_attributes_count);
        });
    }
    uint(buf, 12, data.events.dropped_count);
    for link in data.links.iter() {
        let context = &link.span_context;
        message(buf, 13, |buf| {
            bytes(buf, 1, &context.trace_id().to_bytes());
            bytes(buf, 2, &context.span_id().to_bytes());
            text(buf, 3, &context.trace_state().header());
            attributes(buf, 4, &link.attributes);
            uint(buf, 5, link.dropped_attributes_count);
            fixed32(buf, 6, flags(context.trace_flags(), context.is_remote()));
        });
    }
    uint(buf, 14, data.links.dropped_count);
    message(buf, 15, |buf| {
        if let opentelemetry::trace::Status::Error { description } = &data.status {
            text(buf, 2, description);
        }
        uint(buf, 3, status::StatusCode::from(&data.status) as u32);
    });
    fixed32(buf, 16, flags(context.trace_flags(), data.parent_span_is_remote));
}

/// Repeated `KeyValue` field `tag`.
fn attributes(buf: &mut Vec<u8>, tag: u32, attributes: &[KeyValue]) {
    for attribute in attributes {
        message(buf, tag, |buf| {
            text(buf, 1, attribute.key.as_str());
            message(buf, 2, |buf| any_value(buf, &attribute.value));
        });
    }
}

/// The body of an `AnyValue` message.
fn any_value(buf: &mut Vec<u8>, value: &Value) {
    match value {
        Value::Bool(value) => scalar(buf, Scalar::Bool(*value)),
        Value::I64(value) => scalar(buf, Scalar::I64(*value)),
        Value::F64(value) => scalar(buf, Scalar::F64(*value)),
        Value::String(value) => scalar(buf, Scalar::Str(value.as_str())),
        Value::Array(array) => message(buf, 5, |buf| match array {
            Array::Bool(values) => elements(buf, values.iter().map(|value| Scalar::Bool(*value))),
            Array::I64(values) => elements(buf, values.iter().map(|value| Scalar::I64(*value))),
            Array::F64(values) => elements(buf, values.iter().map(|value| Scalar::F64(*value))),
            Array::String(values) => elements(buf, values.iter().map(|value| Scalar::Str(value.as_str()))),
            // A kind of array newer than this code: its text, rather than nothing.
            other => elements(buf, std::iter::once(Scalar::Str(&other.to_string()))),
        }),
        // A kind of value newer than this code: its text, rather than nothing.
        other => scalar(buf, Scalar::Str(&other.as_str())),
    }
}

/// One `AnyValue` of an array.
#[derive(Clone, Copy)]
enum Scalar<'a> {
    Bool(bool),
    I64(i64),
    F64(f64),
    Str(&'a str),
}

/// The `values` of an `ArrayValue`.
fn elements<'a>(buf: &mut Vec<u8>, values: impl Iterator<Item = Scalar<'a>>) {
    for value in values {
        message(buf, 1, |buf| scalar(buf, value));
    }
}

/// The `oneof value` of an `AnyValue`: written whatever its value, zero and empty included.
fn scalar(buf: &mut Vec<u8>, value: Scalar<'_>) {
    match value {
        Scalar::Str(value) => bytes(buf, 1, value.as_bytes()),
        Scalar::Bool(value) => {
            key(buf, 2, VARINT);
            varint(buf, u64::from(value));
        }
        Scalar::I64(value) => {
            key(buf, 3, VARINT);
            // int64: two's complement, so a negative value takes ten bytes.
            varint(buf, value as u64);
        }
        Scalar::F64(value) => {
            key(buf, 4, FIXED64);
            buf.extend_from_slice(&value.to_bits().to_le_bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;
    use std::time::{Duration, UNIX_EPOCH};

    use opentelemetry::trace::{Event, Link, SpanContext, SpanKind, Status, TraceId, TraceState};
    use opentelemetry::{InstrumentationScope as Scope, StringValue};
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use opentelemetry_proto::transform::trace::tonic::group_spans_by_resource_and_scope;
    use opentelemetry_sdk::trace::{SpanEvents, SpanLinks};
    use prost::Message;

    use super::super::encode::{Signal, Traces};
    use super::*;

    fn every_value() -> Vec<KeyValue> {
        let long = "long ✓ ".repeat(3000);
        vec![
            KeyValue::new("int", 42_i64),
            KeyValue::new("int.zero", 0_i64),
            KeyValue::new("int.negative", i64::MIN),
            KeyValue::new("double", -1.5_f64),
            KeyValue::new("double.zero", 0.0_f64),
            KeyValue::new("double.infinite", f64::INFINITY),
            KeyValue::new("bool.true", true),
            KeyValue::new("bool.false", false),
            KeyValue::new("string", "value"),
            KeyValue::new("string.empty", ""),
            KeyValue::new("string.unicode", "héllo wörld 🦀"),
            KeyValue::new("string.long", long.clone()),
            KeyValue::new("", "an empty key"),
            KeyValue::new("array.bool", Value::Array(vec![true, false].into())),
            KeyValue::new("array.int", Value::Array(vec![1_i64, -1, 0].into())),
            KeyValue::new("array.double", Value::Array(vec![0.5_f64, 0.0].into())),
            KeyValue::new("array.string", Value::Array(vec![StringValue::from("a"), StringValue::from("")].into())),
            KeyValue::new("array.string.long", Value::Array(vec![StringValue::from(long)].into())),
            KeyValue::new("array.empty", Value::Array(Vec::<i64>::new().into())),
        ]
    }

    fn context(id: u64, sampled: bool, remote: bool, state: &str) -> SpanContext {
        let flags = if sampled { TraceFlags::SAMPLED } else { TraceFlags::default() };
        let state = state.parse::<TraceState>().expect("a trace state");
        SpanContext::new(TraceId::from(u128::from(id) << 64 | 7), SpanId::from(id), flags, remote, state)
    }

    fn span(id: u64, scope: &Scope) -> SpanData {
        let kinds = [SpanKind::Internal, SpanKind::Server, SpanKind::Client, SpanKind::Producer, SpanKind::Consumer];
        let statuses =
            [Status::Unset, Status::Ok, Status::error("it broke: ✗"), Status::Error { description: Cow::Borrowed("") }];
        let start = UNIX_EPOCH + Duration::from_nanos(1_700_000_000_123_456_789 + id);
        SpanData {
            span_context: context(
                id,
                id.is_multiple_of(2),
                false,
                if id.is_multiple_of(3) { "vendor=a,other=b" } else { "" },
            ),
            parent_span_id: if id.is_multiple_of(4) { SpanId::INVALID } else { SpanId::from(id + 1000) },
            parent_span_is_remote: id % 4 == 1,
            span_kind: kinds[id as usize % kinds.len()].clone(),
            name: if id == 5 { Cow::Borrowed("") } else { format!("span {id} ✓").into() },
            start_time: start,
            end_time: start + Duration::from_micros(id * 10),
            attributes: if id.is_multiple_of(2) { every_value() } else { vec![KeyValue::new("id", id as i64)] },
            dropped_attributes_count: (id % 3) as u32,
            events: events(id),
            links: links(id),
            status: statuses[id as usize % statuses.len()].clone(),
            instrumentation_scope: scope.clone(),
        }
    }

    fn events(id: u64) -> SpanEvents {
        let mut events = SpanEvents::default();
        if id % 3 != 2 {
            events.events = vec![
                Event::new("exception", UNIX_EPOCH + Duration::from_secs(id), every_value(), 1),
                Event::new("", UNIX_EPOCH, Vec::new(), 0),
            ];
            events.dropped_count = (id % 2) as u32;
        }
        events
    }

    fn links(id: u64) -> SpanLinks {
        let mut links = SpanLinks::default();
        if id % 3 != 1 {
            links.links = vec![
                Link::new(context(id + 100, true, true, "k=v"), vec![KeyValue::new("link", "attr")], 2),
                Link::new(context(id + 200, false, false, ""), Vec::new(), 0),
            ];
            links.dropped_count = 3;
        }
        links
    }

    /// Scopes with and without version, schema URL and attributes; two equal up to attribute order.
    fn scopes() -> Vec<Scope> {
        let attributes = |order: [(&'static str, i64); 2]| order.map(|(key, value)| KeyValue::new(key, value));
        vec![
            Scope::builder("traced")
                .with_version("1.0")
                .with_schema_url("https://opentelemetry.io/schemas/1.26.0")
                .build(),
            Scope::builder("plain").build(),
            Scope::builder("traced").with_version("2.0").build(),
            Scope::builder("attrs").with_attributes(attributes([("a", 1), ("b", 2)])).build(),
            Scope::builder("attrs").with_attributes(attributes([("b", 2), ("a", 1)])).build(),
            Scope::builder("attrs").with_attributes(attributes([("a", 1), ("b", 3)])).build(),
            Scope::builder("ünicode").build(),
        ]
    }

    /// Spans of every scope, interleaved.
    fn batch(count: u64) -> Vec<SpanData> {
        let scopes = scopes();
        (0..count).map(|id| span(id, &scopes[(id * 5 % 7) as usize])).collect()
    }

    fn resources() -> Vec<ResourceAttributesWithSchema> {
        let with_schema = opentelemetry_sdk::Resource::builder_empty()
            .with_schema_url([KeyValue::new("service.name", "shop"), KeyValue::new("n", 3_i64)], "https://schema")
            .build();
        let plain = opentelemetry_sdk::Resource::builder_empty().with_attributes([KeyValue::new("k", "v")]).build();
        vec![(&with_schema).into(), (&plain).into(), (&opentelemetry_sdk::Resource::builder_empty().build()).into()]
    }

    /// What opentelemetry-proto's conversion makes of the batch.
    fn converted(batch: Vec<SpanData>, resource: &ResourceAttributesWithSchema) -> ExportTraceServiceRequest {
        ExportTraceServiceRequest { resource_spans: group_spans_by_resource_and_scope(batch, resource) }
    }

    #[test]
    fn the_request_is_byte_for_byte_the_conversion_of_opentelemetry_proto() {
        for resource in resources() {
            let batch = batch(60);
            let expected = converted(batch.clone(), &resource);
            assert_eq!(expected.resource_spans[0].scope_spans.len(), 6, "the scopes equal up to attribute order merge");
            let request = Traces::assemble(spans(batch, &resource));
            let bytes = request.encode_to_vec();
            let decoded = ExportTraceServiceRequest::decode(bytes.as_slice()).expect("a valid request");
            assert_eq!(decoded, expected);
            assert_eq!(bytes, expected.encode_to_vec());
        }
    }

    #[test]
    fn spans_outside_the_usual_ranges_are_encoded_as_the_conversion_does() {
        let scope = Scope::builder("").build();
        let mut before_epoch = span(4, &scope);
        before_epoch.start_time = UNIX_EPOCH - Duration::from_secs(1);
        before_epoch.end_time = UNIX_EPOCH;
        let mut bare = span(9, &scope);
        bare.attributes.clear();
        bare.events = SpanEvents::default();
        bare.links = SpanLinks::default();
        bare.span_context = SpanContext::empty_context();
        bare.dropped_attributes_count = u32::MAX;
        let batch = vec![before_epoch, bare, span(1, &scope)];
        let resource = &resources()[2];
        let expected = converted(batch.clone(), resource);
        let request = Traces::assemble(spans(batch, resource));
        assert_eq!(ExportTraceServiceRequest::decode(request.encode_to_vec().as_slice()).expect("valid"), expected);
        assert_eq!(request.encode_to_vec(), expected.encode_to_vec());
    }

    #[test]
    fn requests_cut_under_a_limit_hold_every_span_once_in_the_conversions_order() {
        let resource = &resources()[0];
        let batch = batch(60);
        let expected = converted(batch.clone(), resource);
        let chunks = spans(batch, resource).chunks(16 * 1024);
        assert!(chunks.len() > 3, "{} chunks", chunks.len());
        let mut seen = Vec::new();
        for chunk in chunks {
            let request = Traces::assemble(chunk);
            let bytes = request.encode_to_vec();
            assert!(bytes.len() <= 16 * 1024 || request.resource_spans[0].scope_spans[0].spans.len() == 1);
            let decoded = ExportTraceServiceRequest::decode(bytes.as_slice()).expect("valid");
            for scope_spans in decoded.resource_spans.into_iter().flat_map(|r| r.scope_spans) {
                seen.extend(scope_spans.spans.into_iter().map(|span| (scope_spans.scope.clone(), span)));
            }
        }
        let expected: Vec<_> = expected.resource_spans[0]
            .scope_spans
            .iter()
            .flat_map(|s| s.spans.iter().map(|span| (s.scope.clone(), span.clone())))
            .collect();
        assert_eq!(seen, expected);
    }

    #[cfg(feature = "otlp-http")]
    #[test]
    fn otlp_json_is_the_json_of_the_conversion() {
        let resource = &resources()[0];
        let batch = batch(12);
        let expected = serde_json::to_value(converted(batch.clone(), resource)).expect("json");
        let json = serde_json::to_value(Traces::assemble(spans(batch, resource))).expect("json");
        assert_eq!(json, expected);
    }
}
