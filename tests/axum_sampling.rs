//! Requests the sampler drops: no span is exported (the layer decides before the SDK builds one), the
//! RED metrics still count them, and the unsampled decision travels on: in `traceresponse` and, through
//! the instrumented client, in the `traceparent` a downstream service receives. A sampler of the user's own
//! is shown the start attributes, as the SDK would show them.

mod axum_support;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::get;
use axum::Router;
use opentelemetry::trace::{Link, SpanId, SpanKind, TraceContextExt as _, TraceId};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::trace::{Sampler, SamplingDecision, SamplingResult, ShouldSample};

use axum_support::{capture_with_sampler, serve, server_spans, MetricsCapture};
use traced::axum::TracedLayer;
use traced::client::Client;

const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT_ID: &str = "00f067aa0ba902b7";

/// `OTEL_TRACES_SAMPLER=parentbased_traceidratio`, `OTEL_TRACES_SAMPLER_ARG=0`.
fn nothing_sampled_but_what_callers_sampled() -> Sampler {
    Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(0.0)))
}

/// The `traceparent` this service received, as its body.
async fn echo_traceparent(headers: HeaderMap) -> String {
    headers.get("traceparent").and_then(|value| value.to_str().ok()).unwrap_or("none").to_owned()
}

/// Calls service B through the instrumented client and answers B's body.
async fn call_b(State((client, b)): State<(Client, std::net::SocketAddr)>) -> String {
    let response = client.get(format!("http://{b}/echo")).send().await.expect("call B");
    response.text().await.expect("B's body")
}

/// `00-{trace id}-{span id}-{flags}` split into its parts.
fn parts(header: &str) -> (TraceId, SpanId, String) {
    let fields: Vec<&str> = header.split('-').collect();
    let [version, trace_id, span_id, flags] = fields.as_slice() else { panic!("not a traceparent: {header:?}") };
    assert_eq!(*version, "00", "{header}");
    let trace_id = TraceId::from_hex(trace_id).unwrap_or_else(|_| panic!("trace id of {header}"));
    let span_id = SpanId::from_hex(span_id).unwrap_or_else(|_| panic!("span id of {header}"));
    assert!(trace_id != TraceId::INVALID && span_id != SpanId::INVALID, "{header}");
    (trace_id, span_id, (*flags).to_owned())
}

#[tokio::test]
async fn dropped_requests_export_no_span_and_are_still_counted() {
    let spans = capture_with_sampler(nothing_sampled_but_what_callers_sampled());
    let metrics = MetricsCapture::new();
    let router = Router::new()
        .route("/items/{item_id}", get(|| async { "item" }))
        .layer(TracedLayer::new().meter(&metrics.meter()));
    let address = serve(router).await;
    let client = reqwest::Client::new();
    let url = format!("http://{address}/items/1");
    for unsampled in [None, None, None, Some(format!("00-{TRACE_ID}-{PARENT_ID}-00"))] {
        let request = client.get(&url);
        let request = match unsampled {
            Some(traceparent) => request.header("traceparent", traceparent),
            None => request,
        };
        assert_eq!(request.send().await.expect("request").status(), 200);
    }
    // A caller that sampled its trace is still followed; its span is the last to end.
    let sampled = "7bf92f3577b34da6a3ce929d0e0e4736";
    let response =
        client.get(&url).header("traceparent", format!("00-{sampled}-{PARENT_ID}-01")).send().await.expect("request");
    assert_eq!(response.status(), 200);

    let exported = server_spans(&spans, 1).await;
    let [span] = exported.as_slice() else { panic!("only the sampled request has a span: {exported:?}") };
    assert_eq!(span.span_context.trace_id(), TraceId::from_hex(sampled).expect("hex"));
    assert_eq!(span.parent_span_id, SpanId::from_hex(PARENT_ID).expect("hex"));
    assert!(span.span_context.is_sampled() && span.parent_span_is_remote);
    assert_eq!(span.name, "GET /items/{item_id}");
    assert_eq!(axum_support::attr(span, "url.path"), axum_support::string("/items/1"));

    let points = metrics.histogram("http.server.request.duration");
    let counted: u64 = points.iter().map(|(_, count, _)| count).sum();
    assert_eq!(counted, 5, "every request is counted, sampled or not: {points:?}");
    let active = metrics.sum("http.server.active_requests");
    assert!(!active.is_empty() && active.iter().all(|(_, value)| *value == 0), "{active:?}");
}

