//! Holds finished spans until their trace is whole in this process, so the console prints each trace
//! as one tree.
//!
//! A trace is whole when every span it started here has arrived at the exporter: children end
//! before their parent, a span may outlive its parent (a spawned task), and a service that calls
//! itself over HTTP (the sample app's `/external-api`) has a server span whose remote parent is a
//! client span of this very process that ends last. Counting spans at start and at arrival covers all
//! of these, where "print when a span without a local parent ends" splits the last case in two.
//!
//! The buffer is bounded: a trace held longer than `max_age` (a root that never ends, or a span the
//! batch queue dropped) and the oldest traces beyond `max_spans` print as they are, with a note.
//! Time is passed in, so the rules are tested without clocks.

use std::collections::{HashMap, HashSet, VecDeque};
use std::time::{Duration, Instant};

use opentelemetry::trace::TraceId;
use opentelemetry_sdk::trace::SpanData;

/// How much the console holds back.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BufferLimits {
    /// Spans held across all traces.
    pub(crate) max_spans: usize,
    /// How long a trace's first finished span waits for the rest of the trace.
    pub(crate) max_age: Duration,
}

impl Default for BufferLimits {
    fn default() -> Self {
        Self { max_spans: 10_000, max_age: Duration::from_secs(30) }
    }
}

/// Why a trace printed before it was whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Incomplete {
    /// Held for `max_age`.
    Expired { open: usize, max_age: Duration },
    /// Evicted to keep the buffer under `max_spans`.
    BufferFull { open: usize },
    /// Printed by a flush or at shutdown.
    Flushed { open: usize },
}

impl std::fmt::Display for Incomplete {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let spans = |open: usize| if open == 1 { "1 span" } else { "spans" };
        match *self {
            Incomplete::Expired { open, max_age } => write!(
                f,
                "incomplete: {} still open after {}s; later spans print separately",
                spans(open),
                max_age.as_secs()
            ),
            Incomplete::BufferFull { open } => write!(
                f,
                "incomplete: console buffer full with {} still open; later spans print separately",
                spans(open)
            ),
            Incomplete::Flushed { open: 1 } => f.write_str("incomplete: 1 span still open at flush"),
            Incomplete::Flushed { open } => write!(f, "incomplete: {open} spans still open at flush"),
        }
    }
}

/// Spans of one trace ready to print.
#[derive(Debug)]
pub(crate) struct ReadyTrace {
    pub(crate) spans: Vec<SpanData>,
    pub(crate) incomplete: Option<Incomplete>,
    /// Spans of this trace printed before: a part held past a bound, or a span that started after
    /// the rest of its trace had ended (a task spawned at the end of a request).
    pub(crate) continued: bool,
}

#[derive(Debug)]
struct HeldTrace {
    /// Spans started here (and sampled) that have not arrived yet.
    open: usize,
    spans: Vec<SpanData>,
    /// When the trace was first seen; the age bound counts from here.
    since: Instant,
}

#[derive(Debug)]
pub(crate) struct TraceBuffer {
    limits: BufferLimits,
    traces: HashMap<TraceId, HeldTrace>,
    held_spans: usize,
    /// The traces printed last, oldest first, to mark a later part as continued.
    printed: VecDeque<TraceId>,
}

/// How many printed trace ids are remembered for the continued mark.
const REMEMBERED_TRACES: usize = 1024;

impl TraceBuffer {
    pub(crate) fn new(limits: BufferLimits) -> Self {
        Self { limits, traces: HashMap::new(), held_spans: 0, printed: VecDeque::new() }
    }

    /// A sampled span of `trace_id` started in this process. Traces beyond `max_spans` are not
    /// tracked: their spans then print as they arrive rather than growing the map without bound.
    pub(crate) fn started(&mut self, trace_id: TraceId, now: Instant) {
        if let Some(trace) = self.traces.get_mut(&trace_id) {
            trace.open += 1;
        } else if self.traces.len() < self.limits.max_spans {
            self.traces.insert(trace_id, HeldTrace { open: 1, spans: Vec::new(), since: now });
        }
    }

