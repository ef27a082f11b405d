//! Opt-in capture of headers as `http.request.header.<name>` / `http.response.header.<name>`
//! attributes (string arrays, one element per value, as the conventions say), shared by the axum
//! layer and the reqwest client. Per-request path when configured, guarded by the `http_overhead`
//! benchmark: plain names are looked up directly, regular expressions only when the list has some.
//!
//! Bounded: at most [`MAX_HEADERS`] headers, [`MAX_VALUES`] values per header and [`MAX_BYTES`]
//! bytes of names and values are captured per message, each value capped in length. Credentials are never captured, whatever the lists say:
//! `Authorization`, `Proxy-Authorization`, `Cookie` and `Set-Cookie`. Headers whose name contains an
//! entry of the sanitize list are recorded as `[REDACTED]`; URLs and credential pairs in the other
//! values are redacted like error text.

use http::header::{HeaderMap, HeaderName, AUTHORIZATION, COOKIE, PROXY_AUTHORIZATION, SET_COOKIE};
use http::HeaderValue;
use opentelemetry::{Array, Key, KeyValue, StringValue, Value};

use crate::http::settings::{HeaderPatterns, Searched};
use crate::privacy::{self, caps};

/// Never captured, whatever the configuration.
pub(crate) const NEVER_CAPTURED: [HeaderName; 4] = [AUTHORIZATION, PROXY_AUTHORIZATION, COOKIE, SET_COOKIE];

/// Most headers captured from one request or response.
pub(crate) const MAX_HEADERS: usize = 32;

/// Most values captured of one header (a header may repeat).
pub(crate) const MAX_VALUES: usize = 16;

/// Most bytes (names and values) captured from one request or response: with the layer's request and
/// response, a span carries at most 8 KiB of headers, so a full span queue of fat requests stays small.
pub(crate) const MAX_BYTES: usize = 4096;

/// What a sanitized header's values are recorded as (the Python instrumentations' text).
pub(crate) const REDACTED: &str = "[REDACTED]";

/// The attribute prefix of request headers.
pub(crate) const REQUEST_PREFIX: &str = "http.request.header";

/// The attribute prefix of response headers.
pub(crate) const RESPONSE_PREFIX: &str = "http.response.header";

/// The headers of one kind of message to capture, built once when a layer or client is configured.
#[derive(Debug, Clone, Default)]
pub(crate) struct CapturedHeaders {
    prefix: &'static str,
    patterns: HeaderPatterns,
    sanitize: HeaderPatterns,
    /// `sanitize`, each entry searched anywhere in a name.
    sanitize_searched: Searched,
    /// The plain names of `patterns` with their attribute keys (credentials already left out).
    named: Vec<(HeaderName, Key)>,
}

impl CapturedHeaders {
    /// Captures the headers `patterns` match under `prefix`; the values of those `sanitize`
    /// matches become `[REDACTED]`.
    pub(crate) fn new(prefix: &'static str, patterns: HeaderPatterns, sanitize: HeaderPatterns) -> Self {
        let named = patterns
            .names()
            .iter()
            .filter(|name| !NEVER_CAPTURED.contains(name))
            .take(MAX_HEADERS)
            .map(|name| (name.clone(), key(prefix, name)))
            .collect();
        let sanitize_searched = sanitize.searched();
        Self { prefix, patterns, sanitize, sanitize_searched, named }
    }

    /// The sanitize list.
    pub(crate) fn sanitize(&self) -> &HeaderPatterns {
        &self.sanitize
    }

    /// The same headers with another sanitize list.
    pub(crate) fn sanitized(&self, sanitize: HeaderPatterns) -> Self {
        Self::new(self.prefix, self.patterns.clone(), sanitize)
    }

    #[cfg_attr(not(feature = "axum"), allow(dead_code))]
    pub(crate) fn is_empty(&self) -> bool {
        self.named.is_empty() && !self.patterns.has_patterns()
    }

