//! What the server span and metrics record about a request, per the stable HTTP semantic conventions.
//! Built once per request, before the span starts, so samplers see them. Every value copied from the
//! request is cut to its budget in [`crate::privacy::caps`] here, so a fat header never reaches a span.

use std::borrow::Cow;
use std::net::SocketAddr;

use axum::extract::{ConnectInfo, MatchedPath};
use http::header::{HeaderMap, HeaderName, HeaderValue, HOST, USER_AGENT};
use http::uri::Authority;
use http::Request;
use opentelemetry::metrics::Histogram;
use opentelemetry::{KeyValue, StringValue};
use opentelemetry_semantic_conventions::attribute::{
    CLIENT_ADDRESS, ERROR_TYPE, HTTP_REQUEST_METHOD, HTTP_REQUEST_METHOD_ORIGINAL, HTTP_RESPONSE_STATUS_CODE,
    HTTP_ROUTE, NETWORK_PEER_ADDRESS, NETWORK_PEER_PORT, NETWORK_PROTOCOL_VERSION, SERVER_ADDRESS, SERVER_PORT,
    URL_PATH, URL_QUERY, URL_SCHEME, USER_AGENT_ORIGINAL,
};

use super::request_values::RequestValues;
use super::routes::{self, Route, RouteCache};
use crate::http::header_capture::CapturedHeaders;
use crate::http::semconv::{self, KnownMethods};
use crate::privacy::{self, caps};

// Typed names: looking a header up by `&str` parses and lowercases the name on every request.
const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");

/// The request's name and what its span and metrics record.
pub(crate) struct RequestAttributes<'r> {
    pub(crate) span_name: Cow<'static, str>,
    /// The span's attributes, built only for a span that is recorded (or a sampler that reads them).
    pub(crate) span: SpanAttributes<'r>,
    /// `http.server.request.duration` attributes known at the start; the status is added at the end.
    pub(crate) metric: DurationAttributes,
    /// `http.request.method` (as its position in the known methods) and `url.scheme`, the
    /// `http.server.active_requests` attributes.
    pub(crate) method_index: usize,
    pub(crate) scheme: &'static str,
}

/// What every request needs: the span name and the metric attributes, from the method, the scheme,
/// the matched route (`routes` holds the interned ones) and the protocol version. The span's own
/// attributes wait in [`SpanAttributes`].
pub(crate) fn request_attributes<'r, B>(
    request: &'r Request<B>,
    known_methods: &KnownMethods,
    routes: &'r RouteCache,
) -> RequestAttributes<'r> {
    let headers = Headers::read(request.headers());
    let method = known_methods.classify(request.method());
    let scheme = scheme(request, &headers);
    let matched = request.extensions().get::<MatchedPath>().map(MatchedPath::as_str);
    let route = matched.map(|template| match routes.get(template) {
        Some((slot, route)) => Matched::Interned(slot, route),
        None => Matched::Copied(template),
    });
    let version = semconv::protocol_version(request.version());
    let span_name = match route {
        Some(Matched::Interned(_, route)) => route.span_name(&method),
        Some(Matched::Copied(template)) => Cow::Owned(routes::join(&method.span_name(), template)),
        None => method.span_name(),
    };
    let metric = DurationAttributes {
        method: method.value.clone(),
        method_index: method.index,
        scheme,
        route: route.map(Matched::value),
        route_slot: match route {
            Some(Matched::Interned(slot, _)) => Some(slot),
            _ => None,
        },
        version,
    };
    let span = SpanAttributes { method: method.value, method_known: method.known, scheme, route, version, headers };
    RequestAttributes { span_name, span, metric, method_index: method.index, scheme }
}

/// What the span's attributes are built from, read once for the name and the metrics.
pub(crate) struct SpanAttributes<'r> {
    method: StringValue,
    method_known: bool,
    scheme: &'static str,
    route: Option<Matched<'r>>,
    version: Option<&'static str>,
    headers: Headers<'r>,
}

