//! Value length limits the Rust SDK does not apply.
//!
//! * Spans: `OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT` / `OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT` cut string
//!   values (and the strings of arrays) of a span, its events and its links, and its status
//!   description, before export. `Redaction`'s processor applies it, before redacting.
//! * Log records: every record `tracing` events become is built through [`CappedLoggerProvider`],
//!   which cuts the body and each string attribute to [`caps::LOG_BODY`] bytes and to
//!   `OTEL_LOGRECORD_ATTRIBUTE_VALUE_LENGTH_LIMIT` / `OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT` characters
//!   as they are copied in, before any processor or queue holds them; the attribute keys
//!   `Telemetry::builder().redact(..)` hides get `[REDACTED]` there too (an SDK log record cannot be
//!   changed once built, so no processor can do it later).

use std::borrow::Cow;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::RwLock;
use std::time::SystemTime;

use opentelemetry::logs::{AnyValue, LogRecord, Logger, LoggerProvider, Severity};
use opentelemetry::trace::{SpanId, Status, TraceFlags, TraceId};
use opentelemetry::{Array, InstrumentationScope, Key, KeyValue, StringValue, Value};
use opentelemetry_sdk::logs::{SdkLogRecord, SdkLogger, SdkLoggerProvider};
use opentelemetry_sdk::trace::SpanData;

use super::processors::{Redaction, REDACTED};
use crate::privacy::{self, caps};

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
        if let Status::Error { description } = &mut span.status {
            if let Some(end) = char_cut(description, self.max_chars) {
                *description = Cow::Owned(description[..end].to_owned());
            }
        }
    }

    fn cut(&self, attributes: &mut [KeyValue]) {
        for attribute in attributes {
            cut_value(&mut attribute.value, self.max_chars);
        }
    }
}

/// Where `text` must end to keep `max_chars` characters; `None` when it is short enough.
fn char_cut(text: &str, max_chars: usize) -> Option<usize> {
    text.char_indices().nth(max_chars).map(|(end, _)| end)
}

