//! The app's errors. A failed request gets `traced::ErrorResponse`: a generic message and the trace
//! id, never the error text.

use axum::response::{IntoResponse, Response};
use traced::ErrorResponse;

/// Why a handler failed.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// `/exception` fails on purpose, like the guide's `raise Exception(...)`.
    #[error("this is a test exception")]
    Demo,
    /// The service behind `/external-api` could not be reached or answered badly.
    #[error("the external API call failed")]
    Upstream(#[source] reqwest::Error),
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        // TODO(issue 4): `#[record_errors]` on the handlers, so the error is also recorded on the span.
        ErrorResponse::new().into_response()
    }
}
