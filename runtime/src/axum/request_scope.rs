//! One traced request: its span, its start time and its metric attributes. Dropping it ends the span
//! and records the metrics, so a request ends exactly once whether the body finished, failed or the
//! client went away. Per-request path, guarded by the `http_overhead` benchmark.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use http::{HeaderValue, Request, Response};
use opentelemetry::trace::{SpanKind, Status, TraceContextExt as _};
use opentelemetry::{Context, ContextGuard, KeyValue};
use opentelemetry_semantic_conventions::attribute::{ERROR_TYPE, HTTP_RESPONSE_STATUS_CODE};

use super::attributes::{self, DurationAttributes, RequestAttributes};
use super::layer::Config;
use super::metrics::ActiveSlot;
use crate::http::semconv;
use crate::span::start::{self, Planned};

const TRACERESPONSE: &str = "traceresponse";

/// A request the layer traces; see the module docs. Boxed: the scope rides in the response future and
/// then in the response body, which the service stack above moves several times on their way up (and
/// axum copies into the box it makes of the body); a pointer moves where 208 bytes did.
#[derive(Debug)]
pub(crate) struct RequestScope(Box<Scope>);

#[derive(Debug)]
struct Scope {
    cx: Context,
    config: Arc<Config>,
    /// The span's start time (wall clock, as the SDK stamps spans), `None` when the span is not
    /// recorded (then nothing is recorded on it and the wall clock is not read), and the monotonic
    /// instant read just before it: the end reads only the monotonic clock (about 23 ns a read on the
    /// benchmark machine), and the span's end time and the duration metric both follow from it, so a
    /// step of the system clock during a request changes neither the duration nor the span's length.
    started: Option<SystemTime>,
    started_at: Instant,
    metric: DurationAttributes,
    active: ActiveSlot,
    /// The response's status, once its head was sent.
    status: Option<u16>,
    /// `error.type`, once the request failed (the first failure wins).
    error_type: Option<Cow<'static, str>>,
}

impl RequestScope {
    /// Starts the span and counts the request as active; `None` for an excluded URL or when
    /// telemetry is disabled.
    pub(crate) fn start<B>(config: &Arc<Config>, request: &Request<B>) -> Option<Self> {
        if crate::span::backend::is_disabled() {
            return None;
        }
        if super::excluded::excludes(&config.excluded, request) {
            return None;
        }
        let parent = crate::propagation::extract(request.headers());
        let RequestAttributes { span_name, span, metric, method_index, scheme } =
            attributes::request_attributes(request, &config.known_methods, &config.routes);
        let started_at = Instant::now();
        // The span's attributes are built only if the span is recorded (or the sampler reads them).
        let planned = Planned {
            name: span_name,
            kind: SpanKind::Server,
            attributes: || span.build(request, &config.request_headers, &config.values),
        };
        let started = start::start_with_parent(planned, &parent)?;
        let active = config.instruments.request_started(method_index, scheme);
        Some(Self(Box::new(Scope {
            started: started.start_time(),
            cx: started.into_context(),
            config: config.clone(),
            started_at,
            metric,
            active,
            status: None,
            error_type: None,
        })))
    }

    /// Makes the request's span current until the guard drops.
    pub(crate) fn enter(&self) -> ContextGuard {
        self.0.cx.clone().attach()
    }

    pub(crate) fn config(&self) -> &Arc<Config> {
        &self.0.config
    }

    pub(crate) fn context(&self) -> &Context {
        &self.0.cx
    }

    /// Whether the request's span is recorded (else only the metrics and propagation see it).
    fn is_recorded(&self) -> bool {
        self.0.started.is_some()
    }

    /// Records the response head: status, ERROR for 5xx, captured headers, `traceresponse`.
    pub(crate) fn record_response<B>(&mut self, response: &mut Response<B>) {
        let status = response.status();
        self.0.status = Some(status.as_u16());
        if self.is_recorded() {
            let span = self.0.cx.span();
            span.set_attribute(KeyValue::new(HTTP_RESPONSE_STATUS_CODE, i64::from(status.as_u16())));
            if !self.0.config.response_headers.is_empty() {
                let mut attributes = Vec::new();
                self.0.config.response_headers.record(response.headers(), &mut attributes);
                span.set_attributes(attributes);
            }
        }
        if let Some(error_type) = semconv::status_error_type(status, false) {
            self.fail(error_type, "");
        }
        if self.0.config.trace_response {
            if let Ok(value) = HeaderValue::try_from(traceresponse(&self.0.cx)) {
                response.headers_mut().insert(TRACERESPONSE, value);
            }
        }
    }

    /// Marks the request failed: `error.type` on the span and the duration metric, status ERROR.
    /// The first failure wins (a panic's response is a 500, but its `error.type` stays `panic`).
    pub(crate) fn fail(&mut self, error_type: Cow<'static, str>, description: &str) {
        if self.0.error_type.is_some() {
            return;
        }
        if self.is_recorded() {
            let span = self.0.cx.span();
            span.set_attribute(KeyValue::new(ERROR_TYPE, error_type.clone()));
            span.set_status(Status::error(description.to_owned()));
        }
        self.0.error_type = Some(error_type);
    }

    /// Records an error of the inner service or of the response body, named by its type.
    pub(crate) fn fail_with_error_type(&mut self, error_type: &'static str) {
        self.fail(Cow::Borrowed(error_type), "the request failed");
    }
}

impl Drop for Scope {
    fn drop(&mut self) {
        // Metrics first: whoever sees the ended span can rely on the request being counted.
        let elapsed = self.started_at.elapsed();
        let seconds = elapsed.as_secs_f64();
        let config = &self.config;
        config.instruments.request_ended(self.active, |histogram| {
            self.metric.record(histogram, seconds, &config.routes, self.status, self.error_type.as_ref());
        });
        if let Some(started) = self.started {
            self.cx.span().end_with_timestamp(started + elapsed);
        }
    }
}

/// The W3C Trace Context level 2 `traceresponse` value: `00-{trace id}-{span id}-{flags}`.
fn traceresponse(cx: &Context) -> String {
    let span = cx.span();
    let context = span.span_context();
    format!("00-{}-{}-{:02x}", context.trace_id(), context.span_id(), context.trace_flags().to_u8())
}
