//! Zipkin B3 propagation (`OTEL_PROPAGATORS=b3` and `b3multi`), which `opentelemetry` does not ship.
//!
//! Single header: `b3: {trace_id}-{span_id}-{sampled}`; multi: `X-B3-TraceId`, `X-B3-SpanId`,
//! `X-B3-Sampled`. Extraction accepts both forms, as the B3 specification recommends, and only their
//! exact shape: lowercase hex ids of the right length (64-bit trace ids are left-padded), non-zero,
//! a sampling state `0`, `1` or `d` (`true`/`false` from old multi-header clients), an optional
//! 16-hex parent span id. Anything else starts a fresh trace. Injection writes a 128-bit trace id and
//! an explicit sampling state; a debug flag received (`d`, `X-B3-Flags: 1`) is passed on with its
//! trace (OpenTelemetry B3 specification: "MUST preserve a debug trace flag").

use opentelemetry::propagation::{text_map_propagator::FieldIter, Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt as _, TraceFlags, TraceId, TraceState};
use opentelemetry::Context;

const SINGLE: &str = "b3";
const TRACE_ID: &str = "x-b3-traceid";
const SPAN_ID: &str = "x-b3-spanid";
const SAMPLED: &str = "x-b3-sampled";
const FLAGS: &str = "x-b3-flags";

/// Injects and extracts B3 headers.
#[derive(Debug, Clone)]
pub(crate) struct B3Propagator {
    multi: bool,
    fields: Vec<String>,
}

impl B3Propagator {
    /// Every header the extraction reads: both forms, whichever this one injects.
    pub(crate) const READS: &'static [&'static str] = &[SINGLE, TRACE_ID, SPAN_ID, SAMPLED, FLAGS];

    /// The single `b3` header.
    pub(crate) fn single() -> Self {
        Self { multi: false, fields: vec![SINGLE.to_owned()] }
    }

    /// The `X-B3-*` headers.
    pub(crate) fn multi() -> Self {
        Self { multi: true, fields: [TRACE_ID, SPAN_ID, SAMPLED, FLAGS].map(str::to_owned).to_vec() }
    }
}

/// The trace a B3 debug flag arrived with: spans of that trace pass it on.
#[derive(Debug, Clone, Copy, PartialEq)]
struct DebugTrace(TraceId);

impl TextMapPropagator for B3Propagator {
    fn inject_context(&self, cx: &Context, injector: &mut dyn Injector) {
        let span = cx.span();
        let context = span.span_context();
        if !context.is_valid() {
            return;
        }
        let debug = context.is_sampled() && cx.get::<DebugTrace>() == Some(&DebugTrace(context.trace_id()));
        let sampled = match (debug, context.is_sampled()) {
            (true, _) => "d",
            (false, true) => "1",
            (false, false) => "0",
        };
        if self.multi {
            injector.set(TRACE_ID, context.trace_id().to_string());
            injector.set(SPAN_ID, context.span_id().to_string());
            // Debug implies sampled: `X-B3-Sampled` is not sent with it.
            if debug {
                injector.set(FLAGS, "1".to_owned());
            } else {
                injector.set(SAMPLED, sampled.to_owned());
            }
        } else {
            injector.set(SINGLE, format!("{}-{}-{sampled}", context.trace_id(), context.span_id()));
        }
    }

    fn extract_with_context(&self, cx: &Context, extractor: &dyn Extractor) -> Context {
        match extract_single(extractor).or_else(|| extract_multi(extractor)) {
            Some((context, false)) => cx.with_remote_span_context(context),
            Some((context, true)) => {
                let debug = DebugTrace(context.trace_id());
                cx.with_remote_span_context(context).with_value(debug)
            }
            None => cx.clone(),
        }
    }

    fn fields(&self) -> FieldIter<'_> {
        FieldIter::new(&self.fields)
    }
}

