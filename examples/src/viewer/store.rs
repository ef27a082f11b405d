//! Everything the viewer holds, bounded: spans grouped by trace (oldest traces evicted whole past the span limit),
//! log records (oldest evicted past the log limit), the latest point of each metric series (new series past the
//! series limit dropped). Every eviction and drop is counted.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use super::ingest::{Batch, LogRecord, MetricPoint, Span, TraceId};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_spans: usize,
    pub max_logs: usize,
    pub max_series: usize,
    /// Bytes held by spans (and, apart, by log records and by metric series), as [`Span::weight`] counts them.
    pub max_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_spans: 100_000, max_logs: 100_000, max_series: 10_000, max_bytes: 1024 * 1024 * 1024 }
    }
}

/// The spans of one trace, in arrival order.
#[derive(Debug)]
pub struct Trace {
    /// When the trace was first seen, in arrival order: eviction goes by it.
    pub arrival: u64,
    pub spans: Vec<Arc<Span>>,
}

/// Counters shown on the page and by `/api/stats`.
#[derive(Debug, Default, Clone, Copy, serde::Serialize)]
pub struct Counts {
    pub spans_received: u64,
    pub spans_rejected: u64,
    pub spans_evicted: u64,
    pub traces_evicted: u64,
    pub logs_received: u64,
    pub logs_rejected: u64,
    pub logs_evicted: u64,
    pub points_received: u64,
    pub points_rejected: u64,
    pub series_dropped: u64,
}

/// The identity of a metric series: name, service and attribute set (rendered as sorted `key=value` text).
pub type SeriesKey = (Arc<str>, Arc<str>, String);

#[derive(Debug, Default)]
pub struct Data {
    pub traces: HashMap<TraceId, Trace>,
    /// Trace ids by arrival; an entry whose trace was evicted is skipped.
    pub arrivals: VecDeque<(u64, TraceId)>,
    next_arrival: u64,
    pub span_count: usize,
    /// What the stored spans weigh ([`Span::weight`]).
    pub span_bytes: usize,
    /// What the stored log records weigh ([`LogRecord::weight`]).
    pub log_bytes: usize,
    /// What the stored series weigh: their keys and latest points ([`MetricPoint::weight`]).
    pub series_bytes: usize,
    /// Spans stored per service name, kept with the store (a service whose spans were all evicted is removed).
    pub services: BTreeMap<String, u64>,
    pub logs: VecDeque<Arc<LogRecord>>,
    pub series: BTreeMap<SeriesKey, MetricPoint>,
    pub counts: Counts,
}

#[derive(Debug, Default)]
pub struct Store {
    limits: Limits,
    data: RwLock<Data>,
}

