//! OTLP exporters built from [`OtlpSettings`], every value passed explicitly so the result is the one
//! `settings.rs` computed.
//!
//! gRPC exporters are built and driven inside the guard's [`ExportRuntime`]; HTTP exporters use the
//! blocking reqwest client, which is right on the SDK's processor threads.

use std::time::Duration;

use opentelemetry_sdk::logs::BatchLogProcessor;
use opentelemetry_sdk::metrics::{MeterProviderBuilder, PeriodicReader};
use opentelemetry_sdk::trace::{BatchConfig, BatchSpanProcessor};

use super::error::{InitError, InvalidSetting};
use super::export_runtime::ExportRuntime;
use super::settings::{OtlpSettings, Protocol};
use super::warn_once::WarnOnce;

fn build_error(signal: &'static str) -> impl FnOnce(opentelemetry_otlp::ExporterBuildError) -> InitError {
    move |error| InitError::Exporter { signal, source: Box::new(error) }
}

/// The batch span processor exporting over OTLP.
pub(crate) fn span_processor(
    settings: &OtlpSettings,
    runtime: &mut Option<ExportRuntime>,
    batch: BatchConfig,
) -> Result<BatchSpanProcessor, InitError> {
    use opentelemetry_otlp::SpanExporter;
    let error = || build_error("traces");
    let processor = match settings.protocol {
        #[cfg(feature = "otlp-grpc")]
        Protocol::Grpc => {
            let exporter = grpc::in_runtime(runtime, || grpc::configure(SpanExporter::builder().with_tonic(), settings).build())?;
            BatchSpanProcessor::builder(WarnOnce::new(exporter.map_err(error())?, "traces", &settings.endpoint)).with_batch_config(batch).build()
        }
        #[cfg(feature = "otlp-http")]
        Protocol::HttpProtobuf | Protocol::HttpJson => {
            let exporter = http::configure(SpanExporter::builder().with_http(), settings).build().map_err(error())?;
            BatchSpanProcessor::builder(WarnOnce::new(exporter, "traces", &settings.endpoint)).with_batch_config(batch).build()
        }
        #[allow(unreachable_patterns)]
        unsupported => return Err(missing_feature(unsupported)),
    };
    Ok(processor)
}

/// The batch log processor exporting over OTLP.
pub(crate) fn log_processor(settings: &OtlpSettings, runtime: &mut Option<ExportRuntime>) -> Result<BatchLogProcessor, InitError> {
    use opentelemetry_otlp::LogExporter;
    let error = || build_error("logs");
    Ok(match settings.protocol {
        #[cfg(feature = "otlp-grpc")]
        Protocol::Grpc => {
            let exporter = grpc::in_runtime(runtime, || grpc::configure(LogExporter::builder().with_tonic(), settings).build())?;
            BatchLogProcessor::builder(WarnOnce::new(exporter.map_err(error())?, "logs", &settings.endpoint)).build()
        }
        #[cfg(feature = "otlp-http")]
        Protocol::HttpProtobuf | Protocol::HttpJson => {
            let exporter = http::configure(LogExporter::builder().with_http(), settings).build().map_err(error())?;
            BatchLogProcessor::builder(WarnOnce::new(exporter, "logs", &settings.endpoint)).build()
        }
        #[allow(unreachable_patterns)]
        unsupported => return Err(missing_feature(unsupported)),
    })
}

/// Adds a periodic reader exporting over OTLP every `interval`.
pub(crate) fn add_metric_reader(
    builder: MeterProviderBuilder,
    settings: &OtlpSettings,
    runtime: &mut Option<ExportRuntime>,
    interval: Duration,
) -> Result<MeterProviderBuilder, InitError> {
    use opentelemetry_otlp::MetricExporter;
    let error = || build_error("metrics");
    Ok(match settings.protocol {
        #[cfg(feature = "otlp-grpc")]
        Protocol::Grpc => {
            let exporter = grpc::in_runtime(runtime, || grpc::configure(MetricExporter::builder().with_tonic(), settings).build())?;
            builder.with_reader(PeriodicReader::builder(WarnOnce::new(exporter.map_err(error())?, "metrics", &settings.endpoint)).with_interval(interval).build())
        }
        #[cfg(feature = "otlp-http")]
        Protocol::HttpProtobuf | Protocol::HttpJson => {
            let exporter = http::configure(MetricExporter::builder().with_http(), settings).build().map_err(error())?;
            builder.with_reader(PeriodicReader::builder(WarnOnce::new(exporter, "metrics", &settings.endpoint)).with_interval(interval).build())
        }
        #[allow(unreachable_patterns)]
        unsupported => return Err(missing_feature(unsupported)),
    })
}

/// A protocol whose feature this build of `traced` left out.
#[allow(dead_code)]
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

    /// Builds an exporter inside the guard's runtime, starting it on first use.
    pub(super) fn in_runtime<E, Err>(
        runtime: &mut Option<ExportRuntime>,
        build: impl FnOnce() -> Result<E, Err>,
    ) -> Result<Result<InRuntime<E>, Err>, InitError> {
        if runtime.is_none() {
            *runtime = Some(ExportRuntime::start().map_err(InitError::Runtime)?);
        }
        let handle = runtime.as_ref().and_then(ExportRuntime::handle).ok_or_else(|| {
            InitError::Runtime(std::io::Error::other("the exporter runtime is already shut down"))
        })?;
        Ok(InRuntime::build(handle, build))
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
        let mut builder = builder.with_endpoint(&settings.endpoint).with_timeout(settings.timeout).with_metadata(metadata);
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

