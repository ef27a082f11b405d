//! Issue 8 from the outside: the sample app as a process under load, stopped by SIGTERM, against
//! working, silent, slow, dying and refusing collectors. The numbers the app prints on stderr at
//! shutdown are checked against what the receiver got, exactly.
//!
//! Every request is `GET /items/2` with a zero I/O delay: two spans (the server span and
//! `load-item`) and one log record, so what the app made is known from the requests answered.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::Output;
use std::time::{Duration, Instant};

use clap::Parser;
use traced_examples::app::{run, AppArgs, EXIT_OK};
use traced_tests::child::{self, RunningChild};
use traced_tests::{FaultOptions, Receiver, ReceiverOptions, SilentCollector, Transport};

/// Room for a loaded 2-core machine: a correctness bound, not a performance assertion.
const MARGIN: Duration = Duration::from_secs(8);
const START_LIMIT: Duration = Duration::from_secs(60);

/// The child side: the sample app's `main`, configured by `SAMPLE_APP_*` and `OTEL_*` variables.
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

fn start_app(vars: &[(&str, String)]) -> App {
    let mut all = vec![
        ("SAMPLE_APP_HOST", "127.0.0.1".to_owned()),
        ("SAMPLE_APP_PORT", "0".to_owned()),
        ("SAMPLE_APP_IO_DELAY", "0s".to_owned()),
        ("OTEL_SERVICE_NAME", "outside-export".to_owned()),
    ];
    all.extend(vars.iter().cloned());
    // `OUTSIDE_EXPORT_APP=target/release/sample-app`: the release build instead of this binary.
    let mut process = match std::env::var_os("OUTSIDE_EXPORT_APP") {
        Some(program) => child::start_program(std::path::Path::new(&program), &all),
        None => child::start("sample_app_process", "sample-app", &all),
    };
    let address = process.wait_for_listening(START_LIMIT);
    App { process, address }
}

impl App {
    fn terminate(self) -> (Output, Duration) {
        self.process.terminate_and_wait()
    }
}

/// Reads one HTTP/1.1 response (with `Content-Length`) from a kept-alive connection; its status.
fn read_response(stream: &mut TcpStream, buffer: &mut Vec<u8>) -> Option<u16> {
    let mut chunk = [0_u8; 4096];
    loop {
        if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buffer[..end]).to_ascii_lowercase();
            let length: usize = head
                .lines()
                .find_map(|line| line.strip_prefix("content-length:"))
                .and_then(|value| value.trim().parse().ok())
                .unwrap_or(0);
            if buffer.len() >= end + 4 + length {
                let status = head.get(9..12).and_then(|code| code.parse().ok());
                buffer.drain(..end + 4 + length);
                return status;
            }
        }
        let read = stream.read(&mut chunk).ok()?;
        if read == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..read]);
    }
}

/// Sends `GET /items/2` on `connections` kept-alive connections, `requests` in all (or until `for_at_most`
/// passed); returns how many were answered 200.
fn load(address: SocketAddr, connections: usize, requests: usize, for_at_most: Duration) -> usize {
    let until = Instant::now() + for_at_most;
    let threads: Vec<_> = (0..connections)
        .map(|index| {
            let share = requests / connections + usize::from(index < requests % connections);
            std::thread::spawn(move || {
                let mut stream = TcpStream::connect(address).expect("connect to the app");
                stream.set_read_timeout(Some(Duration::from_secs(30))).expect("read timeout");
                let mut buffer = Vec::new();
                let mut ok = 0;
                // Pipelined in small groups: fast enough for a debug build, still bounded.
                let group = 16;
                let mut sent = 0;
                while sent < share && Instant::now() < until {
                    let now = group.min(share - sent);
                    let requests = "GET /items/2 HTTP/1.1\r\nhost: app\r\n\r\n".repeat(now);
                    // The app closes connections once it is stopping: the load ends there.
                    if stream.write_all(requests.as_bytes()).is_err() {
                        break;
                    }
                    for _ in 0..now {
                        if read_response(&mut stream, &mut buffer) == Some(200) {
                            ok += 1;
                        }
                    }
                    sent += now;
                }
                ok
            })
        })
        .collect();
    threads.into_iter().map(|thread| thread.join().expect("a load thread")).sum()
}

