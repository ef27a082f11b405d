//! No secret in any output: secrets are planted on every path a URL, a query or error text takes
//! (server query strings, percent-encoded keys, userinfo and query of outbound URLs that fail and
//! that succeed, error source chains, panic messages, OTLP headers, endpoints with userinfo), and
//! every byte that leaves the process is searched for them: the console exporters on stdout, stderr,
//! and what the in-process OTLP receiver got (spans, metrics, logs).
//!
//! Each scenario runs in a child process (`init()` is process-global, and stderr must be its own).

use std::fmt;
use std::process::Output;
use std::time::Duration;

use axum::routing::get;
use axum::Router;
use opentelemetry::trace::Tracer as _;
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use traced::axum::TracedLayer;
use traced::record_errors;
use traced_examples::app::{telemetry, AppConfig, SampleApp};
use traced_tests::{child, ReceivedSpan, Receiver};

/// Every secret planted below; none may appear in any output.
const SECRETS: [&str; 14] = [
    "PASSW0RD",
    "S1GVALUE",
    "TOKEN1",
    "PCTSECRET",
    "PCTSIG",
    "SESSIONSECRET",
    "PWSECRET",
    "T0PSECRET",
    "S1GSECRET",
    "CLIENTPW",
    "CLIENTTOKEN",
    "HDRSECRET",
    "PANICSECRET",
    "ERRSECRET",
];

/// The outbound URL `/external-api` calls: userinfo and query secrets, a port where nothing listens.
const FAILING_URL: &str = "http://user:PWSECRET@127.0.0.1:9/todos/1?token=T0PSECRET&sig=S1GSECRET";

/// The sample app's server requests, with their expected status.
const SERVER_REQUESTS: [(&str, u16); 3] = [
    ("/items/1?password=PASSW0RD&Sig=S1GVALUE&token=TOKEN1", 200),
    ("/items/3?%70assword=PCTSECRET&%53ig=PCTSIG&session=SESSIONSECRET&q=ok", 200),
    ("/external-api", 500),
];

/// An error whose text and source chain quote a URL with secrets, like a client library's would.
#[derive(Debug)]
struct FetchFailed(std::io::Error);

impl fmt::Display for FetchFailed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("fetch of https://svc:ERRSECRET@internal.example/v1?api_key=ERRSECRET failed")
    }
}

impl std::error::Error for FetchFailed {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

#[record_errors(response)]
async fn failing() -> Result<&'static str, FetchFailed> {
    let cause = std::io::Error::other("connect to http://127.0.0.1:9/?access_token=ERRSECRET refused");
    Err(FetchFailed(cause))
}

const PANIC_MESSAGE_START: &str = "lost http://";

async fn panicking() -> &'static str {
    panic!("{PANIC_MESSAGE_START}admin:PANICSECRET@db.internal/?password=PANICSECRET")
}

/// The child: the sample app and a second traced service, every planted request, a flushing shutdown.
#[test]
fn child_scenario() {
    let Some(scenario) = child::scenario() else { return };
    match scenario.as_str() {
        "serve" => serve_everything(),
        "init-error" => match telemetry::init() {
            // What `fn main() -> Result<(), InitError>` would print, and the message itself.
            Err(error) => eprintln!("Error: {error:?}\n{error}"),
            Ok(_) => panic!("the planted variable should make init fail"),
        },
        "export-fails" => {
            let guard = telemetry::init().expect("telemetry starts; the collector is only down");
            opentelemetry::global::tracer("privacy").in_span("work", |_| {});
            let _ = guard.force_flush();
            let _ = guard.shutdown();
        }
        other => panic!("unknown scenario {other}"),
    }
}

