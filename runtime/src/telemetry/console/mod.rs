//! Console exporters: what `OTEL_*_EXPORTER=console` prints.
//!
//! Spans print as one indented tree per trace (trace id on top, each span with its duration,
//! status and key attributes) once the trace is whole in this process, or, with
//! `TRACED_CONSOLE_FORMAT=raw`, one line per span with every field. Metrics and logs print one line
//! per data point or record.

mod format;
mod logs;
mod metrics;
mod open_spans;
mod spans;
mod trace_buffer;
mod tree;

use std::io::Write;
use std::sync::{Arc, Mutex};

pub(crate) use logs::ConsoleLogExporter;
pub(crate) use metrics::ConsoleMetricExporter;
pub(crate) use spans::ConsoleSpanExporter;

/// Where console exporters write (stdout unless the builder says otherwise); shared by all signals
/// so their lines do not interleave mid-line.
#[derive(Clone)]
pub(crate) struct ConsoleOutput(Arc<Mutex<Box<dyn Write + Send>>>);

impl ConsoleOutput {
    pub(crate) fn stdout() -> Self {
        Self::new(std::io::stdout())
    }

    pub(crate) fn new(writer: impl Write + Send + 'static) -> Self {
        Self(Arc::new(Mutex::new(Box::new(writer))))
    }

    /// Writes `text` in one piece; a broken pipe must not take the exporter down, so errors are dropped.
    pub(crate) fn write(&self, text: &str) {
        if let Ok(mut writer) = self.0.lock() {
            let _ = writer.write_all(text.as_bytes()).and_then(|()| writer.flush());
        }
    }
}

impl std::fmt::Debug for ConsoleOutput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ConsoleOutput")
    }
}

#[cfg(test)]
pub(crate) mod capture {
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    /// A writer tests read back.
    #[derive(Clone, Default)]
    pub(crate) struct Captured(pub(crate) Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().map_err(|_| std::io::Error::other("poisoned"))?.extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Captured {
        pub(crate) fn text(&self) -> String {
            self.0.lock().map(|bytes| String::from_utf8_lossy(&bytes).into_owned()).unwrap_or_default()
        }
    }
}
