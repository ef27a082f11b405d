//! OTLP/gRPC in: the collector's three `Export` services (gzip accepted), messages capped at
//! [`MAX_REQUEST_BYTES`] as sent and once inflated (tonic answers `OUT_OF_RANGE` or `RESOURCE_EXHAUSTED` past it),
//! then the decode budget checked on the message's bytes before prost decodes them: past
//! [`MAX_DECODED_BYTES`](super::MAX_DECODED_BYTES) `RESOURCE_EXHAUSTED` (without `RetryInfo`, so OTLP clients do
//! not retry it, where `OUT_OF_RANGE` would be retried), `INTERNAL` for bytes that are not the message (as tonic's
//! prost codec answers). At most [`MAX_REQUESTS_IN_FLIGHT`](super::MAX_REQUESTS_IN_FLIGHT) requests are read and
//! decoded at once, with the HTTP door's.
//!
//! tonic's generated servers hard-code prost's codec, so one generic service stands in for the three: the same
//! `tonic::server::Grpc` machinery with [`BudgetCodec`].

use std::convert::Infallible;
use std::future::Future;
use std::marker::PhantomData;
use std::sync::Arc;

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::bytes::Buf as _;
use tokio::sync::Semaphore;
use tonic::body::Body;
use tonic::codec::{Codec, CompressionEncoding, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::codegen::{http, BoxFuture, Service};
use tonic::server::{Grpc, NamedService, UnaryService};
use tonic::{Request, Response, Status};
use tower::limit::GlobalConcurrencyLimitLayer;

use super::decode_budget::Refusal;
use super::signal::{self, Encoding, Signal};
use super::store::Store;
use super::MAX_REQUEST_BYTES;

/// The `Export` service of signal `S`.
#[derive(Debug)]
struct ExportService<S> {
    store: Arc<Store>,
    signal: PhantomData<fn() -> S>,
}

impl<S> ExportService<S> {
    fn new(store: &Arc<Store>) -> Self {
        ExportService { store: Arc::clone(store), signal: PhantomData }
    }
}

impl<S> Clone for ExportService<S> {
    fn clone(&self) -> Self {
        ExportService::new(&self.store)
    }
}

impl<S: Signal> NamedService for ExportService<S> {
    const NAME: &'static str = S::GRPC_SERVICE;
}

impl<S: Signal> Service<http::Request<Body>> for ExportService<S> {
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<Self::Response, Infallible>;

    fn poll_ready(&mut self, _: &mut std::task::Context<'_>) -> std::task::Poll<Result<(), Infallible>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        if request.uri().path() != S::GRPC_PATH {
            return Box::pin(async { Ok(Status::unimplemented("no such method").into_http()) });
        }
        let export = Export::<S> { store: Arc::clone(&self.store), signal: PhantomData };
        Box::pin(async move {
            let mut grpc = Grpc::new(BudgetCodec::<S>(PhantomData))
                .accept_compressed(CompressionEncoding::Gzip)
                .max_decoding_message_size(MAX_REQUEST_BYTES);
            Ok(grpc.unary(export, request).await)
        })
    }
}

/// Stores one decoded request.
#[derive(Debug)]
struct Export<S> {
    store: Arc<Store>,
    signal: PhantomData<fn() -> S>,
}

impl<S: Signal> UnaryService<S> for Export<S> {
    type Response = S::Response;
    type Future = BoxFuture<Response<S::Response>, Status>;

    fn call(&mut self, request: Request<S>) -> Self::Future {
        let store = Arc::clone(&self.store);
        Box::pin(async move {
            // Converting and storing a batch is CPU work that waits for the store's lock: a blocking thread does it.
            let stored = tokio::task::spawn_blocking(move || request.into_inner().store(&store)).await;
            stored.map(Response::new).map_err(|failed| Status::internal(failed.to_string()))
        })
    }
}

/// prost's encoding, and a decoder that checks the decode budget on the message's bytes before prost decodes them.
#[derive(Debug)]
struct BudgetCodec<S>(PhantomData<fn() -> S>);

impl<S: Signal> Codec for BudgetCodec<S> {
    type Encode = S::Response;
    type Decode = S;
    type Encoder = ProstEncoder<S::Response>;
    type Decoder = BudgetDecoder<S>;

    fn encoder(&mut self) -> Self::Encoder {
        ProstEncoder(PhantomData)
    }

    fn decoder(&mut self) -> Self::Decoder {
        BudgetDecoder(PhantomData)
    }
}

#[derive(Debug)]
struct BudgetDecoder<S>(PhantomData<fn() -> S>);

impl<S: Signal> Decoder for BudgetDecoder<S> {
    type Item = S;
    type Error = Status;

    fn decode(&mut self, message: &mut DecodeBuf<'_>) -> Result<Option<S>, Status> {
        // tonic hands over one whole message; its buffer is contiguous, copied only if it ever is not.
        let copied;
        let bytes = if message.chunk().len() == message.remaining() {
            message.chunk()
        } else {
            copied = message.copy_to_bytes(message.remaining());
            &copied[..]
        };
        let decoded = signal::decode::<S>(bytes, Encoding::Protobuf).map_err(|refusal| match refusal {
            Refusal::TooLarge { .. } => Status::resource_exhausted(refusal.to_string()),
            Refusal::Malformed(reason) => Status::internal(reason),
        })?;
        let rest = message.remaining();
        message.advance(rest);
        Ok(Some(decoded))
    }
}

#[derive(Debug)]
struct ProstEncoder<T>(PhantomData<fn(T)>);

impl<T: prost::Message> Encoder for ProstEncoder<T> {
    type Item = T;
    type Error = Status;

    fn encode(&mut self, item: T, buffer: &mut EncodeBuf<'_>) -> Result<(), Status> {
        item.encode(buffer).map_err(|error| Status::internal(error.to_string()))
    }
}

pub async fn serve(
    listener: tokio::net::TcpListener,
    store: Arc<Store>,
    intake: Arc<Semaphore>,
    stopped: impl Future<Output = ()>,
) -> Result<(), tonic::transport::Error> {
    tonic::transport::Server::builder()
        // A permit from reading the message to storing it, shared with the HTTP door.
        .layer(GlobalConcurrencyLimitLayer::with_semaphore(intake))
        .add_service(ExportService::<ExportTraceServiceRequest>::new(&store))
        .add_service(ExportService::<ExportMetricsServiceRequest>::new(&store))
        .add_service(ExportService::<ExportLogsServiceRequest>::new(&store))
        .serve_with_incoming_shutdown(tokio_stream::wrappers::TcpListenerStream::new(listener), stopped)
        .await
}
