//! The environment, read once into plain data.
//!
//! This is the only module of the crate that reads `std::env`. [`Settings::from_vars`] is a pure
//! function over a map of variables (one function per variable family below), so every rule of the
//! OpenTelemetry environment specification is unit-tested without touching the process environment.
//! Empty values count as unset, as the specification says.

use std::collections::HashMap;
use std::fmt;
use std::time::Duration;

pub use tracing::level_filters::LevelFilter;

use super::error::InvalidSetting;
use crate::http::settings::{
    ExcludedUrls, HeaderPatterns, HttpSettings, PatternError, EXCLUDED_URLS_ENV, GENERIC_EXCLUDED_URLS_ENV,
};

/// Where spans, metrics or logs go (`OTEL_TRACES_EXPORTER` and siblings).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExporterKind {
    /// OTLP, over the protocol of `OTEL_EXPORTER_OTLP_PROTOCOL`.
    Otlp,
    /// Human-readable output on stdout.
    Console,
}

/// How OTLP is sent (`OTEL_EXPORTER_OTLP_PROTOCOL`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// `grpc`
    Grpc,
    /// `http/protobuf`
    HttpProtobuf,
    /// `http/json`
    HttpJson,
}

/// Payload compression (`OTEL_EXPORTER_OTLP_COMPRESSION`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// `gzip`
    Gzip,
}

/// A sampler named by `OTEL_TRACES_SAMPLER` (with its `OTEL_TRACES_SAMPLER_ARG`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SamplerKind {
    /// `always_on`
    AlwaysOn,
    /// `always_off`
    AlwaysOff,
    /// `traceidratio`, with the ratio.
    TraceIdRatio(f64),
    /// `parentbased_always_on` (the default)
    ParentBasedAlwaysOn,
    /// `parentbased_always_off`
    ParentBasedAlwaysOff,
    /// `parentbased_traceidratio`, with the ratio.
    ParentBasedTraceIdRatio(f64),
}

/// A context propagator named by `OTEL_PROPAGATORS`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PropagatorKind {
    /// W3C `traceparent`/`tracestate`.
    TraceContext,
    /// W3C `baggage`.
    Baggage,
    /// Zipkin B3, single `b3` header.
    B3,
    /// Zipkin B3, `X-B3-*` headers.
    B3Multi,
}

/// How the console exporters print (`TRACED_CONSOLE_FORMAT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ConsoleFormat {
    /// One indented tree per trace, the trace id on top (the default).
    #[default]
    Tree,
    /// One line per span, log record or data point with every field.
    Raw,
}

/// The OTLP destination of one signal, after the specification's precedence rules. Its `Debug` shows
/// header names only and the endpoint without userinfo.
#[derive(Clone, PartialEq)]
pub struct OtlpSettings {
    /// Full URL: for HTTP the signal path is already appended when it came from the generic variable.
    pub endpoint: String,
    /// Wire protocol.
    pub protocol: Protocol,
    /// Extra headers (percent-decoded), e.g. `signoz-ingestion-key`.
    pub headers: Vec<(String, String)>,
    /// Deadline of one export.
    pub timeout: Duration,
    /// Payload compression.
    pub compression: Option<Compression>,
    /// `TRACED_OTLP_MAX_REQUEST_BYTES` (default [`OtlpSettings::DEFAULT_MAX_REQUEST_BYTES`]): the
    /// largest encoded (uncompressed) export request; larger batches are split before sending.
    pub max_request_bytes: usize,
    /// Where `endpoint` came from, so a protocol chosen later (in code) can apply the path rule again.
    origin: EndpointOrigin,
}

impl fmt::Debug for OtlpSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let header_names: Vec<&str> = self.headers.iter().map(|(name, _)| name.as_str()).collect();
        f.debug_struct("OtlpSettings")
            .field("endpoint", &shown_endpoint(&self.endpoint))
            .field("protocol", &self.protocol)
            .field("header_names", &header_names)
            .field("timeout", &self.timeout)
            .field("compression", &self.compression)
            .finish_non_exhaustive()
    }
}

/// The source of an OTLP endpoint, as far as the path rule cares.
#[derive(Debug, Clone, PartialEq)]
enum EndpointOrigin {
    /// The protocol's default (`localhost:4317` or `localhost:4318/v1/<signal>`).
    Default(Signal),
    /// The generic `OTEL_EXPORTER_OTLP_ENDPOINT` (or the builder's), before the signal path.
    Generic(Signal, String),
    /// A signal-specific variable: used as is, whatever the protocol.
    Specific,
}

impl OtlpSettings {
    /// Just under the 4 MiB a gRPC server accepts by default, leaving room for framing.
    pub const DEFAULT_MAX_REQUEST_BYTES: usize = 4 * 1024 * 1024 - 64 * 1024;
    /// The accepted range of `TRACED_OTLP_MAX_REQUEST_BYTES`.
    pub const MAX_REQUEST_BYTES_RANGE: std::ops::RangeInclusive<usize> = 1024..=256 * 1024 * 1024;

    /// Switches the protocol; an endpoint that was not given for this signal alone follows it
    /// (the default port changes, and over HTTP the generic endpoint gets the signal path).
    pub(crate) fn set_protocol(&mut self, protocol: Protocol) {
        self.protocol = protocol;
        match &self.origin {
            EndpointOrigin::Default(signal) => self.endpoint = default_endpoint(protocol, *signal),
            EndpointOrigin::Generic(signal, base) => self.endpoint = signal_endpoint(base, protocol, *signal, false),
            EndpointOrigin::Specific => {}
        }
    }

    fn set_generic_endpoint(&mut self, signal: Signal, base: &str) {
        self.endpoint = signal_endpoint(base, self.protocol, signal, false);
        self.origin = EndpointOrigin::Generic(signal, base.to_owned());
    }
}

