//! An HTTP/1.1 collector that answers every request with the bytes a test scripts: answers no
//! well-behaved server sends (a partial success written as another collector writes it, a status line
//! and then a stall, a body without end).

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// What the collector does with one request.
#[derive(Debug, Clone)]
pub enum Scripted {
    /// Writes these bytes (a whole HTTP response), then reads the next request on the connection.
    Answer(Vec<u8>),
    /// Writes these bytes (a status line and headers, maybe part of a body), then holds the connection
    /// open without writing more.
    Stall(Vec<u8>),
    /// Writes these bytes, then body bytes for as long as the client reads them.
    Endless(Vec<u8>),
}

impl Scripted {
    /// A complete response: `status` (`200 OK`), `headers` (`name: value` lines) and `body`.
    pub fn response(status: &str, headers: &[&str], body: &[u8]) -> Self {
        let mut bytes = format!("HTTP/1.1 {status}\r\ncontent-length: {}\r\n", body.len()).into_bytes();
        for header in headers {
            bytes.extend_from_slice(header.as_bytes());
            bytes.extend_from_slice(b"\r\n");
        }
        bytes.extend_from_slice(b"\r\n");
        bytes.extend_from_slice(body);
        Self::Answer(bytes)
    }
}

/// A running scripted collector on 127.0.0.1; it stops when dropped (its connections within 50 ms).
#[derive(Debug)]
pub struct ScriptedCollector {
    address: SocketAddr,
    requests: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// How often a waiting thread looks at the stop flag.
const POLL: Duration = Duration::from_millis(50);

impl ScriptedCollector {
    /// Starts listening; request `n` (from 0, over all connections) gets `script(n)`.
    pub fn start(script: impl Fn(usize) -> Scripted + Send + Sync + 'static) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port on 127.0.0.1");
        listener.set_nonblocking(true).expect("non-blocking listener");
        let address = listener.local_addr().expect("listener address");
        let requests = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (counted, stopping) = (Arc::clone(&requests), Arc::clone(&stop));
        let script: Arc<dyn Fn(usize) -> Scripted + Send + Sync> = Arc::new(script);
        let thread = std::thread::Builder::new()
            .name(format!("scripted-collector-{}", address.port()))
            .spawn(move || {
                while !stopping.load(Ordering::SeqCst) {
                    match listener.accept() {
                        Ok((stream, _)) => {
                            let (counted, stopping, script) =
                                (Arc::clone(&counted), Arc::clone(&stopping), Arc::clone(&script));
                            std::thread::spawn(move || serve(stream, &counted, &stopping, &*script));
                        }
                        Err(error) if error.kind() == ErrorKind::WouldBlock => std::thread::sleep(POLL / 5),
                        Err(_) => std::thread::sleep(POLL / 5),
                    }
                }
            })
            .expect("scripted collector thread");
        Self { address, requests, stop, thread: Some(thread) }
    }

    /// `http://127.0.0.1:<port>`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.address)
    }

    /// Requests read so far.
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

impl Drop for ScriptedCollector {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// One connection: requests read one after the other, each answered by the script.
fn serve(mut stream: TcpStream, counted: &AtomicUsize, stop: &AtomicBool, script: &dyn Fn(usize) -> Scripted) {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(POLL));
    let mut pending = Vec::new();
    while let Some(()) = read_request(&mut stream, &mut pending, stop) {
        let scripted = script(counted.fetch_add(1, Ordering::SeqCst));
        match scripted {
            Scripted::Answer(bytes) => {
                if stream.write_all(&bytes).is_err() {
                    return;
                }
            }
            Scripted::Stall(bytes) => {
                let _ = stream.write_all(&bytes);
                while !stop.load(Ordering::SeqCst) {
                    std::thread::sleep(POLL);
                }
                return;
            }
            Scripted::Endless(bytes) => {
                let _ = stream.write_all(&bytes);
                let _ = stream.set_write_timeout(Some(POLL));
                let chunk = vec![b'x'; 64 * 1024];
                while !stop.load(Ordering::SeqCst) {
                    match stream.write(&chunk) {
                        Ok(0) => return,
                        Ok(_) => {}
                        Err(error) if matches!(error.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                        Err(_) => return,
                    }
                }
                return;
            }
        }
    }
}

/// Reads one request (head and a `content-length` body) off the connection; `None` when the
/// connection closed or the collector stops. Bytes read past the request stay in `pending`.
fn read_request(stream: &mut TcpStream, pending: &mut Vec<u8>, stop: &AtomicBool) -> Option<()> {
    let mut buffer = [0u8; 16 * 1024];
    loop {
        if let Some(head_end) = pending.windows(4).position(|window| window == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&pending[..head_end]).to_ascii_lowercase();
            let length = head
                .lines()
                .find_map(|line| line.strip_prefix("content-length:"))
                .and_then(|value| value.trim().parse::<usize>().ok())
                .unwrap_or(0);
            let end = head_end + 4 + length;
            if pending.len() >= end {
                pending.drain(..end);
                return Some(());
            }
        }
        if stop.load(Ordering::SeqCst) {
            return None;
        }
        match stream.read(&mut buffer) {
            Ok(0) => return None,
            Ok(read) => pending.extend_from_slice(&buffer[..read]),
            Err(error) if matches!(error.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => return None,
        }
    }
}