    /// Appends one attribute per captured header present in `map`, within the bounds.
    pub(crate) fn record(&self, map: &HeaderMap, attributes: &mut Vec<KeyValue>) {
        let mut budget = Budget { headers: MAX_HEADERS, bytes: MAX_BYTES };
        for (name, key) in &self.named {
            if let Some(values) = self.values(name, map, &mut budget) {
                attributes.push(KeyValue::new(key.clone(), values));
            }
        }
        if !self.patterns.has_patterns() {
            return;
        }
        // `keys` yields each name once, in the order the headers arrived.
        for name in map.keys() {
            let named = self.named.iter().any(|(known, _)| known == name);
            if named || NEVER_CAPTURED.contains(name) || !self.patterns.matches_pattern(name.as_str()) {
                continue;
            }
            if let Some(values) = self.values(name, map, &mut budget) {
                attributes.push(KeyValue::new(key(self.prefix, name), values));
            }
        }
    }

    /// The first [`MAX_VALUES`] values of `name`, capped or redacted, paid from `budget` (the name
    /// too); `None` when absent or when the budget is spent.
    fn values(&self, name: &HeaderName, map: &HeaderMap, budget: &mut Budget) -> Option<Value> {
        let mut values = map.get_all(name).iter().take(MAX_VALUES).peekable();
        values.peek()?;
        if budget.headers == 0 || budget.bytes <= name.as_str().len() {
            return None;
        }
        budget.headers -= 1;
        budget.bytes -= name.as_str().len();
        let redact = self
            .sanitize_searched
            .occurs_in(name.as_str())
            .unwrap_or_else(|| self.sanitize.matches_lowercase(name.as_str()));
        let mut captured = Vec::new();
        for value in values {
            if budget.bytes == 0 {
                break;
            }
            let value = if redact { StringValue::from(REDACTED) } else { capped(value, budget.bytes) };
            budget.bytes = budget.bytes.saturating_sub(value.as_str().len());
            captured.push(value);
        }
        Some(Value::Array(Array::String(captured)))
    }
}

/// What is left to capture from one message.
struct Budget {
    headers: usize,
    bytes: usize,
}

fn key(prefix: &str, name: &HeaderName) -> Key {
    Key::from(format!("{prefix}.{}", name.as_str()))
}

