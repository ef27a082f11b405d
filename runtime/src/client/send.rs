//! Sending one traced request: start the CLIENT span, inject the trace context, record the outcome.
//! Per-request path, guarded by the `http_overhead` benchmark.

use std::borrow::Cow;

use opentelemetry::trace::{SpanBuilder, SpanKind, Status, TraceContextExt as _};
use opentelemetry::{Context, KeyValue};
use opentelemetry_semantic_conventions::attribute::ERROR_TYPE;

use super::attributes;
use super::config::ClientConfig;
use crate::http::semconv;
use crate::privacy::{self, caps};

/// Sends `request` on `client` inside a CLIENT span, child of the current span.
pub(crate) async fn execute(
    client: &reqwest::Client,
    config: &ClientConfig,
    mut request: reqwest::Request,
) -> reqwest::Result<reqwest::Response> {
    let (name, mut request_attributes) = attributes::request_attributes(&request, &config.known_methods);
    config.request_headers.record(request.headers(), &mut request_attributes);
    let builder = SpanBuilder::from_name(name).with_kind(SpanKind::Client).with_attributes(request_attributes);
    let Some(cx) = Context::map_current(|parent| crate::span::start::start_with_parent(builder, parent)) else {
        return client.execute(request).await;
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
