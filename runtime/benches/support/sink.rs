//! A fast OTLP/HTTP sink for the export benchmarks.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use axum::body::Bytes;
use axum::routing::post;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message as _;

/// What the sink received.
#[derive(Default)]
pub struct Received {
    pub requests: AtomicU64,
    /// Counted only when the sink decodes.
    pub spans: AtomicU64,
    pub bytes: AtomicU64,
    /// The Linux thread id of the sink's one thread (from `/proc/thread-self`), so a benchmark can leave
    /// its CPU time out; 0 where unknown.
    pub thread: AtomicU64,
}

/// An OTLP/HTTP receiver on 127.0.0.1 that answers success at once, on a runtime thread of its own;
/// with `decode`, it decodes each request to count its spans. Returns its endpoint.
pub fn start(received: Arc<Received>, decode: bool) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
    let address = listener.local_addr().expect("local address");
    listener.set_nonblocking(true).expect("non-blocking listener");
    std::thread::spawn(move || {
        let thread = std::fs::read_link("/proc/thread-self")
            .ok()
            .and_then(|link| link.file_name().and_then(|tid| tid.to_str()).and_then(|tid| tid.parse().ok()));
        received.thread.store(thread.unwrap_or(0), Ordering::Relaxed);
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("sink runtime");
        runtime.block_on(async move {
            let app = axum::Router::new().route(
                "/v1/traces",
                post(move |body: Bytes| {
                    let received = received.clone();
                    async move {
                        let request = decode.then(|| ExportTraceServiceRequest::decode(body.clone()).ok()).flatten();
                        let spans: usize = request
                            .iter()
                            .flat_map(|request| &request.resource_spans)
                            .flat_map(|resource| &resource.scope_spans)
                            .map(|scope| scope.spans.len())
                            .sum();
                        received.requests.fetch_add(1, Ordering::Relaxed);
                        received.spans.fetch_add(spans as u64, Ordering::Relaxed);
                        received.bytes.fetch_add(body.len() as u64, Ordering::Relaxed);
                        ([(http::header::CONTENT_TYPE, "application/x-protobuf")], Vec::<u8>::new())
                    }
                }),
            );
            let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
            axum::serve(listener, app).await.expect("the sink serves");
        });
    });
    format!("http://{address}")
}
