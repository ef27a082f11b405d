//! `Telemetry::builder()`: the settings of `traced::init()` in code. Whatever the code sets wins over
//! the environment; everything else still comes from the `OTEL_*` variables (unless
//! [`TelemetryBuilder::ignore_environment`] is called).

use std::io::Write;
use std::time::Duration;

use opentelemetry::KeyValue;
use opentelemetry_sdk::trace::{ShouldSample, SpanProcessor};

use super::console::ConsoleOutput;
use super::error::InitError;
use super::guard::{self, TelemetryGuard};
use super::limits;
use super::logs;
use super::processors::{CommonAttributes, Redaction};
use super::providers::{self, AddProcessor, Plan};
use super::settings::{
    BatchSettings, ConsoleFormat, ExporterKind, LevelFilter, PropagatorKind, Protocol, SamplerKind, Settings,
};
use crate::http::settings::HttpSettings;
use crate::SharedSampler;

/// Entry point of the builder: `traced::Telemetry::builder()`.
#[derive(Debug)]
pub struct Telemetry;

impl Telemetry {
    /// Starts from the environment; each method overrides one setting.
    pub fn builder() -> TelemetryBuilder {
        TelemetryBuilder::default()
    }
}

/// One override of the environment's settings.
type Override = Box<dyn FnOnce(&mut Settings) + Send>;

/// Settings in code; see [`Telemetry::builder`].
#[must_use = "call `.init()` to install telemetry"]
#[derive(Default)]
pub struct TelemetryBuilder {
    ignore_environment: bool,
    overrides: Vec<Override>,
    otlp_endpoint: Option<String>,
    sampler: Option<SharedSampler>,
    span_processors: Vec<AddProcessor>,
    redaction: Redaction,
    console: Option<ConsoleOutput>,
    tracing_subscriber: Option<bool>,
}

impl std::fmt::Debug for TelemetryBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TelemetryBuilder")
            .field("ignore_environment", &self.ignore_environment)
            .field("overrides", &self.overrides.len())
            .field("sampler", &self.sampler)
            .field("span_processors", &self.span_processors.len())
            .field("redaction", &self.redaction)
            .finish_non_exhaustive()
    }
}

impl TelemetryBuilder {
    fn set(mut self, apply: impl FnOnce(&mut Settings) + Send + 'static) -> Self {
        self.overrides.push(Box::new(apply));
        self
    }

    /// Starts from the specification's defaults instead of the `OTEL_*` variables.
    pub fn ignore_environment(mut self) -> Self {
        self.ignore_environment = true;
        self
    }

    /// `service.name` (`OTEL_SERVICE_NAME`).
    pub fn service_name(self, name: impl Into<String>) -> Self {
        let name = name.into();
        self.set(move |s| s.service_name = name)
    }

    /// Adds or replaces one resource attribute (`OTEL_RESOURCE_ATTRIBUTES`); `service.name` sets the service name.
    pub fn resource_attribute(self, key: impl Into<String>, value: impl Into<String>) -> Self {
        let (key, value) = (key.into(), value.into());
        self.set(move |s| {
            if key == "service.name" {
                s.service_name = value;
                return;
            }
            s.resource_attributes.retain(|(existing, _)| *existing != key);
            s.resource_attributes.push((key, value));
        })
    }

    /// `OTEL_SDK_DISABLED`.
    pub fn disabled(self, disabled: bool) -> Self {
        self.set(move |s| s.disabled = disabled)
    }

    /// Span exporters (`OTEL_TRACES_EXPORTER`); empty means none.
    pub fn traces_exporters(self, kinds: impl IntoIterator<Item = ExporterKind>) -> Self {
        let kinds = distinct(kinds);
        self.set(move |s| s.traces_exporters = kinds)
    }

    /// Metric exporters (`OTEL_METRICS_EXPORTER`); empty means none.
    pub fn metrics_exporters(self, kinds: impl IntoIterator<Item = ExporterKind>) -> Self {
        let kinds = distinct(kinds);
        self.set(move |s| s.metrics_exporters = kinds)
    }

