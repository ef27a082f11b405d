//! A local trace viewer: OTLP in (gRPC and HTTP, traces, metrics and logs), the guide's SigNoz screens out
//! (services with RED figures, traces, a trace's waterfall with its logs, metrics), all in memory and bounded.
//!
//! One file per role: `config` (flags), `receive_grpc` and `receive_http` (the doors), `signal` (the three export
//! requests alike), `decode_budget` (what a request would take decoded, before decoding it), `ingest` (OTLP to
//! stored items, capped), `store` (bounded), `query` (the views), `api` (JSON over HTTP), `page` (the embedded page).

mod api;
pub mod config;
pub mod decode_budget;
pub mod ingest;
mod page;
pub mod query;
mod receive_grpc;
mod receive_http;
pub mod signal;
pub mod store;

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinHandle;

pub use config::{ConfigError, ViewerArgs, ViewerConfig};
pub use store::{Limits, Store};

/// The largest OTLP request accepted, as sent and once decompressed.
pub const MAX_REQUEST_BYTES: usize = 16 * 1024 * 1024;

/// The most a request may take once decoded, estimated from its bytes before decoding ([`decode_budget`]).
/// Decoding amplifies: an empty span is 2 bytes of protobuf and a 264-byte struct, so 16 MiB of them (a 16 KiB
/// gzip body) would decode to 2.2 GB, and `{}` floods of JSON do as much. Realistic requests as large as accepted
/// (spans with 10 attributes, events and links; histograms; logs) estimate at 3.1 to 3.3 times their size in
/// protobuf and 1.5 to 1.9 in JSON, 52 MiB at most, so they fit with more than twice that to spare, while
/// hostile shapes estimate at 30 to 130 times theirs. What decoding allocates stays below twice the estimate
/// (measured: at most 1.5 times), so with [`MAX_REQUESTS_IN_FLIGHT`] the intake holds well under the default
/// memory bound of 1 GiB. `tests/viewer_decode_budget.rs` measures all of this.
pub const MAX_DECODED_BYTES: usize = 128 * 1024 * 1024;

/// OTLP requests read, decoded and stored at once, over gRPC and HTTP together; the next ones wait (their bodies
/// unread). With [`MAX_DECODED_BYTES`], this bounds the viewer's memory while it takes data in.
pub const MAX_REQUESTS_IN_FLIGHT: usize = 2;

/// A viewer serving on its three addresses until [`RunningViewer::stop`]; dropping it stops the servers too
/// (the stop channel closes).
#[derive(Debug)]
pub struct RunningViewer {
    pub grpc_addr: SocketAddr,
    pub http_addr: SocketAddr,
    pub ui_addr: SocketAddr,
    pub store: Arc<Store>,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<Result<(), String>>>,
}

/// Binds the three addresses (all or nothing) and serves them on the current tokio runtime.
pub async fn start(config: ViewerConfig) -> std::io::Result<RunningViewer> {
    let bind = |addr: SocketAddr, what: &'static str| async move {
        TcpListener::bind(addr).await.map_err(|error| {
            std::io::Error::new(error.kind(), format!("cannot bind the {what} address {addr}: {error}"))
        })
    };
    let grpc = bind(config.grpc_addr, "OTLP/gRPC").await?;
    let http = bind(config.http_addr, "OTLP/HTTP").await?;
    let ui = bind(config.ui_addr, "web page").await?;
    let store = Arc::new(Store::new(config.limits));
    let intake = Arc::new(Semaphore::new(MAX_REQUESTS_IN_FLIGHT));
    let (stop, stopped) = watch::channel(false);
    let signal = move || {
        let mut stopped = stopped.clone();
        async move {
            let _ = stopped.wait_for(|stop| *stop).await;
        }
    };
    let viewer = RunningViewer {
        grpc_addr: grpc.local_addr()?,
        http_addr: http.local_addr()?,
        ui_addr: ui.local_addr()?,
        store: Arc::clone(&store),
        stop,
        tasks: Vec::new(),
    };
    let ui_app = api::router(Arc::clone(&store))
        .merge(page::router())
        .layer(axum::middleware::from_fn_with_state(config.allow_remote, page::loopback_names_only));
    let (grpc_store, http_store, grpc_stop, http_stop, ui_stop) =
        (Arc::clone(&store), Arc::clone(&store), signal(), signal(), signal());
    let (grpc_intake, http_intake) = (Arc::clone(&intake), intake);
    let tasks = vec![
        tokio::spawn(async move {
            receive_grpc::serve(grpc, grpc_store, grpc_intake, grpc_stop).await.map_err(|e| e.to_string())
        }),
        tokio::spawn(async move {
            receive_http::serve(http, http_store, http_intake, http_stop).await.map_err(|e| e.to_string())
        }),
        tokio::spawn(async move {
            axum::serve(ui, ui_app).with_graceful_shutdown(ui_stop).await.map_err(|e| e.to_string())
        }),
    ];
    Ok(RunningViewer { tasks, ..viewer })
}

impl RunningViewer {
    /// The page's address as a URL.
    pub fn ui_url(&self) -> String {
        format!("http://{}", self.ui_addr)
    }

    /// Returns when a server fails (with its error), or never while all serve.
    pub async fn failed(&mut self) -> String {
        let (result, index) = first_to_end(&mut self.tasks).await;
        self.tasks.remove(index);
        match result {
            Ok(Ok(())) => "a server stopped".to_owned(),
            Ok(Err(error)) => error,
            Err(error) => format!("a server task failed: {error}"),
        }
    }

    /// Stops accepting, lets requests in flight finish, and waits for the servers.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        for task in self.tasks {
            let _ = task.await;
        }
    }
}

/// The first of the tasks to end, and its index.
async fn first_to_end(
    tasks: &mut [JoinHandle<Result<(), String>>],
) -> (Result<Result<(), String>, tokio::task::JoinError>, usize) {
    use std::future::Future as _;
    std::future::poll_fn(|context| {
        for (index, task) in tasks.iter_mut().enumerate() {
            if let std::task::Poll::Ready(result) = std::pin::Pin::new(task).poll(context) {
                return std::task::Poll::Ready((result, index));
            }
        }
        std::task::Poll::Pending
    })
    .await
}
