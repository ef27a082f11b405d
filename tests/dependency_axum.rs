//! `#[traced_dependency]` and `#[derive(TracedDependency)]` over real TCP: the dependency's span is a
//! child of the server span, starts before and ends after the handler's use of the value, nests
//! dependencies, records attributes, and an `Err` rejects the request with the error's response.

mod axum_support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use axum::extract::{FromRef, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use opentelemetry::trace::{SpanKind, Status};
use opentelemetry::Value;
use opentelemetry_sdk::trace::SpanData;

use axum_support::{attr, capture, serve, server_span, string};
use traced::axum::TracedLayer;
use traced::{traced, traced_dependency, Depends, TracedDependency};

#[derive(Clone, Default)]
struct Pool {
    available: Arc<AtomicUsize>,
}

#[derive(Clone)]
struct AppState {
    pool: Pool,
}

impl FromRef<AppState> for Pool {
    fn from_ref(state: &AppState) -> Pool {
        state.pool.clone()
    }
}

/// A connection that goes back to the pool when dropped.
struct Conn {
    pool: Pool,
}

impl Drop for Conn {
    fn drop(&mut self) {
        self.pool.available.fetch_add(1, Ordering::SeqCst);
    }
}

#[derive(Debug)]
struct PoolExhausted;

impl std::fmt::Display for PoolExhausted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("no connection available")
    }
}

impl IntoResponse for PoolExhausted {
    fn into_response(self) -> Response {
        (StatusCode::SERVICE_UNAVAILABLE, "busy").into_response()
    }
}

#[traced_dependency(name = "database_operation", attributes(db.system.name = "postgresql", pool.available = available(pool)))]
async fn db(State(pool): State<Pool>) -> Result<Conn, PoolExhausted> {
    let taken = pool.available.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1));
    match taken {
        Ok(_) => Ok(Conn { pool }),
        Err(_) => Err(PoolExhausted),
    }
}

fn available(pool: &Pool) -> i64 {
    i64::try_from(pool.available.load(Ordering::SeqCst)).unwrap_or(i64::MAX)
}

struct User(String);

#[derive(Debug)]
struct Unauthorized;

impl IntoResponse for Unauthorized {
    fn into_response(self) -> Response {
        (StatusCode::UNAUTHORIZED, "who are you?").into_response()
    }
}

/// Depends on another dependency: its span is the parent of `database_operation`.
#[traced_dependency]
async fn current_user(headers: HeaderMap, _db: Db) -> Result<User, Unauthorized> {
    let name = headers.get("x-user").and_then(|value| value.to_str().ok()).ok_or(Unauthorized)?;
    Ok(User(name.to_owned()))
}

#[traced]
async fn query(_conn: &Conn, id: u64) -> String {
    format!("item {id}")
}

async fn item(Path(id): Path<u64>, conn: Db) -> String {
    query(&conn, id).await
}

/// Work run with `in_span` becomes the dependency's child.
async fn item_in_span(Path(id): Path<u64>, conn: Db) -> String {
    conn.in_span(query(&conn, id)).await
}

async fn whoami(user: CurrentUser) -> String {
    user.0.clone()
}

#[derive(TracedDependency)]
#[dependency(name = "request_context", field_spans)]
struct RequestContext {
    user: CurrentUser,
    item: Path<u64>,
}

async fn context(context: Depends<RequestContext>) -> String {
    format!("{} wants {}", context.user.0, context.item.0)
}

fn app(pool: Pool) -> Router {
    Router::new()
        .route("/items/{id}", get(item))
        .route("/in-span/{id}", get(item_in_span))
        .route("/whoami", get(whoami))
        .route("/context/{id}", get(context))
        .with_state(AppState { pool })
        .layer(TracedLayer::new())
}

fn pool(connections: usize) -> Pool {
    Pool { available: Arc::new(AtomicUsize::new(connections)) }
}

fn named<'a>(spans: &'a [SpanData], name: &str) -> &'a SpanData {
    let mut matching = spans.iter().filter(|span| span.name == name);
    match (matching.next(), matching.next()) {
        (Some(span), None) => span,
        _ => {
            panic!("expected one span named {name:?} in {:?}", spans.iter().map(|span| &span.name).collect::<Vec<_>>())
        }
    }
}

#[tokio::test]
async fn the_dependency_span_encloses_the_handlers_use_of_the_value() {
    let capture = capture();
    let pool = pool(1);
    let address = serve(app(pool.clone())).await;
    let response = reqwest::get(format!("http://{address}/items/7")).await.expect("request");
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.expect("body"), "item 7");

    let server = server_span(&capture).await;
    let spans = capture.spans();
    let dependency = named(&spans, "database_operation");
    let handler_use = named(&spans, "query");
    assert_eq!(dependency.span_kind, SpanKind::Internal);
    assert_eq!(dependency.parent_span_id, server.span_context.span_id());
    assert_eq!(dependency.span_context.trace_id(), server.span_context.trace_id());
    assert!(dependency.start_time <= handler_use.start_time, "the span starts when extraction starts");
    assert!(handler_use.end_time <= dependency.end_time, "the span ends when the handler drops the value");
    assert!(dependency.end_time <= server.end_time);
    assert_eq!(attr(dependency, "db.system.name"), string("postgresql"));
    assert_eq!(
        attr(dependency, "pool.available"),
        Some(Value::I64(1)),
        "evaluated over the extracted parameters, before the function runs"
    );
    assert_eq!(pool.available.load(Ordering::SeqCst), 1, "the connection went back to the pool");
    assert_eq!(dependency.status, Status::Unset);
}

