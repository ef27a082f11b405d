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
    latencies: Histogram,
    failures: BTreeMap<String, u64>,
}

/// Latencies in microseconds, kept to three significant digits (0.1% apart, as precise as the table
/// prints): a day-long run holds a few thousand counters per endpoint, not one entry per request.
#[derive(Debug, Default, Clone)]
struct Histogram {
    /// Rounded latency -> how many requests took it.
    counts: BTreeMap<u64, u64>,
    total: u64,
}

impl Histogram {
    fn record(&mut self, micros: u64, count: u64) {
        *self.counts.entry(three_digits(micros)).or_default() += count;
        self.total += count;
    }

    fn merge(&mut self, other: &Histogram) {
        for (&micros, &count) in &other.counts {
            self.record(micros, count);
        }
    }

    /// Nearest rank: the smallest kept latency with at least `p`% of the requests at or below it.
    fn percentile(&self, p: f64) -> Duration {
        let rank = ((p / 100.0) * self.total as f64).ceil() as u64;
        let rank = rank.clamp(1, self.total.max(1));
        let mut seen = 0;
        for (&micros, &count) in &self.counts {
            seen += count;
            if seen >= rank {
                return Duration::from_micros(micros);
            }
        }
        Duration::ZERO
    }

    fn max(&self) -> Duration {
        Duration::from_micros(self.counts.keys().next_back().copied().unwrap_or(0))
    }
}

/// `micros` with its digits after the third significant one zeroed (rounded down).
fn three_digits(micros: u64) -> u64 {
    let mut scale = 1;
    while micros / scale >= 1000 {
        scale *= 10;
    }
    micros / scale * scale
}

impl Stats {
    /// Records one completed request; `failure` is the reason when it failed.
    pub fn record(&mut self, endpoint: &'static str, latency: Duration, failure: Option<String>) {
        let stats = self.by_endpoint.entry(endpoint).or_default();
        stats.latencies.record(u64::try_from(latency.as_micros()).unwrap_or(u64::MAX), 1);
        if let Some(reason) = failure {
            *stats.failures.entry(reason).or_default() += 1;
        }
    }

    /// Adds another user's observations to these.
    pub fn merge(&mut self, other: Stats) {
        for (endpoint, theirs) in other.by_endpoint {
            let ours = self.by_endpoint.entry(endpoint).or_default();
            ours.latencies.merge(&theirs.latencies);
            for (reason, count) in theirs.failures {
                *ours.failures.entry(reason).or_default() += count;
            }
        }
    }

    /// Turns the observations into the final report; rates are per second of `elapsed`.
    pub fn summarize(self, elapsed: Duration) -> Summary {
        let mut all_latencies = Histogram::default();
        let mut endpoints = Vec::new();
        let mut failures = Vec::new();
        for (name, stats) in self.by_endpoint {
            let failed = stats.failures.values().sum();
            endpoints.push(EndpointSummary::new(name, &stats.latencies, failed, elapsed));
            all_latencies.merge(&stats.latencies);
            failures.extend(stats.failures.into_iter().map(|(reason, count)| FailureCount {
                endpoint: name.to_owned(),
                reason,
                count,
            }));
        }
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
    fn new(name: &str, latencies: &Histogram, failures: u64, elapsed: Duration) -> Self {
        let requests = latencies.total;
        let seconds = elapsed.as_secs_f64();
        Self {
            name: name.to_owned(),
            requests,
            failures,
            requests_per_second: if seconds > 0.0 { requests as f64 / seconds } else { 0.0 },
            p50: latencies.percentile(50.0),
            p95: latencies.percentile(95.0),
            p99: latencies.percentile(99.0),
            max: latencies.max(),
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

    fn histogram(samples: impl IntoIterator<Item = u64>) -> Histogram {
        let mut histogram = Histogram::default();
        samples.into_iter().for_each(|micros| histogram.record(micros, 1));
        histogram
    }

    #[test]
    fn nearest_rank_percentiles() {
        let samples = histogram(1..=100);
        assert_eq!(samples.percentile(50.0), Duration::from_micros(50));
        assert_eq!(samples.percentile(95.0), Duration::from_micros(95));
        assert_eq!(samples.percentile(99.0), Duration::from_micros(99));
        assert_eq!(samples.percentile(100.0), Duration::from_micros(100));
        assert_eq!(histogram([7]).percentile(50.0), Duration::from_micros(7));
        assert_eq!(histogram([7]).percentile(0.0), Duration::from_micros(7));
        assert_eq!(histogram([]).percentile(99.0), Duration::ZERO);
    }

    #[test]
    fn a_long_run_keeps_a_bounded_number_of_latencies() {
        // A million distinct latencies from 1 us to 1000 s: one counter each would be a million entries.
        let mut stats = Stats::default();
        for i in 1..=1_000_000_u64 {
            stats.record("GET /", Duration::from_micros(i * i / 1000 + i), None);
        }
        let kept = stats.by_endpoint["GET /"].latencies.counts.len();
        assert!(kept <= 9 * 1000, "{kept} latencies kept");
        let summary = stats.summarize(Duration::from_secs(1));
        assert_eq!(summary.total.requests, 1_000_000);
        // The 990,000th latency, to three significant digits: within 0.1% below the exact value.
        let exact = Duration::from_micros(990_000_u64 * 990_000 / 1000 + 990_000);
        let reported = summary.total.p99;
        assert!(reported <= exact && reported.as_secs_f64() >= exact.as_secs_f64() * 0.999, "{reported:?} {exact:?}");
        assert_eq!(three_digits(123_456), 123_000);
        assert_eq!(three_digits(999), 999);
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
