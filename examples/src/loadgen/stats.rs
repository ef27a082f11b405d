//! Per-endpoint request statistics, merged from every simulated user, and the final table.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

/// What the users of one run observed, per endpoint name.
#[derive(Debug, Default, Clone)]
pub struct Stats {
    by_endpoint: BTreeMap<&'static str, EndpointStats>,
}

#[derive(Debug, Default, Clone)]
struct EndpointStats {
    /// Latency of every completed request, in microseconds; bounded by the run's request budget.
    latencies_us: Vec<u64>,
    failures: BTreeMap<String, u64>,
}

impl Stats {
    /// Records one completed request; `failure` is the reason when it failed.
    pub fn record(&mut self, endpoint: &'static str, latency: Duration, failure: Option<String>) {
        let stats = self.by_endpoint.entry(endpoint).or_default();
        stats.latencies_us.push(u64::try_from(latency.as_micros()).unwrap_or(u64::MAX));
        if let Some(reason) = failure {
            *stats.failures.entry(reason).or_default() += 1;
        }
    }

    /// Adds another user's observations to these.
    pub fn merge(&mut self, other: Stats) {
        for (endpoint, theirs) in other.by_endpoint {
            let ours = self.by_endpoint.entry(endpoint).or_default();
            ours.latencies_us.extend(theirs.latencies_us);
            for (reason, count) in theirs.failures {
                *ours.failures.entry(reason).or_default() += count;
            }
        }
    }

    /// Turns the observations into the final report; rates are per second of `elapsed`.
    pub fn summarize(self, elapsed: Duration) -> Summary {
        let mut all_latencies = Vec::new();
        let mut endpoints = Vec::new();
        let mut failures = Vec::new();
        for (name, mut stats) in self.by_endpoint {
            stats.latencies_us.sort_unstable();
            let failed = stats.failures.values().sum();
            endpoints.push(EndpointSummary::new(name, &stats.latencies_us, failed, elapsed));
            all_latencies.extend_from_slice(&stats.latencies_us);
            failures.extend(stats.failures.into_iter().map(|(reason, count)| FailureCount {
                endpoint: name.to_owned(),
                reason,
                count,
            }));
        }
        all_latencies.sort_unstable();
        let total_failures = endpoints.iter().map(|e| e.failures).sum();
        let total = EndpointSummary::new("Total", &all_latencies, total_failures, elapsed);
        Summary { elapsed, endpoints, total, failures }
    }
}

/// The result of a load run: one row per endpoint, a total row and the failure reasons.
#[derive(Debug, Clone)]
pub struct Summary {
    pub elapsed: Duration,
    pub endpoints: Vec<EndpointSummary>,
    pub total: EndpointSummary,
    pub failures: Vec<FailureCount>,
}

impl Summary {
    /// The row of one endpoint, by its name (e.g. `GET /items/{item_id}`).
    pub fn endpoint(&self, name: &str) -> Option<&EndpointSummary> {
        self.endpoints.iter().find(|e| e.name == name)
    }
}

/// One row of the final table.
#[derive(Debug, Clone, PartialEq)]
pub struct EndpointSummary {
    pub name: String,
    pub requests: u64,
    pub failures: u64,
    pub requests_per_second: f64,
    pub p50: Duration,
    pub p95: Duration,
    pub p99: Duration,
    pub max: Duration,
}

impl EndpointSummary {
    fn new(name: &str, sorted_us: &[u64], failures: u64, elapsed: Duration) -> Self {
        let requests = sorted_us.len() as u64;
        let seconds = elapsed.as_secs_f64();
        Self {
            name: name.to_owned(),
            requests,
            failures,
            requests_per_second: if seconds > 0.0 { requests as f64 / seconds } else { 0.0 },
            p50: percentile(sorted_us, 50.0),
            p95: percentile(sorted_us, 95.0),
            p99: percentile(sorted_us, 99.0),
            max: Duration::from_micros(sorted_us.last().copied().unwrap_or(0)),
        }
    }
}

/// How often one endpoint failed for one reason (`HTTP 500`, `timeout`, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailureCount {
    pub endpoint: String,
    pub reason: String,
    pub count: u64,
}

/// Nearest-rank percentile of sorted samples: the smallest sample with at least `p`% at or below it.
fn percentile(sorted_us: &[u64], p: f64) -> Duration {
    if sorted_us.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted_us.len() as f64).ceil() as usize;
    let index = rank.clamp(1, sorted_us.len()) - 1;
    Duration::from_micros(sorted_us[index])
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

