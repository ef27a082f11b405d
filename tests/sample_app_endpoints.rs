//! The sample app in-process on an ephemeral 127.0.0.1 port: every endpoint's status and body, and
//! the spans it produced, captured in memory.
//!
//! Every test takes `traced::testing::capture()`: the tracer provider is process-wide, so the tests
//! of this binary take turns and each sees only its own spans.

use std::time::Duration;

use axum::extract::Request;
use axum::middleware::{from_fn, Next};
use opentelemetry::trace::{SpanId, SpanKind, Status};
use opentelemetry::Value;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SpanData;
use serde_json::json;
use tokio::net::TcpListener;
use traced_examples::app::{AppConfig, RunningApp, SampleApp};

async fn start(config: AppConfig) -> RunningApp {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind an ephemeral port");
    SampleApp::start(config).await.expect("start the app").spawn(listener).expect("serve")
}

fn quick() -> AppConfig {
    AppConfig { io_delay: Duration::from_millis(5), ..AppConfig::default() }
}

fn attribute(span: &SpanData, key: &str) -> Option<Value> {
    span.attributes.iter().find(|kv| kv.key.as_str() == key).map(|kv| kv.value.clone())
}

fn is_trace_id(id: &str) -> bool {
    id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()) && id.bytes().any(|b| b != b'0')
}

async fn get(app: &RunningApp, path: &str) -> (u16, serde_json::Value) {
    let response = reqwest::get(app.url(path)).await.expect("the app answers");
    let status = response.status().as_u16();
    let body = response.json().await.unwrap_or_default();
    (status, body)
}

#[tokio::test]
async fn every_endpoint_answers_like_the_guides_app() {
    let _capture = traced::testing::capture();
    let app = start(quick()).await;

    assert_eq!(get(&app, "/").await, (200, json!({ "message": "Hello World" })));
    assert_eq!(get(&app, "/ping").await, (200, json!({ "ping": "pong" })));
    assert_eq!(get(&app, "/items/2?q=shoes").await, (200, json!({ "item_id": 2, "q": "shoes" })));
    assert_eq!(get(&app, "/items/3").await, (200, json!({ "item_id": 3, "q": null })));
    assert_eq!(get(&app, "/users/1").await, (200, json!({ "id": 1, "name": "Ada" })));

    let (status, todo) = get(&app, "/external-api").await;
    assert_eq!(status, 200);
    assert_eq!((&todo["id"], &todo["title"]), (&json!(1), &json!("observe the sample app")));

    let (status, error) = get(&app, "/exception").await;
    assert_eq!(status, 500);
    assert_eq!(error["message"], "something went wrong.");
    assert!(error["request_id"].as_str().is_some_and(is_trace_id), "{error}");
    assert_eq!(error.as_object().map(|o| o.len()), Some(2), "nothing but message and request_id: {error}");

    app.stop().await.expect("graceful stop");
}

#[tokio::test]
async fn spans_name_the_routes_and_join_the_external_call_into_one_trace() {
    let capture = traced::testing::capture();
    // What `traced::init()` sets up; without it the call out would carry no `traceparent`.
    traced::propagation::set_text_map_propagator(TraceContextPropagator::new());
    let app = start(quick()).await;
    for path in ["/", "/ping", "/items/2?q=shoes", "/items/3", "/users/1", "/external-api"] {
        assert_eq!(get(&app, path).await.0, 200, "{path}");
    }
    let (_, error) = get(&app, "/exception").await;
    // Stopping waits for every response to finish, so every server span has ended.
    app.stop().await.expect("graceful stop");

    for route in ["GET /", "GET /ping", "GET /users/{user_id}"] {
        let span = capture.span(route);
        assert_eq!((span.span_kind, span.parent_span_id), (SpanKind::Server, SpanId::INVALID), "{route}");
    }

    // Even ids sleep and say for how long on `load-item`; odd ids do not.
    let items = capture.spans_named("GET /items/{item_id}");
    assert_eq!(items.len(), 2);
    let loads = capture.spans_named("load-item");
    assert_eq!(loads.len(), 2);
    for load in &loads {
        let item_id = attribute(load, "item.id").expect("item.id on load-item");
        let parent = items.iter().find(|item| item.span_context.span_id() == load.parent_span_id);
        assert!(parent.is_some(), "load-item {item_id} is a child of its server span");
        let delay = attribute(load, "demo.io_delay_seconds");
        match item_id {
            Value::I64(2) => assert_eq!(delay, Some(Value::F64(0.005))),
            Value::I64(3) => assert_eq!(delay, None),
            other => panic!("unexpected item.id {other:?}"),
        }
    }

    let exception = capture.span("GET /exception");
    assert_eq!(error["request_id"], exception.span_context.trace_id().to_string());
    assert!(matches!(exception.status, Status::Error { .. }), "{:?}", exception.status);
    let event = exception.events.iter().find(|e| e.name == "exception").expect("an exception event");
    let event_attribute =
        |key: &str| event.attributes.iter().find(|kv| kv.key.as_str() == key).map(|kv| kv.value.to_string());
    assert_eq!(event_attribute("exception.message").as_deref(), Some("this is a test exception"));
    assert!(event_attribute("exception.type").is_some_and(|t| t.ends_with("AppError")), "{event:?}");

    // The dependency's span is a child of the request's and encloses the handler's use of it.
    let user = capture.span("GET /users/{user_id}");
    let database = capture.span("database_operation");
    assert_eq!(database.parent_span_id, user.span_context.span_id());
    assert_eq!(attribute(&database, "db.namespace"), Some(Value::from("demo")));
    assert!(database.start_time >= user.start_time && database.end_time <= user.end_time);

    let outer = capture.span("GET /external-api");
    let trace = capture.trace(outer.span_context.trace_id());
    let client = trace.iter().find(|span| span.span_kind == SpanKind::Client).expect("a CLIENT span");
    let downstream = capture.span("GET /todos/{id}");
    assert_eq!(client.parent_span_id, outer.span_context.span_id());
    assert_eq!(downstream.span_context.trace_id(), outer.span_context.trace_id());
    assert_eq!(downstream.parent_span_id, client.span_context.span_id());
    assert_eq!(downstream.span_kind, SpanKind::Server);
}

