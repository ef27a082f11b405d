//! Acceptance, from outside: the README's caps ("Security and privacy", "Bounded by default") hold
//! for what a hostile client sends over a real socket and for what a failing handler records, cut on
//! a UTF-8 character boundary where the text is not ASCII.

mod axum_support;

use std::fmt;

use axum::routing::get;
use axum::Router;
use opentelemetry::{Array, Value};
use opentelemetry_sdk::trace::SpanData;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use axum_support::{capture, serve, server_spans};
use traced::axum::TracedLayer;
use traced::record_errors;

fn text(span: &SpanData, key: &str) -> String {
    match span.attributes.iter().find(|kv| kv.key.as_str() == key).map(|kv| &kv.value) {
        Some(Value::String(value)) => value.as_str().to_owned(),
        other => panic!("{key}: {other:?} in {:?}", span.attributes),
    }
}

fn event_value<'a>(span: &'a SpanData, key: &str) -> &'a Value {
    let event = span.events.iter().find(|event| event.name == "exception").expect("an exception event");
    &event.attributes.iter().find(|kv| kv.key.as_str() == key).unwrap_or_else(|| panic!("{key}")).value
}

/// Sends `head` as written; returns the status line.
async fn raw(address: std::net::SocketAddr, head: &[u8]) -> String {
    let mut stream = tokio::net::TcpStream::connect(address).await.expect("connect");
    stream.write_all(head).await.expect("send");
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.expect("read");
    String::from_utf8_lossy(&response).lines().next().unwrap_or_default().to_owned()
}

/// An error whose message is 100 KB of 3-byte characters after one ASCII byte (so every cap falls
/// inside a character), with a source chain 40 deep.
#[derive(Debug)]
struct Deep(usize);

impl fmt::Display for Deep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "x{}", "€".repeat(34_000))
    }
}

impl std::error::Error for Deep {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        // A chain that never ends would be cut at 32 items too; this one is 40 deep.
        (self.0 < 40).then(|| Box::leak(Box::new(Deep(self.0 + 1))) as &(dyn std::error::Error + 'static))
    }
}

#[record_errors(response)]
async fn failing() -> Result<&'static str, Deep> {
    Err(Deep(1))
}

async fn panicking() -> &'static str {
    panic!("x{}", "€".repeat(34_000))
}

