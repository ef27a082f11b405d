//! The `exception` event and ERROR status a recorded `Err` leaves on the current span. Every text is
//! cut to its budget in [`crate::privacy::caps`] while it is formatted, and redacted (URLs inside
//! error text carry userinfo and query secrets: reqwest's do).

use std::backtrace::BacktraceStatus;
use std::error::Error;

use opentelemetry::trace::{Status, TraceContextExt as _};
use opentelemetry::{Array, Context, KeyValue, StringValue, Value};
use opentelemetry_semantic_conventions::attribute::{EXCEPTION_MESSAGE, EXCEPTION_STACKTRACE, EXCEPTION_TYPE};

use super::probe::{Described, Failure};
use crate::privacy::{self, caps};

/// The `source()` chain, outermost first, as `Display` texts.
pub const EXCEPTION_SOURCES: &str = "exception.sources";

/// A chain longer than this is cut: a source chain that loops would otherwise never end.
const MAX_SOURCES: usize = 32;

/// What recording a failure adds to a span, computed while the error can still be borrowed.
#[derive(Debug)]
pub(crate) struct Exception {
    attributes: Vec<KeyValue>,
    description: String,
}

impl Exception {
    pub(crate) fn of(failure: &Failure<'_>) -> Self {
        let message = message(failure.described);
        let description = message.as_deref().unwrap_or(failure.type_name);
        let description = privacy::cap(description, caps::STATUS_DESCRIPTION).to_owned();
        Self { attributes: attributes(failure, message), description }
    }

    /// Adds the `exception` event to the current span and sets its status to ERROR with the message.
    pub(crate) fn record(self) {
        Context::map_current(|cx| {
            let span = cx.span();
            if span.is_recording() {
                span.add_event("exception", self.attributes);
                span.set_status(Status::error(self.description));
            }
        });
    }
}

/// Records `failure` on the current span; see [`Exception::record`]. Formats nothing when no span
/// records (telemetry off, unsampled, no span at all).
pub(crate) fn record(failure: &Failure<'_>) {
    if Context::map_current(|cx| cx.span().is_recording()) {
        Exception::of(failure).record();
    }
}

fn message(described: Described<'_>) -> Option<String> {
    match described {
        Described::Error(error) => Some(privacy::text_value(error, caps::EXCEPTION_MESSAGE)),
        Described::Message(message) => Some(privacy::text_value(message, caps::EXCEPTION_MESSAGE)),
        Described::Nothing => None,
    }
}

fn attributes(failure: &Failure<'_>, message: Option<String>) -> Vec<KeyValue> {
    let mut attributes = Vec::with_capacity(4);
    attributes.push(KeyValue::new(EXCEPTION_TYPE, failure.type_name));
    if let Some(message) = message {
        attributes.push(KeyValue::new(EXCEPTION_MESSAGE, message));
    }
    if let Described::Error(error) = failure.described {
        let sources = sources(error);
        if !sources.is_empty() {
            attributes.push(KeyValue::new(EXCEPTION_SOURCES, Value::Array(Array::String(sources))));
        }
    }
    if let Some(backtrace) = failure.backtrace.filter(|backtrace| backtrace.status() == BacktraceStatus::Captured) {
        attributes
            .push(KeyValue::new(EXCEPTION_STACKTRACE, privacy::cap_display(backtrace, caps::EXCEPTION_STACKTRACE)));
    }
    attributes
}

fn sources(error: &dyn Error) -> Vec<StringValue> {
    std::iter::successors(error.source(), |source| (*source).source())
        .take(MAX_SOURCES)
        .map(|source| StringValue::from(privacy::text_value(source, caps::EXCEPTION_SOURCE)))
        .collect()
}

#[cfg(test)]
mod tests {
    use std::backtrace::Backtrace;
    use std::fmt;

    use super::*;

    #[derive(Debug)]
    struct Layer(&'static str, Option<Box<Layer>>);

    impl fmt::Display for Layer {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(self.0)
        }
    }

    impl Error for Layer {
        fn source(&self) -> Option<&(dyn Error + 'static)> {
            self.1.as_deref().map(|inner| inner as &(dyn Error + 'static))
        }
    }

    fn value(attributes: &[KeyValue], key: &str) -> Option<String> {
        attributes.iter().find(|kv| kv.key.as_str() == key).map(|kv| kv.value.to_string())
    }

    #[test]
    fn the_event_has_type_message_and_the_source_chain() {
        let error =
            Layer("checkout failed", Some(Box::new(Layer("query failed", Some(Box::new(Layer("timeout", None)))))));
        let failure = Failure::new("app::Layer", Described::Error(&error), None, None);
        let attributes = attributes(&failure, message(failure.described));
        assert_eq!(value(&attributes, EXCEPTION_TYPE).as_deref(), Some("app::Layer"));
        assert_eq!(value(&attributes, EXCEPTION_MESSAGE).as_deref(), Some("checkout failed"));
        assert_eq!(value(&attributes, EXCEPTION_SOURCES).as_deref(), Some("[\"query failed\",\"timeout\"]"));
        assert_eq!(value(&attributes, EXCEPTION_STACKTRACE), None);
    }

    #[test]
    fn texts_are_redacted_and_capped() {
        let huge = "x".repeat(300 * 1024);
        let error = Layer(
            "error sending request for url (http://user:PWSECRET@127.0.0.1:9/todos/1?token=T0PSECRET&sig=S1GSECRET)",
            Some(Box::new(Layer(huge.clone().leak(), None))),
        );
        let failure = Failure::new("reqwest::Error", Described::Error(&error), None, None);
        let exception = Exception::of(&failure);
        let everything = format!("{:?} {}", exception.attributes, exception.description);
        for secret in ["PWSECRET", "T0PSECRET", "S1GSECRET"] {
            assert!(!everything.contains(secret), "{secret} in {everything}");
        }
        assert!(exception.description.contains("token=REDACTED"), "{}", exception.description);
        let sources = exception.attributes.iter().find(|kv| kv.key.as_str() == EXCEPTION_SOURCES).expect("sources");
        assert!(
            matches!(&sources.value, Value::Array(Array::String(items)) if items[0].as_str().len() == caps::EXCEPTION_SOURCE)
        );

        let message = Layer(huge.leak(), None);
        let exception = Exception::of(&Failure::new("E", Described::Error(&message), None, None));
        assert_eq!(
            value(&exception.attributes, EXCEPTION_MESSAGE).map(|text| text.len()),
            Some(caps::EXCEPTION_MESSAGE)
        );
        assert_eq!(exception.description.len(), caps::STATUS_DESCRIPTION);
    }

    #[test]
    fn only_a_captured_backtrace_is_recorded() {
        let captured = Backtrace::force_capture();
        let disabled = Backtrace::disabled();
        let with = |backtrace| attributes(&Failure::new("E", Described::Nothing, None, Some(backtrace)), None);
        assert!(value(&with(&captured), EXCEPTION_STACKTRACE).is_some_and(|text| !text.is_empty()));
        assert_eq!(value(&with(&disabled), EXCEPTION_STACKTRACE), None);
        assert_eq!(value(&with(&disabled), EXCEPTION_MESSAGE), None);
    }
}