impl fmt::Display for EndpointSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:<28} {:>9} {:>9} {:>8.1} {:>9.1} {:>9.1} {:>9.1} {:>9.1}",
            self.name,
            self.requests,
            self.failures,
            self.requests_per_second,
            millis(self.p50),
            millis(self.p95),
            millis(self.p99),
            millis(self.max),
        )
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let header = format!(
            "{:<28} {:>9} {:>9} {:>8} {:>9} {:>9} {:>9} {:>9}",
            "Endpoint", "Requests", "Failures", "Req/s", "p50 ms", "p95 ms", "p99 ms", "max ms"
        );
        let rule = "-".repeat(header.len());
        writeln!(f, "{header}\n{rule}")?;
        for endpoint in &self.endpoints {
            writeln!(f, "{endpoint}")?;
        }
        writeln!(f, "{rule}\n{}", self.total)?;
        if !self.failures.is_empty() {
            writeln!(f, "\n{:<28} {:<24} {:>9}", "Failures", "Reason", "Count")?;
            for failure in &self.failures {
                writeln!(f, "{:<28} {:<24} {:>9}", failure.endpoint, failure.reason, failure.count)?;
            }
        }
        write!(f, "\nRan for {:.1}s.", self.elapsed.as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn nearest_rank_percentiles() {
        let samples: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&samples, 50.0), Duration::from_micros(50));
        assert_eq!(percentile(&samples, 95.0), Duration::from_micros(95));
        assert_eq!(percentile(&samples, 99.0), Duration::from_micros(99));
        assert_eq!(percentile(&samples, 100.0), Duration::from_micros(100));
        assert_eq!(percentile(&[7], 50.0), Duration::from_micros(7));
        assert_eq!(percentile(&[7], 0.0), Duration::from_micros(7));
        assert_eq!(percentile(&[], 99.0), Duration::ZERO);
    }

    #[test]
    fn merged_users_add_up_per_endpoint_and_in_total() {
        let mut first = Stats::default();
        first.record("GET /", ms(10), None);
        first.record("GET /exception", ms(30), Some("HTTP 500".into()));
        let mut second = Stats::default();
        second.record("GET /", ms(20), None);
        second.record("GET /exception", ms(40), Some("HTTP 500".into()));
        second.record("GET /exception", ms(50), Some("timeout".into()));
        first.merge(second);

        let summary = first.summarize(Duration::from_secs(2));
        let root = summary.endpoint("GET /").expect("row for GET /");
        assert_eq!((root.requests, root.failures), (2, 0));
        assert_eq!(root.requests_per_second, 1.0);
        assert_eq!((root.p50, root.max), (ms(10), ms(20)));
        let exception = summary.endpoint("GET /exception").expect("row for GET /exception");
        assert_eq!((exception.requests, exception.failures), (3, 3));
        assert_eq!((summary.total.requests, summary.total.failures), (5, 3));
        assert_eq!(summary.total.p99, ms(50));
        assert_eq!(
            summary.failures,
            vec![
                FailureCount { endpoint: "GET /exception".into(), reason: "HTTP 500".into(), count: 2 },
                FailureCount { endpoint: "GET /exception".into(), reason: "timeout".into(), count: 1 },
            ]
        );
    }

    #[test]
    fn table_has_a_row_per_endpoint_a_total_and_the_failure_reasons() {
        let mut stats = Stats::default();
        stats.record("GET /ping", ms(2), None);
        stats.record("GET /exception", ms(3), Some("HTTP 500".into()));
        let table = stats.summarize(Duration::from_secs(1)).to_string();
        let lines: Vec<&str> = table.lines().collect();
        assert!(lines[0].starts_with("Endpoint") && lines[0].contains("p99 ms"), "{table}");
        assert!(lines[2].starts_with("GET /exception") && lines[2].contains("        1         1"), "{table}");
        assert!(lines[3].starts_with("GET /ping"), "{table}");
        assert!(lines[5].starts_with("Total") && lines[5].contains("        2         1"), "{table}");
        assert!(table.contains("HTTP 500"), "{table}");
        assert!(table.ends_with("Ran for 1.0s."), "{table}");
    }

    #[test]
    fn an_empty_run_reports_zeros() {
        let summary = Stats::default().summarize(Duration::ZERO);
        assert!(summary.endpoints.is_empty());
        assert_eq!((summary.total.requests, summary.total.requests_per_second), (0, 0.0));
    }
}
