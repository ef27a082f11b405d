//! Small text helpers shared by the console exporters.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use opentelemetry::trace::{SpanKind, Status};
use opentelemetry::{Array, KeyValue, Value};
use opentelemetry_sdk::trace::SpanData;

/// Longest attribute value shown in the tree view; the raw view shows everything.
const SHORT_VALUE: usize = 48;

/// Free text as printed (names, messages, descriptions): control characters (newlines, carriage
/// returns, ANSI and C1 escapes) and bidirectional overrides are escaped (`\n`, `\u{1b}`), so a value
/// quoting client input can neither forge a line nor hide or rewrite one on the terminal.
pub(super) fn text(text: &str) -> Cow<'_, str> {
    let hostile = |c: char| c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
    if !text.contains(hostile) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if hostile(c) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// `850µs`, `12.3ms`, `1.20s`.
pub(super) fn duration(duration: Duration) -> String {
    let micros = duration.as_micros();
    if micros < 1_000 {
        format!("{micros}µs")
    } else if micros < 1_000_000 {
        format!("{:.1}ms", micros as f64 / 1_000.0)
    } else {
        format!("{:.2}s", duration.as_secs_f64())
    }
}

/// `2026-11-24T20:16:00.123Z`, computed without a date library (civil-from-days).
pub(super) fn timestamp(time: SystemTime) -> String {
    let since_epoch = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since_epoch.as_secs();
    let days = (secs / 86_400) as i64;
    let (hour, minute, second) = (secs % 86_400 / 3600, secs % 3600 / 60, secs % 60);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let millis = since_epoch.subsec_millis();
    format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}.{millis:03}Z")
}

/// The span kind as the tree and raw views spell it.
pub(super) fn kind(span: &SpanData) -> &'static str {
    match span.span_kind {
        SpanKind::Server => "server",
        SpanKind::Client => "client",
        SpanKind::Producer => "producer",
        SpanKind::Consumer => "consumer",
        SpanKind::Internal => "internal",
    }
}

/// `OK`, `ERROR`, `ERROR(description)`, or nothing when unset.
pub(super) fn status(status: &Status) -> String {
    match status {
        Status::Unset => String::new(),
        Status::Ok => "OK".to_owned(),
        Status::Error { description } if description.is_empty() => "ERROR".to_owned(),
        Status::Error { description } => format!("ERROR({})", text(description)),
    }
}

/// `key=value key2="a b"`, values cut to a screen-friendly length when `short`.
pub(super) fn attributes<'a>(attributes: impl IntoIterator<Item = &'a KeyValue>, short: bool) -> String {
    let mut out = String::new();
    for attribute in attributes {
        if !out.is_empty() {
            out.push(' ');
        }
        let _ = write!(out, "{}={}", text(attribute.key.as_str()), value(&attribute.value, short));
    }
    out
}

pub(super) fn value(value: &Value, short: bool) -> String {
    // Strings are quoted with `Debug`, which escapes control characters.
    let shown = match value {
        Value::String(text) => format!("{:?}", text.as_str()),
        Value::Array(Array::String(texts)) => {
            format!("[{}]", texts.iter().map(|text| format!("{:?}", text.as_str())).collect::<Vec<_>>().join(","))
        }
        other => other.to_string(),
    };
    if short && shown.chars().count() > SHORT_VALUE {
        let cut: String = shown.chars().take(SHORT_VALUE - 1).collect();
        format!("{cut}…")
    } else {
        shown
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_pick_a_readable_unit() {
        assert_eq!(duration(Duration::from_micros(850)), "850µs");
        assert_eq!(duration(Duration::from_micros(12_340)), "12.3ms");
        assert_eq!(duration(Duration::from_millis(1_200)), "1.20s");
    }

    #[test]
    fn timestamps_are_utc_iso8601() {
        assert_eq!(timestamp(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        let leap_day = UNIX_EPOCH + Duration::from_millis(1_709_210_096_789);
        assert_eq!(timestamp(leap_day), "2024-02-29T12:34:56.789Z");
    }

    #[test]
    fn long_values_are_cut_in_the_short_form_only() {
        let long = Value::from("x".repeat(100));
        assert!(value(&long, true).ends_with('…'));
        assert_eq!(value(&long, true).chars().count(), SHORT_VALUE);
        assert_eq!(value(&long, false).len(), 102);
        let kvs = [KeyValue::new("a", 1), KeyValue::new("b", "two")];
        assert_eq!(attributes(&kvs, true), "a=1 b=\"two\"");
    }
}
