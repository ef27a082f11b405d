//! `traced::init()` with the demo's defaults: a first run with no variables prints traces, metrics
//! and logs on the console; setting `OTEL_EXPORTER_OTLP_ENDPOINT` adds OTLP, as in the guide.
//!
//! The OpenTelemetry specification's default exporter is `otlp`, which on a laptop with no collector
//! shows nothing. Only a signal whose `OTEL_<SIGNAL>_EXPORTER` is unset gets the demo default, so every
//! variable keeps its standard meaning.

use traced::telemetry::ExporterKind;
use traced::telemetry::TelemetryBuilder;
use traced::{InitError, Telemetry, TelemetryGuard};

/// Installs telemetry for the sample app; keep the guard until the server has stopped.
pub fn init() -> Result<TelemetryGuard, InitError> {
    with_demo_defaults(Telemetry::builder(), |name| std::env::var(name).ok()).init()
}

fn with_demo_defaults(builder: TelemetryBuilder, var: impl Fn(&str) -> Option<String>) -> TelemetryBuilder {
    let mut builder = builder;
    if let Some(kinds) = demo_exporters("TRACES", &var) {
        builder = builder.traces_exporters(kinds);
    }
    if let Some(kinds) = demo_exporters("METRICS", &var) {
        builder = builder.metrics_exporters(kinds);
    }
    if let Some(kinds) = demo_exporters("LOGS", &var) {
        builder = builder.logs_exporters(kinds);
    }
    builder
}

/// `None` when the user chose the exporters of `signal`; else console, plus OTLP if an endpoint is set.
fn demo_exporters(signal: &str, var: impl Fn(&str) -> Option<String>) -> Option<Vec<ExporterKind>> {
    // The specification treats an empty variable as unset.
    let set = |name: &str| var(name).is_some_and(|value| !value.trim().is_empty());
    if set(&format!("OTEL_{signal}_EXPORTER")) {
        return None;
    }
    let otlp = set("OTEL_EXPORTER_OTLP_ENDPOINT") || set(&format!("OTEL_EXPORTER_OTLP_{signal}_ENDPOINT"));
    Some(if otlp { vec![ExporterKind::Console, ExporterKind::Otlp] } else { vec![ExporterKind::Console] })
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn exporters(signal: &str, vars: &[(&str, &str)]) -> Option<Vec<ExporterKind>> {
        let vars: HashMap<String, String> = vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        demo_exporters(signal, |name| vars.get(name).cloned())
    }

    #[test]
    fn no_variables_means_console_only() {
        for signal in ["TRACES", "METRICS", "LOGS"] {
            assert_eq!(exporters(signal, &[]), Some(vec![ExporterKind::Console]));
        }
    }

    #[test]
    fn an_otlp_endpoint_adds_otlp() {
        let generic = [("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4317")];
        assert_eq!(exporters("LOGS", &generic), Some(vec![ExporterKind::Console, ExporterKind::Otlp]));
        let traces_only = [("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://127.0.0.1:4318/v1/traces")];
        assert_eq!(exporters("TRACES", &traces_only), Some(vec![ExporterKind::Console, ExporterKind::Otlp]));
        assert_eq!(exporters("METRICS", &traces_only), Some(vec![ExporterKind::Console]));
    }

    #[test]
    fn a_chosen_exporter_is_left_to_the_environment() {
        let chosen = [("OTEL_TRACES_EXPORTER", "otlp"), ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4317")];
        assert_eq!(exporters("TRACES", &chosen), None);
        assert_eq!(exporters("METRICS", &chosen), Some(vec![ExporterKind::Console, ExporterKind::Otlp]));
        assert_eq!(exporters("TRACES", &[("OTEL_TRACES_EXPORTER", " ")]), Some(vec![ExporterKind::Console]));
    }
}
