//! The OTLP/JSON walk: serde_json's parser driven through the schema, building nothing. Besides what the decoded
//! structs hold, it counts what opentelemetry-proto's serde code buffers: a `#[serde(flatten)]` oneof (`AnyValue`,
//! `Metric`'s data, a point's value) makes serde copy the value of every key other than the struct's named fields
//! into a tree of its private `Content` nodes before decoding it, and a buffered value holding another such
//! struct is copied again, so a value costs one node for every buffer it sits in, for as long as the outermost
//! buffer lives (until its struct is decoded). `serde_json::Value` stands for the size of a node (both are an
//! enum around a `String` or a `Vec`).
//!
//! A JSON array where a message belongs is refused: serde would read it as the struct's fields in order, which
//! OTLP/JSON does not allow and this walk does not follow.

use std::fmt;
use std::mem::size_of;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

use super::schema::{Field, Kind, Message};
use super::{too_deep, Meter, Refusal, FIRST_ALLOCATION, MAX_DEPTH};

const NODE: usize = size_of::<serde_json::Value>();

/// Room for the elements after the first, in a list or a buffer's copy of it.
fn room(element: usize) -> usize {
    (FIRST_ALLOCATION - 1).saturating_mul(element)
}

pub(super) fn walk(bytes: &[u8], root: &'static Message, meter: Meter) -> Result<usize, Refusal> {
    let mut state = State { meter, refused: None };
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let root = Node { state: &mut state, at: At::Message(root), copies: 0, depth: 0, cost: Cost::default() };
    let walked = root.deserialize(&mut deserializer).and_then(|()| deserializer.end());
    match (state.refused, walked) {
        (Some(refusal), _) => Err(refusal),
        (None, Err(error)) => Err(Refusal::Malformed(format!("bad OTLP/JSON body: {error}"))),
        (None, Ok(())) => Ok(state.meter.peak),
    }
}

#[derive(Debug)]
struct State {
    meter: Meter,
    /// Why the walk stopped, when the schema (not the JSON syntax) stopped it.
    refused: Option<Refusal>,
}

/// Where a value sits.
#[derive(Debug, Clone, Copy)]
enum At {
    Message(&'static Message),
    Many(&'static Message),
    Numbers(usize),
    Strings,
    /// A string or number held inline, or a value serde skips.
    Leaf,
}

impl At {
    fn of(field: Option<&'static Field>) -> At {
        match field.map(|field| &field.kind) {
            Some(Kind::One(message)) => At::Message(message),
            Some(Kind::Many(message)) => At::Many(message),
            Some(Kind::Numbers { decoded, .. }) => At::Numbers(*decoded),
            Some(Kind::Strings) => At::Strings,
            Some(Kind::Scalar) | None => At::Leaf,
        }
    }
}

/// One JSON value to walk.
#[derive(Debug)]
struct Node<'a> {
    state: &'a mut State,
    at: At,
    /// How many serde buffers hold this value.
    copies: usize,
    /// How many messages enclose it.
    depth: usize,
    /// What the value costs by being there (an element of a repeated field), charged when it is met.
    cost: Cost,
}

#[derive(Debug, Clone, Copy, Default)]
struct Cost {
    kept: usize,
    buffered: usize,
}

impl Node<'_> {
    fn child(&mut self, at: At, copies: usize, depth: usize, cost: Cost) -> Node<'_> {
        Node { state: &mut *self.state, at, copies, depth, cost }
    }

    fn refuse<E: de::Error>(&mut self, refusal: Refusal) -> E {
        let error = E::custom(&refusal);
        self.state.refused = Some(refusal);
        error
    }

    fn charge<E: de::Error>(&mut self, cost: Cost) -> Result<(), E> {
        let meter = &mut self.state.meter;
        let charged = meter.keep(cost.kept).and_then(|()| meter.buffer(cost.buffered));
        charged.map_err(|refusal| self.refuse(refusal))
    }

    /// This value as a node in each buffer holding it, with `text` bytes of string.
    fn buffered<E: de::Error>(&mut self, text: usize) -> Result<(), E> {
        self.charge(Cost { kept: 0, buffered: self.copies.saturating_mul(NODE.saturating_add(text)) })
    }
}

