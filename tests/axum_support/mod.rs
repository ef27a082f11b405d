//! Shared by the axum, client and propagation tests: serve a router on 127.0.0.1, capture spans and
//! metrics, wait for the server span (it ends after the response body was sent, so it may land a
//! moment after the client has read the response).
#![allow(dead_code)] // each test binary uses a part of it

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use opentelemetry::trace::SpanKind;
use opentelemetry::Value;
use opentelemetry_sdk::metrics::data::{AggregatedMetrics, Metric, MetricData, ResourceMetrics};
use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader, SdkMeterProvider};
use opentelemetry_sdk::trace::SpanData;
use traced::telemetry::PropagatorKind;
use traced::testing::SpanCapture;

/// Captures spans (holding the capture lock, so tests of one binary take turns) with the W3C
/// propagators installed, as `traced::init()` installs them by default.
pub fn capture() -> SpanCapture {
    capture_with_sampler(opentelemetry_sdk::trace::Sampler::AlwaysOn)
}

/// Like [`capture`], with the sampler of the test's choice.
pub fn capture_with_sampler(sampler: impl opentelemetry_sdk::trace::ShouldSample + 'static) -> SpanCapture {
    let capture = traced::testing::capture_with_sampler(sampler);
    traced::propagation::set_propagators(&[PropagatorKind::TraceContext, PropagatorKind::Baggage]);
    capture
}

/// Serves `app` on an ephemeral loopback port, with the peer address available to the layer.
pub async fn serve(app: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1:0");
    let address = listener.local_addr().expect("local address");
    tokio::spawn(async move {
        axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>()).await.expect("server runs");
    });
    address
}

/// Waits until `count` SERVER spans have ended and returns every span captured. Bounded so a
/// missing span fails the test instead of hanging it.
pub async fn server_spans(capture: &SpanCapture, count: usize) -> Vec<SpanData> {
    for _ in 0..2_000 {
        let spans = capture.spans();
        if spans.iter().filter(|span| span.span_kind == SpanKind::Server).count() >= count {
            return spans;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!(
        "expected {count} server spans, got {:?}",
        capture.spans().iter().map(|span| &span.name).collect::<Vec<_>>()
    );
}

/// The only SERVER span, once it has ended.
pub async fn server_span(capture: &SpanCapture) -> SpanData {
    let spans = server_spans(capture, 1).await;
    let mut servers = spans.into_iter().filter(|span| span.span_kind == SpanKind::Server);
    match (servers.next(), servers.next()) {
        (Some(span), None) => span,
        (first, second) => panic!("expected one server span, got {first:?} and {second:?}"),
    }
}

pub fn attr(span: &SpanData, key: &str) -> Option<Value> {
    span.attributes.iter().find(|kv| kv.key.as_str() == key).map(|kv| kv.value.clone())
}

pub fn string(value: &str) -> Option<Value> {
    Some(Value::from(value.to_owned()))
}

pub fn int(value: i64) -> Option<Value> {
    Some(Value::I64(value))
}

/// A meter provider of its own whose metrics the test reads on demand.
pub struct MetricsCapture {
    pub provider: SdkMeterProvider,
    exporter: InMemoryMetricExporter,
}

impl MetricsCapture {
    pub fn new() -> Self {
        let exporter = InMemoryMetricExporter::default();
        let provider =
            SdkMeterProvider::builder().with_reader(PeriodicReader::builder(exporter.clone()).build()).build();
        Self { provider, exporter }
    }

    /// The meter the layer under test takes its instruments from.
    pub fn meter(&self) -> opentelemetry::metrics::Meter {
        opentelemetry::metrics::MeterProvider::meter(&self.provider, "traced-tests")
    }

    /// Runs `f` on the latest export of the metric named `name` (`None` when it was not exported).
    pub fn with_metric<R>(&self, name: &str, f: impl FnOnce(Option<&Metric>) -> R) -> R {
        self.exporter.reset();
        self.provider.force_flush().expect("flush metrics");
        let exported: Vec<ResourceMetrics> = self.exporter.get_finished_metrics().expect("exported metrics");
        let metric = exported
            .iter()
            .rev()
            .find_map(|resource| resource.scope_metrics().flat_map(|scope| scope.metrics()).find(|m| m.name() == name));
        f(metric)
    }

    /// The histogram points of `name`: (attributes, count, bounds).
    pub fn histogram(&self, name: &str) -> Vec<(Vec<opentelemetry::KeyValue>, u64, Vec<f64>)> {
        self.with_metric(name, |metric| match metric.map(Metric::data) {
            Some(AggregatedMetrics::F64(MetricData::Histogram(histogram))) => histogram
                .data_points()
                .map(|point| (point.attributes().cloned().collect(), point.count(), point.bounds().collect()))
                .collect(),
            other => panic!("{name} is not an f64 histogram: {other:?}"),
        })
    }

    /// The sum of every value recorded into histogram `name`, over all its points.
    pub fn histogram_sum(&self, name: &str) -> f64 {
        self.with_metric(name, |metric| match metric.map(Metric::data) {
            Some(AggregatedMetrics::F64(MetricData::Histogram(histogram))) => {
                histogram.data_points().map(|point| point.sum()).sum()
            }
            other => panic!("{name} is not an f64 histogram: {other:?}"),
        })
    }

    /// The sum points of `name`: (attributes, value).
    pub fn sum(&self, name: &str) -> Vec<(Vec<opentelemetry::KeyValue>, i64)> {
        self.with_metric(name, |metric| match metric.map(Metric::data) {
            Some(AggregatedMetrics::I64(MetricData::Sum(sum))) => {
                sum.data_points().map(|point| (point.attributes().cloned().collect(), point.value())).collect()
            }
            other => panic!("{name} is not an i64 sum: {other:?}"),
        })
    }
}
