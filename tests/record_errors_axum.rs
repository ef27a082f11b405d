//! `#[record_errors(response)]` on axum handlers over real TCP: the JSON 500 whose `request_id` is the
//! exported trace id, the exception on the right span, the options, and 4xx errors passed through.

mod axum_support;

use std::borrow::Cow;

use axum::extract::Path;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use opentelemetry::trace::Status;
use opentelemetry_sdk::trace::SpanData;
use traced::testing::SpanCapture;

use axum_support::{capture, serve, server_span};
use traced::axum::TracedLayer;
use traced::{record_errors, traced, PublicError};

/// An application error that knows nothing about HTTP.
#[derive(Debug)]
enum CheckoutError {
    PaymentDeclined,
    UnknownItem(u64),
}

impl std::fmt::Display for CheckoutError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CheckoutError::PaymentDeclined => f.write_str("card 4242 declined by the bank"),
            CheckoutError::UnknownItem(id) => write!(f, "item {id} is not in the catalogue"),
        }
    }
}

impl std::error::Error for CheckoutError {}

impl PublicError for CheckoutError {
    fn status(&self) -> Option<StatusCode> {
        match self {
            CheckoutError::PaymentDeclined => None,
            CheckoutError::UnknownItem(_) => Some(StatusCode::NOT_FOUND),
        }
    }

    fn public_message(&self) -> Option<Cow<'_, str>> {
        match self {
            CheckoutError::PaymentDeclined => None,
            CheckoutError::UnknownItem(id) => Some(format!("no item {id}").into()),
        }
    }
}

fn checkout_result(id: u64) -> Result<u64, CheckoutError> {
    match id {
        0 => Err(CheckoutError::PaymentDeclined),
        1..=99 => Ok(id * 100),
        _ => Err(CheckoutError::UnknownItem(id)),
    }
}

#[record_errors(response)]
async fn checkout(Path(id): Path<u64>) -> Result<Json<u64>, CheckoutError> {
    let total = checkout_result(id)?;
    Ok(Json(total))
}

#[traced(name = "pay")]
#[record_errors(status = 503, message = "payments are down, try later", request_id = false)]
async fn pay(Path(id): Path<u64>) -> Result<String, CheckoutError> {
    checkout_result(id).map(|total| total.to_string())
}

#[record_errors(response)]
fn sync_handler() -> Result<&'static str, CheckoutError> {
    Err(CheckoutError::PaymentDeclined)
}

fn app() -> Router {
    Router::new()
        .route("/checkout/{id}", get(checkout))
        .route("/pay/{id}", get(pay))
        .route("/sync", get(|| async { sync_handler() }))
        .layer(TracedLayer::new())
}

fn exception_type(span: &SpanData) -> Option<String> {
    let event = span.events.iter().find(|event| event.name == "exception")?;
    event.attributes.iter().find(|kv| kv.key.as_str() == "exception.type").map(|kv| kv.value.to_string())
}

/// GETs `path` from a fresh server: the status, the JSON body and the request's server span.
async fn get_json(capture: &SpanCapture, path: &str) -> (u16, serde_json::Value, SpanData) {
    let address = serve(app()).await;
    let response = reqwest::get(format!("http://{address}{path}")).await.expect("request");
    let status = response.status().as_u16();
    assert_eq!(response.headers()["content-type"], "application/json");
    let body = response.json().await.expect("JSON body");
    (status, body, server_span(capture).await)
}

#[tokio::test]
async fn an_err_becomes_a_json_500_whose_request_id_is_the_trace_id() {
    let capture = capture();
    let (status, body, server) = get_json(&capture, "/checkout/0").await;
    assert_eq!(status, 500);
    let trace_id = server.span_context.trace_id().to_string();
    assert_eq!(body, serde_json::json!({"message": "something went wrong.", "request_id": trace_id}));
    assert!(!body.to_string().contains("4242"), "the error text never reaches the client");
    assert_eq!(exception_type(&server).as_deref(), Some("record_errors_axum::CheckoutError"));
    assert_eq!(server.status, Status::error("card 4242 declined by the bank"));
}

#[tokio::test]
async fn the_ok_value_is_the_response() {
    let capture = capture();
    let (status, body, server) = get_json(&capture, "/checkout/7").await;
    assert_eq!((status, body), (200, serde_json::json!(700)));
    assert_eq!(exception_type(&server), None);
}

#[tokio::test]
async fn a_4xx_error_passes_through_with_its_public_message_unrecorded() {
    let capture = capture();
    let (status, body, server) = get_json(&capture, "/checkout/404").await;
    assert_eq!(status, 404);
    let trace_id = server.span_context.trace_id().to_string();
    assert_eq!(body, serde_json::json!({"message": "no item 404", "request_id": trace_id}));
    assert_eq!(exception_type(&server), None);
    assert_eq!(server.status, Status::Unset);
}

#[tokio::test]
async fn options_set_status_and_message_and_hide_the_id_and_traced_gets_the_exception() {
    let capture = capture();
    let (status, body, server) = get_json(&capture, "/pay/0").await;
    assert_eq!(status, 503);
    assert_eq!(body, serde_json::json!({"message": "payments are down, try later"}));
    let pay = capture.span("pay");
    assert_eq!(pay.parent_span_id, server.span_context.span_id());
    assert_eq!(exception_type(&pay).as_deref(), Some("record_errors_axum::CheckoutError"));
    assert_eq!(pay.status, Status::error("card 4242 declined by the bank"));
    assert_eq!(exception_type(&server), None, "recorded once, on the innermost span");
}

#[tokio::test]
async fn a_sync_function_makes_the_same_response() {
    let capture = capture();
    let (status, body, server) = get_json(&capture, "/sync").await;
    assert_eq!(status, 500);
    assert_eq!(body["request_id"], server.span_context.trace_id().to_string());
}
