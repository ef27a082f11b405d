//! Read-only views over the store, as the pages show them: services with RED figures per operation and time
//! series, trace lists with filters, one trace as a tree with its logs, metrics by series. Each is one pass over
//! what the store holds (no index to keep consistent with eviction).

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;
use serde_json::Value;

use super::ingest::{hex, parse_trace_id, Attributes, Span, SpanId};
use super::store::{Counts, Data, Limits};

const SERVER: i32 = 2;
/// Services on the services view and in `/api/stats`, and operations per service: past them a view would grow with
/// the names a sender makes up (each a page section with its charts), so the busiest are shown and the rest counted.
pub const MAX_SHOWN: usize = 100;
const NANOS_PER_MS: f64 = 1e6;

/// What the services page asks for.
#[derive(Debug, Clone, Copy)]
pub struct ServicesQuery {
    pub now: u64,
    pub window_seconds: u64,
    /// Every span name, not only SERVER spans.
    pub all_kinds: bool,
    pub buckets: usize,
}

#[derive(Debug, Serialize, PartialEq)]
pub struct Red {
    pub requests: u64,
    pub errors: u64,
    pub rate_per_second: f64,
    pub error_rate: f64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
}

#[derive(Debug, Serialize)]
pub struct Operation {
    pub name: String,
    #[serde(flatten)]
    pub red: Red,
}

#[derive(Debug, Serialize)]
pub struct Bucket {
    pub start_unix_nano: u64,
    pub requests: u64,
    pub errors: u64,
    pub p99_ms: f64,
}

#[derive(Debug, Serialize)]
pub struct Service {
    pub name: String,
    /// Spans of the service in the store, whatever their time.
    pub spans_stored: u64,
    #[serde(flatten)]
    pub red: Red,
    pub operations: Vec<Operation>,
    /// Operations past [`MAX_SHOWN`], the least busy.
    pub operations_not_shown: usize,
    pub series: Vec<Bucket>,
}

#[derive(Debug, Serialize)]
pub struct ServicesView {
    pub window_seconds: u64,
    pub bucket_seconds: f64,
    pub services: Vec<Service>,
    /// Services past [`MAX_SHOWN`], the least busy.
    pub services_not_shown: usize,
}

#[derive(Default)]
struct Samples {
    durations: Vec<u64>,
    errors: u64,
}

impl Samples {
    fn add(&mut self, span: &Span) {
        self.durations.push(span.duration_nanos());
        self.errors += u64::from(span.is_error());
    }

    fn red(mut self, seconds: f64) -> Red {
        self.durations.sort_unstable();
        let requests = self.durations.len() as u64;
        let ms = |q| percentile(&self.durations, q) as f64 / NANOS_PER_MS;
        Red {
            requests,
            errors: self.errors,
            rate_per_second: requests as f64 / seconds,
            error_rate: if requests == 0 { 0.0 } else { self.errors as f64 / requests as f64 },
            p50_ms: ms(0.50),
            p95_ms: ms(0.95),
            p99_ms: ms(0.99),
        }
    }
}

/// The [`MAX_SHOWN`] busiest of `names` (most requests, then most spans stored, then by name), and how many others.
fn busiest<'a>(names: impl Iterator<Item = (&'a str, usize, u64)>) -> (std::collections::HashSet<&'a str>, usize) {
    let mut ranked: Vec<(&str, usize, u64)> = names.collect();
    let others = ranked.len().saturating_sub(MAX_SHOWN);
    if others > 0 {
        ranked.select_nth_unstable_by(MAX_SHOWN - 1, |a, b| (b.1, b.2).cmp(&(a.1, a.2)).then(a.0.cmp(b.0)));
        ranked.truncate(MAX_SHOWN);
    }
    (ranked.into_iter().map(|(name, _, _)| name).collect(), others)
}

