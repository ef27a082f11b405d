//! Spans on the console: a tree per trace, or one raw line per span.
//!
//! The tree view holds a trace's spans until every span it started in this process has arrived (see
//! `trace_buffer`), so a trace prints once, whole, even when its spans reach the exporter in several
//! batches. Whatever is still held prints, with a note, on `force_flush` and at shutdown.

use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use opentelemetry::trace::TraceId;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SpanData, SpanExporter};

use super::open_spans::OpenSpanTracker;
use super::trace_buffer::{BufferLimits, ReadyTrace, TraceBuffer};
use super::{format, tree, ConsoleOutput};
use crate::span::recycled_attributes;
use crate::telemetry::settings::ConsoleFormat;

#[derive(Debug)]
pub(crate) struct ConsoleSpanExporter {
    output: ConsoleOutput,
    /// `None` for the raw format, which prints each span as it arrives.
    trees: Option<Arc<Trees>>,
}

impl ConsoleSpanExporter {
    pub(crate) fn new(format: ConsoleFormat, output: ConsoleOutput) -> Self {
        Self::with_limits(format, output, BufferLimits::default())
    }

    pub(crate) fn with_limits(format: ConsoleFormat, output: ConsoleOutput, limits: BufferLimits) -> Self {
        let trees = match format {
            ConsoleFormat::Tree => {
                Some(Arc::new(Trees { buffer: Mutex::new(TraceBuffer::new(limits)), output: output.clone() }))
            }
            ConsoleFormat::Raw => None,
        };
        Self { output, trees }
    }

    /// The processor wrapper that must sit around the processor feeding this exporter, so the tree
    /// view learns which spans started.
    pub(crate) fn open_span_tracker(&self) -> OpenSpanTracker {
        OpenSpanTracker(self.trees.clone())
    }

    fn print(&self, batch: Vec<SpanData>) {
        match &self.trees {
            Some(trees) => trees.arrived(batch),
            None => {
                self.output.write(&batch.iter().map(raw_line).collect::<String>());
                recycled_attributes::give_back(batch);
            }
        }
    }
}

impl SpanExporter for ConsoleSpanExporter {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        self.print(batch);
        Ok(())
    }

    fn force_flush(&self) -> OTelSdkResult {
        if let Some(trees) = &self.trees {
            trees.print_held();
        }
        Ok(())
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        self.force_flush()
    }
}

/// The tree view's state, shared by the exporter (spans arrive) and its processor (spans start).
#[derive(Debug)]
pub(crate) struct Trees {
    buffer: Mutex<TraceBuffer>,
    output: ConsoleOutput,
}

impl Trees {
    pub(super) fn started(&self, trace_id: TraceId) {
        if let Ok(mut buffer) = self.buffer.lock() {
            buffer.started(trace_id, Instant::now());
        }
    }

    fn arrived(&self, batch: Vec<SpanData>) {
        let ready = match self.buffer.lock() {
            Ok(mut buffer) => buffer.arrived(batch, Instant::now()),
            Err(_) => return,
        };
        self.write(ready);
    }

    pub(super) fn print_held(&self) {
        let ready = match self.buffer.lock() {
            Ok(mut buffer) => buffer.drain(),
            Err(_) => return,
        };
        self.write(ready);
    }

    /// Writes outside the buffer's lock, so a slow terminal never stalls spans starting.
    fn write(&self, ready: Vec<ReadyTrace>) {
        if ready.is_empty() {
            return;
        }
        let text: String =
            ready.iter().map(|trace| tree::tree(&trace.spans, trace.incomplete, trace.continued)).collect();
        self.output.write(&text);
        for trace in ready {
            recycled_attributes::give_back(trace.spans);
        }
    }
}

/// Every field of one span on one line.
fn raw_line(span: &SpanData) -> String {
    let context = &span.span_context;
    let mut line = format!(
        "span name={:?} trace_id={} span_id={} parent_span_id={} kind={} start={} end={} status={:?} sampled={} scope={}",
        span.name,
        context.trace_id(),
        context.span_id(),
        span.parent_span_id,
        format::kind(span),
        format::timestamp(span.start_time),
        format::timestamp(span.end_time),
        format::status(&span.status),
        context.is_sampled(),
        span.instrumentation_scope.name(),
    );
    let _ = write!(line, " attributes={{{}}}", format::attributes(&span.attributes, false));
    for event in span.events.iter() {
        let _ =
            write!(line, " event={}{{{}}}", format::text(&event.name), format::attributes(&event.attributes, false));
    }
    line.push('\n');
    line
}

