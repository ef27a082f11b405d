//! The second service `/external-api` calls by default, so the demo needs no internet: a tiny
//! stand-in for a public JSON API, listening on 127.0.0.1.

use axum::extract::Path;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};
use tokio::net::TcpListener;
use traced::axum::TracedLayer;

use super::serve::{Background, ServeOptions};

/// The value of `target_service` for calls to this service.
pub const SERVICE_NAME: &str = "todo-service";

/// `GET /todos/{id}`: a todo in the shape public demo APIs use.
pub fn router() -> Router {
    // Traced too, so one trace shows the call leaving the app and arriving here.
    Router::new().route("/todos/{id}", get(todo)).layer(TracedLayer::new())
}

async fn todo(Path(id): Path<u64>) -> Json<Value> {
    Json(json!({ "userId": 1, "id": id, "title": "observe the sample app", "completed": id % 2 == 0 }))
}

/// Starts the service on an ephemeral loopback port, served like the app itself.
pub async fn start(options: ServeOptions) -> std::io::Result<Background> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    Background::spawn(listener, router(), options)
}