/// Nearest-rank percentile of sorted values; 0 for none.
pub fn percentile(sorted: &[u64], quantile: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = (quantile * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// RED per service and per operation (span name) over the spans that ended in `[now - window, now]`.
pub fn services(data: &Data, query: ServicesQuery) -> ServicesView {
    let window = query.window_seconds.max(1).saturating_mul(1_000_000_000);
    let from = query.now.saturating_sub(window);
    let buckets = query.buckets.clamp(1, 240) as u64;
    let bucket_nanos = (window / buckets).max(1);
    let mut per_operation: HashMap<(&str, &str), Samples> = HashMap::new();
    let mut per_service: HashMap<&str, Samples> = HashMap::new();
    let mut per_bucket: HashMap<&str, Vec<Samples>> = HashMap::new();
    let in_window = |span: &Span| (query.all_kinds || span.kind == SERVER) && span.end >= from && span.end <= query.now;
    let spans = || data.traces.values().flat_map(|trace| trace.spans.iter()).filter(|span| in_window(span));
    for span in spans() {
        per_operation.entry((&*span.origin.service, span.name.as_str())).or_default().add(span);
        per_service.entry(&*span.origin.service).or_default().add(span);
    }
    let requests = |name: &str| per_service.get(name).map_or(0, |samples| samples.durations.len());
    let (shown, services_not_shown) =
        busiest(data.services.iter().map(|(name, stored)| (name.as_str(), requests(name), *stored)));
    // Time series for the services shown only: they cost `buckets` slots each.
    for span in spans().filter(|span| shown.contains(&*span.origin.service)) {
        let slots = per_bucket
            .entry(&*span.origin.service)
            .or_insert_with(|| (0..buckets).map(|_| Samples::default()).collect());
        let slot = ((span.end - from) / bucket_nanos).min(buckets - 1);
        slots[slot as usize].add(span);
    }
    let seconds = query.window_seconds.max(1) as f64;
    let mut operations: HashMap<&str, Vec<(&str, Samples)>> = HashMap::new();
    for ((service, name), samples) in per_operation {
        operations.entry(service).or_default().push((name, samples));
    }
    let services = data
        .services
        .iter()
        .filter(|(name, _)| shown.contains(name.as_str()))
        .map(|(name, spans_stored)| {
            let name = name.as_str();
            let mut all = operations.remove(name).unwrap_or_default();
            let (busy, operations_not_shown) =
                busiest(all.iter().map(|(operation, samples)| (*operation, samples.durations.len(), 0)));
            all.retain(|(operation, _)| busy.contains(operation));
            let mut operations: Vec<Operation> = all
                .into_iter()
                .map(|(name, samples)| Operation { name: name.to_owned(), red: samples.red(seconds) })
                .collect();
            operations.sort_by(|a, b| a.name.cmp(&b.name));
            let series = per_bucket
                .remove(name)
                .unwrap_or_default()
                .into_iter()
                .enumerate()
                .map(|(index, samples)| {
                    let red = samples.red(1.0);
                    Bucket {
                        start_unix_nano: from + index as u64 * bucket_nanos,
                        requests: red.requests,
                        errors: red.errors,
                        p99_ms: red.p99_ms,
                    }
                })
                .collect();
            Service {
                name: name.to_owned(),
                spans_stored: *spans_stored,
                red: per_service.remove(name).unwrap_or_default().red(seconds),
                operations,
                operations_not_shown,
                series,
            }
        })
        .collect();
    ServicesView {
        window_seconds: query.window_seconds,
        bucket_seconds: bucket_nanos as f64 / 1e9,
        services,
        services_not_shown,
    }
}

/// The trace search; a trace matches when one of its spans matches every filter given.
#[derive(Debug, Default, Clone, serde::Deserialize)]
pub struct TraceFilter {
    pub service: Option<String>,
    pub name: Option<String>,
    #[serde(default)]
    pub errors: bool,
    pub min_ms: Option<f64>,
    /// `key=value`: an attribute of the span (or of its resource) with that value.
    pub attr: Option<String>,
    /// A trace id (e.g. the `request_id` of an error response): that trace only.
    pub trace_id: Option<String>,
    pub limit: Option<usize>,
}

#[derive(Debug, Serialize)]
pub struct TraceSummary {
    pub trace_id: String,
    pub root_service: String,
    pub root_name: String,
    pub start_unix_nano: u64,
    pub duration_ms: f64,
    pub span_count: usize,
    pub errors: usize,
    pub services: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct TraceList {
    pub traces: Vec<TraceSummary>,
    /// Traces matching, before the limit.
    pub matched: usize,
}

fn text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

fn has_attribute(attributes: &Attributes, key: &str, value: &str) -> bool {
    attributes.iter().any(|(k, v)| k == key && text(v) == value)
}

impl TraceFilter {
    fn matches(&self, span: &Span) -> bool {
        let blank =
            |value: &Option<String>| value.as_deref().map(str::trim).filter(|v| !v.is_empty()).map(str::to_owned);
        if blank(&self.service).is_some_and(|service| *span.origin.service != *service) {
            return false;
        }
        if blank(&self.name).is_some_and(|name| span.name != name) {
            return false;
        }
        if self.errors && !span.is_error() {
            return false;
        }
        if self.min_ms.is_some_and(|min| (span.duration_nanos() as f64) < min * NANOS_PER_MS) {
            return false;
        }
        if let Some(attr) = blank(&self.attr) {
            let (key, value) = attr.split_once('=').unwrap_or((attr.as_str(), ""));
            let (key, value) = (key.trim(), value.trim());
            if !has_attribute(&span.attributes, key, value) && !has_attribute(&span.origin.resource, key, value) {
                return false;
            }
        }
        true
    }
}

pub fn traces(data: &Data, filter: &TraceFilter) -> TraceList {
    let limit = filter.limit.unwrap_or(50).clamp(1, 1000);
    let wanted = filter.trace_id.as_deref().filter(|id| !id.trim().is_empty());
    if let Some(id) = wanted {
        let found = parse_trace_id(id).and_then(|id| data.traces.get(&id));
        let traces: Vec<TraceSummary> = found.map(|trace| summary(&trace.spans)).into_iter().collect();
        return TraceList { matched: traces.len(), traces };
    }
    let mut matched = 0;
    let mut traces = Vec::new();
    // Newest first: the arrival order, read from its end.
    for (_, trace_id) in data.arrivals.iter().rev() {
        let Some(trace) = data.traces.get(trace_id) else { continue };
        if trace.spans.iter().any(|span| filter.matches(span)) {
            matched += 1;
            if traces.len() < limit {
                traces.push(summary(&trace.spans));
            }
        }
    }
    TraceList { traces, matched }
}

fn summary(spans: &[std::sync::Arc<Span>]) -> TraceSummary {
    let start = spans.iter().map(|s| s.start).min().unwrap_or(0);
    let end = spans.iter().map(|s| s.end).max().unwrap_or(0);
    let ids: std::collections::HashSet<SpanId> = spans.iter().map(|s| s.span_id).collect();
    // The root: no parent, else the earliest span whose parent has not arrived.
    let root = spans
        .iter()
        .filter(|s| s.parent.is_none())
        .chain(spans.iter().filter(|s| s.parent.is_some_and(|p| !ids.contains(&p))))
        .min_by_key(|s| (s.parent.is_some(), s.start))
        .or_else(|| spans.iter().min_by_key(|s| s.start));
    let mut services: Vec<String> = spans.iter().map(|s| s.origin.service.to_string()).collect();
    services.sort_unstable();
    services.dedup();
    TraceSummary {
        trace_id: spans.first().map(|s| hex(&s.trace_id)).unwrap_or_default(),
        root_service: root.map(|s| s.origin.service.to_string()).unwrap_or_default(),
        root_name: root.map(|s| s.name.clone()).unwrap_or_default(),
        start_unix_nano: start,
        duration_ms: end.saturating_sub(start) as f64 / NANOS_PER_MS,
        span_count: spans.len(),
        errors: spans.iter().filter(|s| s.is_error()).count(),
        services,
    }
}

#[derive(Debug, Serialize)]
pub struct EventView {
    pub name: String,
    pub offset_ms: f64,
    pub attributes: BTreeMap<String, Value>,
}

#[derive(Debug, Serialize)]
pub struct SpanView {
    pub span_id: String,
    pub parent_span_id: Option<String>,
    /// The parent is named but not (or no longer) in the store.
    pub missing_parent: bool,
    pub depth: usize,
    pub name: String,
    pub service: String,
    pub scope: String,
    pub kind: &'static str,
    pub offset_ms: f64,
    pub duration_ms: f64,
    pub status: &'static str,
    pub status_message: String,
    pub attributes: BTreeMap<String, Value>,
    pub dropped_attributes: u32,
    pub events: Vec<EventView>,
    pub dropped_events: u32,
    pub links: Vec<Value>,
    pub dropped_links: u32,
    pub resource: BTreeMap<String, Value>,
}

#[derive(Debug, Serialize)]
pub struct LogView {
    pub time_unix_nano: u64,
    pub offset_ms: f64,
    pub severity: String,
    pub body: Value,
    pub service: String,
    pub span_id: Option<String>,
    pub attributes: BTreeMap<String, Value>,
}

#[derive(Debug, Serialize)]
pub struct TraceView {
    #[serde(flatten)]
    pub summary: TraceSummary,
    /// Depth-first, children by start time: the waterfall's rows.
    pub spans: Vec<SpanView>,
    pub logs: Vec<LogView>,
}

fn map(attributes: &Attributes) -> BTreeMap<String, Value> {
    attributes.iter().cloned().collect()
}

fn kind_name(kind: i32) -> &'static str {
    match kind {
        1 => "internal",
        2 => "server",
        3 => "client",
        4 => "producer",
        5 => "consumer",
        _ => "unspecified",
    }
}

fn status_name(code: i32) -> &'static str {
    match code {
        1 => "ok",
        2 => "error",
        _ => "unset",
    }
}

pub fn trace(data: &Data, id: &str) -> Option<TraceView> {
    let trace_id = parse_trace_id(id)?;
    let spans = &data.traces.get(&trace_id)?.spans;
    let summary = summary(spans);
    let ids: std::collections::HashSet<SpanId> = spans.iter().map(|s| s.span_id).collect();
    let mut children: HashMap<Option<SpanId>, Vec<&Span>> = HashMap::new();
    for span in spans {
        let parent = span.parent.filter(|parent| ids.contains(parent) && *parent != span.span_id);
        children.entry(parent).or_default().push(span);
    }
    for list in children.values_mut() {
        list.sort_by_key(|s| (s.start, s.end));
    }
    let origin = summary.start_unix_nano;
    let offset = |time: u64| time.saturating_sub(origin) as f64 / NANOS_PER_MS;
    let mut rows = Vec::with_capacity(spans.len());
    let mut stack: Vec<(&Span, usize)> = children.get(&None).into_iter().flatten().rev().map(|s| (*s, 0)).collect();
    // Spans in a parent cycle have no root above them: they come last, each as a root.
    let mut leftovers: Vec<&Span> = spans.iter().map(|s| &**s).collect();
    leftovers.sort_by_key(|s| std::cmp::Reverse(s.start));
    let mut seen = std::collections::HashSet::new();
    // The children of an id that several spans share hang under the first of them shown: listed again under each
    // of the others, they were skipped once each, N * M times for N spans sharing an id with M children.
    let mut expanded = std::collections::HashSet::new();
    while let Some((span, depth)) = stack.pop().or_else(|| leftovers.pop().map(|s| (s, 0))) {
        // A span reached twice (shared ids, cycles) is shown once.
        if !seen.insert(span as *const Span) {
            continue;
        }
        if let Some(list) = children.get(&Some(span.span_id)).filter(|_| expanded.insert(span.span_id)) {
            stack.extend(list.iter().rev().map(|child| (*child, depth + 1)));
        }
        rows.push(SpanView {
            span_id: hex(&span.span_id),
            parent_span_id: span.parent.map(|p| hex(&p)),
            missing_parent: span.parent.is_some_and(|p| !ids.contains(&p)),
            depth,
            name: span.name.clone(),
            service: span.origin.service.to_string(),
            scope: span.origin.scope.clone(),
            kind: kind_name(span.kind),
            offset_ms: offset(span.start),
            duration_ms: span.duration_nanos() as f64 / NANOS_PER_MS,
            status: status_name(span.status_code),
            status_message: span.status_message.clone(),
            attributes: map(&span.attributes),
            dropped_attributes: span.dropped_attributes,
            events: span
                .events
                .iter()
                .map(|e| EventView { name: e.name.clone(), offset_ms: offset(e.time), attributes: map(&e.attributes) })
                .collect(),
            dropped_events: span.dropped_events,
            links: span
                .links
                .iter()
                .map(|l| serde_json::json!({"trace_id": l.trace_id, "span_id": l.span_id, "attributes": map(&l.attributes)}))
                .collect(),
            dropped_links: span.dropped_links,
            resource: map(&span.origin.resource),
        });
    }
    let mut logs: Vec<LogView> = data
        .logs
        .iter()
        .filter(|log| log.trace_id == Some(trace_id))
        .map(|log| LogView {
            time_unix_nano: log.time,
            offset_ms: log.time.saturating_sub(origin) as f64 / NANOS_PER_MS,
            severity: log.severity.clone(),
            body: log.body.clone(),
            service: log.origin.service.to_string(),
            span_id: log.span_id.map(|id| hex(&id)),
            attributes: map(&log.attributes),
        })
        .collect();
    logs.sort_by_key(|log| log.time_unix_nano);
    Some(TraceView { summary, spans: rows, logs })
}

#[derive(Debug, Serialize)]
pub struct SeriesView {
    pub service: String,
    pub attributes: BTreeMap<String, Value>,
    pub time_unix_nano: u64,
    pub value: super::ingest::PointValue,
}

#[derive(Debug, Serialize)]
pub struct MetricView {
    pub name: String,
    pub unit: String,
    pub description: String,
    pub series: Vec<SeriesView>,
}

pub fn metrics(data: &Data) -> Vec<MetricView> {
    let mut views: Vec<MetricView> = Vec::new();
    // The store's keys sort by metric name first: one view per run of equal names.
    for point in data.series.values() {
        if views.last().is_none_or(|view| *view.name != *point.name) {
            views.push(MetricView {
                name: point.name.to_string(),
                unit: point.unit.to_string(),
                description: point.description.to_string(),
                series: Vec::new(),
            });
        }
        if let Some(view) = views.last_mut() {
            view.series.push(SeriesView {
                service: point.service.to_string(),
                attributes: map(&point.attributes),
                time_unix_nano: point.time,
                value: point.value.clone(),
            });
        }
    }
    views
}

#[derive(Debug, Serialize)]
pub struct Stats {
    pub spans: usize,
    pub traces: usize,
    pub logs: usize,
    pub series: usize,
    pub max_spans: usize,
    pub max_logs: usize,
    pub max_series: usize,
    pub span_bytes: usize,
    pub log_bytes: usize,
    pub series_bytes: usize,
    pub max_bytes: usize,
    /// Services with spans in the store, by name: the first [`MAX_SHOWN`].
    pub services: Vec<String>,
    /// Services with spans in the store.
    pub services_total: usize,
    #[serde(flatten)]
    pub counts: Counts,
}

pub fn stats(data: &Data, limits: Limits) -> Stats {
    Stats {
        spans: data.span_count,
        traces: data.traces.len(),
        logs: data.logs.len(),
        series: data.series.len(),
        max_spans: limits.max_spans,
        max_logs: limits.max_logs,
        max_series: limits.max_series,
        span_bytes: data.span_bytes,
        log_bytes: data.log_bytes,
        series_bytes: data.series_bytes,
        max_bytes: limits.max_bytes,
        services: data.services.keys().take(MAX_SHOWN).cloned().collect(),
        services_total: data.services.len(),
        counts: data.counts,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Trace `01…01` of spans with these ids and parents.
    fn trace_of(spans: impl Iterator<Item = (SpanId, Option<SpanId>)>) -> Data {
        let spans = spans
            .map(|(span_id, parent)| {
                std::sync::Arc::new(Span { span_id, parent, ..super::super::store::tests::span(1, 1) })
            })
            .collect();
        let mut data = Data::default();
        data.traces.insert([1; 16], super::super::store::Trace { arrival: 0, spans });
        data
    }

    #[test]
    fn a_trace_whose_spans_share_ids_is_laid_out_in_linear_work() {
        // A root, 30,000 spans sharing one id under it, 30,000 more under that id: their children were walked
        // under each of the 30,000, 900 million steps, minutes with the store locked.
        let many = 30_000;
        let (root, shared, leaf) = ([1; 8], [2; 8], [3; 8]);
        let spans = std::iter::once((root, None))
            .chain(std::iter::repeat_n((shared, Some(root)), many))
            .chain(std::iter::repeat_n((leaf, Some(shared)), many));
        let data = trace_of(spans);
        let (done, finished) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = done.send(trace(&data, &hex(&[1; 16])).map(|view| view.spans));
        });
        let rows = finished
            .recv_timeout(std::time::Duration::from_secs(20))
            .expect("the waterfall of 60,001 spans within 20 s")
            .expect("the trace is found");
        assert_eq!(rows.len(), 2 * many + 1, "every span once");
        assert_eq!(rows.iter().filter(|row| row.depth == 2).count(), many, "the leaves under the shared id");
    }

    #[test]
    fn nearest_rank_percentiles() {
        let values: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&values, 0.5), 50);
        assert_eq!(percentile(&values, 0.99), 99);
        assert_eq!(percentile(&values, 1.0), 100);
        assert_eq!(percentile(&[7], 0.5), 7);
        assert_eq!(percentile(&[], 0.5), 0);
    }
}
