//! Spans on the console: a tree per trace, or one raw line per span.
//!
//! Children end before their parent, so a trace's spans are held until its local root ends (a span
//! with no parent, or a remote one) and then printed together. Whatever is still held when the
//! provider flushes or shuts down is printed as it is.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::Duration;

use opentelemetry::trace::{SpanId, Status, TraceId};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SpanData, SpanExporter};

use super::{format, ConsoleOutput};
use crate::telemetry::settings::ConsoleFormat;

#[derive(Debug)]
pub(crate) struct ConsoleSpanExporter {
    format: ConsoleFormat,
    output: ConsoleOutput,
    pending: Mutex<HashMap<TraceId, Vec<SpanData>>>,
}

impl ConsoleSpanExporter {
    pub(crate) fn new(format: ConsoleFormat, output: ConsoleOutput) -> Self {
        Self { format, output, pending: Mutex::new(HashMap::new()) }
    }

    fn print(&self, batch: Vec<SpanData>) {
        match self.format {
            ConsoleFormat::Raw => {
                let text: String = batch.iter().map(raw_line).collect();
                self.output.write(&text);
            }
            ConsoleFormat::Tree => {
                for trace in self.complete_traces(batch) {
                    self.output.write(&tree(&trace));
                }
            }
        }
    }

    /// Adds `batch` to the pending spans and takes out every trace whose local root has ended.
    fn complete_traces(&self, batch: Vec<SpanData>) -> Vec<Vec<SpanData>> {
        let Ok(mut pending) = self.pending.lock() else { return vec![batch] };
        let mut finished = Vec::new();
        for span in batch {
            let trace_id = span.span_context.trace_id();
            let is_local_root = span.parent_span_id == SpanId::INVALID || span.parent_span_is_remote;
            pending.entry(trace_id).or_default().push(span);
            if is_local_root {
                finished.extend(pending.remove(&trace_id));
            }
        }
        finished
    }

    fn print_pending(&self) {
        let traces: Vec<Vec<SpanData>> = match self.pending.lock() {
            Ok(mut pending) => pending.drain().map(|(_, spans)| spans).collect(),
            Err(_) => return,
        };
        for trace in traces {
            self.output.write(&tree(&trace));
        }
    }
}

impl SpanExporter for ConsoleSpanExporter {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        self.print(batch);
        Ok(())
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.print_pending();
        Ok(())
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        self.print_pending();
        Ok(())
    }
}

/// One trace: the trace id, then each span under its parent, siblings in start order.
fn tree(spans: &[SpanData]) -> String {
    let mut out = String::new();
    let Some(first) = spans.first() else { return out };
    let _ = writeln!(out, "trace {}", first.span_context.trace_id());
    let present: Vec<SpanId> = spans.iter().map(|span| span.span_context.span_id()).collect();
    let mut children: HashMap<SpanId, Vec<&SpanData>> = HashMap::new();
    let mut roots = Vec::new();
    for span in spans {
        if present.contains(&span.parent_span_id) {
            children.entry(span.parent_span_id).or_default().push(span);
        } else {
            roots.push(span);
        }
    }
    let by_start = |list: &mut Vec<&SpanData>| list.sort_by_key(|span| span.start_time);
    by_start(&mut roots);
    children.values_mut().for_each(by_start);
    let last = roots.len().saturating_sub(1);
    for (index, root) in roots.into_iter().enumerate() {
        write_branch(&mut out, root, &children, "", index == last);
    }
    out
}

fn write_branch(
    out: &mut String,
    span: &SpanData,
    children: &HashMap<SpanId, Vec<&SpanData>>,
    prefix: &str,
    last: bool,
) {
    let (branch, continuation) = if last { ("└─ ", "   ") } else { ("├─ ", "│  ") };
    let _ = writeln!(out, "{prefix}{branch}{}", summary(span));
    let child_prefix = format!("{prefix}{continuation}");
    for event in span.events.iter() {
        let attributes = format::attributes(&event.attributes, true);
        let _ = writeln!(out, "{child_prefix}  • {} {attributes}", event.name);
    }
    let Some(kids) = children.get(&span.span_context.span_id()) else { return };
    let last_kid = kids.len().saturating_sub(1);
    for (index, kid) in kids.iter().enumerate() {
        write_branch(out, kid, children, &child_prefix, index == last_kid);
    }
}

