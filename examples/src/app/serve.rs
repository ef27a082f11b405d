//! How the sample app serves HTTP/1 connections, and what happens on SIGTERM or Ctrl-C.
//!
//! While serving, at most [`ServeOptions::max_connections`] connections are open (further clients wait
//! in the kernel's accept queue), a request head is at most [`MAX_REQUEST_HEAD`] bytes (431 beyond),
//! and a client has [`ServeOptions::header_read_timeout`] to send a complete request head,
//! counted from the moment the server starts waiting for it: from the connection for the first
//! request, from the end of the previous response on a kept-alive connection. A slowloris client
//! (half a head, or one byte at a time) and an idle keep-alive connection are closed after that long.
//!
//! On the stop signal:
//! 1. the listener is closed at once: new connections are refused;
//! 2. idle connections (no request started) are closed; a connection with a request in flight finishes
//!    it, with `Connection: close`; a connection still sending its head gets the rest of its
//!    header-read timeout, then is closed;
//! 3. at the drain deadline ([`ServeOptions::drain_timeout`] after the signal) every connection still
//!    open is cut: its request is dropped, as when a client leaves (its server span still ends).
//!
//! [`super::run`] then stops the runtime and flushes telemetry under the telemetry deadline.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::pin;
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::Request;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::{oneshot, watch};
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::Instant;
use tower::ServiceExt;

/// The limits of serving and stopping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServeOptions {
    /// After the stop signal, how long requests in flight may still run before their connections are cut.
    pub drain_timeout: Duration,
    /// How long a client may take to send a complete request head; also how long a kept-alive
    /// connection may stay idle.
    pub header_read_timeout: Duration,
    /// Connections open at once; at the limit, no more are accepted until one closes.
    pub max_connections: usize,
}

impl ServeOptions {
    pub const DEFAULT_DRAIN_TIMEOUT: Duration = Duration::from_secs(10);
    pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(5);
    pub const DEFAULT_MAX_CONNECTIONS: usize = 4096;
}

impl Default for ServeOptions {
    fn default() -> Self {
        Self {
            drain_timeout: Self::DEFAULT_DRAIN_TIMEOUT,
            header_read_timeout: Self::DEFAULT_HEADER_READ_TIMEOUT,
            max_connections: Self::DEFAULT_MAX_CONNECTIONS,
        }
    }
}

/// The largest request head (request line and headers) read, in bytes: what one connection may make
/// the server buffer before its request starts.
pub const MAX_REQUEST_HEAD: usize = 64 * 1024;

/// How a stop went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Drained {
    /// Connections open when the signal came (busy, idle or still sending a head).
    pub open_at_signal: usize,
    /// Connections still open at the drain deadline, and cut.
    pub cut: usize,
    /// When the drain deadline was (or would have been) reached.
    pub deadline: Instant,
}

/// Serves `router` on `listener` until `shutdown` completes, then drains as the module says.
///
/// Handlers see the peer address as `ConnectInfo<SocketAddr>`, as with axum's
/// `into_make_service_with_connect_info::<SocketAddr>()`.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    options: ServeOptions,
    shutdown: impl Future<Output = ()>,
) -> io::Result<Drained> {
    let drain_timeout = options.drain_timeout;
    serve_until(listener, router, options, async move {
        shutdown.await;
        Instant::now() + drain_timeout
    })
    .await
}

