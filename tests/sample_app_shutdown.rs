//! The sample app as a process, stopped the way an orchestrator stops it: SIGTERM with requests in
//! flight, stalled and idle connections, a dead collector; and its exit code.
//!
//! The app runs in a child process through `traced_examples::app::run`, the function the
//! `sample-app` binary calls, configured by its `SAMPLE_APP_*` and `OTEL_*` variables; the parent
//! talks raw HTTP/1 over 127.0.0.1 so it controls every byte and sees when the server closes.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::Output;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use clap::Parser;
use opentelemetry_proto::tonic::metrics::v1::metric::Data;
use traced_examples::app::{run, AppArgs, EXIT_FAILURE, EXIT_OK, EXIT_USAGE};
use traced_tests::child::{self, RunningChild};
use traced_tests::{ReceivedMetric, Receiver, ReceiverOptions, Transport};

/// The default drain deadline of the app.
const DRAIN: Duration = Duration::from_secs(10);
/// The telemetry guard's shutdown deadline, `TRACED_SHUTDOWN_TIMEOUT` (5 s by default).
const TELEMETRY: Duration = Duration::from_secs(5);
/// Room for a loaded machine. These are correctness bounds, not performance assertions.
const MARGIN: Duration = Duration::from_secs(10);
/// How long the parent waits for the app to start listening.
const START_LIMIT: Duration = Duration::from_secs(60);
/// Longest wait for the server to close a connection before the test gives up on it.
const CLOSE_LIMIT: Duration = Duration::from_secs(60);

/// The child side: the sample app's `main`, with its flags from `SAMPLE_APP_*` variables.
#[test]
fn sample_app_process() {
    if child::scenario().is_none() {
        return;
    }
    let args = AppArgs::try_parse_from(["sample-app"]).unwrap_or_else(|error| error.exit());
    std::process::exit(i32::from(run(&args)));
}

struct App {
    process: RunningChild,
    address: SocketAddr,
}

/// Starts the app on an ephemeral 127.0.0.1 port with `vars` and waits until it listens.
fn start_app(vars: &[(&str, String)]) -> App {
    let mut all = vec![("SAMPLE_APP_HOST", "127.0.0.1".to_owned()), ("SAMPLE_APP_PORT", "0".to_owned())];
    all.extend(vars.iter().cloned());
    let mut process = child::start("sample_app_process", "sample-app", &all);
    let address = process.wait_for_listening(START_LIMIT);
    App { process, address }
}

impl App {
    /// Sends SIGTERM, waits for the exit; returns the output and how long the exit took.
    fn terminate(self) -> (Output, Duration) {
        let (output, took) = self.process.terminate_and_wait();
        println!("sample-app exited ({}) {took:?} after SIGTERM", output.status);
        (output, took)
    }
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn assert_exit(output: &Output, code: u8) {
    assert_eq!(
        output.status.code(),
        Some(i32::from(code)),
        "exit status {}; stderr:\n{}",
        output.status,
        stderr(output)
    );
}

fn connect(address: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(address).expect("connect to the app");
    stream.set_read_timeout(Some(CLOSE_LIMIT)).expect("read timeout");
    stream
}

/// A connection that sent `bytes` and reads until the server closes it.
fn send(address: SocketAddr, bytes: &[u8]) -> Watched {
    let mut stream = connect(address);
    stream.write_all(bytes).expect("send");
    watch(stream)
}

/// A connection read on a thread until the server closes it (end of stream or reset).
struct Watched(JoinHandle<(Instant, Vec<u8>)>);

fn watch(mut stream: TcpStream) -> Watched {
    Watched(std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let result = stream.read_to_end(&mut bytes);
        if let Err(error) = result {
            assert!(
                !matches!(error.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut),
                "the server did not close the connection within {CLOSE_LIMIT:?}"
            );
        }
        (Instant::now(), bytes)
    }))
}

impl Watched {
    /// When the server closed the connection, and what it had sent.
    fn closed(self) -> (Instant, String) {
        let (when, bytes) = self.0.join().expect("the reading thread");
        (when, String::from_utf8_lossy(&bytes).into_owned())
    }
}

/// A kept-alive connection that has had one complete `/ping` exchange and is now idle.
fn idle_keep_alive(address: SocketAddr) -> TcpStream {
    let mut stream = connect(address);
    stream.write_all(b"GET /ping HTTP/1.1\r\nhost: app\r\n\r\n").expect("send");
    let mut response = Vec::new();
    let mut chunk = [0_u8; 1024];
    while !response.ends_with(b"{\"ping\":\"pong\"}") {
        let read = stream.read(&mut chunk).expect("the /ping response");
        assert!(read > 0, "closed before the /ping response: {}", String::from_utf8_lossy(&response));
        response.extend_from_slice(&chunk[..read]);
    }
    assert!(response.starts_with(b"HTTP/1.1 200"), "{}", String::from_utf8_lossy(&response));
    stream
}

