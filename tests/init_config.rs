//! `traced::init()` and `Telemetry::builder()` as a user meets them: a bad variable is a clear error,
//! `OTEL_SDK_DISABLED` exports nothing, a second `init()` is refused, the guide's exact environment
//! block works (console and OTLP for every signal), and code wins over the environment (service
//! name, common attributes, redaction, a custom `high_priority` sampler wrapped in `ParentBased`).
//! Each scenario runs in its own child process.

use std::time::Duration;

use opentelemetry::trace::{Link, SpanKind, TraceId};
use opentelemetry::{Context, KeyValue, Value};
use opentelemetry_sdk::trace::{Sampler, SamplingDecision, SamplingResult, ShouldSample};
use traced::processors::Redaction;
use traced::telemetry::ExporterKind;
use traced::traced;
use traced_tests::{child, Receiver, ReceiverOptions, Transport};

const WAIT: Duration = Duration::from_secs(30);

#[traced(name = "checkout", attributes(user.email = "a@example.com", cart.size = 3, high_priority = true))]
fn checkout() {
    tracing::info!(user.email = "a@example.com", "checked out");
}

#[traced(name = "important", attributes(high_priority = true))]
fn important() {}

#[traced(name = "routine")]
fn routine() {}

/// The headers the global propagator writes for the current span (what the reqwest client sends).
#[traced(name = "outbound")]
fn injected_headers() -> std::collections::HashMap<String, String> {
    let mut headers = std::collections::HashMap::new();
    opentelemetry::global::get_text_map_propagator(|propagator| propagator.inject(&mut headers));
    headers
}

/// Keeps root spans that carry `high_priority = true`, like the guide's custom sampler.
#[derive(Debug, Clone)]
struct HighPriority;

impl ShouldSample for HighPriority {
    fn should_sample(
        &self,
        _parent: Option<&Context>,
        _trace_id: TraceId,
        _name: &str,
        _kind: &SpanKind,
        attributes: &[KeyValue],
        _links: &[Link],
    ) -> SamplingResult {
        let keep = attributes.iter().any(|kv| kv.key.as_str() == "high_priority" && kv.value == Value::Bool(true));
        SamplingResult {
            decision: if keep { SamplingDecision::RecordAndSample } else { SamplingDecision::Drop },
            attributes: Vec::new(),
            trace_state: Default::default(),
        }
    }
}

/// The child side of every scenario.
#[test]
fn child_scenario() {
    let Some(scenario) = child::scenario() else { return };
    match scenario.as_str() {
        "init_error" => match traced::init() {
            Ok(_) => panic!("init accepted a bad variable"),
            Err(error) => println!("INIT ERROR: {error}"),
        },
        "not_utf8" => {
            // A value that is not UTF-8 cannot come through `child::run`: the child sets it itself.
            use std::os::unix::ffi::OsStrExt as _;
            let name = std::env::var("NOT_UTF8_VARIABLE").expect("the variable to spoil");
            let mut value = std::env::var("NOT_UTF8_PREFIX").unwrap_or_default().into_bytes();
            value.push(0xff);
            std::env::set_var(&name, std::ffi::OsStr::from_bytes(&value));
            match traced::init() {
                Ok(_) => println!("INIT OK"),
                Err(error) => println!("INIT ERROR: {error} {error:?}"),
            }
        }
        "disabled" => {
            let _telemetry = traced::init().expect("init");
            checkout();
        }
        "twice" => {
            let first = traced::init().expect("first init");
            let second = traced::init();
            assert!(matches!(second, Err(traced::InitError::AlreadyInitialized)), "{second:?}");
            first.shutdown().expect("clean shutdown");
            let _again = traced::init().expect("init after the first guard shut down");
            checkout();
        }
        "guide" => {
            let telemetry = traced::init().expect("the guide's environment block");
            checkout();
            let counter = opentelemetry::global::meter("sample-app").u64_counter("inter_service_requests").build();
            counter.add(1, &[KeyValue::new("service", "external-api")]);
            telemetry.shutdown().expect("clean shutdown");
        }
        "builder" => {
            let _telemetry = traced::Telemetry::builder()
                .service_name("from-code")
                .metrics_exporters([])
                .logs_exporters([ExporterKind::Otlp])
                .common_attributes([KeyValue::new("deployment.region", "eu-west-1")])
                .redact(Redaction::new().keys(["user.email"]))
                .custom_sampler(Sampler::ParentBased(Box::new(HighPriority)))
                .init()
                .expect("builder init");
            checkout();
            important();
            routine();
        }
        "propagators" => {
            let _telemetry = traced::init().expect("init");
            let headers = injected_headers();
            let mut names: Vec<&str> = headers.keys().map(String::as_str).collect();
            names.sort_unstable();
            println!("INJECTED: {}", names.join(","));
        }
        other => panic!("unknown scenario {other}"),
    }
}

