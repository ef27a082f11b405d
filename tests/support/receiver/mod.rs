//! An OTLP receiver on 127.0.0.1 for end-to-end tests.
//!
//! ```ignore
//! let receiver = Receiver::start_grpc().await;          // or start_http()
//! std::env::set_var("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint());
//! // ... run instrumented code, drop the guard ...
//! let spans = receiver.wait_for_spans(3, Duration::from_secs(10)).await;
//! assert_eq!(spans[0].resource_attribute("service.name").as_deref(), Some("shop"));
//! ```
//!
//! The server runs on a runtime and thread of its own, so it keeps answering while the test's own
//! thread blocks (a `current_thread` runtime, a guard dropping, a plain `fn main`). It stops when the
//! `Receiver` drops. Waiting takes a timeout only as an upper bound: waits return as soon as the
//! count is reached, and tests assert on what came back.

mod faults;
mod grpc;
mod http;
mod received;
mod scripted;
mod silent;
mod store;

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::Duration;

pub use faults::FaultOptions;
pub use received::{ReceivedLog, ReceivedMetric, ReceivedRequest, ReceivedSpan, Signal, Transport};
pub use scripted::{Scripted, ScriptedCollector};
pub use silent::SilentCollector;
use store::Store;

use crate::TestCertificates;

/// How long a stopping receiver waits for clients to close their connections.
const GRACE: Duration = Duration::from_millis(500);

/// How the receiver answers.
#[derive(Debug, Clone, Default)]
pub struct ReceiverOptions {
    /// Wait this long before answering each export (a slow collector).
    pub response_delay: Option<Duration>,
    /// Serve over TLS with this server certificate; the endpoint is then `https://`.
    pub tls: Option<TestCertificates>,
    /// Faults to play (refusals, partial success); none by default.
    pub faults: FaultOptions,
}

/// A running OTLP receiver; see the module docs.
#[derive(Debug)]
pub struct Receiver {
    transport: Transport,
    address: SocketAddr,
    tls: bool,
    store: Arc<Store>,
    stop: Option<tokio::sync::watch::Sender<bool>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Receiver {
    /// Starts an OTLP/gRPC receiver (traces, metrics and logs services, gzip accepted).
    pub async fn start_grpc() -> Self {
        Self::start_blocking(Transport::Grpc, ReceiverOptions::default())
    }

    /// Starts an OTLP/HTTP receiver (`/v1/traces`, `/v1/metrics`, `/v1/logs`; protobuf or JSON; gzip accepted).
    pub async fn start_http() -> Self {
        Self::start_blocking(Transport::Http, ReceiverOptions::default())
    }

    /// Starts a receiver with options.
    pub async fn start(transport: Transport, options: ReceiverOptions) -> Self {
        Self::start_blocking(transport, options)
    }

    /// Starts a receiver from code that has no async runtime (a plain `fn main` test).
    pub fn start_blocking(transport: Transport, options: ReceiverOptions) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port on 127.0.0.1");
        Self::serve(listener, transport, options)
    }

    /// Starts a receiver on `address` (a collector coming back on the port of one that stopped).
    pub fn start_at(address: SocketAddr, transport: Transport, options: ReceiverOptions) -> Self {
        let listener = TcpListener::bind(address).unwrap_or_else(|error| panic!("bind {address}: {error}"));
        Self::serve(listener, transport, options)
    }

    /// The address it listens on.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    fn serve(listener: TcpListener, transport: Transport, options: ReceiverOptions) -> Self {
        listener.set_nonblocking(true).expect("non-blocking listener");
        let address = listener.local_addr().expect("listener address");
        let store = Arc::new(Store::default());
        let tls = options.tls.is_some();
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let server_store = Arc::clone(&store);
        let thread = std::thread::Builder::new()
            .name(format!("otlp-receiver-{}", address.port()))
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(1)
                    .enable_all()
                    .build()
                    .expect("receiver runtime");
                runtime.block_on(async move {
                    let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
                    let mut grace = stopped.clone();
                    let mut stopped = stopped;
                    let stopped = async move {
                        let _ = stopped.wait_for(|stop| *stop).await;
                    };
                    let serve = async move {
                        match transport {
                            Transport::Grpc => grpc::serve(listener, server_store, options, stopped).await,
                            Transport::Http => http::serve(listener, server_store, options, stopped).await,
                        }
                    };
                    // A graceful stop waits for clients to close their connections; a client whose
                    // runtime is the very thread dropping the receiver never will, so the wait is bounded.
                    let grace = async move {
                        let _ = grace.wait_for(|stop| *stop).await;
                        tokio::time::sleep(GRACE).await;
                    };
                    tokio::select! {
                        () = serve => {}
                        () = grace => {}
                    }
                });
            })
            .expect("receiver thread");
        Self { transport, address, tls, store, stop: Some(stop), thread: Some(thread) }
    }

    /// `http://127.0.0.1:<port>` (`https://` with TLS): the value for `OTEL_EXPORTER_OTLP_ENDPOINT`.
    pub fn endpoint(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}", self.address)
    }

    /// The protocol for `OTEL_EXPORTER_OTLP_PROTOCOL` (`grpc` or `http/protobuf`).
    pub fn protocol(&self) -> &'static str {
        match self.transport {
            Transport::Grpc => "grpc",
            Transport::Http => "http/protobuf",
        }
    }

    /// An endpoint where nothing listens (a collector that is down).
    pub fn unreachable_endpoint() -> String {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
        let address = listener.local_addr().expect("listener address");
        drop(listener);
        format!("http://{address}")
    }

    /// Export requests refused so far (by the fault options), with the items they carried.
    pub fn refused(&self) -> Vec<(Signal, usize)> {
        self.store.refused()
    }

    /// Items the receiver reported as rejected in partial-success answers so far.
    pub fn rejected_items(&self) -> u64 {
        self.store.rejected_items()
    }

    /// Every span received so far, in arrival order.
    pub fn spans(&self) -> Vec<ReceivedSpan> {
        self.store.spans()
    }

    /// Every metric received so far.
    pub fn metrics(&self) -> Vec<ReceivedMetric> {
        self.store.metrics()
    }

    /// Every log record received so far.
    pub fn logs(&self) -> Vec<ReceivedLog> {
        self.store.logs()
    }

    /// Every export request received so far (transport, path, headers, compression).
    pub fn requests(&self) -> Vec<ReceivedRequest> {
        self.store.requests()
    }

    /// Waits until at least `count` spans arrived or `timeout` passed; returns what arrived.
    pub async fn wait_for_spans(&self, count: usize, timeout: Duration) -> Vec<ReceivedSpan> {
        self.store.wait_until(timeout, |store| store.span_count() >= count).await;
        self.spans()
    }

    /// Waits until at least `count` log records arrived or `timeout` passed.
    pub async fn wait_for_logs(&self, count: usize, timeout: Duration) -> Vec<ReceivedLog> {
        self.store.wait_until(timeout, |store| store.log_count() >= count).await;
        self.logs()
    }

    /// Waits until a metric named `name` arrived or `timeout` passed; returns all metrics.
    pub async fn wait_for_metric(&self, name: &str, timeout: Duration) -> Vec<ReceivedMetric> {
        self.store.wait_until(timeout, |store| store.has_metric(name)).await;
        self.metrics()
    }

    /// [`Receiver::wait_for_spans`] for code without an async runtime.
    pub fn wait_for_spans_blocking(&self, count: usize, timeout: Duration) -> Vec<ReceivedSpan> {
        self.store.wait_until_blocking(timeout, |store| store.span_count() >= count);
        self.spans()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(true);
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