fn serve_everything() {
    // Rust's own panic hook prints the planted panic's message: that is the application's choice of
    // hook, not `traced`'s output. Every other panic (a failed assertion) still prints.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info.payload().downcast_ref::<String>().map_or("", String::as_str);
        if !message.starts_with(PANIC_MESSAGE_START) {
            default_hook(info);
        }
    }));
    let telemetry = telemetry::init().expect("telemetry from the environment");
    let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime");
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let config =
            AppConfig { io_delay: Duration::ZERO, external_url: Some(FAILING_URL.to_owned()), ..AppConfig::default() };
        let app = SampleApp::start(config).await.expect("start the app").spawn(listener).expect("serve");
        for (path, status) in SERVER_REQUESTS {
            let response = reqwest::get(app.url(path)).await.expect("the app answers");
            assert_eq!(response.status().as_u16(), status, "{path}");
        }

        // A traced client call that succeeds, with userinfo and query secrets.
        let client = traced::client::Client::new();
        let address = app.address();
        let url = format!("http://u:CLIENTPW@{address}/items/5?token=CLIENTTOKEN");
        let response = client.get(url).send().await.expect("the app answers");
        assert_eq!(response.status(), 200);

        // Errors with secrets in their text and source chain, and a panic quoting a URL.
        let other = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let other_address = other.local_addr().expect("address");
        let router =
            Router::new().route("/error", get(failing)).route("/panic", get(panicking)).layer(TracedLayer::new());
        let server = tokio::spawn(async move { axum::serve(other, router).await });
        for path in ["/error?token=TOKEN1", "/panic"] {
            let response = reqwest::get(format!("http://{other_address}{path}")).await.expect("answers");
            assert_eq!(response.status(), 500, "{path}");
        }
        server.abort();
        app.stop().await.expect("graceful stop");
    });
    drop(runtime);
    telemetry.shutdown().expect("every signal flushed");
}

fn run(scenario: &str, vars: &[(&str, String)]) -> Output {
    let output = child::run("child_scenario", scenario, vars);
    child::assert_success(&output);
    output
}

