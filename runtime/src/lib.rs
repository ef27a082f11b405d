//! `traced`: OpenTelemetry for axum services, with attribute macros checked at compile time and a
//! runtime that is correct, standard and cheap.
//!
//! ```
//! use traced::traced;
//!
//! #[traced(name = "load-item", attributes(item.id = item_id))]
//! fn load_item(item_id: u64) -> Result<String, std::fmt::Error> {
//!     traced::record("demo.io_delay_seconds", 0.0);
//!     Ok(format!("item {item_id}"))
//! }
//!
//! fn main() -> Result<(), traced::InitError> {
//!     // Traces, metrics and logs from the standard OTEL_* variables; flushed when the guard drops.
//!     let _telemetry = traced::Telemetry::builder().ignore_environment().disabled(true).init()?;
//!     assert_eq!(load_item(2).as_deref(), Ok("item 2"));
//!     Ok(())
//! }
//! ```
//!
//! - Macros: [`traced`] (spans around functions), [`record_errors`] (exception events, ERROR status,
//!   JSON error responses), [`traced_dependency`] and `#[derive(TracedDependency)]` (extractors whose
//!   span lives as long as the handler holds the value).
//! - Setup: [`init`] and [`Telemetry::builder`], configured by the `OTEL_*` variables ([`telemetry`]).
//! - HTTP: [`axum::TracedLayer`] (feature `axum`), `client::Client` (feature `reqwest`),
//!   [`propagation`] for other transports, [`http_settings`] for what they record (known methods,
//!   excluded URLs, captured headers).
//! - In code: [`record`], [`add_event`], [`current_trace_id`], [`spawn`] / [`FutureExt`] for spawned tasks.
//! - Tests: `testing::capture` (feature `testing`).
//!
//! The README has the quick start, every variable honoured, and the benchmarks.
#![doc(test(attr(deny(warnings))))]

#[cfg(feature = "axum")]
pub mod axum;
#[cfg(feature = "reqwest")]
pub mod client;
#[cfg(feature = "axum")]
mod dependency;
mod errors;
mod http;
// Its recorders are the server layer and the client: without them part of it has no caller.
#[cfg_attr(not(all(feature = "axum", feature = "reqwest")), allow(dead_code))]
mod privacy;
pub mod propagation;
mod span;
pub mod telemetry;
#[cfg(feature = "testing")]
pub mod testing;

#[doc(hidden)]
#[path = "private/mod.rs"]
pub mod __private;