#[tokio::test]
async fn every_copied_value_is_cut_to_its_cap_on_a_character_boundary() {
    let capture = capture();
    let layer = TracedLayer::new().capture_request_headers(["x-fat", "x-many-.*"]);
    let router = Router::new()
        .route("/fail", get(failing))
        .route("/panic", get(panicking))
        .route("/{*rest}", get(|| async { "ok" }))
        .layer(layer);
    let address = serve(router).await;
    // Quiet the default hook for the planted panic only.
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if !info.payload().downcast_ref::<String>().is_some_and(|message| message.starts_with("x€")) {
            hook(info);
        }
    }));

    // A 300 KB method alone (hyper reads heads up to ~400 KB), then every other fat value.
    let method = "M".repeat(300 * 1024);
    let status = raw(address, format!("{method} /m HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n").as_bytes()).await;
    assert!(status.starts_with("HTTP/1.1 405"), "{status}");
    let path = format!("/{}", "p".repeat(20_000));
    let query = format!("q={}", "%E2%82%AC".repeat(2_000));
    let mut head = format!("PUT {path}?{query} HTTP/1.1\r\nHost: {}:80\r\n", "h".repeat(50_000)).into_bytes();
    head.extend_from_slice(format!("User-Agent: {}\r\n", "u".repeat(50_000)).as_bytes());
    head.extend_from_slice(format!("X-Forwarded-For: {}, 10.0.0.1\r\n", "c".repeat(50_000)).as_bytes());
    // obs-text: bytes a header may carry that are not UTF-8 on their own, then UTF-8 `é`s.
    head.extend_from_slice(b"X-Fat: a");
    head.extend_from_slice(&[0xff; 3]);
    head.extend_from_slice("é".repeat(20_000).as_bytes());
    head.extend_from_slice(b"\r\n");
    for index in 0..60 {
        head.extend_from_slice(format!("X-Many-{index}: {}\r\n", "v".repeat(200)).as_bytes());
    }
    head.extend_from_slice(b"Connection: close\r\n\r\n");
    let status = raw(address, &head).await;
    assert!(status.starts_with("HTTP/1.1 405"), "{status}");
    for path in ["/fail", "/panic"] {
        let status =
            raw(address, format!("GET {path} HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n").as_bytes()).await;
        assert!(status.starts_with("HTTP/1.1 500"), "{path}: {status}");
    }

    let spans = server_spans(&capture, 4).await;
    let method = spans.iter().find(|span| span.name == "HTTP /{*rest}").expect("the fat method's span");
    assert_eq!(text(method, "http.request.method_original"), "M".repeat(64));
    assert_eq!(text(method, "http.request.method"), "_OTHER");
    let fat = spans.iter().find(|span| span.name == "PUT /{*rest}").expect("the fat request's span");
    for (key, cap) in [
        ("url.path", 2048),
        ("url.query", 2048),
        ("server.address", 255),
        ("client.address", 255),
        ("user_agent.original", 512),
    ] {
        let value = text(fat, key);
        assert!(value.len() <= cap && value.len() > cap - 10, "{key}: {} bytes, cap {cap}", value.len());
    }
    let headers: Vec<_> =
        fat.attributes.iter().filter(|kv| kv.key.as_str().starts_with("http.request.header.")).collect();
    let bytes: usize = headers
        .iter()
        .map(|kv| match &kv.value {
            Value::Array(Array::String(values)) => {
                for value in values {
                    assert!(value.as_str().len() <= 1024, "{}: {} bytes", kv.key, value.as_str().len());
                }
                kv.key.as_str().len() - "http.request.header.".len()
                    + values.iter().map(|value| value.as_str().len()).sum::<usize>()
            }
            other => panic!("{}: {other:?}", kv.key),
        })
        .sum();
    assert!(bytes <= 4096 && headers.len() <= 32, "{} headers, {bytes} bytes", headers.len());
    let x_fat = headers.iter().find(|kv| kv.key.as_str() == "http.request.header.x-fat").expect("x-fat");
    let Value::Array(Array::String(x_fat)) = &x_fat.value else { panic!("a string array") };
    let x_fat = x_fat[0].as_str();
    assert!(x_fat.starts_with("a\u{fffd}") && x_fat.ends_with("éé"), "lossy, cut on a boundary: {x_fat}");

    let failed = spans.iter().find(|span| span.name == "GET /fail").expect("the failing request's span");
    let message = event_value(failed, "exception.message").as_str();
    assert!(message.len() <= 8192 && message.len() > 8180, "exception.message: {} bytes", message.len());
    let Value::Array(Array::String(sources)) = event_value(failed, "exception.sources") else { panic!("sources") };
    assert_eq!(sources.len(), 32, "at most 32 sources");
    assert!(sources.iter().all(|source| source.as_str().len() <= 2048), "each source within 2048 bytes");
    let opentelemetry::trace::Status::Error { description } = &failed.status else { panic!("{:?}", failed.status) };
    assert!(description.len() <= 2048 && description.len() > 2040, "status: {} bytes", description.len());

    let panicked = spans.iter().find(|span| span.name == "GET /panic").expect("the panicking request's span");
    let message = event_value(panicked, "exception.message").as_str();
    assert!(message.len() <= 8192 && message.starts_with("x€"), "panic message: {} bytes", message.len());
    let opentelemetry::trace::Status::Error { description } = &panicked.status else { panic!("{:?}", panicked.status) };
    assert!(description.len() <= 2048, "panic status: {} bytes", description.len());
}
