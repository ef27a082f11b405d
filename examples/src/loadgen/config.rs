//! What a load run does, its limits, and the refusal to load hosts other than this machine.

use std::net::IpAddr;
use std::time::Duration;

use reqwest::Url;

use super::scenario::Scenario;

/// More simulated users than this is a mistake, not a test of the sample app.
pub const MAX_USERS: u32 = 1_000;
/// The longest run accepted.
pub const MAX_DURATION: Duration = Duration::from_secs(24 * 3600);
/// The slowest spawn rate accepted: one user per [`MAX_DURATION`].
const MIN_SPAWN_RATE: f64 = 1.0 / (24.0 * 3600.0);

/// A validated load run. Build it with [`LoadConfig::new`] and adjust the public fields.
#[derive(Debug, Clone)]
pub struct LoadConfig {
    /// Base URL of the app; paths are appended to it.
    pub host: Url,
    /// Simulated users, each calling one request at a time.
    pub users: u32,
    /// Users started per second until all run.
    pub spawn_rate: f64,
    /// How long the run lasts after the first user starts.
    pub duration: Duration,
    /// The run stops after this many requests even if time is left.
    pub max_requests: u64,
    /// Each user waits a random time in this range between requests, like Locust's `between`.
    pub wait: WaitTime,
    /// A request taking longer counts as a `timeout` failure.
    pub request_timeout: Duration,
    /// Print a live progress line on stderr.
    pub progress: bool,
    /// Seed for the users' random choices, for repeatable runs.
    pub seed: Option<u64>,
    /// The endpoints and their weights.
    pub scenario: Scenario,
}

/// Wait between two requests of one user, drawn uniformly from `min..=max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WaitTime {
    pub min: Duration,
    pub max: Duration,
}

/// Why a load run cannot start.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("`{0}` is not a URL: {1}")]
    InvalidHost(String, String),
    #[error("`{0}` is not loopback; pass `--allow-remote` to load another machine")]
    RemoteHost(String),
    #[error("{0}")]
    InvalidSetting(String),
    #[error("cannot build the HTTP client: {0}")]
    Client(#[from] reqwest::Error),
}

impl LoadConfig {
    /// The guide's run against `host`: 10 users, 1 new user per second, 30 seconds.
    ///
    /// Refuses a host that is not loopback unless `allow_remote` is set.
    pub fn new(host: &str, allow_remote: bool) -> Result<Self, LoadError> {
        let url = Url::parse(host).map_err(|e| LoadError::InvalidHost(host.to_owned(), e.to_string()))?;
        if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
            return Err(LoadError::InvalidHost(host.to_owned(), "expected http://host[:port]".to_owned()));
        }
        if !allow_remote && !is_loopback(&url) {
            return Err(LoadError::RemoteHost(host.to_owned()));
        }
        Ok(Self {
            host: url,
            users: 10,
            spawn_rate: 1.0,
            duration: Duration::from_secs(30),
            max_requests: 100_000,
            wait: WaitTime { min: Duration::from_secs(1), max: Duration::from_secs(2) },
            request_timeout: Duration::from_secs(10),
            progress: false,
            seed: None,
            scenario: Scenario::default(),
        })
    }

    /// Checks the limits; [`crate::loadgen::run`] calls it before anything is sent.
    pub fn validate(&self) -> Result<(), LoadError> {
        let invalid = |message: String| Err(LoadError::InvalidSetting(message));
        if self.users == 0 || self.users > MAX_USERS {
            return invalid(format!("users must be between 1 and {MAX_USERS}, got {}", self.users));
        }
        // Slower than one user per longest run would be an interval no clock can hold.
        if !(self.spawn_rate.is_finite() && self.spawn_rate >= MIN_SPAWN_RATE) {
            return invalid(format!(
                "spawn rate must be a number of users per second from {MIN_SPAWN_RATE:e} (one a day) up, got {}",
                self.spawn_rate
            ));
        }
        if self.duration.is_zero() || self.duration > MAX_DURATION {
            return invalid(format!("duration must be above zero and at most 24h, got {:?}", self.duration));
        }
        if self.max_requests == 0 {
            return invalid("max requests must be at least 1".to_owned());
        }
        if self.wait.min > self.wait.max {
            return invalid(format!("min wait {:?} is above max wait {:?}", self.wait.min, self.wait.max));
        }
        if self.request_timeout.is_zero() {
            return invalid("request timeout must be above zero".to_owned());
        }
        Ok(())
    }

    /// The absolute URL of `path_and_query` on the host.
    pub(crate) fn url(&self, path_and_query: &str) -> String {
        format!("{}{}", self.host.as_str().trim_end_matches('/'), path_and_query)
    }
}

