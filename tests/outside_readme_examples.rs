//! Every Rust example of the README, copied as written (placeholders such as `Item`, `Pool` or
//! `HighPriority` get the smallest definitions that fit), built under `#![deny(warnings)]` the way a
//! user's crate would build them, and run where they can run in a test. When an example changes in
//! the README, change it here too.
#![deny(warnings)]

/// The first screen.
mod first_screen {
    use traced::traced;

    pub struct Item;

    #[traced(name = "load-item", attributes(item.id = item_id))]
    pub async fn load_item(item_id: u64, q: Option<String>) -> Item {
        traced::record("demo.io_delay_seconds", 0.2);
        let _ = q;
        Item
    }
}

/// `#[traced]`.
mod traced_section {
    use traced::traced;

    pub struct Config;
    #[derive(Debug)]
    pub struct ParseError;
    pub struct Item;

    #[traced] // span "parse", kind INTERNAL
    pub fn parse(input: &str) -> Result<Config, ParseError> {
        if input.is_empty() {
            Err(ParseError)
        } else {
            Ok(Config)
        }
    }

    #[traced(name = "load-item", kind = client, attributes(item.id = item_id, "http.route" = "/items/{id}", q))]
    pub async fn load_item(item_id: u64, q: Option<&str>) -> Item {
        Item
    }
}

/// `#[traced]` on an impl block.
mod impl_block_section {
    use traced::traced;

    pub trait Row: Clone {}
    #[derive(Debug)]
    pub struct DbError;
    pub struct Repo<T> {
        pub rows: Vec<T>,
    }

    #[traced(kind = client, attributes(db.system.name = "postgresql"))]
    impl<T: Row> Repo<T> {
        pub async fn get(&self, id: u64) -> Result<T, DbError> {
            self.rows.get(usize::try_from(id).map_err(|_| DbError)?).cloned().ok_or(DbError)
        }
        #[traced(name = "repo-scan", level = debug)]
        pub fn scan(&self) -> Vec<T> {
            self.rows.clone()
        }
        #[traced(skip)]
        pub fn len(&self) -> usize {
            self.rows.len()
        }
    }
}

/// Configuration: `init()` and the builder (built, not run: they install process-wide telemetry).
mod configuration {
    pub fn main() -> Result<(), traced::InitError> {
        let _telemetry = traced::init()?;
        // ...
        Ok(())
    }

    /// The README's own `ShouldSample` stands here; any sampler value fits (`init_config` tests a real
    /// `high_priority` one).
    #[allow(non_upper_case_globals)]
    const HighPriority: opentelemetry_sdk::trace::Sampler = opentelemetry_sdk::trace::Sampler::AlwaysOn;

    pub fn builder() -> Result<(), traced::InitError> {
        use opentelemetry::KeyValue;
        use opentelemetry_sdk::trace::Sampler;
        use traced::processors::Redaction;

        let _telemetry = traced::Telemetry::builder()
            .service_name("checkout")
            .common_attributes([KeyValue::new("deployment.region", "eu-west-1")]) // on every span, at start
            .redact(Redaction::new().keys(["user.email"]).span_names(["login"])) // values become "[REDACTED]"
            .custom_sampler(Sampler::ParentBased(Box::new(HighPriority))) // your `ShouldSample`
            .init()?;
        Ok(())
    }
}

/// axum (built, not run: it binds port 8000 and calls `init()`).
mod axum_section {
    use axum::{extract::State, routing::get, Router};
    use traced::axum::{ExcludedUrls, TracedLayer};

    async fn external_api(State(client): State<traced::client::Client>) -> String {
        // CLIENT span + `traceparent`: the other service's server span becomes its child.
        let response = client.get("http://127.0.0.1:8001/items/1").send().await;
        response.map(|_| "ok".into()).unwrap_or_else(|error| error.to_string())
    }

    #[tokio::main]
    pub async fn main() -> Result<(), Box<dyn std::error::Error>> {
        let _telemetry = traced::init()?; // before the layer: it takes its instruments from the meter provider
        let app = Router::new()
            .route("/items/{item_id}", get(|| async { "item" }))
            .route("/external-api", get(external_api))
            .route("/health", get(|| async { "ok" }))
            .layer(
                TracedLayer::new()
                    .excluded_urls(ExcludedUrls::parse("health,ping")?)
                    .capture_request_headers(["x-request-id"])
                    .trace_response_header(true),
            )
            .with_state(traced::client::Client::new());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:8000").await?;
        axum::serve(listener, app.into_make_service_with_connect_info::<std::net::SocketAddr>()).await?;
        Ok(())
    }
}

/// Errors and dependencies.
mod errors_section {
    use axum::{
        extract::{Path, State},
        http::StatusCode,
        Json,
    };
    use traced::{record_errors, traced, traced_dependency, Depends, TracedDependency};

    #[derive(Clone)]
    pub struct Pool;
    pub struct Conn;

    impl Pool {
        async fn get(&self) -> Result<Conn, std::io::Error> {
            Ok(Conn)
        }
    }

