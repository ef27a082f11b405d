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

    /// The shutdown summary, when anything was not confirmed: one line per signal that has items, or,
    /// for a signal with several exporters (`console,otlp`), one line per exporter naming it: a sum
    /// would count each item once per exporter and hide which exporter lost what.
    pub(crate) fn summary(&self) -> Option<String> {
        let signals =
            [("spans", self.spans), ("log records", self.log_records), ("metric exports", self.metric_exports)];
        if !signals.iter().any(|(_, accounting)| accounting.is_incomplete()) {
            return None;
        }
        let mut lines = Vec::new();
        for (signal, accounting) in signals.iter().filter(|(_, accounting)| accounting.ended > 0) {
            let exporters: Vec<&ExporterAccounting> =
                self.exporters.iter().filter(|exporter| exporter.signal == *signal).collect();
            if exporters.len() > 1 {
                for exporter in exporters {
                    let named = format!("{signal} ({})", exporter.exporter);
                    lines.push(format!("traced: {}", exporter.accounting.line(&named)));
                }
            } else {
                lines.push(format!("traced: {}", accounting.line(signal)));
            }
        }
        Some(lines.join("\n"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telemetry::pipeline::accounting::Dropped;

    fn accounting(ended: u64, exported: u64, failed: u64) -> SignalAccounting {
        SignalAccounting { ended, exported, dropped: Dropped { failed, ..Dropped::default() }, ..Default::default() }
    }

    #[test]
    fn a_signal_with_two_exporters_prints_one_line_per_exporter() {
        let (console, otlp) = (accounting(10, 10, 0), accounting(10, 0, 10));
        let report = ExportReport {
            spans: console + otlp,
            metric_exports: accounting(1, 1, 0),
            exporters: vec![
                ExporterAccounting { signal: "spans", exporter: "console", accounting: console },
                ExporterAccounting { signal: "spans", exporter: "otlp", accounting: otlp },
                ExporterAccounting { signal: "metric exports", exporter: "otlp", accounting: accounting(1, 1, 0) },
            ],
            ..ExportReport::default()
        };
        let summary = report.summary().expect("the otlp spans failed");
        let lines: Vec<&str> = summary.lines().collect();
        assert_eq!(lines.len(), 3, "{summary}");
        assert!(lines[0].starts_with("traced: spans (console): 10 ended = 10 exported + "), "{summary}");
        assert!(lines[1].starts_with("traced: spans (otlp): 10 ended = 0 exported + "), "{summary}");
        assert!(lines[1].contains("failed 10"), "{summary}");
        assert!(lines[2].starts_with("traced: metric exports: 1 ended = 1 exported"), "{summary}");
    }
}
