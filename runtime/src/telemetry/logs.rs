//! `tracing` events, correlated with the span they happen in.
//!
//! With a logs exporter, each event becomes an OpenTelemetry log record (through
//! `opentelemetry-appender-tracing`); the SDK logger stamps it with the trace and span id of the
//! current OpenTelemetry context, which `#[traced]` spans set. With logs off, each event becomes an
//! event on the current span instead. Events from the exporting stack itself (`opentelemetry*`,
//! `tonic`, `hyper`, ...) are left out, so an export failure cannot feed on itself.

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::RwLock;

use opentelemetry::trace::TraceContextExt as _;
use opentelemetry::{Context, KeyValue};
use opentelemetry_appender_tracing::layer::OpenTelemetryTracingBridge;
use opentelemetry_sdk::logs::SdkLoggerProvider;
use tracing::field::{Field, Visit};
use tracing::level_filters::LevelFilter;
use tracing::{Event, Level, Metadata, Subscriber};
use tracing_subscriber::filter::filter_fn;
use tracing_subscriber::layer::{Context as LayerContext, Layer, SubscriberExt as _};
use tracing_subscriber::Registry;

use super::limits::CappedLoggerProvider;
use crate::privacy::{self, caps};

/// Crates whose events would be about exporting telemetry (with every `opentelemetry*` crate, and
/// `tower::buffer`).
const INTERNAL_CRATES: [&str; 5] = ["tonic", "h2", "hyper", "hyper_util", "reqwest"];

/// Matched by whole crate name: `hyperswitch` or `h2o` events are the application's.
fn is_internal(target: &str) -> bool {
    let krate = target.split("::").next().unwrap_or(target);
    krate.starts_with("opentelemetry") || INTERNAL_CRATES.contains(&krate) || target.starts_with("tower::buffer")
}

/// The layer that carries `tracing` events into OpenTelemetry: logs if `logger` is given, span
/// events otherwise. For applications that build their own subscriber
/// (`TelemetryGuard::tracing_layer`).
pub(crate) fn layer<S>(logger: Option<&SdkLoggerProvider>) -> Box<dyn Layer<S> + Send + Sync>
where
    S: Subscriber + for<'span> tracing_subscriber::registry::LookupSpan<'span> + Send + Sync,
{
    let not_internal = || filter_fn(|metadata| !is_internal(metadata.target()));
    match logger {
        Some(provider) => {
            let provider = CappedLoggerProvider(provider.clone());
            Box::new(OpenTelemetryTracingBridge::new(&provider).with_filter(not_internal()))
        }
        None => Box::new(SpanEvents.with_filter(not_internal())),
    }
}

/// What the global subscriber forwards to; swapped by each `init()` and cleared at shutdown, because
/// a global `tracing` subscriber can be set only once per process.
static CURRENT: RwLock<Option<Box<dyn Layer<Registry> + Send + Sync>>> = RwLock::new(None);

/// Whether this process's global `tracing` subscriber is ours.
static OURS: AtomicBool = AtomicBool::new(false);

/// The most verbose level routed, as `LevelFilter` ordinals (`OFF` = 0 .. `TRACE` = 5): events above it
/// are disabled at their call site, so a `debug!` in a hot loop costs nothing.
static MAX_LEVEL: AtomicU8 = AtomicU8::new(0);

fn level_ordinal(level: LevelFilter) -> u8 {
    match level.into_level() {
        None => 0,
        Some(Level::ERROR) => 1,
        Some(Level::WARN) => 2,
        Some(Level::INFO) => 3,
        Some(Level::DEBUG) => 4,
        Some(Level::TRACE) => 5,
    }
}

fn max_level() -> LevelFilter {
    match MAX_LEVEL.load(Ordering::Relaxed) {
        0 => LevelFilter::OFF,
        1 => LevelFilter::ERROR,
        2 => LevelFilter::WARN,
        3 => LevelFilter::INFO,
        4 => LevelFilter::DEBUG,
        _ => LevelFilter::TRACE,
    }
}

/// Routes `tracing` events to `logger` (or to span events) through the global subscriber, installing
/// it on first use; `false` if the application already set a global subscriber of its own (it can
/// then add `TelemetryGuard::tracing_layer()` to it).
pub(crate) fn route_events(logger: Option<&SdkLoggerProvider>, level: LevelFilter) -> bool {
    let current: Box<dyn Layer<Registry> + Send + Sync> = match logger {
        Some(provider) => Box::new(OpenTelemetryTracingBridge::new(&CappedLoggerProvider(provider.clone()))),
        None => Box::new(SpanEvents),
    };
    if let Ok(mut slot) = CURRENT.write() {
        *slot = Some(current);
    }
    let previous = MAX_LEVEL.swap(level_ordinal(level), Ordering::Relaxed);
    if OURS.load(Ordering::Acquire) {
        if previous != level_ordinal(level) {
            // Call sites cached the old level hint.
            tracing_core::callsite::rebuild_interest_cache();
        }
        return true;
    }
    let installed = tracing::subscriber::set_global_default(Registry::default().with(Forward)).is_ok();
    OURS.store(installed, Ordering::Release);
    installed
}

/// Stops routing events (the guard shut the providers down).
pub(crate) fn stop_routing() {
    if let Ok(mut slot) = CURRENT.write() {
        *slot = None;
    }
}

/// The layer of the global subscriber: hands each event to [`CURRENT`].
struct Forward;

impl Layer<Registry> for Forward {
    fn enabled(&self, metadata: &Metadata<'_>, _cx: LayerContext<'_, Registry>) -> bool {
        metadata.is_event() && *metadata.level() <= max_level() && !is_internal(metadata.target())
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        Some(max_level())
    }