impl<'de> DeserializeSeed<'de> for Node<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(mut self, deserializer: D) -> Result<(), D::Error> {
        self.charge(self.cost)?;
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Node<'_> {
    type Value = ();

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("OTLP/JSON")
    }

    fn visit_bool<E: de::Error>(mut self, _: bool) -> Result<(), E> {
        self.buffered(0)
    }

    fn visit_i64<E: de::Error>(mut self, _: i64) -> Result<(), E> {
        self.buffered(0)
    }

    fn visit_u64<E: de::Error>(mut self, _: u64) -> Result<(), E> {
        self.buffered(0)
    }

    fn visit_f64<E: de::Error>(mut self, _: f64) -> Result<(), E> {
        self.buffered(0)
    }

    fn visit_unit<E: de::Error>(mut self) -> Result<(), E> {
        self.buffered(0)
    }

    fn visit_str<E: de::Error>(mut self, text: &str) -> Result<(), E> {
        self.charge(Cost { kept: text.len(), buffered: self.copies.saturating_mul(NODE.saturating_add(text.len())) })
    }

    fn visit_seq<A: SeqAccess<'de>>(mut self, mut sequence: A) -> Result<(), A::Error> {
        self.buffered(0)?;
        let (cost, element) = match self.at {
            At::Many(message) => (message.size, At::Message(message)),
            At::Numbers(width) => (width, At::Leaf),
            At::Strings => (size_of::<String>(), At::Leaf),
            At::Leaf => (0, At::Leaf),
            At::Message(_) => return Err(de::Error::custom("an OTLP/JSON message must be an object, found an array")),
        };
        let (copies, depth) = (self.copies, self.depth);
        let next = Cost { kept: cost, buffered: 0 };
        let first = Cost { kept: cost.saturating_add(room(cost)), buffered: room(copies.saturating_mul(NODE)) };
        if sequence.next_element_seed(self.child(element, copies, depth, first))?.is_some() {
            while sequence.next_element_seed(self.child(element, copies, depth, next))?.is_some() {}
        }
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<(), A::Error> {
        self.buffered(0)?;
        let message = match self.at {
            At::Message(_) if self.depth > MAX_DEPTH => return Err(self.refuse(too_deep())),
            At::Message(message) => Some(message),
            _ => None,
        };
        let mut first = true;
        while let Some((field, key)) = map.next_key_seed(Key(message))? {
            let extra = match (message, field) {
                (Some(_), Some(field)) => field.json_copies,
                (Some(message), None) => usize::from(message.json_buffers_others),
                (None, _) => 0,
            };
            let copies = self.copies.saturating_add(extra);
            // The key's node in each buffer; the first entry allocates room for more (a key and a value each).
            let entries = if std::mem::take(&mut first) { room(copies.saturating_mul(2 * NODE)) } else { 0 };
            let key = copies.saturating_mul(NODE.saturating_add(key));
            self.charge(Cost { kept: 0, buffered: key.saturating_add(entries) })?;
            let depth = self.depth + usize::from(message.is_some());
            map.next_value_seed(self.child(At::of(field), copies, depth, Cost::default()))?;
        }
        if self.copies == 0 {
            // Out of every buffered value: the buffers serving this struct and those inside it are freed.
            self.state.meter.release();
        }
        Ok(())
    }
}

