//! What the server span and metrics record about a request, per the stable HTTP semantic conventions.
//! Built once per request, before the span starts, so samplers see them. Every value copied from the
//! request is cut to its budget in [`crate::privacy::caps`] here, so a fat header never reaches a span.

use std::borrow::Cow;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, MatchedPath};
use http::header::{HeaderName, HOST, USER_AGENT};
use http::uri::Authority;
use http::Request;
use opentelemetry::{KeyValue, StringValue};
use opentelemetry_semantic_conventions::attribute::{
    CLIENT_ADDRESS, HTTP_REQUEST_METHOD, HTTP_REQUEST_METHOD_ORIGINAL, HTTP_ROUTE, NETWORK_PEER_ADDRESS,
    NETWORK_PEER_PORT, NETWORK_PROTOCOL_VERSION, SERVER_ADDRESS, SERVER_PORT, URL_PATH, URL_QUERY, URL_SCHEME,
    USER_AGENT_ORIGINAL,
};

use crate::header_capture::CapturedHeaders;
use crate::http_semconv::{self, KnownMethods};
use crate::privacy::{self, caps};

// Typed names: looking a header up by `&str` parses and lowercases the name on every request.
const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");

/// The request's name and attributes for the span and the metrics.
#[derive(Debug)]
pub(crate) struct RequestAttributes {
    pub(crate) span_name: Cow<'static, str>,
    pub(crate) span: Vec<KeyValue>,
    /// `http.server.request.duration` attributes known at the start; the status is added at the end.
    pub(crate) metric: Vec<KeyValue>,
    /// `http.request.method` and `url.scheme`, the `http.server.active_requests` attributes.
    pub(crate) method: StringValue,
    pub(crate) scheme: &'static str,
}

/// The request's attributes; `captured` adds the opted-in request headers.
pub(crate) fn request_attributes<B>(
    request: &Request<B>,
    known_methods: &KnownMethods,
    captured: &CapturedHeaders,
) -> RequestAttributes {
    let method = known_methods.classify(request.method());
    let scheme = scheme(request);
    let route = request.extensions().get::<MatchedPath>().map(|path| Arc::<str>::from(path.as_str()));
    let version = http_semconv::protocol_version(request.version());

    let mut span = Vec::with_capacity(14);
    let mut metric = Vec::with_capacity(6);
    let method_kv = KeyValue::new(HTTP_REQUEST_METHOD, method.value.clone());
    let scheme_kv = KeyValue::new(URL_SCHEME, scheme);
    span.push(method_kv.clone());
    metric.push(method_kv);
    if !method.known {
        let original = privacy::cap(request.method().as_str(), caps::METHOD_ORIGINAL);
        span.push(KeyValue::new(HTTP_REQUEST_METHOD_ORIGINAL, original.to_owned()));
    }
    span.push(scheme_kv.clone());
    metric.push(scheme_kv);
    if let Some(route) = &route {
        let route = KeyValue::new(HTTP_ROUTE, StringValue::from(route.clone()));
        span.push(route.clone());
        metric.push(route);
    }
    if let Some(version) = version {
        let version = KeyValue::new(NETWORK_PROTOCOL_VERSION, version);
        span.push(version.clone());
        metric.push(version);
    }
    span.push(KeyValue::new(URL_PATH, privacy::path_value(request.uri().path(), caps::URL_PATH)));
    if let Some(query) = request.uri().query() {
        span.push(KeyValue::new(URL_QUERY, privacy::query_value(query, caps::URL_QUERY)));
    }
    push_server(request, &mut span);
    push_client(request, &mut span);
    if let Some(agent) = header_str(request, &USER_AGENT) {
        span.push(KeyValue::new(USER_AGENT_ORIGINAL, privacy::cap(agent, caps::USER_AGENT).to_owned()));
    }
    captured.record(request.headers(), &mut span);

    RequestAttributes {
        span_name: span_name(method.span_name(), route.as_deref()),
        span,
        metric,
        method: method.value,
        scheme,
    }
}

