//! Opt-in capture of named headers as `http.request.header.<name>` / `http.response.header.<name>`
//! attributes (string arrays, one entry per value, as the conventions say).
//!
//! Credentials are never captured, whatever the configuration says: `Authorization`,
//! `Proxy-Authorization`, `Cookie` and `Set-Cookie` are dropped when the list is built.

use http::header::{HeaderMap, HeaderName, AUTHORIZATION, COOKIE, PROXY_AUTHORIZATION, SET_COOKIE};
use opentelemetry::{Array, Key, KeyValue, StringValue, Value};

const NEVER_CAPTURED: [HeaderName; 4] = [AUTHORIZATION, PROXY_AUTHORIZATION, COOKIE, SET_COOKIE];

/// Header names to capture with their attribute keys, built once when the layer is configured.
#[derive(Debug, Clone, Default)]
pub(crate) struct CapturedHeaders {
    headers: Vec<(HeaderName, Key)>,
}

impl CapturedHeaders {
    /// The headers in `names` (case-insensitive; invalid names and credentials are skipped), keyed
    /// under `prefix` (`http.request.header`).
    pub(crate) fn new<I, N>(prefix: &str, names: I) -> Self
    where
        I: IntoIterator<Item = N>,
        N: AsRef<str>,
    {
        let mut headers: Vec<(HeaderName, Key)> = Vec::new();
        for name in names {
            let Ok(name) = HeaderName::from_bytes(name.as_ref().trim().as_bytes()) else { continue };
            if NEVER_CAPTURED.contains(&name) || headers.iter().any(|(known, _)| *known == name) {
                continue;
            }
            let key = Key::from(format!("{prefix}.{}", name.as_str()));
            headers.push((name, key));
        }
        Self { headers }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.headers.is_empty()
    }

    /// Appends one attribute per configured header present in `map`.
    pub(crate) fn record(&self, map: &HeaderMap, attributes: &mut Vec<KeyValue>) {
        for (name, key) in &self.headers {
            let values: Vec<StringValue> = map
                .get_all(name)
                .iter()
                .map(|value| StringValue::from(String::from_utf8_lossy(value.as_bytes()).into_owned()))
                .collect();
            if !values.is_empty() {
                attributes.push(KeyValue::new(key.clone(), Value::Array(Array::String(values))));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    #[test]
    fn captures_every_value_of_the_named_headers() {
        let captured = CapturedHeaders::new("http.request.header", ["X-Request-Id", "accept", "not a header"]);
        let mut map = HeaderMap::new();
        map.append("x-request-id", HeaderValue::from_static("abc"));
        map.append("accept", HeaderValue::from_static("text/html"));
        map.append("accept", HeaderValue::from_static("application/json"));
        map.append("x-other", HeaderValue::from_static("ignored"));
        let mut attributes = Vec::new();
        captured.record(&map, &mut attributes);
        assert_eq!(
            attributes,
            vec![
                KeyValue::new(
                    "http.request.header.x-request-id",
                    Value::Array(Array::String(vec![StringValue::from("abc")]))
                ),
                KeyValue::new(
                    "http.request.header.accept",
                    Value::Array(Array::String(vec![
                        StringValue::from("text/html"),
                        StringValue::from("application/json")
                    ]))
                ),
            ]
        );
    }

    #[test]
    fn credentials_are_never_captured() {
        let captured = CapturedHeaders::new(
            "http.request.header",
            ["Authorization", "cookie", "Set-Cookie", "proxy-authorization"],
        );
        assert!(captured.is_empty());
    }
}
