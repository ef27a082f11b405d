//! The `sample-app` binary refusing bad settings: a value from a variable is reported under the
//! variable's name, so the user knows which of their settings to fix.

use std::process::Command;

/// Runs the app with one variable set; it must refuse to start (nothing binds).
fn refused_with(variable: &str, value: &str, args: &[&str]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_sample-app"))
        .args(args)
        .env(variable, value)
        .env("OTEL_TRACES_EXPORTER", "none")
        .env("OTEL_METRICS_EXPORTER", "none")
        .env("OTEL_LOGS_EXPORTER", "none")
        .output()
        .expect("run sample-app");
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn a_bad_variable_is_named_with_its_value() {
    for (variable, value) in [
        ("SAMPLE_APP_DRAIN_TIMEOUT", "61m"),
        ("SAMPLE_APP_HEADER_READ_TIMEOUT", "0s"),
        ("SAMPLE_APP_PORT", "99999"),
        ("SAMPLE_APP_MAX_CONNECTIONS", "0"),
        ("SAMPLE_APP_IO_DELAY", "soon"),
    ] {
        let stderr = refused_with(variable, value, &[]);
        assert!(stderr.contains(variable) && stderr.contains(value), "{variable}={value}: {stderr}");
    }
}

#[test]
fn a_bad_flag_is_named_as_the_flag() {
    // The flag wins over the variable, and is what the message names.
    let stderr = refused_with("SAMPLE_APP_PORT", "5002", &["--port", "99999"]);
    assert!(stderr.contains("'--port <PORT>'") && stderr.contains("99999"), "{stderr}");
    assert!(!stderr.contains("SAMPLE_APP_PORT"), "{stderr}");
}
