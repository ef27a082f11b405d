//! OTLP exporters built from [`OtlpSettings`], every value passed explicitly so the result is the one
//! `settings.rs` computed.
//!
//! gRPC exporters are built and driven inside the guard's [`ExportRuntime`]; HTTP exporters use the
//! blocking reqwest client, which is right on the SDK's processor threads. A protocol whose feature
//! is off (`otlp-grpc`, `otlp-http`) is an error naming the feature.

use std::time::Duration;

use opentelemetry_sdk::metrics::MeterProviderBuilder;

use super::error::{InitError, InvalidSetting};
use super::export_runtime::ExportRuntime;
use super::log_queue::{CountedLogBatch, LogQueue};
use super::settings::{OtlpSettings, Protocol};
use super::span_queue::{CountedBatch, SpanQueue};

#[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
fn build_error(signal: &'static str) -> impl FnOnce(opentelemetry_otlp::ExporterBuildError) -> InitError {
    move |error| InitError::Exporter { signal, source: Box::new(error) }
}

#[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
fn warn_once<E>(exporter: E, signal: &'static str, settings: &OtlpSettings) -> super::warn_once::WarnOnce<E> {
    super::warn_once::WarnOnce::new(exporter, signal, &settings.endpoint)
}

/// The (counted) batch span processor exporting over OTLP.
#[cfg_attr(not(all(feature = "otlp-grpc", feature = "otlp-http")), allow(unused_variables, dead_code))]
pub(crate) fn span_processor(
    settings: &OtlpSettings,
    runtime: &mut Option<ExportRuntime>,
    queue: &SpanQueue,
) -> Result<CountedBatch, InitError> {
    const SIGNAL: &str = "traces";
    match settings.protocol {
        #[cfg(feature = "otlp-grpc")]
        Protocol::Grpc => {
            let builder =
                || grpc::configure(opentelemetry_otlp::SpanExporter::builder().with_tonic(), settings).build();
            let exporter = grpc::exporter(runtime, SIGNAL, builder)?;
            Ok(queue.processor("otlp", warn_once(exporter, SIGNAL, settings)))
        }
        #[cfg(feature = "otlp-http")]
        Protocol::HttpProtobuf | Protocol::HttpJson => {
            let builder = http::configure(opentelemetry_otlp::SpanExporter::builder().with_http(), settings);
            let exporter = builder.build().map_err(build_error(SIGNAL))?;
            Ok(queue.processor("otlp", warn_once(exporter, SIGNAL, settings)))
        }
        #[allow(unreachable_patterns)]
        unsupported => Err(missing_feature(unsupported)),
    }
}

/// The (counted) batch log processor exporting over OTLP.
#[cfg_attr(not(all(feature = "otlp-grpc", feature = "otlp-http")), allow(unused_variables, dead_code))]
pub(crate) fn log_processor(
    settings: &OtlpSettings,
    runtime: &mut Option<ExportRuntime>,
    queue: &LogQueue,
) -> Result<CountedLogBatch, InitError> {
    const SIGNAL: &str = "logs";
    match settings.protocol {
        #[cfg(feature = "otlp-grpc")]
        Protocol::Grpc => {
            let builder = || grpc::configure(opentelemetry_otlp::LogExporter::builder().with_tonic(), settings).build();
            let exporter = grpc::exporter(runtime, SIGNAL, builder)?;
            Ok(queue.processor("otlp", warn_once(exporter, SIGNAL, settings)))
        }
        #[cfg(feature = "otlp-http")]
        Protocol::HttpProtobuf | Protocol::HttpJson => {
            let builder = http::configure(opentelemetry_otlp::LogExporter::builder().with_http(), settings);
            let exporter = builder.build().map_err(build_error(SIGNAL))?;
            Ok(queue.processor("otlp", warn_once(exporter, SIGNAL, settings)))
        }
        #[allow(unreachable_patterns)]
        unsupported => Err(missing_feature(unsupported)),
    }
}