/// Batch processor settings (`OTEL_BSP_*` for spans, `OTEL_BLRP_*` for log records).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchSettings {
    /// `OTEL_BSP_SCHEDULE_DELAY` (default 5000 ms) or `OTEL_BLRP_SCHEDULE_DELAY` (default 1000 ms);
    /// 1 ms to 1 h.
    pub schedule_delay: Duration,
    /// `OTEL_BSP_EXPORT_TIMEOUT` / `OTEL_BLRP_EXPORT_TIMEOUT` (default 30000 ms; 1 ms to 10 min): the
    /// deadline of one export.
    pub export_timeout: Duration,
    /// `OTEL_BSP_MAX_QUEUE_SIZE` / `OTEL_BLRP_MAX_QUEUE_SIZE` (default 2048; 1 to 1,000,000).
    pub max_queue_size: usize,
    /// `OTEL_BSP_MAX_EXPORT_BATCH_SIZE` / `OTEL_BLRP_MAX_EXPORT_BATCH_SIZE` (default 512; 1 to the
    /// queue size).
    pub max_export_batch_size: usize,
}

impl BatchSettings {
    /// The `OTEL_BLRP_*` defaults: as `OTEL_BSP_*`, but a 1000 ms schedule delay.
    pub fn logs_default() -> Self {
        Self { schedule_delay: Duration::from_millis(1000), ..Self::default() }
    }
}

impl Default for BatchSettings {
    fn default() -> Self {
        Self {
            schedule_delay: Duration::from_millis(5000),
            export_timeout: Duration::from_millis(30000),
            max_queue_size: 2048,
            max_export_batch_size: 512,
        }
    }
}

/// Span limits (`OTEL_SPAN_*_LIMIT`, `OTEL_ATTRIBUTE_*_LIMIT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpanLimitSettings {
    /// Longest string attribute value in characters; `None` means no limit (the default).
    pub attribute_value_length: Option<usize>,
    /// Attributes per span (default 128).
    pub attribute_count: u32,
    /// Events per span (default 128).
    pub event_count: u32,
    /// Links per span (default 128).
    pub link_count: u32,
    /// Attributes per event (default 128, else `OTEL_ATTRIBUTE_COUNT_LIMIT`).
    pub event_attribute_count: u32,
    /// Attributes per link (default 128, else `OTEL_ATTRIBUTE_COUNT_LIMIT`).
    pub link_attribute_count: u32,
}

impl Default for SpanLimitSettings {
    fn default() -> Self {
        Self {
            attribute_value_length: None,
            attribute_count: 128,
            event_count: 128,
            link_count: 128,
            event_attribute_count: 128,
            link_attribute_count: 128,
        }
    }
}

/// Everything `traced::init()` reads from the environment, as plain data.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// `OTEL_SDK_DISABLED`
    pub disabled: bool,
    /// `OTEL_SERVICE_NAME`, else `service.name` of `OTEL_RESOURCE_ATTRIBUTES`, else
    /// `unknown_service:<executable name>`.
    pub service_name: String,
    /// `OTEL_RESOURCE_ATTRIBUTES` (percent-decoded), without `service.name`.
    pub resource_attributes: Vec<(String, String)>,
    /// `OTEL_TRACES_EXPORTER` (default `otlp`).
    pub traces_exporters: Vec<ExporterKind>,
    /// `OTEL_METRICS_EXPORTER` (default `otlp`).
    pub metrics_exporters: Vec<ExporterKind>,
    /// `OTEL_LOGS_EXPORTER` (default `otlp`).
    pub logs_exporters: Vec<ExporterKind>,
    /// `OTEL_EXPORTER_OTLP_*` / `OTEL_EXPORTER_OTLP_TRACES_*`
    pub otlp_traces: OtlpSettings,
    /// `OTEL_EXPORTER_OTLP_*` / `OTEL_EXPORTER_OTLP_METRICS_*`
    pub otlp_metrics: OtlpSettings,
    /// `OTEL_EXPORTER_OTLP_*` / `OTEL_EXPORTER_OTLP_LOGS_*`
    pub otlp_logs: OtlpSettings,
    /// `OTEL_TRACES_SAMPLER` and `OTEL_TRACES_SAMPLER_ARG` (default `parentbased_always_on`).
    pub sampler: SamplerKind,
    /// `OTEL_BSP_*`
    pub batch: BatchSettings,
    /// `OTEL_BLRP_*`: the batch log record processor (schedule delay 1000 ms, else as for spans).
    pub log_batch: BatchSettings,
    /// `OTEL_METRIC_EXPORT_INTERVAL` (default 60000 ms; 100 ms to 24 h).
    pub metric_export_interval: Duration,
    /// `OTEL_METRIC_EXPORT_TIMEOUT` (default 30000 ms; 1 ms to 10 min): the deadline of one metric export.
    pub metric_export_timeout: Duration,
    /// `OTEL_PROPAGATORS` (default `tracecontext,baggage`).
    pub propagators: Vec<PropagatorKind>,
    /// Span limits.
    pub span_limits: SpanLimitSettings,
    /// `TRACED_CONSOLE_FORMAT` (default `tree`).
    pub console_format: ConsoleFormat,
    /// `TRACED_LOG_LEVEL` (default `info`): the most verbose `tracing` events exported as logs or span events.
    pub log_level: LevelFilter,
    /// `TRACED_SPAN_LEVEL` (default `info`): the most verbose `#[traced(level = ..)]` spans created.
    pub span_level: LevelFilter,
    /// `TRACED_CODE_ATTRIBUTES` (default `true`): `code.function.name`, `code.file.path` and
    /// `code.line.number` on every `#[traced]` span.
    pub code_attributes: bool,
    /// `TRACED_REDACTED_QUERY_KEYS`: query keys whose values are redacted in addition to the default list
    /// (comma-separated, matched case-insensitively after percent-decoding; default none).
    pub redacted_query_keys: Vec<String>,
    /// `OTEL_LOGRECORD_ATTRIBUTE_VALUE_LENGTH_LIMIT`, else `OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT`: the longest
    /// string in a log record (body and attributes), in characters; `None` means only the byte cap.
    pub log_attribute_value_length: Option<usize>,
    /// The HTTP instrumentation: known methods, excluded URLs, captured headers.
    pub http: HttpSettings,
    /// `TRACED_SHUTDOWN_TIMEOUT` (default 5000 ms; 1 ms to 10 min): one deadline for flushing every signal,
    /// in parallel, at shutdown.
    pub shutdown_timeout: Duration,
}