    /// Log exporters (`OTEL_LOGS_EXPORTER`); empty means none.
    pub fn logs_exporters(self, kinds: impl IntoIterator<Item = ExporterKind>) -> Self {
        let kinds = distinct(kinds);
        self.set(move |s| s.logs_exporters = kinds)
    }

    /// The OTLP base endpoint of all signals (`OTEL_EXPORTER_OTLP_ENDPOINT`): for HTTP the signal path
    /// (`/v1/traces`, ...) is appended.
    pub fn otlp_endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.otlp_endpoint = Some(endpoint.into());
        self
    }

    /// The OTLP protocol of all signals (`OTEL_EXPORTER_OTLP_PROTOCOL`).
    pub fn otlp_protocol(self, protocol: Protocol) -> Self {
        self.set(move |s| {
            for otlp in [&mut s.otlp_traces, &mut s.otlp_metrics, &mut s.otlp_logs] {
                otlp.set_protocol(protocol);
            }
        })
    }

    /// Adds a header to every OTLP request (`OTEL_EXPORTER_OTLP_HEADERS`).
    pub fn otlp_header(self, name: impl Into<String>, value: impl Into<String>) -> Self {
        let (name, value) = (name.into(), value.into());
        self.set(move |s| {
            for otlp in [&mut s.otlp_traces, &mut s.otlp_metrics, &mut s.otlp_logs] {
                otlp.headers.retain(|(existing, _)| !existing.eq_ignore_ascii_case(&name));
                otlp.headers.push((name.clone(), value.clone()));
            }
        })
    }

    /// One of the specification's samplers (`OTEL_TRACES_SAMPLER`).
    pub fn sampler(self, kind: SamplerKind) -> Self {
        self.set(move |s| s.sampler = kind)
    }

    /// A sampler of your own, used as given: wrap it in
    /// `opentelemetry_sdk::trace::Sampler::ParentBased` to respect the caller's decision.
    pub fn custom_sampler(mut self, sampler: impl ShouldSample + 'static) -> Self {
        self.sampler = Some(SharedSampler::new(sampler));
        self
    }

    /// Batch span processor settings (`OTEL_BSP_*`, same ranges: see `settings::Range`).
    pub fn batch(self, batch: BatchSettings) -> Self {
        self.set(move |s| s.batch = batch)
    }

    /// Batch log record processor settings (`OTEL_BLRP_*`).
    pub fn log_batch(self, batch: BatchSettings) -> Self {
        self.set(move |s| s.log_batch = batch)
    }

    /// One deadline for flushing every signal at shutdown, all in parallel (`TRACED_SHUTDOWN_TIMEOUT`,
    /// default 5 s; 1 ms to 10 min). Keep it well inside the time the platform grants a stopping
    /// process: Kubernetes sends SIGKILL 30 s (`terminationGracePeriodSeconds`) after SIGTERM.
    pub fn shutdown_timeout(self, timeout: Duration) -> Self {
        self.set(move |s| s.shutdown_timeout = timeout)
    }

    /// Propagators (`OTEL_PROPAGATORS`).
    pub fn propagators(self, kinds: impl IntoIterator<Item = PropagatorKind>) -> Self {
        let kinds = distinct(kinds);
        self.set(move |s| s.propagators = kinds)
    }

    /// The HTTP instrumentation's settings (`OTEL_INSTRUMENTATION_HTTP_*`, `OTEL_RUST_*EXCLUDED_URLS`):
    /// what `TracedLayer::new()` and `client::Client::new()` use after `init()`.
    pub fn http_settings(self, http: HttpSettings) -> Self {
        self.set(move |s| s.http = http)
    }

    /// How console exporters print (`TRACED_CONSOLE_FORMAT`).
    pub fn console_format(self, format: ConsoleFormat) -> Self {
        self.set(move |s| s.console_format = format)
    }

    /// Where console exporters write instead of stdout.
    pub fn console_writer(mut self, writer: impl Write + Send + 'static) -> Self {
        self.console = Some(ConsoleOutput::new(writer));
        self
    }

    /// Adds a span processor; it sees every span before the exporters do.
    pub fn span_processor(mut self, processor: impl SpanProcessor + 'static) -> Self {
        self.span_processors.push(Box::new(move |builder| builder.with_span_processor(processor)));
        self
    }

    /// Adds these attributes to every span at start ([`CommonAttributes`]).
    pub fn common_attributes(self, attributes: impl IntoIterator<Item = KeyValue>) -> Self {
        self.span_processor(CommonAttributes::new(attributes))
    }

    /// Redacts attribute values before any exporter sees them ([`Redaction`]).
    pub fn redact(mut self, redaction: Redaction) -> Self {
        self.redaction = redaction;
        self
    }

    /// Query keys whose values become `REDACTED` in `url.query`, `url.full` and error text, in addition
    /// to the default list (`TRACED_REDACTED_QUERY_KEYS` adds to it too); matched case-insensitively
    /// after percent-decoding. Applies to the whole process from `init()` on.
    pub fn redact_query_keys<K: Into<String>>(self, keys: impl IntoIterator<Item = K>) -> Self {
        let keys: Vec<String> = keys.into_iter().map(Into::into).collect();
        self.set(move |s| s.redacted_query_keys.extend(keys))
    }

    /// The most verbose `tracing` events exported as logs or span events (`TRACED_LOG_LEVEL`, default `info`).
    pub fn log_level(self, level: LevelFilter) -> Self {
        self.set(move |s| s.log_level = level)
    }

    /// The most verbose `#[traced(level = ..)]` spans created (`TRACED_SPAN_LEVEL`, default `info`); others
    /// cost one atomic load and are not created. [`crate::set_span_level`] changes it later.
    pub fn span_level(self, level: LevelFilter) -> Self {
        self.set(move |s| s.span_level = level)
    }

    /// Whether `#[traced]` spans carry `code.function.name`, `code.file.path` and `code.line.number`
    /// (`TRACED_CODE_ATTRIBUTES`, default `true`). [`crate::set_code_attributes`] changes it later.
    pub fn code_attributes(self, enabled: bool) -> Self {
        self.set(move |s| s.code_attributes = enabled)
    }

    /// Whether to install a global `tracing` subscriber that turns events into logs or span events
    /// (default: yes, unless the application already installed one).
    pub fn tracing_subscriber(mut self, install: bool) -> Self {
        self.tracing_subscriber = Some(install);
        self
    }

    /// The environment's settings with this builder's overrides applied.
    fn settings(&mut self) -> Result<Settings, InitError> {
        let mut settings = if self.ignore_environment { Settings::default() } else { Settings::from_env()? };
        for apply in self.overrides.drain(..) {
            apply(&mut settings);
        }
        settings.check_code_values()?;
        if let Some(endpoint) = &self.otlp_endpoint {
            settings.set_otlp_endpoint("Telemetry::builder().otlp_endpoint", endpoint)?;
        }
        Ok(settings)
    }

    /// Builds and installs everything; see `traced::init()`.
    pub fn init(mut self) -> Result<TelemetryGuard, InitError> {
        let settings = self.settings()?;
        let claim = guard::claim()?;
        crate::privacy::keys::install(crate::privacy::keys::SensitiveKeys::with_extra(&settings.redacted_query_keys));
        limits::set_log_value_length(settings.log_attribute_value_length);
        limits::set_log_redaction(&self.redaction);
        crate::http::settings::install(settings.http.clone());
        crate::set_span_level(settings.span_level);
        crate::set_code_attributes(settings.code_attributes);
        if settings.disabled {
            return Ok(TelemetryGuard::disabled(claim));
        }
        let propagators = settings.propagators.clone();
        let log_level = settings.log_level;
        let plan = Plan {
            settings,
            sampler: self.sampler,
            span_processors: self.span_processors,
            redaction: self.redaction,
            console: self.console.unwrap_or_else(ConsoleOutput::stdout),
        };
        let providers = providers::build(plan)?;
        crate::propagation::set_propagators(&propagators);
        if self.tracing_subscriber.unwrap_or(true) && !logs::route_events(providers.logger.as_ref(), log_level) {
            // Said once per init: otherwise the logs just never show up at the collector.
            eprintln!(
                "traced: a global `tracing` subscriber was already set, so `tracing` events are not exported; \
                 add `guard.tracing_layer()` to it, or set `Telemetry::builder().tracing_subscriber(false)`"
            );
        }
        Ok(TelemetryGuard::install(providers, claim))
    }
}

