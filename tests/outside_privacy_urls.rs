//! Acceptance, from outside: URLs a client nests in the request target (`?next=http://user:pw@..`,
//! the same percent-encoded, scheme-relative, or in a path segment, as redirectors and proxies take
//! them) lose their userinfo in `url.query` and `url.path`, like every URL `traced` records.

mod axum_support;

use axum::routing::get;
use axum::Router;
use opentelemetry::Value;
use opentelemetry_sdk::trace::SpanData;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use axum_support::{capture, serve, server_spans};
use traced::axum::TracedLayer;

async fn raw(address: std::net::SocketAddr, target: &str) -> String {
    let mut stream = tokio::net::TcpStream::connect(address).await.expect("connect");
    let head = format!("GET {target} HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
    stream.write_all(head.as_bytes()).await.expect("send");
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.expect("read");
    String::from_utf8_lossy(&response).lines().next().unwrap_or_default().to_owned()
}

fn text(span: &SpanData, key: &str) -> Option<String> {
    span.attributes.iter().find(|kv| kv.key.as_str() == key).map(|kv| match &kv.value {
        Value::String(value) => value.as_str().to_owned(),
        other => other.to_string(),
    })
}

#[tokio::test]
async fn nested_urls_lose_their_userinfo_in_query_and_path() {
    let capture = capture();
    let router = Router::new()
        .route("/login", get(|| async { "ok" }))
        .route("/go/{*rest}", get(|| async { "ok" }))
        .layer(TracedLayer::new());
    let address = serve(router).await;
    let cases = [
        ("/login?next=http://admin:PWONE@internal/x&lang=en", "url.query", "next=http://internal/x&lang=en"),
        ("/login?r=//u:PWTWO@h/p;x=1", "url.query", "r=//h/p;x=1"),
        (
            "/login?back=https%3A%2F%2Fu%3APWTHREE%40h.example%2Fcb&x=1",
            "url.query",
            "back=https%3A%2F%2Fh.example%2Fcb&x=1",
        ),
        ("/login?back=HTTPS%3a%2f%2fPWFOUR%40h", "url.query", "back=HTTPS%3a%2f%2fh"),
        ("/go/http://u:PWFIVE@h/x", "url.path", "/go/http://h/x"),
        ("/go/https%3A%2F%2Fu%3APWSIX%40h%2Fx", "url.path", "/go/https%3A%2F%2Fh%2Fx"),
    ];
    for (target, _, _) in cases {
        assert!(raw(address, target).await.starts_with("HTTP/1.1 200"), "{target}");
    }
    let spans = server_spans(&capture, cases.len()).await;
    let all = format!("{spans:?}");
    for (target, key, expected) in cases {
        let found = spans.iter().filter_map(|span| text(span, key)).any(|value| value == expected);
        assert!(
            found,
            "{target}: no span with {key} = {expected:?}; {:?}",
            spans.iter().map(|s| text(s, key)).collect::<Vec<_>>()
        );
    }
    for secret in ["PWONE", "PWTWO", "PWTHREE", "PWFOUR", "PWFIVE", "PWSIX"] {
        assert!(!all.contains(secret), "{secret} leaked");
    }
}