impl Settings {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, InvalidSetting> {
        let (vars, not_utf8) = env_vars();
        let settings = Self::from_vars(&vars)?;
        match not_utf8 {
            // Like any bad value, one that is not text is an error unless the SDK is disabled.
            Some(name) if !settings.disabled => {
                Err(InvalidSetting::hidden(&name, "UTF-8 text (the value has bytes that are not UTF-8)"))
            }
            _ => Ok(settings),
        }
    }

    /// Reads settings from a map of variables: the pure core of [`Settings::from_env`].
    ///
    /// With `OTEL_SDK_DISABLED=true` nothing else is used, so a bad value elsewhere is no error then
    /// (the other settings fall back to their defaults).
    pub fn from_vars(vars: &HashMap<String, String>) -> Result<Self, InvalidSetting> {
        let disabled = Vars(vars).boolean("OTEL_SDK_DISABLED")?;
        match Self::from_vars_except_disabled(&Vars(vars)) {
            Err(_) if disabled => Ok(Self { disabled, ..Self::default() }),
            result => result.map(|settings| Self { disabled, ..settings }),
        }
    }

    fn from_vars_except_disabled(vars: &Vars<'_>) -> Result<Self, InvalidSetting> {
        let (service_name, resource_attributes) = resource(vars)?;
        let log_batch = batch(vars, "OTEL_BLRP", BatchSettings::logs_default())?;
        let batch = batch(vars, "OTEL_BSP", BatchSettings::default())?;
        Ok(Self {
            disabled: false,
            service_name,
            resource_attributes,
            traces_exporters: exporters(vars, "OTEL_TRACES_EXPORTER")?,
            metrics_exporters: exporters(vars, "OTEL_METRICS_EXPORTER")?,
            logs_exporters: exporters(vars, "OTEL_LOGS_EXPORTER")?,
            otlp_traces: otlp(vars, Signal::Traces)?,
            otlp_metrics: otlp(vars, Signal::Metrics)?,
            otlp_logs: otlp(vars, Signal::Logs)?,
            sampler: sampler(vars)?,
            batch,
            log_batch,
            metric_export_interval: vars.millis(
                "OTEL_METRIC_EXPORT_INTERVAL",
                Duration::from_millis(60_000),
                &Range::METRIC_EXPORT_INTERVAL,
            )?,
            metric_export_timeout: vars.millis(
                "OTEL_METRIC_EXPORT_TIMEOUT",
                Duration::from_millis(30_000),
                &Range::TIMEOUT,
            )?,
            propagators: propagators(vars)?,
            span_limits: span_limits(vars)?,
            console_format: console_format(vars)?,
            log_level: log_level(vars)?,
            span_level: span_level(vars)?,
            code_attributes: code_attributes(vars)?,
            redacted_query_keys: redacted_query_keys(vars),
            log_attribute_value_length: log_attribute_value_length(vars)?,
            http: http(vars)?,
            shutdown_timeout: vars.millis("TRACED_SHUTDOWN_TIMEOUT", Duration::from_millis(5_000), &Range::TIMEOUT)?,
        })
    }
}

impl Settings {
    /// Points every signal at `endpoint` as `OTEL_EXPORTER_OTLP_ENDPOINT` would (HTTP gets the signal path).
    pub(crate) fn set_otlp_endpoint(&mut self, source: &str, endpoint: &str) -> Result<(), InvalidSetting> {
        validate_url(source, endpoint)?;
        for (otlp, signal) in [
            (&mut self.otlp_traces, Signal::Traces),
            (&mut self.otlp_metrics, Signal::Metrics),
            (&mut self.otlp_logs, Signal::Logs),
        ] {
            otlp.set_generic_endpoint(signal, endpoint);
        }
        Ok(())
    }
}

impl Default for Settings {
    /// The specification's defaults, as if no variable were set.
    fn default() -> Self {
        match Self::from_vars(&HashMap::new()) {
            Ok(settings) => settings,
            Err(error) => unreachable!("the defaults are valid: {error}"),
        }
    }
}

/// The process's `OTEL_*` and `TRACED_*` variables (others are never read), and the name of one whose
/// value is not UTF-8 (left out of the map; its value is never shown, it may be a credential).
fn env_vars() -> (HashMap<String, String>, Option<String>) {
    let mut vars = HashMap::new();
    let mut not_utf8 = None;
    for (name, value) in std::env::vars_os() {
        let Some(name) = name.to_str().filter(|name| name.starts_with("OTEL_") || name.starts_with("TRACED_")) else {
            continue;
        };
        match value.into_string() {
            Ok(value) => {
                vars.insert(name.to_owned(), value);
            }
            Err(_) => not_utf8 = Some(name.to_owned()),
        }
    }
    (vars, not_utf8)
}

/// The HTTP instrumentation's settings of the process environment, for a layer or client built
/// before `traced::init()` (which installs its own).
#[cfg_attr(not(any(feature = "axum", feature = "reqwest")), allow(dead_code))]
pub(crate) fn http_from_env() -> Result<HttpSettings, InvalidSetting> {
    http(&Vars(&env_vars().0))
}

/// Lookup in the variable map; empty values count as unset.
struct Vars<'a>(&'a HashMap<String, String>);

