//! [`TracedLayer`]: the tower `Layer` and its configuration.

use std::sync::Arc;

use opentelemetry::metrics::Meter;
use tower::Layer;

use super::excluded::ExcludedUrls;
use super::metrics::Instruments;
use super::request_values::RequestValues;
use super::routes::RouteCache;
use super::service::TracedService;
use crate::http::error::ErrorResponse;
use crate::http::header_capture::{CapturedHeaders, REQUEST_PREFIX, RESPONSE_PREFIX};
use crate::http::semconv::KnownMethods;
use crate::http::settings::{HeaderPatterns, HttpSettings};
use crate::telemetry::Settings;

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
    pub(crate) known_methods: KnownMethods,
    pub(crate) request_headers: CapturedHeaders,
    pub(crate) response_headers: CapturedHeaders,
    pub(crate) trace_response: bool,
    pub(crate) panic_response: ErrorResponse,
    pub(crate) instruments: Instruments,
    pub(crate) routes: RouteCache,
    pub(crate) values: RequestValues,
    /// Where `instruments` come from (`None`: the global meter provider), kept to rebuild them when
    /// the known methods change.
    meter: Option<Meter>,
}

impl Default for TracedLayer {
    fn default() -> Self {
        Self::new()
    }
}

impl TracedLayer {
    /// A layer with the HTTP settings `traced::init()` installed (known methods, excluded URLs,
    /// captured headers: [`HttpSettings`]) and instruments from the global meter provider; build it
    /// after `traced::init()`. Without `init()`, the settings come from the environment.
    pub fn new() -> Self {
        Self::from_http_settings(&crate::http::settings::installed())
    }

    /// A layer with the HTTP settings of `settings` (e.g. [`Settings::from_vars`] in a test);
    /// instruments from the global meter provider.
    ///
    /// ```
    /// use std::collections::HashMap;
    ///
    /// let vars = HashMap::from([("OTEL_RUST_AXUM_EXCLUDED_URLS".to_owned(), "^/health$".to_owned())]);
    /// let settings = traced::telemetry::Settings::from_vars(&vars).unwrap();
    /// let layer = traced::axum::TracedLayer::from_settings(&settings);
    /// # let _ = layer;
    /// ```
    pub fn from_settings(settings: &Settings) -> Self {
        Self::from_http_settings(&settings.http)
    }

    /// A layer with these HTTP settings.
    pub fn from_http_settings(http: &HttpSettings) -> Self {
        let known_methods = KnownMethods::from_settings(http.known_methods.as_deref());
        let sanitize = &http.sanitize_headers;
        Self {
            config: Arc::new(Config {
                excluded: http.excluded_urls.clone(),
                request_headers: CapturedHeaders::new(
                    REQUEST_PREFIX,
                    http.server_request_headers.clone(),
                    sanitize.clone(),
                ),
                response_headers: CapturedHeaders::new(
                    RESPONSE_PREFIX,
                    http.server_response_headers.clone(),
                    sanitize.clone(),
                ),
                trace_response: false,
                panic_response: ErrorResponse::new(),
                instruments: Instruments::from_global(&known_methods),
                routes: RouteCache::new(known_methods.names().len()),
                values: RequestValues::default(),
                known_methods,
                meter: None,
            }),
        }
    }

    /// Requests matching `excluded` get no span and no metric (replaces the settings' list). The
    /// patterns see the matched route template, else the path; see [`ExcludedUrls`].
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

    /// Records the request headers named (or matched by a regular expression, whole name, any case)
    /// as `http.request.header.<lowercase name>` string arrays; replaces
    /// `OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_REQUEST`. An entry that is not a valid
    /// regular expression is taken literally. `Authorization`, `Proxy-Authorization`, `Cookie` and
    /// `Set-Cookie` are never recorded.
    pub fn capture_request_headers<I, N>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = N>,
        N: AsRef<str>,
    {
        let config = self.config_mut();
        config.request_headers =
            CapturedHeaders::new(REQUEST_PREFIX, HeaderPatterns::lenient(names), config.sanitize().clone());
        self
    }

    /// Records these response headers as `http.response.header.<name>`, as
    /// [`capture_request_headers`](Self::capture_request_headers) does for requests; replaces
    /// `OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_RESPONSE`.
    pub fn capture_response_headers<I, N>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = N>,
        N: AsRef<str>,
    {
        let config = self.config_mut();
        config.response_headers =
            CapturedHeaders::new(RESPONSE_PREFIX, HeaderPatterns::lenient(names), config.sanitize().clone());
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
        let sanitize = HeaderPatterns::lenient(names);
        let config = self.config_mut();
        config.request_headers = config.request_headers.sanitized(sanitize.clone());
        config.response_headers = config.response_headers.sanitized(sanitize);
        self
    }

    /// The methods recorded as themselves in `http.request.method` (others become `_OTHER`);
    /// replaces `OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS` and the conventions' list.
    pub fn known_methods<I, N>(mut self, methods: I) -> Self
    where
        I: IntoIterator<Item = N>,
        N: AsRef<str>,
    {
        let methods: Vec<String> = methods.into_iter().map(|method| method.as_ref().to_owned()).collect();
        let config = self.config_mut();
        config.known_methods = KnownMethods::from_settings(Some(&methods));
        config.routes = RouteCache::new(config.known_methods.names().len());
        config.instruments = match &config.meter {
            Some(meter) => Instruments::new(meter, &config.known_methods),
            None => Instruments::from_global(&config.known_methods),
        };
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
        let config = self.config_mut();
        config.instruments = Instruments::new(meter, &config.known_methods);
        // The route cache holds histograms bound to the old instruments.
        config.routes = RouteCache::new(config.known_methods.names().len());
        config.meter = Some(meter.clone());
        self
    }

    fn config_mut(&mut self) -> &mut Config {
        Arc::make_mut(&mut self.config)
    }
}

impl Config {
    fn sanitize(&self) -> &HeaderPatterns {
        self.request_headers.sanitize()
    }
}

impl<S> Layer<S> for TracedLayer {
    type Service = TracedService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        TracedService::new(inner, self.config.clone())
    }
}