/// One request on its own connection; the whole response.
fn get(address: SocketAddr, path: &str) -> String {
    let request = format!("GET {path} HTTP/1.1\r\nhost: app\r\nconnection: close\r\n\r\n");
    send(address, request.as_bytes()).closed().1
}

const HALF_HEAD: &[u8] = b"GET /ping HTTP/1.1\r\nhost: app\r\nuser-ag";
const SLOW_REQUEST: &[u8] = b"GET /items/2?q=last HTTP/1.1\r\nhost: app\r\n\r\n";

fn count(metrics: &[ReceivedMetric], name: &str, route: &str) -> u64 {
    use opentelemetry_proto::tonic::common::v1::any_value::Value;
    let Some(metric) = metrics.iter().rev().find(|m| m.name() == name) else { return 0 };
    let Some(Data::Histogram(histogram)) = &metric.metric.data else { panic!("{name} is a histogram") };
    let on_route = |point: &&opentelemetry_proto::tonic::metrics::v1::HistogramDataPoint| {
        point.attributes.iter().any(|kv| {
            kv.key == "http.route"
                && kv.value.as_ref().and_then(|v| v.value.as_ref()) == Some(&Value::StringValue(route.to_owned()))
        })
    };
    histogram.data_points.iter().filter(on_route).map(|point| point.count).sum()
}

/// (a) SIGTERM with a request in flight, 5 clients stalled halfway through their request head and an
/// idle keep-alive connection: the request completes, the server closes the others, the telemetry
/// of the last request is flushed, exit 0 in bounded time.
#[test]
fn sigterm_finishes_the_request_in_flight_and_closes_stalled_and_idle_connections() {
    if child::scenario().is_some() {
        return;
    }
    let receiver = Receiver::start_blocking(Transport::Grpc, ReceiverOptions::default());
    let header_read_timeout = Duration::from_secs(4);
    let app = start_app(&[
        ("SAMPLE_APP_IO_DELAY", "6s".to_owned()),
        ("SAMPLE_APP_HEADER_READ_TIMEOUT", "4s".to_owned()),
        ("OTEL_SERVICE_NAME", "sample-app".to_owned()),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint()),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", receiver.protocol().to_owned()),
    ]);
    let mut in_flight = connect(app.address);
    let client = in_flight.local_addr().expect("the client's address");
    in_flight.write_all(SLOW_REQUEST).expect("send");
    let in_flight = watch(in_flight);
    let stalled: Vec<Watched> = (0..5).map(|_| send(app.address, HALF_HEAD)).collect();
    std::thread::sleep(Duration::from_secs(1));
    let idle = watch(idle_keep_alive(app.address));

    let signalled = Instant::now();
    let (output, exit_took) = app.terminate();
    assert_exit(&output, EXIT_OK);
    assert!(exit_took < DRAIN + TELEMETRY + MARGIN, "exit took {exit_took:?}");

    let (answered, response) = in_flight.closed();
    assert!(response.starts_with("HTTP/1.1 200"), "the request in flight completes: {response}");
    assert!(response.to_ascii_lowercase().contains("connection: close"), "{response}");
    assert!(response.ends_with(r#"{"item_id":2,"q":"last"}"#), "{response}");

    let (idle_closed, idle_bytes) = idle.closed();
    assert_eq!(idle_bytes, "", "nothing more on the idle connection");
    assert!(
        idle_closed.duration_since(signalled) < header_read_timeout - Duration::from_secs(1),
        "the idle connection is closed at the signal, not at its header-read timeout: {:?}",
        idle_closed.duration_since(signalled)
    );
    for connection in stalled {
        let (closed, bytes) = connection.closed();
        assert!(!bytes.contains(" 200 "), "no answer to half a head: {bytes}");
        // Closed while the app was still serving the slow request: by the server, not by its exit.
        assert!(closed < answered, "a stalled connection was still open when the last request ended");
    }

    let stderr = stderr(&output);
    assert!(stderr.contains("sample-app: SIGTERM: no new connections"), "{stderr}");
    assert!(stderr.contains("finished or were closed"), "{stderr}");
    // The flush after the drain delivered the last request's telemetry.
    let spans = receiver.spans();
    let slow = spans.iter().find(|span| span.name() == "GET /items/{item_id}").expect("the slow request's span");
    // The peer address still reaches the layer (axum's `ConnectInfo`).
    assert_eq!(slow.attribute("network.peer.address"), Some(client.ip().to_string()));
    assert_eq!(slow.attribute("network.peer.port"), Some(client.port().to_string()));
    assert_eq!(count(&receiver.metrics(), "http.server.request.duration", "/items/{item_id}"), 1);
    assert_eq!(count(&receiver.metrics(), "http.server.request.duration", "/ping"), 1);
}

/// (b) A request still running at the drain deadline is cut; the app still exits 0, in bounded time.
#[test]
fn a_request_past_the_drain_deadline_is_cut_and_the_exit_is_still_clean() {
    if child::scenario().is_some() {
        return;
    }
    let receiver = Receiver::start_blocking(Transport::Http, ReceiverOptions::default());
    let drain = Duration::from_secs(1);
    let app = start_app(&[
        ("SAMPLE_APP_IO_DELAY", "120s".to_owned()),
        ("SAMPLE_APP_DRAIN_TIMEOUT", "1s".to_owned()),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint()),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", receiver.protocol().to_owned()),
        ("OTEL_TRACES_EXPORTER", "otlp".to_owned()),
        ("OTEL_METRICS_EXPORTER", "none".to_owned()),
        ("OTEL_LOGS_EXPORTER", "none".to_owned()),
    ]);
    let in_flight = send(app.address, SLOW_REQUEST);
    std::thread::sleep(Duration::from_secs(1));

    let (output, exit_took) = app.terminate();
    assert_exit(&output, EXIT_OK);
    assert!(exit_took < drain + TELEMETRY + MARGIN, "exit took {exit_took:?}");
    let (_, response) = in_flight.closed();
    assert_eq!(response, "", "cut without an answer");
    let stderr = stderr(&output);
    assert!(stderr.contains("1 of 1 connection(s) were cut at the drain deadline"), "{stderr}");
    // The cut request's server span still ended, and was flushed.
    let spans = receiver.spans();
    assert!(spans.iter().any(|span| span.name() == "GET /items/{item_id}"), "the cut request's span");
}

