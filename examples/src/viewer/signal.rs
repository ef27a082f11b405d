//! The three OTLP export requests (traces, metrics, logs) seen alike by both doors: their schema for the decode
//! budget, their gRPC service, and how one is stored and answered.

use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsPartialSuccess, ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsPartialSuccess, ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceRequest, ExportTraceServiceResponse,
};

use super::decode_budget::{self, Message, Refusal};
use super::ingest;
use super::store::Store;
use super::MAX_DECODED_BYTES;

/// How a request's body is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Protobuf,
    Json,
}

/// An OTLP export request.
pub trait Signal: prost::Message + Default + serde::de::DeserializeOwned + Send + 'static {
    type Response: prost::Message + serde::Serialize + Send + 'static;
    /// Its shape, for the decode budget.
    const SCHEMA: &'static Message;
    /// The gRPC service serving it, and its one method's path.
    const GRPC_SERVICE: &'static str;
    const GRPC_PATH: &'static str;

    /// Converts and stores the request (CPU work that waits for the store's lock); the answer says how many
    /// items were refused.
    fn store(self, store: &Store) -> Self::Response;
}

/// The request in `bytes`, decoded only when its decoded form fits [`MAX_DECODED_BYTES`].
pub fn decode<S: Signal>(bytes: &[u8], encoding: Encoding) -> Result<S, Refusal> {
    match encoding {
        Encoding::Protobuf => {
            decode_budget::protobuf(bytes, S::SCHEMA, MAX_DECODED_BYTES)?;
            S::decode(bytes).map_err(|error| Refusal::Malformed(format!("bad OTLP protobuf body: {error}")))
        }
        Encoding::Json => {
            decode_budget::json(bytes, S::SCHEMA, MAX_DECODED_BYTES)?;
            serde_json::from_slice(bytes).map_err(|error| Refusal::Malformed(format!("bad OTLP/JSON body: {error}")))
        }
    }
}

/// The partial-success message for items refused as malformed.
fn rejection(rejected: i64) -> String {
    if rejected > 0 {
        format!("{rejected} items with invalid trace or span ids were dropped")
    } else {
        String::new()
    }
}

impl Signal for ExportTraceServiceRequest {
    type Response = ExportTraceServiceResponse;
    const SCHEMA: &'static Message = &decode_budget::TRACES;
    const GRPC_SERVICE: &'static str = "opentelemetry.proto.collector.trace.v1.TraceService";
    const GRPC_PATH: &'static str = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";

    fn store(self, store: &Store) -> Self::Response {
        let batch = ingest::spans(self);
        let rejected = batch.rejected;
        store.add_spans(batch);
        let partial_success = (rejected > 0)
            .then(|| ExportTracePartialSuccess { rejected_spans: rejected, error_message: rejection(rejected) });
        ExportTraceServiceResponse { partial_success }
    }
}

impl Signal for ExportMetricsServiceRequest {
    type Response = ExportMetricsServiceResponse;
    const SCHEMA: &'static Message = &decode_budget::METRICS;
    const GRPC_SERVICE: &'static str = "opentelemetry.proto.collector.metrics.v1.MetricsService";
    const GRPC_PATH: &'static str = "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export";

    fn store(self, store: &Store) -> Self::Response {
        let batch = ingest::metrics(self);
        let rejected = batch.rejected;
        store.add_metrics(batch);
        let partial_success = (rejected > 0).then(|| ExportMetricsPartialSuccess {
            rejected_data_points: rejected,
            error_message: rejection(rejected),
        });
        ExportMetricsServiceResponse { partial_success }
    }
}

impl Signal for ExportLogsServiceRequest {
    type Response = ExportLogsServiceResponse;
    const SCHEMA: &'static Message = &decode_budget::LOGS;
    const GRPC_SERVICE: &'static str = "opentelemetry.proto.collector.logs.v1.LogsService";
    const GRPC_PATH: &'static str = "/opentelemetry.proto.collector.logs.v1.LogsService/Export";

    fn store(self, store: &Store) -> Self::Response {
        let batch = ingest::logs(self);
        let rejected = batch.rejected;
        store.add_logs(batch);
        let partial_success = (rejected > 0)
            .then(|| ExportLogsPartialSuccess { rejected_log_records: rejected, error_message: rejection(rejected) });
        ExportLogsServiceResponse { partial_success }
    }
}