/// Serves until `stop` yields the drain deadline (`options.drain_timeout` is not used).
async fn serve_until(
    listener: TcpListener,
    router: Router,
    options: ServeOptions,
    stop: impl Future<Output = Instant>,
) -> io::Result<Drained> {
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new()).header_read_timeout(options.header_read_timeout);
    // The header limit refuses a complete head that is too large; the buffer limit stops reading an
    // incomplete one at about that size.
    http.max_header_size(MAX_REQUEST_HEAD).max_buf_size(MAX_REQUEST_HEAD);
    // At least one, or nothing would ever be served.
    let max_connections = options.max_connections.max(1);
    let graceful = GracefulShutdown::new();
    let mut connections = JoinSet::new();
    let mut stop = pin!(stop);
    let deadline = loop {
        tokio::select! {
            deadline = &mut stop => break deadline,
            // Finished connections are reaped below, so `len` counts open ones (and at most a few just closed).
            accepted = listener.accept(), if connections.len() < max_connections => match accepted {
                Ok((stream, peer)) => {
                    let connection = http.serve_connection(TokioIo::new(stream), connection_service(&router, peer));
                    // Errors of one connection (a header-read timeout, a reset) end that connection only.
                    connections.spawn(graceful.watch(connection));
                }
                Err(error) if is_connection_error(&error) => {}
                Err(error) => {
                    // E.g. out of file descriptors: retry later instead of spinning.
                    eprintln!("sample-app: accepting a connection failed ({error}); retrying in 1s");
                    tokio::select! {
                        deadline = &mut stop => break deadline,
                        () = tokio::time::sleep(Duration::from_secs(1)) => {}
                    }
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    };
    drop(listener);
    reap(&mut connections);
    let open_at_signal = connections.len();
    let drained_in_time = tokio::time::timeout_at(deadline, graceful.shutdown()).await.is_ok();
    reap(&mut connections);
    let cut = if drained_in_time { 0 } else { connections.len() };
    // Dropping a connection's task closes its socket and drops its request.
    connections.shutdown().await;
    Ok(Drained { open_at_signal, cut, deadline })
}

/// The router for one connection, with its peer address where axum's `ConnectInfo` extractor finds it.
fn connection_service(
    router: &Router,
    peer: SocketAddr,
) -> impl hyper::service::Service<Request<Incoming>, Response = axum::response::Response, Error = Infallible, Future: Send>
{
    let router = router.clone();
    hyper::service::service_fn(move |mut request: Request<Incoming>| {
        request.extensions_mut().insert(ConnectInfo(peer));
        router.clone().oneshot(request)
    })
}

/// Forgets the connections that have finished.
fn reap(connections: &mut JoinSet<Result<(), hyper::Error>>) {
    while connections.try_join_next().is_some() {}
}

/// Failures of one incoming connection, not of the listener (as axum's own accept loop).
fn is_connection_error(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::ConnectionRefused | io::ErrorKind::ConnectionAborted | io::ErrorKind::ConnectionReset
    )
}

/// A server running on a task of its own, stopped by [`Background::stop`] (or by being dropped).
#[derive(Debug)]
pub struct Background {
    address: SocketAddr,
    drain_timeout: Duration,
    stop: oneshot::Sender<Instant>,
    task: JoinHandle<io::Result<Drained>>,
}

impl Background {
    /// Serves `router` on `listener` until stopped.
    pub fn spawn(listener: TcpListener, router: Router, options: ServeOptions) -> io::Result<Self> {
        Self::spawn_then(listener, router, options, |drained| async move { drained })
    }

    /// Like [`Background::spawn`], with `after` run on the task once serving has ended.
    pub(crate) fn spawn_then<F>(
        listener: TcpListener,
        router: Router,
        options: ServeOptions,
        after: impl FnOnce(io::Result<Drained>) -> F + Send + 'static,
    ) -> io::Result<Self>
    where
        F: Future<Output = io::Result<Drained>> + Send,
    {
        let address = listener.local_addr()?;
        let (stop, stopped) = oneshot::channel::<Instant>();
        let drain_timeout = options.drain_timeout;
        let stop_signal = async move {
            // A dropped handle stops the server too.
            stopped.await.unwrap_or_else(|_| Instant::now() + drain_timeout)
        };
        let task = tokio::spawn(async move {
            let served = serve_until(listener, router, options, stop_signal).await;
            after(served).await
        });
        Ok(Self { address, drain_timeout, stop, task })
    }

    /// The absolute URL of `path_and_query` on this server.
    pub fn url(&self, path_and_query: &str) -> String {
        format!("http://{}{}", self.address, path_and_query)
    }

    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Stops accepting, drains within the drain timeout, and returns how serving ended.
    pub async fn stop(self) -> io::Result<Drained> {
        let deadline = Instant::now() + self.drain_timeout;
        self.stop_by(deadline).await
    }

    /// Like [`Background::stop`], with a drain deadline shared with something else.
    pub async fn stop_by(self, deadline: Instant) -> io::Result<Drained> {
        // The task may already have ended (then its result says why).
        let _ = self.stop.send(deadline);
        self.task.await.map_err(io::Error::other)?
    }
}

/// SIGTERM (what `docker stop` and Kubernetes send) and Ctrl-C, counted from the moment
/// [`StopSignals::install`] returns: a signal that arrives during start-up stops the app cleanly
/// instead of killing it.
#[derive(Debug, Clone)]
pub struct StopSignals {
    received: watch::Receiver<(u32, &'static str)>,
}

impl StopSignals {
    /// Installs the handlers; call it inside the runtime, before announcing that the app listens.
    pub fn install() -> io::Result<Self> {
        let (count, received) = watch::channel((0, ""));
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            let mut terminate = signal(SignalKind::terminate())?;
            let mut interrupt = signal(SignalKind::interrupt())?;
            tokio::spawn(async move {
                loop {
                    let name = tokio::select! {
                        Some(()) = terminate.recv() => "SIGTERM",
                        Some(()) = interrupt.recv() => "Ctrl-C",
                        else => return,
                    };
                    count.send_modify(|(count, last)| (*count, *last) = (*count + 1, name));
                }
            });
        }
        #[cfg(not(unix))]
        tokio::spawn(async move {
            while tokio::signal::ctrl_c().await.is_ok() {
                count.send_modify(|(count, last)| (*count, *last) = (*count + 1, "Ctrl-C"));
            }
        });
        Ok(Self { received })
    }

    /// Completes at the `n`-th signal (1 for the first) and names it; never if the handlers are gone.
    pub async fn nth(&self, n: u32) -> &'static str {
        let mut received = self.received.clone();
        let name = received.wait_for(|(count, _)| *count >= n).await.map(|seen| seen.1);
        match name {
            Ok(name) => name,
            Err(_) => std::future::pending().await,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use axum::routing::get;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;

    use super::*;

    const BOUND: Duration = Duration::from_secs(20);

    fn options(drain_ms: u64, header_ms: u64) -> ServeOptions {
        ServeOptions {
            drain_timeout: Duration::from_millis(drain_ms),
            header_read_timeout: Duration::from_millis(header_ms),
            ..ServeOptions::default()
        }
    }

    async fn start(router: Router, options: ServeOptions) -> Background {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind an ephemeral port");
        Background::spawn(listener, router, options).expect("serve")
    }

    /// Reads until the server closes the connection; what it sent.
    async fn read_to_close(stream: &mut TcpStream) -> String {
        let mut bytes = Vec::new();
        let read = tokio::time::timeout(BOUND, stream.read_to_end(&mut bytes)).await.expect("closed in time");
        // A reset is also the server closing.
        let _ = read;
        String::from_utf8_lossy(&bytes).into_owned()
    }

    fn peer_echo() -> Router {
        Router::new().route("/peer", get(|ConnectInfo(peer): ConnectInfo<SocketAddr>| async move { peer.to_string() }))
    }

    #[tokio::test]
    async fn handlers_see_the_peer_address() {
        let server = start(peer_echo(), ServeOptions::default()).await;
        let mut stream = TcpStream::connect(server.address()).await.expect("connect");
        let local = stream.local_addr().expect("local address");
        stream.write_all(b"GET /peer HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n").await.expect("send");
        let response = read_to_close(&mut stream).await;
        assert!(response.starts_with("HTTP/1.1 200"), "{response}");
        assert!(response.ends_with(&local.to_string()), "{response}");
        let drained = server.stop().await.expect("stopped");
        assert_eq!(drained.cut, 0);
    }

    #[tokio::test]
    async fn a_half_sent_head_is_closed_after_the_header_read_timeout() {
        let server = start(peer_echo(), options(10_000, 300)).await;
        let mut stream = TcpStream::connect(server.address()).await.expect("connect");
        stream.write_all(b"GET /peer HTTP/1.1\r\nhost:").await.expect("send");
        let response = read_to_close(&mut stream).await;
        assert!(!response.contains(" 200 "), "no answer to half a head: {response}");
        server.stop().await.expect("stopped");
    }

    #[tokio::test]
    async fn a_head_larger_than_the_limit_is_refused_with_431() {
        let server = start(peer_echo(), ServeOptions::default()).await;
        let mut stream = TcpStream::connect(server.address()).await.expect("connect");
        let mut head = b"GET /peer HTTP/1.1\r\nhost: x\r\nx-big: ".to_vec();
        head.resize(head.len() + MAX_REQUEST_HEAD, b'a');
        head.extend_from_slice(b"\r\n\r\n");
        // The server may close before reading everything: a failed write is fine.
        let _ = stream.write_all(&head).await;
        let response = read_to_close(&mut stream).await;
        // Closing with unread bytes may reset the connection before the 431 is read: either is a refusal.
        assert!(response.is_empty() || response.starts_with("HTTP/1.1 431"), "{response}");
        server.stop().await.expect("stopped");
    }

    #[tokio::test]
    async fn at_the_connection_limit_the_next_client_waits_for_a_free_slot() {
        let server = start(peer_echo(), ServeOptions { max_connections: 1, ..options(10_000, 10_000) }).await;
        let mut first = TcpStream::connect(server.address()).await.expect("connect");
        first.write_all(b"GET /peer HTTP/1.1\r\nhost: x\r\n\r\n").await.expect("send");
        let mut answer = [0_u8; 12];
        first.read_exact(&mut answer).await.expect("the first client is served");
        assert_eq!(&answer, b"HTTP/1.1 200");

        // The second connection is left in the accept queue while the first stays open.
        let mut second = TcpStream::connect(server.address()).await.expect("connect");
        second.write_all(b"GET /peer HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n").await.expect("send");
        let waiting = tokio::time::timeout(Duration::from_millis(300), second.read(&mut answer)).await;
        assert!(waiting.is_err(), "no answer while the only slot is taken");
        drop(first);
        let response = read_to_close(&mut second).await;
        assert!(response.starts_with("HTTP/1.1 200"), "served once the slot is free: {response}");
        server.stop().await.expect("stopped");
    }

    #[tokio::test]
    async fn stop_closes_idle_connections_and_lets_a_request_in_flight_finish() {
        let slow = Router::new().route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_millis(500)).await;
                "done"
            }),
        );
        let server = start(slow, options(10_000, 10_000)).await;
        let address = server.address();
        let mut idle = TcpStream::connect(address).await.expect("connect");
        let mut busy = TcpStream::connect(address).await.expect("connect");
        busy.write_all(b"GET /slow HTTP/1.1\r\nhost: x\r\n\r\n").await.expect("send");
        tokio::time::sleep(Duration::from_millis(100)).await;
        let started = Instant::now();
        let stopping = tokio::spawn(server.stop());

        // The idle connection is closed without waiting for its header-read timeout (10 s).
        assert_eq!(read_to_close(&mut idle).await, "");
        assert!(started.elapsed() < Duration::from_secs(5), "idle connection closed at once");
        let response = read_to_close(&mut busy).await;
        assert!(response.starts_with("HTTP/1.1 200"), "{response}");
        assert!(response.to_ascii_lowercase().contains("connection: close"), "{response}");
        assert!(response.ends_with("done"), "{response}");
        let drained = stopping.await.expect("task").expect("stopped");
        assert_eq!((drained.open_at_signal, drained.cut), (2, 0));
        assert!(TcpStream::connect(address).await.is_err(), "no new connection after stop");
    }

    #[tokio::test]
    async fn the_drain_deadline_cuts_a_request_that_runs_too_long() {
        let endless = Router::new().route("/endless", get(std::future::pending::<&'static str>));
        let server = start(endless, options(300, 10_000)).await;
        let mut busy = TcpStream::connect(server.address()).await.expect("connect");
        busy.write_all(b"GET /endless HTTP/1.1\r\nhost: x\r\n\r\n").await.expect("send");
        tokio::time::sleep(Duration::from_millis(100)).await;
        let drained = tokio::time::timeout(BOUND, server.stop()).await.expect("bounded").expect("stopped");
        assert_eq!((drained.open_at_signal, drained.cut), (1, 1));
        assert_eq!(read_to_close(&mut busy).await, "", "cut without an answer");
    }
}
