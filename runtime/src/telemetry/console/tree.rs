//! One trace as an indented tree: the trace id on top, each span under its parent, siblings in start
//! order, each span with its kind, duration, status, attributes and events.

use std::collections::{HashMap, HashSet};
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
    let present: HashSet<SpanId> = spans.iter().map(|span| span.span_context.span_id()).collect();
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
    write_branches(&mut out, &roots, &children);
    out
}

/// How many levels the tree indents; deeper spans are drawn at this indentation with their depth
/// written out, so the text stays linear in the number of spans however deep the trace.
const MAX_INDENT: usize = 32;

/// Depth first, siblings in start order, with a stack of its own rather than recursion: a trace is
/// as deep as the recursion it records (a parser walking a client's nested input), and the export
/// thread's stack is small.
fn write_branches(out: &mut String, roots: &[&SpanData], children: &HashMap<SpanId, Vec<&SpanData>>) {
    // (span, the prefix of its line, whether it is the last of its siblings, its depth)
    let mut pending: Vec<(&SpanData, String, bool, usize)> = Vec::new();
    push_siblings(&mut pending, roots, "", 0);
    while let Some((span, prefix, last, depth)) = pending.pop() {
        let (branch, continuation) = if last { ("└─ ", "   ") } else { ("├─ ", "│  ") };
        let deep = if depth > MAX_INDENT { format!("[depth {depth}] ") } else { String::new() };
        let _ = writeln!(out, "{prefix}{branch}{deep}{}", summary(span));
        let child_prefix = if depth >= MAX_INDENT { prefix } else { format!("{prefix}{continuation}") };
        for event in span.events.iter() {
            let attributes = format::attributes(&event.attributes, true);
            let _ = writeln!(out, "{child_prefix}  • {} {attributes}", format::text(&event.name));
        }
        if let Some(kids) = children.get(&span.span_context.span_id()) {
            push_siblings(&mut pending, kids, &child_prefix, depth + 1);
        }
    }
}

/// Pushes `siblings` so that the first pops first.
fn push_siblings<'a>(
    pending: &mut Vec<(&'a SpanData, String, bool, usize)>,
    siblings: &[&'a SpanData],
    prefix: &str,
    depth: usize,
) {
    let last = siblings.len().saturating_sub(1);
    for (index, span) in siblings.iter().enumerate().rev() {
        pending.push((*span, prefix.to_owned(), index == last, depth));
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

#[cfg(test)]
mod tests {
    use super::super::trace_buffer::tests::span;
    use super::*;

    /// A recursive `#[traced]` function (a parser walking a client's deeply nested document) makes a
    /// trace as deep as the input: its tree prints on the export thread's stack (2 MiB on a tokio
    /// worker) in bounded text, the indentation stopping at a fixed depth.
    #[test]
    fn a_trace_thousands_of_spans_deep_prints_without_overflowing_the_stack() {
        const DEPTH: u64 = 10_000;
        let spans: Vec<SpanData> = (1..=DEPTH).map(|id| span(1, id, id - 1)).collect();
        let printed = std::thread::Builder::new()
            .stack_size(2 * 1024 * 1024)
            .spawn(move || tree(&spans, None, false))
            .expect("a thread")
            .join()
            .expect("printing does not overflow the stack");
        assert_eq!(printed.lines().count(), DEPTH as usize + 1, "every span on a line of its own");
        assert!(printed.len() < 200 * DEPTH as usize, "{} bytes for {DEPTH} spans", printed.len());
    }

    /// One batch can hold a whole trace of `OTEL_BSP_MAX_EXPORT_BATCH_SIZE` spans (up to a million):
    /// finding each span's parent takes time linear in them. The bound only catches a hang.
    #[test]
    fn a_trace_of_two_hundred_thousand_spans_prints_in_linear_time() {
        const SPANS: u64 = 200_000;
        // Spans arrive as they end: the children first, the root last.
        let spans: Vec<SpanData> = (1..=SPANS).map(|id| span(1, id, if id == SPANS { 0 } else { SPANS })).collect();
        let started = std::time::Instant::now();
        let printed = tree(&spans, None, false);
        assert_eq!(printed.lines().count(), SPANS as usize + 1);
        assert!(started.elapsed() < std::time::Duration::from_secs(30), "{:?}", started.elapsed());
    }
}
