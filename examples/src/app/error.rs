//! The app's errors. Handlers return them through `#[record_errors(response)]`: a 5xx is recorded on
//! the request's span (an `exception` event, status ERROR) and answered with a generic message and
//! the trace id; a 4xx is the caller's mistake and passes through unrecorded.

use std::borrow::Cow;

use axum::http::StatusCode;
use traced::PublicError;

/// Why a handler failed.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// `/exception` fails on purpose, like the guide's `raise Exception(...)`.
    #[error("this is a test exception")]
    Demo,
    /// The service behind `/external-api` could not be reached or answered badly.
    #[error("the external API call failed")]
    Upstream(#[source] reqwest::Error),
    /// The external API answered more than the app reads.
    #[error("the external API's answer is larger than {0} bytes")]
    UpstreamTooLarge(usize),
    /// The external API's answer is not JSON.
    #[error("the external API's answer is not JSON")]
    UpstreamNotJson(#[source] serde_json::Error),
    /// No such row in the demo database.
    #[error("no user {0}")]
    UserNotFound(u64),
}

impl PublicError for AppError {
    fn status(&self) -> Option<StatusCode> {
        matches!(self, Self::UserNotFound(_)).then_some(StatusCode::NOT_FOUND)
    }

    fn public_message(&self) -> Option<Cow<'_, str>> {
        matches!(self, Self::UserNotFound(_)).then_some(Cow::Borrowed("user not found"))
    }
}
