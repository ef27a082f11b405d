//! The response future: polls the inner service with the request's span current, catches a panic,
//! and hands the scope to the response body, which ends the span when the body is done.
//! Per-request path, guarded by the `http_overhead` benchmark.

use std::any::Any;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::Response;

use super::body::ResponseBody;
use super::layer::Config;
use super::panic;
use super::request_scope::RequestScope;
use crate::http::error::ErrorResponse;

pin_project_lite::pin_project! {
    /// The future [`TracedService`](super::TracedService) returns.
    #[derive(Debug)]
    pub struct ResponseFuture<F> {
        #[pin]
        state: State<F>,
        scope: Option<RequestScope>,
        // Only for a request without a scope (excluded, or telemetry disabled): a scope holds the
        // configuration already, and one shared count less per request is cheaper.
        config: Option<Arc<Config>>,
    }
}

pin_project_lite::pin_project! {
    #[project = StateProj]
    #[derive(Debug)]
    enum State<F> {
        Running { #[pin] future: F },
        Panicked { payload: Option<Box<dyn Any + Send>> },
    }
}

impl<F> ResponseFuture<F> {
    /// Waits for `future`, the inner service's response.
    pub(crate) fn running(future: F, scope: Option<RequestScope>, config: &Arc<Config>) -> Self {
        let config = unscoped_config(&scope, config);
        Self { state: State::Running { future }, scope, config }
    }

    /// Answers for an inner service that panicked before returning a future.
    pub(crate) fn panicked(payload: Box<dyn Any + Send>, scope: Option<RequestScope>, config: &Arc<Config>) -> Self {
        let config = unscoped_config(&scope, config);
        Self { state: State::Panicked { payload: Some(payload) }, scope, config }
    }
}

fn unscoped_config(scope: &Option<RequestScope>, config: &Arc<Config>) -> Option<Arc<Config>> {
    scope.is_none().then(|| config.clone())
}

impl<F, B, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<ResponseBody<B>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        let _current = this.scope.as_ref().map(RequestScope::enter);
        let payload = match this.state.as_mut().project() {
            StateProj::Running { future } => match catch_unwind(AssertUnwindSafe(|| future.poll(cx))) {
                Ok(Poll::Pending) => return Poll::Pending,
                Ok(Poll::Ready(Ok(mut response))) => {
                    if let Some(scope) = this.scope.as_mut() {
                        scope.record_response(&mut response);
                    }
                    return Poll::Ready(Ok(response.map(|body| ResponseBody::inner(body, this.scope.take()))));
                }
                Ok(Poll::Ready(Err(error))) => {
                    if let Some(scope) = this.scope.as_mut() {
                        scope.fail_with_error_type(std::any::type_name::<E>());
                    }
                    return Poll::Ready(Err(error));
                }
                Err(payload) => payload,
            },
            StateProj::Panicked { payload } => payload.take().unwrap_or_else(|| Box::new("polled after completion")),
        };
        // The panicked future must not be polled (or kept) any longer.
        this.state.set(State::Panicked { payload: None });
        // The scope's configuration, else the future's own: one of them is always there.
        let config = this.scope.as_ref().map(RequestScope::config).or(this.config.as_ref()).cloned();
        let fallback;
        let panic_response = match &config {
            Some(config) => &config.panic_response,
            None => {
                fallback = ErrorResponse::new();
                &fallback
            }
        };
        let mut response = panic::respond(this.scope.as_mut(), panic_response, &*payload);
        if let Some(scope) = this.scope.as_mut() {
            scope.record_response(&mut response);
        }
        Poll::Ready(Ok(response.map(|bytes| ResponseBody::full(bytes, this.scope.take()))))
    }
}
