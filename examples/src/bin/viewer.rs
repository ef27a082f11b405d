//! `viewer` — OTLP on 127.0.0.1:4317 (gRPC) and :4318 (HTTP), the page on http://127.0.0.1:16686

use std::process::ExitCode;

use clap::Parser;
use traced_examples::viewer::{self, ViewerArgs, ViewerConfig};

#[tokio::main]
async fn main() -> ExitCode {
    let config = match ViewerConfig::try_from(ViewerArgs::parse()) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("viewer: {error}");
            return ExitCode::from(2);
        }
    };
    let max_spans = config.limits.max_spans;
    let mut running = match viewer::start(config).await {
        Ok(running) => running,
        Err(error) => {
            eprintln!("viewer: {error}");
            return ExitCode::FAILURE;
        }
    };
    eprintln!(
        "viewer: OTLP/gRPC on {}, OTLP/HTTP on {}, keeping up to {max_spans} spans; open {}",
        running.grpc_addr,
        running.http_addr,
        running.ui_url()
    );
    tokio::select! {
        error = running.failed() => {
            eprintln!("viewer: {error}");
            ExitCode::FAILURE
        }
        _ = tokio::signal::ctrl_c() => {
            running.stop().await;
            ExitCode::SUCCESS
        }
    }
}
