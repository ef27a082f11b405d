//! The axum/tower server layer: one SERVER span and the RED metrics per request (feature `axum`).
//!
//! ```no_run
//! use axum::{routing::get, Router};
//! use traced::axum::TracedLayer;
//!
//! # async fn run() -> std::io::Result<()> {
//! // Build the layer after `traced::init()`: its instruments come from the meter provider set then.
//! let app: Router = Router::new()
//!     .route("/items/{item_id}", get(|| async { "item" }))
//!     .layer(TracedLayer::new().capture_request_headers(["x-request-id"]));
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8000").await?;
//! axum::serve(listener, app.into_make_service_with_connect_info::<std::net::SocketAddr>()).await
//! # }
//! # let _ = run;
//! ```
//!
//! Per request the layer:
//! * extracts `traceparent`/`tracestate`/`baggage` with the global propagator (a malformed
//!   `traceparent` starts a fresh trace), starts a SERVER span named `{METHOD} {route}` from axum's
//!   [`MatchedPath`](axum::extract::MatchedPath) (`{METHOD}` when no route matched) with the stable
//!   HTTP semantic-convention attributes, known before sampling;
//! * makes the span current while the handler runs, so `#[traced]` functions become its children;
//! * records `http.response.status_code`, ERROR status and `error.type` for 5xx (4xx is the
//!   client's error, not the server's), and ends the span when the response body has been sent;
//! * counts `http.server.request.duration` (seconds) and `http.server.active_requests`;
//! * turns a panic in the handler into a 500 [`ErrorResponse`](crate::ErrorResponse) JSON body, an
//!   `exception` event and ERROR status; the server keeps serving.
//!
//! Add it with [`Router::layer`](axum::Router::layer), so it runs after routing and sees the matched
//! route. Requests matched by [`ExcludedUrls`] (route template, else path; never the `Host` header or
//! the query) get no span and no metric. Optional: captured headers
//! ([`TracedLayer::capture_request_headers`], `OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_*`)
//! and the `traceresponse` header ([`TracedLayer::trace_response_header`]). The layer takes these
//! settings from what `traced::init()` installed ([`TracedLayer::new`]) or from
//! [`Settings`](crate::telemetry::Settings) ([`TracedLayer::from_settings`]); builder methods win.

mod attributes;
mod body;
mod excluded;
mod future;
mod interned;
mod layer;
mod metrics;
mod panic;
mod request_scope;
mod request_values;
mod routes;
mod service;
#[cfg(test)]
mod test_support;

pub use body::ResponseBody;
pub use excluded::{ExcludedUrls, ExcludedUrlsError, EXCLUDED_URLS_ENV, GENERIC_EXCLUDED_URLS_ENV};
pub use future::ResponseFuture;
pub use layer::TracedLayer;
pub use service::TracedService;
