//! One warning on stderr per signal and kind of problem, saying what happened to the data.
//!
//! A collector that is down must not flood the output, and a dashboard that stays empty must have a
//! reason somewhere: each exporter says once, per kind of problem, what it saw and how the data is
//! counted. Endpoints are printed without userinfo and collector text goes through redaction, with
//! control characters removed, the values of the headers we send taken out (a collector may quote the
//! API key it refuses) and its length capped (a hostile collector writes to our stderr).

use std::collections::HashSet;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use crate::privacy::{redact_text, redact_url};

/// Collector text longer than this is cut.
const MAX_TEXT: usize = 300;

/// A header value shorter than this is not looked for in collector text (it would be a word of prose,
/// not a credential).
const MIN_SECRET: usize = 4;

/// What replaces a header value quoted in collector text.
const REDACTED: &str = "REDACTED";

/// What went wrong, as far as "say it once" cares.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) enum Problem {
    /// One item larger than the request limit, or refused as too large alone.
    TooLarge,
    /// The collector accepted a request but rejected some items (or sent a warning).
    PartialSuccess,
    /// No connection could be made.
    Unreachable,
    /// The request was sent and no answer came before the deadline.
    NoAnswer,
    /// The connection broke after the request was sent, until the retries or the deadline ran out.
    Broken,
    /// Transient refusals (this status) until the retries or the deadline ran out.
    Failing(String),
    /// A final refusal with this status.
    Rejected(String),
}

/// Where warnings go: stderr, or a test's buffer.
pub(crate) type Sink = Arc<dyn Fn(&str) + Send + Sync>;

pub(crate) fn stderr() -> Sink {
    Arc::new(|message: &str| eprintln!("{message}"))
}

/// The warnings of one exporter (one signal).
pub(super) struct Warnings {
    signal: &'static str,
    endpoint: String,
    /// The values of the headers every request carries (API keys), never printed.
    secrets: Vec<String>,
    said: Mutex<HashSet<Problem>>,
    sink: Sink,
}

impl fmt::Debug for Warnings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Warnings").field("signal", &self.signal).field("endpoint", &self.endpoint).finish()
    }
}

impl Warnings {
    /// The warnings of the exporter of `signal` to `endpoint`, whose requests carry `headers`.
    pub(super) fn new(signal: &'static str, endpoint: &str, headers: &[(String, String)], sink: Sink) -> Self {
        let mut secrets: Vec<String> = headers.iter().flat_map(|(_, value)| secrets_of(value)).collect();
        // The longest first: a value containing another goes whole.
        secrets.sort_by_key(|secret| std::cmp::Reverse(secret.len()));
        let endpoint = redact_url(endpoint).into_owned();
        Self { signal, endpoint, secrets, said: Mutex::new(HashSet::new()), sink }
    }

    /// Collector or transport text made safe to print (see [`clean`]).
    fn clean(&self, text: &str) -> String {
        clean(text, &self.secrets)
    }

    /// Prints `message()` unless this problem was already reported.
    fn once(&self, problem: Problem, message: impl FnOnce() -> String) {
        let first = self.said.lock().unwrap_or_else(PoisonError::into_inner).insert(problem);
        if first {
            (self.sink)(&format!("traced: {} (this warning is printed once)", message()));
        }
    }

    /// An item that cannot be sent even alone: `refused_by` is the collector's status, or `None` when
    /// it is above our own request limit and was not sent.
    pub(super) fn too_large(&self, item: &str, bytes: usize, limit: usize, refused_by: Option<&str>) {
        let (signal, endpoint) = (self.signal, &self.endpoint);
        self.once(Problem::TooLarge, || match refused_by {
            None => format!(
                "a {item} of {bytes} bytes is larger than the {limit}-byte limit of one OTLP request, so it was not \
                 sent to {endpoint} and is counted as rejected; raise TRACED_OTLP_MAX_REQUEST_BYTES (and the \
                 collector's own limit) to export {signal} this large"
            ),
            Some(status) => format!(
                "the collector at {endpoint} refuses a {item} of {bytes} bytes alone as too large ({status}), so \
                 it is counted as rejected; raise the collector's request size limit, or lower \
                 TRACED_OTLP_MAX_REQUEST_BYTES (now {limit}) so larger batches are split before sending"
            ),
        });
    }

    /// `rejected` counts `unit`s (data points for metrics) of a request of `sent` `item`s.
    pub(super) fn partial_success(&self, rejected: u64, sent: usize, item: &str, unit: &str, message: &str) {
        let (signal, endpoint) = (self.signal, &self.endpoint);
        let message = self.clean(message);
        self.once(Problem::PartialSuccess, || {
            if rejected == 0 {
                format!("the collector at {endpoint} accepted {signal} with a warning: {message}")
            } else {
                format!(
                    "the collector at {endpoint} rejected {rejected} {unit} of a request of {sent} {item}s \
                     ({message}); they are counted as rejected"
                )
            }
        });
    }

    pub(super) fn unreachable(&self, error: &str) {
        let (signal, endpoint) = (self.signal, &self.endpoint);
        let error = self.clean(error);
        self.once(Problem::Unreachable, || {
            format!(
                "cannot connect to the OTLP collector at {endpoint} ({error}); {signal} are dropped and counted as \
                 failed while it stays unreachable"
            )
        });
    }

    pub(super) fn no_answer(&self) {
        let (signal, endpoint) = (self.signal, &self.endpoint);
        self.once(Problem::NoAnswer, || {
            format!(
                "the OTLP collector at {endpoint} did not answer an export of {signal} before the export deadline; \
                 such {signal} are counted as unconfirmed (maybe delivered, maybe not)"
            )
        });
    }