#[tokio::test]
async fn the_unsampled_decision_reaches_the_caller_and_the_next_service() {
    let spans = capture_with_sampler(nothing_sampled_but_what_callers_sampled());
    let b = serve(Router::new().route("/echo", get(echo_traceparent)).layer(TracedLayer::new())).await;
    let a_router = Router::new()
        .route("/external-api", get(call_b))
        .layer(TracedLayer::new().trace_response_header(true))
        .with_state((Client::new(), b));
    let a = serve(a_router).await;
    let client = reqwest::Client::new();
    let url = format!("http://{a}/external-api");

    // A caller's unsampled trace: continued, unsampled, with spans ids of A's own.
    let response =
        client.get(&url).header("traceparent", format!("00-{TRACE_ID}-{PARENT_ID}-00")).send().await.expect("request");
    let traceresponse = response.headers()["traceresponse"].to_str().expect("ascii").to_owned();
    let seen_by_b = response.text().await.expect("body");
    let (trace_id, a_span_id, flags) = parts(&traceresponse);
    assert_eq!((trace_id, flags.as_str()), (TraceId::from_hex(TRACE_ID).expect("hex"), "00"), "{traceresponse}");
    assert_ne!(a_span_id, SpanId::from_hex(PARENT_ID).expect("hex"), "A's span id, not its caller's");
    let (b_trace_id, b_parent_id, b_flags) = parts(&seen_by_b);
    assert_eq!((b_trace_id, b_flags.as_str()), (trace_id, "00"), "B continues the unsampled trace: {seen_by_b}");
    assert_ne!(b_parent_id, SpanId::from_hex(PARENT_ID).expect("hex"), "{seen_by_b}");

    // A root the ratio drops: a new trace, unsampled all the way.
    let response = client.get(&url).send().await.expect("request");
    let traceresponse = response.headers()["traceresponse"].to_str().expect("ascii").to_owned();
    let seen_by_b = response.text().await.expect("body");
    let (root_trace_id, _, flags) = parts(&traceresponse);
    assert_ne!(root_trace_id, trace_id);
    assert_eq!(flags, "00", "{traceresponse}");
    let (b_trace_id, _, b_flags) = parts(&seen_by_b);
    assert_eq!((b_trace_id, b_flags.as_str()), (root_trace_id, "00"), "{seen_by_b}");

    // A sampled caller: both services and the client record it; nothing else was exported before.
    let sampled = TraceId::from_hex("7bf92f3577b34da6a3ce929d0e0e4736").expect("hex");
    let response =
        client.get(&url).header("traceparent", format!("00-{sampled}-{PARENT_ID}-01")).send().await.expect("request");
    let traceresponse = response.headers()["traceresponse"].to_str().expect("ascii").to_owned();
    let seen_by_b = response.text().await.expect("body");
    assert_eq!(parts(&traceresponse).2, "01");
    assert_eq!(parts(&seen_by_b).2, "01");
    let exported = server_spans(&spans, 2).await;
    assert_eq!(exported.len(), 3, "A's and B's server spans and A's client span: {exported:?}");
    assert!(exported.iter().all(|span| span.span_context.trace_id() == sampled), "{exported:?}");
    let client_span = exported.iter().find(|span| span.span_kind == SpanKind::Client).expect("A's client span");
    assert_eq!(parts(&seen_by_b).1, client_span.span_context.span_id(), "B's parent is A's client span");
}

/// Keeps the requests to `/items/keep` only, judging by the `url.path` start attribute and the span
/// name, as a user's sampler keeping `high_priority` requests would.
#[derive(Debug, Clone)]
struct KeepByPath;

impl ShouldSample for KeepByPath {
    fn should_sample(
        &self,
        parent: Option<&Context>,
        _: TraceId,
        name: &str,
        _: &SpanKind,
        attributes: &[KeyValue],
        _: &[Link],
    ) -> SamplingResult {
        let path = attributes.iter().find(|kv| kv.key.as_str() == "url.path").map(|kv| kv.value.to_string());
        let keep = path.as_deref() == Some("/items/keep") && name == "GET /items/{item_id}";
        SamplingResult {
            decision: if keep { SamplingDecision::RecordAndSample } else { SamplingDecision::Drop },
            attributes: Vec::new(),
            trace_state: parent.map(|cx| cx.span().span_context().trace_state().clone()).unwrap_or_default(),
        }
    }
}

#[tokio::test]
async fn a_sampler_of_its_own_is_shown_the_start_attributes() {
    let spans = capture_with_sampler(KeepByPath);
    let router = Router::new().route("/items/{item_id}", get(|| async { "item" })).layer(TracedLayer::new());
    let address = serve(router).await;
    let client = reqwest::Client::new();
    for item in ["drop", "keep", "drop"] {
        let response = client.get(format!("http://{address}/items/{item}")).send().await.expect("request");
        assert_eq!(response.status(), 200);
    }
    let exported = server_spans(&spans, 1).await;
    let [span] = exported.as_slice() else { panic!("only /items/keep is kept: {exported:?}") };
    assert_eq!(axum_support::attr(span, "url.path"), axum_support::string("/items/keep"));
    assert_eq!(span.name, "GET /items/{item_id}");
}