    fn on_event(&self, event: &Event<'_>, cx: LayerContext<'_, Registry>) {
        if is_internal(event.metadata().target()) {
            return;
        }
        if let Ok(current) = CURRENT.read() {
            if let Some(layer) = current.as_ref() {
                layer.on_event(event, cx);
            }
        }
    }
}

/// Records each `tracing` event as an event on the current OpenTelemetry span.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SpanEvents;

impl<S: Subscriber> Layer<S> for SpanEvents {
    fn on_event(&self, event: &Event<'_>, _cx: LayerContext<'_, S>) {
        Context::map_current(|cx| {
            let span = cx.span();
            if !span.is_recording() {
                return;
            }
            let metadata = event.metadata();
            let mut fields = Fields { message: None, attributes: Vec::new() };
            event.record(&mut fields);
            fields.attributes.push(KeyValue::new("level", metadata.level().as_str()));
            fields.attributes.push(KeyValue::new("target", metadata.target().to_owned()));
            let name = fields.message.unwrap_or_else(|| metadata.name().to_owned());
            span.add_event(name, fields.attributes);
        });
    }
}

/// Collects an event's fields: `message` names the span event, the rest become its attributes. Each
/// text is cut to [`caps::LOG_BODY`] while it is formatted.
struct Fields {
    message: Option<String>,
    attributes: Vec<KeyValue>,
}

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        let text = privacy::cap_display(&format_args!("{value:?}"), caps::LOG_BODY);
        if field.name() == "message" {
            self.message = Some(text);
        } else {
            self.attributes.push(KeyValue::new(field.name(), text));
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        let text = privacy::cap(value, caps::LOG_BODY).to_owned();
        if field.name() == "message" {
            self.message = Some(text);
        } else {
            self.attributes.push(KeyValue::new(field.name(), text));
        }
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.attributes.push(KeyValue::new(field.name(), value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.attributes.push(KeyValue::new(field.name(), i64::try_from(value).unwrap_or(i64::MAX)));
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.attributes.push(KeyValue::new(field.name(), value));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.attributes.push(KeyValue::new(field.name(), value));
    }
}

#[cfg(test)]
mod tests {
    use opentelemetry::trace::{Tracer as _, TracerProvider as _};
    use opentelemetry_sdk::logs::InMemoryLogExporter;
    use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};

    use super::*;

    /// The span `work` as exported, with the `tracing` events `emit` sends inside it (logs off).
    fn span_with_events(emit: impl FnOnce()) -> opentelemetry_sdk::trace::SpanData {
        let spans = InMemorySpanExporter::default();
        let provider = SdkTracerProvider::builder().with_simple_exporter(spans.clone()).build();
        let subscriber = Registry::default().with(layer(None));
        tracing::subscriber::with_default(subscriber, || provider.tracer("test").in_span("work", |_| emit()));
        spans.get_finished_spans().expect("spans").remove(0)
    }

    #[test]
    fn events_become_span_events_when_logs_are_off() {
        let span = span_with_events(|| {
            tracing::info!(item.id = 7, "added item");
            tracing::warn!(target: "opentelemetry_sdk", "internal, not recorded");
        });
        let events: Vec<_> = span.events.iter().collect();
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].name, "added item");
        assert!(events[0].attributes.contains(&KeyValue::new("item.id", 7)));
        assert!(events[0].attributes.contains(&KeyValue::new("level", "INFO")));
    }

    #[test]
    fn events_of_crates_named_like_the_exporting_stack_are_kept() {
        let span = span_with_events(|| {
            tracing::info!(target: "hyperswitch::payments", "authorised");
            tracing::info!(target: "h2o_pipeline", "loaded");
            tracing::info!(target: "reqwest_middleware_app", "retried");
            tracing::info!(target: "hyper_util::client", "internal");
            tracing::info!(target: "opentelemetry-otlp", "internal");
            tracing::info!(target: "tonic::transport", "internal");
        });
        let names: Vec<&str> = span.events.iter().map(|event| event.name.as_ref()).collect();
        assert_eq!(names, ["authorised", "loaded", "retried"]);
    }

    #[test]
    fn span_event_texts_are_capped() {
        let fat = "x".repeat(300 * 1024);
        let span = span_with_events(|| tracing::info!(agent = fat.as_str(), debug = ?fat, "{fat}"));
        let event = span.events.iter().next().expect("the event");
        assert_eq!(event.name.len(), caps::LOG_BODY);
        for key in ["agent", "debug"] {
            let value = event.attributes.iter().find(|kv| kv.key.as_str() == key).expect(key);
            assert!(value.value.as_str().len() <= caps::LOG_BODY, "{key}");
        }
    }

    #[test]
    fn events_become_logs_with_the_span_ids_when_logs_are_on() {
        let logs = InMemoryLogExporter::default();
        let logger = SdkLoggerProvider::builder().with_simple_exporter(logs.clone()).build();
        let provider = SdkTracerProvider::builder().build();
        let subscriber = Registry::default().with(layer(Some(&logger)));
        let span_context = tracing::subscriber::with_default(subscriber, || {
            provider.tracer("test").in_span("checkout", |cx| {
                tracing::info!("added item");
                cx.span().span_context().clone()
            })
        });
        let emitted = logs.get_emitted_logs().expect("logs");
        assert_eq!(emitted.len(), 1);
        let context = emitted[0].record.trace_context().expect("trace context");
        assert_eq!(context.trace_id, span_context.trace_id());
        assert_eq!(context.span_id, span_context.span_id());
    }
}