/// (c) A dead collector at SIGTERM: exit 0 in bounded time; the loss is reported on stderr.
#[test]
fn a_dead_collector_is_reported_not_turned_into_a_failed_exit() {
    if child::scenario().is_some() {
        return;
    }
    let dead = Receiver::unreachable_endpoint();
    let app = start_app(&[
        ("SAMPLE_APP_IO_DELAY", "10ms".to_owned()),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", dead),
        ("OTEL_TRACES_EXPORTER", "otlp".to_owned()),
        ("OTEL_METRICS_EXPORTER", "otlp".to_owned()),
        ("OTEL_LOGS_EXPORTER", "otlp".to_owned()),
    ]);
    for path in ["/ping", "/items/2", "/items/3"] {
        let response = get(app.address, path);
        assert!(response.starts_with("HTTP/1.1 200"), "{path}: {response}");
    }

    let (output, exit_took) = app.terminate();
    assert_exit(&output, EXIT_OK);
    assert!(exit_took < DRAIN + TELEMETRY + MARGIN, "exit took {exit_took:?}");
    let stderr = stderr(&output);
    let reported = stderr.lines().any(|line| line.starts_with("traced:") && line.contains("span"));
    assert!(reported, "the undelivered spans are reported on stderr:\n{stderr}");
}

/// A collector that accepts connections and never answers costs the telemetry deadline once, after the drain.
#[test]
fn a_silent_collector_costs_the_telemetry_deadline_once() {
    if child::scenario().is_some() {
        return;
    }
    let silent = std::net::TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    let endpoint = format!("http://{}", silent.local_addr().expect("address"));
    std::thread::spawn(move || {
        // Holds every connection open, reads nothing, answers nothing; ends with the test process.
        let held: Vec<TcpStream> = silent.incoming().map_while(Result::ok).collect();
        drop(held);
    });
    let telemetry_deadline = Duration::from_secs(2);
    let app = start_app(&[
        ("SAMPLE_APP_IO_DELAY", "10ms".to_owned()),
        ("TRACED_SHUTDOWN_TIMEOUT", telemetry_deadline.as_millis().to_string()),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint),
        ("OTEL_TRACES_EXPORTER", "otlp".to_owned()),
        ("OTEL_METRICS_EXPORTER", "otlp".to_owned()),
        ("OTEL_LOGS_EXPORTER", "otlp".to_owned()),
    ]);
    for path in ["/ping", "/items/2"] {
        assert!(get(app.address, path).starts_with("HTTP/1.1 200"), "{path}");
    }

    let (output, exit_took) = app.terminate();
    assert_exit(&output, EXIT_OK);
    // Nothing was in flight: no drain to wait for, one telemetry deadline for all signals.
    assert!(exit_took < telemetry_deadline + MARGIN, "exit took {exit_took:?}");
}