#[cfg(feature = "axum")]
pub use dependency::{Dependency, Depends, ResolveDependency};
pub use errors::{ErrorBacktrace, PublicError};
pub use http::settings as http_settings;
#[cfg(feature = "axum")]
pub use http::{ErrorResponse, DEFAULT_ERROR_MESSAGE};
pub use span::attribute::AttributeValue;
pub use span::backend::{
    install_tracer_provider, install_tracer_provider_with_sampler, install_tracer_provider_with_sampler_and_ids,
};
pub use span::code_location::{code_attributes, set_code_attributes};
pub use span::current::{add_event, current_span_id, current_trace_id, record, spawn, FutureExt};
pub use span::id_generator::SharedIdGenerator;
pub use span::level::{set_span_level, span_level};
pub use span::sampling::SharedSampler;
pub use telemetry::{
    init, processors, Dropped, ExportReport, ExporterAccounting, InitError, ShutdownError, SignalAccounting, Telemetry,
    TelemetryGuard,
};
/// Records the `Err` of a function on the current span and, for axum handlers, answers it with the
/// JSON error response.
///
/// On `Err` the current span gets an `exception` event and status ERROR (described by the message):
///
/// | attribute | value |
/// | --- | --- |
/// | `exception.type` | the error's concrete type, e.g. `my_app::StoreError` |
/// | `exception.message` | its `Display` text |
/// | `exception.sources` | the `source()` chain, outermost first |
/// | `exception.stacktrace` | the backtrace it captured, when it implements [`ErrorBacktrace`] |
///
/// The current span is the function's own when it also has `#[traced]` (above or below
/// `#[record_errors]`, either order works), otherwise the caller's, e.g. the request's span from
/// [`axum::TracedLayer`]. Any error type works: `std::error::Error` types, `anyhow::Error`-like types
/// and `Box<dyn Error>` (with their sources), `Display`-only types (message only), anything else
/// (type only). An error implementing [`PublicError`] with a 4xx status is the client's mistake and
/// passes through unrecorded, as the semantic conventions recommend.
///
/// # Handlers: `response`
///
/// Whether the function is an axum handler is said explicitly: `response` (or any option below, which
/// only make sense for a response) makes the function return `impl IntoResponse` instead of its
/// `Result`: the `Ok` value as it is, an `Err` as [`ErrorResponse`]:
/// `{"message": "something went wrong.", "request_id": "<32-hex trace id>"}` with status 500. The error
/// text never reaches the client, and the error type needs no `IntoResponse` of its own.
///
/// | option | default | meaning |
/// | --- | --- | --- |
/// | `response` | off | answer an `Err` with the JSON error response |
/// | `status = 503` | `500` | the status, an HTTP error status (400 to 599, checked at compile time) |
/// | `message = "try later"` | `"something went wrong."` | the message of 5xx responses |
/// | `request_id = false` | `true` | whether the body carries the trace id |
///
/// An error implementing [`PublicError`] brings its own status and message; a 4xx one without a
/// message says its status' reason (`"Not Found"`).
///
/// ```
/// use axum::{extract::Path, routing::get, Json, Router};
/// use traced::{record_errors, traced};
///
/// #[derive(Debug)]
/// struct DbError;
///
/// impl std::fmt::Display for DbError {
///     fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
///         f.write_str("connection reset by the database")
///     }
/// }
///
/// impl std::error::Error for DbError {}
///
/// // Records only: the function still returns its `Result`.
/// #[record_errors]
/// #[traced]
/// fn load_price(item_id: u64) -> Result<u64, DbError> {
///     if item_id == 0 { Err(DbError) } else { Ok(item_id * 100) }
/// }
///
/// // A handler: an `Err` becomes a 500 with the trace id.
/// #[record_errors(response)]
/// async fn checkout(Path(item_id): Path<u64>) -> Result<Json<u64>, DbError> {
///     Ok(Json(load_price(item_id)?))
/// }
///
/// let app: Router = Router::new().route("/checkout/{item_id}", get(checkout));
/// # let _ = app;
/// ```
///
/// # What this expands to, written by hand
///
/// ```ignore
/// async fn checkout(Path(item_id): Path<u64>) -> impl IntoResponse {
///     // The body runs as written; `?` and `return` end up in `ret`.
///     let ret: Result<Json<u64>, DbError> = async move { /* body */ }.await;
///     // `Ok` passes; an `Err` is recorded (unless 4xx) and answered with the JSON error response.
///     // Without `response`: `observe(&ret, ..)` records, and `ret` is returned.
///     traced::__private::errors::respond(ret, &OPTIONS, |error| /* what the error's type offers */)
/// }
/// ```
///
/// # Compile-time checks
///
/// A function that cannot fail (no return type, `-> !`, a type that is not a `Result` under any
/// alias, reported at the type), an unknown or repeated option, and a `status` outside 400 to 599
/// are compile errors.
pub use traced_macros::record_errors;
/// Runs a function inside an OpenTelemetry span; the options, checks and expansion are described
/// below.
///
/// ```
/// use traced::traced;
///
/// #[derive(Debug)]
/// struct NotFound;
///
/// #[traced(name = "load-item", attributes(item.id = item_id, "query.present" = q.is_some()))]
/// fn load_item(item_id: u64, q: Option<&str>) -> Result<String, NotFound> {
///     if item_id == 0 {
///         return Err(NotFound); // status ERROR, `error.type` = the type name of `NotFound`
///     }
///     traced::record("demo.io_delay_seconds", 0.2);
///     Ok(format!("item {item_id} {}", q.unwrap_or("")))
/// }
///
/// #[traced(kind = client, attributes(peer = peer.to_owned()))]
/// async fn fetch(peer: &str) -> usize {
///     peer.len()
/// }
///
/// assert_eq!(load_item(1, Some("x")).unwrap(), "item 1 x");
/// assert!(load_item(0, None).is_err());
/// let _future = fetch("127.0.0.1");
/// ```
pub use traced_macros::traced;
/// Makes an `async fn` whose parameters are axum extractors into an extractor: a dependency whose
/// span stays open while the handler holds its value (FastAPI's `Depends` with `yield`).
///
/// The macro keeps the function as written and adds its extractor type, named after it in
/// UpperCamelCase (`fn db` gives `Db`, or `extractor = Name`): `type Db = traced::Depends<..>`.
/// A handler takes `Db` like any extractor and derefs it to the value:
///
/// * the span (named after the function, or `name = ".."`) starts when extraction starts, as a
///   child of the current span (the request's, or another dependency's that uses this one);
/// * the parameters are extracted inside it, so a dependency used as a parameter becomes a child;
/// * `attributes(key = value, ..)` are recorded as in [`traced`](macro@traced), evaluated once the
///   parameters are extracted (over them, by reference), before the function runs;
/// * the function returns the value, or `Result<value, E>` with `E: IntoResponse` (a return type
///   whose name ends in `Result`): an `Err` is recorded on the span as [`record_errors`] does (unless
///   its response is a 4xx) and rejects the request with the error's response;
/// * the span ends when the handler drops the value, after the value's own `Drop` (a connection
///   returns to its pool inside the span). [`Depends::into_inner`] ends it early.
///
/// The handler's own spans are children of the request's span; run work inside the dependency's span
/// with [`Depends::in_span`].
///
/// | option | default | meaning |
/// | --- | --- | --- |
/// | `name = "database_operation"` | the function's name | the span name |
/// | `attributes(db.system.name = "postgresql")` | none | attributes, as for `#[traced]` |
/// | `extractor = Db` | the name in UpperCamelCase | the extractor type's name |
/// | `state = AppState` | the `T` of a `State<T>` parameter, else `()` | the state parameters are checked against |
///
/// ```
/// use axum::extract::{FromRef, State};
/// use axum::{http::StatusCode, routing::get, Router};
/// use traced::traced_dependency;
///
/// #[derive(Clone)]
/// struct Pool;
/// struct Conn;
///
/// #[derive(Clone)]
/// struct AppState { pool: Pool }
///
/// impl FromRef<AppState> for Pool {
///     fn from_ref(state: &AppState) -> Pool { state.pool.clone() }
/// }
///
/// #[traced_dependency(name = "database_operation", attributes(db.system.name = "postgresql"))]
/// async fn db(State(_pool): State<Pool>) -> Result<Conn, StatusCode> {
///     Ok(Conn) // e.g. `pool.get().await.map_err(|_| StatusCode::SERVICE_UNAVAILABLE)`
/// }
///
/// // The `database_operation` span is open while `conn` is alive.
/// async fn items(conn: Db) -> &'static str {
///     let _conn: &Conn = &conn;
///     "items"
/// }
///
/// let app: Router = Router::new().route("/items", get(items)).with_state(AppState { pool: Pool });
/// # let _ = app;
/// ```
///
/// # What this expands to, written by hand
///
/// ```ignore
/// async fn db(State(pool): State<Pool>) -> Result<Conn, StatusCode> { /* as written */ }
///
/// struct __TracedDependencyDb {}
/// type Db = traced::Depends<__TracedDependencyDb>;
///
/// impl traced::Dependency for __TracedDependencyDb {
///     type Value = Conn;                       // the `Ok` type
///     fn site() -> &'static Site { /* the span name */ }
/// }
///
/// impl<S: Send + Sync> traced::ResolveDependency<S> for __TracedDependencyDb
/// where State<Pool>: FromRequestParts<S>
/// {
///     async fn resolve(parts: &mut Parts, state: &S) -> Result<Conn, Response> {
///         let a0 = State::<Pool>::from_request_parts(parts, state).await.map_err(IntoResponse::into_response)?;
///         /* record the attributes */
///         db(a0).await.map_err(/* record the error, then */ IntoResponse::into_response)
///     }
/// }
/// ```
///
/// # Compile-time checks
///
/// A function that is not `async`, is generic or takes `self`, returns `impl Trait`, an unknown or
/// repeated option, and a parameter that is not an extractor (checked against the `state` above;
/// body extractors like `Json` are not allowed: a dependency sees only the request head) are
/// compile errors pointing at the culprit.
#[cfg(feature = "axum")]
pub use traced_macros::traced_dependency;
/// A dependency made of a struct whose fields are extractors (dependencies included), used in
/// handlers as [`Depends<YourStruct>`](Depends): one span while the handler holds it, and with
/// `field_spans` one child span per field's extraction, named `{span name}.{field}`.
///
/// Options, in `#[dependency(...)]`: `name = ".."` (default: the struct's name), `field_spans`,
/// `state = AppState` (as for [`traced_dependency`]).
///
/// ```
/// use axum::{extract::Path, http::HeaderMap, routing::get, Router};
/// use traced::{Depends, TracedDependency};
///
/// #[derive(TracedDependency)]
/// #[dependency(name = "request_context", field_spans)]
/// struct RequestContext {
///     headers: HeaderMap,
///     item_id: Path<u64>,
/// }
///
/// async fn item(context: Depends<RequestContext>) -> String {
///     format!("{} headers for item {}", context.headers.len(), context.item_id.0)
/// }
///
/// let app: Router = Router::new().route("/items/{item_id}", get(item));
/// # let _ = app;
/// ```
#[cfg(feature = "axum")]
pub use traced_macros::TracedDependency;