/// `localhost`, 127.0.0.0/8 or ::1; names other than `localhost` are not resolved, so they count as remote.
pub(crate) fn is_loopback(url: &Url) -> bool {
    let Some(host) = url.host_str() else { return false };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    match host.parse::<IpAddr>() {
        Ok(ip) => ip.is_loopback(),
        Err(_) => host.eq_ignore_ascii_case("localhost"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts_are_accepted() {
        for host in ["http://127.0.0.1:5002", "http://127.8.0.1", "http://[::1]:8080/", "http://LOCALHOST:1"] {
            assert!(LoadConfig::new(host, false).is_ok(), "{host}");
        }
    }

    #[test]
    fn remote_hosts_need_allow_remote() {
        for host in ["http://10.0.0.1:5002", "http://example.com", "http://[2001:db8::1]", "http://0.0.0.0:80"] {
            let refused = LoadConfig::new(host, false).expect_err("must be refused");
            assert!(matches!(refused, LoadError::RemoteHost(_)), "{host}: {refused}");
            assert!(refused.to_string().contains("--allow-remote"));
            assert!(LoadConfig::new(host, true).is_ok(), "{host}");
        }
    }

    #[test]
    fn hosts_that_are_not_http_urls_are_refused() {
        for host in ["127.0.0.1:5002", "ftp://127.0.0.1", "not a url", "http://"] {
            assert!(matches!(LoadConfig::new(host, true), Err(LoadError::InvalidHost(..))), "{host}");
        }
    }

    #[test]
    fn defaults_are_the_guides_run_and_valid() {
        let config = LoadConfig::new("http://127.0.0.1:5002", false).expect("loopback");
        assert_eq!((config.users, config.spawn_rate, config.duration), (10, 1.0, Duration::from_secs(30)));
        assert!(config.validate().is_ok());
        assert_eq!(config.url("/items/2?q=x"), "http://127.0.0.1:5002/items/2?q=x");
    }

    #[test]
    fn limits_are_enforced() {
        let base = LoadConfig::new("http://127.0.0.1:5002", false).expect("loopback");
        let cases: Vec<(LoadConfig, &str)> = vec![
            (LoadConfig { users: 0, ..base.clone() }, "users"),
            (LoadConfig { users: MAX_USERS + 1, ..base.clone() }, "users"),
            (LoadConfig { spawn_rate: 0.0, ..base.clone() }, "spawn rate"),
            (LoadConfig { spawn_rate: f64::NAN, ..base.clone() }, "spawn rate"),
            // One user per 10^20 s: an interval a `Duration` cannot hold.
            (LoadConfig { spawn_rate: 1e-20, ..base.clone() }, "spawn rate"),
            (LoadConfig { duration: Duration::ZERO, ..base.clone() }, "duration"),
            (LoadConfig { duration: MAX_DURATION * 2, ..base.clone() }, "duration"),
            (LoadConfig { max_requests: 0, ..base.clone() }, "max requests"),
            (
                LoadConfig { wait: WaitTime { min: Duration::from_secs(2), max: Duration::ZERO }, ..base.clone() },
                "min wait",
            ),
            (LoadConfig { request_timeout: Duration::ZERO, ..base.clone() }, "timeout"),
        ];
        for (config, needle) in cases {
            let error = config.validate().expect_err("must be refused").to_string();
            assert!(error.contains(needle), "{error} should mention {needle}");
        }
    }
}