/// (d) While serving: slowloris clients (half a head, one byte at a time, nothing at all) and an idle
/// keep-alive connection are closed after the header-read timeout; other clients are served.
#[test]
fn the_header_read_timeout_closes_slow_and_idle_connections_while_serving() {
    if child::scenario().is_some() {
        return;
    }
    let app =
        start_app(&[("SAMPLE_APP_HEADER_READ_TIMEOUT", "1s".to_owned()), ("OTEL_SDK_DISABLED", "true".to_owned())]);
    let started = Instant::now();
    let half_head = send(app.address, HALF_HEAD);
    let silent = watch(connect(app.address));
    let idle = watch(idle_keep_alive(app.address));
    let trickling = connect(app.address);
    let trickle_closed = watch(trickling.try_clone().expect("clone the stream"));
    let stop_trickling = Arc::new(AtomicBool::new(false));
    let trickler = {
        let stop = Arc::clone(&stop_trickling);
        std::thread::spawn(move || {
            let mut stream = trickling;
            let head = b"GET / HTTP/1.1\r\nhost: app\r\nx-slow: ".iter().chain(std::iter::repeat(&b'a'));
            for byte in head.take(400) {
                if stop.load(Ordering::Relaxed) || stream.write_all(&[*byte]).is_err() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        })
    };

    let bound = Duration::from_secs(1) + MARGIN;
    for (name, connection) in
        [("half a head", half_head), ("nothing", silent), ("idle", idle), ("trickle", trickle_closed)]
    {
        let (closed, bytes) = connection.closed();
        assert!(closed.duration_since(started) < bound, "{name}: closed after {:?}", closed.duration_since(started));
        assert!(!bytes.contains(" 200 "), "{name}: {bytes}");
    }
    stop_trickling.store(true, Ordering::Relaxed);
    trickler.join().expect("the trickling thread");
    // The app still serves.
    assert!(get(app.address, "/").starts_with("HTTP/1.1 200"));

    let (output, _) = app.terminate();
    assert_exit(&output, EXIT_OK);
}

/// The exit code is non-zero only for the app's own failures: its address taken, a bad flag, a bad
/// `OTEL_*` variable.
#[test]
fn the_apps_own_failures_exit_non_zero() {
    if child::scenario().is_some() {
        return;
    }
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    let port = taken.local_addr().expect("address").port();
    let cases = [
        (("SAMPLE_APP_PORT", port.to_string()), EXIT_FAILURE, "cannot listen on"),
        (("SAMPLE_APP_HEADER_READ_TIMEOUT", "0s".to_owned()), EXIT_USAGE, "--header-read-timeout"),
        (("SAMPLE_APP_DRAIN_TIMEOUT", "2h".to_owned()), EXIT_USAGE, "--drain-timeout"),
        (("OTEL_TRACES_SAMPLER", "sometimes".to_owned()), EXIT_USAGE, "OTEL_TRACES_SAMPLER"),
    ];
    for ((name, value), code, message) in cases {
        let vars = [("SAMPLE_APP_HOST", "127.0.0.1".to_owned()), ("SAMPLE_APP_PORT", "0".to_owned()), (name, value)];
        let output = child::run("sample_app_process", "sample-app", &vars);
        assert_exit(&output, code);
        assert!(stderr(&output).contains(message), "{name}: {}", stderr(&output));
    }
}

/// A second SIGTERM (or Ctrl-C) during the drain cuts every connection at once; still exit 0.
#[test]
fn a_second_signal_stops_at_once() {
    if child::scenario().is_some() {
        return;
    }
    let mut app = start_app(&[
        ("SAMPLE_APP_IO_DELAY", "120s".to_owned()),
        ("SAMPLE_APP_DRAIN_TIMEOUT", "1h".to_owned()),
        ("OTEL_SDK_DISABLED", "true".to_owned()),
    ]);
    let in_flight = send(app.address, SLOW_REQUEST);
    std::thread::sleep(Duration::from_secs(1));
    app.process.terminate();
    app.process.wait_for_stderr("SIGTERM: no new connections", START_LIMIT);

    let (output, exit_took) = app.terminate();
    assert_exit(&output, EXIT_OK);
    assert!(exit_took < TELEMETRY + MARGIN, "exit took {exit_took:?}");
    assert_eq!(in_flight.closed().1, "", "cut without an answer");
    assert!(stderr(&output).contains("SIGTERM again: every connection cut"), "{}", stderr(&output));
}
