//! The OTLP/HTTP side: `/v1/{traces,metrics,logs}`, protobuf or JSON bodies, gzip or not.

use std::future::Future;
use std::io::Read;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use opentelemetry_proto::tonic::collector::logs::v1::{ExportLogsServiceRequest, ExportLogsServiceResponse};
use opentelemetry_proto::tonic::collector::metrics::v1::{ExportMetricsServiceRequest, ExportMetricsServiceResponse};
use opentelemetry_proto::tonic::collector::trace::v1::{ExportTraceServiceRequest, ExportTraceServiceResponse};
use prost::Message;

use super::received::{ReceivedRequest, Signal, Transport};
use super::store::{Export, Store};
use super::ReceiverOptions;
use crate::TestCertificates;

#[derive(Debug, Clone)]
struct Sink {
    store: Arc<Store>,
    options: ReceiverOptions,
}

pub(super) async fn serve(
    listener: tokio::net::TcpListener,
    store: Arc<Store>,
    options: ReceiverOptions,
    stopped: impl Future<Output = ()> + Send + 'static,
) {
    let tls = options.tls.clone();
    let app = Router::new().route("/v1/{signal}", post(export)).with_state(Sink { store, options });
    match tls {
        Some(certificates) => serve_tls(listener, app, &certificates, stopped).await,
        None => {
            if let Err(error) = axum::serve(listener, app).with_graceful_shutdown(stopped).await {
                eprintln!("OTLP/HTTP test receiver stopped: {error}");
            }
        }
    }
}

/// HTTPS: each accepted connection goes through a TLS handshake, then HTTP/1.1 to the same router.
async fn serve_tls(
    listener: tokio::net::TcpListener,
    app: Router,
    certificates: &TestCertificates,
    stopped: impl Future<Output = ()> + Send + 'static,
) {
    use tokio_rustls::rustls::pki_types::pem::PemObject as _;
    use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};

    let chain = vec![CertificateDer::from_pem_slice(certificates.server_cert_pem.as_bytes()).expect("server cert PEM")];
    let key = PrivateKeyDer::from_pem_slice(certificates.server_key_pem.as_bytes()).expect("server key PEM");
    let config = tokio_rustls::rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .expect("server TLS config");
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let mut stopped = std::pin::pin!(stopped);
    loop {
        let (stream, _) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(_) => continue,
            },
            () = &mut stopped => return,
        };
        let (acceptor, app) = (acceptor.clone(), app.clone());
        tokio::spawn(async move {
            // A client that rejects our certificate ends the handshake: nothing to serve.
            let Ok(tls) = acceptor.accept(stream).await else { return };
            let service = hyper_util::service::TowerToHyperService::new(app);
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(hyper_util::rt::TokioIo::new(tls), service)
                .await;
        });
    }
}

async fn export(State(sink): State<Sink>, Path(signal): Path<String>, headers: HeaderMap, body: Bytes) -> Response {
    if let Some(delay) = sink.options.response_delay {
        tokio::time::sleep(delay).await;
    }
    let signal = match signal.as_str() {
        "traces" => Signal::Traces,
        "metrics" => Signal::Metrics,
        "logs" => Signal::Logs,
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|value| value.to_str().ok()).map(str::to_owned);
    let json = content_type.as_deref().is_some_and(|value| value.starts_with("application/json"));
    let body = match decompress(&headers, &body) {
        Ok(body) => body,
        Err(error) => return (StatusCode::BAD_REQUEST, error).into_response(),
    };
    let decoded = match signal {
        Signal::Traces => decode::<ExportTraceServiceRequest>(&body, json).map(Export::Traces),
        Signal::Metrics => decode::<ExportMetricsServiceRequest>(&body, json).map(Export::Metrics),
        Signal::Logs => decode::<ExportLogsServiceRequest>(&body, json).map(Export::Logs),
    };
    let export = match decoded {
        Ok(export) => export,
        Err(error) => return (StatusCode::BAD_REQUEST, error).into_response(),
    };
    let received = ReceivedRequest {
        transport: Transport::Http,
        signal,
        path: format!("/v1/{}", signal_name(signal)),
        headers,
        content_type: content_type.clone(),
        items: export.items(),
    };
    sink.store.record(received, export);
    let response = match signal {
        Signal::Traces => ExportTraceServiceResponse { partial_success: None }.encode_to_vec(),
        Signal::Metrics => ExportMetricsServiceResponse { partial_success: None }.encode_to_vec(),
        Signal::Logs => ExportLogsServiceResponse { partial_success: None }.encode_to_vec(),
    };
    ([(header::CONTENT_TYPE, "application/x-protobuf")], response).into_response()
}

fn signal_name(signal: Signal) -> &'static str {
    match signal {
        Signal::Traces => "traces",
        Signal::Metrics => "metrics",
        Signal::Logs => "logs",
    }
}

fn decompress(headers: &HeaderMap, body: &[u8]) -> Result<Vec<u8>, String> {
    match headers.get(header::CONTENT_ENCODING).and_then(|value| value.to_str().ok()) {
        None | Some("identity") => Ok(body.to_vec()),
        Some("gzip") => {
            let mut decoded = Vec::new();
            flate2::read::GzDecoder::new(body)
                .read_to_end(&mut decoded)
                .map_err(|error| format!("bad gzip body: {error}"))?;
            Ok(decoded)
        }
        Some(other) => Err(format!("unsupported content-encoding {other}")),
    }
}

fn decode<T: Message + Default + serde::de::DeserializeOwned>(body: &[u8], json: bool) -> Result<T, String> {
    if json {
        serde_json::from_slice(body).map_err(|error| format!("bad OTLP/JSON body: {error}"))
    } else {
        T::decode(body).map_err(|error| format!("bad OTLP protobuf body: {error}"))
    }
}
