//! The protobuf walk: field keys and lengths read with prost's own primitives, nested messages followed where the
//! schema says, everything else skipped at the cost of its bytes. Bytes prost would refuse (a bad key, a length
//! past the end, a broken group) are refused here with prost's error.

use std::mem::size_of;

use prost::encoding::{decode_key, decode_varint, skip_field, DecodeContext, WireType};
use prost::DecodeError;

use super::schema::{Kind, Message};
use super::{too_deep, Meter, Refusal, FIRST_ALLOCATION, MAX_DEPTH};

pub(super) fn walk(bytes: &[u8], root: &'static Message, meter: &mut Meter) -> Result<(), Refusal> {
    message(bytes, root, meter, 0)
}

fn message(mut bytes: &[u8], message: &'static Message, meter: &mut Meter, depth: usize) -> Result<(), Refusal> {
    if depth > MAX_DEPTH {
        return Err(too_deep());
    }
    // The repeated fields (by index) that have had an element: the next ones go into an allocated vector.
    let mut started = 0u64;
    let mut elements = |index: usize, count: usize| {
        let first = started & (1 << index) == 0 && count > 0;
        started |= 1 << index;
        count.saturating_add(if first { FIRST_ALLOCATION - 1 } else { 0 })
    };
    while !bytes.is_empty() {
        let (number, wire_type) = decode_key(&mut bytes).map_err(malformed)?;
        let field = message.field(number);
        let (index, kind) = field.map_or((0, None), |(index, field)| (index, Some(&field.kind)));
        if wire_type != WireType::LengthDelimited {
            skip_field(wire_type, number, &mut bytes, DecodeContext::default()).map_err(malformed)?;
            // An unpacked element of a repeated number; anything else is held inline.
            if let Some(Kind::Numbers { decoded, .. }) = kind {
                meter.keep(elements(index, 1).saturating_mul(*decoded))?;
            }
            continue;
        }
        let payload = delimited(&mut bytes)?;
        match kind {
            Some(Kind::One(nested)) => self::message(payload, nested, meter, depth + 1)?,
            Some(Kind::Many(nested)) => {
                meter.keep(elements(index, 1).saturating_mul(nested.size))?;
                self::message(payload, nested, meter, depth + 1)?;
            }
            Some(Kind::Numbers { decoded, wire }) => {
                meter.keep(elements(index, packed_count(payload, *wire)).saturating_mul(*decoded))?
            }
            Some(Kind::Strings) => {
                meter.keep(elements(index, 1).saturating_mul(size_of::<String>()).saturating_add(payload.len()))?
            }
            // A string, bytes, or a field prost skips: at most its bytes.
            Some(Kind::Scalar) | None => meter.keep(payload.len())?,
        }
    }
    Ok(())
}

/// The payload of a length-delimited field, and `bytes` moved past it.
fn delimited<'a>(bytes: &mut &'a [u8]) -> Result<&'a [u8], Refusal> {
    let length = decode_varint(bytes).map_err(malformed)?;
    let length = usize::try_from(length).ok().filter(|length| *length <= bytes.len());
    let Some(length) = length else {
        return Err(Refusal::Malformed("bad OTLP protobuf body: a field's length runs past the end".to_owned()));
    };
    let (payload, rest) = bytes.split_at(length);
    *bytes = rest;
    Ok(payload)
}

/// How many numbers a packed field holds: fixed-width ones, or varints (each ends on a byte below 0x80).
fn packed_count(payload: &[u8], wire: Option<usize>) -> usize {
    match wire {
        Some(width) => payload.len().div_ceil(width),
        None => payload.iter().filter(|byte| **byte < 0x80).count() + usize::from(payload.last() >= Some(&0x80)),
    }
}

fn malformed(error: DecodeError) -> Refusal {
    Refusal::Malformed(format!("bad OTLP protobuf body: {error}"))
}

#[cfg(test)]
mod tests {
    use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
    use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use opentelemetry_proto::tonic::common::v1::any_value::Value;
    use opentelemetry_proto::tonic::common::v1::{AnyValue, ArrayValue, KeyValue};
    use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
    use opentelemetry_proto::tonic::metrics::v1::exponential_histogram_data_point::Buckets;
    use opentelemetry_proto::tonic::metrics::v1::{
        metric, ExponentialHistogram, ExponentialHistogramDataPoint, Histogram, HistogramDataPoint, Metric,
        ResourceMetrics, ScopeMetrics,
    };
    use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
    use prost::encoding::encode_key;
    use prost::Message as _;