impl Store {
    pub fn new(limits: Limits) -> Self {
        let limits = Limits {
            max_spans: limits.max_spans.max(1),
            max_logs: limits.max_logs.max(1),
            max_series: limits.max_series.max(1),
            max_bytes: limits.max_bytes.max(1),
        };
        Store { limits, data: RwLock::default() }
    }

    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Read access for queries. A panic while holding the lock cannot leave the data half-updated in a way
    /// that matters to a viewer, so a poisoned lock is used as is.
    pub fn read(&self) -> RwLockReadGuard<'_, Data> {
        self.data.read().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, Data> {
        self.data.write().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub fn add_spans(&self, batch: Batch<Span>) {
        let mut guard = self.write();
        let data = &mut *guard;
        data.counts.spans_received += batch.items.len() as u64;
        data.counts.spans_rejected += batch.rejected.unsigned_abs();
        for span in batch.items {
            let arrival = data.next_arrival;
            let trace_id = span.trace_id;
            data.span_bytes += span.weight();
            match data.services.get_mut(&*span.origin.service) {
                Some(count) => *count += 1,
                None => {
                    data.services.insert(span.origin.service.to_string(), 1);
                }
            }
            let trace = data.traces.entry(trace_id).or_insert_with(|| Trace { arrival, spans: Vec::new() });
            let new = trace.spans.is_empty();
            trace.spans.push(Arc::new(span));
            if new {
                data.arrivals.push_back((arrival, trace_id));
                data.next_arrival += 1;
            }
            data.span_count += 1;
        }
        while data.span_count > self.limits.max_spans || data.span_bytes > self.limits.max_bytes {
            let Some((arrival, trace_id)) = data.arrivals.pop_front() else { break };
            if data.traces.get(&trace_id).is_some_and(|trace| trace.arrival == arrival) {
                let trace = data.traces.remove(&trace_id).expect("just seen");
                data.span_count -= trace.spans.len();
                for span in &trace.spans {
                    data.span_bytes -= span.weight();
                    if let Some(count) = data.services.get_mut(&*span.origin.service) {
                        *count -= 1;
                        if *count == 0 {
                            data.services.remove(&*span.origin.service);
                        }
                    }
                }
                data.counts.spans_evicted += trace.spans.len() as u64;
                data.counts.traces_evicted += 1;
            }
        }
    }

    pub fn add_logs(&self, batch: Batch<LogRecord>) {
        let mut data = self.write();
        data.counts.logs_received += batch.items.len() as u64;
        data.counts.logs_rejected += batch.rejected.unsigned_abs();
        for record in batch.items {
            data.log_bytes += record.weight();
            data.logs.push_back(Arc::new(record));
        }
        while data.logs.len() > self.limits.max_logs || data.log_bytes > self.limits.max_bytes {
            let Some(oldest) = data.logs.pop_front() else { break };
            data.log_bytes -= oldest.weight();
            data.counts.logs_evicted += 1;
        }
    }

    /// Keeps the latest point of each series (by point time; a later arrival wins a tie). A new series past the
    /// series or byte limit is dropped, and so is a point that would take the series' bytes past the limit.
    pub fn add_metrics(&self, batch: Batch<MetricPoint>) {
        let mut guard = self.write();
        let data = &mut *guard;
        data.counts.points_received += batch.items.len() as u64;
        data.counts.points_rejected += batch.rejected.unsigned_abs();
        for point in batch.items {
            let mut attributes: Vec<String> = point.attributes.iter().map(|(k, v)| format!("{k}={v}")).collect();
            attributes.sort_unstable();
            let key = (Arc::clone(&point.name), Arc::clone(&point.service), attributes.join(","));
            let weight = std::mem::size_of::<SeriesKey>() + key.2.len() + point.weight();
            let (held, fits) = match data.series.get(&key) {
                Some(latest) if latest.time > point.time => continue,
                Some(latest) => {
                    let held = data.series_bytes - (std::mem::size_of::<SeriesKey>() + key.2.len() + latest.weight());
                    (held, true)
                }
                None => (data.series_bytes, data.series.len() < self.limits.max_series),
            };
            if !fits || held + weight > self.limits.max_bytes {
                data.counts.series_dropped += 1;
                continue;
            }
            data.series_bytes = held + weight;
            data.series.insert(key, point);
        }
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::super::ingest::Origin;
    use super::*;

    pub(in super::super) fn span(trace: u8, id: u8) -> Span {
        Span {
            trace_id: [trace; 16],
            span_id: [id; 8],
            parent: None,
            name: "s".into(),
            kind: 2,
            start: 1,
            end: 2,
            attributes: Vec::new(),
            dropped_attributes: 0,
            events: Vec::new(),
            dropped_events: 0,
            links: Vec::new(),
            dropped_links: 0,
            status_code: 0,
            status_message: String::new(),
            origin: Arc::new(Origin::new("svc".into(), Arc::default(), String::new())),
        }
    }

    fn batch(spans: Vec<Span>) -> Batch<Span> {
        Batch { items: spans, rejected: 0 }
    }

    #[test]
    fn oldest_traces_go_first_and_are_counted() {
        let store = Store::new(Limits { max_spans: 5, ..Limits::default() });
        store.add_spans(batch(vec![span(1, 1), span(1, 2), span(2, 1)]));
        store.add_spans(batch(vec![span(3, 1), span(3, 2)]));
        assert_eq!(store.read().span_count, 5);
        // Trace 1 came first: its two spans go, trace 2 and 3 stay.
        store.add_spans(batch(vec![span(4, 1)]));
        let data = store.read();
        assert_eq!(data.span_count, 4);
        assert!(!data.traces.contains_key(&[1; 16]));
        assert!(data.traces.contains_key(&[2; 16]) && data.traces.contains_key(&[4; 16]));
        assert_eq!((data.counts.spans_evicted, data.counts.traces_evicted), (2, 1));
        assert_eq!(data.services.get("svc"), Some(&4), "the per-service count follows eviction");
        assert_eq!(data.counts.spans_received, 6);
    }

    #[test]
    fn a_late_span_joins_its_trace_without_moving_it() {
        let store = Store::new(Limits { max_spans: 3, ..Limits::default() });
        store.add_spans(batch(vec![span(1, 1), span(2, 1)]));
        store.add_spans(batch(vec![span(1, 2)]));
        store.add_spans(batch(vec![span(3, 1)]));
        let data = store.read();
        assert_eq!(data.traces.len(), 2, "trace 1, the oldest, was evicted whole");
        assert!(!data.traces.contains_key(&[1; 16]));
        assert_eq!(data.span_count, 2);
    }

    #[test]
    fn the_bound_holds_under_many_batches() {
        let store = Store::new(Limits { max_spans: 100, ..Limits::default() });
        for trace in 0..=255u8 {
            store.add_spans(batch((1..=3).map(|id| span(trace, id)).collect()));
            assert!(store.read().span_count <= 100);
        }
        let data = store.read();
        assert_eq!(data.counts.spans_evicted + data.span_count as u64, 256 * 3);
        assert!(data.arrivals.len() <= data.traces.len() + 1);
        let weight: usize = data.traces.values().flat_map(|t| t.spans.iter()).map(|s| s.weight()).sum();
        assert_eq!(data.span_bytes, weight, "the bytes follow eviction");
    }

    #[test]
    fn spans_sharing_a_large_resource_are_stored_in_linear_work() {
        use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
        use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, ArrayValue, KeyValue};
        use opentelemetry_proto::tonic::resource::v1::Resource;
        use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span as ProtoSpan};
        let array =
            |values: Vec<AnyValue>| AnyValue { value: Some(any_value::Value::ArrayValue(ArrayValue { values })) };
        let leaf = AnyValue { value: Some(any_value::Value::BoolValue(true)) };
        // 128 * 128 * 16 values in one resource attribute, shared by 20,000 spans: weighing the resource again for
        // each span stored (and each evicted) walked 5 billion values with the store locked.
        let nested = array(vec![array(vec![array(vec![leaf; 16]); 128]); 128]);
        let attributes = vec![KeyValue { key: "nested".into(), value: Some(nested), ..Default::default() }];
        let spans = (0..20_000u32)
            .map(|n| {
                let trace_id = [n.to_be_bytes().as_slice(), &[1; 12]].concat();
                ProtoSpan { trace_id, span_id: vec![1; 8], ..Default::default() }
            })
            .collect();
        let request = ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                resource: Some(Resource { attributes, ..Default::default() }),
                scope_spans: vec![ScopeSpans { spans, ..Default::default() }],
                ..Default::default()
            }],
        };
        let store = Arc::new(Store::new(Limits { max_spans: 10_000, ..Limits::default() }));
        let (done, finished) = std::sync::mpsc::channel();
        let stored = Arc::clone(&store);
        std::thread::spawn(move || {
            stored.add_spans(super::super::ingest::spans(request));
            let _ = done.send(());
        });
        finished.recv_timeout(std::time::Duration::from_secs(20)).expect("20,000 spans stored within 20 s");
        let data = store.read();
        assert!(data.span_count > 0 && data.span_bytes <= store.limits().max_bytes);
        assert_eq!(data.span_count as u64 + data.counts.spans_evicted, 20_000);
    }

    #[test]
    fn logs_and_series_are_bounded() {
        let store = Store::new(Limits { max_spans: 1, max_logs: 2, max_series: 1, ..Limits::default() });
        let origin = Arc::new(Origin::new("svc".into(), Arc::default(), String::new()));
        let log = |time| LogRecord {
            time,
            severity: "INFO".into(),
            body: serde_json::Value::Null,
            attributes: Vec::new(),
            trace_id: None,
            span_id: None,
            origin: Arc::clone(&origin),
        };
        store.add_logs(Batch { items: vec![log(1), log(2), log(3)], rejected: 0 });
        let point = |name: &str, time| MetricPoint {
            name: name.into(),
            unit: "".into(),
            description: "".into(),
            service: "svc".into(),
            attributes: Vec::new(),
            time,
            value: super::super::ingest::PointValue::Gauge { value: 1.0 },
        };
        store.add_metrics(Batch { items: vec![point("a", 1), point("a", 2), point("b", 1)], rejected: 0 });
        let data = store.read();
        assert_eq!(data.logs.iter().map(|l| l.time).collect::<Vec<_>>(), [2, 3]);
        assert_eq!(data.counts.logs_evicted, 1);
        assert_eq!(data.series.len(), 1);
        assert_eq!(data.series.values().next().map(|p| p.time), Some(2), "the latest point of `a`");
        assert_eq!(data.counts.series_dropped, 1);
    }

    #[test]
    fn log_records_are_bounded_in_bytes_too() {
        let origin = Arc::new(Origin::new("svc".into(), Arc::default(), String::new()));
        let log = |time| LogRecord {
            time,
            severity: "INFO".into(),
            body: serde_json::Value::String("x".repeat(1000)),
            attributes: Vec::new(),
            trace_id: None,
            span_id: None,
            origin: Arc::clone(&origin),
        };
        let weight = log(0).weight();
        let store = Store::new(Limits { max_bytes: 3 * weight, ..Limits::default() });
        store.add_logs(Batch { items: (1..=5).map(log).collect(), rejected: 0 });
        let data = store.read();
        assert_eq!(data.logs.iter().map(|l| l.time).collect::<Vec<_>>(), [3, 4, 5], "the oldest went");
        assert_eq!((data.log_bytes, data.counts.logs_evicted), (3 * weight, 2));
    }
}
