//! Every form `#[record_errors]` accepts compiles and behaves: sync and async, aliases of `Result`,
//! `?` with conversions, `return`, methods, `#[traced]` in either order, handlers in response mode,
//! and a module that shadows the prelude names generated code must not rely on.

use std::fmt;

use traced::{record_errors, traced};

#[derive(Debug)]
struct AppError;

impl fmt::Display for AppError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("app error")
    }
}

impl From<std::num::ParseIntError> for AppError {
    fn from(_: std::num::ParseIntError) -> Self {
        AppError
    }
}

type AppResult<T> = std::result::Result<T, AppError>;

#[record_errors]
fn parse(text: &str) -> AppResult<u32> {
    if text.is_empty() {
        return Err(AppError);
    }
    Ok(text.parse::<u32>()?)
}

#[record_errors]
async fn parse_later(text: String) -> Result<u32, AppError> {
    let value = text.parse::<u32>()?;
    Ok(value)
}

#[traced]
#[record_errors]
fn traced_above(text: &str) -> std::io::Result<usize> {
    Ok(text.len())
}

#[record_errors]
#[traced]
async fn traced_below(text: &str) -> Result<&str, Box<dyn std::error::Error + Send + Sync>> {
    Ok(text)
}

struct Store {
    items: Vec<u32>,
}

impl Store {
    #[record_errors]
    fn first(&mut self) -> Result<&mut u32, AppError> {
        self.items.first_mut().ok_or(AppError)
    }
}

#[async_trait::async_trait]
trait Repository {
    async fn load(&self, id: u32) -> Result<u32, AppError>;
}

#[async_trait::async_trait]
impl Repository for Store {
    #[record_errors]
    async fn load(&self, id: u32) -> Result<u32, AppError> {
        self.items.get(id as usize).copied().ok_or(AppError)
    }
}

#[record_errors]
fn generic<E: std::error::Error>(result: Result<u8, E>) -> Result<u8, E> {
    result
}

#[record_errors(response)]
async fn handler(axum::extract::Path(id): axum::extract::Path<u32>) -> Result<String, AppError> {
    Ok(id.to_string())
}

#[record_errors(status = 503, message = "later", request_id = false)]
fn sync_handler() -> Result<&'static str, AppError> {
    Ok("ok")
}

mod shadowing {
    #![allow(dead_code)]
    type Result = ();
    type Option = ();
    type Box = ();
    mod opentelemetry {}
    mod core {}

    #[traced::record_errors]
    pub fn checked(fail: bool) -> ::core::result::Result<u8, ::std::string::String> {
        if fail { Err("no".into()) } else { Ok(1) }
    }

    #[traced::record_errors(response)]
    pub async fn checked_handler() -> ::core::result::Result<&'static str, ::std::string::String> {
        Ok("ok")
    }
}

fn main() {
    assert_eq!(parse("42").ok(), Some(42));
    assert!(parse("").is_err());
    assert!(parse("x").is_err());
    assert_eq!(traced_above("abc").ok(), Some(3));
    let mut store = Store { items: vec![1] };
    *store.first().unwrap_or(&mut 0) += 1;
    assert_eq!(store.items, [2]);
    assert_eq!(shadowing::checked(false).ok(), Some(1));
    let _ = (parse_later(String::new()), traced_below("x"), handler(axum::extract::Path(1)), shadowing::checked_handler());
    let _ = sync_handler();
    let _ = store.load(0);
    assert_eq!(generic::<std::fmt::Error>(Ok(3)).ok(), Some(3));
    let _: axum::Router = axum::Router::new().route("/{id}", axum::routing::get(handler));
}