/// A key: the field it names in `message` (if any) and its length.
#[derive(Debug)]
struct Key(Option<&'static Message>);

impl<'de> DeserializeSeed<'de> for Key {
    type Value = (Option<&'static Field>, usize);

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for Key {
    type Value = (Option<&'static Field>, usize);

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a key")
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<Self::Value, E> {
        Ok((self.0.and_then(|message| message.json_field(key)), key.len()))
    }
}

#[cfg(test)]
mod tests {
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use opentelemetry_proto::tonic::common::v1::KeyValue;
    use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
    use opentelemetry_proto::tonic::metrics::v1::{Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics};
    use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};

    use super::super::{json as estimate, Refusal, LOGS, MAX_DEPTH, METRICS, TRACES};

    /// What a list of `count` elements of `size` bytes costs.
    const fn list(count: usize, size: usize) -> usize {
        (count + FIRST_ALLOCATION - 1) * size
    }

    /// What the first entry of a buffered map adds: room for 3 more keys and values.
    const ROOM: usize = 6 * NODE;
    use super::*;

    const SPAN_STRUCTS: usize = list(1, size_of::<ResourceSpans>()) + list(1, size_of::<ScopeSpans>());

    fn in_a_span(span: &str) -> String {
        format!(r#"{{"resourceSpans":[{{"scopeSpans":[{{"spans":[{span}]}}]}}]}}"#)
    }

    #[test]
    fn each_element_costs_its_struct_and_strings_their_bytes() {
        let body = in_a_span(r#"{"name":"GET /items","attributes":[{"key":"k"},{"key":"kk"}]},{}"#);
        let expected = SPAN_STRUCTS + list(2, size_of::<Span>()) + 10 + list(2, size_of::<KeyValue>()) + 3;
        assert_eq!(estimate(body.as_bytes(), &TRACES, usize::MAX), Ok(expected));
        serde_json::from_str::<ExportTraceServiceRequest>(&body).expect("valid OTLP/JSON");
    }

    #[test]
    fn a_flood_of_empty_objects_is_refused_past_the_budget() {
        let body = format!(r#"{{"resourceSpans":[{}{{}}]}}"#, "{},".repeat(999));
        let exact = list(1000, size_of::<ResourceSpans>());
        assert_eq!(estimate(body.as_bytes(), &TRACES, exact), Ok(exact));
        assert_eq!(estimate(body.as_bytes(), &TRACES, exact - 1), Err(Refusal::TooLarge { budget: exact - 1 }));
    }

    #[test]
    fn what_serde_buffers_for_a_flattened_oneof_is_counted() {
        // AnyValue's keys are buffered: the key and the string once each as nodes, the string once decoded.
        let body = in_a_span(r#"{"attributes":[{"key":"k","value":{"stringValue":"v"}}]}"#);
        let buffered = ROOM + (NODE + "stringValue".len()) + (NODE + 1);
        let expected = SPAN_STRUCTS + list(1, size_of::<Span>()) + list(1, size_of::<KeyValue>()) + 1 + buffered + 1;
        assert_eq!(estimate(body.as_bytes(), &TRACES, usize::MAX), Ok(expected));

        // A gauge's points sit in the metric's buffer: each `{}` is a node there as well as a struct.
        let body = r#"{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"gauge":{"dataPoints":[{},{}]}}]}]}]}"#;
        let structs =
            list(1, size_of::<ResourceMetrics>()) + list(1, size_of::<ScopeMetrics>()) + list(1, size_of::<Metric>());
        // Keys and values (the array's first element with room for 3 more).
        let nodes =
            (ROOM + NODE + "gauge".len()) + NODE + (ROOM + NODE + "dataPoints".len()) + NODE + (3 * NODE + 2 * NODE);
        let expected = structs + list(2, size_of::<NumberDataPoint>()) + nodes;
        assert_eq!(estimate(body.as_bytes(), &METRICS, usize::MAX), Ok(expected));
    }

    /// A log whose body is `levels` arrays nested in one another around `inner`.
    fn log_body(levels: usize, inner: &str) -> String {
        let open = r#"{"arrayValue":{"values":["#.repeat(levels);
        let close = "]}}".repeat(levels);
        format!(r#"{{"resourceLogs":[{{"scopeLogs":[{{"logRecords":[{{"body":{open}{inner}{close}}}]}}]}}]}}"#)
    }

    #[test]
    fn nested_buffers_count_once_per_copy() {
        let structs = size_of::<ResourceLogs>() + size_of::<ScopeLogs>() + size_of::<LogRecord>();
        let flood = vec!["{}"; 1000].join(",");
        let shallow = estimate(log_body(1, &flood).as_bytes(), &LOGS, usize::MAX).expect("within");
        let deep = estimate(log_body(10, &flood).as_bytes(), &LOGS, usize::MAX).expect("within");
        // At depth n the empty values are held by n buffers (one per enclosing AnyValue) as well as decoded.
        assert!(shallow >= structs + 1000 * (size_of::<opentelemetry_proto::tonic::common::v1::AnyValue>() + NODE));
        assert!(deep >= 1000 * 10 * NODE, "{deep}");
    }

    #[test]
    fn nesting_is_bounded() {
        // Request > ResourceLogs > ScopeLogs > LogRecord > AnyValue: depth 4, then 2 per array level.
        let deepest = (MAX_DEPTH - 4) / 2;
        assert!(estimate(log_body(deepest, "{}").as_bytes(), &LOGS, usize::MAX).is_ok());
        let refused = estimate(log_body(deepest + 1, "{}").as_bytes(), &LOGS, usize::MAX);
        assert_eq!(refused, Err(Refusal::Malformed(format!("messages nested more than {MAX_DEPTH} deep"))));
    }

    #[test]
    fn arrays_for_messages_and_bad_syntax_are_malformed() {
        let positional = in_a_span(r#"[[], 1]"#);
        let refused = estimate(positional.as_bytes(), &TRACES, usize::MAX);
        assert!(
            matches!(&refused, Err(Refusal::Malformed(reason)) if reason.contains("must be an object")),
            "{refused:?}"
        );
        for bad in [&b"{\"resourceSpans\": [{}"[..], b"[1,2", b"{} {}", b"\xff"] {
            let refused = estimate(bad, &TRACES, usize::MAX);
            assert!(
                matches!(&refused, Err(Refusal::Malformed(reason)) if reason.starts_with("bad OTLP/JSON")),
                "{refused:?}"
            );
        }
    }

    #[test]
    fn unknown_keys_cost_their_strings_only() {
        let body = in_a_span(r#"{"surprise":{"a":[1,2,"xyz"]}}"#);
        assert_eq!(estimate(body.as_bytes(), &TRACES, usize::MAX), Ok(SPAN_STRUCTS + list(1, size_of::<Span>()) + 3));
        serde_json::from_str::<ExportTraceServiceRequest>(&body).expect("serde skips them too");
    }
}
