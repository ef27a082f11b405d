//! The JSON API the page reads (and tests and scripts can read too): `/api/stats`, `/api/services`,
//! `/api/traces`, `/api/traces/{trace_id}`, `/api/metrics`.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};

use super::query::{self, ServicesQuery, TraceFilter};
use super::store::Store;

pub fn router(store: Arc<Store>) -> Router {
    Router::new()
        .route("/api/stats", get(stats))
        .route("/api/services", get(services))
        .route("/api/traces", get(traces))
        .route("/api/traces/{trace_id}", get(trace))
        .route("/api/metrics", get(metrics))
        .with_state(store)
}

fn now() -> u64 {
    let since_epoch = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    u64::try_from(since_epoch.as_nanos()).unwrap_or(u64::MAX)
}

async fn stats(State(store): State<Arc<Store>>) -> Response {
    Json(query::stats(&store.read(), store.limits())).into_response()
}

#[derive(Debug, serde::Deserialize)]
struct ServicesParams {
    /// Seconds, 10 s to 7 days.
    window: Option<u64>,
    /// Every span name rather than SERVER spans only.
    #[serde(default)]
    all: bool,
    buckets: Option<usize>,
}

async fn services(State(store): State<Arc<Store>>, Query(params): Query<ServicesParams>) -> Response {
    let query = ServicesQuery {
        now: now(),
        window_seconds: params.window.unwrap_or(300).clamp(10, 7 * 24 * 3600),
        all_kinds: params.all,
        buckets: params.buckets.unwrap_or(30),
    };
    off_the_runtime(move || query::services(&store.read(), query)).await
}

async fn traces(State(store): State<Arc<Store>>, Query(filter): Query<TraceFilter>) -> Response {
    off_the_runtime(move || query::traces(&store.read(), &filter)).await
}

/// A query that scans the whole store runs on a blocking thread, so the receivers' tasks keep running.
async fn off_the_runtime<T: serde::Serialize + Send + 'static>(scan: impl FnOnce() -> T + Send + 'static) -> Response {
    match tokio::task::spawn_blocking(scan).await {
        Ok(view) => Json(view).into_response(),
        Err(error) => (StatusCode::INTERNAL_SERVER_ERROR, error.to_string()).into_response(),
    }
}

async fn trace(State(store): State<Arc<Store>>, Path(trace_id): Path<String>) -> Response {
    match query::trace(&store.read(), &trace_id) {
        Some(view) => Json(view).into_response(),
        None => {
            (StatusCode::NOT_FOUND, Json(serde_json::json!({"error": "no such trace in the store"}))).into_response()
        }
    }
}

async fn metrics(State(store): State<Arc<Store>>) -> Response {
    Json(query::metrics(&store.read())).into_response()
}
