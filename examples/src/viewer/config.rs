//! The `viewer` command line and the checks on it: addresses (loopback unless told otherwise) and limits.

use std::net::SocketAddr;

use clap::Parser;

use super::store::Limits;

/// Receives OTLP (traces, metrics, logs) and shows them on a local web page.
#[derive(Debug, Parser)]
#[command(name = "viewer", version)]
pub struct ViewerArgs {
    /// OTLP/gRPC address.
    #[arg(long, env = "VIEWER_GRPC_ADDR", default_value = "127.0.0.1:4317")]
    pub grpc_addr: SocketAddr,
    /// OTLP/HTTP address (`/v1/traces`, `/v1/metrics`, `/v1/logs`; protobuf or JSON).
    #[arg(long, env = "VIEWER_HTTP_ADDR", default_value = "127.0.0.1:4318")]
    pub http_addr: SocketAddr,
    /// Web page and JSON API address.
    #[arg(long, env = "VIEWER_UI_ADDR", default_value = "127.0.0.1:16686")]
    pub ui_addr: SocketAddr,
    /// Spans kept in memory; past it the oldest traces are evicted whole.
    #[arg(long, env = "VIEWER_MAX_SPANS", default_value_t = 100_000, value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
    pub max_spans: u64,
    /// Log records kept in memory; past it the oldest are evicted.
    #[arg(long, env = "VIEWER_MAX_LOGS", default_value_t = 100_000, value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
    pub max_logs: u64,
    /// Metric series (metric, service and attribute set) kept; new series past it are dropped and counted.
    #[arg(long, env = "VIEWER_MAX_SERIES", default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub max_series: u64,
    /// MiB held by spans, and apart by log records, at most; past it the oldest go as past the counts.
    #[arg(long, env = "VIEWER_MAX_MEMORY_MIB", default_value_t = 1024, value_parser = clap::value_parser!(u64).range(1..=1_048_576))]
    pub max_memory_mib: u64,
    /// Allow binding addresses other than loopback (the viewer has no authentication).
    #[arg(long)]
    pub allow_remote: bool,
}

/// Where the viewer listens and what it keeps.
#[derive(Debug, Clone)]
pub struct ViewerConfig {
    pub grpc_addr: SocketAddr,
    pub http_addr: SocketAddr,
    pub ui_addr: SocketAddr,
    pub limits: Limits,
    /// Non-loopback addresses allowed, and the page answers any `Host` name (else loopback names only).
    pub allow_remote: bool,
}

impl ViewerConfig {
    /// Every address on 127.0.0.1 port 0 (the tests' choice), default limits.
    pub fn ephemeral() -> Self {
        let any: SocketAddr = SocketAddr::from(([127, 0, 0, 1], 0));
        ViewerConfig { grpc_addr: any, http_addr: any, ui_addr: any, limits: Limits::default(), allow_remote: false }
    }
}

/// A flag value the viewer refuses.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error(
        "--{flag} {addr} is not a loopback address; the viewer has no authentication, pass --allow-remote to expose it"
    )]
    NotLoopback { flag: &'static str, addr: SocketAddr },
}

impl TryFrom<ViewerArgs> for ViewerConfig {
    type Error = ConfigError;

    fn try_from(args: ViewerArgs) -> Result<Self, ConfigError> {
        let addresses = [("grpc-addr", args.grpc_addr), ("http-addr", args.http_addr), ("ui-addr", args.ui_addr)];
        if !args.allow_remote {
            if let Some((flag, addr)) = addresses.into_iter().find(|(_, addr)| !addr.ip().is_loopback()) {
                return Err(ConfigError::NotLoopback { flag, addr });
            }
        }
        let clamp = |value: u64| usize::try_from(value).unwrap_or(usize::MAX);
        Ok(ViewerConfig {
            grpc_addr: args.grpc_addr,
            http_addr: args.http_addr,
            ui_addr: args.ui_addr,
            limits: Limits {
                max_spans: clamp(args.max_spans),
                max_logs: clamp(args.max_logs),
                max_series: clamp(args.max_series),
                max_bytes: clamp(args.max_memory_mib.saturating_mul(1024 * 1024)),
            },
            allow_remote: args.allow_remote,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<ViewerConfig, ConfigError> {
        let mut argv = vec!["viewer"];
        argv.extend_from_slice(args);
        ViewerConfig::try_from(ViewerArgs::try_parse_from(argv).expect("flags parse"))
    }

    #[test]
    fn defaults_are_the_usual_ports_on_loopback() {
        let config = parse(&[]).expect("defaults are valid");
        assert_eq!(config.grpc_addr.to_string(), "127.0.0.1:4317");
        assert_eq!(config.http_addr.to_string(), "127.0.0.1:4318");
        assert_eq!(config.ui_addr.to_string(), "127.0.0.1:16686");
        assert_eq!(config.limits.max_spans, 100_000);
    }

    #[test]
    fn a_public_address_needs_allow_remote() {
        let error = parse(&["--ui-addr", "0.0.0.0:16686"]).expect_err("refused");
        assert_eq!(error, ConfigError::NotLoopback { flag: "ui-addr", addr: "0.0.0.0:16686".parse().expect("addr") });
        assert!(parse(&["--grpc-addr", "[::]:4317"]).is_err());
        assert!(parse(&["--http-addr", "[::1]:4318"]).is_ok(), "IPv6 loopback is fine");
        assert!(parse(&["--ui-addr", "0.0.0.0:16686", "--allow-remote"]).is_ok());
    }

    #[test]
    fn limits_are_ranged() {
        let argv = ["viewer", "--max-spans", "0"];
        assert!(ViewerArgs::try_parse_from(argv).is_err());
        assert_eq!(parse(&["--max-spans", "10"]).expect("valid").limits.max_spans, 10);
    }
}
