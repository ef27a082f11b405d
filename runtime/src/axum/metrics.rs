//! The RED metrics of the HTTP semantic conventions: `http.server.request.duration` and
//! `http.server.active_requests`. Instruments are created once per layer, never per request.

use opentelemetry::metrics::{Histogram, Meter, UpDownCounter};
use opentelemetry::KeyValue;
use opentelemetry_semantic_conventions::metric::{HTTP_SERVER_ACTIVE_REQUESTS, HTTP_SERVER_REQUEST_DURATION};

/// The explicit bucket boundaries the conventions advise for `http.server.request.duration`.
pub(crate) const DURATION_BOUNDARIES: [f64; 14] =
    [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0];

/// The layer's instruments.
#[derive(Debug, Clone)]
pub(crate) struct Instruments {
    duration: Histogram<f64>,
    active: UpDownCounter<i64>,
}

impl Instruments {
    pub(crate) fn new(meter: &Meter) -> Self {
        let duration = meter
            .f64_histogram(HTTP_SERVER_REQUEST_DURATION)
            .with_unit("s")
            .with_description("Duration of HTTP server requests.")
            .with_boundaries(DURATION_BOUNDARIES.to_vec())
            .build();
        let active = meter
            .i64_up_down_counter(HTTP_SERVER_ACTIVE_REQUESTS)
            .with_unit("{request}")
            .with_description("Number of active HTTP server requests.")
            .build();
        Self { duration, active }
    }

    /// The default: instruments from the global meter provider, under the `traced` scope.
    pub(crate) fn from_global() -> Self {
        Self::new(&opentelemetry::global::meter_with_scope(crate::backend::scope()))
    }

    pub(crate) fn request_started(&self, attributes: &[KeyValue]) {
        self.active.add(1, attributes);
    }

    pub(crate) fn request_ended(&self, active_attributes: &[KeyValue], seconds: f64, attributes: &[KeyValue]) {
        self.active.add(-1, active_attributes);
        self.duration.record(seconds, attributes);
    }
}
