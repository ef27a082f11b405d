//! The load generator reads answers without keeping them: a huge body costs time, not memory. Alone in
//! its binary, so the process's peak memory is this test's.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use traced_examples::loadgen::{run, LoadConfig, WaitTime};

/// The process's peak resident memory so far, in bytes (Linux `VmHWM`).
fn peak_rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("read /proc/self/status");
    let line = status.lines().find(|line| line.starts_with("VmHWM:")).expect("VmHWM line");
    let kib: u64 = line.split_whitespace().nth(1).and_then(|n| n.parse().ok()).expect("a number of kB");
    kib * 1024
}

const BODY: usize = 128 << 20;

#[tokio::test]
async fn a_huge_answer_is_read_without_being_kept() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    // 128 MiB per answer, written 64 KiB at a time.
    let server = tokio::spawn(async move {
        while let Ok((mut connection, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut request = [0_u8; 4096];
                let _ = connection.read(&mut request).await;
                let head = format!("HTTP/1.1 200 OK\r\ncontent-length: {BODY}\r\nconnection: close\r\n\r\n");
                let _ = connection.write_all(head.as_bytes()).await;
                let chunk = vec![b'x'; 64 << 10];
                for _ in 0..BODY / chunk.len() {
                    if connection.write_all(&chunk).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    let config = LoadConfig {
        users: 1,
        max_requests: 1,
        duration: Duration::from_secs(120),
        request_timeout: Duration::from_secs(60),
        wait: WaitTime { min: Duration::ZERO, max: Duration::ZERO },
        ..LoadConfig::new(&format!("http://{address}"), false).expect("loopback")
    };
    let before = peak_rss();
    let summary = run(config).await.expect("the run completes");
    let grown = peak_rss().saturating_sub(before);
    server.abort();
    assert_eq!((summary.total.requests, summary.total.failures), (1, 0), "{summary}");
    assert!(grown < (BODY / 4) as u64, "peak memory grew by {} MiB reading a 128 MiB answer", grown >> 20);
}
