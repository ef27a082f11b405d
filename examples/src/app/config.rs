//! The sample app's settings: command-line flags, each with an environment variable.

use std::time::Duration;

use clap::Parser;

use crate::duration::parse_duration;

/// What the app does, apart from where it listens.
#[derive(Debug, Clone)]
pub struct AppConfig {
    /// How long `load-item` sleeps for an even item id (the guide's simulated I/O).
    pub io_delay: Duration,
    /// What `/external-api` calls; `None` starts the built-in todo service on 127.0.0.1.
    pub external_url: Option<String>,
}

impl Default for AppConfig {
    fn default() -> Self {
        Self { io_delay: Duration::from_millis(200), external_url: None }
    }
}

/// `sample-app`: the FastAPI guide's demo app on axum, instrumented with `traced`.
///
/// Telemetry is configured by the standard OTEL_* variables: console output by default, OTLP as
/// soon as OTEL_EXPORTER_OTLP_ENDPOINT is set.
#[derive(Debug, Parser)]
#[command(name = "sample-app", version)]
pub struct AppArgs {
    /// Address to listen on.
    #[arg(long, env = "SAMPLE_APP_HOST", default_value = "127.0.0.1")]
    pub host: String,
    /// Port to listen on (0 picks a free one).
    #[arg(long, env = "SAMPLE_APP_PORT", default_value_t = 5002)]
    pub port: u16,
    /// Sleep of `load-item` for even item ids: 200ms, 1s, 0s, ...
    #[arg(long, env = "SAMPLE_APP_IO_DELAY", default_value = "200ms", value_parser = parse_duration)]
    pub io_delay: Duration,
    /// URL `/external-api` calls instead of the built-in todo service.
    #[arg(long, env = "SAMPLE_APP_EXTERNAL_URL")]
    pub external_url: Option<String>,
}

impl AppArgs {
    /// The listen address as `host:port`, IPv6 hosts bracketed.
    pub fn listen_address(&self) -> String {
        if self.host.contains(':') && !self.host.starts_with('[') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    pub fn app_config(&self) -> AppConfig {
        AppConfig { io_delay: self.io_delay, external_url: self.external_url.clone() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> AppArgs {
        AppArgs::try_parse_from(std::iter::once("sample-app").chain(args.iter().copied())).expect("valid flags")
    }

    #[test]
    fn flags_and_their_defaults() {
        // Only the flags are given: clap reads SAMPLE_APP_* only for flags that are absent.
        let args = parse(&["--host", "127.0.0.1", "--port", "5002", "--io-delay", "200ms"]);
        assert_eq!(args.listen_address(), "127.0.0.1:5002");
        assert_eq!(args.app_config().io_delay, Duration::from_millis(200));

        let args =
            parse(&["--host", "::1", "--port", "0", "--io-delay", "0s", "--external-url", "http://127.0.0.1:9/x"]);
        assert_eq!(args.listen_address(), "[::1]:0");
        let config = args.app_config();
        assert_eq!((config.io_delay, config.external_url.as_deref()), (Duration::ZERO, Some("http://127.0.0.1:9/x")));
    }

    #[test]
    fn a_bad_delay_is_refused() {
        let error =
            AppArgs::try_parse_from(["sample-app", "--io-delay", "later"]).expect_err("must be refused").to_string();
        assert!(error.contains("not a duration"), "{error}");
    }
}