/// `{METHOD} {route}`, or `{METHOD}` alone when no route matched.
fn span_name(method: Cow<'static, str>, route: Option<&str>) -> Cow<'static, str> {
    match route {
        Some(route) => {
            let mut name = String::with_capacity(method.len() + 1 + route.len());
            name.push_str(&method);
            name.push(' ');
            name.push_str(route);
            Cow::Owned(name)
        }
        None => method,
    }
}

/// `url.scheme`: the URI's (HTTP/2), else what a proxy says it received, else `http`.
fn scheme<B>(request: &Request<B>) -> &'static str {
    let forwarded = || header_str(request, &X_FORWARDED_PROTO).map(str::trim);
    match request.uri().scheme_str().or_else(forwarded) {
        Some(scheme) if scheme.eq_ignore_ascii_case("https") => "https",
        _ => "http",
    }
}

/// `server.address` and `server.port` from the URI authority (HTTP/2) or the `Host` header.
fn push_server<B>(request: &Request<B>, span: &mut Vec<KeyValue>) {
    let authority = request.uri().authority().map(Authority::as_str).or_else(|| header_str(request, &HOST));
    if let Some((host, port)) = authority.and_then(split_host_port) {
        span.push(KeyValue::new(SERVER_ADDRESS, privacy::cap(host, caps::SERVER_ADDRESS).to_owned()));
        if let Some(port) = port {
            span.push(KeyValue::new(SERVER_PORT, i64::from(port)));
        }
    }
}

/// `host[:port]` or `[ipv6][:port]`, without brackets; `None` for an empty host or a bad port.
fn split_host_port(authority: &str) -> Option<(&str, Option<u16>)> {
    let authority = authority.rsplit_once('@').map_or(authority, |(_, host)| host);
    let (host, port) = match authority.strip_prefix('[') {
        Some(bracketed) => {
            let (host, rest) = bracketed.split_once(']')?;
            (host, rest.strip_prefix(':'))
        }
        None => match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        },
    };
    let port = match port {
        Some(port) => Some(port.parse::<u16>().ok()?),
        None => None,
    };
    (!host.is_empty()).then_some((host, port))
}

/// `client.address` (the first `X-Forwarded-For` hop, else the peer) and the peer's address and port,
/// known when the app is served with `into_make_service_with_connect_info::<SocketAddr>()`.
fn push_client<B>(request: &Request<B>, span: &mut Vec<KeyValue>) {
    let peer = request.extensions().get::<ConnectInfo<SocketAddr>>().map(|info| info.0);
    let forwarded_for = header_str(request, &X_FORWARDED_FOR)
        .and_then(|list| list.split(',').next())
        .map(str::trim)
        .filter(|client| !client.is_empty());
    match (forwarded_for, peer) {
        (Some(client), _) => {
            span.push(KeyValue::new(CLIENT_ADDRESS, privacy::cap(client, caps::CLIENT_ADDRESS).to_owned()));
        }
        (None, Some(peer)) => span.push(KeyValue::new(CLIENT_ADDRESS, peer.ip().to_string())),
        (None, None) => {}
    }
    if let Some(peer) = peer {
        span.push(KeyValue::new(NETWORK_PEER_ADDRESS, peer.ip().to_string()));
        span.push(KeyValue::new(NETWORK_PEER_PORT, i64::from(peer.port())));
    }
}

fn header_str<'a, B>(request: &'a Request<B>, name: &HeaderName) -> Option<&'a str> {
    request.headers().get(name).and_then(|value| value.to_str().ok())
}

#[cfg(test)]
mod tests {
    use opentelemetry::Value;

    use super::*;

