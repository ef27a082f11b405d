//! OTLP export.
//!
//! Our own exporters (one file per role: `encode` converts and cuts requests to the size limit,
//! `export` sends them and accounts for every item, `grpc` and `http` carry them, `classify` reads a
//! refusal, `retry` spaces the retries, `warnings` says once what went wrong) implement the
//! pipeline's [`BatchExport`](super::pipeline::delivery::BatchExport) and
//! [`MetricExport`](super::pipeline::delivery::MetricExport).
//!
//! Until they are swapped in (`providers::otlp_span_exporter` and siblings), the `sdk_*_exporter`
//! functions below still export through `opentelemetry-otlp`, behind the same contract
//! (`pipeline::sdk_export`: a batch is exported or failed as a whole, a timeout is unconfirmed):
//! every value passed explicitly so the result is the one `settings.rs` computed. gRPC exporters are
//! built and driven inside the guard's export runtime; HTTP exporters use the blocking reqwest client
//! on the runtime's blocking threads. A protocol whose feature is off (`otlp-grpc`, `otlp-http`) is an
//! error naming the feature.

// Without either OTLP feature only the "enable the feature" error is left.
#![cfg_attr(not(any(feature = "otlp-grpc", feature = "otlp-http")), allow(unused_imports))]

#[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
mod classify;
#[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
mod encode;
#[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
mod export;
#[cfg(feature = "otlp-grpc")]
#[path = "grpc.rs"]
mod grpc_transport;
#[cfg(feature = "otlp-http")]
#[path = "http.rs"]
mod http_transport;
#[cfg(all(feature = "testing", any(feature = "otlp-grpc", feature = "otlp-http")))]
pub mod probe;
#[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
mod retry;
#[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
mod warnings;

#[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
#[cfg_attr(not(feature = "testing"), allow(unused_imports))] // wired when the pipeline lands
pub(crate) use new_exporters::{log_exporter, metric_exporter, span_exporter};

use opentelemetry_sdk::logs::LogExporter;
use opentelemetry_sdk::trace::{SpanData, SpanExporter};
use opentelemetry_sdk::Resource;
use tokio::runtime::Handle;

use super::error::{InitError, InvalidSetting};
use super::pipeline::delivery::{BatchExport, LogItem, MetricExport};
use super::pipeline::sdk_export::{SdkExport, SdkMetricExport};
use super::settings::{OtlpSettings, Protocol};

#[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
fn build_error(signal: &'static str) -> impl FnOnce(opentelemetry_otlp::ExporterBuildError) -> InitError {
    move |error| InitError::Exporter { signal, source: Box::new(error) }
}

#[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
fn warn_once<E>(exporter: E, signal: &'static str, settings: &OtlpSettings) -> super::warn_once::WarnOnce<E> {
    super::warn_once::WarnOnce::new(exporter, signal, &settings.endpoint)
}

/// The `opentelemetry-otlp` span exporter.
#[cfg_attr(not(all(feature = "otlp-grpc", feature = "otlp-http")), allow(unused_variables, dead_code))]
pub(crate) fn sdk_span_exporter(
    settings: &OtlpSettings,
    runtime: &Handle,
    resource: &Resource,
) -> Result<Box<dyn BatchExport<SpanData>>, InitError> {
    const SIGNAL: &str = "traces";
    fn boxed<E: SpanExporter + 'static>(mut exporter: E, resource: &Resource) -> Box<dyn BatchExport<SpanData>> {
        exporter.set_resource(resource);
        Box::new(SdkExport::new(exporter))
    }
    match settings.protocol {
        #[cfg(feature = "otlp-grpc")]
        Protocol::Grpc => {
            let builder =
                || grpc::configure(opentelemetry_otlp::SpanExporter::builder().with_tonic(), settings).build();
            let exporter = grpc::exporter(runtime, SIGNAL, builder)?;
            Ok(boxed(warn_once(exporter, SIGNAL, settings), resource))
        }
        #[cfg(feature = "otlp-http")]
        Protocol::HttpProtobuf | Protocol::HttpJson => {
            let builder = http::configure(opentelemetry_otlp::SpanExporter::builder().with_http(), settings);
            let exporter = builder.build().map_err(build_error(SIGNAL))?;
            Ok(boxed(warn_once(exporter, SIGNAL, settings), resource))
        }
        #[allow(unreachable_patterns)]
        unsupported => Err(missing_feature(unsupported)),
    }
}

/// The `opentelemetry-otlp` log exporter.
#[cfg_attr(not(all(feature = "otlp-grpc", feature = "otlp-http")), allow(unused_variables, dead_code))]
pub(crate) fn sdk_log_exporter(
    settings: &OtlpSettings,
    runtime: &Handle,
    resource: &Resource,
) -> Result<Box<dyn BatchExport<LogItem>>, InitError> {
    const SIGNAL: &str = "logs";
    fn boxed<E: LogExporter + 'static>(mut exporter: E, resource: &Resource) -> Box<dyn BatchExport<LogItem>> {
        exporter.set_resource(resource);
        Box::new(SdkExport::new(exporter))
    }
    match settings.protocol {
        #[cfg(feature = "otlp-grpc")]
        Protocol::Grpc => {
            let builder = || grpc::configure(opentelemetry_otlp::LogExporter::builder().with_tonic(), settings).build();
            let exporter = grpc::exporter(runtime, SIGNAL, builder)?;
            Ok(boxed(warn_once(exporter, SIGNAL, settings), resource))
        }
        #[cfg(feature = "otlp-http")]
        Protocol::HttpProtobuf | Protocol::HttpJson => {
            let builder = http::configure(opentelemetry_otlp::LogExporter::builder().with_http(), settings);
            let exporter = builder.build().map_err(build_error(SIGNAL))?;
            Ok(boxed(warn_once(exporter, SIGNAL, settings), resource))
        }
        #[allow(unreachable_patterns)]
        unsupported => Err(missing_feature(unsupported)),
    }
}