/// `http.server.request.duration` data points' counts in the last export that has them.
fn requests_counted(metrics: &[traced_tests::ReceivedMetric]) -> u64 {
    use opentelemetry_proto::tonic::metrics::v1::metric::Data;
    let Some(last) = metrics.iter().rev().find(|metric| metric.name() == "http.server.request.duration") else {
        return 0;
    };
    let Some(Data::Histogram(histogram)) = &last.metric.data else { panic!("a histogram") };
    histogram.data_points.iter().map(|point| point.count).sum()
}

/// One `traced: <signal>: ...` line of the shutdown summary.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Line {
    ended: u64,
    exported: u64,
    unconfirmed: u64,
    pending: u64,
    dropped: u64,
    queue_full: u64,
    rejected: u64,
    failed: u64,
    shutdown_deadline: u64,
    after_shutdown: u64,
}

impl Line {
    fn balances(&self) -> bool {
        let causes = self.queue_full + self.rejected + self.failed + self.shutdown_deadline + self.after_shutdown;
        causes == self.dropped && self.ended == self.exported + self.unconfirmed + self.pending + self.dropped
    }
}

/// The summary line of `signal` (`spans`, `log records`, `metric exports`) for `exporter` if the app
/// printed one per exporter, else the signal's line; `None` when nothing was printed for it.
fn summary(stderr: &str, signal: &str) -> Option<Line> {
    let prefix = format!("traced: {signal}: ");
    let text = stderr.lines().find_map(|line| line.strip_prefix(&prefix))?;
    let numbers: Vec<u64> = text
        .split(|c: char| !c.is_ascii_digit())
        .filter(|word| !word.is_empty())
        .map(|word| word.parse().expect("a number"))
        .collect();
    assert_eq!(numbers.len(), 10, "ten figures in `{text}`");
    let line = Line {
        ended: numbers[0],
        exported: numbers[1],
        unconfirmed: numbers[2],
        pending: numbers[3],
        dropped: numbers[4],
        queue_full: numbers[5],
        rejected: numbers[6],
        failed: numbers[7],
        shutdown_deadline: numbers[8],
        after_shutdown: numbers[9],
    };
    assert!(line.balances(), "the printed line balances: {text}");
    Some(line)
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn assert_clean_exit(output: &Output) {
    assert_eq!(output.status.code(), Some(i32::from(EXIT_OK)), "{}\n{}", output.status, stderr(output));
}

fn otlp_only(endpoint: String, protocol: &str) -> Vec<(&'static str, String)> {
    vec![
        ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", protocol.to_owned()),
        ("OTEL_TRACES_EXPORTER", "otlp".to_owned()),
        ("OTEL_LOGS_EXPORTER", "otlp".to_owned()),
        ("OTEL_METRICS_EXPORTER", "none".to_owned()),
    ]
}

/// Requests of the burst: 6,000 in CI; `OUTSIDE_EXPORT_BURST=100000` is the case (with
/// `OUTSIDE_EXPORT_APP=target/release/sample-app`, the release build).
fn burst() -> usize {
    std::env::var("OUTSIDE_EXPORT_BURST").ok().and_then(|n| n.parse().ok()).unwrap_or(6000)
}

/// A burst with a queue big enough for it, SIGTERM at once: a working receiver gets every span and
/// log record, and the app exits 0 printing no loss.
#[test]
fn a_burst_then_sigterm_at_once_delivers_everything() {
    if child::scenario().is_some() {
        return;
    }
    for (transport, protocol) in
        [(Transport::Grpc, "grpc"), (Transport::Http, "http/protobuf"), (Transport::Http, "http/json")]
    {
        let receiver = Receiver::start_blocking(transport, ReceiverOptions::default());
        let mut vars = otlp_only(receiver.endpoint(), protocol);
        vars.push(("OTEL_BSP_MAX_QUEUE_SIZE", "200000".to_owned()));
        vars.push(("OTEL_BLRP_MAX_QUEUE_SIZE", "200000".to_owned()));
        vars.push(("OTEL_METRICS_EXPORTER", "otlp".to_owned()));
        let app = start_app(&vars);
        let answered = load(app.address, 4, burst(), Duration::from_secs(120)) as u64;
        let (output, took) = app.terminate();
        assert_clean_exit(&output);
        let stderr = stderr(&output);
        let spans = receiver.wait_for_spans_blocking(2 * answered as usize, Duration::from_secs(5)).len() as u64;
        let logs = receiver.logs().len() as u64;
        println!("{protocol}: {answered} requests, {spans} spans, {logs} logs received, exit {took:?}");
        assert_eq!(spans, 2 * answered, "{protocol}: every span arrives\n{stderr}");
        assert_eq!(logs, answered, "{protocol}: every log record arrives\n{stderr}");
        assert!(!stderr.contains("traced:"), "{protocol}: nothing to report\n{stderr}");
        // The last metric export, at shutdown, counted every request.
        let metrics = receiver.metrics();
        assert_eq!(requests_counted(&metrics), answered, "{protocol}\n{stderr}");
    }
}

/// SIGTERM in the middle of a burst: the requests in flight finish, and every span and log record of
/// every request answered arrives; nothing is printed as lost.
#[test]
fn sigterm_in_the_middle_of_a_burst_delivers_every_answered_request() {
    if child::scenario().is_some() {
        return;
    }
    let receiver = Receiver::start_blocking(Transport::Grpc, ReceiverOptions::default());
    let mut vars = otlp_only(receiver.endpoint(), receiver.protocol());
    vars.push(("OTEL_BSP_MAX_QUEUE_SIZE", "200000".to_owned()));
    vars.push(("OTEL_BLRP_MAX_QUEUE_SIZE", "200000".to_owned()));
    let app = start_app(&vars);
    let address = app.address;
    let load = std::thread::spawn(move || load(address, 4, 1_000_000, Duration::from_secs(60)) as u64);
    std::thread::sleep(Duration::from_secs(2));
    let (output, took) = app.terminate();
    let answered = load.join().expect("the load");
    assert_clean_exit(&output);
    let stderr = stderr(&output);
    let spans = receiver.wait_for_spans_blocking(2 * answered as usize, Duration::from_secs(5)).len() as u64;
    println!("{answered} requests answered, {spans} spans received, exit {took:?}");
    assert!(answered > 0, "{stderr}");
    assert_eq!(spans, 2 * answered, "{stderr}");
    assert_eq!(receiver.logs().len() as u64, answered, "{stderr}");
    assert!(!stderr.contains("traced:"), "nothing lost\n{stderr}");
}

/// A collector that accepts and never answers, load, SIGTERM: exit within the telemetry deadline,
/// and every span and log record made is in the printed figures, none pending.
#[test]
fn a_silent_collector_under_load_costs_the_deadline_and_every_item_is_printed() {
    if child::scenario().is_some() {
        return;
    }
    let silent = SilentCollector::start();
    for protocol in ["grpc", "http/protobuf"] {
        let mut vars = otlp_only(silent.endpoint(), protocol);
        vars.push(("OTEL_METRICS_EXPORTER", "otlp".to_owned()));
        vars.push(("TRACED_SHUTDOWN_TIMEOUT", "2000".to_owned()));
        vars.push(("OTEL_BSP_SCHEDULE_DELAY", "100".to_owned()));
        vars.push(("OTEL_BLRP_SCHEDULE_DELAY", "100".to_owned()));
        let app = start_app(&vars);
        let answered = load(app.address, 2, 5000, Duration::from_secs(4)) as u64;
        let (output, took) = app.terminate();
        assert_clean_exit(&output);
        let stderr = stderr(&output);
        println!("{protocol}: {answered} requests, exit {took:?}\n{stderr}");
        assert!(took < Duration::from_secs(2) + MARGIN, "{protocol}: exit took {took:?}");
        let spans = summary(&stderr, "spans").unwrap_or_else(|| panic!("{protocol}: a spans line\n{stderr}"));
        assert_eq!(spans.ended, 2 * answered, "{protocol}: every span made is counted\n{stderr}");
        assert_eq!((spans.exported, spans.pending), (0, 0), "{protocol}\n{stderr}");
        let logs = summary(&stderr, "log records").unwrap_or_else(|| panic!("{protocol}: a log line\n{stderr}"));
        assert_eq!(logs.ended, answered, "{protocol}: every log record made is counted\n{stderr}");
        assert_eq!((logs.exported, logs.pending), (0, 0), "{protocol}\n{stderr}");
        let metrics = summary(&stderr, "metric exports").unwrap_or_else(|| panic!("{protocol}: metrics\n{stderr}"));
        assert_eq!((metrics.exported, metrics.pending), (0, 0), "{protocol}\n{stderr}");
    }
}

/// A collector that answers after 8 s: what arrived plus what was printed as lost covers every span
/// made, and nothing is counted twice.
#[test]
fn a_collector_answering_after_8_s_balances_against_the_receiver() {
    if child::scenario().is_some() {
        return;
    }
    let options = ReceiverOptions { response_delay: Some(Duration::from_secs(8)), ..Default::default() };
    let receiver = Receiver::start_blocking(Transport::Grpc, options);
    let mut vars = otlp_only(receiver.endpoint(), receiver.protocol());
    vars.push(("OTEL_BSP_SCHEDULE_DELAY", "100".to_owned()));
    vars.push(("OTEL_BLRP_SCHEDULE_DELAY", "100".to_owned()));
    let app = start_app(&vars);
    let answered = load(app.address, 2, 4000, Duration::from_secs(10)) as u64;
    let (output, took) = app.terminate();
    assert_clean_exit(&output);
    let stderr = stderr(&output);
    assert!(took < Duration::from_secs(5) + MARGIN, "exit took {took:?}");
    // Let the receiver finish what it was answering, then count.
    std::thread::sleep(Duration::from_secs(9));
    let received = receiver.spans().len() as u64;
    println!("{answered} requests, {received} spans received, exit {took:?}\n{stderr}");
    let spans = summary(&stderr, "spans").unwrap_or_else(|| panic!("a spans line\n{stderr}"));
    assert_eq!(spans.ended, 2 * answered, "{stderr}");
    assert_eq!(spans.pending, 0, "{stderr}");
    let lost = spans.dropped;
    assert!(received >= spans.exported, "{received} received\n{stderr}");
    assert!(received <= spans.exported + spans.unconfirmed, "{received} received\n{stderr}");
    assert_eq!(spans.exported + spans.unconfirmed + lost, spans.ended, "{stderr}");
}

/// A dead collector: exit 0, and the loss printed covers every span made.
#[test]
fn a_dead_collector_exits_0_and_prints_every_span() {
    if child::scenario().is_some() {
        return;
    }
    let mut vars = otlp_only(Receiver::unreachable_endpoint(), "grpc");
    vars.push(("OTEL_METRICS_EXPORTER", "otlp".to_owned()));
    let app = start_app(&vars);
    let answered = load(app.address, 2, 400, Duration::from_secs(20)) as u64;
    let (output, took) = app.terminate();
    assert_clean_exit(&output);
    let stderr = stderr(&output);
    assert!(took < Duration::from_secs(5) + MARGIN, "exit took {took:?}");
    let spans = summary(&stderr, "spans").unwrap_or_else(|| panic!("a spans line\n{stderr}"));
    assert_eq!(spans.ended, 2 * answered, "{stderr}");
    assert_eq!((spans.exported, spans.unconfirmed, spans.pending), (0, 0, 0), "{stderr}");
    let logs = summary(&stderr, "log records").unwrap_or_else(|| panic!("a log line\n{stderr}"));
    assert_eq!(logs.ended, answered, "{stderr}");
    // The warning says why in plain words: no debug dump of tonic's status, no `code` taken for a secret.
    let warning = stderr.lines().find(|line| line.starts_with("traced: cannot connect")).expect("a warning");
    assert!(warning.contains("Connection refused"), "{warning}");
    for noise in ["REDACTED", "source:", "ConnectError(", "Os {"] {
        assert!(!warning.contains(noise), "`{noise}` in {warning}");
    }
}

/// console and otlp together: the printed figures say which exporter lost what, and are not a sum
/// that makes the app look as if it made twice the spans it did.
#[test]
fn console_and_otlp_together_print_figures_per_exporter() {
    if child::scenario().is_some() {
        return;
    }
    let vars = vec![
        ("OTEL_EXPORTER_OTLP_ENDPOINT", Receiver::unreachable_endpoint()),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc".to_owned()),
        ("OTEL_TRACES_EXPORTER", "console,otlp".to_owned()),
        ("OTEL_LOGS_EXPORTER", "none".to_owned()),
        ("OTEL_METRICS_EXPORTER", "none".to_owned()),
    ];
    let app = start_app(&vars);
    let answered = load(app.address, 1, 50, Duration::from_secs(20)) as u64;
    let (output, _) = app.terminate();
    assert_clean_exit(&output);
    let stderr = stderr(&output);
    println!("{answered} requests\n{stderr}");
    let otlp = summary(&stderr, "spans (otlp)").unwrap_or_else(|| panic!("an otlp line\n{stderr}"));
    assert_eq!(otlp.ended, 2 * answered, "{stderr}");
    assert_eq!(otlp.exported, 0, "{stderr}");
    let console = summary(&stderr, "spans (console)").unwrap_or_else(|| panic!("a console line\n{stderr}"));
    assert_eq!((console.ended, console.exported), (2 * answered, 2 * answered), "{stderr}");
}

/// Metric exports every 100 ms into a dead collector: each retries for its whole timeout, so one is
/// in flight at SIGTERM. It ends by the shutdown deadline like spans and log records do: nothing
/// left pending, no timeout error, the exit within the deadline.
#[test]
fn a_metric_export_in_flight_at_sigterm_ends_by_the_shutdown_deadline() {
    if child::scenario().is_some() {
        return;
    }
    let mut vars = otlp_only(Receiver::unreachable_endpoint(), "grpc");
    vars.push(("OTEL_METRICS_EXPORTER", "otlp".to_owned()));
    vars.push(("OTEL_METRIC_EXPORT_INTERVAL", "100".to_owned()));
    vars.push(("TRACED_SHUTDOWN_TIMEOUT", "2000".to_owned()));
    let app = start_app(&vars);
    let answered = load(app.address, 1, 20, Duration::from_secs(20)) as u64;
    std::thread::sleep(Duration::from_millis(500));
    let (output, took) = app.terminate();
    assert_clean_exit(&output);
    let stderr = stderr(&output);
    println!("{answered} requests, exit {took:?}\n{stderr}");
    assert!(took < Duration::from_secs(2) + MARGIN, "exit took {took:?}");
    assert!(!stderr.contains("did not shut down cleanly"), "{stderr}");
    let metrics = summary(&stderr, "metric exports").unwrap_or_else(|| panic!("a metrics line\n{stderr}"));
    assert_eq!((metrics.exported, metrics.unconfirmed, metrics.pending), (0, 0, 0), "{stderr}");
    let spans = summary(&stderr, "spans").unwrap_or_else(|| panic!("a spans line\n{stderr}"));
    assert_eq!((spans.ended, spans.exported, spans.pending), (2 * answered, 0, 0), "{stderr}");
}

/// A collector that dies mid-run and comes back on the same port: the spans made while it was away
/// are retried and arrive; what was lost or unconfirmed is printed, and the figures add up exactly
/// against what the two receivers got.
#[test]
fn a_collector_that_dies_and_comes_back_loses_nothing_uncounted() {
    if child::scenario().is_some() {
        return;
    }
    for transport in [Transport::Grpc, Transport::Http] {
        let first = Receiver::start_blocking(transport, ReceiverOptions::default());
        let address = first.address();
        let mut vars = otlp_only(first.endpoint(), first.protocol());
        vars.push(("OTEL_BSP_SCHEDULE_DELAY", "100".to_owned()));
        vars.push(("OTEL_BLRP_SCHEDULE_DELAY", "100".to_owned()));
        let app = start_app(&vars);
        let mut answered = load(app.address, 2, 500, Duration::from_secs(20)) as u64;
        // Let the first receiver take what was made, then stop it.
        let before = first.wait_for_spans_blocking(2 * answered as usize, Duration::from_secs(10)).len() as u64;
        drop(first);
        answered += load(app.address, 2, 500, Duration::from_secs(20)) as u64;
        std::thread::sleep(Duration::from_secs(1));
        let second = Receiver::start_at(address, transport, ReceiverOptions::default());
        answered += load(app.address, 2, 500, Duration::from_secs(20)) as u64;
        let after = second.wait_for_spans_blocking(2 * answered as usize - before as usize, Duration::from_secs(20));
        let (output, _) = app.terminate();
        assert_clean_exit(&output);
        let stderr = stderr(&output);
        let received = before + second.spans().len() as u64;
        println!("{transport:?}: {answered} requests, {before} + {} spans received\n{stderr}", after.len());
        match summary(&stderr, "spans") {
            None => assert_eq!(received, 2 * answered, "{transport:?}: nothing printed, so all arrived\n{stderr}"),
            Some(spans) => {
                assert_eq!(spans.ended, 2 * answered, "{transport:?}\n{stderr}");
                assert!(spans.exported <= received, "{transport:?}: {received} received\n{stderr}");
                assert!(received <= spans.exported + spans.unconfirmed, "{transport:?}: {received}\n{stderr}");
                assert_eq!(spans.pending, 0, "{transport:?}\n{stderr}");
            }
        }
        // The outage was shorter than the export timeout: the retries delivered what it held.
        assert!(received + 1024 >= 2 * answered, "{transport:?}: {received} of {} received\n{stderr}", 2 * answered);
    }
}

/// The sample app's own default with an endpoint set: console and OTLP together, a burst, SIGTERM at
/// once. The OTLP receiver gets every span, the console prints every trace, and whatever is printed
/// as lost is said per exporter.
#[test]
fn console_and_otlp_by_default_a_burst_then_sigterm() {
    if child::scenario().is_some() {
        return;
    }
    let receiver = Receiver::start_blocking(Transport::Grpc, ReceiverOptions::default());
    let vars = vec![
        ("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint()),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", receiver.protocol().to_owned()),
        ("OTEL_BSP_MAX_QUEUE_SIZE", "200000".to_owned()),
        ("OTEL_BLRP_MAX_QUEUE_SIZE", "200000".to_owned()),
    ];
    let app = start_app(&vars);
    let answered = load(app.address, 4, burst() / 2, Duration::from_secs(120)) as u64;
    let (output, took) = app.terminate();
    assert_clean_exit(&output);
    let stderr = stderr(&output);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let spans = receiver.wait_for_spans_blocking(2 * answered as usize, Duration::from_secs(5)).len() as u64;
    let printed = stdout.matches("GET /items/{item_id} [server]").count() as u64;
    let tail: String = stderr.lines().filter(|line| line.starts_with("traced:")).collect::<Vec<_>>().join("\n");
    println!("{answered} requests, {spans} spans received, {printed} traces printed, exit {took:?}\n{tail}");
    match summary(&stderr, "spans (otlp)") {
        None => assert_eq!(spans, 2 * answered, "{tail}"),
        Some(otlp) => {
            assert_eq!(otlp.ended, 2 * answered, "{tail}");
            assert_eq!(spans, otlp.exported + otlp.unconfirmed, "{tail}");
        }
    }
    match summary(&stderr, "spans (console)") {
        None => assert_eq!(printed, answered, "{tail}"),
        Some(console) => assert_eq!(console.ended, 2 * answered, "{tail}"),
    }
}

/// `OTEL_EXPORTER_OTLP_TIMEOUT=1` (the smallest accepted; 0 is refused at start-up): exports race their
/// 1 ms deadline. Whatever the race gives, nothing that arrived is reported lost, and nothing reported
/// exported is missing.
#[test]
fn a_1_ms_otlp_timeout_never_reports_as_lost_what_arrived() {
    if child::scenario().is_some() {
        return;
    }
    for (transport, protocol) in [(Transport::Grpc, "grpc"), (Transport::Http, "http/protobuf")] {
        let receiver = Receiver::start_blocking(transport, ReceiverOptions::default());
        let mut vars = otlp_only(receiver.endpoint(), protocol);
        vars.push(("OTEL_EXPORTER_OTLP_TIMEOUT", "1".to_owned()));
        vars.push(("OTEL_BSP_SCHEDULE_DELAY", "50".to_owned()));
        let app = start_app(&vars);
        let answered = load(app.address, 2, 2000, Duration::from_secs(30)) as u64;
        let (output, _) = app.terminate();
        assert_clean_exit(&output);
        let stderr = stderr(&output);
        // Requests sent unanswered may still be recorded: give the receiver a moment.
        std::thread::sleep(Duration::from_secs(1));
        let received = receiver.spans().len() as u64;
        println!("{protocol}: {answered} requests, {received} spans received\n{stderr}");
        match summary(&stderr, "spans") {
            None => assert_eq!(received, 2 * answered, "{protocol}\n{stderr}"),
            Some(spans) => {
                assert_eq!(spans.ended, 2 * answered, "{protocol}\n{stderr}");
                assert!(spans.exported <= received, "{protocol}: {received} received\n{stderr}");
                assert!(received <= spans.exported + spans.unconfirmed, "{protocol}: {received} received\n{stderr}");
            }
        }
    }
    let output = child::run(
        "sample_app_process",
        "sample-app",
        &[("SAMPLE_APP_PORT", "0".to_owned()), ("OTEL_EXPORTER_OTLP_TIMEOUT", "0".to_owned())],
    );
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(stderr(&output).contains("invalid value `0` for `OTEL_EXPORTER_OTLP_TIMEOUT`"), "{}", stderr(&output));
}

/// A collector taking 200 ms per export falls behind a burst, so the queue is long at SIGTERM: the
/// whole queue is exported batch after batch within the shutdown deadline, not one batch.
#[test]
fn a_queue_behind_a_slow_collector_is_drained_batch_after_batch_at_sigterm() {
    if child::scenario().is_some() {
        return;
    }
    let options = ReceiverOptions { response_delay: Some(Duration::from_millis(200)), ..Default::default() };
    let receiver = Receiver::start_blocking(Transport::Grpc, options);
    let mut vars = otlp_only(receiver.endpoint(), receiver.protocol());
    vars.push(("OTEL_BSP_MAX_QUEUE_SIZE", "200000".to_owned()));
    vars.push(("OTEL_BLRP_MAX_QUEUE_SIZE", "200000".to_owned()));
    vars.push(("TRACED_SHUTDOWN_TIMEOUT", "20000".to_owned()));
    let app = start_app(&vars);
    let answered = load(app.address, 4, 4000, Duration::from_secs(60)) as u64;
    let queued = receiver.spans().len() as u64;
    let (output, took) = app.terminate();
    assert_clean_exit(&output);
    let stderr = stderr(&output);
    let spans = receiver.wait_for_spans_blocking(2 * answered as usize, Duration::from_secs(5)).len() as u64;
    println!("{answered} requests, {queued} spans received before SIGTERM, {spans} after, exit {took:?}\n{stderr}");
    assert!(!stderr.contains("traced:"), "nothing lost\n{stderr}");
    assert_eq!(spans, 2 * answered, "{stderr}");
    assert_eq!(receiver.logs().len() as u64, answered, "{stderr}");
}

/// `TRACED_LOG_LEVEL=trace` with OTLP logs: the exporters' own events (tonic, h2, hyper, reqwest) are
/// not exported, so an export cannot make the records of the next one: an idle app exports nothing.
#[test]
fn trace_level_logs_do_not_feed_on_their_own_export() {
    if child::scenario().is_some() {
        return;
    }
    for (transport, protocol) in [(Transport::Grpc, "grpc"), (Transport::Http, "http/protobuf")] {
        let receiver = Receiver::start_blocking(transport, ReceiverOptions::default());
        let mut vars = otlp_only(receiver.endpoint(), protocol);
        vars.push(("TRACED_LOG_LEVEL", "trace".to_owned()));
        vars.push(("OTEL_BLRP_SCHEDULE_DELAY", "50".to_owned()));
        let app = start_app(&vars);
        let answered = load(app.address, 1, 20, Duration::from_secs(20)) as u64;
        std::thread::sleep(Duration::from_secs(1));
        let settled = receiver.logs().len();
        std::thread::sleep(Duration::from_secs(2));
        let idle = receiver.logs().len();
        let (output, _) = app.terminate();
        assert_clean_exit(&output);
        let targets: std::collections::BTreeSet<String> =
            receiver.logs().iter().filter_map(|log| log.attribute("target")).collect();
        println!("{protocol}: {answered} requests, {settled} then {idle} log records; targets {targets:?}");
        assert!(settled as u64 >= answered, "{protocol}");
        assert_eq!(idle, settled, "{protocol}: records made while idle: {targets:?}");
        for internal in ["tonic", "h2", "hyper", "reqwest", "tower"] {
            assert!(!targets.iter().any(|t| t.starts_with(internal)), "{protocol}: {targets:?}");
        }
    }
}

/// CPU time (user + system, in clock ticks) the process `pid` used so far, from `/proc/<pid>/stat`.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("/proc/<pid>/stat");
    // Fields after the command name (which may hold spaces) start after the last `)`.
    let fields: Vec<&str> = stat.rsplit_once(')').expect("a stat line").1.split_whitespace().collect();
    fields[11].parse::<u64>().expect("utime") + fields[12].parse::<u64>().expect("stime")
}

