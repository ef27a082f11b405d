//! `traced`: OpenTelemetry for axum services, with attribute macros checked at compile time and a
//! runtime that is correct, standard and cheap.
//!
//! See the README for the quick start; [`traced`] for the span macro.
#![doc(test(attr(deny(warnings))))]

mod attribute;
mod backend;
mod current;
mod outcome;
mod span;
#[cfg(feature = "testing")]
pub mod testing;

#[doc(hidden)]
#[path = "private.rs"]
pub mod __private;

pub use attribute::AttributeValue;
pub use current::{add_event, current_span_id, current_trace_id, record, spawn, FutureExt};
pub use traced_macros::traced;

/// Routes `#[traced]` spans to `provider` and sets it as the global tracer provider.
///
/// `traced::init()` does this for you. Call it when you build the SDK provider yourself: spans then
/// skip the `opentelemetry::global` indirection (which boxes the tracer and every span).
pub fn install_tracer_provider(provider: &opentelemetry_sdk::trace::SdkTracerProvider) {
    opentelemetry::global::set_tracer_provider(provider.clone());
    backend::install_sdk(provider);
}