/// The `opentelemetry-otlp` metric exporter.
#[cfg_attr(not(all(feature = "otlp-grpc", feature = "otlp-http")), allow(unused_variables, dead_code))]
pub(crate) fn sdk_metric_exporter(
    settings: &OtlpSettings,
    runtime: &Handle,
) -> Result<Box<dyn MetricExport>, InitError> {
    const SIGNAL: &str = "metrics";
    match settings.protocol {
        #[cfg(feature = "otlp-grpc")]
        Protocol::Grpc => {
            let builder =
                || grpc::configure(opentelemetry_otlp::MetricExporter::builder().with_tonic(), settings).build();
            let exporter = grpc::exporter(runtime, SIGNAL, builder)?;
            Ok(Box::new(SdkMetricExport(warn_once(exporter, SIGNAL, settings))))
        }
        #[cfg(feature = "otlp-http")]
        Protocol::HttpProtobuf | Protocol::HttpJson => {
            let builder = http::configure(opentelemetry_otlp::MetricExporter::builder().with_http(), settings);
            let exporter = builder.build().map_err(build_error(SIGNAL))?;
            Ok(Box::new(SdkMetricExport(warn_once(exporter, SIGNAL, settings))))
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

    use tokio::runtime::Handle;

    use super::super::export_runtime::InRuntime;
    use super::super::settings::{Compression, OtlpSettings};
    use super::InitError;

    /// Builds an exporter inside the guard's runtime.
    pub(super) fn exporter<E>(
        runtime: &Handle,
        signal: &'static str,
        build: impl FnOnce() -> Result<E, opentelemetry_otlp::ExporterBuildError>,
    ) -> Result<InRuntime<E>, InitError> {
        InRuntime::build(runtime.clone(), build).map_err(super::build_error(signal))
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

/// `User-Agent` of every export, like other SDKs' `OTel-OTLP-Exporter-<language>/<version>`.
#[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
const USER_AGENT: &str = concat!("traced/", env!("CARGO_PKG_VERSION"));

/// Builders of our own exporters from [`OtlpSettings`] and the provider's resource.
#[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
#[cfg_attr(not(feature = "testing"), allow(dead_code))] // wired when the pipeline lands
mod new_exporters {
    use opentelemetry_sdk::Resource;

    use super::encode::{Logs, Metrics, Signal, Traces};
    use super::export::{Exporter, Transport};
    use super::warnings::{Sink, Warnings};
    use super::{missing_feature, InitError, OtlpSettings, Protocol};

    /// The span exporter for `settings`; warnings go to `sink` (stderr outside tests).
    pub(crate) fn span_exporter(
        settings: &OtlpSettings,
        resource: &Resource,
        sink: Sink,
    ) -> Result<Exporter<Traces>, InitError> {
        exporter(settings, resource, sink)
    }

    pub(crate) fn log_exporter(
        settings: &OtlpSettings,
        resource: &Resource,
        sink: Sink,
    ) -> Result<Exporter<Logs>, InitError> {
        exporter(settings, resource, sink)
    }

    pub(crate) fn metric_exporter(
        settings: &OtlpSettings,
        resource: &Resource,
        sink: Sink,
    ) -> Result<Exporter<Metrics>, InitError> {
        exporter(settings, resource, sink)
    }

    #[cfg_attr(not(all(feature = "otlp-grpc", feature = "otlp-http")), allow(unused_variables))]
    fn exporter<S: Signal>(settings: &OtlpSettings, resource: &Resource, sink: Sink) -> Result<Exporter<S>, InitError>
    where
        Transports: Make<S>,
    {
        let transport = Transports::make(settings)?;
        let warnings = Warnings::new(S::NAME, &settings.endpoint, sink);
        Ok(Exporter::new(transport, settings.max_request_bytes, warnings, resource))
    }

    /// Picks the transport of a protocol (a trait so the serde bounds of HTTP stay in one place).
    pub(crate) struct Transports;

    pub(crate) trait Make<S: Signal> {
        fn make(settings: &OtlpSettings) -> Result<Box<dyn Transport<S>>, InitError>;
    }

    impl<S: Signal> Make<S> for Transports
    where
        S::Request: serde_bound::Serialize,
        S::Response: serde_bound::Deserialize,
    {
        fn make(settings: &OtlpSettings) -> Result<Box<dyn Transport<S>>, InitError> {
            let build_error = |source| InitError::Exporter { signal: S::NAME, source };
            match settings.protocol {
                #[cfg(feature = "otlp-grpc")]
                Protocol::Grpc => {
                    let transport = super::grpc_transport::Grpc::new(settings).map_err(|e| build_error(Box::new(e)))?;
                    Ok(Box::new(transport))
                }
                #[cfg(feature = "otlp-http")]
                Protocol::HttpProtobuf | Protocol::HttpJson => {
                    Ok(Box::new(super::http_transport::Http::new(settings).map_err(build_error)?))
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

    #[cfg(not(feature = "otlp-http"))]
    mod serde_bound {
        pub(crate) trait Serialize {}
        impl<T> Serialize for T {}
        pub(crate) trait Deserialize {}
        impl<T> Deserialize for T {}
    }
}
