//! Runs one test of the current binary in a child process, with extra environment variables.
//!
//! Tests of `traced::init()` touch process-global state (providers, the environment, the `tracing`
//! subscriber), so each scenario runs in a fresh process: the parent test starts a receiver, then
//! calls [`run`] naming a `#[test]` that does nothing unless [`SCENARIO_VAR`] is set.

use std::io::Read;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Set in the child: the scenario to run.
pub const SCENARIO_VAR: &str = "TRACED_TEST_SCENARIO";

/// The scenario this process should run, if it is a child started by [`run`].
pub fn scenario() -> Option<String> {
    std::env::var(SCENARIO_VAR).ok()
}

/// Runs `#[test] fn test_name` of this binary in a child process with `scenario` and `vars` set,
/// with every inherited `OTEL_*` variable removed first. Returns the child's output.
///
/// A child that has not finished after [`CHILD_LIMIT`] is killed and the test fails: a hang
/// (the trap this harness exists to catch) must end the test, not the CI job.
pub fn run(test_name: &str, scenario: &str, vars: &[(&str, String)]) -> Output {
    let exe = std::env::current_exe().expect("the test binary knows its path");
    let mut command = Command::new(exe);
    command.args([test_name, "--exact", "--nocapture", "--test-threads=1"]);
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("OTEL_") {
            command.env_remove(name);
        }
    }
    command.env(SCENARIO_VAR, scenario);
    for (name, value) in vars {
        command.env(name, value);
    }
    command.stdout(Stdio::piped()).stderr(Stdio::piped());
    let child = command.spawn().expect("the child test process starts");
    wait_bounded(child)
}

/// Upper bound on one child scenario.
pub const CHILD_LIMIT: Duration = Duration::from_secs(120);

fn wait_bounded(mut child: Child) -> Output {
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut bytes);
            }
            bytes
        })
    };
    let stdout = drain(child.stdout.take().map(|pipe| Box::new(pipe) as Box<dyn Read + Send>));
    let stderr = drain(child.stderr.take().map(|pipe| Box::new(pipe) as Box<dyn Read + Send>));
    let deadline = Instant::now() + CHILD_LIMIT;
    let status = loop {
        if let Some(status) = child.try_wait().expect("poll the child") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the child scenario did not finish within {CHILD_LIMIT:?}: it hangs");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Output { status, stdout: stdout.join().unwrap_or_default(), stderr: stderr.join().unwrap_or_default() }
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