impl SpanAttributes<'_> {
    /// The span's start attributes; `captured` adds the opted-in request headers, `values` holds the
    /// interned repeated request values.
    pub(crate) fn build<B>(
        &self,
        request: &Request<B>,
        captured: &CapturedHeaders,
        values: &RequestValues,
    ) -> Vec<KeyValue> {
        let Self { ref method, method_known, scheme, route, version, ref headers } = *self;
        let mut span = crate::span::recycled_attributes::with_capacity(14);
        span.push(KeyValue::new(HTTP_REQUEST_METHOD, method.clone()));
        if !method_known {
            let original = privacy::cap(request.method().as_str(), caps::METHOD_ORIGINAL);
            span.push(KeyValue::new(HTTP_REQUEST_METHOD_ORIGINAL, original.to_owned()));
        }
        span.push(KeyValue::new(URL_SCHEME, scheme));
        if let Some(route) = route {
            span.push(KeyValue::new(HTTP_ROUTE, route.value()));
        }
        if let Some(version) = version {
            span.push(KeyValue::new(NETWORK_PROTOCOL_VERSION, version));
        }
        let path = request.uri().path();
        let path = match route {
            // A route without parameters: the path is the interned template itself.
            Some(Matched::Interned(_, route)) if route.is_path(path) => StringValue::from(route.template()),
            _ => StringValue::from(privacy::path_value(path, caps::URL_PATH)),
        };
        span.push(KeyValue::new(URL_PATH, path));
        if let Some(query) = request.uri().query() {
            span.push(KeyValue::new(URL_QUERY, privacy::query_value(query, caps::URL_QUERY)));
        }
        push_server(request, headers, values, &mut span);
        push_client(request, headers, values, &mut span);
        if let Some(raw) = headers.user_agent {
            let known = || values.user_agents.find(raw.as_bytes());
            let agent = known().or_else(|| Some(values.user_agents.value(privacy::cap(text(raw)?, caps::USER_AGENT))));
            if let Some(agent) = agent {
                span.push(KeyValue::new(USER_AGENT_ORIGINAL, agent));
            }
        }
        captured.record(request.headers(), &mut span);
        span
    }
}

/// The `http.server.request.duration` attributes of a request, short of its outcome.
#[derive(Debug)]
pub(crate) struct DurationAttributes {
    method: StringValue,
    method_index: usize,
    scheme: &'static str,
    route: Option<StringValue>,
    /// The slot of an interned route, whose attribute sets requests share.
    route_slot: Option<usize>,
    version: Option<&'static str>,
}

impl DurationAttributes {
    /// Records `seconds` with these attributes, the status (when a response was sent) and `error.type`
    /// (when the request failed). A successful request to an interned route records a set shared with
    /// the route's other requests of the same method, scheme, version and status.
    pub(crate) fn record(
        &self,
        histogram: &Histogram<f64>,
        seconds: f64,
        routes: &RouteCache,
        status: Option<u16>,
        error_type: Option<&Cow<'static, str>>,
    ) {
        if error_type.is_none() {
            let route = self.route_slot.and_then(|slot| routes.route(slot));
            let shared = route
                .zip(self.shared_key(status))
                .and_then(|(route, key)| route.bound(key, histogram, || self.attributes(status, None)));
            if let Some(bound) = shared {
                bound.record(seconds);
                return;
            }
        }
        histogram.record(seconds, &self.attributes(status, error_type));
    }

    /// Method, scheme, version and status in one number; `None` for a method past the 65,536th.
    fn shared_key(&self, status: Option<u16>) -> Option<u64> {
        let method = u16::try_from(self.method_index).ok()?;
        let version = ["0.9", "1.0", "1.1", "2", "3"]
            .iter()
            .position(|known| Some(*known) == self.version)
            .map_or(0, |position| position as u64 + 1);
        let scheme = u64::from(self.scheme == "https");
        Some(u64::from(method) << 32 | scheme << 31 | version << 24 | u64::from(status.unwrap_or(0)))
    }

    /// The attribute list, in the order the conventions list them.
    pub(crate) fn attributes(&self, status: Option<u16>, error_type: Option<&Cow<'static, str>>) -> Vec<KeyValue> {
        let mut attributes = Vec::with_capacity(6);
        attributes.push(KeyValue::new(HTTP_REQUEST_METHOD, self.method.clone()));
        attributes.push(KeyValue::new(URL_SCHEME, self.scheme));
        if let Some(route) = &self.route {
            attributes.push(KeyValue::new(HTTP_ROUTE, route.clone()));
        }
        if let Some(version) = self.version {
            attributes.push(KeyValue::new(NETWORK_PROTOCOL_VERSION, version));
        }
        if let Some(status) = status {
            attributes.push(KeyValue::new(HTTP_RESPONSE_STATUS_CODE, i64::from(status)));
        }
        if let Some(error_type) = error_type {
            attributes.push(KeyValue::new(ERROR_TYPE, error_type.clone()));
        }
        attributes
    }
}

