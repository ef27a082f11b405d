//! The sample app as a process: telemetry, serving until SIGTERM or Ctrl-C, draining, flushing, and
//! the exit code.

use std::io;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::time::Instant;

use super::serve::{Drained, StopSignals};
use super::{telemetry, AppArgs, SampleApp};

/// The app stopped cleanly, whatever the collector did (telemetry losses are printed on stderr).
pub const EXIT_OK: u8 = 0;
/// The app itself failed: e.g. its address was taken.
pub const EXIT_FAILURE: u8 = 1;
/// A bad setting: an `OTEL_*` variable here, a bad flag in clap (which uses the same code).
pub const EXIT_USAGE: u8 = 2;

/// Runs the app until SIGTERM or Ctrl-C and returns the process exit code.
///
/// The first signal drains (see [`super::serve`]); a second one cuts every connection at once.
/// Telemetry is flushed after serving, under the telemetry guard's own deadline.
pub fn run(args: &AppArgs) -> u8 {
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("sample-app: starting the async runtime: {error}");
            return EXIT_FAILURE;
        }
    };
    // First of all: a signal that arrives while telemetry starts then stops the app cleanly instead
    // of killing it.
    let signals = match runtime.block_on(async { StopSignals::install() }) {
        Ok(signals) => signals,
        Err(error) => {
            eprintln!("sample-app: installing the SIGTERM and Ctrl-C handlers: {error}");
            return EXIT_FAILURE;
        }
    };
    let telemetry = match telemetry::init() {
        Ok(telemetry) => telemetry,
        Err(error) => {
            eprintln!("sample-app: telemetry: {error}");
            return EXIT_USAGE;
        }
    };
    let served = runtime.block_on(serve_until_stopped(args, &signals));
    // Whatever is left (an outbound call's DNS lookup on the blocking pool) gets what remains of the
    // drain deadline, not more.
    let left = match &served {
        Ok(Some(drained)) => drained.deadline.saturating_duration_since(Instant::now()),
        _ => Duration::ZERO,
    };
    runtime.shutdown_timeout(left);
    // The server has stopped and its runtime is gone: flush what the last requests produced. The
    // guard prints what it could not deliver; that is not the app failing.
    if let Err(error) = telemetry.shutdown() {
        eprintln!("sample-app: flushing telemetry: {error}");
    }
    match served {
        Ok(_) => EXIT_OK,
        Err(error) => {
            eprintln!("sample-app: {error}");
            EXIT_FAILURE
        }
    }
}

/// Serves until a stop signal; `None` when a second signal cut the drain short.
async fn serve_until_stopped(args: &AppArgs, signals: &StopSignals) -> io::Result<Option<Drained>> {
    let address = args.listen_address();
    let listener = TcpListener::bind(&address)
        .await
        .map_err(|e| io::Error::new(e.kind(), format!("cannot listen on {address}: {e}")))?;
    let config = args.app_config();
    let drain_timeout = config.serve.drain_timeout;
    // After `traced::init()`: the layer and the app's counter take their instruments from it.
    let app = SampleApp::start(config).await?;
    eprintln!("sample-app: listening on http://{}", listener.local_addr()?);
    let first = async {
        let signal = signals.nth(1).await;
        eprintln!(
            "sample-app: {signal}: no new connections; requests in flight have {drain_timeout:?} to finish \
             (a second signal stops at once)"
        );
    };
    tokio::select! {
        served = app.serve(listener, first) => {
            let drained = served?;
            eprintln!("{}", summary(&drained));
            Ok(Some(drained))
        }
        signal = signals.nth(2) => {
            eprintln!("sample-app: {signal} again: every connection cut");
            Ok(None)
        }
    }
}

fn summary(drained: &Drained) -> String {
    let Drained { open_at_signal, cut, .. } = drained;
    if *cut == 0 {
        format!("sample-app: stopped; the {open_at_signal} connection(s) open at the signal finished or were closed")
    } else {
        format!("sample-app: stopped; {cut} of {open_at_signal} connection(s) were cut at the drain deadline")
    }
}
