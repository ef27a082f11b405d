//! The one place that keeps private data and unbounded values out of every output.
//!
//! Every recorder (server layer, client, `#[record_errors]`, panics, logs) and every printer (console,
//! warnings, start-up errors) goes through here:
//!
//! * [`cap`] cuts a copied value to a byte budget on a UTF-8 boundary; [`caps`] names the budget of
//!   each value `traced` copies from a request, a response or an error. Applied when the value is
//!   copied, so a fat header never reaches a span, let alone a queue.
//! * [`redact_url`] / [`redact_query`] drop userinfo and replace the values of sensitive query keys
//!   with `REDACTED`; [`redact_text`] does the same for every URL and `key=value` pair inside free
//!   text (error messages, `source()` chains, status descriptions).
//!
//! The sensitive keys are the defaults of [`keys`] plus the ones configured by
//! `TRACED_REDACTED_QUERY_KEYS` or `Telemetry::builder().redact_query_keys(..)`, installed
//! process-wide by `init()` and read without a lock.
//!
//! Files, one job each: `cap` (cutting), `caps` (the budgets), `keys` (which keys are sensitive),
//! `url` (URLs and query strings), `text` (free text).

mod cap;
pub(crate) mod caps;
pub(crate) mod keys;
mod text;
mod url;

pub(crate) use cap::{cap, cap_display, cap_string};
pub(crate) use text::redact_text;
pub(crate) use url::{redact_query, redact_url};

use std::borrow::Cow;
use std::fmt;

/// What replaces the value of a sensitive query parameter (the word the semantic conventions use).
pub(crate) const REDACTED: &str = "REDACTED";

/// A redacted value cut to `max_bytes` as an owned string (redacting can lengthen a value:
/// `k=1` becomes `k=REDACTED`).
fn cap_cow(value: Cow<'_, str>, max_bytes: usize) -> String {
    match value {
        Cow::Borrowed(value) => cap(value, max_bytes).to_owned(),
        Cow::Owned(value) => cap_string(value, max_bytes),
    }
}

/// A query string as recorded: cut to `max_bytes`, then redacted. Cutting first bounds the work a
/// client can ask for; a cut inside a value still leaves the key, so the value's start is redacted.
pub(crate) fn query_value(query: &str, max_bytes: usize) -> String {
    cap_cow(redact_query(cap(query, max_bytes)), max_bytes)
}

/// A URL the application built (e.g. an outbound request's) as recorded: redacted whole, then cut,
/// so a cut can never land inside userinfo.
pub(crate) fn url_value(url: &str, max_bytes: usize) -> String {
    cap_cow(redact_url(url), max_bytes)
}

/// Error text as recorded: `Display` formatted within `max_bytes`, then redacted (see [`redact_text`]).
pub(crate) fn text_value(text: &(impl fmt::Display + ?Sized), max_bytes: usize) -> String {
    let text = cap_display(text, max_bytes);
    match redact_text(&text) {
        Cow::Borrowed(_) => text,
        Cow::Owned(redacted) => cap_string(redacted, max_bytes),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recorded_values_are_redacted_and_within_budget() {
        let query = format!("token=SECRET&q={}", "x".repeat(10_000));
        assert_eq!(query_value(&query, 20), "token=REDACTED&q=xxx");
        assert_eq!(query_value("q=1", 20), "q=1");
        assert_eq!(url_value("http://u:p@h/?sig=abc", 100), "http://h/?sig=REDACTED");
        assert_eq!(url_value("http://h/?sig=abc", 12), "http://h/?si");
        assert_eq!(text_value("failed: http://u:PW@h/?token=T", 100), "failed: http://h/?token=REDACTED");
        assert_eq!(text_value(&"a".repeat(100), 10).len(), 10);
    }
}
