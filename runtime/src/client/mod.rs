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
mod request_builder;
mod send;

use reqwest::{IntoUrl, Method};

pub use request_builder::{RequestBuilder, RequestBuilderExt};

/// A `reqwest::Client` whose requests are traced. Cheap to clone, like the client it wraps.
#[derive(Debug, Clone, Default)]
pub struct Client {
    inner: reqwest::Client,
}

impl Client {
    /// A client with reqwest's defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// The wrapped client, for settings made on `reqwest::ClientBuilder`.
    pub fn inner(&self) -> &reqwest::Client {
        &self.inner
    }

    /// Starts a request with `method` to `url`.
    pub fn request<U: IntoUrl>(&self, method: Method, url: U) -> RequestBuilder {
        RequestBuilder::new(self.inner.request(method, url))
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
        send::execute(&self.inner, request).await
    }
}

impl From<reqwest::Client> for Client {
    fn from(inner: reqwest::Client) -> Self {
        Self { inner }
    }
}
