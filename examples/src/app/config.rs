//! The sample app's settings: command-line flags, each with an environment variable.

use std::time::Duration;

use std::ffi::OsString;

use clap::error::{ContextKind, ContextValue};
use clap::{CommandFactory, Parser};

use super::serve::ServeOptions;
use crate::duration::parse_duration;

/// What the app does, apart from where it listens.
#[derive(Debug, Clone)]
pub struct AppConfig {
    /// How long `load-item` sleeps for an even item id (the guide's simulated I/O).
    pub io_delay: Duration,
    /// What `/external-api` calls; `None` starts the built-in todo service on 127.0.0.1.
    pub external_url: Option<String>,
    /// The header-read timeout and the drain deadline (for the todo service too).
    pub serve: ServeOptions,
}

impl Default for AppConfig {
    fn default() -> Self {
        Self { io_delay: Duration::from_millis(200), external_url: None, serve: ServeOptions::default() }
    }
}

/// The longest drain or header-read timeout accepted (so adding it to a clock cannot overflow).
const MAX_TIMEOUT: Duration = Duration::from_secs(3600);
const DEFAULT_MAX_CONNECTIONS: u32 = ServeOptions::DEFAULT_MAX_CONNECTIONS as u32;
/// The most connections `--max-connections` accepts.
const MAX_CONNECTIONS: i64 = 100_000;

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
    /// After SIGTERM or Ctrl-C, how long requests in flight may still run before their connections
    /// are cut (0s to 1h).
    #[arg(long, env = "SAMPLE_APP_DRAIN_TIMEOUT", default_value = "10s", value_parser = parse_drain_timeout)]
    pub drain_timeout: Duration,
    /// How long a client may take to send a complete request head, and a kept-alive connection may
    /// stay idle, before it is closed (more than 0s, at most 1h).
    #[arg(long, env = "SAMPLE_APP_HEADER_READ_TIMEOUT", default_value = "5s", value_parser = parse_header_read_timeout)]
    pub header_read_timeout: Duration,
    /// Connections open at once (1 to 100000); more clients wait until one closes.
    #[arg(long, env = "SAMPLE_APP_MAX_CONNECTIONS", default_value_t = DEFAULT_MAX_CONNECTIONS,
          value_parser = clap::value_parser!(u32).range(1..=MAX_CONNECTIONS))]
    pub max_connections: u32,
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
        AppConfig {
            io_delay: self.io_delay,
            external_url: self.external_url.clone(),
            serve: ServeOptions {
                drain_timeout: self.drain_timeout,
                header_read_timeout: self.header_read_timeout,
                // Lossless: u32 fits usize on every target tokio supports.
                max_connections: self.max_connections as usize,
            },
        }
    }
}

impl AppArgs {
    /// Parses `args` (the program name first) and the variables; a bad value read from a variable is
    /// reported under the variable's name, which clap leaves out (it names only the flag).
    pub fn try_parse_args(args: &[OsString]) -> Result<Self, clap::Error> {
        Self::try_parse_from(args).map_err(|error| name_the_variable(error, args))
    }
}

fn name_the_variable(mut error: clap::Error, args: &[OsString]) -> clap::Error {
    let Some(ContextValue::String(invalid)) = error.get(ContextKind::InvalidArg) else { return error };
    let Some(flag) = invalid.split_whitespace().next().map(str::to_owned) else { return error };
    let command = AppArgs::command();
    let variable = command
        .get_arguments()
        .find(|arg| arg.get_long().is_some_and(|long| flag.strip_prefix("--") == Some(long)))
        .and_then(|arg| arg.get_env().map(|name| name.to_string_lossy().into_owned()));
    let given = |arg: &OsString| arg.to_str().is_some_and(|arg| arg == flag || arg.starts_with(&format!("{flag}=")));
    if let Some(variable) = variable.filter(|_| !args.iter().any(given)) {
        error.insert(ContextKind::InvalidArg, ContextValue::String(format!("{variable} (for {flag})")));
    }
    error
}

