//! `traced`: OpenTelemetry for axum services, with attribute macros checked at compile time and a
//! runtime that is correct, standard and cheap.
//!
//! See the README for the quick start; [`traced`] for the span macro.
#![doc(test(attr(deny(warnings))))]

mod attribute;
#[cfg(feature = "axum")]
pub mod axum;
mod backend;
#[cfg(feature = "reqwest")]
pub mod client;
mod current;
#[cfg(feature = "axum")]
mod dependency;
mod errors;
#[cfg(feature = "axum")]
mod http_error;
#[cfg(any(feature = "axum", feature = "reqwest"))]
mod http_semconv;
mod outcome;
mod sampling;
pub mod propagation;
mod span;
#[cfg(any(feature = "axum", feature = "reqwest"))]
mod span_start;
pub mod telemetry;
mod sync_body;
#[cfg(feature = "testing")]
pub mod testing;

#[doc(hidden)]
#[path = "private.rs"]
pub mod __private;

pub use attribute::AttributeValue;
pub use sampling::SharedSampler;
#[cfg(feature = "axum")]
pub use http_error::{ErrorResponse, DEFAULT_ERROR_MESSAGE};
#[cfg(feature = "axum")]
pub use dependency::{Dependency, Depends, ResolveDependency};
pub use errors::{ErrorBacktrace, PublicError};
pub use current::{add_event, current_span_id, current_trace_id, record, spawn, FutureExt};
/// Runs a function inside an OpenTelemetry span; the options, checks and expansion are described
/// below.
///
/// ```
/// use traced::traced;
///
/// #[derive(Debug)]
/// struct NotFound;
///
/// #[traced(name = "load-item", attributes(item.id = item_id, "query.present" = q.is_some()))]
/// fn load_item(item_id: u64, q: Option<&str>) -> Result<String, NotFound> {
///     if item_id == 0 {
///         return Err(NotFound); // status ERROR, `error.type` = the type name of `NotFound`
///     }
///     traced::record("demo.io_delay_seconds", 0.2);
///     Ok(format!("item {item_id} {}", q.unwrap_or("")))
/// }
///
/// #[traced(kind = client, attributes(peer = peer.to_owned()))]
/// async fn fetch(peer: &str) -> usize {
///     peer.len()
/// }
///
/// assert_eq!(load_item(1, Some("x")).unwrap(), "item 1 x");
/// assert!(load_item(0, None).is_err());
/// let _future = fetch("127.0.0.1");
/// ```
pub use traced_macros::traced;
pub use traced_macros::record_errors;
#[cfg(feature = "axum")]
pub use traced_macros::{traced_dependency, TracedDependency};
pub use telemetry::{init, processors, InitError, Telemetry, TelemetryGuard};

/// Routes `#[traced]` spans to `provider` and sets it as the global tracer provider.
///
/// `traced::init()` does this for you. Call it when you build the SDK provider yourself: spans then
/// skip the `opentelemetry::global` indirection (which boxes the tracer and every span).
pub fn install_tracer_provider(provider: &opentelemetry_sdk::trace::SdkTracerProvider) {
    opentelemetry::global::set_tracer_provider(provider.clone());
    backend::install_sdk(provider, None);
}

/// Like [`install_tracer_provider`], for a provider built with `.with_sampler(sampler.clone())`.
///
/// Knowing the sampler lets `#[traced]` skip the child of an unsampled parent with one sampler call
/// and no allocation (`traced::init()` does this for you).
pub fn install_tracer_provider_with_sampler(
    provider: &opentelemetry_sdk::trace::SdkTracerProvider,
    sampler: SharedSampler,
) {
    opentelemetry::global::set_tracer_provider(provider.clone());
    backend::install_sdk(provider, Some(sampler));
}
