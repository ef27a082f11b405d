//! The current span, from inside traced code: record attributes, read the trace id, carry the
//! context into spawned tasks.

use std::future::Future;

use opentelemetry::trace::TraceContextExt;
use opentelemetry::{Context, Key, KeyValue};

use crate::span::attribute::AttributeValue;

/// Sets an attribute on the current span (the innermost `#[traced]` function, the server span, ...).
///
/// Does nothing when there is no recording span or when `value` converts to nothing (`None`).
///
/// ```
/// #[traced::traced(name = "load-item")]
/// fn load_item(delay: f64) {
///     traced::record("demo.io_delay_seconds", delay);
/// }
/// load_item(0.2);
/// ```
#[inline]
pub fn record<K: Into<Key>, V: AttributeValue>(key: K, value: V) {
    Context::map_current(|cx| {
        let span = cx.span();
        if span.is_recording() {
            if let Some(value) = value.to_otel_value() {
                span.set_attribute(KeyValue::new(key, value));
            }
        }
    });
}

/// Adds an event with attributes to the current span.
pub fn add_event(name: &'static str, attributes: Vec<KeyValue>) {
    Context::map_current(|cx| cx.span().add_event(name, attributes));
}

/// The current trace id as 32 lowercase hex digits; all zeros when no span is current.
pub fn current_trace_id() -> String {
    Context::map_current(|cx| cx.span().span_context().trace_id().to_string())
}

/// The current span id as 16 lowercase hex digits; all zeros when no span is current.
pub fn current_span_id() -> String {
    Context::map_current(|cx| cx.span().span_context().span_id().to_string())
}

/// Keeps the current context (and so the current span) for a future that runs elsewhere.
pub trait FutureExt: Future + Sized {
    /// Polls this future with the context that is current now, e.g. before `tokio::spawn`:
    ///
    /// ```
    /// use traced::FutureExt as _;
    ///
    /// #[traced::traced]
    /// async fn work() {}
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// tokio::spawn(work().in_current_span()).await.expect("the task ran");
    /// # }
    /// ```
    fn in_current_span(self) -> opentelemetry::context::WithContext<Self> {
        opentelemetry::context::FutureExt::with_context(self, Context::current())
    }
}

impl<F: Future> FutureExt for F {}

/// `tokio::spawn` that keeps the current span as the parent of everything the task does.
pub fn spawn<F>(future: F) -> tokio::task::JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    tokio::spawn(FutureExt::in_current_span(future))
}
