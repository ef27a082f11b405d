//! What a CLIENT span records, per the stable HTTP client semantic conventions.

use opentelemetry::KeyValue;
use opentelemetry_semantic_conventions::attribute::{
    HTTP_REQUEST_METHOD, HTTP_REQUEST_METHOD_ORIGINAL, HTTP_RESPONSE_STATUS_CODE, NETWORK_PROTOCOL_VERSION,
    SERVER_ADDRESS, SERVER_PORT, URL_FULL,
};

use crate::http::semconv::{self, RequestMethod};
use crate::privacy::{self, caps};

/// The attributes known before the request is sent; `method` is its classified method, whose
/// [`span_name`](RequestMethod::span_name) names the span (`{METHOD}`: a client knows no route template).
pub(crate) fn request_attributes(request: &reqwest::Request, method: &RequestMethod) -> Vec<KeyValue> {
    let url = request.url();
    let mut attributes = crate::span::recycled_attributes::with_capacity(5);
    attributes.push(KeyValue::new(HTTP_REQUEST_METHOD, method.value.clone()));
    if !method.known {
        let original = privacy::cap(request.method().as_str(), caps::METHOD_ORIGINAL);
        attributes.push(KeyValue::new(HTTP_REQUEST_METHOD_ORIGINAL, original.to_owned()));
    }
    if let Some(host) = url.host_str() {
        let host = host.trim_start_matches('[').trim_end_matches(']');
        attributes.push(KeyValue::new(SERVER_ADDRESS, privacy::cap(host, caps::SERVER_ADDRESS).to_owned()));
    }
    if let Some(port) = url.port_or_known_default() {
        attributes.push(KeyValue::new(SERVER_PORT, i64::from(port)));
    }
    // Without userinfo and with sensitive query values redacted.
    attributes.push(KeyValue::new(URL_FULL, privacy::url_value(url.as_str(), caps::URL_FULL)));
    attributes
}

/// The response head's attributes.
pub(crate) fn response_attributes(response: &reqwest::Response) -> Vec<KeyValue> {
    let mut attributes = Vec::with_capacity(2);
    attributes.push(KeyValue::new(HTTP_RESPONSE_STATUS_CODE, i64::from(response.status().as_u16())));
    if let Some(version) = semconv::protocol_version(response.version()) {
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

#[cfg(test)]
mod tests {
    use opentelemetry::Value;

    use std::borrow::Cow;

    use super::*;
    use crate::http::semconv::KnownMethods;

    /// The span name and the request's attributes.
    fn named(request: &reqwest::Request) -> (Cow<'static, str>, Vec<KeyValue>) {
        let method = KnownMethods::default().classify(request.method());
        (method.span_name(), request_attributes(request, &method))
    }

    fn parse(url: &str) -> reqwest::Url {
        reqwest::Url::parse(url).unwrap_or_else(|error| panic!("{url}: {error}"))
    }

    #[test]
    fn url_full_has_no_credentials_and_no_signatures() {
        let full = |url: &str| {
            let request = reqwest::Request::new(reqwest::Method::GET, parse(url));
            let (_, attributes) = named(&request);
            attributes.into_iter().find(|kv| kv.key.as_str() == "url.full").map(|kv| kv.value)
        };
        assert_eq!(full("http://127.0.0.1:8001/items/1?q=a"), Some(Value::from("http://127.0.0.1:8001/items/1?q=a")));
        assert_eq!(
            full("https://user:secret@example.com/file?X-Goog-Signature=abc&q=1"),
            Some(Value::from("https://example.com/file?X-Goog-Signature=REDACTED&q=1"))
        );
        assert_eq!(
            full("http://user:PWSECRET@127.0.0.1:9/todos/1?token=T0PSECRET&sig=S1GSECRET"),
            Some(Value::from("http://127.0.0.1:9/todos/1?token=REDACTED&sig=REDACTED"))
        );
        let long = full(&format!("http://h/{}", "p".repeat(10_000))).map(|value| value.as_str().len());
        assert_eq!(long, Some(caps::URL_FULL));
    }

    #[test]
    fn the_request_names_its_server_and_method() {
        let request = reqwest::Request::new(reqwest::Method::POST, parse("https://example.com/orders"));
        let (name, attributes) = named(&request);
        assert_eq!(name, "POST");
        let value = |key: &str| attributes.iter().find(|kv| kv.key.as_str() == key).map(|kv| kv.value.clone());
        assert_eq!(value("http.request.method"), Some(Value::from("POST")));
        assert_eq!(value("server.address"), Some(Value::from("example.com")));
        assert_eq!(value("server.port"), Some(Value::from(443_i64)));
        assert_eq!(value("url.full"), Some(Value::from("https://example.com/orders")));
    }
}
