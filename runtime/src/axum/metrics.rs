//! The RED metrics of the HTTP semantic conventions: `http.server.request.duration` and
//! `http.server.active_requests`. Instruments are created once per layer, never per request.
//!
//! Active requests are counted in atomics, one per (method, scheme), and reported by an observable
//! up-down counter when the metrics are collected: per request that is two atomic adds instead of two
//! SDK measurements (each hashes its attributes and takes the SDK's locks). Guarded by the
//! `http_overhead` benchmark.

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;

use opentelemetry::metrics::{Histogram, Meter, ObservableUpDownCounter};
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
    // Kept so the callback's registration visibly belongs to this layer.
    _active_instrument: ObservableUpDownCounter<i64>,
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
        let active = Arc::new(ActiveRequests::new(known_methods.names()));
        let observed = active.clone();
        let active_instrument = meter
            .i64_observable_up_down_counter(HTTP_SERVER_ACTIVE_REQUESTS)
            .with_unit("{request}")
            .with_description("Number of active HTTP server requests.")
            .with_callback(move |observer| observed.report(|value, attributes| observer.observe(value, attributes)))
            .build();
        Self { duration, active, _active_instrument: active_instrument }
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

/// Which (method, scheme) counter a request incremented.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ActiveSlot(usize);

/// In-flight requests per (method, scheme); `seen` keeps reporting a series (at 0) once it existed.
#[derive(Debug)]
struct ActiveRequests {
    /// Every value `http.request.method` takes: the known methods, then `_OTHER`.
    methods: Vec<StringValue>,
    counts: Vec<AtomicI64>,
    seen: Vec<AtomicBool>,
}

impl ActiveRequests {
    fn new(known_methods: &[StringValue]) -> Self {
        let mut methods = known_methods.to_vec();
        methods.push(StringValue::from(OTHER_METHOD));
        let slots = methods.len() * SCHEMES.len();
        Self {
            methods,
            counts: (0..slots).map(|_| AtomicI64::new(0)).collect(),
            seen: (0..slots).map(|_| AtomicBool::new(false)).collect(),
        }
    }

    fn start(&self, method_index: usize, scheme: &'static str) -> ActiveSlot {
        let method = method_index.min(self.methods.len() - 1);
        let scheme = usize::from(scheme == SCHEMES[1]);
        let slot = method * SCHEMES.len() + scheme;
        self.counts[slot].fetch_add(1, Ordering::Relaxed);
        if !self.seen[slot].load(Ordering::Relaxed) {
            self.seen[slot].store(true, Ordering::Relaxed);
        }
        ActiveSlot(slot)
    }

    fn end(&self, slot: ActiveSlot) {
        self.counts[slot.0].fetch_sub(1, Ordering::Relaxed);
    }

    /// Calls `observe` once per series that ever had a request.
    fn report(&self, mut observe: impl FnMut(i64, &[KeyValue])) {
        for (slot, count) in self.counts.iter().enumerate() {
            if self.seen[slot].load(Ordering::Relaxed) {
                let attributes = [
                    KeyValue::new(HTTP_REQUEST_METHOD, self.methods[slot / SCHEMES.len()].clone()),
                    KeyValue::new(URL_SCHEME, SCHEMES[slot % SCHEMES.len()]),
                ];
                observe(count.load(Ordering::Relaxed), &attributes);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reported(active: &ActiveRequests) -> Vec<(i64, String, String)> {
        let mut series = Vec::new();
        active.report(|value, attributes| {
            series.push((value, attributes[0].value.to_string(), attributes[1].value.to_string()));
        });
        series
    }

    #[test]
    fn counts_per_method_and_scheme_and_keeps_reporting_zero() {
        let active = ActiveRequests::new(KnownMethods::default().names());
        assert!(reported(&active).is_empty());
        let known = KnownMethods::default();
        let index = |method: &[u8]| known.classify(&http::Method::from_bytes(method).expect("valid method")).index;
        let get = active.start(index(b"GET"), "http");
        let post = active.start(index(b"POST"), "https");
        let _other = active.start(index(b"PURGE"), "http");
        assert_eq!(
            reported(&active),
            vec![
                (1, "GET".into(), "http".into()),
                (1, "POST".into(), "https".into()),
                (1, "_OTHER".into(), "http".into())
            ]
        );
        active.end(get);
        active.end(post);
        assert_eq!(reported(&active)[0], (0, "GET".into(), "http".into()));
    }
}