/// Adds a periodic reader exporting over OTLP every `interval`.
#[cfg_attr(not(all(feature = "otlp-grpc", feature = "otlp-http")), allow(unused_variables, dead_code))]
pub(crate) fn add_metric_reader(
    builder: MeterProviderBuilder,
    settings: &OtlpSettings,
    runtime: &mut Option<ExportRuntime>,
    interval: Duration,
) -> Result<MeterProviderBuilder, InitError> {
    #[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
    use opentelemetry_sdk::metrics::PeriodicReader;
    const SIGNAL: &str = "metrics";
    match settings.protocol {
        #[cfg(feature = "otlp-grpc")]
        Protocol::Grpc => {
            let exporter_builder =
                || grpc::configure(opentelemetry_otlp::MetricExporter::builder().with_tonic(), settings).build();
            let exporter = grpc::exporter(runtime, SIGNAL, exporter_builder)?;
            Ok(builder.with_reader(
                PeriodicReader::builder(warn_once(exporter, SIGNAL, settings)).with_interval(interval).build(),
            ))
        }
        #[cfg(feature = "otlp-http")]
        Protocol::HttpProtobuf | Protocol::HttpJson => {
            let exporter_builder = http::configure(opentelemetry_otlp::MetricExporter::builder().with_http(), settings);
            let exporter = exporter_builder.build().map_err(build_error(SIGNAL))?;
            Ok(builder.with_reader(
                PeriodicReader::builder(warn_once(exporter, SIGNAL, settings)).with_interval(interval).build(),
            ))
        }
        #[allow(unreachable_patterns)]
        unsupported => Err(missing_feature(unsupported)),
    }
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

#[cfg(feature = "otlp-grpc")]
mod grpc {
    use opentelemetry_otlp::{WithExportConfig, WithTonicConfig};
    use tonic::metadata::{MetadataKey, MetadataMap, MetadataValue};
    use tonic::transport::ClientTlsConfig;

    use super::super::export_runtime::{ExportRuntime, InRuntime};
    use super::super::settings::{Compression, OtlpSettings};
    use super::InitError;

    /// Builds an exporter inside the guard's runtime, starting the runtime on first use.
    pub(super) fn exporter<E>(
        runtime: &mut Option<ExportRuntime>,
        signal: &'static str,
        build: impl FnOnce() -> Result<E, opentelemetry_otlp::ExporterBuildError>,
    ) -> Result<InRuntime<E>, InitError> {
        if runtime.is_none() {
            *runtime = Some(ExportRuntime::start().map_err(InitError::Runtime)?);
        }
        let handle = runtime
            .as_ref()
            .and_then(ExportRuntime::handle)
            .ok_or_else(|| InitError::Runtime(std::io::Error::other("the exporter runtime is already shut down")))?;
        InRuntime::build(handle, build).map_err(super::build_error(signal))
    }

    pub(super) fn configure<B: WithExportConfig + WithTonicConfig>(builder: B, settings: &OtlpSettings) -> B {
        let mut metadata = MetadataMap::new();
        for (key, value) in &settings.headers {
            // Checked as HTTP headers in settings.rs; gRPC metadata keys are the same set, lowercased.
            let key = MetadataKey::from_bytes(key.to_ascii_lowercase().as_bytes());
            if let (Ok(key), Ok(value)) = (key, MetadataValue::try_from(value.as_str())) {
                metadata.insert(key, value);
            }
        }
        let mut builder =
            builder.with_endpoint(&settings.endpoint).with_timeout(settings.timeout).with_metadata(metadata);
        if settings.endpoint.starts_with("https://") {
            builder = builder.with_tls_config(ClientTlsConfig::new().with_native_roots().with_webpki_roots());
        }
        match settings.compression {
            Some(Compression::Gzip) => builder.with_compression(opentelemetry_otlp::Compression::Gzip),
            None => builder,
        }
    }
}

#[cfg(feature = "otlp-http")]
mod http {
    use std::collections::HashMap;

    use opentelemetry_otlp::{WithExportConfig, WithHttpConfig};

    use super::super::settings::{Compression, OtlpSettings, Protocol};

    pub(super) fn configure<B: WithExportConfig + WithHttpConfig>(builder: B, settings: &OtlpSettings) -> B {
        let protocol = match settings.protocol {
            Protocol::HttpJson => opentelemetry_otlp::Protocol::HttpJson,
            _ => opentelemetry_otlp::Protocol::HttpBinary,
        };
        let headers: HashMap<String, String> = settings.headers.iter().cloned().collect();
        let builder = builder
            .with_endpoint(&settings.endpoint)
            .with_protocol(protocol)
            .with_timeout(settings.timeout)
            .with_headers(headers);
        match settings.compression {
            Some(Compression::Gzip) => builder.with_compression(opentelemetry_otlp::Compression::Gzip),
            None => builder,
        }
    }
}