/// A header value as text (lossy for non-UTF-8 bytes), capped to [`caps::HEADER_VALUE`] and `left`,
/// and redacted like error text: `Referer`, `Location` and friends carry URLs with userinfo and
/// query secrets (`?code=`, `#access_token=`).
fn capped(value: &HeaderValue, left: usize) -> StringValue {
    let max = caps::HEADER_VALUE.min(left);
    let bytes = value.as_bytes();
    // Cut the bytes first, so a fat value is never copied whole. A character cut in half there
    // becomes a replacement character past the text cap (invalid bytes before it only grow the
    // text), so the cap removes it.
    let head = &bytes[..bytes.len().min(max + 4)];
    StringValue::from(privacy::text_value(&String::from_utf8_lossy(head), max))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn captured(list: &[&str], sanitize: &[&str]) -> CapturedHeaders {
        CapturedHeaders::new(REQUEST_PREFIX, HeaderPatterns::lenient(list), HeaderPatterns::lenient(sanitize))
    }

    fn strings(values: &[&str]) -> Value {
        Value::Array(Array::String(values.iter().map(|value| StringValue::from((*value).to_owned())).collect()))
    }

    fn record(captured: &CapturedHeaders, map: &HeaderMap) -> Vec<KeyValue> {
        let mut attributes = Vec::new();
        captured.record(map, &mut attributes);
        attributes
    }

    #[test]
    fn captures_every_value_of_the_named_headers() {
        let captured = captured(&["X-Request-Id", "accept", "not a header"], &[]);
        let mut map = HeaderMap::new();
        map.append("x-request-id", HeaderValue::from_static("abc"));
        map.append("accept", HeaderValue::from_static("text/html"));
        map.append("accept", HeaderValue::from_static("application/json"));
        map.append("x-other", HeaderValue::from_static("ignored"));
        assert_eq!(
            record(&captured, &map),
            vec![
                KeyValue::new("http.request.header.x-request-id", strings(&["abc"])),
                KeyValue::new("http.request.header.accept", strings(&["text/html", "application/json"])),
            ]
        );
    }

    #[test]
    fn credentials_are_never_captured_even_by_a_catch_all_pattern() {
        let named = captured(&["Authorization", "cookie", "Set-Cookie", "proxy-authorization"], &[]);
        assert!(named.is_empty());
        let mut map = HeaderMap::new();
        for name in ["authorization", "proxy-authorization", "cookie", "set-cookie", "x-seen"] {
            map.append(name, HeaderValue::from_static("secret"));
        }
        let everything = record(&captured(&[".*", "authorization"], &[]), &map);
        assert_eq!(everything, vec![KeyValue::new("http.request.header.x-seen", strings(&["secret"]))]);
    }

    #[test]
    fn sanitized_headers_are_redacted() {
        let captured = captured(&["x-api-key", "x-session-.*", "x-plain"], &[".*key", "X-SESSION-ID"]);
        let mut map = HeaderMap::new();
        map.append("x-api-key", HeaderValue::from_static("k1"));
        map.append("x-api-key", HeaderValue::from_static("k2"));
        map.append("x-session-id", HeaderValue::from_static("s"));
        map.append("x-session-tag", HeaderValue::from_static("t"));
        map.append("x-plain", HeaderValue::from_static("p"));
        let attributes = record(&captured, &map);
        let value = |key: &str| attributes.iter().find(|kv| kv.key.as_str() == key).map(|kv| kv.value.clone());
        assert_eq!(value("http.request.header.x-api-key"), Some(strings(&["[REDACTED]", "[REDACTED]"])));
        assert_eq!(value("http.request.header.x-session-id"), Some(strings(&["[REDACTED]"])));
        assert_eq!(value("http.request.header.x-session-tag"), Some(strings(&["t"])));
        assert_eq!(value("http.request.header.x-plain"), Some(strings(&["p"])));
    }

    #[test]
    fn headers_values_and_lengths_are_bounded() {
        let mut map = HeaderMap::new();
        for index in 0..100 {
            map.append(HeaderName::try_from(format!("x-h{index}")).expect("name"), HeaderValue::from_static("v"));
        }
        for _ in 0..100 {
            map.append("x-h0", HeaderValue::from_static("again"));
        }
        let attributes = record(&captured(&["x-h.*"], &[]), &map);
        assert_eq!(attributes.len(), MAX_HEADERS);
        let Value::Array(Array::String(repeated)) = &attributes[0].value else { panic!("string array") };
        assert_eq!(repeated.len(), MAX_VALUES);

        let long = "é".repeat(10_000);
        let mut map = HeaderMap::new();
        map.append("x-long", HeaderValue::from_str(&long).expect("value"));
        for index in 0..10 {
            map.append(
                HeaderName::try_from(format!("x-fat{index}")).expect("name"),
                HeaderValue::from_str(&long).expect("value"),
            );
        }
        let attributes = record(&captured(&["x-long", "x-fat.*"], &[]), &map);
        assert_eq!(attributes[0].key.as_str(), "http.request.header.x-long", "plain names come first");
        let Value::Array(Array::String(long_values)) = &attributes[0].value else { panic!("string array") };
        let first = long_values[0].as_str();
        assert!(first.len() <= caps::HEADER_VALUE && first.len() >= caps::HEADER_VALUE - 1 && first.starts_with("éé"));
        let total: usize = attributes
            .iter()
            .map(|kv| {
                let name = kv.key.as_str().len() - "http.request.header.".len();
                let Value::Array(Array::String(values)) = &kv.value else { panic!("string array") };
                name + values.iter().map(|value| value.as_str().len()).sum::<usize>()
            })
            .sum();
        assert!(total <= MAX_BYTES, "{total} bytes captured");
        assert!(attributes.len() < 11, "the budget ran out before every fat header: {}", attributes.len());
    }

    #[test]
    fn non_utf8_values_are_recorded_lossily() {
        let mut map = HeaderMap::new();
        map.append("x-bin", HeaderValue::from_bytes(b"a\xffb").expect("opaque value"));
        let attributes = record(&captured(&["x-bin"], &[]), &map);
        assert_eq!(attributes, vec![KeyValue::new("http.request.header.x-bin", strings(&["a\u{fffd}b"]))]);
    }
}
