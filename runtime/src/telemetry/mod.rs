//! Telemetry setup: `traced::init()` reads the standard `OTEL_*` variables, `Telemetry::builder()` takes
//! the same settings in code, and the returned guard flushes everything when it drops.

mod error;
pub mod settings;

pub use error::{InitError, InvalidSetting};
pub use settings::Settings;