/// `{trace_id}-{span_id}[-{sampling state}[-{parent span id}]]`, and whether it is a debug trace.
fn extract_single(extractor: &dyn Extractor) -> Option<(SpanContext, bool)> {
    let mut parts = extractor.get(SINGLE)?.trim().split('-');
    let trace_id = trace_id(parts.next()?)?;
    let span_id = span_id(parts.next()?)?;
    let (sampled, debug) = match parts.next() {
        None | Some("0") => (false, false),
        Some("1") => (true, false),
        Some("d") => (true, true),
        Some(_) => return None,
    };
    if let Some(parent) = parts.next() {
        span_id_hex(parent)?;
    }
    if parts.next().is_some() {
        return None;
    }
    Some((span_context(trace_id, span_id, sampled), debug))
}

fn extract_multi(extractor: &dyn Extractor) -> Option<(SpanContext, bool)> {
    let trace_id = trace_id(extractor.get(TRACE_ID)?.trim())?;
    let span_id = span_id(extractor.get(SPAN_ID)?.trim())?;
    let debug = extractor.get(FLAGS).is_some_and(|flags| flags.trim() == "1");
    let sampled = match extractor.get(SAMPLED).map(str::trim) {
        None => false,
        Some(value) => multi_sampled(value)?,
    };
    Some((span_context(trace_id, span_id, debug || sampled), debug))
}

fn span_context(trace_id: TraceId, span_id: SpanId, sampled: bool) -> SpanContext {
    let flags = if sampled { TraceFlags::SAMPLED } else { TraceFlags::default() };
    SpanContext::new(trace_id, span_id, flags, true, TraceState::default())
}

