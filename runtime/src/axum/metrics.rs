//! The RED metrics of the HTTP semantic conventions: `http.server.request.duration` and
//! `http.server.active_requests`. Instruments are created once per layer, never per request.
//!
//! Active requests are counted by an up-down counter bound once per (method, scheme), on the
//! series' first request: per request that is two adds to a bound series instead of two SDK
//! measurements (each hashes its attributes and takes the SDK's locks). Every layer of the process
//! adds to the same series of its meter, so an app and its admin server count together. Guarded by
//! the `http_overhead` benchmark.

use std::sync::{Arc, OnceLock};

use opentelemetry::metrics::{BoundUpDownCounter, Histogram, Meter, UpDownCounter};
use opentelemetry::{KeyValue, StringValue};
use opentelemetry_semantic_conventions::attribute::{HTTP_REQUEST_METHOD, URL_SCHEME};
use opentelemetry_semantic_conventions::metric::{HTTP_SERVER_ACTIVE_REQUESTS, HTTP_SERVER_REQUEST_DURATION};

use crate::http::semconv::{KnownMethods, OTHER_METHOD};

/// The explicit bucket boundaries the conventions advise for `http.server.request.duration`.
pub(crate) const DURATION_BOUNDARIES: [f64; 14] =
    [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0];

const SCHEMES: [&str; 2] = ["http", "https"];

/// The layer's instruments.
#[derive(Debug, Clone)]
pub(crate) struct Instruments {
    duration: Histogram<f64>,
    active: Arc<ActiveRequests>,
}

impl Instruments {
    /// One `http.server.active_requests` series per known method (and `_OTHER`) and scheme.
    pub(crate) fn new(meter: &Meter, known_methods: &KnownMethods) -> Self {
        let duration = meter
            .f64_histogram(HTTP_SERVER_REQUEST_DURATION)
            .with_unit("s")
            .with_description("Duration of HTTP server requests.")
            .with_boundaries(DURATION_BOUNDARIES.to_vec())
            .build();
        let counter = meter
            .i64_up_down_counter(HTTP_SERVER_ACTIVE_REQUESTS)
            .with_unit("{request}")
            .with_description("Number of active HTTP server requests.")
            .build();
        Self { duration, active: Arc::new(ActiveRequests::new(counter, known_methods.names())) }
    }

    /// The default: instruments from the global meter provider, under the `traced` scope.
    pub(crate) fn from_global(known_methods: &KnownMethods) -> Self {
        Self::new(&opentelemetry::global::meter_with_scope(crate::span::backend::scope()), known_methods)
    }

    /// Counts a request in; `method_index` is its method's position in the known methods the
    /// instruments were built with (their number for any other method).
    pub(crate) fn request_started(&self, method_index: usize, scheme: &'static str) -> ActiveSlot {
        self.active.start(method_index, scheme)
    }

    /// Counts the request out of the active ones; `record` records its duration.
    pub(crate) fn request_ended(&self, slot: ActiveSlot, record: impl FnOnce(&Histogram<f64>)) {
        self.active.end(slot);
        record(&self.duration);
    }
}

/// Which (method, scheme) series a request incremented.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ActiveSlot(usize);

/// In-flight requests per (method, scheme): a series exists (and is reported, at 0 when idle) once it
/// had a request.
#[derive(Debug)]
struct ActiveRequests {
    counter: UpDownCounter<i64>,
    /// Every value `http.request.method` takes: the known methods, then `_OTHER`.
    methods: Vec<StringValue>,
    series: Vec<OnceLock<BoundUpDownCounter<i64>>>,
}

impl ActiveRequests {
    fn new(counter: UpDownCounter<i64>, known_methods: &[StringValue]) -> Self {
        let mut methods = known_methods.to_vec();
        methods.push(StringValue::from(OTHER_METHOD));
        let slots = methods.len() * SCHEMES.len();
        Self { counter, methods, series: (0..slots).map(|_| OnceLock::new()).collect() }
    }

    fn start(&self, method_index: usize, scheme: &'static str) -> ActiveSlot {
        let method = method_index.min(self.methods.len() - 1);
        let scheme = usize::from(scheme == SCHEMES[1]);
        let slot = ActiveSlot(method * SCHEMES.len() + scheme);
        self.series(slot).add(1);
        slot
    }

    fn end(&self, slot: ActiveSlot) {
        self.series(slot).add(-1);
    }

    fn series(&self, slot: ActiveSlot) -> &BoundUpDownCounter<i64> {
        self.series[slot.0].get_or_init(|| {
            self.counter.bind(&[
                KeyValue::new(HTTP_REQUEST_METHOD, self.methods[slot.0 / SCHEMES.len()].clone()),
                KeyValue::new(URL_SCHEME, SCHEMES[slot.0 % SCHEMES.len()]),
            ])
        })
    }
}

#[cfg(test)]
mod tests {
    use opentelemetry::metrics::MeterProvider as _;
    use opentelemetry_sdk::metrics::data::{AggregatedMetrics, MetricData};
    use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader, SdkMeterProvider};

    use super::*;

    /// The `http.server.active_requests` points: (value, method, scheme), sorted.
    fn reported(provider: &SdkMeterProvider, memory: &InMemoryMetricExporter) -> Vec<(i64, String, String)> {
        memory.reset();
        provider.force_flush().expect("flush");
        let exported = memory.get_finished_metrics().expect("metrics");
        let mut series = Vec::new();
        for metric in exported.iter().flat_map(|resource| resource.scope_metrics()).flat_map(|scope| scope.metrics()) {
            if let AggregatedMetrics::I64(MetricData::Sum(sum)) = metric.data() {
                for point in sum.data_points() {
                    let value =
                        |key: &str| point.attributes().find(|kv| kv.key.as_str() == key).map(|kv| kv.value.to_string());
                    series.push((
                        point.value(),
                        value(HTTP_REQUEST_METHOD).unwrap_or_default(),
                        value(URL_SCHEME).unwrap_or_default(),
                    ));
                }
            }
        }
        series.sort();
        series
    }

    #[test]
    fn counts_per_method_and_scheme_over_every_layer_and_keeps_reporting_zero() {
        let memory = InMemoryMetricExporter::default();
        let provider = SdkMeterProvider::builder().with_reader(PeriodicReader::builder(memory.clone()).build()).build();
        let known = KnownMethods::default();
        let layer = Instruments::new(&provider.meter("test"), &known);
        let other_layer = Instruments::new(&provider.meter("test"), &known);
        assert!(reported(&provider, &memory).is_empty());
        let index = |method: &[u8]| known.classify(&http::Method::from_bytes(method).expect("valid method")).index;
        let get = layer.request_started(index(b"GET"), "http");
        let post = layer.request_started(index(b"POST"), "https");
        let _other = layer.request_started(index(b"PURGE"), "http");
        let other_get = other_layer.request_started(index(b"GET"), "http");
        assert_eq!(
            reported(&provider, &memory),
            vec![
                (1, "POST".into(), "https".into()),
                (1, "_OTHER".into(), "http".into()),
                (2, "GET".into(), "http".into())
            ]
        );
        layer.request_ended(get, |_| {});
        layer.request_ended(post, |_| {});
        other_layer.request_ended(other_get, |_| {});
        assert_eq!(
            reported(&provider, &memory)[..2],
            [(0, "GET".into(), "http".into()), (0, "POST".into(), "https".into())]
        );
    }
}
