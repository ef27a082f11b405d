//! Dependencies: extractors whose span lives as long as the handler holds their value (FastAPI's
//! `Depends` with `yield`). Made by `#[traced_dependency]` on an `async fn`, or by
//! `#[derive(TracedDependency)]` on a struct of extractors; used in handlers as [`Depends<D>`].
//!
//! Extraction starts the span, resolves the dependency's own extractors inside it (so a dependency
//! used by another one becomes its child), then keeps the span open in the extracted value: it ends
//! when the handler drops the value, after the value itself was dropped (a connection goes back to
//! its pool inside the span). An `Err` is recorded on the span and rejects the request.

mod resolve;

use std::fmt;
use std::future::Future;
use std::ops::{Deref, DerefMut};

use axum::extract::FromRequestParts;
use axum::response::Response;
use http::request::Parts;

use crate::span::{start_span, Instrumented, Site, SpanHandle};

pub use crate::errors::ReturnsResult;
pub use resolve::{extract, extract_in_span, settle, Extractor, ExtractorCheck, IsDependency, IsExtractor};

/// A dependency: what it produces and the span it runs in. Implemented by the macros.
pub trait Dependency: Sized + 'static {
    /// What the handler receives.
    type Value: Send;

    /// The span's call site (its name).
    #[doc(hidden)]
    fn site() -> &'static Site;
}

/// A dependency that can be resolved with the app state `S`. Implemented by the macros.
pub trait ResolveDependency<S>: Dependency {
    /// Extracts the dependency's inputs from the request head and produces its value, or the response
    /// rejecting the request. Runs with the dependency's span current.
    #[doc(hidden)]
    fn resolve(parts: &mut Parts, state: &S) -> impl Future<Output = Result<Self::Value, Response>> + Send;
}

/// The extractor of the dependency `D`: its value, plus its span, open until this is dropped.
///
/// Derefs to the value. `#[traced_dependency]` names it for you (`type Db = Depends<..>`); a derived
/// dependency is used as `Depends<YourStruct>`.
#[must_use = "the dependency's span ends when this is dropped"]
pub struct Depends<D: Dependency> {
    // Declared before the span: dropped first, so the span covers the value's clean-up.
    value: D::Value,
    span: SpanHandle,
}

impl<D: Dependency> Depends<D> {
    /// The value; the span ends now.
    pub fn into_inner(self) -> D::Value {
        self.value
    }

    /// Runs `future` with the dependency's span current, so spans it starts become the dependency's
    /// children (by default the handler's spans are children of the request's span).
    pub fn in_span<F: Future>(&self, future: F) -> Instrumented<'_, F> {
        self.span.instrument(future)
    }
}

impl<D: Dependency> Deref for Depends<D> {
    type Target = D::Value;

    fn deref(&self) -> &D::Value {
        &self.value
    }
}

impl<D: Dependency> DerefMut for Depends<D> {
    fn deref_mut(&mut self) -> &mut D::Value {
        &mut self.value
    }
}

impl<D: Dependency> fmt::Debug for Depends<D>
where
    D::Value: fmt::Debug,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Depends").field("value", &self.value).field("span", &self.span).finish()
    }
}

impl<S, D> FromRequestParts<S> for Depends<D>
where
    S: Send + Sync,
    D: ResolveDependency<S>,
{
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Response> {
        // Entered again later, by the handler (`in_span`): a dropped root's context is built now.
        let span = start_span(D::site(), |_| {}).with_context_now();
        let value = span.instrument(D::resolve(parts, state)).await?;
        Ok(Self { value, span })
    }
}

#[cfg(all(test, feature = "testing"))]
mod tests {
    use std::sync::{Arc, Mutex, PoisonError};
    use std::time::SystemTime;

    use axum::response::IntoResponse;
    use http::StatusCode;
    use opentelemetry::trace::SpanKind;

    use super::*;
    use crate::testing::capture;

    type DroppedAt = Arc<Mutex<Option<SystemTime>>>;

    /// Notes when it is dropped (a connection going back to its pool), and the trace it was made in.
    struct Conn(DroppedAt, String);

    impl Drop for Conn {
        fn drop(&mut self) {
            *self.0.lock().unwrap_or_else(PoisonError::into_inner) = Some(SystemTime::now());
        }
    }

    struct Db;

    static DB: Site = Site::new("db", SpanKind::Internal);

    impl Dependency for Db {
        type Value = Conn;

        fn site() -> &'static Site {
            &DB
        }
    }

    /// The state: whether a connection can be had, and where it notes its drop.
    impl ResolveDependency<(bool, DroppedAt)> for Db {
        async fn resolve(_parts: &mut Parts, (available, dropped_at): &(bool, DroppedAt)) -> Result<Conn, Response> {
            match available {
                true => Ok(Conn(dropped_at.clone(), crate::current_trace_id())),
                false => Err(StatusCode::SERVICE_UNAVAILABLE.into_response()),
            }
        }
    }

    fn parts() -> Parts {
        http::Request::new(()).into_parts().0
    }

    #[tokio::test]
    async fn the_span_stays_open_while_the_value_is_held_and_ends_after_it_is_dropped() {
        let capture = capture();
        let dropped_at = DroppedAt::default();
        let state = (true, dropped_at.clone());
        let conn = Depends::<Db>::from_request_parts(&mut parts(), &state).await;
        let conn = conn.unwrap_or_else(|response| panic!("rejected with {}", response.status()));
        assert!(capture.spans().is_empty(), "open while the value is held");
        drop(conn);
        let dropped_at = dropped_at.lock().unwrap_or_else(PoisonError::into_inner).expect("the value was dropped");
        assert!(capture.span("db").end_time >= dropped_at);
    }

    #[tokio::test]
    async fn a_dropped_root_dependency_is_the_same_context_in_the_handler() {
        use opentelemetry::trace::TraceContextExt as _;
        use opentelemetry::Context;

        let _capture = crate::testing::capture_with_sampler(opentelemetry_sdk::trace::Sampler::AlwaysOff);
        let state = (true, DroppedAt::default());
        let resolved = Depends::<Db>::from_request_parts(&mut parts(), &state).await;
        let resolved = resolved.unwrap_or_else(|response| panic!("rejected with {}", response.status()));
        assert_ne!(resolved.1, "0".repeat(32), "resolved inside the unsampled root");
        // The handler runs under a context of its own; `in_span` still enters the one the span started in.
        let (trace_id, value) = {
            let _handler = Context::new().with_value(5u8).attach();
            resolved.in_span(async { (crate::current_trace_id(), Context::current().get::<u8>().copied()) }).await
        };
        assert_eq!(trace_id, resolved.1);
        assert_eq!(value, None, "over the context the span started in");
        assert!(!Context::current().has_active_span());
    }

    #[tokio::test]
    async fn a_rejection_ends_the_span_and_is_the_response() {
        let capture = capture();
        let state = (false, DroppedAt::default());
        let rejection = Depends::<Db>::from_request_parts(&mut parts(), &state).await.err();
        assert_eq!(rejection.map(|response| response.status()), Some(StatusCode::SERVICE_UNAVAILABLE));
        assert_eq!(capture.span("db").name, "db");
    }
}
