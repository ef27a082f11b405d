//! A handler that panics: the request gets the configured JSON error response (500 by default), the
//! span an `exception` event and ERROR status, and the connection keeps serving. A response body
//! that panics once its head is sent is recorded the same way (the client sees the body cut off).

use std::any::Any;
use std::borrow::Cow;

use axum::body::Bytes;
use http::Response;
use opentelemetry::trace::{TraceContextExt as _, TraceId};
use opentelemetry::KeyValue;
use opentelemetry_semantic_conventions::attribute::{EXCEPTION_MESSAGE, EXCEPTION_TYPE};

use super::request_scope::RequestScope;
use crate::http::error::ErrorResponse;
use crate::privacy::{self, caps};

/// `exception.type` and `error.type` of a panic: Rust panics carry no type, only a payload.
const PANIC: &str = "panic";

/// The panic's message: the `&str` or `String` given to `panic!`, else a placeholder.
pub(crate) fn message(payload: &(dyn Any + Send)) -> Cow<'static, str> {
    if let Some(message) = payload.downcast_ref::<&'static str>() {
        Cow::Borrowed(message)
    } else if let Some(message) = payload.downcast_ref::<String>() {
        Cow::Owned(message.clone())
    } else {
        Cow::Borrowed("panic with a non-string payload")
    }
}

/// Records the panic on the request's span and builds the error response.
pub(crate) fn respond(
    scope: Option<&mut RequestScope>,
    error_response: &ErrorResponse,
    payload: &(dyn Any + Send),
) -> Response<Bytes> {
    let trace_id = scope.map_or(TraceId::INVALID, |scope| record(scope, payload));
    error_response.to_response_for(trace_id).map(Bytes::from)
}

/// Records the panic on the request's span: an `exception` event, `error.type` `panic` and ERROR
/// status. Returns the request's trace id.
pub(crate) fn record(scope: &mut RequestScope, payload: &(dyn Any + Send)) -> TraceId {
    // A panic message can quote anything the handler saw: bounded and redacted like an error's.
    let message = privacy::text_value(&message(payload), caps::EXCEPTION_MESSAGE);
    let description = privacy::cap(&message, caps::STATUS_DESCRIPTION).to_owned();
    let span = scope.context().span();
    span.add_event("exception", vec![KeyValue::new(EXCEPTION_TYPE, PANIC), KeyValue::new(EXCEPTION_MESSAGE, message)]);
    let trace_id = span.span_context().trace_id();
    scope.fail(Cow::Borrowed(PANIC), &description);
    trace_id
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_payloads_become_the_message() {
        let from_str: Box<dyn Any + Send> = Box::new("boom");
        let from_string: Box<dyn Any + Send> = Box::new(String::from("boom 42"));
        let other: Box<dyn Any + Send> = Box::new(42_u8);
        assert_eq!(message(&*from_str), "boom");
        assert_eq!(message(&*from_string), "boom 42");
        assert_eq!(message(&*other), "panic with a non-string payload");
    }

    #[test]
    fn an_untraced_panic_still_gets_the_json_body() {
        let payload: Box<dyn Any + Send> = Box::new("boom");
        let response = respond(None, &ErrorResponse::new(), &*payload);
        assert_eq!(response.status(), 500);
        assert_eq!(response.body().as_ref(), br#"{"message":"something went wrong.","request_id":null}"#);
    }
}
