//! `loadgen --users 10 --spawn-rate 1 --duration 30s -H http://127.0.0.1:5002`

use std::process::ExitCode;

use clap::Parser;
use traced_examples::loadgen::{run_until, LoadArgs, LoadConfig};

#[tokio::main]
async fn main() -> ExitCode {
    let config = match LoadConfig::try_from(LoadArgs::parse()) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("loadgen: {error}");
            return ExitCode::from(2);
        }
    };
    let ctrl_c = async {
        // Without a signal handler the run still ends at its deadline.
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    match run_until(config, ctrl_c).await {
        Ok(summary) => {
            println!("{summary}");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("loadgen: {error}");
            ExitCode::FAILURE
        }
    }
}
