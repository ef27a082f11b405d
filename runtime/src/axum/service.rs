//! [`TracedService`]: starts the request's span and calls the inner service with it current.
//! Per-request path, guarded by the `http_overhead` benchmark: no lock, no formatting beyond the
//! span name.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::task::{Context, Poll};

use http::{Request, Response};
use tower::Service;

use super::future::ResponseFuture;
use super::layer::Config;
use super::request_scope::RequestScope;

/// The service [`TracedLayer`](super::TracedLayer) wraps around yours.
#[derive(Debug, Clone)]
pub struct TracedService<S> {
    inner: S,
    config: Arc<Config>,
}

impl<S> TracedService<S> {
    pub(crate) fn new(inner: S, config: Arc<Config>) -> Self {
        Self { inner, config }
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for TracedService<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
{
    type Response = Response<super::ResponseBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        let scope = RequestScope::start(&self.config, &request);
        let called = {
            let _current = scope.as_ref().map(RequestScope::enter);
            catch_unwind(AssertUnwindSafe(|| self.inner.call(request)))
        };
        match called {
            Ok(future) => ResponseFuture::running(future, scope, &self.config),
            Err(payload) => ResponseFuture::panicked(payload, scope, &self.config),
        }
    }
}