fn parse_drain_timeout(text: &str) -> Result<Duration, String> {
    let timeout = parse_duration(text)?;
    if timeout > MAX_TIMEOUT {
        return Err(format!("`{text}` is more than the longest drain, 1h"));
    }
    Ok(timeout)
}

fn parse_header_read_timeout(text: &str) -> Result<Duration, String> {
    let timeout = parse_duration(text)?;
    if timeout.is_zero() || timeout > MAX_TIMEOUT {
        return Err(format!("`{text}` is out of range: more than 0s, at most 1h"));
    }
    Ok(timeout)
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
        let args = parse(&[
            "--host",
            "127.0.0.1",
            "--port",
            "5002",
            "--io-delay",
            "200ms",
            "--drain-timeout",
            "10s",
            "--header-read-timeout",
            "5s",
            "--max-connections",
            "4096",
        ]);
        assert_eq!(args.listen_address(), "127.0.0.1:5002");
        let config = args.app_config();
        assert_eq!(config.io_delay, Duration::from_millis(200));
        assert_eq!(config.serve, ServeOptions::default());

        let args =
            parse(&["--host", "::1", "--port", "0", "--io-delay", "0s", "--external-url", "http://127.0.0.1:9/x"]);
        assert_eq!(args.listen_address(), "[::1]:0");
        let config = args.app_config();
        assert_eq!((config.io_delay, config.external_url.as_deref()), (Duration::ZERO, Some("http://127.0.0.1:9/x")));

        let config =
            parse(&["--drain-timeout", "0s", "--header-read-timeout", "250ms", "--max-connections", "1"]).app_config();
        let expected = ServeOptions {
            drain_timeout: Duration::ZERO,
            header_read_timeout: Duration::from_millis(250),
            max_connections: 1,
        };
        assert_eq!(config.serve, expected);
        let config = parse(&["--drain-timeout", "1h", "--header-read-timeout", "1h"]).app_config();
        assert_eq!(config.serve.drain_timeout, Duration::from_secs(3600));
    }

    #[test]
    fn the_flag_defaults_are_the_serving_defaults() {
        use clap::CommandFactory;
        let command = AppArgs::command();
        let default = |id: &str| {
            let argument = command.get_arguments().find(|a| a.get_id() == id).expect("a flag");
            argument.get_default_values()[0].to_string_lossy().into_owned()
        };
        let defaults = ServeOptions::default();
        assert_eq!(parse_duration(&default("drain_timeout")), Ok(defaults.drain_timeout));
        assert_eq!(parse_duration(&default("header_read_timeout")), Ok(defaults.header_read_timeout));
        assert_eq!(default("max_connections").parse(), Ok(defaults.max_connections));
    }

    #[test]
    fn timeouts_out_of_range_are_refused() {
        for (flag, value, expected) in [
            ("--drain-timeout", "61m", "longest drain"),
            ("--drain-timeout", "soon", "not a duration"),
            ("--header-read-timeout", "0s", "more than 0s"),
            ("--header-read-timeout", "2h", "at most 1h"),
            ("--header-read-timeout", "18446744073709551615", "out of range"),
            ("--max-connections", "0", "not in 1..=100000"),
            ("--max-connections", "100001", "not in 1..=100000"),
            ("--max-connections", "many", "invalid digit"),
        ] {
            let error = AppArgs::try_parse_from(["sample-app", flag, value]).expect_err("must be refused").to_string();
            assert!(error.contains(expected) && error.contains(flag), "{flag} {value}: {error}");
        }
    }

    #[test]
    fn a_bad_delay_is_refused() {
        let error =
            AppArgs::try_parse_from(["sample-app", "--io-delay", "later"]).expect_err("must be refused").to_string();
        assert!(error.contains("not a duration"), "{error}");
    }
}