impl Vars<'_> {
    fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(|value| value.trim()).filter(|value| !value.is_empty())
    }

    /// The first of `names` that is set, with its name.
    fn first<'n>(&self, names: &[&'n str]) -> Option<(&'n str, &str)> {
        names.iter().find_map(|name| self.get(name).map(|value| (*name, value)))
    }

    fn boolean(&self, name: &str) -> Result<bool, InvalidSetting> {
        match self.get(name) {
            None => Ok(false),
            Some(value) if value.eq_ignore_ascii_case("true") => Ok(true),
            Some(value) if value.eq_ignore_ascii_case("false") => Ok(false),
            Some(value) => Err(InvalidSetting::new(name, value, "`true` or `false`")),
        }
    }

    fn integer<T: std::str::FromStr>(&self, name: &str, default: T) -> Result<T, InvalidSetting> {
        match self.get(name) {
            None => Ok(default),
            Some(value) => value.parse().map_err(|_| InvalidSetting::new(name, value, "a non-negative integer")),
        }
    }

    /// A whole number in `range`, else an error naming the range (garbage and overflow included).
    fn ranged(&self, name: &str, default: u64, range: &Range) -> Result<u64, InvalidSetting> {
        let Some(value) = self.get(name) else { return Ok(default) };
        match value.parse::<u64>() {
            Ok(number) if range.accepts(number) => Ok(number),
            _ => Err(InvalidSetting::new(name, value, range.expected())),
        }
    }

    /// Milliseconds in `range`.
    fn millis(&self, name: &str, default: Duration, range: &Range) -> Result<Duration, InvalidSetting> {
        let default = u64::try_from(default.as_millis()).unwrap_or(u64::MAX);
        self.ranged(name, default, range).map(Duration::from_millis)
    }

    /// A size or count in `range`.
    fn size(&self, name: &str, default: usize, range: &Range) -> Result<usize, InvalidSetting> {
        let number = self.ranged(name, default as u64, range)?;
        usize::try_from(number).map_err(|_| InvalidSetting::new(name, &number.to_string(), range.expected()))
    }
}

/// The accepted values of a numeric variable. Every numeric variable has one, so no value can
/// allocate without bound, overflow a deadline or make an idle process spin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    /// The smallest value accepted.
    pub min: u64,
    /// The largest value accepted.
    pub max: u64,
    /// What the number counts, for messages (`milliseconds`, `items`).
    pub unit: &'static str,
}

impl Range {
    const fn new(min: u64, max: u64, unit: &'static str) -> Self {
        Self { min, max, unit }
    }

    fn accepts(&self, number: u64) -> bool {
        (self.min..=self.max).contains(&number)
    }

    fn expected(&self) -> String {
        format!("a whole number of {} from {} to {}", self.unit, self.min, self.max)
    }

    /// The range of `OTEL_BSP_MAX_QUEUE_SIZE` and `OTEL_BLRP_MAX_QUEUE_SIZE` (the export batch sizes
    /// take the same, and at most the queue size).
    pub const QUEUE_SIZE: Range = Range::new(1, 1_000_000, "items");
    /// `OTEL_BSP_SCHEDULE_DELAY`, `OTEL_BLRP_SCHEDULE_DELAY`: at least 1 ms, at most an hour.
    pub const SCHEDULE_DELAY: Range = Range::new(1, 3_600_000, "milliseconds");
    /// `OTEL_METRIC_EXPORT_INTERVAL`: at least 100 ms (a collection walks every instrument), at most a day.
    pub const METRIC_EXPORT_INTERVAL: Range = Range::new(100, 86_400_000, "milliseconds");
    /// Every export timeout (`OTEL_EXPORTER_OTLP_*TIMEOUT`, `OTEL_BSP_EXPORT_TIMEOUT`,
    /// `OTEL_BLRP_EXPORT_TIMEOUT`, `OTEL_METRIC_EXPORT_TIMEOUT`) and `TRACED_SHUTDOWN_TIMEOUT`: above 0,
    /// at most 10 minutes.
    pub const TIMEOUT: Range = Range::new(1, 600_000, "milliseconds");
    /// Attribute, event and link count limits (`OTEL_*_COUNT_LIMIT`).
    pub const COUNT_LIMIT: Range = Range::new(0, 65_536, "items");
    /// Attribute value length limits (`OTEL_*ATTRIBUTE_VALUE_LENGTH_LIMIT`), in characters.
    pub const LENGTH_LIMIT: Range = Range::new(0, 16_777_216, "characters");
}

fn resource(vars: &Vars<'_>) -> Result<(String, Vec<(String, String)>), InvalidSetting> {
    const NAME: &str = "OTEL_RESOURCE_ATTRIBUTES";
    const EXPECTED: &str = "a comma-separated list of `key=value` pairs";
    let mut attributes = match vars.get(NAME) {
        Some(list) => key_value_list(list).map_err(|error| {
            let problem = match error {
                ListError::NotKeyValue { item, .. } => format!("`{item}` is not `key=value`"),
                ListError::NotUtf8 { key, .. } => format!("the value of `{key}` is not UTF-8 once percent-decoded"),
            };
            InvalidSetting::new(NAME, list, format!("{EXPECTED} ({problem})"))
        })?,
        None => Vec::new(),
    };
    let from_attributes =
        attributes.iter().position(|(key, _)| key == "service.name").map(|at| attributes.remove(at).1);
    let service_name =
        vars.get("OTEL_SERVICE_NAME").map(str::to_owned).or(from_attributes).unwrap_or_else(unknown_service);
    Ok((service_name, attributes))
}

/// The semantic conventions' fallback: `unknown_service:<process.executable.name>`, or `unknown_service`
/// when the executable's name cannot be found.
fn unknown_service() -> String {
    let executable = std::env::current_exe().ok();
    match executable.as_deref().and_then(std::path::Path::file_name).and_then(|name| name.to_str()) {
        Some(name) => format!("unknown_service:{name}"),
        None => "unknown_service".to_owned(),
    }
}

/// Parses `k1=v1,k2=v2` with percent-decoded values (resource attributes and OTLP headers share it).
fn key_value_list(list: &str) -> Result<Vec<(String, String)>, ListError<'_>> {
    let mut pairs = Vec::new();
    let items = list.split(',').map(str::trim).filter(|item| !item.is_empty());
    for (index, item) in items.enumerate() {
        let entry = index + 1;
        let (key, value) = item.split_once('=').ok_or(ListError::NotKeyValue { entry, item })?;
        let key = key.trim();
        if key.is_empty() {
            return Err(ListError::NotKeyValue { entry, item });
        }
        let value = percent_encoding::percent_decode_str(value.trim())
            .decode_utf8()
            .map_err(|_| ListError::NotUtf8 { entry, key })?;
        pairs.push((key.to_owned(), value.into_owned()));
    }
    Ok(pairs)
}

