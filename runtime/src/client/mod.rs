//! An instrumented [`reqwest`] client (feature `reqwest`): each request gets a CLIENT span with the
//! HTTP semantic-convention attributes and carries the trace to the server in `traceparent` (the
//! global propagator, as [`crate::propagation::inject`]).
//!
//! ```no_run
//! # async fn demo() -> Result<(), reqwest::Error> {
//! let client = traced::client::Client::new();
//! let response = client.get("http://127.0.0.1:8001/items/1").header("x-request-id", "42").send().await?;
//! # let _ = response;
//! # Ok(())
//! # }
//! # let _ = demo;
//! ```
//!
//! Already have `reqwest::RequestBuilder`s? [`RequestBuilderExt::send_traced`] sends one with the
//! same span. The span ends when the response head arrives; 4xx and 5xx responses and transport
//! errors set ERROR status and `error.type`, as the conventions say for clients.

mod attributes;
mod config;
mod request_builder;
mod send;

use std::sync::Arc;

use reqwest::{IntoUrl, Method};

pub use request_builder::{RequestBuilder, RequestBuilderExt};

use self::config::ClientConfig;
use crate::http::semconv::KnownMethods;
use crate::http::settings::{HeaderPatterns, HttpSettings};
use crate::telemetry::Settings;

/// A `reqwest::Client` whose requests are traced. Cheap to clone, like the client it wraps.
///
/// Its known methods and captured headers come from what `traced::init()` installed (the
/// `OTEL_INSTRUMENTATION_HTTP_*` variables), from [`Settings`] ([`Client::from_settings`]) or from
/// its builder methods, which win.
#[derive(Debug, Clone)]
pub struct Client {
    inner: reqwest::Client,
    config: Arc<ClientConfig>,
}

impl Default for Client {
    fn default() -> Self {
        Self::new()
    }
}

impl Client {
    /// A client with reqwest's defaults and the HTTP settings `traced::init()` installed (without
    /// `init()`, the environment's).
    pub fn new() -> Self {
        Self::from(reqwest::Client::default())
    }

    /// A client with reqwest's defaults and the HTTP settings of `settings`.
    pub fn from_settings(settings: &Settings) -> Self {
        Self::new().with_http_settings(&settings.http)
    }

    /// The same client with these HTTP settings (known methods, captured and sanitized headers).
    pub fn with_http_settings(mut self, http: &HttpSettings) -> Self {
        self.config = Arc::new(ClientConfig::from_http(http));
        self
    }

    /// Records the request headers named (or matched by a regular expression, whole name, any case)
    /// as `http.request.header.<lowercase name>` string arrays; replaces
    /// `OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_CLIENT_REQUEST`. An entry that is not a valid
    /// regular expression is taken literally. `Authorization`, `Proxy-Authorization`, `Cookie` and
    /// `Set-Cookie` are never recorded.
    pub fn capture_request_headers<I, N>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = N>,
        N: AsRef<str>,
    {
        Arc::make_mut(&mut self.config).capture_request_headers(HeaderPatterns::lenient(names));
        self
    }

    /// Records these response headers as `http.response.header.<name>`; replaces
    /// `OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_CLIENT_RESPONSE`.
    pub fn capture_response_headers<I, N>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = N>,
        N: AsRef<str>,
    {
        Arc::make_mut(&mut self.config).capture_response_headers(HeaderPatterns::lenient(names));
        self
    }

    /// Captured headers whose name contains one of these names or regular expressions (any case, as
    /// Python searches them) are recorded as `[REDACTED]`;
    /// replaces `OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SANITIZE_FIELDS`.
    pub fn sanitize_headers<I, N>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = N>,
        N: AsRef<str>,
    {
        Arc::make_mut(&mut self.config).sanitize_headers(HeaderPatterns::lenient(names));
        self
    }

    /// The methods recorded as themselves in `http.request.method` (others become `_OTHER`);
    /// replaces `OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS`.
    pub fn known_methods<I, N>(mut self, methods: I) -> Self
    where
        I: IntoIterator<Item = N>,
        N: AsRef<str>,
    {
        let methods: Vec<String> = methods.into_iter().map(|method| method.as_ref().to_owned()).collect();
        Arc::make_mut(&mut self.config).known_methods = KnownMethods::from_settings(Some(&methods));
        self
    }

    /// The wrapped client, for settings made on `reqwest::ClientBuilder`.
    pub fn inner(&self) -> &reqwest::Client {
        &self.inner
    }

    /// Starts a request with `method` to `url`.
    pub fn request<U: IntoUrl>(&self, method: Method, url: U) -> RequestBuilder {
        RequestBuilder::new(self.inner.request(method, url), self.config.clone())
    }

    /// Starts a `GET` request.
    pub fn get<U: IntoUrl>(&self, url: U) -> RequestBuilder {
        self.request(Method::GET, url)
    }

    /// Starts a `POST` request.
    pub fn post<U: IntoUrl>(&self, url: U) -> RequestBuilder {
        self.request(Method::POST, url)
    }

    /// Starts a `PUT` request.
    pub fn put<U: IntoUrl>(&self, url: U) -> RequestBuilder {
        self.request(Method::PUT, url)
    }

    /// Starts a `PATCH` request.
    pub fn patch<U: IntoUrl>(&self, url: U) -> RequestBuilder {
        self.request(Method::PATCH, url)
    }

    /// Starts a `DELETE` request.
    pub fn delete<U: IntoUrl>(&self, url: U) -> RequestBuilder {
        self.request(Method::DELETE, url)
    }

    /// Starts a `HEAD` request.
    pub fn head<U: IntoUrl>(&self, url: U) -> RequestBuilder {
        self.request(Method::HEAD, url)
    }

    /// Sends a request built elsewhere, traced.
    pub async fn execute(&self, request: reqwest::Request) -> reqwest::Result<reqwest::Response> {
        send::execute(&self.inner, &self.config, request).await
    }
}

impl From<reqwest::Client> for Client {
    /// Traces `inner`'s requests with the HTTP settings `traced::init()` installed.
    fn from(inner: reqwest::Client) -> Self {
        Self { inner, config: ClientConfig::installed() }
    }
}