    /// Adds an exported batch; returns the traces it completed, then any the bounds push out.
    pub(crate) fn arrived(&mut self, batch: Vec<SpanData>, now: Instant) -> Vec<ReadyTrace> {
        // In batch order, so traces print in the order their spans arrived.
        let mut touched = Vec::new();
        let mut seen = HashSet::new();
        for span in batch {
            let trace_id = span.span_context.trace_id();
            let trace =
                self.traces.entry(trace_id).or_insert_with(|| HeldTrace { open: 0, spans: Vec::new(), since: now });
            trace.open = trace.open.saturating_sub(1);
            trace.spans.push(span);
            self.held_spans += 1;
            if seen.insert(trace_id) {
                touched.push(trace_id);
            }
        }
        let mut ready = Vec::new();
        for trace_id in touched {
            if self.traces.get(&trace_id).is_some_and(|trace| trace.open == 0) {
                ready.extend(self.take(trace_id, |_| None));
            }
        }
        self.expire(now, &mut ready);
        self.evict_over_limit(&mut ready);
        ready
    }

    /// Everything held, oldest trace first (a flush or shutdown); open counts are forgotten.
    pub(crate) fn drain(&mut self) -> Vec<ReadyTrace> {
        let mut ids: Vec<(Instant, TraceId)> = self.traces.iter().map(|(id, trace)| (trace.since, *id)).collect();
        ids.sort_by_key(|(since, _)| *since);
        ids.into_iter()
            .filter_map(|(_, id)| self.take(id, |open| (open > 0).then_some(Incomplete::Flushed { open })))
            .collect()
    }

    fn expire(&mut self, now: Instant, ready: &mut Vec<ReadyTrace>) {
        let max_age = self.limits.max_age;
        let mut expired: Vec<(Instant, TraceId)> = self
            .traces
            .iter()
            .filter(|(_, trace)| now.saturating_duration_since(trace.since) >= max_age)
            .map(|(id, trace)| (trace.since, *id))
            .collect();
        expired.sort_by_key(|(since, _)| *since);
        for (_, id) in expired {
            ready.extend(self.take(id, |open| Some(Incomplete::Expired { open, max_age })));
        }
    }

    fn evict_over_limit(&mut self, ready: &mut Vec<ReadyTrace>) {
        while self.held_spans > self.limits.max_spans {
            let oldest = self
                .traces
                .iter()
                .filter(|(_, trace)| !trace.spans.is_empty())
                .min_by_key(|(_, trace)| trace.since)
                .map(|(id, _)| *id);
            let Some(id) = oldest else { break };
            ready.extend(self.take(id, |open| Some(Incomplete::BufferFull { open })));
        }
    }

    /// Removes a trace; its spans (if any) become a [`ReadyTrace`] with the note `why` gives.
    fn take(&mut self, id: TraceId, why: impl FnOnce(usize) -> Option<Incomplete>) -> Option<ReadyTrace> {
        let trace = self.traces.remove(&id)?;
        self.held_spans -= trace.spans.len();
        if trace.spans.is_empty() {
            return None;
        }
        let continued = self.printed.contains(&id);
        if !continued {
            if self.printed.len() == REMEMBERED_TRACES {
                self.printed.pop_front();
            }
            self.printed.push_back(id);
        }
        Some(ReadyTrace { incomplete: why(trace.open), spans: trace.spans, continued })
    }
}

#[cfg(test)]
pub(super) mod tests {
    use opentelemetry::trace::{SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceState};
    use opentelemetry::InstrumentationScope;
    use opentelemetry_sdk::trace::{SpanEvents, SpanLinks};
    use std::time::SystemTime;

    use super::*;

    /// Span `id` of trace `trace`, child of `parent` (0: none); the tree's tests use it too.
    pub(in crate::telemetry::console) fn span(trace: u128, id: u64, parent: u64) -> SpanData {
        SpanData {
            span_context: SpanContext::new(
                TraceId::from(trace),
                SpanId::from(id),
                TraceFlags::SAMPLED,
                false,
                TraceState::default(),
            ),
            parent_span_id: SpanId::from(parent),
            parent_span_is_remote: false,
            span_kind: SpanKind::Internal,
            name: format!("span-{id}").into(),
            start_time: SystemTime::UNIX_EPOCH,
            end_time: SystemTime::UNIX_EPOCH,
            attributes: Vec::new(),
            dropped_attributes_count: 0,
            events: SpanEvents::default(),
            links: SpanLinks::default(),
            status: Status::Unset,
            instrumentation_scope: InstrumentationScope::default(),
        }
    }

