//! OTLP/gRPC in: the collector's three `Export` services (gzip accepted), messages capped at
//! [`MAX_REQUEST_BYTES`] (tonic's decoder answers `OUT_OF_RANGE` past it, `INTERNAL` for bytes that are not the
//! message). At most [`MAX_REQUESTS_IN_FLIGHT`](super::MAX_REQUESTS_IN_FLIGHT) requests are read and decoded at once,
//! with the HTTP door's.

use std::future::Future;
use std::sync::Arc;

use opentelemetry_proto::tonic::collector::logs::v1::logs_service_server::{LogsService, LogsServiceServer};
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsPartialSuccess, ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_server::{
    MetricsService, MetricsServiceServer,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsPartialSuccess, ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{TraceService, TraceServiceServer};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use tokio::sync::Semaphore;
use tonic::codec::CompressionEncoding;
use tonic::{Request, Response, Status};
use tower::limit::GlobalConcurrencyLimitLayer;

use super::ingest;
use super::store::Store;
use super::MAX_REQUEST_BYTES;

#[derive(Debug, Clone)]
struct Sink(Arc<Store>);

/// The partial-success message for items refused as malformed.
pub fn rejection(rejected: i64) -> String {
    if rejected > 0 {
        format!("{rejected} items with invalid trace or span ids were dropped")
    } else {
        String::new()
    }
}

/// Converting and storing a batch is CPU work that waits for the store's lock: a blocking thread does it.
async fn off_the_runtime(work: impl FnOnce() -> i64 + Send + 'static) -> Result<i64, Status> {
    tokio::task::spawn_blocking(work).await.map_err(|failed| Status::internal(failed.to_string()))
}

#[tonic::async_trait]
impl TraceService for Sink {
    async fn export(
        &self,
        request: Request<ExportTraceServiceRequest>,
    ) -> Result<Response<ExportTraceServiceResponse>, Status> {
        let store = Arc::clone(&self.0);
        let rejected = off_the_runtime(move || {
            let batch = ingest::spans(request.into_inner());
            let rejected = batch.rejected;
            store.add_spans(batch);
            rejected
        })
        .await?;
        let partial_success = (rejected > 0)
            .then(|| ExportTracePartialSuccess { rejected_spans: rejected, error_message: rejection(rejected) });
        Ok(Response::new(ExportTraceServiceResponse { partial_success }))
    }
}

#[tonic::async_trait]
impl MetricsService for Sink {
    async fn export(
        &self,
        request: Request<ExportMetricsServiceRequest>,
    ) -> Result<Response<ExportMetricsServiceResponse>, Status> {
        let store = Arc::clone(&self.0);
        let rejected = off_the_runtime(move || {
            let batch = ingest::metrics(request.into_inner());
            let rejected = batch.rejected;
            store.add_metrics(batch);
            rejected
        })
        .await?;
        let partial_success = (rejected > 0).then(|| ExportMetricsPartialSuccess {
            rejected_data_points: rejected,
            error_message: rejection(rejected),
        });
        Ok(Response::new(ExportMetricsServiceResponse { partial_success }))
    }
}

#[tonic::async_trait]
impl LogsService for Sink {
    async fn export(
        &self,
        request: Request<ExportLogsServiceRequest>,
    ) -> Result<Response<ExportLogsServiceResponse>, Status> {
        let store = Arc::clone(&self.0);
        let rejected = off_the_runtime(move || {
            let batch = ingest::logs(request.into_inner());
            let rejected = batch.rejected;
            store.add_logs(batch);
            rejected
        })
        .await?;
        let partial_success = (rejected > 0)
            .then(|| ExportLogsPartialSuccess { rejected_log_records: rejected, error_message: rejection(rejected) });
        Ok(Response::new(ExportLogsServiceResponse { partial_success }))
    }
}

pub async fn serve(
    listener: tokio::net::TcpListener,
    store: Arc<Store>,
    intake: Arc<Semaphore>,
    stopped: impl Future<Output = ()>,
) -> Result<(), tonic::transport::Error> {
    let sink = Sink(store);
    tonic::transport::Server::builder()
        // A permit from reading the message to storing it, shared with the HTTP door.
        .layer(GlobalConcurrencyLimitLayer::with_semaphore(intake))
        .add_service(
            TraceServiceServer::new(sink.clone())
                .accept_compressed(CompressionEncoding::Gzip)
                .max_decoding_message_size(MAX_REQUEST_BYTES),
        )
        .add_service(
            MetricsServiceServer::new(sink.clone())
                .accept_compressed(CompressionEncoding::Gzip)
                .max_decoding_message_size(MAX_REQUEST_BYTES),
        )
        .add_service(
            LogsServiceServer::new(sink)
                .accept_compressed(CompressionEncoding::Gzip)
                .max_decoding_message_size(MAX_REQUEST_BYTES),
        )
        .serve_with_incoming_shutdown(tokio_stream::wrappers::TcpListenerStream::new(listener), stopped)
        .await
}