    use super::super::{protobuf as estimate, Refusal, FIRST_ALLOCATION, LOGS, MAX_DEPTH, METRICS, TRACES};
    use super::*;

    fn spans(spans: Vec<Span>) -> ExportTraceServiceRequest {
        ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                scope_spans: vec![ScopeSpans { spans, ..Default::default() }],
                ..Default::default()
            }],
        }
    }

    /// What a list of `count` elements of `size` bytes costs.
    const fn list(count: usize, size: usize) -> usize {
        (count + FIRST_ALLOCATION - 1) * size
    }

    const STRUCTS: usize = list(1, size_of::<ResourceSpans>()) + list(1, size_of::<ScopeSpans>());

    #[test]
    fn each_element_costs_its_struct_and_strings_their_bytes() {
        let span = Span {
            name: "GET /items".to_owned(),
            trace_id: vec![1; 16],
            attributes: vec![KeyValue { key: "k".to_owned(), ..Default::default() }; 3],
            ..Default::default()
        };
        let bytes = spans(vec![span.clone(), span]).encode_to_vec();
        let expected = STRUCTS + list(2, size_of::<Span>()) + 2 * (10 + 16 + list(3, size_of::<KeyValue>()) + 3);
        assert_eq!(estimate(&bytes, &TRACES, usize::MAX), Ok(expected));
    }

    #[test]
    fn empty_spans_are_refused_past_the_budget() {
        let bytes = spans(vec![Span::default(); 1000]).encode_to_vec();
        assert!(bytes.len() < 3000, "2 bytes a span");
        let exact = STRUCTS + list(1000, size_of::<Span>());
        assert_eq!(estimate(&bytes, &TRACES, exact), Ok(exact));
        assert_eq!(estimate(&bytes, &TRACES, exact - 1), Err(Refusal::TooLarge { budget: exact - 1 }));
    }

    #[test]
    fn packed_numbers_count_at_their_decoded_width() {
        let point = |counts: Vec<u64>| ExponentialHistogramDataPoint {
            positive: Some(Buckets { offset: 0, bucket_counts: counts }),
            ..Default::default()
        };
        let points = vec![point(vec![1, 300, 1 << 40]), point(vec![0; 5])];
        let histogram =
            HistogramDataPoint { bucket_counts: vec![7; 4], explicit_bounds: vec![0.5; 3], ..Default::default() };
        let request = ExportMetricsServiceRequest {
            resource_metrics: vec![ResourceMetrics {
                scope_metrics: vec![ScopeMetrics {
                    metrics: vec![
                        Metric {
                            data: Some(metric::Data::ExponentialHistogram(ExponentialHistogram {
                                data_points: points,
                                ..Default::default()
                            })),
                            ..Default::default()
                        },
                        Metric {
                            data: Some(metric::Data::Histogram(Histogram {
                                data_points: vec![histogram],
                                ..Default::default()
                            })),
                            ..Default::default()
                        },
                    ],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        };
        let structs = list(1, size_of::<ResourceMetrics>())
            + list(1, size_of::<ScopeMetrics>())
            + list(2, size_of::<Metric>())
            + list(2, size_of::<ExponentialHistogramDataPoint>())
            + list(1, size_of::<HistogramDataPoint>());
        let numbers = list(3, 8) + list(5, 8) + list(4, 8) + list(3, 8);
        assert_eq!(estimate(&request.encode_to_vec(), &METRICS, usize::MAX), Ok(structs + numbers));
    }

    #[test]
    fn unpacked_numbers_count_too() {
        // HistogramDataPoint.bucket_counts (6, fixed64) sent one by one: 9 bytes each, 8 decoded.
        let mut point = Vec::new();
        for _ in 0..10 {
            encode_key(6, WireType::SixtyFourBit, &mut point);
            point.extend_from_slice(&7u64.to_le_bytes());
        }
        let bytes = nest(&[1, 2, 2, 9, 1], point);
        let structs = list(1, size_of::<ResourceMetrics>())
            + list(1, size_of::<ScopeMetrics>())
            + list(1, size_of::<Metric>())
            + list(1, size_of::<HistogramDataPoint>());
        assert_eq!(estimate(&bytes, &METRICS, usize::MAX), Ok(structs + list(10, 8)));
        ExportMetricsServiceRequest::decode(&bytes[..]).expect("prost reads them the same way");
    }

    /// `payload` wrapped in length-delimited fields, outermost first.
    fn nest(path: &[u32], payload: Vec<u8>) -> Vec<u8> {
        path.iter().rev().fold(payload, |inner, number| {
            let mut outer = Vec::new();
            encode_key(*number, WireType::LengthDelimited, &mut outer);
            prost::encoding::encode_varint(inner.len() as u64, &mut outer);
            outer.extend(inner);
            outer
        })
    }

    #[test]
    fn unknown_fields_cost_their_bytes_only() {
        let mut span = Vec::new();
        // Field 100 (unknown) as a 5-byte string, a varint, a fixed32 and a group holding a varint.
        encode_key(100, WireType::LengthDelimited, &mut span);
        span.extend([5, b'h', b'e', b'l', b'l', b'o']);
        encode_key(101, WireType::Varint, &mut span);
        span.push(0x7f);
        encode_key(102, WireType::ThirtyTwoBit, &mut span);
        span.extend([0; 4]);
        encode_key(103, WireType::StartGroup, &mut span);
        encode_key(1, WireType::Varint, &mut span);
        span.push(1);
        encode_key(103, WireType::EndGroup, &mut span);
        let bytes = nest(&[1, 2, 2], span);
        assert_eq!(estimate(&bytes, &TRACES, usize::MAX), Ok(STRUCTS + list(1, size_of::<Span>()) + 5));
        ExportTraceServiceRequest::decode(&bytes[..]).expect("prost skips them too");
    }

    #[test]
    fn truncated_and_garbled_bytes_are_malformed() {
        let bytes = spans(vec![Span { name: "x".repeat(40), ..Default::default() }]).encode_to_vec();
        for cut in 1..bytes.len() {
            let truncated = &bytes[..cut];
            let refused = matches!(estimate(truncated, &TRACES, usize::MAX), Err(Refusal::Malformed(_)));
            assert!(refused, "cut at {cut}");
            assert!(ExportTraceServiceRequest::decode(truncated).is_err(), "prost refuses it too, cut at {cut}");
        }
        for garbage in [&[0xff; 11][..], &[0x00], &[0x0f, 0x01], &[0x0c]] {
            assert!(matches!(estimate(garbage, &TRACES, usize::MAX), Err(Refusal::Malformed(_))), "{garbage:?}");
        }
    }

    fn nested_array(levels: usize) -> AnyValue {
        (0..levels).fold(AnyValue { value: Some(Value::IntValue(1)) }, |inner, _| AnyValue {
            value: Some(Value::ArrayValue(ArrayValue { values: vec![inner] })),
        })
    }

    fn log_with_body(body: AnyValue) -> Vec<u8> {
        ExportLogsServiceRequest {
            resource_logs: vec![ResourceLogs {
                scope_logs: vec![ScopeLogs {
                    log_records: vec![LogRecord { body: Some(body), ..Default::default() }],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        }
        .encode_to_vec()
    }

    #[test]
    fn nesting_is_bounded() {
        // Request > ResourceLogs > ScopeLogs > LogRecord > AnyValue: depth 4, then 2 per array level.
        let deepest = (MAX_DEPTH - 4) / 2;
        assert!(estimate(&log_with_body(nested_array(deepest)), &LOGS, usize::MAX).is_ok());
        let refused = estimate(&log_with_body(nested_array(deepest + 1)), &LOGS, usize::MAX);
        assert_eq!(refused, Err(Refusal::Malformed(format!("messages nested more than {MAX_DEPTH} deep"))));
        let bottomless = estimate(&log_with_body(nested_array(1000)), &LOGS, usize::MAX);
        assert!(matches!(bottomless, Err(Refusal::Malformed(_))));
    }
}