/// Every output byte of a child, for the search.
fn child_output(output: &Output) -> String {
    format!("{}\n{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

fn assert_no_secret(place: &str, text: &str) {
    for secret in SECRETS {
        if let Some(at) = text.find(secret) {
            let context = &text[at.saturating_sub(300)..(at + secret.len() + 100).min(text.len())];
            panic!("{secret} leaked to {place}:\n...{context}...");
        }
    }
}

fn span<'a>(spans: &'a [ReceivedSpan], name: &str, attribute: (&str, &str)) -> &'a ReceivedSpan {
    spans
        .iter()
        .find(|span| span.name() == name && span.attribute(attribute.0).as_deref() == Some(attribute.1))
        .unwrap_or_else(|| panic!("no span {name} with {attribute:?}: {spans:#?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn planted_secrets_reach_no_output() {
    let receiver = Receiver::start_http().await;
    let vars = [
        ("OTEL_SERVICE_NAME", "sample-app".to_owned()),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint()),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", receiver.protocol().to_owned()),
        // A credential for the collector: sent to it, printed nowhere.
        ("OTEL_EXPORTER_OTLP_HEADERS", "x-ingest-key=HDRSECRET".to_owned()),
        ("TRACED_REDACTED_QUERY_KEYS", "session".to_owned()),
        ("TRACED_CONSOLE_FORMAT", "raw".to_owned()),
    ];
    let output = tokio::task::spawn_blocking(move || run("serve", &vars)).await.expect("the child ran");
    let console = child_output(&output);
    let spans = receiver.wait_for_spans(11, Duration::from_secs(10)).await;

    // Every path was exercised, and redacted rather than dropped.
    let items = span(&spans, "GET /items/{item_id}", ("url.query", "password=REDACTED&Sig=REDACTED&token=REDACTED"));
    assert_eq!(items.attribute("url.path").as_deref(), Some("/items/1"));
    span(&spans, "GET /items/{item_id}", ("url.query", "%70assword=REDACTED&%53ig=REDACTED&session=REDACTED&q=ok"));
    let failed_call = span(&spans, "GET", ("url.full", "http://127.0.0.1:9/todos/1?token=REDACTED&sig=REDACTED"));
    let status = failed_call.span.status.as_ref().expect("a status");
    assert_eq!(status.code, StatusCode::Error as i32);
    assert!(status.message.contains("token=REDACTED"), "the status still says what failed: {}", status.message);
    let address = items.attribute("server.address").expect("server.address");
    let port = items.attribute("server.port").expect("server.port");
    span(&spans, "GET", ("url.full", &format!("http://{address}:{port}/items/5?token=REDACTED")));
    let external = span(&spans, "GET /external-api", ("http.response.status_code", "500"));
    let exception = external.span.events.iter().find(|event| event.name == "exception").expect("an exception event");
    assert!(format!("{exception:?}").contains("exception.sources"), "{exception:?}");
    for route in ["/error", "/panic"] {
        let span = spans.iter().find(|span| span.attribute("http.route").as_deref() == Some(route));
        let span = span.unwrap_or_else(|| panic!("a span for {route}"));
        assert!(span.span.events.iter().any(|event| event.name == "exception"), "{route} recorded its error");
    }
    assert!(console.contains("password=REDACTED"), "the console printed the spans:\n{console}");

    assert_no_secret("the console or stderr", &console);
    assert_no_secret("OTLP spans", &format!("{spans:?}"));
    assert_no_secret("OTLP metrics", &format!("{:?}", receiver.metrics()));
    assert_no_secret("OTLP logs", &format!("{:?}", receiver.logs()));
    let sent = receiver.requests();
    assert!(
        sent.iter().all(|request| request.header("x-ingest-key").as_deref() == Some("HDRSECRET")),
        "the header reached the collector, where it belongs"
    );
}

#[test]
fn the_console_tree_prints_no_secret() {
    // No OTLP endpoint: the sample app prints traces, metrics and logs on the console only, as trees.
    let output = run("serve", &[("TRACED_REDACTED_QUERY_KEYS", "session".to_owned())]);
    let console = child_output(&output);
    assert!(console.contains("password=REDACTED") && console.contains("exception"), "{console}");
    assert_no_secret("the console trees", &console);
}

#[test]
fn start_up_errors_name_the_variable_and_never_echo_a_credential() {
    let cases = [
        ("OTEL_EXPORTER_OTLP_HEADERS", "authorization=Bearer HDRSECRET,oops", "entry 2 is not `name=value`"),
        (
            "OTEL_EXPORTER_OTLP_LOGS_HEADERS",
            "authorization=Bearer%20HDRSECRET%0A",
            "the value of header `authorization` (entry 1) is not a valid header value",
        ),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "ftp://user:PWSECRET@127.0.0.1:4318", "`ftp://127.0.0.1:4318`"),
        ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "//user:PWSECRET@collector/v1/traces", "URL"),
    ];
    for (variable, value, says) in cases {
        let output = run("init-error", &[(variable, value.to_owned())]);
        let text = child_output(&output);
        assert!(text.contains(&format!("`{variable}`")) && text.contains(says), "{variable}: {text}");
        assert_no_secret(&format!("the start-up error for {variable}"), &text);
    }
}

#[test]
fn export_failure_warnings_print_no_userinfo() {
    let endpoint = Receiver::unreachable_endpoint().replace("http://", "http://user:PWSECRET@");
    let vars = [
        ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint),
        ("OTEL_EXPORTER_OTLP_TIMEOUT", "2000".to_owned()),
        ("OTEL_TRACES_EXPORTER", "otlp".to_owned()),
        ("OTEL_METRICS_EXPORTER", "none".to_owned()),
        ("OTEL_LOGS_EXPORTER", "none".to_owned()),
    ];
    let output = run("export-fails", &vars);
    let text = child_output(&output);
    assert!(
        text.contains("traced: cannot connect to the OTLP collector at http://127.0.0.1:"),
        "the export failed and said so: {text}"
    );
    assert_no_secret("the export failure warning", &text);
}
