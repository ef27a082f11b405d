//! OTLP export: our own exporters behind the pipeline's [`BatchExport`] and [`MetricExport`].
//!
//! Files, one job each: `encode` (SDK data -> OTLP messages once per batch, requests cut under the size
//! limit), `encode_spans` (spans straight to protobuf bytes), `export` (one request at a time, retries, halves on "too large", every item accounted for
//! once), `grpc` and `http` (the transports: tonic, async reqwest), `classify` (what a refusal means),
//! `retry` (jittered exponential backoff within the deadline), `warnings` (one per signal and kind of
//! problem, without secrets). Exports are polled inside the guard's export runtime. A protocol whose
//! feature is off (`otlp-grpc`, `otlp-http`) is an error naming the feature.

// Without either OTLP feature only the "enable the feature" error is left.
#![cfg_attr(not(any(feature = "otlp-grpc", feature = "otlp-http")), allow(unused_imports, unused_variables))]

#[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
mod classify;
#[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
mod encode;
#[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
mod encode_spans;
#[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
mod export;
#[cfg(feature = "otlp-grpc")]
mod grpc;
#[cfg(feature = "otlp-http")]
mod http;
#[cfg(all(feature = "testing", any(feature = "otlp-grpc", feature = "otlp-http")))]
pub mod probe;
#[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
mod retry;
#[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
mod warnings;

use opentelemetry_sdk::trace::SpanData;
use opentelemetry_sdk::Resource;

use super::error::{InitError, InvalidSetting};
use super::pipeline::delivery::{BatchExport, LogItem, MetricExport};
use super::settings::{OtlpSettings, Protocol};

/// `User-Agent` of every export, like other SDKs' `OTel-OTLP-Exporter-<language>/<version>`.
#[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
const USER_AGENT: &str = concat!("traced/", env!("CARGO_PKG_VERSION"));

/// How long a connection may take to set up (TCP and TLS): a collector whose host drops packets is
/// then "unreachable" (failed: nothing was sent) and retried, rather than a request without an answer.
#[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
fn connect_timeout(settings: &OtlpSettings) -> std::time::Duration {
    settings.timeout.min(std::time::Duration::from_secs(5))
}

/// The OTLP span exporter of `settings`; `resource` goes into every request, warnings to stderr.
pub(crate) fn span_exporter(
    settings: &OtlpSettings,
    resource: &Resource,
) -> Result<Box<dyn BatchExport<SpanData>>, InitError> {
    #[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
    return Ok(Box::new(exporter::<encode::Traces>(settings, resource, warnings::stderr())?));
    #[cfg(not(any(feature = "otlp-grpc", feature = "otlp-http")))]
    Err(missing_feature(settings.protocol))
}

/// The OTLP log exporter of `settings`.
pub(crate) fn log_exporter(
    settings: &OtlpSettings,
    resource: &Resource,
) -> Result<Box<dyn BatchExport<LogItem>>, InitError> {
    #[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
    return Ok(Box::new(exporter::<encode::Logs>(settings, resource, warnings::stderr())?));
    #[cfg(not(any(feature = "otlp-grpc", feature = "otlp-http")))]
    Err(missing_feature(settings.protocol))
}

/// The OTLP metric exporter of `settings` (each collection carries its own resource).
pub(crate) fn metric_exporter(settings: &OtlpSettings) -> Result<Box<dyn MetricExport>, InitError> {
    #[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
    return Ok(Box::new(exporter::<encode::Metrics>(
        settings,
        &Resource::builder_empty().build(),
        warnings::stderr(),
    )?));
    #[cfg(not(any(feature = "otlp-grpc", feature = "otlp-http")))]
    Err(missing_feature(settings.protocol))
}

/// The exporter of signal `S`, warning to `sink`.
#[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
#[cfg_attr(not(all(feature = "otlp-grpc", feature = "otlp-http")), allow(unused_variables))]
fn exporter<S: encode::Signal>(
    settings: &OtlpSettings,
    resource: &Resource,
    sink: warnings::Sink,
) -> Result<export::Exporter<S>, InitError>
where
    Transports: Make<S>,
{
    let transport = Transports::make(settings)?;
    let warnings = warnings::Warnings::new(S::NAME, &settings.endpoint, &settings.headers, sink);
    Ok(export::Exporter::new(transport, settings.max_request_bytes, settings.timeout, warnings, resource))
}

/// A protocol whose feature this build of `traced` left out.
#[cfg_attr(all(feature = "otlp-grpc", feature = "otlp-http"), allow(dead_code))]
fn missing_feature(protocol: Protocol) -> InitError {
    let (value, feature) = match protocol {
        Protocol::Grpc => ("grpc", "otlp-grpc"),
        Protocol::HttpProtobuf => ("http/protobuf", "otlp-http"),
        Protocol::HttpJson => ("http/json", "otlp-http"),
    };
    InvalidSetting::new(
        "OTEL_EXPORTER_OTLP_PROTOCOL",
        value,
        format!("a protocol this build supports (enable the `{feature}` feature of `traced`)"),
    )
    .into()
}

/// Picks the transport of a protocol (a trait so the serde bounds of HTTP stay in one place).
#[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
struct Transports;

#[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
trait Make<S: encode::Signal> {
    fn make(settings: &OtlpSettings) -> Result<Box<dyn export::Transport<S>>, InitError>;
}

#[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
impl<S: encode::Signal> Make<S> for Transports
where
    S::Request: serde_bound::Serialize,
    S::Response: serde_bound::Deserialize,
{
    fn make(settings: &OtlpSettings) -> Result<Box<dyn export::Transport<S>>, InitError> {
        let build_error = |source: Box<dyn std::error::Error + Send + Sync>| InitError::exporter(S::NAME, &*source);
        match settings.protocol {
            #[cfg(feature = "otlp-grpc")]
            Protocol::Grpc => {
                let transport = grpc::Grpc::new(settings).map_err(|error| build_error(Box::new(error)))?;
                Ok(Box::new(transport))
            }
            #[cfg(feature = "otlp-http")]
            Protocol::HttpProtobuf | Protocol::HttpJson => {
                Ok(Box::new(http::Http::new(settings).map_err(build_error)?))
            }
            #[allow(unreachable_patterns)]
            unsupported => Err(missing_feature(unsupported)),
        }
    }
}

/// Serde bounds only where HTTP (OTLP/JSON) is compiled in.
#[cfg(feature = "otlp-http")]
mod serde_bound {
    pub(crate) trait Serialize: serde::Serialize {}
    impl<T: serde::Serialize> Serialize for T {}
    pub(crate) trait Deserialize: serde::de::DeserializeOwned {}
    impl<T: serde::de::DeserializeOwned> Deserialize for T {}
}

#[cfg(all(feature = "otlp-grpc", not(feature = "otlp-http")))]
mod serde_bound {
    pub(crate) trait Serialize {}
    impl<T> Serialize for T {}
    pub(crate) trait Deserialize {}
    impl<T> Deserialize for T {}
}