fn vars_for(receiver: &Receiver, extra: &[(&'static str, &str)]) -> Vec<(&'static str, String)> {
    let mut vars = vec![
        ("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint()),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", receiver.protocol().to_owned()),
        ("OTEL_METRICS_EXPORTER", "none".to_owned()),
        ("OTEL_LOGS_EXPORTER", "none".to_owned()),
    ];
    vars.extend(extra.iter().map(|(name, value)| (*name, (*value).to_owned())));
    vars
}

#[test]
fn a_bad_variable_is_an_error_naming_variable_value_and_accepted_values() {
    // Header values are credentials: their variable is named, the malformed entry by position, never the value.
    let cases = [
        ("OTEL_TRACES_SAMPLER", "sometimes", "`parentbased_always_on`", true),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "udp", "`http/protobuf`", true),
        ("OTEL_EXPORTER_OTLP_HEADERS", "signoz-ingestion-key", "entry 1 is not `name=value`", false),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "localhost:4317", "URL", true),
    ];
    for (variable, value, accepted, echoed) in cases {
        let output = child::run("child_scenario", "init_error", &[(variable, value.to_owned())]);
        child::assert_success(&output);
        let stdout = String::from_utf8_lossy(&output.stdout);
        // libtest may print `test child_scenario ... ` on the same line first.
        let line = stdout
            .lines()
            .find_map(|line| line.split_once("INIT ERROR: "))
            .map(|(_, error)| error)
            .expect("the child printed the error");
        assert_eq!(line.contains(value), echoed, "{line}");
        assert!(line.contains(&format!("`{variable}`")), "{line}");
        assert!(line.contains(accepted), "{line}");
    }
    let output = child::run(
        "child_scenario",
        "init_error",
        &[("OTEL_TRACES_SAMPLER", "traceidratio".to_owned()), ("OTEL_TRACES_SAMPLER_ARG", "1.5".to_owned())],
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout
            .contains("invalid value `1.5` for `OTEL_TRACES_SAMPLER_ARG`: expected a probability between 0.0 and 1.0"),
        "{stdout}"
    );
}

#[test]
fn a_variable_that_is_not_utf8_is_an_error_naming_it_not_a_silent_default() {
    // Read as unset before: an exporter list, a sampler or an API key header silently fell back to
    // the default (here: exports to localhost without the key).
    for (variable, prefix) in [
        ("OTEL_TRACES_EXPORTER", "console"),
        ("OTEL_TRACES_SAMPLER", "always_off"),
        ("OTEL_EXPORTER_OTLP_HEADERS", "authorization=Bearer SECRET"),
        ("OTEL_SDK_DISABLED", "true"),
    ] {
        let vars = [("NOT_UTF8_VARIABLE", variable.to_owned()), ("NOT_UTF8_PREFIX", prefix.to_owned())];
        let output = child::run("child_scenario", "not_utf8", &vars);
        child::assert_success(&output);
        let stdout = String::from_utf8_lossy(&output.stdout);
        let line = stdout.lines().find_map(|line| line.split_once("INIT ERROR: ")).map(|(_, error)| error);
        let line = line.unwrap_or_else(|| panic!("{variable}: init accepted it: {stdout}"));
        assert!(line.contains(&format!("`{variable}`")) && line.contains("UTF-8"), "{line}");
        assert!(!line.contains("SECRET"), "{line}");
    }
    // With the SDK disabled the other variables are not used, so none of them is an error.
    let vars = [
        ("NOT_UTF8_VARIABLE", "OTEL_TRACES_SAMPLER".to_owned()),
        ("NOT_UTF8_PREFIX", "always_off".to_owned()),
        ("OTEL_SDK_DISABLED", "true".to_owned()),
    ];
    let output = child::run("child_scenario", "not_utf8", &vars);
    child::assert_success(&output);
    assert!(String::from_utf8_lossy(&output.stdout).contains("INIT OK"), "{output:?}");
}

#[test]
fn sdk_disabled_exports_nothing() {
    let receiver = Receiver::start_blocking(Transport::Grpc, ReceiverOptions::default());
    let output = child::run("child_scenario", "disabled", &vars_for(&receiver, &[("OTEL_SDK_DISABLED", "true")]));
    child::assert_success(&output);
    // The child has exited: nothing can arrive any more.
    assert!(receiver.requests().is_empty());
}

#[test]
fn a_second_init_is_refused_while_the_first_guard_lives() {
    let receiver = Receiver::start_blocking(Transport::Http, ReceiverOptions::default());
    let output = child::run("child_scenario", "twice", &vars_for(&receiver, &[("OTEL_LOGS_EXPORTER", "otlp")]));
    child::assert_success(&output);
    let spans = receiver.wait_for_spans_blocking(1, WAIT);
    assert_eq!(spans.len(), 1, "the second installation exports");
    // `tracing` events follow the second installation too (the global subscriber is set only once).
    let logs = receiver.logs();
    let log = logs.iter().find(|log| log.body().as_deref() == Some("checked out")).expect("the log arrived");
    assert_eq!(log.span_id(), spans[0].span_id());
}

