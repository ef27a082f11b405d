//! `sample-app --host 127.0.0.1 --port 5002`: the guide's demo app. Telemetry comes from the OTEL_*
//! variables (console unless an exporter or OTLP endpoint is set). SIGTERM or Ctrl-C stops it: see
//! `traced_examples::app::serve` for the drain, `traced_examples::app::run` for the exit code.

use std::process::ExitCode;

use traced_examples::app::{run, AppArgs};

fn main() -> ExitCode {
    let args: Vec<_> = std::env::args_os().collect();
    ExitCode::from(run(&AppArgs::try_parse_args(&args).unwrap_or_else(|error| error.exit())))
}