/// `GET /items/{id} [server] 12.3ms OK http.route="/items/{id}"`
fn summary(span: &SpanData) -> String {
    let duration = span.end_time.duration_since(span.start_time).unwrap_or_default();
    let mut line = format!("{} [{}] {}", span.name, kind(span), format::duration(duration));
    let status = status(&span.status);
    if !status.is_empty() {
        let _ = write!(line, " {status}");
    }
    if !span.attributes.is_empty() {
        let _ = write!(line, "  {}", format::attributes(&span.attributes, true));
    }
    line
}

fn kind(span: &SpanData) -> &'static str {
    use opentelemetry::trace::SpanKind;
    match span.span_kind {
        SpanKind::Server => "server",
        SpanKind::Client => "client",
        SpanKind::Producer => "producer",
        SpanKind::Consumer => "consumer",
        SpanKind::Internal => "internal",
    }
}

fn status(status: &Status) -> String {
    match status {
        Status::Unset => String::new(),
        Status::Ok => "OK".to_owned(),
        Status::Error { description } if description.is_empty() => "ERROR".to_owned(),
        Status::Error { description } => format!("ERROR({description})"),
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
        kind(span),
        format::timestamp(span.start_time),
        format::timestamp(span.end_time),
        status(&span.status),
        context.is_sampled(),
        span.instrumentation_scope.name(),
    );
    let _ = write!(line, " attributes={{{}}}", format::attributes(&span.attributes, false));
    for event in span.events.iter() {
        let _ = write!(line, " event={}{{{}}}", event.name, format::attributes(&event.attributes, false));
    }
    line.push('\n');
    line
}

#[cfg(test)]
mod tests {
    use opentelemetry::trace::{TraceContextExt as _, Tracer as _, TracerProvider as _};
    use opentelemetry::KeyValue;
    use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};

    use super::super::capture::Captured;
    use super::*;

    fn nested_trace() -> Vec<SpanData> {
        let memory = InMemorySpanExporter::default();
        let provider = SdkTracerProvider::builder().with_simple_exporter(memory.clone()).build();
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
        memory.get_finished_spans().expect("spans")
    }

    #[test]
    fn a_trace_prints_as_a_tree_once_its_root_ends() {
        let captured = Captured::default();
        let exporter = ConsoleSpanExporter::new(ConsoleFormat::Tree, ConsoleOutput::new(captured.clone()));
        let mut spans = nested_trace();
        let root = spans.pop().expect("the root ends last");
        exporter.print(spans);
        assert_eq!(captured.text(), "", "nothing prints before the root ends");
        exporter.print(vec![root.clone()]);
        let text = captured.text();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], format!("trace {}", root.span_context.trace_id()));
        assert!(lines[1].starts_with("└─ GET /items/{id} [internal] "), "{text}");
        assert!(lines[1].ends_with("http.route=\"/items/{id}\""), "{text}");
        assert!(lines[2].starts_with("   ├─ load-item [internal] ") && lines[2].ends_with("item.id=7"), "{text}");
        assert_eq!(lines[3], "   │    • cache miss ", "{text}");
        assert!(lines[4].starts_with("   │  └─ db [internal] ") && lines[4].ends_with("ERROR(timeout)"), "{text}");
        assert!(lines[5].starts_with("   └─ render [internal] "), "{text}");
        assert_eq!(lines.len(), 6);
    }

    #[test]
    fn unfinished_traces_print_on_flush() {
        let captured = Captured::default();
        let exporter = ConsoleSpanExporter::new(ConsoleFormat::Tree, ConsoleOutput::new(captured.clone()));
        let mut spans = nested_trace();
        spans.pop();
        exporter.print(spans);
        exporter.force_flush().expect("flush");
        let text = captured.text();
        assert!(text.contains("├─ load-item"), "{text}");
        assert!(text.contains("│  └─ db"), "{text}");
        assert!(text.contains("└─ render"), "{text}");
    }

    #[test]
    fn raw_format_prints_every_field() {
        let captured = Captured::default();
        let exporter = ConsoleSpanExporter::new(ConsoleFormat::Raw, ConsoleOutput::new(captured.clone()));
        let spans = nested_trace();
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
