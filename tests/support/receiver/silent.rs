//! A collector that accepts connections, reads whatever is sent and never answers (a hung process,
//! a proxy that lost its upstream).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::io::AsyncReadExt;

/// A running silent collector on 127.0.0.1; it stops when dropped.
#[derive(Debug)]
pub struct SilentCollector {
    address: SocketAddr,
    connections: Arc<AtomicUsize>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl SilentCollector {
    /// Starts listening.
    pub fn start() -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port on 127.0.0.1");
        listener.set_nonblocking(true).expect("non-blocking listener");
        let address = listener.local_addr().expect("listener address");
        let connections = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&connections);
        let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name(format!("silent-collector-{}", address.port()))
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
                runtime.block_on(async move {
                    let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
                    loop {
                        let (mut stream, _) = tokio::select! {
                            accepted = listener.accept() => match accepted {
                                Ok(accepted) => accepted,
                                Err(_) => continue,
                            },
                            _ = &mut stopped => return,
                        };
                        counted.fetch_add(1, Ordering::SeqCst);
                        tokio::spawn(async move {
                            let mut buffer = vec![0u8; 64 * 1024];
                            while let Ok(read) = stream.read(&mut buffer).await {
                                if read == 0 {
                                    break;
                                }
                            }
                        });
                    }
                });
            })
            .expect("silent collector thread");
        Self { address, connections, stop: Some(stop), thread: Some(thread) }
    }

    /// `http://127.0.0.1:<port>`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.address)
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

impl Drop for SilentCollector {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
