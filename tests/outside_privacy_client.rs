//! Acceptance, from outside: the traced reqwest client configured by the standard variables, against
//! a server that answers with credentials of its own, and calls that fail (IPv6, IDN, refused): no
//! credential in any CLIENT span, whatever the capture lists say.

mod axum_support;

use std::collections::HashMap;

use axum::http::HeaderMap;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use opentelemetry::trace::SpanKind;
use opentelemetry::Value;
use opentelemetry_sdk::trace::SpanData;

use axum_support::{capture, serve};
use traced::client::Client;
use traced::telemetry::Settings;

const SECRETS: [&str; 9] = [
    "CLIENTPW",
    "APIKEYSECRET",
    "SIGSECRET",
    "BASICSECRET",
    "COOKIESECRET",
    "SESSIONSECRET",
    "CODESECRET",
    "XKEYSECRET",
    "TOKSECRET",
];

async fn answer() -> impl IntoResponse {
    let mut headers = HeaderMap::new();
    headers.append("set-cookie", "sid=COOKIESECRET; HttpOnly".parse().expect("value"));
    headers.insert("x-session-token", "SESSIONSECRET".parse().expect("value"));
    headers.insert("location", "/cb?code=CODESECRET&state=ok".parse().expect("value"));
    headers.insert("x-trace-note", "kept".parse().expect("value"));
    (headers, "ok")
}

fn attribute(span: &SpanData, key: &str) -> Option<String> {
    span.attributes.iter().find(|kv| kv.key.as_str() == key).map(|kv| match &kv.value {
        Value::String(value) => value.as_str().to_owned(),
        other => other.to_string(),
    })
}

fn assert_no_secret(spans: &[SpanData]) {
    let all = format!("{spans:?}");
    for secret in SECRETS {
        assert!(!all.contains(secret), "{secret} leaked: {all}");
    }
}

#[tokio::test]
async fn client_spans_carry_no_credential() {
    let capture = capture();
    let address = serve(Router::new().route("/x", get(answer))).await;
    let vars: HashMap<String, String> = [
        ("OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_CLIENT_REQUEST", ".*"),
        ("OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_CLIENT_RESPONSE", "(?i).*"),
        ("OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SANITIZE_FIELDS", "session,X-API"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let client = Client::from_settings(&Settings::from_vars(&vars).expect("valid settings"));

    let url = format!("http://user:CLIENTPW@{address}/x?api-key=APIKEYSECRET&Signature=SIGSECRET&q=1");
    let response = client
        .get(url)
        .header("authorization", "Basic QkFTSUNTRUNSRVQ6eA==")
        .header("proxy-authorization", "Basic BASICSECRET")
        .header("cookie", "sid=COOKIESECRET")
        .header("x-api-key", "XKEYSECRET")
        .send()
        .await
        .expect("the server answers");
    assert_eq!(response.status(), 200);

    for url in [
        "http://u:CLIENTPW@[::1]:9/v1?token=TOKSECRET",
        "http://u:CLIENTPW@bücher.invalid:9/v1?token=TOKSECRET",
        "http://u:CLIENTPW@127.0.0.1:9/v1?Token=TOKSECRET#access_token=TOKSECRET",
    ] {
        // Bounded: a resolver without network may take long to say `.invalid` does not exist.
        client.get(url).timeout(std::time::Duration::from_secs(3)).send().await.expect_err("nothing listens there");
    }

    let spans: Vec<SpanData> = capture.spans().into_iter().filter(|span| span.span_kind == SpanKind::Client).collect();
    assert_eq!(spans.len(), 4, "{spans:#?}");
    let ok = &spans[0];
    assert_eq!(attribute(ok, "url.full"), Some(format!("http://{address}/x?api-key=REDACTED&Signature=REDACTED&q=1")));
    assert_eq!(attribute(ok, "http.request.header.x-api-key").as_deref(), Some("[\"[REDACTED]\"]"));
    assert_eq!(attribute(ok, "http.response.header.x-session-token").as_deref(), Some("[\"[REDACTED]\"]"));
    assert_eq!(attribute(ok, "http.response.header.location").as_deref(), Some("[\"/cb?code=REDACTED&state=ok\"]"));
    assert_eq!(attribute(ok, "http.response.header.x-trace-note").as_deref(), Some("[\"kept\"]"));
    for never in ["authorization", "proxy-authorization", "cookie"] {
        assert_eq!(attribute(ok, &format!("http.request.header.{never}")), None);
    }
    assert_eq!(attribute(ok, "http.response.header.set-cookie"), None);
    assert_eq!(attribute(&spans[1], "server.address").as_deref(), Some("::1"));
    assert_eq!(attribute(&spans[2], "server.address").as_deref(), Some("xn--bcher-kva.invalid"));
    for failed in &spans[1..] {
        let opentelemetry::trace::Status::Error { description } = &failed.status else { panic!("{failed:?}") };
        assert!(description.contains("REDACTED"), "the status still says which URL failed: {description}");
    }
    assert_no_secret(&spans);
}