/// `items` in their order, each once: an exporter named twice would get every item twice, as the
/// environment's lists (`console,console`) never do.
fn distinct<T: PartialEq>(items: impl IntoIterator<Item = T>) -> Vec<T> {
    let mut kept = Vec::new();
    for item in items {
        if !kept.contains(&item) {
            kept.push(item);
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(builder: TelemetryBuilder) -> Settings {
        let mut builder = builder.ignore_environment();
        builder.settings().expect("valid settings")
    }

    #[test]
    fn span_level_and_code_attributes_are_set_by_code() {
        let s = settings(Telemetry::builder().span_level(LevelFilter::DEBUG).code_attributes(false));
        assert_eq!(s.span_level, LevelFilter::DEBUG);
        assert!(!s.code_attributes);
        let defaults = settings(Telemetry::builder());
        assert_eq!(defaults.span_level, LevelFilter::INFO);
        assert!(defaults.code_attributes);
    }

    #[test]
    fn code_overrides_the_defaults() {
        let s = settings(
            Telemetry::builder()
                .resource_attribute("service.name", "shop")
                .resource_attribute("team", "a")
                .resource_attribute("team", "b")
                .otlp_endpoint("http://collector:4318/")
                .otlp_protocol(Protocol::HttpJson)
                .otlp_header("x-key", "1")
                .otlp_header("X-Key", "2")
                .sampler(SamplerKind::TraceIdRatio(0.5))
                .traces_exporters([ExporterKind::Console])
                .batch(BatchSettings { schedule_delay: Duration::from_millis(10), ..BatchSettings::default() })
                .log_batch(BatchSettings { max_queue_size: 4096, ..BatchSettings::logs_default() }),
        );
        assert_eq!(s.service_name, "shop");
        assert_eq!(s.resource_attributes, vec![("team".to_owned(), "b".to_owned())]);
        assert_eq!(
            s.otlp_logs.endpoint, "http://collector:4318/v1/logs",
            "the endpoint follows the protocol set after it"
        );
        assert_eq!(s.otlp_traces.protocol, Protocol::HttpJson);
        assert_eq!(s.otlp_metrics.headers, vec![("X-Key".to_owned(), "2".to_owned())]);
        assert_eq!(s.sampler, SamplerKind::TraceIdRatio(0.5));
        assert_eq!(s.traces_exporters, vec![ExporterKind::Console]);
        assert_eq!(s.batch.schedule_delay, Duration::from_millis(10));
        assert_eq!(s.log_batch.max_queue_size, 4096);
    }

    #[test]
    fn redacted_query_keys_in_code_add_to_the_variable() {
        let mut builder =
            Telemetry::builder().redact_query_keys(["session"]).redact_query_keys(vec![String::from("sid")]);
        let mut settings = Settings::default();
        settings.redacted_query_keys.push("from_env".to_owned());
        for apply in builder.overrides.drain(..) {
            apply(&mut settings);
        }
        assert_eq!(settings.redacted_query_keys, ["from_env", "session", "sid"]);
    }

    #[test]
    fn a_protocol_set_in_code_moves_endpoints_not_given_per_signal() {
        let s = settings(Telemetry::builder().otlp_protocol(Protocol::Grpc));
        assert_eq!(s.otlp_traces.endpoint, "http://localhost:4317", "the gRPC default, not 4318/v1/traces");
        let vars = [
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4317"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
            ("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", "http://logs:9000/ingest"),
        ];
        let vars = vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        let mut s = Settings::from_vars(&vars).expect("valid settings");
        for otlp in [&mut s.otlp_traces, &mut s.otlp_logs] {
            otlp.set_protocol(Protocol::HttpProtobuf);
        }
        assert_eq!(s.otlp_traces.endpoint, "http://collector:4317/v1/traces", "the generic endpoint gets the path");
        assert_eq!(s.otlp_logs.endpoint, "http://logs:9000/ingest", "a signal endpoint is used as is");
    }

    #[test]
    fn a_header_in_code_that_cannot_be_sent_is_an_error_quoting_no_value() {
        // Such a header was dropped when the exporter was built: exports went out without the key.
        for (name, value) in [("x-api-key", "SECRET1\r\nx-evil: 1"), ("x api key", "SECRET2"), ("", "SECRET3")] {
            let mut builder = Telemetry::builder().ignore_environment().otlp_header(name, value);
            match builder.settings() {
                Err(InitError::InvalidSetting(error)) => {
                    assert_eq!(error.variable, "Telemetry::builder().otlp_header", "{name:?}");
                    let text = format!("{error} {error:?}");
                    assert!(!text.contains("SECRET"), "{text}");
                }
                other => panic!("{name:?}: expected an invalid setting, got {other:?}"),
            }
        }
    }

    #[test]
    fn a_sampler_ratio_in_code_outside_zero_to_one_is_an_error() {
        // The SDK took NaN as 0 (every trace dropped) and 1.5 as 1, without a word.
        for ratio in [f64::NAN, 1.5, -0.1, f64::INFINITY] {
            for kind in [SamplerKind::TraceIdRatio(ratio), SamplerKind::ParentBasedTraceIdRatio(ratio)] {
                let mut builder = Telemetry::builder().ignore_environment().sampler(kind);
                match builder.settings() {
                    Err(InitError::InvalidSetting(error)) => {
                        assert_eq!(error.variable, "Telemetry::builder().sampler", "{kind:?}");
                        assert!(error.to_string().contains("between 0.0 and 1.0"), "{error}");
                    }
                    other => panic!("{kind:?}: expected an invalid setting, got {other:?}"),
                }
            }
        }
        let valid = settings(Telemetry::builder().sampler(SamplerKind::ParentBasedTraceIdRatio(0.0)));
        assert_eq!(valid.sampler, SamplerKind::ParentBasedTraceIdRatio(0.0));
    }

    #[test]
    fn exporters_and_propagators_named_twice_in_code_count_once() {
        // As `OTEL_TRACES_EXPORTER=otlp,otlp` does: twice would send every span to the collector twice.
        let s = settings(
            Telemetry::builder()
                .traces_exporters([ExporterKind::Otlp, ExporterKind::Console, ExporterKind::Otlp])
                .metrics_exporters([ExporterKind::Console, ExporterKind::Console])
                .logs_exporters([ExporterKind::Otlp, ExporterKind::Otlp])
                .propagators([PropagatorKind::B3, PropagatorKind::TraceContext, PropagatorKind::B3]),
        );
        assert_eq!(s.traces_exporters, [ExporterKind::Otlp, ExporterKind::Console]);
        assert_eq!(s.metrics_exporters, [ExporterKind::Console]);
        assert_eq!(s.logs_exporters, [ExporterKind::Otlp]);
        assert_eq!(s.propagators, [PropagatorKind::B3, PropagatorKind::TraceContext]);
    }

    #[test]
    fn a_bad_endpoint_in_code_is_an_error_naming_the_method() {
        let mut builder = Telemetry::builder().ignore_environment().otlp_endpoint("collector:4317");
        match builder.settings() {
            Err(InitError::InvalidSetting(error)) => assert_eq!(error.variable, "Telemetry::builder().otlp_endpoint"),
            other => panic!("expected an invalid setting, got {other:?}"),
        }
    }
}
