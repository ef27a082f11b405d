//! The OTLP/HTTP side: `/v1/{traces,metrics,logs}`, protobuf or JSON bodies, gzip or not.

use std::future::Future;
use std::io::Read;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsPartialSuccess, ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsPartialSuccess, ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use prost::Message;

use super::faults::{Answer, Faults};
use super::received::{ReceivedRequest, Signal, Transport};
use super::store::{Export, Store};
use super::ReceiverOptions;
use crate::TestCertificates;

#[derive(Debug, Clone)]
struct Sink {
    store: Arc<Store>,
    options: ReceiverOptions,
    faults: Arc<Faults>,
}

/// Way above any test's request: the fault options decide what is too large.
const BODY_LIMIT: usize = 256 * 1024 * 1024;

pub(super) async fn serve(
    listener: tokio::net::TcpListener,
    store: Arc<Store>,
    options: ReceiverOptions,
    stopped: impl Future<Output = ()> + Send + 'static,
) {
    let tls = options.tls.clone();
    let faults = Arc::new(Faults::new(options.faults.clone()));
    let app = Router::new()
        .route("/v1/{signal}", post(export))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(Sink { store, options, faults });
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
    let rejected = match sink.faults.judge(body.len(), export.items()) {
        Answer::Accept { rejected } => rejected,
        refusal => {
            sink.store.refuse(signal, export.items());
            return refused(refusal, sink.faults.retry_after(), sink.faults.refusal_message(&headers));
        }
    };
    let received = ReceivedRequest {
        transport: Transport::Http,
        signal,
        path: format!("/v1/{}", signal_name(signal)),
        headers,
        content_type: content_type.clone(),
        items: export.items(),
    };
    sink.store.record_partial(received, export, rejected);
    let error_message = if rejected > 0 { format!("test receiver rejects {rejected}") } else { String::new() };
    let partial = rejected > 0;
    match signal {
        Signal::Traces => answer(
            ExportTraceServiceResponse {
                partial_success: partial
                    .then_some(ExportTracePartialSuccess { rejected_spans: rejected, error_message }),
            },
            json,
        ),
        Signal::Metrics => answer(
            ExportMetricsServiceResponse {
                partial_success: partial
                    .then_some(ExportMetricsPartialSuccess { rejected_data_points: rejected, error_message }),
            },
            json,
        ),
        Signal::Logs => answer(
            ExportLogsServiceResponse {
                partial_success: partial
                    .then_some(ExportLogsPartialSuccess { rejected_log_records: rejected, error_message }),
            },
            json,
        ),
    }
}

/// The answer in the request's encoding, as the OTLP/HTTP specification asks.
fn answer<T: Message + serde::Serialize>(response: T, json: bool) -> Response {
    if json {
        let body = serde_json::to_vec(&response).expect("a response serializes");
        ([(header::CONTENT_TYPE, "application/json")], body).into_response()
    } else {
        ([(header::CONTENT_TYPE, "application/x-protobuf")], response.encode_to_vec()).into_response()
    }
}

fn refused(answer: Answer, retry_after: Option<std::time::Duration>, refusal: String) -> Response {
    match answer {
        Answer::Unavailable => {
            let mut response = (StatusCode::SERVICE_UNAVAILABLE, "test receiver is unavailable").into_response();
            if let Some(delay) = retry_after {
                let value = header::HeaderValue::from(delay.as_secs());
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
            response
        }
        Answer::TooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "request entity too large").into_response(),
        Answer::Refuse(code) => {
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::BAD_REQUEST);
            let mut response = (status, refusal).into_response();
            if status.is_redirection() {
                // Back to itself: a client that follows redirects comes again.
                response.headers_mut().insert(header::LOCATION, header::HeaderValue::from_static("/v1/traces"));
            }
            response
        }
        Answer::Accept { .. } => StatusCode::OK.into_response(),
    }
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
