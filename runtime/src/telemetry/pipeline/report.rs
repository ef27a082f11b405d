//! What the guard reports: each signal's accounting, summed over its exporters, and per exporter.

use super::accounting::SignalAccounting;

/// What became of every span, log record and metric export so far; see
/// [`crate::TelemetryGuard::report`]. Shutdown returns the final one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ExportReport {
    /// Sampled spans, summed over the span exporters.
    pub spans: SignalAccounting,
    /// Log records, summed over the log exporters.
    pub log_records: SignalAccounting,
    /// Metric exports (one per periodic collection), summed over the metric exporters.
    pub metric_exports: SignalAccounting,
    /// The same figures for each exporter.
    pub exporters: Vec<ExporterAccounting>,
}

/// One exporter's figures in an [`ExportReport`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ExporterAccounting {
    /// `spans`, `log records` or `metric exports`.
    pub signal: &'static str,
    /// `otlp` or `console`.
    pub exporter: &'static str,
    /// What became of its items.
    pub accounting: SignalAccounting,
}

impl ExportReport {
    /// Whether every signal balances (`ended = exported + unconfirmed + pending + dropped`).
    pub fn balances(&self) -> bool {
        [self.spans, self.log_records, self.metric_exports].iter().all(SignalAccounting::balances)
            && self.exporters.iter().all(|exporter| exporter.accounting.balances())
    }

    /// The shutdown summary: one line per signal that has items, when anything was not confirmed.
    pub(crate) fn summary(&self) -> Option<String> {
        let signals =
            [("spans", self.spans), ("log records", self.log_records), ("metric exports", self.metric_exports)];
        if !signals.iter().any(|(_, accounting)| accounting.is_incomplete()) {
            return None;
        }
        let lines: Vec<String> = signals
            .iter()
            .filter(|(_, accounting)| accounting.ended > 0)
            .map(|(signal, accounting)| format!("traced: {}", accounting.line(signal)))
            .collect();
        Some(lines.join("\n"))
    }
}
