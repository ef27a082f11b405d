//! What the handlers share: settings, the outbound client, the database and the app's own metrics.

use std::sync::Arc;
use std::time::Duration;

use opentelemetry::metrics::Counter;

use super::database::Database;

/// Shared by every request; cheap to clone.
#[derive(Debug, Clone)]
pub struct AppState {
    pub io_delay: Duration,
    pub external: Arc<ExternalApi>,
    pub http: traced::client::Client,
    pub database: Database,
    pub metrics: AppMetrics,
}

/// Where `/external-api` goes, and the `target_service` its calls are counted under.
#[derive(Debug)]
pub struct ExternalApi {
    pub url: String,
    pub service: String,
}

/// The guide's custom metric: calls to other services, by `target_service`.
#[derive(Debug, Clone)]
pub struct AppMetrics {
    pub inter_service_requests: Counter<u64>,
}

impl AppMetrics {
    /// Instruments from the global meter provider: create them after `traced::init()`.
    pub fn new() -> Self {
        let meter = opentelemetry::global::meter("traced-examples");
        let inter_service_requests = meter
            .u64_counter("inter_service_requests")
            .with_description("Requests this service sent to other services")
            .with_unit("{request}")
            .build();
        Self { inter_service_requests }
    }
}

impl Default for AppMetrics {
    fn default() -> Self {
        Self::new()
    }
}
