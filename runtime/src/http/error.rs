//! The response a failed request gets: a generic message and the trace id to quote to support,
//! nothing else (no error text, no backtrace), as the FastAPI guide's exception handler does.
//!
//! ```
//! use traced::ErrorResponse;
//!
//! let response = ErrorResponse::new().to_response_for(opentelemetry::trace::TraceId::from(0xabc));
//! assert_eq!(response.status(), 500);
//! assert_eq!(
//!     response.body(),
//!     r#"{"message":"something went wrong.","request_id":"00000000000000000000000000000abc"}"#,
//! );
//! ```

use std::borrow::Cow;

use http::header::{HeaderValue, CONTENT_TYPE};
use http::StatusCode;
use opentelemetry::trace::{TraceContextExt as _, TraceId};
use opentelemetry::Context;

/// The default `message`.
pub const DEFAULT_ERROR_MESSAGE: &str = "something went wrong.";

/// A JSON error response: `{"message": "something went wrong.", "request_id": "<32-hex trace id>"}`
/// with status 500 by default.
///
/// `request_id` is the trace id of the current span (`null` when there is none), so the caller can
/// hand it over and you can find the trace. Used by the axum layer for panics and by
/// `#[record_errors]`; build one yourself for errors you turn into responses by hand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorResponse {
    status: StatusCode,
    message: Cow<'static, str>,
    expose_request_id: bool,
}

impl Default for ErrorResponse {
    fn default() -> Self {
        Self::new()
    }
}

impl ErrorResponse {
    /// Status 500, the message `something went wrong.`, the trace id exposed as `request_id`.
    pub const fn new() -> Self {
        Self {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            message: Cow::Borrowed(DEFAULT_ERROR_MESSAGE),
            expose_request_id: true,
        }
    }

    /// Answers with `status` instead of 500.
    pub const fn with_status(mut self, status: StatusCode) -> Self {
        self.status = status;
        self
    }

    /// Says `message` instead of `something went wrong.`; keep it free of internal details.
    pub fn with_message(mut self, message: impl Into<Cow<'static, str>>) -> Self {
        self.message = message.into();
        self
    }

    /// Whether the body carries `request_id` (on by default); off leaves only `message`.
    pub const fn with_request_id(mut self, expose: bool) -> Self {
        self.expose_request_id = expose;
        self
    }

    /// The status this response is sent with.
    pub const fn status(&self) -> StatusCode {
        self.status
    }

    /// The JSON body for a request traced as `trace_id` (an invalid id gives `"request_id": null`).
    pub fn body_for(&self, trace_id: TraceId) -> String {
        let mut body = serde_json::Map::with_capacity(2);
        body.insert("message".to_owned(), serde_json::Value::from(self.message.as_ref()));
        if self.expose_request_id {
            let request_id = if trace_id == TraceId::INVALID {
                serde_json::Value::Null
            } else {
                serde_json::Value::from(trace_id.to_string())
            };
            body.insert("request_id".to_owned(), request_id);
        }
        serde_json::Value::Object(body).to_string()
    }

    /// The full response for a request traced as `trace_id`.
    pub fn to_response_for(&self, trace_id: TraceId) -> http::Response<String> {
        let mut response = http::Response::new(self.body_for(trace_id));
        *response.status_mut() = self.status;
        response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        response
    }

    /// The full response for the request whose span is current.
    pub fn to_response(&self) -> http::Response<String> {
        self.to_response_for(Context::map_current(|cx| cx.span().span_context().trace_id()))
    }
}

#[cfg(feature = "axum")]
impl axum::response::IntoResponse for ErrorResponse {
    fn into_response(self) -> axum::response::Response {
        self.to_response().map(axum::body::Body::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(body: &str) -> serde_json::Value {
        serde_json::from_str(body).unwrap_or_else(|error| panic!("{body:?} is not JSON: {error}"))
    }

    #[test]
    fn the_default_body_has_the_message_and_the_trace_id() {
        let trace_id = TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").expect("valid hex");
        let response = ErrorResponse::new().to_response_for(trace_id);
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(response.headers()[CONTENT_TYPE], "application/json");
        assert_eq!(
            json(response.body()),
            serde_json::json!({"message": "something went wrong.", "request_id": "4bf92f3577b34da6a3ce929d0e0e4736"})
        );
    }

    #[test]
    fn message_status_and_exposure_are_configurable() {
        let error = ErrorResponse::new()
            .with_status(StatusCode::SERVICE_UNAVAILABLE)
            .with_message("try \"again\" later")
            .with_request_id(false);
        let response = error.to_response_for(TraceId::from(1));
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(json(response.body()), serde_json::json!({"message": "try \"again\" later"}));
    }

    #[test]
    fn without_a_span_the_request_id_is_null() {
        assert_eq!(
            json(&ErrorResponse::new().to_response().into_body()),
            serde_json::json!({"message": "something went wrong.", "request_id": null})
        );
    }
}
