//! `#[record_errors(response)]` on an axum handler: the `Err` becomes the JSON [`ErrorResponse`] with
//! the trace id, instead of leaking the error.

use std::borrow::Cow;

use axum::response::{IntoResponse, Response};
use http::StatusCode;

use super::probe::Failure;
use super::result::{record_unless_client_error, ReturnsResult};
use crate::http::error::{ErrorResponse, DEFAULT_ERROR_MESSAGE};

/// The macro's `status`, `message` and `request_id` options, one `static` per handler.
#[derive(Debug)]
pub struct ResponseOptions {
    status: u16,
    message: Option<&'static str>,
    request_id: bool,
}

impl ResponseOptions {
    /// `status` was checked to be 400..=599 by the macro.
    pub const fn new(status: u16, message: Option<&'static str>, request_id: bool) -> Self {
        Self { status, message, request_id }
    }

    fn status(&self) -> StatusCode {
        StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }
}

/// The handler's response: the value on `Ok`; on `Err` the JSON error response, with the error's own
/// status and public message when it implements [`PublicError`](super::PublicError). 5xx errors are
/// recorded on the current span first; the body's `request_id` is the current trace id.
#[allow(clippy::result_large_err)] // `Response` is what axum answers with
pub fn respond<R: ReturnsResult>(
    ret: R,
    options: &ResponseOptions,
    describe: impl for<'a> FnOnce(&'a R::Error) -> Failure<'a>,
) -> Result<R::Value, Response> {
    ret.into_result().map_err(|error| error_response(&describe(&error), options).into_response())
}

fn error_response(failure: &Failure<'_>, options: &ResponseOptions) -> ErrorResponse {
    let status = record_unless_client_error(failure, options.status());
    let public_message = failure.public.and_then(|public| public.public_message()).map(Cow::into_owned);
    let message = match public_message {
        Some(message) => Cow::Owned(message),
        None => Cow::Borrowed(client_error_reason(status).or(options.message).unwrap_or(DEFAULT_ERROR_MESSAGE)),
    };
    ErrorResponse::new().with_status(status).with_message(message).with_request_id(options.request_id)
}

/// A client error without a message of its own says what its status means (`Not Found`): the
/// configured message is about server failures and would blame the server.
fn client_error_reason(status: StatusCode) -> Option<&'static str> {
    status.is_client_error().then(|| status.canonical_reason()).flatten()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::errors::probe::Described;
    use crate::errors::PublicError;

    struct Missing;

    impl PublicError for Missing {
        fn status(&self) -> Option<StatusCode> {
            Some(StatusCode::NOT_FOUND)
        }
    }

    struct Busy;

    impl PublicError for Busy {
        fn status(&self) -> Option<StatusCode> {
            Some(StatusCode::SERVICE_UNAVAILABLE)
        }
        fn public_message(&self) -> Option<Cow<'_, str>> {
            Some("busy, retry in a minute".into())
        }
    }

    fn response(public: Option<&dyn PublicError>, options: &ResponseOptions) -> (StatusCode, String) {
        let failure = Failure::new("E", Described::Nothing, public, None);
        let response = error_response(&failure, options);
        (response.status(), response.body_for(opentelemetry::trace::TraceId::from(7)))
    }

    #[test]
    fn the_options_shape_the_response_of_a_private_error() {
        let defaults = ResponseOptions::new(500, None, true);
        let configured = ResponseOptions::new(503, Some("try later"), false);
        assert_eq!(
            response(None, &defaults),
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                r#"{"message":"something went wrong.","request_id":"00000000000000000000000000000007"}"#.to_owned()
            )
        );
        assert_eq!(
            response(None, &configured),
            (StatusCode::SERVICE_UNAVAILABLE, r#"{"message":"try later"}"#.to_owned())
        );
    }

    #[test]
    fn a_public_error_brings_its_status_and_message() {
        let options = ResponseOptions::new(500, Some("configured"), false);
        assert_eq!(
            response(Some(&Busy), &options),
            (StatusCode::SERVICE_UNAVAILABLE, r#"{"message":"busy, retry in a minute"}"#.to_owned())
        );
        assert_eq!(
            response(Some(&Missing), &options),
            (StatusCode::NOT_FOUND, r#"{"message":"Not Found"}"#.to_owned())
        );
    }
}
