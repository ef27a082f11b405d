//! What `#[record_errors]` records, asserted on captured spans: the `exception` event (type, message,
//! source chain, backtrace), status ERROR, 4xx errors passed through, sync and async, with `#[traced]`
//! above or below it, and errors of every shape (`Box<dyn Error>`, `String`, `()`).

use std::backtrace::Backtrace;
use std::borrow::Cow;
use std::error::Error;
use std::fmt;

use http::StatusCode;
use opentelemetry::trace::Status;
use opentelemetry_sdk::trace::SpanData;
use traced::testing::capture;
use traced::{record_errors, traced, ErrorBacktrace, PublicError};

#[derive(Debug)]
enum StoreError {
    Query(Timeout),
    Missing(u64),
}

#[derive(Debug)]
struct Timeout;

impl fmt::Display for Timeout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("timed out after 5s")
    }
}

impl Error for Timeout {}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::Query(_) => f.write_str("the query failed"),
            StoreError::Missing(id) => write!(f, "no item {id}"),
        }
    }
}

impl Error for StoreError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            StoreError::Query(timeout) => Some(timeout),
            StoreError::Missing(_) => None,
        }
    }
}

impl PublicError for StoreError {
    fn status(&self) -> Option<StatusCode> {
        match self {
            StoreError::Query(_) => Some(StatusCode::BAD_GATEWAY),
            StoreError::Missing(_) => Some(StatusCode::NOT_FOUND),
        }
    }

    fn public_message(&self) -> Option<Cow<'_, str>> {
        Some(self.to_string().into())
    }
}

const STORE_ERROR: &str = "record_errors_behaviour::StoreError";

/// The one `exception` event of `span`, as `key -> value text`.
fn exception(span: &SpanData) -> Vec<(String, String)> {
    let events: Vec<_> = span.events.iter().filter(|event| event.name == "exception").collect();
    assert_eq!(events.len(), 1, "one exception event on {}: {:?}", span.name, span.events);
    events[0].attributes.iter().map(|kv| (kv.key.to_string(), kv.value.to_string())).collect()
}

fn has_no_exception(span: &SpanData) -> bool {
    span.events.iter().all(|event| event.name != "exception")
}

fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
    expected.iter().map(|(key, value)| ((*key).to_owned(), (*value).to_owned())).collect()
}

#[record_errors]
#[traced]
fn below_traced(fail: bool) -> Result<u8, StoreError> {
    if fail {
        return Err(StoreError::Query(Timeout));
    }
    Ok(1)
}

#[test]
fn an_err_becomes_an_exception_event_with_type_message_and_sources() {
    let capture = capture();
    assert!(below_traced(false).is_ok());
    assert!(has_no_exception(&capture.span("below_traced")));
    capture.clear();

    assert!(below_traced(true).is_err());
    let span = capture.span("below_traced");
    assert_eq!(
        exception(&span),
        pairs(&[
            ("exception.type", STORE_ERROR),
            ("exception.message", "the query failed"),
            ("exception.sources", "[\"timed out after 5s\"]"),
        ])
    );
    assert_eq!(span.status, Status::error("the query failed"));
}

#[traced]
#[record_errors]
async fn above_traced(id: u64) -> Result<u8, StoreError> {
    let timeout = async { Err(StoreError::Query(Timeout)) };
    if id == 0 {
        return Err(StoreError::Missing(id));
    }
    timeout.await?;
    Ok(1)
}

#[tokio::test]
async fn traced_above_records_on_the_traced_span_too_and_4xx_passes_through() {
    let capture = capture();
    assert!(above_traced(7).await.is_err());
    let span = capture.span("above_traced");
    assert_eq!(exception(&span)[0], ("exception.type".to_owned(), STORE_ERROR.to_owned()));
    assert_eq!(span.status, Status::error("the query failed"));
    capture.clear();

    assert!(matches!(above_traced(0).await, Err(StoreError::Missing(0))));
    let span = capture.span("above_traced");
    assert!(has_no_exception(&span), "a 404 is the client's error: {:?}", span.events);
}

#[record_errors]
fn boxed(fail: u8) -> Result<(), Box<dyn Error + Send + Sync>> {
    match fail {
        0 => Ok(()),
        _ => Err(Box::new(StoreError::Query(Timeout))),
    }
}

#[record_errors]
fn text() -> Result<(), String> {
    Err("plain text".to_owned())
}

#[record_errors]
fn opaque() -> std::result::Result<(), ()> {
    Err(())
}

#[traced]
fn caller() {
    let _ = boxed(1);
    let _ = text();
    let _ = opaque();
}

#[test]
fn without_traced_every_error_shape_lands_on_the_current_span() {
    let capture = capture();
    caller();
    let span = capture.span("caller");
    let events: Vec<Vec<(String, String)>> = span
        .events
        .iter()
        .map(|event| event.attributes.iter().map(|kv| (kv.key.to_string(), kv.value.to_string())).collect())
        .collect();
    assert_eq!(
        events,
        [
            pairs(&[
                (
                    "exception.type",
                    "alloc::boxed::Box<dyn core::error::Error + core::marker::Send + core::marker::Sync>"
                ),
                ("exception.message", "the query failed"),
                ("exception.sources", "[\"timed out after 5s\"]"),
            ]),
            pairs(&[("exception.type", "alloc::string::String"), ("exception.message", "plain text")]),
            pairs(&[("exception.type", "()")]),
        ]
    );
    assert_eq!(span.status, Status::error("the query failed"), "the first failure describes the status");
}

#[derive(Debug)]
struct Traced {
    backtrace: Backtrace,
}

impl fmt::Display for Traced {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("with a backtrace")
    }
}

impl ErrorBacktrace for Traced {
    fn backtrace(&self) -> Option<&Backtrace> {
        Some(&self.backtrace)
    }
}

#[record_errors]
#[traced]
fn with_backtrace() -> Result<(), Traced> {
    Err(Traced { backtrace: Backtrace::force_capture() })
}

#[test]
fn a_captured_backtrace_becomes_the_stacktrace() {
    let capture = capture();
    let _ = with_backtrace();
    let event = exception(&capture.span("with_backtrace"));
    let stacktrace = event.iter().find(|(key, _)| key == "exception.stacktrace").map(|(_, value)| value.as_str());
    assert!(stacktrace.is_some_and(|text| text.contains("with_backtrace")), "{stacktrace:?}");
}
