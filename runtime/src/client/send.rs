//! Sending one traced request: start the CLIENT span, inject the trace context, record the outcome.
//! Per-request path, guarded by the `http_overhead` benchmark.

use std::borrow::Cow;

use opentelemetry::trace::{SpanKind, Status, TraceContextExt as _};
use opentelemetry::{Context, KeyValue};
use opentelemetry_semantic_conventions::attribute::ERROR_TYPE;

use super::attributes;
use super::config::ClientConfig;
use crate::http::semconv;
use crate::privacy::{self, caps};
use crate::span::start::{self, Planned, Started};

/// Sends `request` on `client` inside a CLIENT span, child of the current span.
pub(crate) async fn execute(
    client: &reqwest::Client,
    config: &ClientConfig,
    mut request: reqwest::Request,
) -> reqwest::Result<reqwest::Response> {
    let method = config.known_methods.classify(request.method());
    // The span's attributes are built only if the span is recorded (or the sampler reads them).
    let planned = Planned {
        name: method.span_name(),
        kind: SpanKind::Client,
        attributes: || {
            let mut request_attributes = attributes::request_attributes(&request, &method);
            config.request_headers.record(request.headers(), &mut request_attributes);
            request_attributes
        },
    };
    let started = Context::map_current(|parent| start::start_with_parent(planned, parent));
    let cx = match started {
        Some(Started::Recording { cx, .. }) => cx,
        // Not recorded: only the (unsampled) trace context goes along.
        Some(Started::Unrecorded(cx)) => {
            crate::propagation::inject_context(&cx, request.headers_mut());
            return client.execute(request).await;
        }
        None => return client.execute(request).await,
    };
    crate::propagation::inject_context(&cx, request.headers_mut());
    let guard = EndOnDrop(cx);
    let result = client.execute(request).await;
    let span = guard.0.span();
    match &result {
        Ok(response) => {
            let mut response_attributes = attributes::response_attributes(response);
            config.response_headers.record(response.headers(), &mut response_attributes);
            span.set_attributes(response_attributes);
            if let Some(error_type) = semconv::status_error_type(response.status(), true) {
                fail(&span, error_type, String::new());
            }
        }
        Err(error) => {
            // reqwest's text carries the URL, userinfo and query included.
            let description = privacy::text_value(error, caps::STATUS_DESCRIPTION);
            fail(&span, Cow::Borrowed(attributes::error_type(error)), description);
        }
    }
    result
}

fn fail(span: &opentelemetry::trace::SpanRef<'_>, error_type: Cow<'static, str>, description: String) {
    span.set_attribute(KeyValue::new(ERROR_TYPE, error_type));
    span.set_status(Status::error(description));
}

/// Ends the span when the request finishes or its future is dropped (a cancelled call).
struct EndOnDrop(Context);

impl Drop for EndOnDrop {
    fn drop(&mut self) {
        self.0.span().end();
    }
}
