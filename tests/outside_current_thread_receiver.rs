//! A user's end-to-end test in its simplest form: one `#[tokio::test]` (a `current_thread` runtime)
//! that spawns its own OTLP/gRPC receiver on that runtime, calls `traced::init()` from environment
//! variables and drops the guard. The drop must not hold the receiver's only thread for as long as
//! the final export waits for its answer: every span arrives and no export fails (a failed one is
//! announced on stderr, so the scenario runs in a child process whose output the test reads).

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{TraceService, TraceServiceServer};
use opentelemetry_proto::tonic::collector::trace::v1::{ExportTraceServiceRequest, ExportTraceServiceResponse};
use tokio_stream::wrappers::TcpListenerStream;
use traced_tests::child;

const SPANS: usize = 5;

/// Span names as they arrive.
#[derive(Clone, Default)]
struct SpanNames(Arc<Mutex<Vec<String>>>);

impl SpanNames {
    fn get(&self) -> Vec<String> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }
}

#[tonic::async_trait]
impl TraceService for SpanNames {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let spans = request.get_ref().resource_spans.iter().flat_map(|resource| &resource.scope_spans);
        let names = spans.flat_map(|scope| &scope.spans).map(|span| span.name.clone());
        self.0.lock().unwrap_or_else(PoisonError::into_inner).extend(names);
        Ok(tonic::Response::new(ExportTraceServiceResponse { partial_success: None }))
    }
}

#[traced::traced(name = "work")]
async fn work() {
    tokio::task::yield_now().await;
}

#[test]
fn dropping_the_guard_on_the_receivers_current_thread_runtime_delivers_every_span() {
    if child::scenario().is_some() {
        return;
    }
    let output = child::run("receiver_and_init_on_one_current_thread_runtime", "current_thread", &[]);
    child::assert_success(&output);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("failed"), "an export failed:\n{stderr}");
}

#[tokio::test]
async fn receiver_and_init_on_one_current_thread_runtime() {
    if child::scenario().is_none() {
        return;
    }
    let received = SpanNames::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("an ephemeral port");
    let endpoint = format!("http://{}", listener.local_addr().expect("a bound address"));
    let service = TraceServiceServer::new(received.clone());
    tokio::spawn(
        tonic::transport::Server::builder().add_service(service).serve_with_incoming(TcpListenerStream::new(listener)),
    );
    std::env::set_var("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint);
    std::env::set_var("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc");
    std::env::set_var("OTEL_METRICS_EXPORTER", "none");
    std::env::set_var("OTEL_LOGS_EXPORTER", "none");

    let guard = traced::init().expect("init() from the environment");
    for _ in 0..SPANS {
        work().await;
    }
    drop(guard);

    // The receiver runs again now; the export it answers was already complete, or completes now.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while received.get().len() < SPANS && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(received.get(), vec!["work"; SPANS]);
}