    fn value<'a>(attributes: &'a [KeyValue], key: &str) -> Option<&'a Value> {
        attributes.iter().find(|kv| kv.key.as_str() == key).map(|kv| &kv.value)
    }

    #[test]
    fn a_matched_request_is_named_after_its_route() {
        let request = Request::get("/items/42?q=shoes&sig=secret")
            .header("host", "example.com:8080")
            .header("user-agent", "curl/8")
            .header("x-forwarded-for", "203.0.113.7, 10.0.0.1")
            .body(())
            .expect("valid request");
        let attributes = request_attributes(&request, &KnownMethods::default(), &CapturedHeaders::default());
        assert_eq!(attributes.span_name, "GET");
        let span = &attributes.span;
        assert_eq!(value(span, "http.request.method"), Some(&Value::from("GET")));
        assert_eq!(value(span, "url.path"), Some(&Value::from("/items/42")));
        assert_eq!(value(span, "url.query"), Some(&Value::from("q=shoes&sig=REDACTED")));
        assert_eq!(value(span, "url.scheme"), Some(&Value::from("http")));
        assert_eq!(value(span, "server.address"), Some(&Value::from("example.com")));
        assert_eq!(value(span, "server.port"), Some(&Value::from(8080_i64)));
        assert_eq!(value(span, "client.address"), Some(&Value::from("203.0.113.7")));
        assert_eq!(value(span, "user_agent.original"), Some(&Value::from("curl/8")));
        assert_eq!(value(span, "network.protocol.version"), Some(&Value::from("1.1")));
        assert_eq!(value(span, "http.route"), None);
    }

    #[test]
    fn an_unknown_method_is_other_with_the_original_kept() {
        let request = Request::builder().method("PURGE").uri("/cache").body(()).expect("valid request");
        let attributes = request_attributes(&request, &KnownMethods::default(), &CapturedHeaders::default());
        assert_eq!(attributes.span_name, "HTTP");
        assert_eq!(value(&attributes.span, "http.request.method"), Some(&Value::from("_OTHER")));
        assert_eq!(value(&attributes.span, "http.request.method_original"), Some(&Value::from("PURGE")));
    }

    #[test]
    fn ipv6_hosts_lose_their_brackets_and_forwarded_https_is_https() {
        let request = Request::get("/")
            .header("host", "[::1]:3000")
            .header("x-forwarded-proto", "https")
            .body(())
            .expect("valid request");
        let attributes = request_attributes(&request, &KnownMethods::default(), &CapturedHeaders::default());
        assert_eq!(value(&attributes.span, "server.address"), Some(&Value::from("::1")));
        assert_eq!(value(&attributes.span, "url.scheme"), Some(&Value::from("https")));
    }

    #[test]
    fn every_copied_value_is_capped_and_the_query_redacted() {
        let fat = "Mozilla/5.0 ".repeat(25 * 1024);
        let request = Request::builder()
            .method(format!("X{}", "Y".repeat(1000)).as_str())
            .uri(format!("/{}?password=PASSW0RD&Sig=X&token=TOKEN1&q={}", "p".repeat(10_000), "q".repeat(10_000)))
            .header("host", format!("{}:80", "h".repeat(100_000)))
            .header("user-agent", fat.as_str())
            .header("x-forwarded-for", format!("{}, 10.0.0.1", "c".repeat(100_000)))
            .body(())
            .expect("valid request");
        let attributes = request_attributes(&request, &KnownMethods::default(), &CapturedHeaders::default());
        let text = |key: &str| match value(&attributes.span, key) {
            Some(Value::String(text)) => text.as_str().to_owned(),
            other => panic!("{key}: {other:?}"),
        };
        for (key, cap) in [
            ("url.path", caps::URL_PATH),
            ("url.query", caps::URL_QUERY),
            ("server.address", caps::SERVER_ADDRESS),
            ("client.address", caps::CLIENT_ADDRESS),
            ("http.request.method_original", caps::METHOD_ORIGINAL),
            ("user_agent.original", caps::USER_AGENT),
        ] {
            assert_eq!(text(key).len(), cap, "{key}");
        }
        assert!(text("url.query").starts_with("password=REDACTED&Sig=REDACTED&token=REDACTED&q=qqq"));
        let total: usize = attributes.span.iter().map(|kv| kv.value.as_str().len()).sum();
        assert!(total < 16 * 1024, "the span's attributes hold {total} bytes");
    }

    #[test]
    fn percent_encoded_sensitive_keys_are_redacted_too() {
        let request = Request::get("/items/1?%70assword=P&%53ig=S&q=ok").body(()).expect("valid request");
        let attributes = request_attributes(&request, &KnownMethods::default(), &CapturedHeaders::default());
        assert_eq!(value(&attributes.span, "url.query"), Some(&Value::from("%70assword=REDACTED&%53ig=REDACTED&q=ok")));
    }

    #[test]
    fn host_and_port_are_split_leniently() {
        assert_eq!(split_host_port("example.com"), Some(("example.com", None)));
        assert_eq!(split_host_port("example.com:8080"), Some(("example.com", Some(8080))));
        assert_eq!(split_host_port("[::1]:3000"), Some(("::1", Some(3000))));
        assert_eq!(split_host_port("[::1]"), Some(("::1", None)));
        assert_eq!(split_host_port("user@example.com:1"), Some(("example.com", Some(1))));
        assert_eq!(split_host_port("example.com:http"), None);
        assert_eq!(split_host_port(":80"), None);
    }
}
