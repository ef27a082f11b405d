//! `sample-app --host 127.0.0.1 --port 5002`: the guide's demo app; Ctrl-C or SIGTERM stops it and
//! flushes the telemetry.

use std::process::ExitCode;

use clap::Parser;
use tokio::net::TcpListener;
use traced_examples::app::{shutdown_signal, AppArgs, SampleApp};

#[tokio::main]
async fn main() -> ExitCode {
    let args = AppArgs::parse();
    // TODO(issue 3): `let telemetry = traced::init()?;` here, dropped after `serve` to flush.
    match run(&args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("sample-app: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: &AppArgs) -> std::io::Result<()> {
    let address = args.listen_address();
    let listener = TcpListener::bind(&address)
        .await
        .map_err(|e| std::io::Error::new(e.kind(), format!("cannot listen on {address}: {e}")))?;
    let app = SampleApp::start(args.app_config()).await?;
    eprintln!("sample-app: listening on http://{}", listener.local_addr()?);
    app.serve(listener, shutdown_signal()).await
}
