//! The two span processors of the FastAPI guide.
//!
//! * [`CommonAttributes`] adds fixed attributes to every span when it starts, so samplers and every
//!   exporter see them.
//! * [`Redaction`] replaces the values of configured attribute keys (or of every attribute of spans
//!   with a configured name) with `[REDACTED]` before export. The SDK hands each processor its own
//!   copy of a finished span, so redaction wraps the processor that exports
//!   ([`Redaction::wrap`]); `Telemetry::builder().redact(..)` wraps every exporter for you.

use std::collections::HashSet;
use std::time::Duration;

use opentelemetry::trace::Span as _;
use opentelemetry::{Context, Key, KeyValue, Value};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{Span, SpanData, SpanProcessor};
use opentelemetry_sdk::Resource;

use super::limits::ValueLengthLimit;

/// The value that replaces a redacted attribute.
pub const REDACTED: &str = "[REDACTED]";

/// Adds the same attributes to every span at start (e.g. `deployment.region`, `team`).
#[derive(Debug, Clone, Default)]
pub struct CommonAttributes {
    attributes: Vec<KeyValue>,
}

impl CommonAttributes {
    /// Adds `attributes` to every span.
    pub fn new(attributes: impl IntoIterator<Item = KeyValue>) -> Self {
        Self { attributes: attributes.into_iter().collect() }
    }
}

impl SpanProcessor for CommonAttributes {
    fn on_start(&self, span: &mut Span, _cx: &Context) {
        span.set_attributes(self.attributes.iter().cloned());
    }

    fn on_end(&self, _span: SpanData) {}

    fn force_flush(&self) -> OTelSdkResult {
        Ok(())
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        Ok(())
    }
}

/// Which attributes to hide before export.
#[derive(Debug, Clone, Default)]
pub struct Redaction {
    keys: HashSet<Key>,
    span_names: HashSet<String>,
}

impl Redaction {
    /// Redacts nothing yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Redacts these attribute keys on every span and span event (and, through
    /// `Telemetry::builder().redact(..)`, on every log record `tracing` events become).
    pub fn keys<K: Into<Key>>(mut self, keys: impl IntoIterator<Item = K>) -> Self {
        self.keys.extend(keys.into_iter().map(Into::into));
        self
    }

    /// Redacts every attribute of spans with these names.
    pub fn span_names<N: Into<String>>(mut self, names: impl IntoIterator<Item = N>) -> Self {
        self.span_names.extend(names.into_iter().map(Into::into));
        self
    }

    /// Whether `key` is one of the redacted keys.
    pub(crate) fn redacts_key(&self, key: &Key) -> bool {
        self.keys.contains(key)
    }

    /// Whether nothing is configured.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty() && self.span_names.is_empty()
    }

    /// Wraps the processor that exports (e.g. a `BatchSpanProcessor`) so it sees redacted spans.
    pub fn wrap<P: SpanProcessor>(self, inner: P) -> RedactingProcessor<P> {
        RedactingProcessor { redaction: self, value_length: None, inner }
    }

    /// Replaces the configured values of `span` in place.
    pub fn apply(&self, span: &mut SpanData) {
        let whole_span = self.span_names.contains(span.name.as_ref());
        let redact = |attribute: &mut KeyValue| {
            if whole_span || self.keys.contains(&attribute.key) {
                attribute.value = Value::from(REDACTED);
            }
        };
        span.attributes.iter_mut().for_each(redact);
        for event in span.events.events.iter_mut() {
            event.attributes.iter_mut().for_each(redact);
        }
    }
}

/// A processor that redacts each finished span, then hands it to `inner`.
#[derive(Debug)]
pub struct RedactingProcessor<P> {
    redaction: Redaction,
    value_length: Option<ValueLengthLimit>,
    inner: P,
}

impl<P> RedactingProcessor<P> {
    /// Also cuts values to `OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT`, first, so `[REDACTED]` is never cut.
    pub(crate) fn with_value_length_limit(mut self, max_chars: Option<usize>) -> Self {
        self.value_length = max_chars.map(|max_chars| ValueLengthLimit { max_chars });
        self
    }
}

impl<P: SpanProcessor> SpanProcessor for RedactingProcessor<P> {
    fn on_start(&self, span: &mut Span, cx: &Context) {
        self.inner.on_start(span, cx);
    }

    fn on_end(&self, mut span: SpanData) {
        if let Some(limit) = &self.value_length {
            limit.apply(&mut span);
        }
        self.redaction.apply(&mut span);
        self.inner.on_end(span);
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}

#[cfg(test)]
mod tests {
    use opentelemetry::trace::{TraceContextExt as _, Tracer as _, TracerProvider as _};
    use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SimpleSpanProcessor};

    use super::*;

    fn provider(redaction: Redaction, exporter: &InMemorySpanExporter) -> SdkTracerProvider {
        SdkTracerProvider::builder()
            .with_span_processor(CommonAttributes::new([KeyValue::new("team", "core")]))
            .with_span_processor(redaction.wrap(SimpleSpanProcessor::new(exporter.clone())))
            .build()
    }

    fn attribute(span: &SpanData, key: &str) -> Option<Value> {
        span.attributes.iter().find(|kv| kv.key.as_str() == key).map(|kv| kv.value.clone())
    }

    #[test]
    fn common_attributes_and_key_redaction() {
        let exporter = InMemorySpanExporter::default();
        let provider = provider(Redaction::new().keys(["user.email"]), &exporter);
        let tracer = provider.tracer("test");
        tracer.in_span("checkout", |cx| {
            cx.span().set_attribute(KeyValue::new("user.email", "a@b.c"));
            cx.span().set_attribute(KeyValue::new("cart.size", 3));
            cx.span().add_event("login", vec![KeyValue::new("user.email", "a@b.c")]);
        });
        let spans = exporter.get_finished_spans().expect("spans");
        assert_eq!(attribute(&spans[0], "team"), Some(Value::from("core")));
        assert_eq!(attribute(&spans[0], "user.email"), Some(Value::from(REDACTED)));
        assert_eq!(attribute(&spans[0], "cart.size"), Some(Value::from(3)));
        assert_eq!(spans[0].events.events[0].attributes[0].value, Value::from(REDACTED));
    }

    #[test]
    fn whole_span_redaction_by_name() {
        let exporter = InMemorySpanExporter::default();
        let provider = provider(Redaction::new().span_names(["login"]), &exporter);
        let tracer = provider.tracer("test");
        tracer.in_span("login", |cx| cx.span().set_attribute(KeyValue::new("password.hint", "cat")));
        tracer.in_span("browse", |cx| cx.span().set_attribute(KeyValue::new("page", 2)));
        let spans = exporter.get_finished_spans().expect("spans");
        let login = spans.iter().find(|s| s.name == "login").expect("login span");
        let browse = spans.iter().find(|s| s.name == "browse").expect("browse span");
        assert_eq!(attribute(login, "password.hint"), Some(Value::from(REDACTED)));
        assert_eq!(attribute(login, "team"), Some(Value::from(REDACTED)));
        assert_eq!(attribute(browse, "page"), Some(Value::from(2)));
    }
}
