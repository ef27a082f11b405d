//! A small Locust: simulated users calling the sample app's endpoints with weights, a live progress
//! line, and a per-endpoint table of requests, failures, req/s and latency percentiles.
//!
//! ```no_run
//! # async fn demo() -> Result<(), traced_examples::loadgen::LoadError> {
//! use traced_examples::loadgen::{run, LoadConfig};
//! let mut config = LoadConfig::new("http://127.0.0.1:5002", false)?;
//! config.duration = std::time::Duration::from_secs(5);
//! let summary = run(config).await?;
//! println!("{summary}");
//! # Ok(()) }
//! ```

mod cli;
mod config;
mod progress;
mod runner;
mod scenario;
mod stats;

pub use cli::LoadArgs;
pub use config::{LoadConfig, LoadError, WaitTime, MAX_DURATION, MAX_USERS};
pub use runner::{run, run_until};
pub use scenario::{Endpoint, Scenario, SAMPLE_APP};
pub use stats::{EndpointSummary, FailureCount, Summary};