/// Which entry of a `k=v` list is malformed (counted from 1, blank entries skipped).
enum ListError<'a> {
    NotKeyValue { entry: usize, item: &'a str },
    NotUtf8 { entry: usize, key: &'a str },
}

fn exporters(vars: &Vars<'_>, name: &str) -> Result<Vec<ExporterKind>, InvalidSetting> {
    const ACCEPTED: &str = "a comma-separated list of `otlp`, `console`, or `none` alone";
    let Some(list) = vars.get(name) else { return Ok(vec![ExporterKind::Otlp]) };
    let mut kinds = Vec::new();
    let mut none = false;
    for item in entries(name, list, ACCEPTED)? {
        let kind = match item.to_ascii_lowercase().as_str() {
            "otlp" => ExporterKind::Otlp,
            "console" => ExporterKind::Console,
            "none" => {
                none = true;
                continue;
            }
            _ => return Err(InvalidSetting::new(name, list, ACCEPTED)),
        };
        if !kinds.contains(&kind) {
            kinds.push(kind);
        }
    }
    if none && !kinds.is_empty() {
        return Err(InvalidSetting::new(name, list, ACCEPTED));
    }
    Ok(kinds)
}

/// The entries of a comma-separated list, trimmed, blank ones skipped; a list of nothing but commas
/// is an error rather than an empty list (which would switch the feature off without a word).
fn entries<'v>(name: &str, list: &'v str, expected: &str) -> Result<Vec<&'v str>, InvalidSetting> {
    let entries: Vec<&str> = list.split(',').map(str::trim).filter(|entry| !entry.is_empty()).collect();
    if entries.is_empty() {
        return Err(InvalidSetting::new(name, list, expected));
    }
    Ok(entries)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Signal {
    Traces,
    Metrics,
    Logs,
}

impl Signal {
    fn upper(self) -> &'static str {
        match self {
            Signal::Traces => "TRACES",
            Signal::Metrics => "METRICS",
            Signal::Logs => "LOGS",
        }
    }

    fn path(self) -> &'static str {
        match self {
            Signal::Traces => "/v1/traces",
            Signal::Metrics => "/v1/metrics",
            Signal::Logs => "/v1/logs",
        }
    }
}

/// The OTLP settings of one signal: the signal-specific variable wins over the generic one.
fn otlp(vars: &Vars<'_>, signal: Signal) -> Result<OtlpSettings, InvalidSetting> {
    let names = |suffix: &str| {
        [format!("OTEL_EXPORTER_OTLP_{}_{suffix}", signal.upper()), format!("OTEL_EXPORTER_OTLP_{suffix}")]
    };
    let lookup = |suffix: &str| {
        let [specific, generic] = names(suffix);
        vars.first(&[&specific, &generic]).map(|(name, value)| (name == specific, name.to_owned(), value))
    };

    let protocol = match lookup("PROTOCOL") {
        None => Protocol::HttpProtobuf,
        Some((_, name, value)) => match value.to_ascii_lowercase().as_str() {
            "grpc" => Protocol::Grpc,
            "http/protobuf" => Protocol::HttpProtobuf,
            "http/json" => Protocol::HttpJson,
            _ => return Err(InvalidSetting::new(&name, value, "`grpc`, `http/protobuf` or `http/json`")),
        },
    };
    let (endpoint, origin) = match lookup("ENDPOINT") {
        None => (default_endpoint(protocol, signal), EndpointOrigin::Default(signal)),
        Some((specific, name, value)) => {
            validate_url(&name, value)?;
            let origin =
                if specific { EndpointOrigin::Specific } else { EndpointOrigin::Generic(signal, value.to_owned()) };
            (signal_endpoint(value, protocol, signal, specific), origin)
        }
    };
    let headers = match lookup("HEADERS") {
        None => Vec::new(),
        Some((_, name, value)) => headers(&name, value)?,
    };
    let timeout = match lookup("TIMEOUT") {
        None => Duration::from_millis(10_000),
        Some((_, name, _)) => vars.millis(&name, Duration::from_millis(10_000), &Range::TIMEOUT)?,
    };
    let compression = match lookup("COMPRESSION") {
        None => None,
        Some((_, name, value)) => match value.to_ascii_lowercase().as_str() {
            "gzip" => Some(Compression::Gzip),
            "none" => None,
            _ => return Err(InvalidSetting::new(&name, value, "`gzip` or `none`")),
        },
    };
    let max_request_bytes = max_request_bytes(vars)?;
    Ok(OtlpSettings { endpoint, protocol, headers, timeout, compression, max_request_bytes, origin })
}

fn max_request_bytes(vars: &Vars<'_>) -> Result<usize, InvalidSetting> {
    const NAME: &str = "TRACED_OTLP_MAX_REQUEST_BYTES";
    let range = OtlpSettings::MAX_REQUEST_BYTES_RANGE;
    let bytes = vars.integer(NAME, OtlpSettings::DEFAULT_MAX_REQUEST_BYTES);
    match (bytes, vars.get(NAME)) {
        (Ok(bytes), _) if range.contains(&bytes) => Ok(bytes),
        (_, value) => Err(InvalidSetting::new(
            NAME,
            value.unwrap_or_default(),
            format!("a number of bytes from {} to {}", range.start(), range.end()),
        )),
    }
}

/// The spec's path rule: only the generic endpoint over HTTP gets `/v1/<signal>` appended.
fn signal_endpoint(endpoint: &str, protocol: Protocol, signal: Signal, signal_specific: bool) -> String {
    if signal_specific || protocol == Protocol::Grpc {
        endpoint.to_owned()
    } else {
        format!("{}{}", endpoint.trim_end_matches('/'), signal.path())
    }
}

fn default_endpoint(protocol: Protocol, signal: Signal) -> String {
    match protocol {
        Protocol::Grpc => "http://localhost:4317".to_owned(),
        Protocol::HttpProtobuf | Protocol::HttpJson => format!("http://localhost:4318{}", signal.path()),
    }
}