#[tokio::test]
async fn client_mistakes_are_4xx() {
    let _capture = traced::testing::capture();
    let app = start(quick()).await;
    let (status, missing) = get(&app, "/users/99").await;
    assert_eq!((status, &missing["message"]), (404, &json!("user not found")));
    assert_eq!(get(&app, "/items/not-a-number").await.0, 400);
    assert_eq!(get(&app, "/no-such-route").await.0, 404);
    app.stop().await.expect("graceful stop");
}

#[tokio::test]
async fn an_unreachable_external_api_is_a_500_with_the_request_id() {
    let _capture = traced::testing::capture();
    // A port that was free a moment ago: nothing listens there.
    let closed = TcpListener::bind("127.0.0.1:0").await.expect("bind").local_addr().expect("address");
    let config = AppConfig { external_url: Some(format!("http://{closed}/todos/1")), ..quick() };
    let app = start(config).await;
    let (status, error) = get(&app, "/external-api").await;
    assert_eq!(status, 500);
    assert_eq!(error["message"], "something went wrong.");
    assert!(error["request_id"].as_str().is_some_and(is_trace_id), "{error}");
    app.stop().await.expect("graceful stop");
}

#[tokio::test]
async fn an_external_url_replaces_the_built_in_service() {
    let _capture = traced::testing::capture();
    let upstream = start(quick()).await;
    let config = AppConfig { external_url: Some(upstream.url("/users/2")), ..quick() };
    let app = start(config).await;
    assert_eq!(get(&app, "/external-api").await, (200, json!({ "id": 2, "name": "Grace" })));
    app.stop().await.expect("graceful stop");
    upstream.stop().await.expect("graceful stop");
}

#[tokio::test]
async fn an_oversized_external_answer_is_a_500_not_a_copy() {
    let _capture = traced::testing::capture();
    // 8 MiB of valid JSON, streamed without a length: the app must not read it all.
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    let huge = axum::Router::new().fallback(|| async {
        let chunks = std::iter::once(String::from("[0"))
            .chain(std::iter::repeat_n(",0".repeat(4096), 1024))
            .chain(std::iter::once(String::from("]")))
            .map(Ok::<_, std::io::Error>);
        axum::body::Body::from_stream(futures_util::stream::iter(chunks))
    });
    let upstream = tokio::spawn(async move {
        let _ = axum::serve(listener, huge).await;
    });
    let app = start(AppConfig { external_url: Some(format!("http://{address}/big")), ..quick() }).await;
    let (status, error) = get(&app, "/external-api").await;
    assert_eq!(status, 500, "the 8 MiB answer was passed through");
    assert_eq!(error["message"], "something went wrong.");
    app.stop().await.expect("graceful stop");
    upstream.abort();
}

#[tokio::test]
async fn a_bad_external_url_is_refused_at_start() {
    let _capture = traced::testing::capture();
    let config = AppConfig { external_url: Some("not a url".to_owned()), ..quick() };
    let error = SampleApp::start(config).await.expect_err("invalid URL");
    assert!(error.to_string().contains("`SAMPLE_APP_EXTERNAL_URL`) is not an absolute URL"), "{error}");
}

#[tokio::test]
async fn stop_waits_for_a_request_in_flight() {
    let _capture = traced::testing::capture();
    // An even item sleeps; the app is stopped while it does and must still answer.
    let (arrived, mut arrival) = tokio::sync::mpsc::unbounded_channel::<()>();
    let signal_arrival = move |request: Request, next: Next| {
        let _ = arrived.send(());
        next.run(request)
    };
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind an ephemeral port");
    let app = SampleApp::start(AppConfig { io_delay: Duration::from_millis(200), ..AppConfig::default() })
        .await
        .expect("start the app")
        .spawn_with(listener, |router| router.layer(from_fn(signal_arrival)))
        .expect("serve");
    let url = app.url("/items/4");
    let in_flight = tokio::spawn(async move { reqwest::get(url).await.map(|r| r.status().as_u16()) });
    arrival.recv().await.expect("the request reached the app");
    app.stop().await.expect("graceful stop");
    assert_eq!(in_flight.await.expect("task").expect("answered"), 200);
}