    pub(super) fn broken(&self, error: &str) {
        let (signal, endpoint) = (self.signal, &self.endpoint);
        let error = self.clean(error);
        self.once(Problem::Broken, || {
            format!(
                "the connection to the OTLP collector at {endpoint} broke after {signal} were sent ({error}); \
                 they are counted as unconfirmed (maybe delivered, maybe not)"
            )
        });
    }

    pub(super) fn failing(&self, status: &str, message: &str) {
        let (signal, endpoint) = (self.signal, &self.endpoint);
        let message = self.clean(message);
        self.once(Problem::Failing(status.to_owned()), || {
            format!(
                "the OTLP collector at {endpoint} kept refusing {signal} with {status} ({message}) until the retries \
                 or the export deadline ran out; they are counted as failed"
            )
        });
    }

    pub(super) fn rejected(&self, status: &str, message: &str) {
        let (signal, endpoint) = (self.signal, &self.endpoint);
        let message = self.clean(message);
        self.once(Problem::Rejected(status.to_owned()), || {
            format!(
                "the OTLP collector at {endpoint} rejected {signal} with {status} ({message}); they are counted as \
                 rejected and not retried"
            )
        });
    }
}

/// A header value as the texts to keep out of warnings: the value, and the credentials after an
/// `Authorization` scheme (`Bearer <token>`), which a collector may quote alone.
fn secrets_of(value: &str) -> impl Iterator<Item = String> + '_ {
    let value = value.trim();
    let token = value.rsplit_once(' ').map(|(_, token)| token);
    std::iter::once(value).chain(token).filter(|secret| secret.chars().count() >= MIN_SECRET).map(str::to_owned)
}

/// Collector or transport text made safe to print: control characters dropped, `secrets` (the
/// values of the headers we send) and URL credentials redacted, cut.
pub(super) fn clean(text: &str, secrets: &[String]) -> String {
    let mut printable: String = text.chars().filter(|c| !c.is_control()).collect();
    for secret in secrets {
        if printable.contains(secret.as_str()) {
            printable = printable.replace(secret.as_str(), REDACTED);
        }
    }
    let redacted = redact_text(&printable);
    let mut cleaned: String = redacted.chars().take(MAX_TEXT).collect();
    if redacted.chars().nth(MAX_TEXT).is_some() {
        cleaned.push_str("...");
    }
    if cleaned.is_empty() {
        cleaned.push_str("no message");
    }
    cleaned
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// A sink that keeps every warning.
    pub(crate) fn captured() -> (Sink, Arc<Mutex<Vec<String>>>) {
        let lines = Arc::new(Mutex::new(Vec::new()));
        let kept = Arc::clone(&lines);
        let sink: Sink = Arc::new(move |message: &str| kept.lock().expect("lock").push(message.to_owned()));
        (sink, lines)
    }

    #[test]
    fn each_kind_of_problem_is_said_once_per_exporter() {
        let (sink, lines) = captured();
        let warnings = Warnings::new("traces", "http://user:PWSECRET@127.0.0.1:9/v1/traces", &[], sink);
        for _ in 0..3 {
            warnings.unreachable("tcp connect error: Connection refused (os error 111)");
            warnings.no_answer();
            warnings.rejected("HTTP 400 Bad Request", "bad");
            warnings.rejected("HTTP 401 Unauthorized", "who?");
            warnings.too_large("span", 5_000_000, 4_000_000, None);
        }
        let lines = lines.lock().expect("lock").clone();
        assert_eq!(lines.len(), 5, "{lines:#?}");
        assert!(lines.iter().all(|line| !line.contains("PWSECRET") && !line.contains("user:")), "{lines:#?}");
        assert!(lines[0].contains("cannot connect to the OTLP collector at http://127.0.0.1:9/v1/traces"));
        assert!(lines[1].contains("did not answer") && lines[1].contains("unconfirmed"));
        assert!(lines[2].contains("HTTP 400 Bad Request") && lines[3].contains("HTTP 401 Unauthorized"));
        assert!(lines[4].contains("a span of 5000000 bytes is larger than the 4000000-byte limit"));
        assert!(lines[4].contains("TRACED_OTLP_MAX_REQUEST_BYTES") && !lines[4].contains("does not answer"));
    }

    #[test]
    fn header_values_never_print_even_split_by_control_characters() {
        let headers = [
            ("x-api-key".to_owned(), "K3Y-5ECRET".to_owned()),
            ("authorization".to_owned(), "Token T0KEN-S3CRET".to_owned()),
            ("x-n".to_owned(), "1".to_owned()),
        ];
        let (sink, lines) = captured();
        let warnings = Warnings::new("logs", "http://127.0.0.1:9", &headers, sink);
        warnings.rejected("HTTP 401 Unauthorized", "unknown key K3Y-\u{7}5ECRET; token 'T0KEN-S3CRET' expired in 1 s");
        let line = lines.lock().expect("lock")[0].clone();
        assert!(line.contains("(unknown key REDACTED; token 'REDACTED' expired in 1 s)"), "{line}");
    }

    #[test]
    fn collector_text_is_redacted_stripped_and_cut() {
        let hostile = format!("see http://admin:S3CRET@evil.example/x \u{1b}[2J{}", "A".repeat(1000));
        let cleaned = clean(&hostile, &[]);
        assert!(!cleaned.contains("S3CRET") && !cleaned.contains('\u{1b}'), "{cleaned}");
        assert!(cleaned.starts_with("see http://evil.example/x [2J"));
        assert_eq!(cleaned.chars().count(), MAX_TEXT + 3);
        assert_eq!(clean("", &[]), "no message");
    }
}