    #[derive(serde::Serialize)]
    pub struct Receipt {
        item_id: u64,
    }

    #[derive(Debug)]
    pub struct AppError;

    async fn charge(_conn: &Conn, item_id: u64) -> Result<Receipt, AppError> {
        if item_id == 0 {
            Err(AppError)
        } else {
            Ok(Receipt { item_id })
        }
    }

    #[traced_dependency(name = "database_operation", attributes(db.system.name = "postgresql"))]
    async fn db(State(pool): State<Pool>) -> Result<Conn, StatusCode> {
        pool.get().await.map_err(|_| StatusCode::SERVICE_UNAVAILABLE)
    }

    #[derive(TracedDependency)]
    #[dependency(field_spans)] // one child span per field
    struct Checkout {
        conn: Db,
        item_id: Path<u64>,
    }

    #[record_errors(response)] // AppError needs no IntoResponse: the client sees the JSON body only
    #[traced(name = "checkout")]
    async fn checkout(checkout: Depends<Checkout>) -> Result<Json<Receipt>, AppError> {
        Ok(Json(charge(&checkout.conn, checkout.item_id.0).await?))
    } // the `database_operation` span ends here, when `checkout` is dropped

    pub fn router() -> axum::Router {
        axum::Router::new().route("/checkout/{item_id}", axum::routing::get(checkout)).with_state(Pool)
    }
}

/// The examples that only build are still referenced, so `dead_code` stays quiet about them.
#[test]
fn the_examples_that_install_telemetry_build() {
    let mains: [fn() -> Result<(), traced::InitError>; 2] = [configuration::main, configuration::builder];
    let _ = (mains, axum_section::main as fn() -> Result<(), Box<dyn std::error::Error>>);
    let _ = (first_screen::load_item(1, None), traced_section::parse(""));
}

#[tokio::test]
async fn the_testing_example_passes_as_written() {
    use traced_section::load_item;

    let capture = traced::testing::capture();
    load_item(2, None).await;
    assert_eq!(capture.span("load-item").attributes[0].key.as_str(), "item.id");
}

#[tokio::test]
async fn the_errors_example_answers_and_records_as_the_readme_says() {
    let capture = traced::testing::capture();
    let app = errors_section::router().layer(traced::axum::TracedLayer::new());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("an ephemeral port");
    let address = listener.local_addr().expect("a bound address");
    tokio::spawn(async move { axum::serve(listener, app).await });
    let client = reqwest::Client::new();

    let paid = client.get(format!("http://{address}/checkout/7")).send().await.expect("the server answers");
    assert_eq!(paid.status(), 200);
    assert_eq!(paid.json::<serde_json::Value>().await.expect("a JSON receipt"), serde_json::json!({"item_id": 7}));
    let server = capture.span("GET /checkout/{item_id}");
    let checkout = capture.span("checkout");
    let database = capture.span("database_operation");
    assert_eq!(checkout.parent_span_id, server.span_context.span_id());
    assert_eq!(capture.span("Checkout.conn").span_context.span_id(), database.parent_span_id, "field_spans");
    // Open while the handler holds the connection: it ends when `checkout` is dropped, at the end of its body.
    assert!(database.end_time > checkout.start_time, "the dependency's span outlives its extraction");
    assert!(database.end_time <= server.end_time);

    capture.clear();
    let failed = client.get(format!("http://{address}/checkout/0")).send().await.expect("the server answers");
    assert_eq!(failed.status(), 500);
    let body: serde_json::Value = failed.json().await.expect("the JSON error body");
    let trace_id = capture.span("GET /checkout/{item_id}").span_context.trace_id().to_string();
    assert_eq!(body, serde_json::json!({"message": "something went wrong.", "request_id": trace_id}));
    assert!(capture.span("checkout").events.iter().any(|event| event.name == "exception"));
}

#[tokio::test]
async fn the_impl_block_example_traces_as_its_comments_say() {
    use impl_block_section::{Repo, Row};
    #[derive(Clone)]
    struct Line;
    impl Row for Line {}

    let capture = traced::testing::capture();
    let repo = Repo { rows: vec![Line] };
    assert!(repo.get(0).await.is_ok());
    assert_eq!(repo.len(), 1);
    let _restored = SpanLevelRestored(traced::span_level());
    traced::set_span_level(tracing::level_filters::LevelFilter::DEBUG);
    assert_eq!(repo.scan().len(), 1);
    let get = capture.span("Repo::get");
    assert_eq!(get.span_kind, opentelemetry::trace::SpanKind::Client);
    assert_eq!(capture.span("repo-scan").span_kind, opentelemetry::trace::SpanKind::Client);
    assert_eq!(capture.spans().len(), 2, "no span for `len`");
}

/// Puts the span level back before the capture lets another test run.
struct SpanLevelRestored(tracing::level_filters::LevelFilter);

impl Drop for SpanLevelRestored {
    fn drop(&mut self) {
        traced::set_span_level(self.0);
    }
}
