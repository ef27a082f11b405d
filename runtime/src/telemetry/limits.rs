//! `OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT`, which the Rust SDK does not apply: string values (and the
//! strings of arrays) longer than the limit are cut before export, on spans, their events and their
//! links. `Redaction`'s processor applies it, before redacting.

use opentelemetry::{Array, KeyValue, StringValue, Value};
use opentelemetry_sdk::trace::SpanData;

/// Cuts string attribute values to `max_chars` on a span, its events and its links.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ValueLengthLimit {
    pub(crate) max_chars: usize,
}

impl ValueLengthLimit {
    pub(crate) fn apply(&self, span: &mut SpanData) {
        self.cut(&mut span.attributes);
        for event in span.events.events.iter_mut() {
            self.cut(&mut event.attributes);
        }
        for link in span.links.links.iter_mut() {
            self.cut(&mut link.attributes);
        }
    }

    fn cut(&self, attributes: &mut [KeyValue]) {
        for attribute in attributes {
            cut_value(&mut attribute.value, self.max_chars);
        }
    }
}

fn cut_value(value: &mut Value, max_chars: usize) {
    let cut = |text: &StringValue| -> Option<StringValue> {
        let text = text.as_str();
        let (end, _) = text.char_indices().nth(max_chars)?;
        Some(StringValue::from(text[..end].to_owned()))
    };
    match value {
        Value::String(text) => {
            if let Some(shorter) = cut(text) {
                *text = shorter;
            }
        }
        Value::Array(Array::String(texts)) => {
            for text in texts.iter_mut() {
                if let Some(shorter) = cut(text) {
                    *text = shorter;
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn span_event_and_link_attributes_are_all_cut() {
        use opentelemetry::trace::{Link, Span as _, TraceContextExt as _, Tracer as _, TracerProvider as _};
        use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};

        let memory = InMemorySpanExporter::default();
        let provider = SdkTracerProvider::builder().with_simple_exporter(memory.clone()).build();
        let tracer = provider.tracer("test");
        let linked = tracer.in_span("linked", |cx| cx.span().span_context().clone());
        let link = Link::new(linked, vec![KeyValue::new("link.note", "abcdef")], 0);
        let mut span = tracer.span_builder("work").with_links(vec![link]).start(&tracer);
        span.set_attribute(KeyValue::new("span.note", "abcdef"));
        span.add_event("event", vec![KeyValue::new("event.note", "abcdef")]);
        span.end();
        let mut work = memory.get_finished_spans().expect("spans").pop().expect("the work span");
        ValueLengthLimit { max_chars: 3 }.apply(&mut work);
        let short = Value::from("abc");
        assert_eq!(work.attributes[0].value, short);
        assert_eq!(work.events.events[0].attributes[0].value, short);
        assert_eq!(work.links.links[0].attributes[0].value, short);
    }

    #[test]
    fn strings_are_cut_on_char_boundaries() {
        let mut value = Value::from("héllo wörld");
        cut_value(&mut value, 4);
        assert_eq!(value, Value::from("héll"));
        let mut short = Value::from("ok");
        cut_value(&mut short, 4);
        assert_eq!(short, Value::from("ok"));
        let mut array = Value::Array(Array::String(vec!["abcdef".into(), "ab".into()]));
        cut_value(&mut array, 3);
        assert_eq!(array, Value::Array(Array::String(vec!["abc".into(), "ab".into()])));
        let mut number = Value::from(123_456_i64);
        cut_value(&mut number, 2);
        assert_eq!(number, Value::from(123_456_i64));
    }
}
