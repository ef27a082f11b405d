//! What the receiver got, shared between the server and the test, with waiting on change.

use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;

use super::received::{ReceivedLog, ReceivedMetric, ReceivedRequest, ReceivedSpan, Signal};

#[derive(Debug, Default)]
pub(super) struct Store {
    state: Mutex<State>,
    changed: Condvar,
    notify: tokio::sync::Notify,
}

#[derive(Debug, Default)]
pub(super) struct State {
    requests: Vec<ReceivedRequest>,
    spans: Vec<ReceivedSpan>,
    metrics: Vec<ReceivedMetric>,
    logs: Vec<ReceivedLog>,
    refused: Vec<(Signal, usize)>,
    rejected_items: u64,
}

impl State {
    pub(super) fn span_count(&self) -> usize {
        self.spans.len()
    }

    pub(super) fn log_count(&self) -> usize {
        self.logs.len()
    }

    pub(super) fn has_metric(&self, name: &str) -> bool {
        self.metrics.iter().any(|metric| metric.name() == name)
    }
}

/// One decoded export, ready to be stored.
pub(super) enum Export {
    Traces(ExportTraceServiceRequest),
    Metrics(ExportMetricsServiceRequest),
    Logs(ExportLogsServiceRequest),
}

impl Store {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A request refused whole: counted, its items not recorded.
    pub(super) fn refuse(&self, signal: Signal, items: usize) {
        self.lock().refused.push((signal, items));
        self.changed.notify_all();
        self.notify.notify_waiters();
    }

    pub(super) fn refused(&self) -> Vec<(Signal, usize)> {
        self.lock().refused.clone()
    }

    pub(super) fn rejected_items(&self) -> u64 {
        self.lock().rejected_items
    }

    /// A request accepted with a partial success rejecting `rejected` of its items: all are recorded
    /// (a receiver cannot tell which), the rejected count is kept apart.
    pub(super) fn record_partial(&self, request: ReceivedRequest, export: Export, rejected: i64) {
        self.lock().rejected_items += rejected.max(0) as u64;
        self.record(request, export);
    }

    pub(super) fn record(&self, request: ReceivedRequest, export: Export) {
        {
            let mut state = self.lock();
            state.requests.push(request);
            match export {
                Export::Traces(traces) => state.spans.extend(ReceivedSpan::flatten(traces)),
                Export::Metrics(metrics) => state.metrics.extend(ReceivedMetric::flatten(metrics)),
                Export::Logs(logs) => state.logs.extend(ReceivedLog::flatten(logs)),
            }
        }
        self.changed.notify_all();
        self.notify.notify_waiters();
    }

    pub(super) fn spans(&self) -> Vec<ReceivedSpan> {
        self.lock().spans.clone()
    }

    pub(super) fn metrics(&self) -> Vec<ReceivedMetric> {
        self.lock().metrics.clone()
    }

    pub(super) fn logs(&self) -> Vec<ReceivedLog> {
        self.lock().logs.clone()
    }

    pub(super) fn requests(&self) -> Vec<ReceivedRequest> {
        self.lock().requests.clone()
    }

    pub(super) async fn wait_until(&self, timeout: Duration, done: impl Fn(&State) -> bool) {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.notify.notified();
            if done(&self.lock()) {
                return;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return;
            }
        }
    }

    pub(super) fn wait_until_blocking(&self, timeout: Duration, done: impl Fn(&State) -> bool) {
        let deadline = Instant::now() + timeout;
        let mut state = self.lock();
        while !done(&state) {
            let Some(remaining) = deadline.checked_duration_since(Instant::now()) else { return };
            state = match self.changed.wait_timeout(state, remaining) {
                Ok((state, _)) => state,
                Err(poisoned) => poisoned.into_inner().0,
            };
        }
    }
}

impl Export {
    /// Spans, data points or log records carried.
    pub(super) fn items(&self) -> usize {
        match self {
            Export::Traces(traces) => {
                traces.resource_spans.iter().flat_map(|r| &r.scope_spans).map(|s| s.spans.len()).sum()
            }
            Export::Metrics(metrics) => metrics
                .resource_metrics
                .iter()
                .flat_map(|r| &r.scope_metrics)
                .flat_map(|s| &s.metrics)
                .map(super::received::count_data_points)
                .sum(),
            Export::Logs(logs) => {
                logs.resource_logs.iter().flat_map(|r| &r.scope_logs).map(|s| s.log_records.len()).sum()
            }
        }
    }
}
