//! Starting a span from a full `SpanBuilder` (kind, attributes, explicit parent) on the tracer
//! `#[traced]` uses, so the HTTP layer and client follow `traced::init()`, a provider installed with
//! [`crate::install_tracer_provider`] and a user-set global provider alike.

use opentelemetry::trace::{SpanBuilder, Tracer as _, TracerProvider as _};
use opentelemetry::Context;

use crate::span::backend::{self, Backend};
use crate::span::make_current;

/// Starts the span `builder` describes as a child of `parent`; the returned context holds it.
///
/// `None` when telemetry is disabled (`OTEL_SDK_DISABLED=true`): the caller then records nothing.
/// Per-request path (guarded by the `http_overhead` benchmark).
#[inline]
pub(crate) fn start_with_parent(builder: SpanBuilder, parent: &Context) -> Option<Context> {
    backend::with_backend(|backend| match backend {
        Backend::Disabled => None,
        Backend::Sdk(installed) => Some(make_current(parent, installed.tracer.build_with_context(builder, parent))),
        Backend::Global => Some(start_on_global(builder, parent)),
    })
}

#[cold]
#[inline(never)]
fn start_on_global(builder: SpanBuilder, parent: &Context) -> Context {
    let tracer = opentelemetry::global::tracer_provider().tracer_with_scope(backend::scope());
    // Without a provider this is a no-op span carrying the parent's context, so propagation still works.
    make_current(parent, tracer.build_with_context(builder, parent))
}
