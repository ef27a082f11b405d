//! An application that set its own global `tracing` subscriber before `traced::init()`: init cannot
//! route `tracing` events then, and says so once on stderr (with the fix) instead of exporting no logs
//! in silence; opting out with `tracing_subscriber(false)` keeps stderr quiet. Each scenario runs in a
//! child process: the subscriber and `init()` are process-wide.

use traced_tests::child;

const NOTE: &str = "traced: a global `tracing` subscriber was already set";

/// Runs `init_after_own_subscriber` in a child process and returns its stderr.
fn stderr_of(scenario: &str) -> String {
    let exporters = ["OTEL_TRACES_EXPORTER", "OTEL_METRICS_EXPORTER", "OTEL_LOGS_EXPORTER"];
    let vars = exporters.map(|name| (name, "none".to_owned()));
    let output = child::run("init_after_own_subscriber", scenario, &vars);
    child::assert_success(&output);
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn init_says_once_that_events_are_not_routed_past_an_existing_subscriber() {
    if child::scenario().is_some() {
        return;
    }
    let stderr = stderr_of("default");
    assert_eq!(stderr.matches(NOTE).count(), 1, "{stderr}");
    assert!(stderr.contains("guard.tracing_layer()"), "the note says what to do:\n{stderr}");
}

#[test]
fn opting_out_of_the_subscriber_keeps_stderr_quiet() {
    if child::scenario().is_some() {
        return;
    }
    let stderr = stderr_of("opt-out");
    assert!(!stderr.contains(NOTE), "{stderr}");
}

#[test]
fn init_after_own_subscriber() {
    let Some(scenario) = child::scenario() else { return };
    tracing::subscriber::set_global_default(tracing::subscriber::NoSubscriber::default())
        .expect("the application's own subscriber is the first");
    let builder = traced::Telemetry::builder();
    let builder = if scenario == "opt-out" { builder.tracing_subscriber(false) } else { builder };
    let guard = builder.init().expect("init() works with a subscriber of the application's own");
    guard.shutdown().expect("nothing to export");
}
