//! The guide's endpoints, plus a database-backed one.

use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::Json;
use opentelemetry::KeyValue;
use serde::Deserialize;
use serde_json::{json, Value};

use traced::{record_errors, traced_dependency};

use super::database::{DbSession, User};
use super::error::AppError;
use super::state::AppState;

pub async fn hello() -> Json<Value> {
    Json(json!({ "message": "Hello World" }))
}

pub async fn ping() -> Json<Value> {
    Json(json!({ "ping": "pong" }))
}

#[derive(Debug, Deserialize)]
pub struct ItemQuery {
    q: Option<String>,
}

pub async fn read_item(
    State(state): State<AppState>,
    Path(item_id): Path<u64>,
    Query(query): Query<ItemQuery>,
) -> Json<Value> {
    load_item(item_id, state.io_delay).await;
    Json(json!({ "item_id": item_id, "q": query.q }))
}

/// Even ids take the slow path: the guide's simulated I/O, recorded on the `load-item` span.
#[traced::traced(name = "load-item", attributes(item.id = item_id))]
async fn load_item(item_id: u64, io_delay: Duration) {
    if item_id.is_multiple_of(2) {
        // A log line inside the span: exported with this span's trace and span id.
        tracing::info!(item_id, delay_seconds = io_delay.as_secs_f64(), "slow path: waiting on simulated I/O");
        tokio::time::sleep(io_delay).await;
        traced::record("demo.io_delay_seconds", io_delay.as_secs_f64());
    }
}

/// Calls the external API (by default the built-in todo service) and returns what it said.
#[record_errors(response)]
pub async fn external_api(State(state): State<AppState>) -> Result<Json<Value>, AppError> {
    let target = &state.external;
    state.metrics.inter_service_requests.add(1, &[KeyValue::new("target_service", target.service.clone())]);
    let response = state.http.get(target.url.as_str()).send().await.map_err(AppError::Upstream)?;
    let response = response.error_for_status().map_err(AppError::Upstream)?;
    let body = read_capped(response, MAX_UPSTREAM_BODY).await?;
    Ok(Json(serde_json::from_slice(&body).map_err(AppError::UpstreamNotJson)?))
}

/// The most `/external-api` reads from the external API: a bigger answer fails the call rather than
/// filling the app's memory (the outbound timeout bounds the time, not the bytes).
const MAX_UPSTREAM_BODY: usize = 1 << 20;

/// The response body, failing as soon as it grows past `limit` bytes.
async fn read_capped(mut response: reqwest::Response, limit: usize) -> Result<Vec<u8>, AppError> {
    if response.content_length().is_some_and(|length| length > limit as u64) {
        return Err(AppError::UpstreamTooLarge(limit));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(AppError::Upstream)? {
        if body.len() + chunk.len() > limit {
            return Err(AppError::UpstreamTooLarge(limit));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

#[record_errors(response)]
pub async fn exception() -> Result<Json<Value>, AppError> {
    Err(AppError::Demo)
}

/// The guide's traced dependency: a database session whose `database_operation` span stays open
/// while the handler holds it. Handlers take it as [`Db`].
#[traced_dependency(name = "database_operation", attributes(db.namespace = "demo"), extractor = Db)]
pub async fn database_session(State(state): State<AppState>) -> DbSession {
    state.database.session().await
}

/// Reads a user through the request's database session.
#[record_errors(response)]
pub async fn read_user(db: Db, Path(user_id): Path<u64>) -> Result<Json<User>, AppError> {
    db.find_user(user_id).map(Json).ok_or(AppError::UserNotFound(user_id))
}
