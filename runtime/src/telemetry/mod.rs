//! Telemetry setup: [`crate::init()`] reads the standard `OTEL_*` variables, [`Telemetry::builder()`]
//! takes the same settings in code, and the returned [`TelemetryGuard`] flushes everything when it
//! drops.
//!
//! Files, one job each: `settings` (environment -> plain data, the only reader of `std::env`),
//! `builder` (code wins over the environment), `providers` (settings -> SDK providers), `otlp`
//! (OTLP exporters), `export_runtime` (the runtime the export pipeline runs on), `guard` (install and
//! shutdown), `console` (human-readable exporters), `processors` (common attributes, redaction),
//! `limits` (attribute value length), `logs` (`tracing` events -> logs or span
//! events), `pipeline` (bounded queues, export
//! workers, exact accounting, one shutdown deadline).

mod builder;
mod console;
mod error;
mod export_runtime;
mod guard;
mod limits;
mod logs;
mod otlp;
mod pipeline;
pub mod processors;
mod providers;
pub mod settings;

/// The OTLP exporters driven directly, for the end-to-end tests of `traced-tests` (not a public API).
#[cfg(all(feature = "testing", any(feature = "otlp-grpc", feature = "otlp-http")))]
#[doc(hidden)]
pub use otlp::probe as otlp_probe;

/// `traced`'s span pipeline into an exporter that discards, for the `span_cost` benchmark (not a public API).
#[doc(hidden)]
pub use pipeline::discard::DiscardingSpanPipeline;

pub use builder::{Telemetry, TelemetryBuilder};
pub use error::{InitError, InvalidSetting, ShutdownError};
pub use guard::TelemetryGuard;
pub use pipeline::accounting::{Dropped, SignalAccounting};
pub use pipeline::report::{ExportReport, ExporterAccounting};
pub use settings::{
    BatchSettings, Compression, ConsoleFormat, ExporterKind, OtlpSettings, PropagatorKind, Protocol, SamplerKind,
    Settings, SpanLimitSettings,
};

/// Configures traces, metrics and logs from the `OTEL_*` environment variables and installs them
/// globally; keep the guard alive until the end of `main`.
///
/// ```no_run
/// fn main() -> Result<(), traced::InitError> {
///     let _telemetry = traced::init()?;
///     // ... run the application ...
///     Ok(())
/// }
/// ```
///
/// Fails with a message naming the variable, its value and what is accepted when a variable
/// cannot be used, and with [`InitError::AlreadyInitialized`] while an earlier guard is alive.
pub fn init() -> Result<TelemetryGuard, InitError> {
    Telemetry::builder().init()
}
