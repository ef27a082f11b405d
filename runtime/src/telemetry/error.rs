//! Why `traced::init()` refused to start.

use std::fmt;

use opentelemetry_sdk::error::OTelSdkError;

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

/// The error returned by `traced::init()` and `Telemetry::builder().init()`. Its `Display`, `Debug`
/// (what `fn main() -> Result<(), InitError>` prints) and its `source()` chain (what `anyhow` prints
/// as "Caused by") carry no credential: exporter errors are redacted when the error is made.
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
        /// What the exporter reported, redacted (each error of its `source()` chain too).
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

impl InitError {
    /// The exporter for `signal` could not be built: `source` and its chain are kept as redacted text only.
    #[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
    pub(crate) fn exporter(signal: &'static str, source: &(dyn std::error::Error + 'static)) -> Self {
        Self::Exporter { signal, source: Box::new(RedactedError::of(source)) }
    }
}

/// An error's text and `source()` chain, redacted; what [`InitError::Exporter`] keeps of the original.
#[derive(Debug)]
#[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
struct RedactedError {
    message: String,
    source: Option<Box<RedactedError>>,
}

#[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
impl RedactedError {
    /// How many errors of a chain are kept (a cycle or a very long chain stops here).
    const MAX_CHAIN: usize = 16;

    fn of(error: &(dyn std::error::Error + 'static)) -> Self {
        let mut chain = Vec::new();
        let mut next = Some(error);
        while let Some(error) = next.filter(|_| chain.len() < Self::MAX_CHAIN) {
            chain.push(crate::privacy::redact_text(&error.to_string()).into_owned());
            next = error.source();
        }
        let mut redacted: Option<Box<RedactedError>> = None;
        for message in chain.into_iter().rev() {
            redacted = Some(Box::new(RedactedError { message, source: redacted }));
        }
        redacted.map_or_else(|| RedactedError { message: String::new(), source: None }, |error| *error)
    }
}

#[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
impl fmt::Display for RedactedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

#[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
impl std::error::Error for RedactedError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_deref().map(|source| source as &(dyn std::error::Error + 'static))
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
    failures: Vec<(&'static str, OTelSdkError)>,
    report: Box<crate::ExportReport>,
}

impl ShutdownError {
    /// The failures are redacted here, so that [`ShutdownError::failures`] quotes no credential either.
    pub(crate) fn new(failures: Vec<(&'static str, OTelSdkError)>, report: crate::ExportReport) -> Self {
        let failures = failures.into_iter().map(|(signal, error)| (signal, redacted_sdk_error(error))).collect();
        Self { failures, report: Box::new(report) }
    }

    /// Each signal that failed (`traces`, `metrics`, `logs`) with the reason.
    pub fn failures(&self) -> &[(&'static str, OTelSdkError)] {
        &self.failures
    }

    /// What became of every span, log record and metric export (for a flush: so far).
    pub fn report(&self) -> &crate::ExportReport {
        &self.report
    }
}

/// `error` with the text it carries redacted (exporter errors quote the endpoint).
fn redacted_sdk_error(error: OTelSdkError) -> OTelSdkError {
    match error {
        OTelSdkError::InternalFailure(text) => {
            OTelSdkError::InternalFailure(crate::privacy::redact_text(&text).into_owned())
        }
        other => other,
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

// The exporter errors exist with an OTLP exporter only.
#[cfg(all(test, any(feature = "otlp-grpc", feature = "otlp-http")))]
mod tests {
    use super::*;

    #[test]
    fn exporter_and_shutdown_errors_print_no_credentials() {
        let url = "error sending request for url (http://user:PWSECRET@collector:4318/v1/traces?token=T0PSECRET)";
        let init = InitError::exporter("traces", &Outer(Cause(url)));
        let shutdown = ShutdownError::new(
            vec![("traces", OTelSdkError::InternalFailure(url.to_owned()))],
            crate::ExportReport::default(),
        );
        let mut texts = vec![init.to_string(), format!("{init:?}"), shutdown.to_string(), format!("{shutdown:?}")];
        // What `anyhow` prints as "Caused by", and what a caller reads from `failures()`.
        let mut source = std::error::Error::source(&init);
        while let Some(error) = source {
            texts.push(error.to_string());
            texts.push(format!("{error:?}"));
            source = error.source();
        }
        texts.extend(shutdown.failures().iter().map(|(_, error)| format!("{error} {error:?}")));
        assert_eq!(texts.len(), 9, "the whole chain was walked: {texts:?}");
        for text in texts {
            assert!(text.contains("collector:4318") || text.contains("cannot connect"), "{text}");
            assert!(!text.contains("PWSECRET") && !text.contains("T0PSECRET"), "{text}");
        }
    }

    /// An exporter error whose own text is harmless and whose cause quotes the endpoint.
    #[derive(Debug)]
    struct Outer(Cause);

    impl fmt::Display for Outer {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("cannot connect")
        }
    }

    impl std::error::Error for Outer {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }

    #[derive(Debug)]
    struct Cause(&'static str);

    impl fmt::Display for Cause {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(self.0)
        }
    }

    impl std::error::Error for Cause {}
}
