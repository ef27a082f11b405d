//! The OTLP/gRPC side: tonic servers for the three collector services.

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
use prost::Message;
use tonic::codec::CompressionEncoding;
use tonic::service::interceptor::InterceptedService;
use tonic::{Request, Response, Status};

use super::faults::{Answer, Faults};
use super::received::{ReceivedRequest, Signal, Transport};
use super::store::{Export, Store};
use super::ReceiverOptions;

#[derive(Debug, Clone)]
struct Sink {
    store: Arc<Store>,
    options: ReceiverOptions,
    faults: Arc<Faults>,
}

/// Way above any test's request: the fault options decide what is too large.
const DECODING_LIMIT: usize = 256 * 1024 * 1024;

impl Sink {
    /// Records the request unless a fault refuses it; returns the items to report rejected.
    async fn accept<T: Message>(
        &self,
        request: Request<T>,
        signal: Signal,
        path: &str,
        wrap: fn(T) -> Export,
    ) -> Result<i64, Status> {
        if let Some(delay) = self.options.response_delay {
            tokio::time::sleep(delay).await;
        }
        let bytes = request.get_ref().encoded_len();
        let headers = request.metadata().clone().into_headers();
        let export = wrap(request.into_inner());
        let rejected = match self.faults.judge(bytes, export.items()) {
            Answer::Accept { rejected } => rejected,
            Answer::Unavailable => {
                self.store.refuse(signal, export.items());
                return Err(match self.faults.retry_after() {
                    Some(delay) => {
                        use tonic_types::{ErrorDetails, StatusExt as _};
                        let details = ErrorDetails::with_retry_info(Some(delay));
                        Status::with_error_details(tonic::Code::ResourceExhausted, "test receiver throttles", details)
                    }
                    None => Status::unavailable("test receiver is unavailable"),
                });
            }
            Answer::TooLarge => {
                self.store.refuse(signal, export.items());
                return Err(Status::resource_exhausted(format!("grpc: received message larger than max ({bytes})")));
            }
            Answer::Refuse(code) => {
                self.store.refuse(signal, export.items());
                let message = self.faults.refusal_message(&headers);
                return Err(Status::new(tonic::Code::from(i32::from(code)), message));
            }
        };
        let received = ReceivedRequest {
            transport: Transport::Grpc,
            signal,
            path: path.to_owned(),
            headers,
            content_type: None,
            items: export.items(),
        };
        self.store.record_partial(received, export, rejected);
        Ok(rejected)
    }
}

fn message(rejected: i64) -> String {
    if rejected > 0 {
        format!("test receiver rejects {rejected}")
    } else {
        String::new()
    }
}

#[tonic::async_trait]
impl TraceService for Sink {
    async fn export(
        &self,
        request: Request<ExportTraceServiceRequest>,
    ) -> Result<Response<ExportTraceServiceResponse>, Status> {
        let rejected = self
            .accept(
                request,
                Signal::Traces,
                "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
                Export::Traces,
            )
            .await?;
        let partial_success = (rejected > 0)
            .then(|| ExportTracePartialSuccess { rejected_spans: rejected, error_message: message(rejected) });
        Ok(Response::new(ExportTraceServiceResponse { partial_success }))
    }
}

#[tonic::async_trait]
impl MetricsService for Sink {
    async fn export(
        &self,
        request: Request<ExportMetricsServiceRequest>,
    ) -> Result<Response<ExportMetricsServiceResponse>, Status> {
        let rejected = self
            .accept(
                request,
                Signal::Metrics,
                "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export",
                Export::Metrics,
            )
            .await?;
        let partial_success = (rejected > 0)
            .then(|| ExportMetricsPartialSuccess { rejected_data_points: rejected, error_message: message(rejected) });
        Ok(Response::new(ExportMetricsServiceResponse { partial_success }))
    }
}

#[tonic::async_trait]
impl LogsService for Sink {
    async fn export(
        &self,
        request: Request<ExportLogsServiceRequest>,
    ) -> Result<Response<ExportLogsServiceResponse>, Status> {
        let rejected = self
            .accept(request, Signal::Logs, "/opentelemetry.proto.collector.logs.v1.LogsService/Export", Export::Logs)
            .await?;
        let partial_success = (rejected > 0)
            .then(|| ExportLogsPartialSuccess { rejected_log_records: rejected, error_message: message(rejected) });
        Ok(Response::new(ExportLogsServiceResponse { partial_success }))
    }
}

/// Answers a compressed request compressed the same way, whatever the client said it accepts: what
/// grpc-go servers (the OpenTelemetry Collector) do. (tonic compresses an answer only for a client that
/// accepts it: the request is made to say so.)
fn answer_as_requested(mut request: Request<()>) -> Result<Request<()>, Status> {
    if let Some(encoding) = request.metadata().get("grpc-encoding").cloned() {
        request.metadata_mut().insert("grpc-accept-encoding", encoding);
    }
    Ok(request)
}

pub(super) async fn serve(
    listener: tokio::net::TcpListener,
    store: Arc<Store>,
    options: ReceiverOptions,
    stopped: impl Future<Output = ()>,
) {
    let tls = options.tls.clone();
    let faults = Arc::new(Faults::new(options.faults.clone()));
    let sink = Sink { store, options, faults };
    let mut server = tonic::transport::Server::builder();
    if let Some(certificates) = tls {
        let identity = tonic::transport::Identity::from_pem(certificates.server_cert_pem, certificates.server_key_pem);
        server = server.tls_config(tonic::transport::ServerTlsConfig::new().identity(identity)).expect("server TLS");
    }
    let result = server
        .add_service(InterceptedService::new(
            TraceServiceServer::new(sink.clone())
                .accept_compressed(CompressionEncoding::Gzip)
                .send_compressed(CompressionEncoding::Gzip)
                .max_decoding_message_size(DECODING_LIMIT),
            answer_as_requested,
        ))
        .add_service(InterceptedService::new(
            MetricsServiceServer::new(sink.clone())
                .accept_compressed(CompressionEncoding::Gzip)
                .send_compressed(CompressionEncoding::Gzip)
                .max_decoding_message_size(DECODING_LIMIT),
            answer_as_requested,
        ))
        .add_service(InterceptedService::new(
            LogsServiceServer::new(sink)
                .accept_compressed(CompressionEncoding::Gzip)
                .send_compressed(CompressionEncoding::Gzip)
                .max_decoding_message_size(DECODING_LIMIT),
            answer_as_requested,
        ))
        .serve_with_incoming_shutdown(tokio_stream::wrappers::TcpListenerStream::new(listener), stopped)
        .await;
    if let Err(error) = result {
        eprintln!("OTLP/gRPC test receiver stopped: {error}");
    }
}
