//! Metrics on the console: one line per data point.

use std::fmt::Display;
use std::time::Duration;

use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::metrics::data::{AggregatedMetrics, Metric, MetricData, ResourceMetrics};
use opentelemetry_sdk::metrics::exporter::PushMetricExporter;
use opentelemetry_sdk::metrics::Temporality;

use super::{format, ConsoleOutput};

#[derive(Debug)]
pub(crate) struct ConsoleMetricExporter {
    output: ConsoleOutput,
}

impl ConsoleMetricExporter {
    pub(crate) fn new(output: ConsoleOutput) -> Self {
        Self { output }
    }
}

impl PushMetricExporter for ConsoleMetricExporter {
    async fn export(&self, metrics: &ResourceMetrics) -> OTelSdkResult {
        self.output.write(&render(metrics));
        Ok(())
    }

    fn force_flush(&self) -> OTelSdkResult {
        Ok(())
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        Ok(())
    }

    fn temporality(&self) -> Temporality {
        Temporality::Cumulative
    }
}

fn render(metrics: &ResourceMetrics) -> String {
    let mut out = String::new();
    for scope in metrics.scope_metrics() {
        for metric in scope.metrics() {
            out.push_str(&describe(scope.scope().name(), metric));
        }
    }
    out
}

/// `metric http.server.request.duration (s) histogram count=3 sum=0.12 min=0.01 max=0.08 {http.route="/"}`
fn describe(scope: &str, metric: &Metric) -> String {
    let unit = if metric.unit().is_empty() { String::new() } else { format!(" ({})", metric.unit()) };
    let head = format!("metric {}{unit} scope={scope}", metric.name());
    let points = match metric.data() {
        AggregatedMetrics::F64(data) => points(data),
        AggregatedMetrics::U64(data) => points(data),
        AggregatedMetrics::I64(data) => points(data),
    };
    points.into_iter().map(|point| format!("{head} {point}\n")).collect()
}

fn points<T: Display + Copy>(data: &MetricData<T>) -> Vec<String> {
    let with_attributes = |text: String, attributes: String| format!("{text} {{{attributes}}}");
    match data {
        MetricData::Gauge(gauge) => gauge
            .data_points()
            .map(|p| with_attributes(format!("gauge value={}", p.value()), format::attributes(p.attributes(), false)))
            .collect(),
        MetricData::Sum(sum) => sum
            .data_points()
            .map(|p| with_attributes(format!("sum value={}", p.value()), format::attributes(p.attributes(), false)))
            .collect(),
        MetricData::Histogram(histogram) => histogram
            .data_points()
            .map(|p| {
                let range = match (p.min(), p.max()) {
                    (Some(min), Some(max)) => format!(" min={min} max={max}"),
                    _ => String::new(),
                };
                let text = format!("histogram count={} sum={}{range}", p.count(), p.sum());
                with_attributes(text, format::attributes(p.attributes(), false))
            })
            .collect(),
        MetricData::ExponentialHistogram(histogram) => histogram
            .data_points()
            .map(|p| {
                let text = format!("exponential_histogram count={} sum={}", p.count(), p.sum());
                with_attributes(text, format::attributes(p.attributes(), false))
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use opentelemetry::metrics::MeterProvider as _;
    use opentelemetry::KeyValue;
    use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader, SdkMeterProvider};

    use super::*;

    #[test]
    fn counters_and_histograms_print_one_line_per_point() {
        let memory = InMemoryMetricExporter::default();
        let provider = SdkMeterProvider::builder().with_reader(PeriodicReader::builder(memory.clone()).build()).build();
        let meter = provider.meter("shop");
        let counter = meter.u64_counter("inter_service_requests").build();
        counter.add(2, &[KeyValue::new("service", "b")]);
        counter.add(1, &[KeyValue::new("service", "b")]);
        let histogram = meter.f64_histogram("latency").with_unit("s").build();
        histogram.record(0.5, &[]);
        histogram.record(1.5, &[]);
        provider.force_flush().expect("flush");
        let exported = memory.get_finished_metrics().expect("metrics");
        let text = render(exported.last().expect("one export"));
        assert!(text.contains("metric inter_service_requests scope=shop sum value=3 {service=\"b\"}\n"), "{text}");
        assert!(text.contains("metric latency (s) scope=shop histogram count=2 sum=2 min=0.5 max=1.5 {}\n"), "{text}");
    }
}