/// An endpoint in an error never shows its userinfo (nor sensitive query values).
fn validate_url(name: &str, value: &str) -> Result<(), InvalidSetting> {
    let invalid = || {
        InvalidSetting::new(
            name,
            &shown_endpoint(value),
            "an absolute `http://` or `https://` URL, e.g. `http://localhost:4317`",
        )
    };
    let uri: http::Uri = value.parse().map_err(|_| invalid())?;
    let scheme_ok = matches!(uri.scheme_str(), Some("http" | "https"));
    if !scheme_ok || uri.host().is_none_or(str::is_empty) {
        return Err(invalid());
    }
    // `http::Uri` takes any port text; the exporters' URL parser would refuse it later, without
    // naming the variable. A `#` or `?` in a password also ends the authority at a "port".
    let authority = uri.authority().map_or("", |authority| authority.as_str());
    let host_and_port = authority.rsplit('@').next().unwrap_or_default();
    let after_host = host_and_port.rsplit_once(']').map_or(host_and_port, |(_, rest)| rest);
    if after_host.split_once(':').is_some_and(|(_, port)| !port.is_empty() && port.parse::<u16>().is_err()) {
        return Err(invalid());
    }
    Ok(())
}

/// An endpoint as errors and `Debug` show it: without userinfo and sensitive query values, also when
/// it is written so wrong that no URL parser finds the userinfo (`http:\\user:pw@host`, a `#` in
/// the password): whatever lies between the scheme and the last `@` is left out.
fn shown_endpoint(value: &str) -> String {
    let redacted = crate::privacy::redact_url(value);
    let Some(at) = redacted.rfind('@') else { return redacted.into_owned() };
    let start = redacted.find("://").map(|end| end + 3).or_else(|| redacted.find(':').map(|end| end + 1));
    let start = start.filter(|start| *start <= at).unwrap_or(0);
    format!("{}{}", &redacted[..start], &redacted[at + 1..])
}

/// Header values are credentials (`authorization=Bearer ...`, ingestion keys): an error names the
/// variable and the malformed entry by position, and a header by name only once the name is valid;
/// it never echoes a value.
fn headers(name: &str, value: &str) -> Result<Vec<(String, String)>, InvalidSetting> {
    const EXPECTED: &str = "a comma-separated list of `name=value` HTTP headers";
    let invalid = |problem: String| InvalidSetting::hidden(name, format!("{EXPECTED} ({problem})"));
    let pairs = key_value_list(value).map_err(|error| match error {
        ListError::NotKeyValue { entry, .. } => invalid(format!("entry {entry} is not `name=value`")),
        ListError::NotUtf8 { entry, key } => invalid(match http::HeaderName::from_bytes(key.as_bytes()) {
            Ok(_) => format!("the value of header `{key}` (entry {entry}) is not UTF-8 once percent-decoded"),
            Err(_) => format!("entry {entry} has a value that is not UTF-8 once percent-decoded"),
        }),
    })?;
    for (index, (key, header_value)) in pairs.iter().enumerate() {
        if let Some(problem) = header_problem(index + 1, key, header_value) {
            return Err(invalid(problem));
        }
    }
    Ok(pairs)
}

/// What makes header `entry` unsendable, quoting its name only once the name is valid, never its value.
fn header_problem(entry: usize, key: &str, value: &str) -> Option<String> {
    if http::HeaderName::from_bytes(key.as_bytes()).is_err() {
        return Some(format!("entry {entry} does not start with a valid header name"));
    }
    if http::HeaderValue::from_str(value).is_err() {
        return Some(format!("the value of header `{key}` (entry {entry}) is not a valid header value"));
    }
    None
}

/// The ratios of the `traceidratio` samplers (NaN is not in it).
const PROBABILITY: std::ops::RangeInclusive<f64> = 0.0..=1.0;
const PROBABILITY_EXPECTED: &str = "a probability between 0.0 and 1.0";

fn sampler(vars: &Vars<'_>) -> Result<SamplerKind, InvalidSetting> {
    const NAME: &str = "OTEL_TRACES_SAMPLER";
    let ratio = || -> Result<f64, InvalidSetting> {
        const ARG: &str = "OTEL_TRACES_SAMPLER_ARG";
        let Some(value) = vars.get(ARG) else { return Ok(1.0) };
        match value.parse::<f64>() {
            Ok(ratio) if PROBABILITY.contains(&ratio) => Ok(ratio),
            _ => Err(InvalidSetting::new(ARG, value, PROBABILITY_EXPECTED)),
        }
    };
    let Some(value) = vars.get(NAME) else { return Ok(SamplerKind::ParentBasedAlwaysOn) };
    // Case-insensitive, as the exporters' and propagators' lists (OpenTelemetry: enum values case-insensitive).
    Ok(match value.to_ascii_lowercase().as_str() {
        "always_on" => SamplerKind::AlwaysOn,
        "always_off" => SamplerKind::AlwaysOff,
        "traceidratio" => SamplerKind::TraceIdRatio(ratio()?),
        "parentbased_always_on" => SamplerKind::ParentBasedAlwaysOn,
        "parentbased_always_off" => SamplerKind::ParentBasedAlwaysOff,
        "parentbased_traceidratio" => SamplerKind::ParentBasedTraceIdRatio(ratio()?),
        _ => {
            return Err(InvalidSetting::new(
                NAME,
                value,
                "one of `always_on`, `always_off`, `traceidratio`, `parentbased_always_on`, \
                 `parentbased_always_off`, `parentbased_traceidratio`",
            ))
        }
    })
}

/// `<prefix>_SCHEDULE_DELAY`, `_EXPORT_TIMEOUT`, `_MAX_QUEUE_SIZE`, `_MAX_EXPORT_BATCH_SIZE` (`OTEL_BSP` for
/// spans, `OTEL_BLRP` for log records).
fn batch(vars: &Vars<'_>, prefix: &str, defaults: BatchSettings) -> Result<BatchSettings, InvalidSetting> {
    let name = |suffix: &str| format!("{prefix}_{suffix}");
    let max_queue_size = vars.size(&name("MAX_QUEUE_SIZE"), defaults.max_queue_size, &Range::QUEUE_SIZE)?;
    // A queue set smaller than the default batch size shrinks the batch; only an explicit batch size
    // larger than the queue is an error.
    let default_batch_size = defaults.max_export_batch_size.min(max_queue_size);
    let settings = BatchSettings {
        schedule_delay: vars.millis(&name("SCHEDULE_DELAY"), defaults.schedule_delay, &Range::SCHEDULE_DELAY)?,
        export_timeout: vars.millis(&name("EXPORT_TIMEOUT"), defaults.export_timeout, &Range::TIMEOUT)?,
        max_queue_size,
        max_export_batch_size: vars.size(&name("MAX_EXPORT_BATCH_SIZE"), default_batch_size, &Range::QUEUE_SIZE)?,
    };
    settings.check_batch_size(&name("MAX_EXPORT_BATCH_SIZE"), &name("MAX_QUEUE_SIZE"))?;
    Ok(settings)
}

