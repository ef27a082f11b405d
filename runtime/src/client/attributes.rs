//! What a CLIENT span records, per the stable HTTP client semantic conventions.

use std::borrow::Cow;

use opentelemetry::KeyValue;
use opentelemetry_semantic_conventions::attribute::{
    HTTP_REQUEST_METHOD, HTTP_REQUEST_METHOD_ORIGINAL, HTTP_RESPONSE_STATUS_CODE, NETWORK_PROTOCOL_VERSION,
    SERVER_ADDRESS, SERVER_PORT, URL_FULL,
};
use reqwest::Url;

use crate::http_semconv;

/// The span name (`{METHOD}`: a client knows no route template) and the attributes known before
/// the request is sent.
pub(crate) fn request_attributes(request: &reqwest::Request) -> (Cow<'static, str>, Vec<KeyValue>) {
    let method = http_semconv::known_methods().classify(request.method());
    let url = request.url();
    let mut attributes = Vec::with_capacity(5);
    attributes.push(KeyValue::new(HTTP_REQUEST_METHOD, method.value.clone()));
    if !method.known {
        attributes.push(KeyValue::new(HTTP_REQUEST_METHOD_ORIGINAL, request.method().as_str().to_owned()));
    }
    if let Some(host) = url.host_str() {
        let host = host.trim_start_matches('[').trim_end_matches(']');
        attributes.push(KeyValue::new(SERVER_ADDRESS, host.to_owned()));
    }
    if let Some(port) = url.port_or_known_default() {
        attributes.push(KeyValue::new(SERVER_PORT, i64::from(port)));
    }
    attributes.push(KeyValue::new(URL_FULL, redacted_url(url).into_owned()));
    (method.span_name(), attributes)
}

/// The response head's attributes.
pub(crate) fn response_attributes(response: &reqwest::Response) -> Vec<KeyValue> {
    let mut attributes = Vec::with_capacity(2);
    attributes.push(KeyValue::new(HTTP_RESPONSE_STATUS_CODE, i64::from(response.status().as_u16())));
    if let Some(version) = http_semconv::protocol_version(response.version()) {
        attributes.push(KeyValue::new(NETWORK_PROTOCOL_VERSION, version));
    }
    attributes
}

/// `error.type` for a request that got no response: a low-cardinality name of what went wrong.
pub(crate) fn error_type(error: &reqwest::Error) -> &'static str {
    if error.is_timeout() {
        "timeout"
    } else if error.is_connect() {
        "connect"
    } else if error.is_redirect() {
        "redirect"
    } else if error.is_body() {
        "body"
    } else if error.is_request() {
        "request"
    } else {
        "reqwest::Error"
    }
}

/// `url.full` without credentials and with signed-URL secrets replaced by `REDACTED`.
fn redacted_url(url: &Url) -> Cow<'_, str> {
    let query = url.query().map(http_semconv::redact_query);
    let has_credentials = !url.username().is_empty() || url.password().is_some();
    let query_redacted = matches!(query, Some(Cow::Owned(_)));
    if !has_credentials && !query_redacted {
        return Cow::Borrowed(url.as_str());
    }
    let mut redacted = url.clone();
    if has_credentials {
        // Both setters only fail for URLs that cannot have credentials, which then have none.
        let _ = redacted.set_username("REDACTED");
        let _ = redacted.set_password(Some("REDACTED"));
    }
    if let Some(Cow::Owned(query)) = &query {
        redacted.set_query(Some(query));
    }
    Cow::Owned(redacted.into())
}

#[cfg(test)]
mod tests {
    use opentelemetry::Value;

    use super::*;

    fn parse(url: &str) -> Url {
        Url::parse(url).unwrap_or_else(|error| panic!("{url}: {error}"))
    }

    #[test]
    fn credentials_and_signatures_are_redacted() {
        assert_eq!(redacted_url(&parse("http://127.0.0.1:8001/items/1?q=a")), "http://127.0.0.1:8001/items/1?q=a");
        assert_eq!(
            redacted_url(&parse("https://user:secret@example.com/file?X-Goog-Signature=abc&q=1")),
            "https://REDACTED:REDACTED@example.com/file?X-Goog-Signature=REDACTED&q=1"
        );
    }

    #[test]
    fn the_request_names_its_server_and_method() {
        let request = reqwest::Request::new(reqwest::Method::POST, parse("https://example.com/orders"));
        let (name, attributes) = request_attributes(&request);
        assert_eq!(name, "POST");
        let value = |key: &str| attributes.iter().find(|kv| kv.key.as_str() == key).map(|kv| kv.value.clone());
        assert_eq!(value("http.request.method"), Some(Value::from("POST")));
        assert_eq!(value("server.address"), Some(Value::from("example.com")));
        assert_eq!(value("server.port"), Some(Value::from(443_i64)));
        assert_eq!(value("url.full"), Some(Value::from("https://example.com/orders")));
    }
}