    fn names(trace: &ReadyTrace) -> Vec<String> {
        trace.spans.iter().map(|span| span.name.to_string()).collect()
    }

    /// `count` spans of trace `trace` start at `at`.
    fn start(buffer: &mut TraceBuffer, trace: u128, count: usize, at: Instant) {
        for _ in 0..count {
            buffer.started(TraceId::from(trace), at);
        }
    }

    fn buffer() -> TraceBuffer {
        TraceBuffer::new(BufferLimits { max_spans: 4, max_age: Duration::from_secs(30) })
    }

    #[test]
    fn a_trace_is_ready_once_every_started_span_arrived_across_batches() {
        let mut buffer = buffer();
        let now = Instant::now();
        start(&mut buffer, 1, 3, now);
        assert!(buffer.arrived(vec![span(1, 3, 2)], now).is_empty());
        assert!(buffer.arrived(vec![span(1, 2, 1)], now).is_empty());
        let ready = buffer.arrived(vec![span(1, 1, 0)], now);
        assert_eq!(ready.len(), 1);
        assert_eq!(names(&ready[0]), ["span-3", "span-2", "span-1"]);
        assert_eq!(ready[0].incomplete, None);
        assert!(buffer.drain().is_empty(), "nothing is left behind");
    }

    #[test]
    fn a_child_that_outlives_its_root_completes_the_trace() {
        let mut buffer = buffer();
        let now = Instant::now();
        start(&mut buffer, 1, 2, now);
        assert!(buffer.arrived(vec![span(1, 1, 0)], now).is_empty(), "the root ended first, a child is open");
        let ready = buffer.arrived(vec![span(1, 2, 1)], now);
        assert_eq!(names(&ready[0]), ["span-1", "span-2"]);
    }

    #[test]
    fn a_server_span_with_a_local_remote_parent_waits_for_the_caller() {
        // The caller's root and client span, then the callee's server span whose remote parent is
        // the client span; the server span ends (and is exported) first.
        let mut buffer = buffer();
        let now = Instant::now();
        start(&mut buffer, 9, 3, now);
        let mut server = span(9, 3, 2);
        server.parent_span_is_remote = true;
        assert!(buffer.arrived(vec![server], now).is_empty());
        let ready = buffer.arrived(vec![span(9, 2, 1), span(9, 1, 0)], now);
        assert_eq!(ready.len(), 1, "one tree, not two");
        assert_eq!(names(&ready[0]).len(), 3);
    }

    #[test]
    fn traces_in_one_batch_are_told_apart() {
        let mut buffer = buffer();
        let now = Instant::now();
        start(&mut buffer, 1, 1, now);
        start(&mut buffer, 2, 2, now);
        let ready = buffer.arrived(vec![span(1, 1, 0), span(2, 5, 4)], now);
        assert_eq!(ready.len(), 1);
        assert_eq!(names(&ready[0]), ["span-1"]);
        let ready = buffer.arrived(vec![span(2, 4, 0)], now);
        assert_eq!(names(&ready[0]), ["span-5", "span-4"]);
    }

    #[test]
    fn a_root_that_never_ends_prints_its_children_at_shutdown_with_a_note() {
        let mut buffer = buffer();
        let now = Instant::now();
        start(&mut buffer, 1, 2, now);
        assert!(buffer.arrived(vec![span(1, 2, 1)], now).is_empty());
        let drained = buffer.drain();
        assert_eq!(drained.len(), 1);
        assert_eq!(names(&drained[0]), ["span-2"]);
        assert_eq!(drained[0].incomplete, Some(Incomplete::Flushed { open: 1 }));
        assert_eq!(
            drained[0].incomplete.map(|note| note.to_string()).as_deref(),
            Some("incomplete: 1 span still open at flush")
        );
    }

