//! The console exporter through `traced::init()`: each trace prints once, as one tree, even when its
//! spans reach the exporter in different batches and in an order the tree does not have: a callee
//! "service" in the same process whose server span (remote parent) ends first, and a background
//! job that outlives the request that started it. Runs in a child process (global providers).

use std::collections::HashMap;
use std::sync::mpsc::{channel, Receiver, Sender};

use opentelemetry::global;
use traced::traced;
use traced_tests::child;

#[traced(name = "todo-service", kind = server)]
fn todo_service() {}

/// Calls the "other service" through W3C headers, as `/external-api` does over HTTP.
#[traced(name = "external-api", kind = server)]
fn external_api() {
    let mut headers = HashMap::new();
    global::get_text_map_propagator(|propagator| propagator.inject(&mut headers));
    let remote = global::get_text_map_propagator(|propagator| propagator.extract(&headers));
    let _callee = remote.attach();
    todo_service();
}

#[traced(name = "background-job")]
fn background_job(started: Sender<()>, finish: Receiver<()>) {
    let _ = started.send(());
    let _ = finish.recv();
}

/// Starts a job in a thread of its own, under this span, and returns once the job runs, before it
/// ends. (A span that starts after its whole trace ended prints apart, marked `continued`.)
#[traced(name = "request")]
fn request(finish: Receiver<()>) -> std::thread::JoinHandle<()> {
    let cx = opentelemetry::Context::current();
    let (started, job_started) = channel();
    let job = std::thread::spawn(move || {
        let _attached = cx.attach();
        background_job(started, finish);
    });
    let _ = job_started.recv();
    job
}

#[test]
fn child_scenario() {
    let Some(_scenario) = child::scenario() else { return };
    let _telemetry = traced::init().expect("init from the environment");
    external_api();
    let (finish, finish_rx) = channel();
    let job = request(finish_rx);
    finish.send(()).expect("the job waits");
    job.join().expect("the job thread ends");
}

/// The 32-hex trace ids of the `trace <id>` headers, in order (a header may follow other output on its line).
fn trace_headers(stdout: &str) -> Vec<String> {
    stdout
        .split("trace ")
        .skip(1)
        .filter_map(|rest| rest.get(..32).filter(|id| id.chars().all(|c| c.is_ascii_hexdigit())))
        .map(str::to_owned)
        .collect()
}

#[test]
fn every_trace_prints_once_as_one_tree() {
    let vars = [
        ("OTEL_TRACES_EXPORTER", "console".to_owned()),
        ("OTEL_METRICS_EXPORTER", "none".to_owned()),
        ("OTEL_LOGS_EXPORTER", "none".to_owned()),
        // One span per export, so spans of a trace arrive in several batches.
        ("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "1".to_owned()),
        ("OTEL_BSP_SCHEDULE_DELAY", "1".to_owned()),
    ];
    let output = child::run("child_scenario", "console", &vars);
    child::assert_success(&output);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(trace_headers(&stdout).len(), 2, "two traces, each printed once:\n{stdout}");
    assert!(!stdout.contains("incomplete"), "{stdout}");
    assert!(stdout.contains("└─ external-api [server]"), "{stdout}");
    assert!(stdout.contains("   └─ todo-service [server]"), "the callee sits under its caller:\n{stdout}");
    assert!(stdout.contains("└─ request [internal]"), "{stdout}");
    assert!(stdout.contains("   └─ background-job [internal]"), "the job sits under its request:\n{stdout}");
}
