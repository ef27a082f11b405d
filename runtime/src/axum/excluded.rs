//! Requests that get no span and no metric: health checks, probes, ...
//!
//! The same list as `OTEL_PYTHON_FASTAPI_EXCLUDED_URLS` (comma-separated regular expressions, each
//! searched, not anchored), matched against what the client cannot choose freely: the route template
//! the request matched (`/users/{id}`), else its path. Never the `Host` header, the query string or an
//! absolute-form request target's authority, so `Host: ping` or `/users/2?x=ping` hides nothing.
//! Python builds the URL it matches from the server's own address and the path, also without the
//! query; we go one step further with the route template, so a path parameter (`/users/ping`) cannot
//! smuggle a pattern in either.

use axum::extract::MatchedPath;
use http::Request;

pub use crate::http::settings::{
    ExcludedUrls, PatternError as ExcludedUrlsError, EXCLUDED_URLS_ENV, GENERIC_EXCLUDED_URLS_ENV,
};

/// Whether `excluded` excludes `request`; see the module docs. Per-request path, guarded by the
/// `http_overhead` benchmark: no allocation.
pub(crate) fn excludes<B>(excluded: &ExcludedUrls, request: &Request<B>) -> bool {
    if excluded.is_empty() {
        return false;
    }
    let target = request.extensions().get::<MatchedPath>().map_or_else(|| request.uri().path(), MatchedPath::as_str);
    excluded.is_excluded(target)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn excluded(list: &str) -> ExcludedUrls {
        ExcludedUrls::parse(list).expect("valid patterns")
    }

    fn request(target: &str, host: &str) -> Request<()> {
        Request::get(target).header("host", host).body(()).expect("valid request")
    }

    fn routed(mut request: Request<()>, template: &str) -> Request<()> {
        let uri = template.replace("{id}", "1");
        request.extensions_mut().insert(super::super::test_support::matched_path(&uri, template));
        request
    }

    #[test]
    fn the_host_and_the_query_cannot_exclude_a_request() {
        let excluded = excluded("ping");
        assert!(!excludes(&excluded, &request("/users/2", "ping")));
        assert!(!excludes(&excluded, &request("/exception?x=ping", "localhost")));
        assert!(!excludes(&excluded, &request("http://ping/users/2", "ping")));
        assert!(excludes(&excluded, &request("/ping", "localhost")));
    }

    #[test]
    fn a_matched_route_is_judged_by_its_template() {
        let excluded = excluded("ping");
        assert!(!excludes(&excluded, &routed(request("/users/ping", "ping"), "/users/{id}")));
        assert!(excludes(&excluded, &routed(request("/ping", "localhost"), "/ping")));
    }
}
