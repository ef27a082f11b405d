//! The web page: one HTML file, its script and its style, compiled into the binary (no network needed).

use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

const INDEX: &str = include_str!("assets/index.html");
const SCRIPT: &str = include_str!("assets/app.js");
const STYLE: &str = include_str!("assets/app.css");

/// A page that loads nothing from elsewhere, and may not be framed by other sites.
const POLICY: &str = "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'";

pub fn router() -> Router {
    Router::new()
        .route("/", get(|| async { asset(INDEX, "text/html; charset=utf-8") }))
        .route("/app.js", get(|| async { asset(SCRIPT, "text/javascript; charset=utf-8") }))
        .route("/app.css", get(|| async { asset(STYLE, "text/css; charset=utf-8") }))
}

/// Answers a request only when its `Host` is a loopback name (`localhost`, `*.localhost`, a loopback address), unless
/// `allow_remote`: a site whose name is made to resolve to 127.0.0.1 (DNS rebinding) would read the page and the API
/// as its own origin, and the browser sends that site's name.
pub async fn loopback_names_only(State(allow_remote): State<bool>, request: Request, next: Next) -> Response {
    let host = request.headers().get(header::HOST).map(|value| value.to_str().unwrap_or(""));
    if allow_remote || host.is_none_or(is_loopback_name) {
        next.run(request).await
    } else {
        (StatusCode::FORBIDDEN, "this viewer answers loopback host names only (start it with --allow-remote otherwise)")
            .into_response()
    }
}

/// `host` or `host:port`, `[v6]` or `[v6]:port`, names a loopback address.
fn is_loopback_name(authority: &str) -> bool {
    let host = match authority.strip_prefix('[') {
        Some(bracketed) => bracketed.split_once(']').map_or("", |(host, _port)| host),
        None => authority.rsplit_once(':').map_or(authority, |(host, _port)| host),
    };
    let host = host.strip_suffix('.').unwrap_or(host).to_ascii_lowercase();
    match host.parse::<std::net::IpAddr>() {
        Ok(address) => address.is_loopback(),
        Err(_) => host == "localhost" || host.ends_with(".localhost"),
    }
}

fn asset(body: &'static str, content_type: &'static str) -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CONTENT_SECURITY_POLICY, POLICY),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
}

#[cfg(test)]
mod tests {
    use super::is_loopback_name;

    #[test]
    fn loopback_names() {
        for host in [
            "localhost",
            "LOCALHOST:16686",
            "localhost.",
            "a.localhost:1",
            "127.0.0.1:16686",
            "127.5.5.5",
            "[::1]:80",
            "[::1]",
        ] {
            assert!(is_loopback_name(host), "{host}");
        }
        for host in
            ["", "example.com", "localhost.example.com:16686", "127.0.0.1.nip.io", "10.0.0.1:16686", "[::]:1", "[::1"]
        {
            assert!(!is_loopback_name(host), "{host}");
        }
    }
}
