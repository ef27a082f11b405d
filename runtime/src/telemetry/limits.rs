//! `OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT`, which the Rust SDK does not apply: string values (and the
//! strings of arrays) longer than the limit are cut before export, on spans and their events. `Redaction`'s processor applies it, before redacting.

use opentelemetry::{Array, KeyValue, StringValue, Value};
use opentelemetry_sdk::trace::SpanData;

/// Cuts string attribute values to `max_chars` on a span and its events.
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
