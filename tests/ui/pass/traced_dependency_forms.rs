//! The forms `#[traced_dependency]` and `#[derive(TracedDependency)]` accept compile and can be used
//! as extractors: values and `Result`s, `State` with a sub-state, nested dependencies, a named
//! extractor, `state = ..`, tuple structs, and a module that shadows prelude names.

use axum::extract::{FromRef, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use axum::Router;
use traced::{traced_dependency, Depends, TracedDependency};

#[derive(Clone)]
struct Pool;

#[derive(Clone)]
struct AppState {
    pool: Pool,
}

impl FromRef<AppState> for Pool {
    fn from_ref(state: &AppState) -> Pool {
        state.pool.clone()
    }
}

struct Conn;

#[traced_dependency(name = "database_operation", attributes(db.system.name = "postgresql"))]
async fn db(State(_pool): State<Pool>) -> Result<Conn, StatusCode> {
    Ok(Conn)
}

#[traced_dependency(extractor = RequestId, attributes(header.count = headers.len()))]
async fn request_id(headers: HeaderMap) -> String {
    headers.get("x-request-id").and_then(|value| value.to_str().ok()).unwrap_or_default().to_owned()
}

#[traced_dependency]
async fn nothing_returned(_id: RequestId) {}

#[traced_dependency(state = AppState)]
async fn state_only(State(state): State<AppState>, _db: Db) -> Pool {
    state.pool
}

#[derive(TracedDependency)]
struct Context {
    id: RequestId,
    item: Path<u64>,
}

#[derive(TracedDependency)]
#[dependency(name = "pair", field_spans)]
struct Pair(Db, RequestId);

mod shadowing {
    #![allow(dead_code)]
    type Result = ();
    type Option = ();
    type Send = ();
    mod core {}

    #[traced::traced_dependency]
    pub async fn shadowed(_headers: axum::http::HeaderMap) -> ::core::result::Result<u8, axum::http::StatusCode> {
        Ok(1)
    }
}

async fn handler(
    conn: Db,
    id: RequestId,
    _nothing: NothingReturned,
    pool: StateOnly,
    context: Depends<Context>,
    pair: Depends<Pair>,
    shadowed: shadowing::Shadowed,
) -> String {
    let Conn = &*conn;
    let Pool = &*pool;
    let (Conn, ids) = (&*pair.0, &*pair.1);
    format!("{} {} {} {ids} {}", *id, *context.id, context.item.0, *shadowed)
}

fn main() {
    let _: Router = Router::new().route("/{id}", get(handler)).with_state(AppState { pool: Pool });
}