#[tokio::test]
async fn an_err_rejects_the_request_with_the_errors_response_and_is_recorded() {
    let capture = capture();
    let address = serve(app(pool(0))).await;
    let response = reqwest::get(format!("http://{address}/items/7")).await.expect("request");
    assert_eq!(response.status(), 503);
    assert_eq!(response.text().await.expect("body"), "busy");

    let server = server_span(&capture).await;
    let spans = capture.spans();
    let dependency = named(&spans, "database_operation");
    assert_eq!(dependency.parent_span_id, server.span_context.span_id());
    assert_eq!(dependency.status, Status::error("no connection available"));
    let event = dependency.events.iter().find(|event| event.name == "exception").expect("an exception event");
    let exception_type =
        event.attributes.iter().find(|kv| kv.key.as_str() == "exception.type").map(|kv| kv.value.to_string());
    assert_eq!(exception_type.as_deref(), Some("dependency_axum::PoolExhausted"));
    assert!(spans.iter().all(|span| span.name != "query"), "the handler did not run");
}

#[tokio::test]
async fn dependencies_nest_and_a_4xx_rejection_is_not_recorded() {
    let capture = capture();
    let address = serve(app(pool(1))).await;
    let client = reqwest::Client::new();
    let response =
        client.get(format!("http://{address}/whoami")).header("x-user", "ada").send().await.expect("request");
    assert_eq!(response.text().await.expect("body"), "ada");
    let server = server_span(&capture).await;
    let spans = capture.spans();
    let user = named(&spans, "current_user");
    assert_eq!(user.parent_span_id, server.span_context.span_id());
    assert_eq!(named(&spans, "database_operation").parent_span_id, user.span_context.span_id());
    capture.clear();

    let response = client.get(format!("http://{address}/whoami")).send().await.expect("request");
    assert_eq!(response.status(), 401);
    assert_eq!(response.text().await.expect("body"), "who are you?");
    server_span(&capture).await;
    let spans = capture.spans();
    let user = named(&spans, "current_user");
    assert!(user.events.iter().all(|event| event.name != "exception"), "a 401 is the client's error");
    assert_eq!(user.status, Status::Unset);
}

#[tokio::test]
async fn a_derived_dependency_gets_one_span_and_a_child_per_field() {
    let capture = capture();
    let address = serve(app(pool(1))).await;
    let response = reqwest::Client::new()
        .get(format!("http://{address}/context/3"))
        .header("x-user", "ada")
        .send()
        .await
        .expect("request");
    assert_eq!(response.text().await.expect("body"), "ada wants 3");
    let server = server_span(&capture).await;
    let spans = capture.spans();
    let context = named(&spans, "request_context");
    assert_eq!(context.parent_span_id, server.span_context.span_id());
    let user_field = named(&spans, "request_context.user");
    assert_eq!(user_field.parent_span_id, context.span_context.span_id());
    assert_eq!(named(&spans, "request_context.item").parent_span_id, context.span_context.span_id());
    assert_eq!(named(&spans, "current_user").parent_span_id, user_field.span_context.span_id());
}

#[tokio::test]
async fn work_run_in_the_dependencys_span_is_its_child() {
    let capture = capture();
    let address = serve(app(pool(1))).await;
    let response = reqwest::get(format!("http://{address}/in-span/5")).await.expect("request");
    assert_eq!(response.text().await.expect("body"), "item 5");
    server_span(&capture).await;
    let spans = capture.spans();
    assert_eq!(named(&spans, "query").parent_span_id, named(&spans, "database_operation").span_context.span_id());
}

#[derive(TracedDependency)]
#[dependency(field_spans)]
struct Tagged {
    r#type: HeaderMap,
}

#[tokio::test]
async fn a_field_named_with_a_raw_identifier_names_its_span_as_the_language_names_it() {
    use axum::extract::FromRequestParts as _;
    let capture = capture();
    let (mut parts, ()) = axum::http::Request::new(()).into_parts();
    let tagged = Depends::<Tagged>::from_request_parts(&mut parts, &()).await;
    assert!(tagged.is_ok_and(|tagged| tagged.r#type.is_empty()));
    let spans = capture.spans();
    assert_eq!(named(&spans, "Tagged.type").parent_span_id, named(&spans, "Tagged").span_context.span_id());
}