/// The route a request matched: interned, or copied per request when the route cache is full.
#[derive(Clone, Copy)]
enum Matched<'a> {
    Interned(usize, &'a Route),
    Copied(&'a str),
}

impl Matched<'_> {
    /// `http.route`.
    fn value(self) -> StringValue {
        match self {
            Matched::Interned(_, route) => StringValue::from(route.template()),
            Matched::Copied(template) => StringValue::from(template.to_owned()),
        }
    }
}

/// `url.scheme`: the URI's (HTTP/2), else what a proxy says it received, else `http`.
fn scheme<B>(request: &Request<B>, headers: &Headers<'_>) -> &'static str {
    let forwarded = || headers.forwarded_proto.map(str::trim);
    match request.uri().scheme_str().or_else(forwarded) {
        Some(scheme) if scheme.eq_ignore_ascii_case("https") => "https",
        _ => "http",
    }
}

/// `server.address` and `server.port` from the URI authority (HTTP/2) or the `Host` header.
fn push_server<B>(request: &Request<B>, headers: &Headers<'_>, values: &RequestValues, span: &mut Vec<KeyValue>) {
    let uri_authority = request.uri().authority().map(Authority::as_str);
    let Some(raw) = uri_authority.map(str::as_bytes).or_else(|| headers.host.map(HeaderValue::as_bytes)) else {
        return;
    };
    let parse = || {
        let authority = uri_authority.or_else(|| headers.host())?;
        let (host, port) = split_host_port(authority)?;
        Some((authority, privacy::cap(host, caps::SERVER_ADDRESS), port))
    };
    if let Some((address, port)) = values.servers.value(raw, parse) {
        span.push(KeyValue::new(SERVER_ADDRESS, address));
        if let Some(port) = port {
            span.push(KeyValue::new(SERVER_PORT, i64::from(port)));
        }
    }
}

/// `host[:port]` or `[ipv6][:port]`, without brackets; `None` for an empty host or a bad port.
fn split_host_port(authority: &str) -> Option<(&str, Option<u16>)> {
    // Byte searches: `str::rsplit_once` with a char pattern costs more than the whole short authority.
    let authority = match authority.bytes().rposition(|byte| byte == b'@') {
        Some(at) => &authority[at + 1..],
        None => authority,
    };
    let (host, port) = match authority.strip_prefix('[') {
        Some(bracketed) => {
            let end = bracketed.bytes().position(|byte| byte == b']')?;
            (&bracketed[..end], bracketed[end + 1..].strip_prefix(':'))
        }
        None => match authority.bytes().rposition(|byte| byte == b':') {
            Some(colon) => (&authority[..colon], Some(&authority[colon + 1..])),
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
fn push_client<B>(request: &Request<B>, headers: &Headers<'_>, values: &RequestValues, span: &mut Vec<KeyValue>) {
    let peer = request.extensions().get::<ConnectInfo<SocketAddr>>().map(|info| info.0);
    let forwarded_for = headers
        .forwarded_for()
        .and_then(|list| list.split(',').next())
        .map(str::trim)
        .filter(|client| !client.is_empty());
    if let Some(client) = forwarded_for {
        span.push(KeyValue::new(CLIENT_ADDRESS, privacy::cap(client, caps::CLIENT_ADDRESS).to_owned()));
    }
    if let Some(peer) = peer {
        // One copy of the peer's address serves both attributes.
        let address = values.peers.value(peer.ip());
        if forwarded_for.is_none() {
            span.push(KeyValue::new(CLIENT_ADDRESS, address.clone()));
        }
        span.push(KeyValue::new(NETWORK_PEER_ADDRESS, address));
        span.push(KeyValue::new(NETWORK_PEER_PORT, i64::from(peer.port())));
    }
}

/// Header maps of up to this many fields are searched in one pass rather than by four lookups.
const SCAN_LIMIT: usize = 16;

/// The request headers the attributes read (the first value of each). `X-Forwarded-Proto` (for
/// `url.scheme`, which every request records) is read as text at once, the others only when a span
/// records them.
#[derive(Default)]
struct Headers<'a> {
    host: Option<&'a HeaderValue>,
    user_agent: Option<&'a HeaderValue>,
    forwarded_for: Option<&'a HeaderValue>,
    forwarded_proto: Option<&'a str>,
}

impl<'a> Headers<'a> {
    /// One pass over a small map: a hashed lookup costs about as much as comparing the names of
    /// four fields (`callgrind`), and most requests carry a handful. A big map is searched by name.
    fn read(headers: &'a HeaderMap) -> Self {
        if headers.len() > SCAN_LIMIT {
            return Self {
                host: headers.get(&HOST),
                user_agent: headers.get(&USER_AGENT),
                forwarded_for: headers.get(&X_FORWARDED_FOR),
                forwarded_proto: headers.get(&X_FORWARDED_PROTO).and_then(text),
            };
        }
        let mut first: [Option<&'a HeaderValue>; 4] = [None; 4];
        for (name, value) in headers {
            let index = if *name == HOST {
                0
            } else if *name == USER_AGENT {
                1
            } else if *name == X_FORWARDED_FOR {
                2
            } else if *name == X_FORWARDED_PROTO {
                3
            } else {
                continue;
            };
            first[index].get_or_insert(value);
        }
        let [host, user_agent, forwarded_for, forwarded_proto] = first;
        Self { host, user_agent, forwarded_for, forwarded_proto: forwarded_proto.and_then(text) }
    }

    fn host(&self) -> Option<&'a str> {
        self.host.and_then(text)
    }

    fn forwarded_for(&self) -> Option<&'a str> {
        self.forwarded_for.and_then(text)
    }
}

fn text(value: &HeaderValue) -> Option<&str> {
    value.to_str().ok()
}

#[cfg(test)]
mod tests {
    use opentelemetry::Value;

    use super::*;

    /// The span name and the span's attributes.
    struct Built {
        span_name: Cow<'static, str>,
        span: Vec<KeyValue>,
        metric: DurationAttributes,
    }

    fn built<B>(request: &Request<B>, known: &KnownMethods, routes: &RouteCache, values: &RequestValues) -> Built {
        let RequestAttributes { span_name, span, metric, .. } = request_attributes(request, known, routes);
        Built { span_name, span: span.build(request, &CapturedHeaders::default(), values), metric }
    }

    fn attributes_of<B>(request: &Request<B>) -> Built {
        let known = KnownMethods::default();
        let routes = RouteCache::new(known.names().len());
        built(request, &known, &routes, &RequestValues::default())
    }

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
        let attributes = attributes_of(&request);
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

    fn routed(uri: &str, template: &str) -> Request<()> {
        let mut request = Request::get(uri).body(()).expect("valid request");
        request.extensions_mut().insert(super::super::test_support::matched_path(uri, template));
        request
    }

    #[test]
    fn a_routed_request_is_named_after_its_template_and_keeps_its_path() {
        let known = KnownMethods::default();
        let routes = RouteCache::new(known.names().len());
        let values = RequestValues::default();
        for _ in 0..2 {
            let request = routed("/items/42", "/items/{item_id}");
            let attributes = built(&request, &known, &routes, &values);
            assert_eq!(attributes.span_name, "GET /items/{item_id}");
            assert_eq!(value(&attributes.span, "http.route"), Some(&Value::from("/items/{item_id}")));
            assert_eq!(value(&attributes.span, "url.path"), Some(&Value::from("/items/42")));
            let metric = attributes.metric.attributes(Some(200), None);
            assert_eq!(value(&metric, "http.route"), Some(&Value::from("/items/{item_id}")));
            assert_eq!(value(&metric, "http.response.status_code"), Some(&Value::from(200_i64)));
            let request = routed("/ping", "/ping");
            let attributes = built(&request, &known, &routes, &values);
            assert_eq!(attributes.span_name, "GET /ping");
            assert_eq!(value(&attributes.span, "url.path"), Some(&Value::from("/ping")));
        }
    }

    #[test]
    fn an_unknown_method_is_other_with_the_original_kept() {
        let request = Request::builder().method("PURGE").uri("/cache").body(()).expect("valid request");
        let attributes = attributes_of(&request);
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
        let attributes = attributes_of(&request);
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
        let attributes = attributes_of(&request);
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
        let attributes = attributes_of(&request);
        assert_eq!(value(&attributes.span, "url.query"), Some(&Value::from("%70assword=REDACTED&%53ig=REDACTED&q=ok")));
    }

    #[test]
    fn the_peer_address_is_written_as_the_standard_library_writes_it() {
        let mut request = Request::get("/").body(()).expect("valid request");
        request.extensions_mut().insert(ConnectInfo(SocketAddr::from(([192, 0, 2, 9], 4321))));
        let attributes = attributes_of(&request);
        assert_eq!(value(&attributes.span, "client.address"), Some(&Value::from("192.0.2.9")));
        assert_eq!(value(&attributes.span, "network.peer.address"), Some(&Value::from("192.0.2.9")));
        assert_eq!(value(&attributes.span, "network.peer.port"), Some(&Value::from(4321_i64)));
    }

    #[test]
    fn small_and_big_header_maps_give_the_first_value_of_each_field() {
        for fillers in [0, SCAN_LIMIT] {
            let mut builder = Request::get("/");
            for index in 0..fillers {
                builder = builder.header(format!("x-filler-{index}"), "filler");
            }
            let request = builder
                .header("x-forwarded-for", "203.0.113.7")
                .header("host", "first.example:1")
                .header("user-agent", "agent/1")
                .header("host", "second.example:2")
                .header("x-forwarded-for", "198.51.100.1")
                .header("x-forwarded-proto", "https")
                .header("user-agent", "agent/2")
                .body(())
                .expect("valid request");
            assert_eq!(request.headers().len() > SCAN_LIMIT, fillers > 0);
            let headers = Headers::read(request.headers());
            let found =
                [headers.host(), headers.user_agent.and_then(text), headers.forwarded_for(), headers.forwarded_proto];
            assert_eq!(found, [Some("first.example:1"), Some("agent/1"), Some("203.0.113.7"), Some("https")]);
            let empty = Request::get("/").header("user-agent", "caf\u{e9}").body(()).expect("valid request");
            let headers = Headers::read(empty.headers());
            assert_eq!(
                [headers.host(), headers.user_agent.and_then(text)],
                [None, None],
                "a value that is not visible ASCII is skipped"
            );
        }
    }

    #[test]
    fn known_authorities_and_agents_record_what_their_first_request_recorded() {
        let known = KnownMethods::default();
        let routes = RouteCache::new(known.names().len());
        let values = RequestValues::default();
        let pick = |span: &[KeyValue]| {
            ["server.address", "server.port", "user_agent.original"].map(|key| value(span, key).cloned())
        };
        let hosts: [&[u8]; 6] = [
            b"example.com:8080",
            b"[::1]:3000",
            b"example.com:http",
            b"user:pw@example.com:1",
            b"caf\xe9.example",
            b"",
        ];
        for host in hosts {
            let request = || {
                let mut request = Request::get("/").body(()).expect("valid request");
                let headers = request.headers_mut();
                headers.insert(HOST, HeaderValue::from_bytes(host).expect("a header value"));
                headers.insert(USER_AGENT, HeaderValue::from_bytes(host).expect("a header value"));
                request
            };
            let first = pick(&built(&request(), &known, &routes, &values).span);
            for _ in 0..2 {
                assert_eq!(pick(&built(&request(), &known, &routes, &values).span), first, "{host:?}");
            }
        }
        let request = Request::get("/").header("host", "example.com:8080").body(()).expect("valid request");
        let span = built(&request, &known, &routes, &values).span;
        assert_eq!(value(&span, "server.address"), Some(&Value::from("example.com")));
        assert_eq!(value(&span, "server.port"), Some(&Value::from(8080_i64)));
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
        assert_eq!(split_host_port("a@b@example.com:65535"), Some(("example.com", Some(65535))));
        assert_eq!(split_host_port("example.com:65536"), None);
        assert_eq!(split_host_port("example.com:"), None);
        assert_eq!(split_host_port("example.com:+80"), Some(("example.com", Some(80))), "as `u16::from_str` reads it");
        assert_eq!(split_host_port("example.com:0000080"), Some(("example.com", Some(80))));
        assert_eq!(split_host_port("user:pw@[::1]:8"), Some(("::1", Some(8))));
    }
}
