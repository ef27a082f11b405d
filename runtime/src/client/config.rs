//! What a client records besides the conventions' attributes: its known methods and the request and
//! response headers it captures (`OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_CLIENT_*`), fixed when
//! the client is built.

use std::sync::{Arc, RwLock};

use crate::http::header_capture::{CapturedHeaders, REQUEST_PREFIX, RESPONSE_PREFIX};
use crate::http::semconv::KnownMethods;
use crate::http::settings::{HeaderPatterns, HttpSettings};

/// A client's configuration; shared by its clones and the requests they build.
#[derive(Debug, Clone, Default)]
pub(crate) struct ClientConfig {
    pub(crate) known_methods: KnownMethods,
    pub(crate) request_headers: CapturedHeaders,
    pub(crate) response_headers: CapturedHeaders,
}

impl ClientConfig {
    pub(crate) fn from_http(http: &HttpSettings) -> Self {
        let sanitize = &http.sanitize_headers;
        Self {
            known_methods: KnownMethods::from_settings(http.known_methods.as_deref()),
            request_headers: CapturedHeaders::new(
                REQUEST_PREFIX,
                http.client_request_headers.clone(),
                sanitize.clone(),
            ),
            response_headers: CapturedHeaders::new(
                RESPONSE_PREFIX,
                http.client_response_headers.clone(),
                sanitize.clone(),
            ),
        }
    }

    /// The configuration of the settings `traced::init()` installed, built once per installation
    /// (requests sent with `send_traced` from a plain `reqwest::Client` use it).
    pub(crate) fn installed() -> Arc<Self> {
        static BUILT: RwLock<Option<(Arc<HttpSettings>, Arc<ClientConfig>)>> = RwLock::new(None);
        let settings = crate::http::settings::installed();
        if let Ok(built) = BUILT.read() {
            if let Some((from, config)) = built.as_ref().filter(|(from, _)| Arc::ptr_eq(from, &settings)) {
                let _ = from;
                return config.clone();
            }
        }
        let config = Arc::new(Self::from_http(&settings));
        if let Ok(mut built) = BUILT.write() {
            *built = Some((settings, config.clone()));
        }
        config
    }

    pub(crate) fn capture_request_headers(&mut self, patterns: HeaderPatterns) {
        self.request_headers = CapturedHeaders::new(REQUEST_PREFIX, patterns, self.request_headers.sanitize().clone());
    }

    pub(crate) fn capture_response_headers(&mut self, patterns: HeaderPatterns) {
        self.response_headers =
            CapturedHeaders::new(RESPONSE_PREFIX, patterns, self.response_headers.sanitize().clone());
    }

    pub(crate) fn sanitize_headers(&mut self, sanitize: HeaderPatterns) {
        self.request_headers = self.request_headers.sanitized(sanitize.clone());
        self.response_headers = self.response_headers.sanitized(sanitize);
    }
}
