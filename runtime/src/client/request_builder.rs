//! Building a traced request: a thin wrapper over `reqwest::RequestBuilder` whose `send` is traced,
//! and an extension trait for builders made by a plain `reqwest::Client`.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::{Body, Version};

use super::config::ClientConfig;
use super::send;

/// A request being built by [`Client`](super::Client); [`send`](Self::send) traces it.
///
/// The common settings have methods here; [`with`](Self::with) reaches every other one (`json`,
/// `query`, `form`, `multipart`, ... as enabled in your `reqwest` features).
#[derive(Debug)]
#[must_use = "a request does nothing until it is sent"]
pub struct RequestBuilder {
    inner: reqwest::RequestBuilder,
    config: Arc<ClientConfig>,
}

impl RequestBuilder {
    pub(crate) fn new(inner: reqwest::RequestBuilder, config: Arc<ClientConfig>) -> Self {
        Self { inner, config }
    }

    /// Applies any `reqwest::RequestBuilder` method: `.with(|request| request.json(&item))`.
    pub fn with(self, f: impl FnOnce(reqwest::RequestBuilder) -> reqwest::RequestBuilder) -> Self {
        Self { inner: f(self.inner), config: self.config }
    }

    /// Adds a header.
    pub fn header<K, V>(self, key: K, value: V) -> Self
    where
        HeaderName: TryFrom<K>,
        <HeaderName as TryFrom<K>>::Error: Into<http::Error>,
        HeaderValue: TryFrom<V>,
        <HeaderValue as TryFrom<V>>::Error: Into<http::Error>,
    {
        self.with(|inner| inner.header(key, value))
    }

    /// Adds headers.
    pub fn headers(self, headers: HeaderMap) -> Self {
        self.with(|inner| inner.headers(headers))
    }

    /// Sets the body.
    pub fn body<T: Into<Body>>(self, body: T) -> Self {
        self.with(|inner| inner.body(body))
    }

    /// Sets a timeout for this request.
    pub fn timeout(self, timeout: Duration) -> Self {
        self.with(|inner| inner.timeout(timeout))
    }

    /// Sets the HTTP version.
    pub fn version(self, version: Version) -> Self {
        self.with(|inner| inner.version(version))
    }

    /// Sends the request with a CLIENT span and the trace context in its headers.
    pub async fn send(self) -> reqwest::Result<reqwest::Response> {
        let (client, request) = self.inner.build_split();
        send::execute(&client, &self.config, request?).await
    }
}

/// `send_traced()` for a `reqwest::RequestBuilder` from any `reqwest::Client`.
pub trait RequestBuilderExt {
    /// Like `send()`, with a CLIENT span and the trace context in the request's headers.
    fn send_traced(self) -> impl Future<Output = reqwest::Result<reqwest::Response>> + Send;
}

impl RequestBuilderExt for reqwest::RequestBuilder {
    async fn send_traced(self) -> reqwest::Result<reqwest::Response> {
        let (client, request) = self.build_split();
        send::execute(&client, &ClientConfig::installed(), request?).await
    }
}
