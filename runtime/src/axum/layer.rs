//! [`TracedLayer`]: the tower `Layer` and its configuration.

use std::sync::Arc;

use opentelemetry::metrics::Meter;
use tower::Layer;

use super::excluded::ExcludedUrls;
use super::headers::CapturedHeaders;
use super::metrics::Instruments;
use super::service::TracedService;
use crate::http_error::ErrorResponse;

/// Traces every request of the service it wraps; see the [module docs](super).
///
/// Cheap to clone: the configuration is shared.
#[derive(Debug, Clone)]
pub struct TracedLayer {
    config: Arc<Config>,
}

/// What the layer does per request, fixed when the layer is built.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub(crate) excluded: ExcludedUrls,
    pub(crate) request_headers: CapturedHeaders,
    pub(crate) response_headers: CapturedHeaders,
    pub(crate) trace_response: bool,
    pub(crate) panic_response: ErrorResponse,
    pub(crate) instruments: Instruments,
}

impl Default for TracedLayer {
    fn default() -> Self {
        Self::new()
    }
}

impl TracedLayer {
    /// A layer with the excluded URLs of the environment ([`ExcludedUrls::from_env`]) and instruments
    /// from the global meter provider; build it after `traced::init()`.
    ///
    /// An invalid pattern in the environment is reported on stderr (with the variable's name) and
    /// excludes nothing; call [`ExcludedUrls::from_env`] yourself to fail instead.
    pub fn new() -> Self {
        let excluded = ExcludedUrls::from_env().unwrap_or_else(|error| {
            eprintln!("traced: ignoring excluded URLs: {error}");
            ExcludedUrls::none()
        });
        Self {
            config: Arc::new(Config {
                excluded,
                request_headers: CapturedHeaders::default(),
                response_headers: CapturedHeaders::default(),
                trace_response: false,
                panic_response: ErrorResponse::new(),
                instruments: Instruments::from_global(),
            }),
        }
    }

    /// Requests whose URL matches `excluded` get no span and no metric (replaces the environment's list).
    ///
    /// ```
    /// use traced::axum::{ExcludedUrls, TracedLayer};
    ///
    /// let layer = TracedLayer::new().excluded_urls(ExcludedUrls::parse("health,ping").unwrap());
    /// # let _ = layer;
    /// ```
    pub fn excluded_urls(mut self, excluded: ExcludedUrls) -> Self {
        self.config_mut().excluded = excluded;
        self
    }

    /// Records these request headers as `http.request.header.<name>` (lowercase name, string array).
    /// `Authorization`, `Proxy-Authorization`, `Cookie` and `Set-Cookie` are never recorded.
    pub fn capture_request_headers<I, N>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = N>,
        N: AsRef<str>,
    {
        self.config_mut().request_headers = CapturedHeaders::new("http.request.header", names);
        self
    }

    /// Records these response headers as `http.response.header.<name>`; credentials never.
    pub fn capture_response_headers<I, N>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = N>,
        N: AsRef<str>,
    {
        self.config_mut().response_headers = CapturedHeaders::new("http.response.header", names);
        self
    }

    /// Adds a `traceresponse` header (W3C Trace Context level 2) naming the request's trace, so a
    /// caller can find it. Off by default: it tells callers your trace ids.
    pub fn trace_response_header(mut self, enabled: bool) -> Self {
        self.config_mut().trace_response = enabled;
        self
    }

    /// The response a panicking handler's request gets (default: [`ErrorResponse::new`]).
    pub fn panic_response(mut self, response: ErrorResponse) -> Self {
        self.config_mut().panic_response = response;
        self
    }

    /// Takes the metric instruments from `meter` instead of the global meter provider.
    pub fn meter(mut self, meter: &Meter) -> Self {
        self.config_mut().instruments = Instruments::new(meter);
        self
    }

    fn config_mut(&mut self) -> &mut Config {
        Arc::make_mut(&mut self.config)
    }
}

impl<S> Layer<S> for TracedLayer {
    type Service = TracedService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        TracedService::new(inner, self.config.clone())
    }
}