fn cut_value(value: &mut Value, max_chars: usize) {
    let cut = |text: &StringValue| -> Option<StringValue> {
        let text = text.as_str();
        let end = char_cut(text, max_chars)?;
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

/// `OTEL_LOGRECORD_ATTRIBUTE_VALUE_LENGTH_LIMIT` of the installed telemetry; `usize::MAX` for none.
static LOG_VALUE_LENGTH: AtomicUsize = AtomicUsize::new(usize::MAX);

/// Sets the log record value length limit (`init()` calls it before routing events).
pub(crate) fn set_log_value_length(max_chars: Option<usize>) {
    LOG_VALUE_LENGTH.store(max_chars.unwrap_or(usize::MAX), Ordering::Relaxed);
}

/// The redaction of the installed telemetry, for log record attributes; `LOG_KEYS_REDACTED` says
/// whether it has keys, so records skip the lock when none are configured.
static LOG_REDACTION: RwLock<Option<Redaction>> = RwLock::new(None);
static LOG_KEYS_REDACTED: AtomicBool = AtomicBool::new(false);

/// Sets the keys redacted in log records (`init()` calls it before routing events).
pub(crate) fn set_log_redaction(redaction: &Redaction) {
    if let Ok(mut installed) = LOG_REDACTION.write() {
        *installed = Some(redaction.clone());
        LOG_KEYS_REDACTED.store(!redaction.is_empty(), Ordering::Release);
    }
}

fn redacted_in_logs(key: &Key) -> bool {
    LOG_KEYS_REDACTED.load(Ordering::Acquire)
        && LOG_REDACTION.read().map_or(true, |installed| installed.as_ref().is_some_and(|r| r.redacts_key(key)))
}

/// The SDK logger provider, building records that cut what is copied into them.
#[derive(Debug, Clone)]
pub(crate) struct CappedLoggerProvider(pub(crate) SdkLoggerProvider);

impl LoggerProvider for CappedLoggerProvider {
    type Logger = CappedLogger;

    fn logger_with_scope(&self, scope: InstrumentationScope) -> CappedLogger {
        CappedLogger(self.0.logger_with_scope(scope))
    }
}

/// See [`CappedLoggerProvider`].
#[derive(Debug)]
pub(crate) struct CappedLogger(SdkLogger);

impl Logger for CappedLogger {
    type LogRecord = CappedLogRecord;

    fn create_log_record(&self) -> CappedLogRecord {
        let max_chars = LOG_VALUE_LENGTH.load(Ordering::Relaxed);
        CappedLogRecord { record: self.0.create_log_record(), max_chars }
    }

    fn emit(&self, record: CappedLogRecord) {
        self.0.emit(record.record);
    }

    fn event_enabled(&self, level: Severity, target: &str, name: Option<&str>) -> bool {
        self.0.event_enabled(level, target, name)
    }
}

/// A log record whose body and string attributes are cut as they are set.
#[derive(Debug)]
pub(crate) struct CappedLogRecord {
    record: SdkLogRecord,
    max_chars: usize,
}

impl CappedLogRecord {
    fn capped(&self, value: AnyValue) -> AnyValue {
        cap_any(value, caps::LOG_BODY, self.max_chars)
    }
}

/// `value` with every string in it cut to `max_bytes` bytes and `max_chars` characters.
fn cap_any(value: AnyValue, max_bytes: usize, max_chars: usize) -> AnyValue {
    match value {
        AnyValue::String(text) => {
            let bytes = privacy::cap(text.as_str(), max_bytes);
            let end = char_cut(bytes, max_chars).unwrap_or(bytes.len());
            if end == text.as_str().len() {
                AnyValue::String(text)
            } else {
                AnyValue::String(StringValue::from(text.as_str()[..end].to_owned()))
            }
        }
        AnyValue::ListAny(mut values) => {
            for value in values.iter_mut() {
                *value = cap_any(std::mem::replace(value, AnyValue::Boolean(false)), max_bytes, max_chars);
            }
            AnyValue::ListAny(values)
        }
        AnyValue::Map(mut values) => {
            for value in values.values_mut() {
                *value = cap_any(std::mem::replace(value, AnyValue::Boolean(false)), max_bytes, max_chars);
            }
            AnyValue::Map(values)
        }
        other => other,
    }
}

impl LogRecord for CappedLogRecord {
    fn set_event_name(&mut self, name: &'static str) {
        self.record.set_event_name(name);
    }

    fn set_target<T>(&mut self, target: T)
    where
        T: Into<Cow<'static, str>>,
    {
        self.record.set_target(target);
    }

    fn set_timestamp(&mut self, timestamp: SystemTime) {
        self.record.set_timestamp(timestamp);
    }

    fn set_observed_timestamp(&mut self, timestamp: SystemTime) {
        self.record.set_observed_timestamp(timestamp);
    }

    fn set_severity_text(&mut self, text: &'static str) {
        self.record.set_severity_text(text);
    }

    fn set_severity_number(&mut self, number: Severity) {
        self.record.set_severity_number(number);
    }

    fn set_body(&mut self, body: AnyValue) {
        let body = self.capped(body);
        self.record.set_body(body);
    }

    fn add_attributes<I, K, V>(&mut self, attributes: I)
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<Key>,
        V: Into<AnyValue>,
    {
        for (key, value) in attributes {
            self.add_attribute(key, value);
        }
    }

    fn add_attribute<K, V>(&mut self, key: K, value: V)
    where
        K: Into<Key>,
        V: Into<AnyValue>,
    {
        let key = key.into();
        if redacted_in_logs(&key) {
            self.record.add_attribute(key, AnyValue::from(REDACTED));
            return;
        }
        let value = self.capped(value.into());
        self.record.add_attribute(key, value);
    }

    fn set_trace_context(&mut self, trace_id: TraceId, span_id: SpanId, trace_flags: Option<TraceFlags>) {
        self.record.set_trace_context(trace_id, span_id, trace_flags);
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
        span.set_status(Status::error("abcdef"));
        span.end();
        let mut work = memory.get_finished_spans().expect("spans").pop().expect("the work span");
        ValueLengthLimit { max_chars: 3 }.apply(&mut work);
        let short = Value::from("abc");
        assert_eq!(work.attributes[0].value, short);
        assert_eq!(work.events.events[0].attributes[0].value, short);
        assert_eq!(work.links.links[0].attributes[0].value, short);
        assert_eq!(work.status, Status::error("abc"));
    }

    #[test]
    fn log_record_strings_are_cut_as_they_are_set() {
        use opentelemetry_sdk::logs::InMemoryLogExporter;

        let memory = InMemoryLogExporter::default();
        let provider = CappedLoggerProvider(SdkLoggerProvider::builder().with_simple_exporter(memory.clone()).build());
        let logger = provider.logger("test");
        let mut record = logger.create_log_record();
        record.set_body(AnyValue::from("x".repeat(300 * 1024)));
        record.add_attribute("user_agent", "é".repeat(100 * 1024));
        record.add_attributes([("count", AnyValue::from(3_i64))]);
        logger.emit(record);
        let logs = memory.get_emitted_logs().expect("logs");
        let record = &logs[0].record;
        assert!(matches!(record.body(), Some(AnyValue::String(body)) if body.as_str().len() == caps::LOG_BODY));
        let attributes: Vec<_> = record.attributes_iter().collect();
        assert!(matches!(&attributes[0].1, AnyValue::String(text) if text.as_str() == "é".repeat(caps::LOG_BODY / 2)));
        assert_eq!(attributes[1].1, AnyValue::from(3_i64));
    }

    #[test]
    fn the_log_value_length_limit_counts_characters() {
        let list = AnyValue::ListAny(Box::new(vec![AnyValue::from("héllo"), AnyValue::from(1_i64)]));
        assert_eq!(
            cap_any(list, 100, 2),
            AnyValue::ListAny(Box::new(vec![AnyValue::from("hé"), AnyValue::from(1_i64)]))
        );
        assert_eq!(cap_any(AnyValue::from("héllo"), 2, 100), AnyValue::from("h"));
        assert_eq!(cap_any(AnyValue::from("ok"), 2, 2), AnyValue::from("ok"));
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
