//! HTTP semantic-convention values shared by the server layer and the client: the method as the
//! conventions spell it, the protocol version, `error.type` for a status, redacted query strings.

use std::borrow::Cow;

use http::{Method, StatusCode, Version};

/// `http.request.method` for `method`: the method itself when the conventions know it, else
/// `_OTHER` (the caller then records `http.request.method_original`).
pub(crate) fn method_name(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::PATCH => "PATCH",
        Method::CONNECT => "CONNECT",
        Method::TRACE => "TRACE",
        _ if method.as_str() == "QUERY" => "QUERY",
        _ => OTHER_METHOD,
    }
}

/// What the conventions record for a method they do not know.
pub(crate) const OTHER_METHOD: &str = "_OTHER";

/// The low-cardinality span name for `method`: unknown methods become `HTTP`.
pub(crate) fn span_method(method_name: &'static str) -> &'static str {
    if method_name == OTHER_METHOD {
        "HTTP"
    } else {
        method_name
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

/// Query parameters whose values the conventions ask to redact (signed-URL secrets).
const SENSITIVE_QUERY_KEYS: [&str; 4] = ["AWSAccessKeyId", "Signature", "sig", "X-Goog-Signature"];

/// `query` with the values of sensitive parameters replaced by `REDACTED`; borrowed when none occur.
pub(crate) fn redact_query(query: &str) -> Cow<'_, str> {
    let is_sensitive = |pair: &str| {
        let key = pair.split_once('=').map_or(pair, |(key, _)| key);
        pair.contains('=') && SENSITIVE_QUERY_KEYS.contains(&key)
    };
    if !query.split('&').any(is_sensitive) {
        return Cow::Borrowed(query);
    }
    let mut redacted = String::with_capacity(query.len());
    for (index, pair) in query.split('&').enumerate() {
        if index > 0 {
            redacted.push('&');
        }
        match pair.split_once('=') {
            Some((key, _)) if is_sensitive(pair) => {
                redacted.push_str(key);
                redacted.push_str("=REDACTED");
            }
            _ => redacted.push_str(pair),
        }
    }
    Cow::Owned(redacted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_methods_keep_their_name_and_others_become_other() {
        assert_eq!(method_name(&Method::GET), "GET");
        assert_eq!(method_name(&Method::from_bytes(b"QUERY").expect("valid method")), "QUERY");
        let custom = Method::from_bytes(b"PURGE").expect("valid method");
        assert_eq!(method_name(&custom), "_OTHER");
        assert_eq!(span_method(method_name(&custom)), "HTTP");
    }

    #[test]
    fn only_failures_get_an_error_type() {
        assert_eq!(status_error_type(StatusCode::OK, false), None);
        assert_eq!(status_error_type(StatusCode::NOT_FOUND, false), None);
        assert_eq!(status_error_type(StatusCode::NOT_FOUND, true).as_deref(), Some("404"));
        assert_eq!(status_error_type(StatusCode::BAD_GATEWAY, false).as_deref(), Some("502"));
    }

    #[test]
    fn sensitive_query_values_are_redacted() {
        assert!(matches!(redact_query("q=shoes&page=2"), Cow::Borrowed("q=shoes&page=2")));
        assert_eq!(
            redact_query("q=1&Signature=secret&sig=abc&X-Goog-Signature=x&AWSAccessKeyId=id&sigma=1"),
            "q=1&Signature=REDACTED&sig=REDACTED&X-Goog-Signature=REDACTED&AWSAccessKeyId=REDACTED&sigma=1"
        );
        assert_eq!(redact_query("sig"), "sig");
    }
}