/// Every delay and interval at its smallest accepted value, both exporters, a dead collector: after a
/// few requests the idle app uses almost no CPU (the issue saw 100% of a core with delays of 0).
#[test]
#[cfg(target_os = "linux")]
fn the_smallest_delays_do_not_make_an_idle_app_spin() {
    if child::scenario().is_some() {
        return;
    }
    let vars = vec![
        ("OTEL_EXPORTER_OTLP_ENDPOINT", Receiver::unreachable_endpoint()),
        ("OTEL_TRACES_EXPORTER", "console,otlp".to_owned()),
        ("OTEL_LOGS_EXPORTER", "console,otlp".to_owned()),
        ("OTEL_METRICS_EXPORTER", "otlp".to_owned()),
        ("OTEL_BSP_SCHEDULE_DELAY", "1".to_owned()),
        ("OTEL_BLRP_SCHEDULE_DELAY", "1".to_owned()),
        ("OTEL_METRIC_EXPORT_INTERVAL", "100".to_owned()),
        ("OTEL_EXPORTER_OTLP_TIMEOUT", "1".to_owned()),
        ("OTEL_BSP_MAX_QUEUE_SIZE", "1000000".to_owned()),
        ("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "1".to_owned()),
        ("TRACED_SHUTDOWN_TIMEOUT", "1".to_owned()),
    ];
    let app = start_app(&vars);
    let answered = load(app.address, 1, 50, Duration::from_secs(20));
    std::thread::sleep(Duration::from_secs(1));
    let pid = app.process.id();
    let before = cpu_ticks(pid);
    let idle = Duration::from_secs(3);
    std::thread::sleep(idle);
    let used = cpu_ticks(pid) - before;
    let (output, took) = app.terminate();
    assert_clean_exit(&output);
    // Clock ticks are 1/100 s on Linux: 300 would be a core spinning for the whole 3 s.
    println!("{answered} requests; {used} ticks of CPU in {idle:?} idle; exit {took:?}");
    assert!(used < 60, "{used} ticks of CPU in {idle:?} while idle\n{}", stderr(&output));
    assert!(took < Duration::from_millis(1) + MARGIN, "exit took {took:?}");
}

/// `Unavailable` (503) twice then accepted: retried, nothing lost, nothing printed. A partial success
/// rejecting 3 of every request: the printed `rejected` is exactly what the receiver said it rejected,
/// and `exported` what it kept.
#[test]
fn transient_refusals_and_partial_success_print_what_the_receiver_counted() {
    if child::scenario().is_some() {
        return;
    }
    for (transport, protocol) in
        [(Transport::Grpc, "grpc"), (Transport::Http, "http/protobuf"), (Transport::Http, "http/json")]
    {
        let faults = FaultOptions { unavailable_first: 2, ..Default::default() };
        let receiver = Receiver::start_blocking(transport, ReceiverOptions { faults, ..Default::default() });
        let mut vars = otlp_only(receiver.endpoint(), protocol);
        vars.push(("OTEL_LOGS_EXPORTER", "none".to_owned()));
        let app = start_app(&vars);
        let answered = load(app.address, 2, 600, Duration::from_secs(20)) as u64;
        let (output, _) = app.terminate();
        assert_clean_exit(&output);
        let text = stderr(&output);
        assert_eq!(receiver.spans().len() as u64, 2 * answered, "{protocol}\n{text}");
        assert_eq!(receiver.refused().len(), 2, "{protocol}");
        assert!(!text.contains("traced:"), "{protocol}\n{text}");

        let faults = FaultOptions { reject_per_request: Some(3), ..Default::default() };
        let receiver = Receiver::start_blocking(transport, ReceiverOptions { faults, ..Default::default() });
        let mut vars = otlp_only(receiver.endpoint(), protocol);
        vars.push(("OTEL_LOGS_EXPORTER", "none".to_owned()));
        let app = start_app(&vars);
        let answered = load(app.address, 2, 600, Duration::from_secs(20)) as u64;
        let (output, _) = app.terminate();
        assert_clean_exit(&output);
        let stderr = stderr(&output);
        let spans = summary(&stderr, "spans").unwrap_or_else(|| panic!("{protocol}: a spans line\n{stderr}"));
        let (received, rejected) = (receiver.spans().len() as u64, receiver.rejected_items());
        println!("{protocol}: {answered} requests, {received} received, {rejected} rejected\n{stderr}");
        assert_eq!(spans.ended, 2 * answered, "{protocol}\n{stderr}");
        assert_eq!(spans.rejected, rejected, "{protocol}\n{stderr}");
        assert_eq!(spans.exported, received - rejected, "{protocol}\n{stderr}");
        assert_eq!(spans.exported + spans.rejected, spans.ended, "{protocol}\n{stderr}");
        assert!(stderr.contains("test receiver rejects 3"), "the collector's message is shown\n{stderr}");
        // A request of spans, not of traces (a batch's spans belong to many traces).
        assert!(stderr.contains("rejected 3 spans of a request of 512 spans"), "{protocol}\n{stderr}");
    }
}