#[cfg(test)]
mod tests {
    use opentelemetry::trace::{Span as _, SpanKind, Status, TraceContextExt as _, Tracer as _, TracerProvider as _};
    use opentelemetry::{Context, KeyValue};
    use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SimpleSpanProcessor};

    use super::super::capture::Captured;
    use super::*;

    /// A provider whose every span reaches the console exporter in its own export call.
    fn console(format: ConsoleFormat, limits: BufferLimits) -> (SdkTracerProvider, Captured) {
        let captured = Captured::default();
        let exporter = ConsoleSpanExporter::with_limits(format, ConsoleOutput::new(captured.clone()), limits);
        let processor = exporter.open_span_tracker().wrap(SimpleSpanProcessor::new(exporter));
        (SdkTracerProvider::builder().with_span_processor(processor).build(), captured)
    }

    fn nested_trace(provider: &SdkTracerProvider) {
        let tracer = provider.tracer("test");
        tracer.in_span("GET /items/{id}", |cx| {
            cx.span().set_attribute(KeyValue::new("http.route", "/items/{id}"));
            tracer.in_span("load-item", |cx| {
                cx.span().set_attribute(KeyValue::new("item.id", 7));
                cx.span().add_event("cache miss", vec![]);
                tracer.in_span("db", |cx| cx.span().set_status(Status::error("timeout")));
            });
            tracer.in_span("render", |_| {});
        });
    }

    #[test]
    fn spans_exported_one_by_one_print_as_one_tree() {
        let (provider, captured) = console(ConsoleFormat::Tree, BufferLimits::default());
        nested_trace(&provider);
        let text = captured.text();
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("trace ") && lines[0].len() == "trace ".len() + 32, "{text}");
        assert!(lines[1].starts_with("└─ GET /items/{id} [internal] "), "{text}");
        assert!(lines[1].ends_with("http.route=\"/items/{id}\""), "{text}");
        assert!(lines[2].starts_with("   ├─ load-item [internal] ") && lines[2].ends_with("item.id=7"), "{text}");
        assert_eq!(lines[3], "   │    • cache miss ", "{text}");
        assert!(lines[4].starts_with("   │  └─ db [internal] ") && lines[4].ends_with("ERROR(timeout)"), "{text}");
        assert!(lines[5].starts_with("   └─ render [internal] "), "{text}");
        assert_eq!(lines.len(), 6);
    }

    #[test]
    fn a_callee_span_under_a_remote_parent_of_this_process_joins_the_callers_tree() {
        // What `/external-api` does against the built-in todo service: the server span's remote
        // parent is this process's client span, and the server span ends first.
        let (provider, captured) = console(ConsoleFormat::Tree, BufferLimits::default());
        let tracer = provider.tracer("test");
        let caller = tracer.start("GET /external-api");
        let caller_cx = Context::current_with_span(caller);
        let client = tracer.span_builder("GET").with_kind(SpanKind::Client).start_with_context(&tracer, &caller_cx);
        let remote = Context::new().with_remote_span_context(client.span_context().clone());
        let mut server =
            tracer.span_builder("GET /todos/{id}").with_kind(SpanKind::Server).start_with_context(&tracer, &remote);
        server.end();
        assert_eq!(captured.text(), "", "the caller is still running");
        drop(client);
        drop(caller_cx);
        let text = captured.text();
        assert_eq!(text.matches("trace ").count(), 1, "{text}");
        assert!(text.contains("└─ GET /external-api [internal]"), "{text}");
        assert!(text.contains("   └─ GET [client]"), "{text}");
        assert!(text.contains("      └─ GET /todos/{id} [server]"), "{text}");
    }

    #[test]
    fn a_child_ending_after_its_root_is_waited_for() {
        let (provider, captured) = console(ConsoleFormat::Tree, BufferLimits::default());
        let tracer = provider.tracer("test");
        let root_cx = Context::current_with_span(tracer.start("root"));
        let mut spawned = tracer.start_with_context("spawned", &root_cx);
        drop(root_cx);
        assert_eq!(captured.text(), "");
        spawned.end();
        let text = captured.text();
        assert!(text.contains("└─ root") && text.contains("   └─ spawned"), "{text}");
    }

    #[test]
    fn a_root_that_never_ends_prints_its_children_on_flush_and_at_shutdown() {
        let (provider, captured) = console(ConsoleFormat::Tree, BufferLimits::default());
        let tracer = provider.tracer("test");
        let root_cx = Context::current_with_span(tracer.start("serve forever"));
        tracer.start_with_context("first request", &root_cx).end();
        provider.force_flush().expect("flush");
        let flushed = captured.text();
        assert!(flushed.contains("(incomplete: 1 span still open at flush)"), "{flushed}");
        assert!(flushed.contains("└─ first request"), "{flushed}");
        tracer.start_with_context("second request", &root_cx).end();
        provider.shutdown().expect("shutdown");
        let text = captured.text();
        assert!(text[flushed.len()..].contains("└─ second request"), "{text}");
        assert!(!text.contains("serve forever"), "a span that never ended is never exported");
    }

    #[test]
    fn the_span_bound_prints_the_oldest_trace_with_a_note() {
        let limits = BufferLimits { max_spans: 2, max_age: Duration::from_secs(3600) };
        let (provider, captured) = console(ConsoleFormat::Tree, limits);
        let tracer = provider.tracer("test");
        let root_cx = Context::current_with_span(tracer.start("long root"));
        for name in ["a", "b", "c"] {
            tracer.start_with_context(name, &root_cx).end();
        }
        let text = captured.text();
        assert!(text.contains("console buffer full"), "{text}");
        assert!(text.contains("├─ a") && text.contains("├─ b") && text.contains("└─ c"), "{text}");
    }

    /// What a client can put in a span (a status description or event name quoting its input, a
    /// captured header's values) must not reach the terminal as control characters.
    #[test]
    fn hostile_span_text_cannot_forge_or_hide_console_lines() {
        const HOSTILE: &str = "x\n2026-01-01T00:00:00.000Z INFO  forged\r\u{1b}[2J\u{9b}2J\u{202e}";
        for format in [ConsoleFormat::Tree, ConsoleFormat::Raw] {
            let (provider, captured) = console(format, BufferLimits::default());
            provider.tracer("test").in_span(HOSTILE, |cx| {
                cx.span().add_event(HOSTILE, vec![KeyValue::new(HOSTILE, HOSTILE)]);
                let header = opentelemetry::Value::Array(vec![opentelemetry::StringValue::from(HOSTILE)].into());
                cx.span().set_attribute(KeyValue::new("http.request.header.user-agent", header));
                cx.span().set_status(Status::error(HOSTILE));
            });
            let text = captured.text();
            let expected_lines = if format == ConsoleFormat::Tree { 3 } else { 1 };
            assert_eq!(text.lines().count(), expected_lines, "{format:?}: {text}");
            let control = text.chars().find(|c| *c != '\n' && (c.is_control() || *c == '\u{202e}'));
            assert_eq!(control, None, "{format:?}: {text:?}");
            assert!(text.contains("forged"), "the text is shown, escaped: {text}");
        }
    }

    #[test]
    fn raw_format_prints_every_field() {
        let memory = InMemorySpanExporter::default();
        let provider = SdkTracerProvider::builder().with_simple_exporter(memory.clone()).build();
        nested_trace(&provider);
        let spans = memory.get_finished_spans().expect("spans");
        let captured = Captured::default();
        let exporter = ConsoleSpanExporter::new(ConsoleFormat::Raw, ConsoleOutput::new(captured.clone()));
        let db = spans.iter().find(|span| span.name == "db").expect("db span").clone();
        exporter.print(spans);
        let text = captured.text();
        assert_eq!(text.lines().count(), 4);
        let line = text.lines().find(|line| line.starts_with("span name=\"db\"")).expect("db line");
        assert!(line.contains(&format!("trace_id={}", db.span_context.trace_id())), "{line}");
        assert!(line.contains(&format!("parent_span_id={}", db.parent_span_id)), "{line}");
        assert!(line.contains("status=\"ERROR(timeout)\""), "{line}");
    }
}
