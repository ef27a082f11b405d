//! HTTP semantic-convention values shared by the server layer and the client: the method as the
//! conventions spell it, the protocol version, `error.type` for a status (redaction lives in
//! [`crate::privacy`]).

use std::borrow::Cow;

use http::{Method, StatusCode, Version};
use opentelemetry::StringValue;

/// The methods the conventions know by default (RFC 9110 and `QUERY`).
const DEFAULT_KNOWN_METHODS: [&str; 10] =
    ["GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH", "CONNECT", "TRACE", "QUERY"];

/// The methods `http::Method` holds without allocating, compared by tag rather than by text.
const STANDARD_METHODS: [Method; 9] = [
    Method::GET,
    Method::POST,
    Method::PUT,
    Method::DELETE,
    Method::HEAD,
    Method::OPTIONS,
    Method::CONNECT,
    Method::PATCH,
    Method::TRACE,
];

/// What the conventions record for a method they do not know.
pub(crate) const OTHER_METHOD: &str = "_OTHER";

/// The methods recorded as themselves; any other method is recorded as `_OTHER`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct KnownMethods {
    names: Vec<StringValue>,
    /// Per [`STANDARD_METHODS`] entry, its position in `names` (`None`: not known).
    standard: [Option<usize>; STANDARD_METHODS.len()],
}

/// `http.request.method` of one request.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RequestMethod {
    /// The method, or `_OTHER`.
    pub(crate) value: StringValue,
    /// Whether the method is known; when not, the caller records `http.request.method_original`.
    pub(crate) known: bool,
    /// Its position in the known methods; their number for an unknown method.
    pub(crate) index: usize,
}

impl Default for KnownMethods {
    fn default() -> Self {
        Self::new(DEFAULT_KNOWN_METHODS.iter().map(|name| StringValue::from(*name)).collect())
    }
}

impl KnownMethods {
    /// The list of `OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS` (case-sensitive, replacing the default
    /// one as the conventions say), or the default list for `None`.
    pub(crate) fn from_settings(names: Option<&[String]>) -> Self {
        let Some(list) = names else { return Self::default() };
        let mut names: Vec<StringValue> = Vec::new();
        for name in list.iter().map(|name| name.trim()).filter(|name| !name.is_empty()) {
            if !names.iter().any(|known| known.as_str() == name) {
                names.push(StringValue::from(name.to_owned()));
            }
        }
        Self::new(names)
    }

    fn new(names: Vec<StringValue>) -> Self {
        let standard = STANDARD_METHODS.map(|method| names.iter().position(|known| known.as_str() == method.as_str()));
        Self { names, standard }
    }

    /// The known methods, in order (the layer keeps one active-request series per method).
    #[cfg(any(feature = "axum", test))]
    pub(crate) fn names(&self) -> &[StringValue] {
        &self.names
    }

    /// `http.request.method` for `method`.
    pub(crate) fn classify(&self, method: &Method) -> RequestMethod {
        let position = match STANDARD_METHODS.iter().position(|standard| standard == method) {
            Some(standard) => self.standard[standard],
            None => self.names.iter().position(|known| known.as_str() == method.as_str()),
        };
        match position {
            Some(index) => RequestMethod { value: self.names[index].clone(), known: true, index },
            None => RequestMethod { value: StringValue::from(OTHER_METHOD), known: false, index: self.names.len() },
        }
    }
}

impl RequestMethod {
    /// The low-cardinality span name: the method, or `HTTP` for an unknown one (borrowed unless the
    /// method came from a custom known-methods list).
    pub(crate) fn span_name(&self) -> Cow<'static, str> {
        if !self.known {
            return Cow::Borrowed("HTTP");
        }
        let name = self.value.as_str();
        match DEFAULT_KNOWN_METHODS.iter().find(|known| **known == name) {
            Some(known) => Cow::Borrowed(known),
            None => Cow::Owned(name.to_owned()),
        }
    }
}

/// `network.protocol.version` (`1.1`, `2`, ...).
pub(crate) fn protocol_version(version: Version) -> Option<&'static str> {
    match version {
        Version::HTTP_09 => Some("0.9"),
        Version::HTTP_10 => Some("1.0"),
        Version::HTTP_11 => Some("1.1"),
        Version::HTTP_2 => Some("2"),
        Version::HTTP_3 => Some("3"),
        _ => None,
    }
}

/// `error.type` for a response status the conventions count as a failure: 5xx on a server,
/// 4xx and 5xx on a client. The status code as text, like the conventions' examples.
pub(crate) fn status_error_type(status: StatusCode, client: bool) -> Option<Cow<'static, str>> {
    let failed = status.is_server_error() || (client && status.is_client_error());
    failed.then(|| Cow::Owned(status.as_str().to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_methods_keep_their_name_and_others_become_other() {
        let known = KnownMethods::default();
        let get = known.classify(&Method::GET);
        assert_eq!((get.value.as_str(), get.known, get.span_name()), ("GET", true, Cow::Borrowed("GET")));
        assert_eq!((get.index, known.classify(&Method::POST).index), (0, 1));
        assert!(known.classify(&Method::from_bytes(b"QUERY").expect("valid method")).known);
        let purge = known.classify(&Method::from_bytes(b"PURGE").expect("valid method"));
        assert_eq!((purge.value.as_str(), purge.known, purge.span_name()), ("_OTHER", false, Cow::Borrowed("HTTP")));
        assert_eq!(purge.index, known.names().len());
    }

    #[test]
    fn the_known_methods_list_is_a_full_case_sensitive_override() {
        let list = [" GET", "PURGE ", "", "GET", "purge"].map(str::to_owned);
        let known = KnownMethods::from_settings(Some(&list));
        assert_eq!(known.names().iter().map(StringValue::as_str).collect::<Vec<_>>(), ["GET", "PURGE", "purge"]);
        assert!(known.classify(&Method::from_bytes(b"PURGE").expect("valid method")).known);
        assert!(!known.classify(&Method::POST).known, "POST is no longer known");
        assert_eq!(known.classify(&Method::GET).index, 0);
        let lower_get = known.classify(&Method::from_bytes(b"get").expect("valid method"));
        assert!(!lower_get.known, "methods are case-sensitive");
    }

    #[test]
    fn only_failures_get_an_error_type() {
        assert_eq!(status_error_type(StatusCode::OK, false), None);
        assert_eq!(status_error_type(StatusCode::NOT_FOUND, false), None);
        assert_eq!(status_error_type(StatusCode::NOT_FOUND, true).as_deref(), Some("404"));
        assert_eq!(status_error_type(StatusCode::BAD_GATEWAY, false).as_deref(), Some("502"));
    }
}