    #[test]
    fn a_trace_held_past_max_age_prints_when_the_next_batch_arrives() {
        let mut buffer = buffer();
        let begin = Instant::now();
        start(&mut buffer, 1, 2, begin);
        assert!(buffer.arrived(vec![span(1, 2, 1)], begin).is_empty());
        start(&mut buffer, 2, 1, begin + Duration::from_secs(31));
        let ready = buffer.arrived(vec![span(2, 7, 0)], begin + Duration::from_secs(31));
        assert_eq!(ready.len(), 2);
        assert_eq!(names(&ready[0]), ["span-7"]);
        assert_eq!(names(&ready[1]), ["span-2"]);
        let note = ready[1].incomplete.expect("expired note");
        assert_eq!(note, Incomplete::Expired { open: 1, max_age: Duration::from_secs(30) });
        assert!(note.to_string().contains("still open after 30s"), "{note}");
    }

    #[test]
    fn the_oldest_traces_print_when_the_span_bound_is_hit() {
        let mut buffer = buffer();
        let begin = Instant::now();
        for (trace, spans) in [(1, 3), (2, 3), (3, 2)] {
            start(&mut buffer, trace, spans, begin + Duration::from_secs(trace as u64));
        }
        let later = begin + Duration::from_secs(5);
        assert!(buffer.arrived(vec![span(1, 11, 10), span(1, 12, 10)], later).is_empty());
        assert!(buffer.arrived(vec![span(2, 21, 20)], later).is_empty());
        let ready = buffer.arrived(vec![span(3, 31, 30), span(2, 22, 20)], later);
        assert_eq!(ready.len(), 1, "5 held spans > 4: the oldest trace goes");
        assert_eq!(names(&ready[0]), ["span-11", "span-12"]);
        assert_eq!(ready[0].incomplete, Some(Incomplete::BufferFull { open: 1 }));
        let ready = buffer.arrived(vec![span(3, 30, 0)], later);
        assert_eq!(names(&ready[0]), ["span-31", "span-30"]);
    }

    #[test]
    fn a_span_starting_after_its_trace_printed_is_marked_continued() {
        let mut buffer = buffer();
        let now = Instant::now();
        start(&mut buffer, 1, 1, now);
        let ready = buffer.arrived(vec![span(1, 1, 0)], now);
        assert!(!ready[0].continued);
        start(&mut buffer, 1, 1, now);
        let ready = buffer.arrived(vec![span(1, 2, 1)], now);
        assert_eq!(names(&ready[0]), ["span-2"]);
        assert!(ready[0].continued);
    }

    /// A batch is as large as `OTEL_BSP_MAX_EXPORT_BATCH_SIZE` allows (a million): sorting it into
    /// traces takes time linear in it, not quadratic (minutes of the export thread, which OTLP
    /// exports share). The bound only catches a hang; it is not a performance figure.
    #[test]
    fn a_batch_of_two_hundred_thousand_traces_is_sorted_in_linear_time() {
        let mut buffer = TraceBuffer::new(BufferLimits::default());
        let now = Instant::now();
        let traces = 200_000_u128;
        let batch: Vec<SpanData> = (1..=traces).map(|trace| span(trace, 2, 1)).collect();
        let started = Instant::now();
        let ready = buffer.arrived(batch, now);
        assert_eq!(ready.len(), traces as usize, "spans nobody saw start print at once, one tree each");
        assert!(started.elapsed() < Duration::from_secs(30), "{:?}", started.elapsed());
    }

    #[test]
    fn untracked_traces_are_not_held_and_tracking_is_bounded() {
        let mut buffer = buffer();
        let now = Instant::now();
        let ready = buffer.arrived(vec![span(1, 2, 1)], now);
        assert_eq!(names(&ready[0]), ["span-2"], "a span nobody saw start prints at once");
        for trace in 10..20_u128 {
            buffer.started(TraceId::from(trace), now);
        }
        assert_eq!(buffer.traces.len(), 4, "at most max_spans traces are tracked");
    }
}