impl BatchSettings {
    /// The batch size is at most the queue size.
    fn check_batch_size(&self, batch_variable: &str, queue_variable: &str) -> Result<(), InvalidSetting> {
        if self.max_export_batch_size > self.max_queue_size {
            return Err(InvalidSetting::new(
                batch_variable,
                &self.max_export_batch_size.to_string(),
                format!("at most `{queue_variable}` ({})", self.max_queue_size),
            ));
        }
        Ok(())
    }
}

fn check_size(name: &str, size: usize, range: &Range) -> Result<(), InvalidSetting> {
    if range.accepts(size as u64) {
        Ok(())
    } else {
        Err(InvalidSetting::new(name, &size.to_string(), range.expected()))
    }
}

fn check_millis(name: &str, duration: Duration, range: &Range) -> Result<(), InvalidSetting> {
    if (Duration::from_millis(range.min)..=Duration::from_millis(range.max)).contains(&duration) {
        Ok(())
    } else {
        Err(InvalidSetting::new(name, &format!("{duration:?}"), range.expected()))
    }
}

impl Settings {
    /// Checks the values code set through the builder (the environment's are checked as they are
    /// read), naming the builder method.
    pub(crate) fn check_code_values(&self) -> Result<(), InvalidSetting> {
        let name = |method: &str, field: &str| format!("Telemetry::builder().{method} ({field})");
        for (method, batch) in [("batch", &self.batch), ("log_batch", &self.log_batch)] {
            let [queue, size, delay, timeout] = [
                name(method, "max_queue_size"),
                name(method, "max_export_batch_size"),
                name(method, "schedule_delay"),
                name(method, "export_timeout"),
            ];
            check_size(&queue, batch.max_queue_size, &Range::QUEUE_SIZE)?;
            check_size(&size, batch.max_export_batch_size, &Range::QUEUE_SIZE)?;
            batch.check_batch_size(&size, &queue)?;
            check_millis(&delay, batch.schedule_delay, &Range::SCHEDULE_DELAY)?;
            check_millis(&timeout, batch.export_timeout, &Range::TIMEOUT)?;
        }
        if let SamplerKind::TraceIdRatio(ratio) | SamplerKind::ParentBasedTraceIdRatio(ratio) = self.sampler {
            if !PROBABILITY.contains(&ratio) {
                let expected = format!("a ratio that is {PROBABILITY_EXPECTED}");
                return Err(InvalidSetting::new(
                    "Telemetry::builder().sampler",
                    &format!("{:?}", self.sampler),
                    expected,
                ));
            }
        }
        // The environment's headers were checked as they were read, so a bad one came from code; the
        // exporters would leave it out, and the collector would see requests without it.
        for otlp in [&self.otlp_traces, &self.otlp_metrics, &self.otlp_logs] {
            for (index, (key, value)) in otlp.headers.iter().enumerate() {
                if let Some(problem) = header_problem(index + 1, key, value) {
                    return Err(InvalidSetting::hidden(
                        "Telemetry::builder().otlp_header",
                        format!("an HTTP header name and a header value ({problem})"),
                    ));
                }
            }
        }
        check_millis("Telemetry::builder().shutdown_timeout", self.shutdown_timeout, &Range::TIMEOUT)
    }
}

fn propagators(vars: &Vars<'_>) -> Result<Vec<PropagatorKind>, InvalidSetting> {
    const NAME: &str = "OTEL_PROPAGATORS";
    let Some(list) = vars.get(NAME) else { return Ok(vec![PropagatorKind::TraceContext, PropagatorKind::Baggage]) };
    const ACCEPTED: &str = "a comma-separated list of `tracecontext`, `baggage`, `b3`, `b3multi`, `none`";
    let mut kinds = Vec::new();
    for item in entries(NAME, list, ACCEPTED)? {
        // Case-insensitive, as the exporters' lists (OpenTelemetry: enum values case-insensitive).
        let kind = match item.to_ascii_lowercase().as_str() {
            "tracecontext" => PropagatorKind::TraceContext,
            "baggage" => PropagatorKind::Baggage,
            "b3" => PropagatorKind::B3,
            "b3multi" => PropagatorKind::B3Multi,
            "none" => continue,
            _ => return Err(InvalidSetting::new(NAME, list, ACCEPTED)),
        };
        if !kinds.contains(&kind) {
            kinds.push(kind);
        }
    }
    Ok(kinds)
}

fn span_limits(vars: &Vars<'_>) -> Result<SpanLimitSettings, InvalidSetting> {
    let defaults = SpanLimitSettings::default();
    let count = |names: &[&str], default: u32| match vars.first(names) {
        // COUNT_LIMIT fits in u32.
        Some((name, _)) => vars.ranged(name, default.into(), &Range::COUNT_LIMIT).map(|count| count as u32),
        None => Ok(default),
    };
    let attribute_value_length =
        match vars.first(&["OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT", "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT"]) {
            Some((name, _)) => Some(vars.size(name, 0, &Range::LENGTH_LIMIT)?),
            None => None,
        };
    Ok(SpanLimitSettings {
        attribute_value_length,
        attribute_count: count(
            &["OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", "OTEL_ATTRIBUTE_COUNT_LIMIT"],
            defaults.attribute_count,
        )?,
        event_count: count(&["OTEL_SPAN_EVENT_COUNT_LIMIT"], defaults.event_count)?,
        link_count: count(&["OTEL_SPAN_LINK_COUNT_LIMIT"], defaults.link_count)?,
        // The general limit covers every attribute collection, event and link attributes included.
        event_attribute_count: count(
            &["OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT", "OTEL_ATTRIBUTE_COUNT_LIMIT"],
            defaults.event_attribute_count,
        )?,
        link_attribute_count: count(
            &["OTEL_LINK_ATTRIBUTE_COUNT_LIMIT", "OTEL_ATTRIBUTE_COUNT_LIMIT"],
            defaults.link_attribute_count,
        )?,
    })
}