#[test]
fn the_guides_environment_block_works() {
    let receiver = Receiver::start_blocking(Transport::Grpc, ReceiverOptions::default());
    let vars = [
        ("OTEL_RESOURCE_ATTRIBUTES", "service.name=fastapi-sample-app".to_owned()),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint()),
        ("OTEL_EXPORTER_OTLP_HEADERS", "signoz-ingestion-key=test-key".to_owned()),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc".to_owned()),
        ("OTEL_TRACES_EXPORTER", "console,otlp".to_owned()),
        ("OTEL_METRICS_EXPORTER", "console,otlp".to_owned()),
        ("OTEL_LOGS_EXPORTER", "console,otlp".to_owned()),
    ];
    let output = child::run("child_scenario", "guide", &vars);
    child::assert_success(&output);

    let spans = receiver.spans();
    let span = spans.iter().find(|span| span.name() == "checkout").expect("the span arrived over OTLP");
    assert_eq!(span.resource_attribute("service.name").as_deref(), Some("fastapi-sample-app"));
    let logs = receiver.logs();
    let log = logs.iter().find(|log| log.body().as_deref() == Some("checked out")).expect("the log arrived over OTLP");
    assert_eq!(log.trace_id(), span.trace_id());
    assert!(receiver.metrics().iter().any(|metric| metric.name() == "inter_service_requests"));
    for request in receiver.requests() {
        assert_eq!(request.header("signoz-ingestion-key").as_deref(), Some("test-key"));
    }

    // The console got the same telemetry, readable.
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains(&format!("trace {}", span.trace_id())), "{stdout}");
    assert!(stdout.contains("└─ checkout [internal] "), "{stdout}");
    assert!(
        stdout.contains(&format!("checked out trace_id={} span_id={}", span.trace_id(), span.span_id())),
        "{stdout}"
    );
    assert!(stdout.contains("metric inter_service_requests scope=sample-app sum value=1"), "{stdout}");
}

#[test]
fn code_wins_over_the_environment() {
    let receiver = Receiver::start_blocking(Transport::Grpc, ReceiverOptions::default());
    let vars = vars_for(&receiver, &[("OTEL_SERVICE_NAME", "from-env"), ("OTEL_TRACES_SAMPLER", "always_on")]);
    let output = child::run("child_scenario", "builder", &vars);
    child::assert_success(&output);

    let spans = receiver.spans();
    let mut names: Vec<&str> = spans.iter().map(|span| span.name()).collect();
    names.sort_unstable();
    assert_eq!(names, ["checkout", "important"], "the custom sampler keeps only high_priority roots");
    let checkout = spans.iter().find(|span| span.name() == "checkout").expect("checkout span");
    assert_eq!(checkout.resource_attribute("service.name").as_deref(), Some("from-code"));
    assert_eq!(checkout.attribute("deployment.region").as_deref(), Some("eu-west-1"));
    assert_eq!(checkout.attribute("user.email").as_deref(), Some("[REDACTED]"));
    assert_eq!(checkout.attribute("cart.size").as_deref(), Some("3"));
    let logs = receiver.logs();
    let log = logs.iter().find(|log| log.body().as_deref() == Some("checked out")).expect("the log arrived");
    assert_eq!(log.span_id(), checkout.span_id());
}

#[test]
fn a_key_redaction_hides_it_in_log_records_too() {
    // `tracing` events become span events with logs off (redacted), log records with logs on.
    let receiver = Receiver::start_blocking(Transport::Grpc, ReceiverOptions::default());
    let output = child::run("child_scenario", "builder", &vars_for(&receiver, &[("OTEL_TRACES_SAMPLER", "always_on")]));
    child::assert_success(&output);
    let logs = receiver.logs();
    let log = logs.iter().find(|log| log.body().as_deref() == Some("checked out")).expect("the log arrived");
    assert_eq!(log.attribute("user.email").as_deref(), Some("[REDACTED]"));
}

#[test]
fn otel_propagators_sets_the_global_propagator() {
    let receiver = Receiver::start_blocking(Transport::Http, ReceiverOptions::default());
    let cases = [
        // No `tracestate`: the span has none, and an empty header is never sent.
        (None, "traceparent"),
        (Some("b3"), "b3"),
        (Some("b3multi,tracecontext"), "traceparent,x-b3-sampled,x-b3-spanid,x-b3-traceid"),
    ];
    for (propagators, expected) in cases {
        let vars = match propagators {
            Some(list) => vars_for(&receiver, &[("OTEL_PROPAGATORS", list)]),
            None => vars_for(&receiver, &[]),
        };
        let output = child::run("child_scenario", "propagators", &vars);
        child::assert_success(&output);
        let stdout = String::from_utf8_lossy(&output.stdout);
        let injected = stdout.lines().find_map(|line| line.split_once("INJECTED: ")).map(|(_, names)| names.trim());
        assert_eq!(injected, Some(expected), "OTEL_PROPAGATORS={propagators:?}");
    }
}