fn is_lower_hex(hex: &str) -> bool {
    hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// 64-bit trace ids are left-padded to 128 bits. Checked before parsing: `from_hex` would also take
/// uppercase digits and a leading `+`.
fn trace_id(hex: &str) -> Option<TraceId> {
    if !(hex.len() == 16 || hex.len() == 32) || !is_lower_hex(hex) {
        return None;
    }
    TraceId::from_hex(hex).ok().filter(|id| *id != TraceId::INVALID)
}

fn span_id_hex(hex: &str) -> Option<&str> {
    (hex.len() == 16 && is_lower_hex(hex)).then_some(hex)
}

fn span_id(hex: &str) -> Option<SpanId> {
    SpanId::from_hex(span_id_hex(hex)?).ok().filter(|id| *id != SpanId::INVALID)
}

/// `X-B3-Sampled`: `1` samples, `0` does not; `true`/`false` are accepted from old clients.
fn multi_sampled(value: &str) -> Option<bool> {
    match value {
        "1" | "true" => Some(true),
        "0" | "false" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
    const SPAN: &str = "00f067aa0ba902b7";

    fn parent(sampled: bool) -> Context {
        Context::new().with_remote_span_context(span_context(
            TraceId::from_hex(TRACE).expect("trace id"),
            SpanId::from_hex(SPAN).expect("span id"),
            sampled,
        ))
    }

    #[test]
    fn single_header_round_trips() {
        let mut headers = HashMap::new();
        B3Propagator::single().inject_context(&parent(true), &mut headers);
        assert_eq!(headers.get("b3").map(String::as_str), Some(format!("{TRACE}-{SPAN}-1").as_str()));
        let extracted = B3Propagator::single().extract(&headers);
        let span = extracted.span();
        assert_eq!(span.span_context().trace_id().to_string(), TRACE);
        assert!(span.span_context().is_sampled() && span.span_context().is_remote());
    }

    #[test]
    fn multi_headers_round_trip_unsampled() {
        let mut headers = HashMap::new();
        B3Propagator::multi().inject_context(&parent(false), &mut headers);
        assert_eq!(headers.get(SAMPLED).map(String::as_str), Some("0"));
        let extracted = B3Propagator::multi().extract(&headers);
        assert_eq!(extracted.span().span_context().span_id().to_string(), SPAN);
        assert!(!extracted.span().span_context().is_sampled());
    }

    #[test]
    fn only_the_exact_shape_is_extracted() {
        let valid = |value: &str| {
            let headers = HashMap::from([("b3".to_owned(), value.to_owned())]);
            B3Propagator::single().extract(&headers).span().span_context().is_valid()
        };
        assert!(valid(&format!("{TRACE}-{SPAN}")));
        assert!(valid(&format!("{TRACE}-{SPAN}-d-{SPAN}")));
        assert!(valid(&format!("a3ce929d0e0e4736-{SPAN}-0")));
        for bad in [
            "zz-yy-1".to_owned(),
            format!("{}-{SPAN}-1", TRACE.to_uppercase()),
            format!("+{}-{SPAN}-1", &TRACE[1..]),
            format!("{TRACE}-+{}-1", &SPAN[1..]),
            format!("{TRACE}-{SPAN}-2"),
            format!("{TRACE}-{SPAN}-true"),
            format!("{TRACE}-{SPAN}-1-{SPAN}-x"),
            format!("{TRACE}-{SPAN}-1-zz"),
            format!("{}-{SPAN}-1", "0".repeat(32)),
            format!("{TRACE}-{}-1", "0".repeat(16)),
            format!("{}-{SPAN}-1", &TRACE[..20]),
        ] {
            assert!(!valid(&bad), "{bad} was accepted");
        }
    }

    #[test]
    fn a_debug_flag_received_is_passed_on_with_its_trace() {
        for (propagator, received) in [
            (B3Propagator::single(), HashMap::from([(SINGLE.to_owned(), format!("{TRACE}-{SPAN}-d"))])),
            (
                B3Propagator::multi(),
                HashMap::from([
                    (TRACE_ID.to_owned(), TRACE.to_owned()),
                    (SPAN_ID.to_owned(), SPAN.to_owned()),
                    (FLAGS.to_owned(), "1".to_owned()),
                ]),
            ),
        ] {
            let cx = propagator.extract(&received);
            assert!(cx.span().span_context().is_sampled());
            // A child span of the same trace (as the server span and the client's span are).
            let child = SpanContext::new(
                TraceId::from_hex(TRACE).expect("trace id"),
                SpanId::from_hex("1111111111111111").expect("span id"),
                TraceFlags::SAMPLED,
                false,
                TraceState::default(),
            );
            let mut sent = HashMap::new();
            propagator.inject_context(&cx.with_remote_span_context(child.clone()), &mut sent);
            if propagator.multi {
                assert_eq!(sent.get(FLAGS).map(String::as_str), Some("1"), "{sent:?}");
                assert_eq!(sent.get(SAMPLED), None, "debug implies sampled: {sent:?}");
            } else {
                assert_eq!(sent.get(SINGLE).map(String::as_str), Some(format!("{TRACE}-1111111111111111-d").as_str()));
            }
            // Another trace started in that context (`#[traced(root)]`) is not a debug trace.
            let other = SpanContext::new(
                TraceId::from_hex("0af7651916cd43dd8448eb211c80319c").expect("trace id"),
                child.span_id(),
                TraceFlags::SAMPLED,
                false,
                TraceState::default(),
            );
            let mut sent = HashMap::new();
            propagator.inject_context(&cx.with_remote_span_context(other), &mut sent);
            assert_eq!(sent.get(FLAGS), None, "{sent:?}");
            assert!(sent.get(SINGLE).or(sent.get(SAMPLED)).is_some_and(|value| value.ends_with('1')), "{sent:?}");
        }
    }

    #[test]
    fn multi_headers_need_a_known_sampling_state() {
        let headers = |sampled: &str| {
            HashMap::from([
                (TRACE_ID.to_owned(), TRACE.to_owned()),
                (SPAN_ID.to_owned(), SPAN.to_owned()),
                (SAMPLED.to_owned(), sampled.to_owned()),
            ])
        };
        let extracted = |sampled: &str| B3Propagator::multi().extract(&headers(sampled)).span().span_context().clone();
        assert!(extracted("true").is_sampled() && extracted("1").is_sampled());
        assert!(extracted("0").is_valid() && !extracted("0").is_sampled());
        assert!(!extracted("yes").is_valid());
    }
}
