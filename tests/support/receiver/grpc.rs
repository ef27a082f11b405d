//! The OTLP/gRPC side: tonic servers for the three collector services.

use std::future::Future;
use std::sync::Arc;

use opentelemetry_proto::tonic::collector::logs::v1::logs_service_server::{LogsService, LogsServiceServer};
use opentelemetry_proto::tonic::collector::logs::v1::{ExportLogsServiceRequest, ExportLogsServiceResponse};
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_server::{
    MetricsService, MetricsServiceServer,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{ExportMetricsServiceRequest, ExportMetricsServiceResponse};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{TraceService, TraceServiceServer};
use opentelemetry_proto::tonic::collector::trace::v1::{ExportTraceServiceRequest, ExportTraceServiceResponse};
use tonic::codec::CompressionEncoding;
use tonic::{Request, Response, Status};

use super::received::{ReceivedRequest, Signal, Transport};
use super::store::{Export, Store};
use super::ReceiverOptions;

#[derive(Debug, Clone)]
struct Sink {
    store: Arc<Store>,
    options: ReceiverOptions,
}

impl Sink {
    async fn accept<T>(&self, request: Request<T>, signal: Signal, path: &str, wrap: fn(T) -> Export) {
        if let Some(delay) = self.options.response_delay {
            tokio::time::sleep(delay).await;
        }
        let headers = request.metadata().clone().into_headers();
        let export = wrap(request.into_inner());
        let received = ReceivedRequest {
            transport: Transport::Grpc,
            signal,
            path: path.to_owned(),
            headers,
            content_type: None,
            items: export.items(),
        };
        self.store.record(received, export);
    }
}

#[tonic::async_trait]
impl TraceService for Sink {
    async fn export(
        &self,
        request: Request<ExportTraceServiceRequest>,
    ) -> Result<Response<ExportTraceServiceResponse>, Status> {
        self.accept(
            request,
            Signal::Traces,
            "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
            Export::Traces,
        )
        .await;
        Ok(Response::new(ExportTraceServiceResponse { partial_success: None }))
    }
}

#[tonic::async_trait]
impl MetricsService for Sink {
    async fn export(
        &self,
        request: Request<ExportMetricsServiceRequest>,
    ) -> Result<Response<ExportMetricsServiceResponse>, Status> {
        self.accept(
            request,
            Signal::Metrics,
            "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export",
            Export::Metrics,
        )
        .await;
        Ok(Response::new(ExportMetricsServiceResponse { partial_success: None }))
    }
}

#[tonic::async_trait]
impl LogsService for Sink {
    async fn export(
        &self,
        request: Request<ExportLogsServiceRequest>,
    ) -> Result<Response<ExportLogsServiceResponse>, Status> {
        self.accept(request, Signal::Logs, "/opentelemetry.proto.collector.logs.v1.LogsService/Export", Export::Logs)
            .await;
        Ok(Response::new(ExportLogsServiceResponse { partial_success: None }))
    }
}

pub(super) async fn serve(
    listener: tokio::net::TcpListener,
    store: Arc<Store>,
    options: ReceiverOptions,
    stopped: impl Future<Output = ()>,
) {
    let tls = options.tls.clone();
    let sink = Sink { store, options };
    let mut server = tonic::transport::Server::builder();
    if let Some(certificates) = tls {
        let identity = tonic::transport::Identity::from_pem(certificates.server_cert_pem, certificates.server_key_pem);
        server = server.tls_config(tonic::transport::ServerTlsConfig::new().identity(identity)).expect("server TLS");
    }
    let result = server
        .add_service(TraceServiceServer::new(sink.clone()).accept_compressed(CompressionEncoding::Gzip))
        .add_service(MetricsServiceServer::new(sink.clone()).accept_compressed(CompressionEncoding::Gzip))
        .add_service(LogsServiceServer::new(sink).accept_compressed(CompressionEncoding::Gzip))
        .serve_with_incoming_shutdown(tokio_stream::wrappers::TcpListenerStream::new(listener), stopped)
        .await;
    if let Err(error) = result {
        eprintln!("OTLP/gRPC test receiver stopped: {error}");
    }
}
