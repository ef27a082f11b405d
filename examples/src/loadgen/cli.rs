//! The `loadgen` command line, named like Locust's headless flags.

use std::time::Duration;

use clap::Parser;

use super::config::{LoadConfig, LoadError, WaitTime};
use crate::duration::parse_duration;

/// Sends weighted traffic to the sample app and prints a per-endpoint latency table.
#[derive(Debug, Parser)]
#[command(name = "loadgen", version)]
pub struct LoadArgs {
    /// Base URL of the app (loopback only unless --allow-remote).
    #[arg(short = 'H', long, default_value = "http://127.0.0.1:5002")]
    pub host: String,
    /// Simulated users.
    #[arg(short, long, default_value_t = 10)]
    pub users: u32,
    /// Users started per second.
    #[arg(short = 'r', long, default_value_t = 1.0)]
    pub spawn_rate: f64,
    /// How long to run: 30s, 2m, 1h, ...
    #[arg(short = 't', long, default_value = "30s", value_parser = parse_duration)]
    pub duration: Duration,
    /// Stop after this many requests even if time is left.
    #[arg(long, default_value_t = 100_000)]
    pub max_requests: u64,
    /// Shortest wait of a user between two requests.
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    pub min_wait: Duration,
    /// Longest wait of a user between two requests.
    #[arg(long, default_value = "2s", value_parser = parse_duration)]
    pub max_wait: Duration,
    /// A request slower than this counts as a failure.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub timeout: Duration,
    /// Allow a host that is not this machine.
    #[arg(long)]
    pub allow_remote: bool,
    /// No live progress line.
    #[arg(long)]
    pub no_progress: bool,
    /// Seed for repeatable runs.
    #[arg(long)]
    pub seed: Option<u64>,
}

impl TryFrom<LoadArgs> for LoadConfig {
    type Error = LoadError;

    fn try_from(args: LoadArgs) -> Result<Self, LoadError> {
        let config = LoadConfig {
            users: args.users,
            spawn_rate: args.spawn_rate,
            duration: args.duration,
            max_requests: args.max_requests,
            wait: WaitTime { min: args.min_wait, max: args.max_wait },
            request_timeout: args.timeout,
            progress: !args.no_progress,
            seed: args.seed,
            ..LoadConfig::new(&args.host, args.allow_remote)?
        };
        config.validate()?;
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parses a command line given as one string (no argument contains a space).
    fn parse(command_line: &str) -> Result<LoadConfig, String> {
        let args = LoadArgs::try_parse_from(std::iter::once("loadgen").chain(command_line.split_whitespace()))
            .map_err(|e| e.to_string())?;
        LoadConfig::try_from(args).map_err(|e| e.to_string())
    }

    #[test]
    fn the_guides_command_line() {
        let config = parse("--users 10 --spawn-rate 1 --duration 30s -H http://127.0.0.1:5002").expect("valid");
        assert_eq!((config.users, config.spawn_rate, config.duration), (10, 1.0, Duration::from_secs(30)));
        assert_eq!(config.host.as_str(), "http://127.0.0.1:5002/");
        assert!(config.progress);
    }

    #[test]
    fn short_flags_waits_and_seed() {
        let config = parse("-u 3 -r 0.5 -t 2m --min-wait 0ms --max-wait 50ms --seed 9").expect("valid");
        assert_eq!((config.users, config.spawn_rate, config.duration), (3, 0.5, Duration::from_secs(120)));
        assert_eq!(config.wait, WaitTime { min: Duration::ZERO, max: Duration::from_millis(50) });
        assert_eq!(config.seed, Some(9));
    }

    #[test]
    fn bad_values_are_refused_with_the_reason() {
        assert!(parse("-H http://192.0.2.1").expect_err("must be refused").contains("--allow-remote"));
        assert!(parse("-H http://192.0.2.1 --allow-remote").is_ok());
        assert!(parse("--duration soon").expect_err("must be refused").contains("not a duration"));
        assert!(parse("--users 0").expect_err("must be refused").contains("users must be"));
        assert!(parse("--min-wait 3s").expect_err("must be refused").contains("min wait"));
    }
}
