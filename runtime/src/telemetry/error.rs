//! Why `traced::init()` refused to start.

use std::fmt;

/// A setting that cannot be used: names the variable (or builder method), the value and what is accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidSetting {
    /// The environment variable (e.g. `OTEL_TRACES_SAMPLER`) or builder method that carried the value.
    pub variable: String,
    /// The value as given; empty for a variable that can carry credentials (`*_HEADERS`), whose value
    /// is never echoed. URLs are shown without userinfo.
    pub value: String,
    /// What would have been accepted.
    pub expected: String,
}

impl fmt::Display for InvalidSetting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.value.is_empty() {
            return write!(f, "invalid value for `{}`: expected {}", self.variable, self.expected);
        }
        write!(f, "invalid value `{}` for `{}`: expected {}", self.value, self.variable, self.expected)
    }
}

impl std::error::Error for InvalidSetting {}

/// The error returned by `traced::init()` and `Telemetry::builder().init()`. Its `Display` and `Debug`
/// (what `fn main() -> Result<(), InitError>` prints) carry no credential: exporter errors are redacted.
#[derive(thiserror::Error)]
#[non_exhaustive]
pub enum InitError {
    /// A configuration value cannot be used.
    #[error(transparent)]
    InvalidSetting(#[from] InvalidSetting),
    /// `init()` was called while the guard of an earlier `init()` is still alive.
    #[error(
        "telemetry is already initialised: drop or shut down the first `TelemetryGuard` before calling `init()` again"
    )]
    AlreadyInitialized,
    /// The OTLP exporter for a signal could not be built.
    #[error("cannot build the OTLP {signal} exporter: {}", crate::privacy::redact_text(&source.to_string()))]
    Exporter {
        /// `traces`, `metrics` or `logs`.
        signal: &'static str,
        /// What the exporter reported.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The background runtime that drives gRPC exports could not start.
    #[error("cannot start the exporter runtime: {0}")]
    Runtime(#[source] std::io::Error),
}

impl fmt::Debug for InitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidSetting(error) => f.debug_tuple("InvalidSetting").field(error).finish(),
            Self::AlreadyInitialized => f.write_str("AlreadyInitialized"),
            Self::Exporter { signal, source } => f
                .debug_struct("Exporter")
                .field("signal", signal)
                .field("source", &Redacted(&format!("{source:?}")))
                .finish(),
            Self::Runtime(error) => f.debug_tuple("Runtime").field(error).finish(),
        }
    }
}

/// Text shown through [`crate::privacy::redact_text`], as is (no quotes added).
struct Redacted<'a>(&'a str);

impl fmt::Debug for Redacted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&crate::privacy::redact_text(self.0))
    }
}

impl InvalidSetting {
    pub(crate) fn new(variable: &str, value: &str, expected: impl Into<String>) -> Self {
        Self { variable: variable.to_owned(), value: value.to_owned(), expected: expected.into() }
    }

    /// An invalid value that is not repeated: `expected` says what is wrong without quoting it.
    pub(crate) fn hidden(variable: &str, expected: impl Into<String>) -> Self {
        Self { variable: variable.to_owned(), value: String::new(), expected: expected.into() }
    }
}

/// Some signal did not flush or shut down within the deadline (or a span processor of your own
/// failed). What became of every item is in [`ShutdownError::report`] either way. `Display` and `Debug`
/// show the failures redacted (exporter errors quote the endpoint).
pub struct ShutdownError {
    pub(crate) failures: Vec<(&'static str, opentelemetry_sdk::error::OTelSdkError)>,
    pub(crate) report: Box<crate::ExportReport>,
}

impl ShutdownError {
    /// Each signal that failed (`traces`, `metrics`, `logs`) with the reason.
    pub fn failures(&self) -> &[(&'static str, opentelemetry_sdk::error::OTelSdkError)] {
        &self.failures
    }

    /// What became of every span, log record and metric export (for a flush: so far).
    pub fn report(&self) -> &crate::ExportReport {
        &self.report
    }
}

impl fmt::Display for ShutdownError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("telemetry did not shut down cleanly")?;
        for (signal, error) in &self.failures {
            // Exporter errors quote the endpoint (reqwest's say `for url (...)`).
            write!(f, "; {signal}: {}", crate::privacy::redact_text(&error.to_string()))?;
        }
        Ok(())
    }
}

impl fmt::Debug for ShutdownError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let failures: Vec<(&str, String)> =
            self.failures.iter().map(|(signal, error)| (*signal, format!("{error:?}"))).collect();
        let failures: Vec<(&str, Redacted<'_>)> =
            failures.iter().map(|(signal, error)| (*signal, Redacted(error))).collect();
        f.debug_struct("ShutdownError").field("failures", &failures).field("report", &self.report).finish()
    }
}

impl std::error::Error for ShutdownError {}

#[cfg(test)]
mod tests {
    use opentelemetry_sdk::error::OTelSdkError;

    use super::*;

    #[test]
    fn exporter_and_shutdown_errors_print_no_credentials() {
        let url = "error sending request for url (http://user:PWSECRET@collector:4318/v1/traces?token=T0PSECRET)";
        let init = InitError::Exporter { signal: "traces", source: url.into() };
        let shutdown = ShutdownError {
            failures: vec![("traces", OTelSdkError::InternalFailure(url.to_owned()))],
            report: Box::default(),
        };
        for text in [init.to_string(), format!("{init:?}"), shutdown.to_string(), format!("{shutdown:?}")] {
            assert!(text.contains("collector:4318"), "{text}");
            assert!(!text.contains("PWSECRET") && !text.contains("T0PSECRET"), "{text}");
        }
    }
}
