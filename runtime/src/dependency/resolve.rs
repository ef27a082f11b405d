//! The pieces the code generated for a dependency calls: extract its parameters, settle its return
//! value, and check at compile time that every parameter is an extractor.

use std::marker::PhantomData;

use axum::extract::FromRequestParts;
use axum::response::{IntoResponse, Response};
use http::request::Parts;

use super::{Dependency, Depends};
use crate::errors::{Exception, Failure, ReturnsResult};
use crate::span::{start_span, Site};

/// Extracts one parameter; its rejection becomes the response.
pub async fn extract<T, S>(parts: &mut Parts, state: &S) -> Result<T, Response>
where
    T: FromRequestParts<S>,
    S: Send + Sync,
{
    T::from_request_parts(parts, state).await.map_err(IntoResponse::into_response)
}

/// Extracts one field of a derived dependency inside a child span of its own.
pub async fn extract_in_span<T, S>(site: &'static Site, parts: &mut Parts, state: &S) -> Result<T, Response>
where
    T: FromRequestParts<S>,
    S: Send + Sync,
{
    let span = start_span(site, |_| {});
    span.instrument(extract(parts, state)).await
}

/// The dependency's value, or its error's response. The error is recorded on the dependency's span
/// unless that response is a 4xx (the client's mistake, as for `#[record_errors]`).
#[allow(clippy::result_large_err)] // `Response` is axum's rejection type
pub fn settle<R>(ret: R, describe: impl for<'a> FnOnce(&'a R::Error) -> Failure<'a>) -> Result<R::Value, Response>
where
    R: ReturnsResult,
    R::Error: IntoResponse,
{
    ret.into_result().map_err(|error| {
        let exception = Exception::of(&describe(&error));
        let response = error.into_response();
        if !response.status().is_client_error() {
            exception.record();
        }
        response
    })
}

/// A type that can be a dependency's parameter.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an axum extractor, so it cannot be a `#[traced_dependency]` parameter",
    label = "not `FromRequestParts<{S}>`",
    note = "a dependency's parameters come from the request head: `State`, `Path`, `Query`, headers, other dependencies; body extractors like `Json` belong in the handler",
    note = "if it is an extractor for your app's state only, name the state: `#[traced_dependency(state = AppState)]`"
)]
pub trait Extractor<S> {}

impl<S, T: FromRequestParts<S>> Extractor<S> for T {}

/// Checks, where the macro wrote a parameter's type, that it is an extractor for the state `S` the
/// macro inferred (or a dependency, whatever its state); a compile error there names the parameter.
///
/// Called as `(&&&ExtractorCheck::<T, S>::new()).__traced_check()`: the first step that applies wins,
/// and the last one (the inherent method) fails to compile with [`Extractor`]'s message.
#[derive(Debug)]
pub struct ExtractorCheck<T, S>(PhantomData<fn() -> (T, S)>);

impl<T, S> ExtractorCheck<T, S> {
    #[allow(clippy::new_without_default)]
    pub const fn new() -> Self {
        Self(PhantomData)
    }

    /// The last step: `T` is not an extractor.
    pub fn __traced_check(&self)
    where
        T: Extractor<S>,
    {
    }
}

/// Step 1: an extractor for `S`.
pub trait IsExtractor {
    fn __traced_check(&self) {}
}

impl<T: FromRequestParts<S>, S> IsExtractor for &&ExtractorCheck<T, S> {}

/// Step 2: another dependency (checked where it is declared).
pub trait IsDependency {
    fn __traced_check(&self) {}
}

impl<D: Dependency, S> IsDependency for &ExtractorCheck<Depends<D>, S> {}
