//! `sample-app --host 127.0.0.1 --port 5002`: the guide's demo app. Telemetry comes from the OTEL_*
//! variables (console unless an exporter or OTLP endpoint is set); Ctrl-C or SIGTERM stops the server, then everything is flushed.

use std::process::ExitCode;

use clap::Parser;
use tokio::net::TcpListener;
use traced_examples::app::{shutdown_signal, telemetry, AppArgs, SampleApp};

fn main() -> ExitCode {
    let args = AppArgs::parse();
    let telemetry = match telemetry::init() {
        Ok(telemetry) => telemetry,
        Err(error) => {
            eprintln!("sample-app: telemetry: {error}");
            return ExitCode::from(2);
        }
    };
    let served = tokio::runtime::Runtime::new().and_then(|runtime| runtime.block_on(serve(&args)));
    // The server has stopped and its runtime is gone: flush what the last requests produced.
    let flushed = telemetry.shutdown();
    if let Err(error) = &flushed {
        eprintln!("sample-app: flushing telemetry: {error}");
    }
    match served {
        Ok(()) if flushed.is_ok() => ExitCode::SUCCESS,
        Ok(()) => ExitCode::FAILURE,
        Err(error) => {
            eprintln!("sample-app: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(args: &AppArgs) -> std::io::Result<()> {
    let address = args.listen_address();
    let listener = TcpListener::bind(&address)
        .await
        .map_err(|e| std::io::Error::new(e.kind(), format!("cannot listen on {address}: {e}")))?;
    // After `traced::init()`: the layer and the app's counter take their instruments from it.
    let app = SampleApp::start(args.app_config()).await?;
    eprintln!("sample-app: listening on http://{}", listener.local_addr()?);
    app.serve(listener, shutdown_signal()).await
}
