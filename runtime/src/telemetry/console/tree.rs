//! One trace as an indented tree: the trace id on top, each span under its parent, siblings in start
//! order, each span with its kind, duration, status, attributes and events.

use std::collections::HashMap;
use std::fmt::Write as _;

use opentelemetry::trace::SpanId;
use opentelemetry_sdk::trace::SpanData;

use super::format;
use super::trace_buffer::Incomplete;

/// The tree of `spans`, all of one trace; a span whose parent is not among them is a root (a remote
/// parent, or a parent printed earlier: `continued` and `incomplete` say why).
pub(super) fn tree(spans: &[SpanData], incomplete: Option<Incomplete>, continued: bool) -> String {
    let mut out = String::new();
    let Some(first) = spans.first() else { return out };
    let _ = write!(out, "trace {}", first.span_context.trace_id());
    if continued {
        out.push_str(" (continued)");
    }
    if let Some(note) = incomplete {
        let _ = write!(out, " ({note})");
    }
    out.push('\n');
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
        let _ = writeln!(out, "{child_prefix}  • {} {attributes}", format::text(&event.name));
    }
    let Some(kids) = children.get(&span.span_context.span_id()) else {
        return;
    };
    let last_kid = kids.len().saturating_sub(1);
    for (index, kid) in kids.iter().enumerate() {
        write_branch(out, kid, children, &child_prefix, index == last_kid);
    }
}

/// `GET /items/{id} [server] 12.3ms OK http.route="/items/{id}"`
fn summary(span: &SpanData) -> String {
    let duration = span.end_time.duration_since(span.start_time).unwrap_or_default();
    let mut line = format!("{} [{}] {}", format::text(&span.name), format::kind(span), format::duration(duration));
    let status = format::status(&span.status);
    if !status.is_empty() {
        let _ = write!(line, " {status}");
    }
    if !span.attributes.is_empty() {
        let _ = write!(line, "  {}", format::attributes(&span.attributes, true));
    }
    line
}
