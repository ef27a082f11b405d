//! `?`, early `return`, `Result` through aliases, and functions that never return (sync and async).

use traced::traced;

#[derive(Debug, PartialEq)]
struct NotFound;

impl From<std::num::ParseIntError> for NotFound {
    fn from(_: std::num::ParseIntError) -> Self {
        NotFound
    }
}

type AppResult<T> = Result<T, NotFound>;

#[traced]
fn parse_id(text: &str) -> AppResult<u64> {
    let id: u64 = text.trim().parse()?;
    if id == 0 {
        return Err(NotFound);
    }
    Ok(id)
}

#[traced]
fn read(path: &str) -> std::io::Result<String> {
    std::fs::read_to_string(path)
}

#[traced]
fn first_even(values: &[u32]) -> Option<u32> {
    for value in values {
        if value % 2 == 0 {
            return Some(*value);
        }
    }
    None
}

#[traced]
async fn parse_later(text: String) -> Result<u64, Box<dyn std::error::Error + Send + Sync>> {
    tokio::task::yield_now().await;
    let id: u64 = text.parse()?;
    if id > 100 {
        return Err("too large".into());
    }
    Ok(id)
}

#[traced]
fn exit_code(code: i32) -> ! {
    std::process::exit(code)
}

#[traced]
async fn serve_forever(mut requests: tokio::sync::mpsc::Receiver<u32>) -> ! {
    loop {
        match requests.recv().await {
            Some(request) => assert!(request < 10),
            None => panic!("the sender is gone"),
        }
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    assert_eq!(parse_id(" 7 "), Ok(7));
    assert_eq!(parse_id("0"), Err(NotFound));
    assert_eq!(parse_id("x"), Err(NotFound));
    assert!(read("/definitely/not/here").is_err());
    assert_eq!(first_even(&[1, 4, 6]), Some(4));
    assert_eq!(parse_later("5".into()).await.ok(), Some(5));
    assert!(parse_later("500".into()).await.is_err());
    if std::env::args().count() > 99 {
        exit_code(1);
    }
    // The server ends by panicking; keep its message out of the test output.
    std::panic::set_hook(Box::new(|_| {}));
    let (sender, requests) = tokio::sync::mpsc::channel(1);
    let server = tokio::spawn(serve_forever(requests));
    sender.send(1).await.expect("the server is listening");
    drop(sender);
    assert!(server.await.is_err_and(|error| error.is_panic()));
}
