//! The `sample-app` binary as a user runs it: SIGTERM stops it gracefully and the spans of the last
//! requests are flushed to the console before it exits (the batch processor would otherwise hold
//! them for its 5 s schedule delay).
#![cfg(unix)]

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// A child still running after this is killed and the test fails.
const LIMIT: Duration = Duration::from_secs(60);

/// Reads a pipe to its end on a thread of its own, so the app never blocks on a full pipe.
fn drain(mut pipe: impl Read + Send + 'static) -> JoinHandle<String> {
    std::thread::spawn(move || {
        let mut text = String::new();
        let _ = pipe.read_to_string(&mut text);
        text
    })
}

/// The running app, where it listens, and its stdout and remaining stderr once it exits.
fn start_app() -> (String, Child, JoinHandle<String>, JoinHandle<String>) {
    let mut app = Command::new(env!("CARGO_BIN_EXE_sample-app"))
        .args(["--port", "0", "--io-delay", "1ms"])
        .env("OTEL_TRACES_EXPORTER", "console")
        .env("OTEL_METRICS_EXPORTER", "none")
        .env("OTEL_LOGS_EXPORTER", "none")
        .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("sample-app starts");
    let mut stderr = BufReader::new(app.stderr.take().expect("piped stderr"));
    let mut line = String::new();
    while stderr.read_line(&mut line).expect("read stderr") > 0 && !line.starts_with("sample-app: listening on ") {
        line.clear();
    }
    let address = line.trim().strip_prefix("sample-app: listening on ").expect("sample-app says where it listens");
    let stdout = drain(app.stdout.take().expect("piped stdout"));
    (address.to_owned(), app, stdout, drain(stderr))
}

fn wait_bounded(app: &mut Child) -> std::process::ExitStatus {
    let deadline = Instant::now() + LIMIT;
    loop {
        if let Some(status) = app.try_wait().expect("poll sample-app") {
            return status;
        }
        if Instant::now() > deadline {
            let _ = app.kill();
            panic!("sample-app did not stop within {LIMIT:?} of SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn sigterm_stops_the_app_and_flushes_its_spans() {
    let (address, mut app, stdout, stderr) = start_app();
    let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime");
    let status = runtime.block_on(async {
        let response = reqwest::get(format!("{address}/items/2")).await.expect("the app answers");
        response.status().as_u16()
    });
    assert_eq!(status, 200);

    let term = Command::new("kill").args(["-TERM", &app.id().to_string()]).status().expect("run kill");
    assert!(term.success());
    let exit = wait_bounded(&mut app);
    let stdout = stdout.join().unwrap_or_default();
    let stderr = stderr.join().unwrap_or_default();

    assert!(exit.success(), "sample-app exited with {exit}; stderr:\n{stderr}");
    assert!(stdout.contains("GET /items/{item_id} [server]"), "the server span was flushed:\n{stdout}");
    assert!(stdout.contains("load-item [internal]"), "its child too:\n{stdout}");
}