fn console_format(vars: &Vars<'_>) -> Result<ConsoleFormat, InvalidSetting> {
    const NAME: &str = "TRACED_CONSOLE_FORMAT";
    match vars.get(NAME) {
        None => Ok(ConsoleFormat::Tree),
        Some(value) if value.eq_ignore_ascii_case("tree") => Ok(ConsoleFormat::Tree),
        Some(value) if value.eq_ignore_ascii_case("raw") => Ok(ConsoleFormat::Raw),
        Some(value) => Err(InvalidSetting::new(NAME, value, "`tree` or `raw`")),
    }
}

fn log_level(vars: &Vars<'_>) -> Result<LevelFilter, InvalidSetting> {
    const NAME: &str = "TRACED_LOG_LEVEL";
    let Some(value) = vars.get(NAME) else { return Ok(LevelFilter::INFO) };
    value.parse().map_err(|_| InvalidSetting::new(NAME, value, "`off`, `error`, `warn`, `info`, `debug` or `trace`"))
}

fn code_attributes(vars: &Vars<'_>) -> Result<bool, InvalidSetting> {
    const NAME: &str = "TRACED_CODE_ATTRIBUTES";
    match vars.get(NAME) {
        None => Ok(true),
        Some(_) => vars.boolean(NAME),
    }
}

fn span_level(vars: &Vars<'_>) -> Result<LevelFilter, InvalidSetting> {
    const NAME: &str = "TRACED_SPAN_LEVEL";
    let Some(value) = vars.get(NAME) else { return Ok(LevelFilter::INFO) };
    value.parse().map_err(|_| InvalidSetting::new(NAME, value, "`off`, `error`, `warn`, `info`, `debug` or `trace`"))
}

/// `TRACED_REDACTED_QUERY_KEYS`: any names are accepted (a key never sent is harmless).
fn redacted_query_keys(vars: &Vars<'_>) -> Vec<String> {
    let Some(list) = vars.get("TRACED_REDACTED_QUERY_KEYS") else { return Vec::new() };
    list.split(',').map(str::trim).filter(|key| !key.is_empty()).map(str::to_owned).collect()
}

fn log_attribute_value_length(vars: &Vars<'_>) -> Result<Option<usize>, InvalidSetting> {
    match vars.first(&["OTEL_LOGRECORD_ATTRIBUTE_VALUE_LENGTH_LIMIT", "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT"]) {
        Some((name, _)) => vars.size(name, 0, &Range::LENGTH_LIMIT).map(Some),
        None => Ok(None),
    }
}

/// The HTTP instrumentation (`OTEL_INSTRUMENTATION_HTTP_*`, `OTEL_RUST_*EXCLUDED_URLS`).
fn http(vars: &Vars<'_>) -> Result<HttpSettings, InvalidSetting> {
    const CAPTURE: &str = "OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_";
    let headers = |suffix: &str| header_patterns(vars, &format!("{CAPTURE}{suffix}"));
    Ok(HttpSettings {
        known_methods: known_methods(vars)?,
        excluded_urls: excluded_urls(vars)?,
        server_request_headers: headers("SERVER_REQUEST")?,
        server_response_headers: headers("SERVER_RESPONSE")?,
        client_request_headers: headers("CLIENT_REQUEST")?,
        client_response_headers: headers("CLIENT_RESPONSE")?,
        sanitize_headers: headers("SANITIZE_FIELDS")?,
    })
}

/// `OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS`: a case-sensitive list that replaces the conventions' one.
fn known_methods(vars: &Vars<'_>) -> Result<Option<Vec<String>>, InvalidSetting> {
    const NAME: &str = "OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS";
    let Some(list) = vars.get(NAME) else { return Ok(None) };
    let mut methods: Vec<String> = Vec::new();
    for method in entries(NAME, list, "a comma-separated list of HTTP method names")? {
        if http::Method::from_bytes(method.as_bytes()).is_err() {
            return Err(InvalidSetting::new(
                NAME,
                list,
                format!("a comma-separated list of HTTP method names (`{method}` is not one)"),
            ));
        }
        if !methods.iter().any(|known| known == method) {
            methods.push(method.to_owned());
        }
    }
    Ok(Some(methods))
}

/// A regular expression of a list that does not compile, as an invalid setting.
fn invalid_pattern(name: &str, list: &str, error: &PatternError) -> InvalidSetting {
    InvalidSetting::new(
        name,
        list,
        format!(
            "a comma-separated list of regular expressions (`{}` is not one: {})",
            error.pattern(),
            error.reason().lines().last().unwrap_or_default().trim()
        ),
    )
}

/// `OTEL_RUST_AXUM_EXCLUDED_URLS`, else `OTEL_RUST_EXCLUDED_URLS`.
fn excluded_urls(vars: &Vars<'_>) -> Result<ExcludedUrls, InvalidSetting> {
    let Some((name, list)) = vars.first(&[EXCLUDED_URLS_ENV, GENERIC_EXCLUDED_URLS_ENV]) else {
        return Ok(ExcludedUrls::none());
    };
    ExcludedUrls::parse_named(list, name).map_err(|error| invalid_pattern(name, list, &error))
}

/// One `OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_*` list of header names or regular expressions.
fn header_patterns(vars: &Vars<'_>, name: &str) -> Result<HeaderPatterns, InvalidSetting> {
    let Some(list) = vars.get(name) else { return Ok(HeaderPatterns::default()) };
    HeaderPatterns::parse_named(list, name).map_err(|error| invalid_pattern(name, list, &error))
}

#[cfg(test)]
#[path = "settings_tests.rs"]
mod tests;
