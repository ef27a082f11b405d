//! The response body: the inner service's body, or the error response after a panic. It holds the
//! request's scope and ends the span when the last frame is sent (or the body is dropped, when the
//! client goes away), so the span covers streaming responses too. A body that panics is recorded as a
//! handler's panic is (`exception` event, `error.type` `panic`), then the panic goes on.

use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::Bytes;
use http_body::{Body, Frame, SizeHint};

use super::panic;
use super::request_scope::RequestScope;

pin_project_lite::pin_project! {
    /// The body of a response that went through [`TracedLayer`](super::TracedLayer).
    #[derive(Debug)]
    pub struct ResponseBody<B> {
        #[pin]
        kind: Kind<B>,
        scope: Option<RequestScope>,
    }
}

pin_project_lite::pin_project! {
    #[project = KindProj]
    #[derive(Debug)]
    enum Kind<B> {
        Inner { #[pin] body: B },
        Full { bytes: Option<Bytes> },
    }
}

impl<B> ResponseBody<B> {
    pub(crate) fn inner(body: B, scope: Option<RequestScope>) -> Self {
        Self { kind: Kind::Inner { body }, scope }
    }

    pub(crate) fn full(bytes: Bytes, scope: Option<RequestScope>) -> Self {
        Self { kind: Kind::Full { bytes: Some(bytes).filter(|bytes| !bytes.is_empty()) }, scope }
    }
}

impl<B> Body for ResponseBody<B>
where
    B: Body<Data = Bytes>,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        let this = self.project();
        let frame = match this.kind.project() {
            KindProj::Inner { body } => match catch_unwind(AssertUnwindSafe(|| body.poll_frame(cx))) {
                Ok(poll) => std::task::ready!(poll),
                // The head is sent: too late for the error response, but the span and the metrics say
                // what happened before the panic goes on to the server, which drops the connection.
                Err(payload) => {
                    if let Some(mut scope) = this.scope.take() {
                        panic::record(&mut scope, &*payload);
                    }
                    resume_unwind(payload)
                }
            },
            KindProj::Full { bytes } => bytes.take().map(|bytes| Ok(Frame::data(bytes))),
        };
        match &frame {
            None => drop(this.scope.take()),
            Some(Err(_)) => {
                if let Some(mut scope) = this.scope.take() {
                    scope.fail_with_error_type(std::any::type_name::<B::Error>());
                }
            }
            Some(Ok(_)) => {}
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        match &self.kind {
            Kind::Inner { body } => body.is_end_stream(),
            Kind::Full { bytes } => bytes.is_none(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.kind {
            Kind::Inner { body } => body.size_hint(),
            Kind::Full { bytes } => SizeHint::with_exact(bytes.as_ref().map_or(0, |bytes| bytes.len() as u64)),
        }
    }
}
