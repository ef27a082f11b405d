//! Runs one test of the current binary in a child process, with extra environment variables.
//!
//! Tests of `traced::init()` touch process-global state (providers, the environment, the `tracing`
//! subscriber), so each scenario runs in a fresh process: the parent test starts a receiver, then
//! calls [`run`] naming a `#[test]` that does nothing unless [`SCENARIO_VAR`] is set.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Set in the child: the scenario to run.
pub const SCENARIO_VAR: &str = "TRACED_TEST_SCENARIO";

/// The scenario this process should run, if it is a child started by [`run`].
pub fn scenario() -> Option<String> {
    std::env::var(SCENARIO_VAR).ok()
}

/// Runs `#[test] fn test_name` of this binary in a child process with `scenario` and `vars` set,
/// with every inherited `OTEL_*` and `SAMPLE_APP_*` variable removed first. Returns the child's output.
///
/// A child that has not finished after [`CHILD_LIMIT`] is killed and the test fails: a hang
/// (the trap this harness exists to catch) must end the test, not the CI job.
pub fn run(test_name: &str, scenario: &str, vars: &[(&str, String)]) -> Output {
    start(test_name, scenario, vars).wait()
}

/// Like [`run`], but returns at once: the parent can read the child's stderr line by line while it
/// runs, send it a signal, then [`RunningChild::wait`] for it.
pub fn start(test_name: &str, scenario: &str, vars: &[(&str, String)]) -> RunningChild {
    let exe = std::env::current_exe().expect("the test binary knows its path");
    let mut command = Command::new(exe);
    command.args([test_name, "--exact", "--nocapture", "--test-threads=1"]);
    spawn(command, scenario, vars)
}

/// Like [`start`], but runs `program` (e.g. a release build of the sample app) with `vars`.
pub fn start_program(program: &std::path::Path, vars: &[(&str, String)]) -> RunningChild {
    spawn(Command::new(program), "program", vars)
}

fn spawn(mut command: Command, scenario: &str, vars: &[(&str, String)]) -> RunningChild {
    for (name, _) in std::env::vars_os() {
        let name_text = name.to_string_lossy();
        if name_text.starts_with("OTEL_") || name_text.starts_with("SAMPLE_APP_") {
            command.env_remove(name);
        }
    }
    command.env(SCENARIO_VAR, scenario);
    for (name, value) in vars {
        command.env(name, value);
    }
    command.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = command.spawn().expect("the child test process starts");
    let stdout = drain(child.stdout.take().map(|pipe| Box::new(pipe) as Box<dyn Read + Send>), None);
    let (lines, stderr_lines) = mpsc::channel();
    let stderr = drain(child.stderr.take().map(|pipe| Box::new(pipe) as Box<dyn Read + Send>), Some(lines));
    RunningChild { child, output: Some((stdout, stderr)), stderr_lines, deadline: Instant::now() + CHILD_LIMIT }
}

/// Upper bound on one child scenario.
pub const CHILD_LIMIT: Duration = Duration::from_secs(120);

/// Reads `pipe` to its end on a thread; sends each complete line to `lines` as it arrives.
fn drain(pipe: Option<Box<dyn Read + Send>>, lines: Option<mpsc::Sender<String>>) -> JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let Some(pipe) = pipe else { return bytes };
        let mut reader = BufReader::new(pipe);
        let mut line = Vec::new();
        while matches!(reader.read_until(b'\n', &mut line), Ok(read) if read > 0) {
            if let Some(lines) = &lines {
                let _ = lines.send(String::from_utf8_lossy(&line).trim_end().to_owned());
            }
            bytes.append(&mut line);
        }
        bytes
    })
}

/// The threads reading stdout and stderr.
type Readers = (JoinHandle<Vec<u8>>, JoinHandle<Vec<u8>>);

/// A child scenario started by [`start`]; killed if dropped before [`RunningChild::wait`] (a failed
/// assertion in the parent must not leave it running).
#[derive(Debug)]
pub struct RunningChild {
    child: Child,
    output: Option<Readers>,
    stderr_lines: mpsc::Receiver<String>,
    deadline: Instant,
}

impl RunningChild {
    /// Waits up to `limit` for a stderr line containing `needle` and returns it; lines before it are
    /// skipped (they stay in the final output). Panics if the child ends or the time runs out first.
    pub fn wait_for_stderr(&mut self, needle: &str, limit: Duration) -> String {
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.stderr_lines.recv_timeout(left) {
                Ok(line) if line.contains(needle) => return line,
                Ok(_) => {}
                Err(error) => {
                    let _ = self.child.kill();
                    panic!("no stderr line with `{needle}` within {limit:?} ({error}): {:?}", self.child.wait());
                }
            }
        }
    }

    /// Waits up to `limit` for the sample app's `sample-app: listening on http://<address>` line; the address.
    pub fn wait_for_listening(&mut self, limit: Duration) -> std::net::SocketAddr {
        let line = self.wait_for_stderr("sample-app: listening on http://", limit);
        let address = line.rsplit("http://").next().and_then(|address| address.trim().parse().ok());
        address.unwrap_or_else(|| panic!("an address in `{line}`"))
    }

    /// The child's process id (e.g. to read `/proc/<id>/stat`).
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// Sends SIGTERM, as `docker stop` and Kubernetes do.
    pub fn terminate(&self) {
        let status = Command::new("kill")
            .args(["-s", "TERM", &self.child.id().to_string()])
            .status()
            .expect("the kill command runs");
        assert!(status.success(), "kill -s TERM failed: {status}");
    }

    /// Sends SIGTERM and waits for the exit: the output, and how long the exit took after the signal.
    pub fn terminate_and_wait(self) -> (Output, Duration) {
        let signalled = Instant::now();
        self.terminate();
        let output = self.wait();
        (output, signalled.elapsed())
    }

    /// Waits for the child to end (killing it past [`CHILD_LIMIT`] from its start) and returns its output.
    pub fn wait(mut self) -> Output {
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("poll the child") {
                break status;
            }
            if Instant::now() > self.deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!("the child scenario did not finish within {CHILD_LIMIT:?}: it hangs");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let (stdout, stderr) = self.output.take().expect("waited once");
        Output { status, stdout: stdout.join().unwrap_or_default(), stderr: stderr.join().unwrap_or_default() }
    }
}

impl Drop for RunningChild {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Panics with the child's output unless it succeeded.
pub fn assert_success(output: &Output) {
    assert!(
        output.status.success(),
        "child failed ({}):\n--- stdout\n{}\n--- stderr\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
