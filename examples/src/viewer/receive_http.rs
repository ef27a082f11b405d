//! OTLP/HTTP in: `POST /v1/{traces,metrics,logs}` with `application/x-protobuf` or `application/json` bodies,
//! gzip or not. Bodies are capped at [`MAX_REQUEST_BYTES`] as sent and once decompressed (413), and at
//! [`MAX_DECODED_BYTES`](super::MAX_DECODED_BYTES) once decoded, estimated before decoding (413 too); another
//! media type gets 415, an undecodable body 400. Refusals carry a `google.rpc.Status` in the request's encoding, as
//! the OTLP/HTTP specification asks (413 and 400 are not retried by OTLP clients). At most [`MAX_REQUESTS_IN_FLIGHT`](super::MAX_REQUESTS_IN_FLIGHT) requests are read and
//! decoded at once, with the gRPC door's.

use std::future::Future;
use std::io::Read;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;
use tokio::sync::Semaphore;

use super::decode_budget::Refusal;
use super::signal::{self, Encoding, Signal};
use super::store::Store;
use super::MAX_REQUEST_BYTES;

/// `google.rpc.Status`, the body of an OTLP/HTTP error answer.
#[derive(Clone, PartialEq, prost::Message, serde::Serialize)]
struct RpcStatus {
    #[prost(int32, tag = "1")]
    code: i32,
    #[prost(string, tag = "2")]
    message: String,
}

pub fn router(store: Arc<Store>, intake: Arc<Semaphore>) -> Router {
    Router::new()
        .route("/v1/{signal}", post(export))
        // Room for the largest accepted body; `DefaultBodyLimit` answers 413 past it.
        .layer(DefaultBodyLimit::max(MAX_REQUEST_BYTES))
        // Outermost: the body is read only with a permit, shared with the gRPC door.
        .layer(middleware::from_fn_with_state(intake, in_turn))
        .with_state(store)
}

/// Runs the request (reading its body, decoding, storing) holding one of the intake's permits.
async fn in_turn(State(intake): State<Arc<Semaphore>>, request: Request, next: Next) -> Response {
    match intake.acquire_owned().await {
        Ok(_permit) => next.run(request).await,
        Err(closed) => (StatusCode::SERVICE_UNAVAILABLE, closed.to_string()).into_response(),
    }
}

pub async fn serve(
    listener: tokio::net::TcpListener,
    store: Arc<Store>,
    intake: Arc<Semaphore>,
    stopped: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(store, intake)).with_graceful_shutdown(stopped).await
}

async fn export(
    State(store): State<Arc<Store>>,
    Path(signal): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !matches!(signal.as_str(), "traces" | "metrics" | "logs") {
        return StatusCode::NOT_FOUND.into_response();
    }
    let media_type = headers.get(header::CONTENT_TYPE).and_then(|value| value.to_str().ok()).unwrap_or("");
    let encoding = match media_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase().as_str() {
        "application/x-protobuf" => Encoding::Protobuf,
        "application/json" => Encoding::Json,
        _ => {
            let message = "content-type must be application/x-protobuf or application/json";
            return (StatusCode::UNSUPPORTED_MEDIA_TYPE, message).into_response();
        }
    };
    // Inflating, decoding and storing up to 16 MiB is CPU work: a blocking thread does it.
    let work = move || match decompress(&headers, &body) {
        Ok(body) => store_body(&signal, &body, encoding, &store),
        Err((status, message)) => error(status, message, encoding),
    };
    match tokio::task::spawn_blocking(work).await {
        Ok(response) => response,
        Err(failed) => (StatusCode::INTERNAL_SERVER_ERROR, failed.to_string()).into_response(),
    }
}

/// Decodes `body` as the export request of `signal`, stores it, and answers in the request's encoding.
fn store_body(signal: &str, body: &[u8], encoding: Encoding, store: &Store) -> Response {
    match signal {
        "traces" => store_request::<ExportTraceServiceRequest>(body, encoding, store),
        "metrics" => store_request::<ExportMetricsServiceRequest>(body, encoding, store),
        _ => store_request::<ExportLogsServiceRequest>(body, encoding, store),
    }
}

fn store_request<S: Signal>(body: &[u8], encoding: Encoding, store: &Store) -> Response {
    match signal::decode::<S>(body, encoding) {
        Ok(request) => answer(request.store(store), encoding),
        Err(refusal @ Refusal::TooLarge { .. }) => error(StatusCode::PAYLOAD_TOO_LARGE, refusal.to_string(), encoding),
        Err(Refusal::Malformed(reason)) => error(StatusCode::BAD_REQUEST, reason, encoding),
    }
}

/// The body as sent, or gunzipped with the same cap on what it grows to.
fn decompress(headers: &HeaderMap, body: &Bytes) -> Result<Bytes, (StatusCode, String)> {
    match headers.get(header::CONTENT_ENCODING).and_then(|value| value.to_str().ok()) {
        None | Some("identity") => Ok(body.clone()),
        Some("gzip") => {
            let mut decoded = Vec::new();
            let limit = u64::try_from(MAX_REQUEST_BYTES).unwrap_or(u64::MAX) + 1;
            flate2::read::GzDecoder::new(&body[..])
                .take(limit)
                .read_to_end(&mut decoded)
                .map_err(|error| (StatusCode::BAD_REQUEST, format!("bad gzip body: {error}")))?;
            if decoded.len() > MAX_REQUEST_BYTES {
                return Err((
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!("the decompressed body exceeds {MAX_REQUEST_BYTES} bytes"),
                ));
            }
            Ok(Bytes::from(decoded))
        }
        Some(other) => Err((StatusCode::UNSUPPORTED_MEDIA_TYPE, format!("unsupported content-encoding {other}"))),
    }
}

/// The answer in the request's encoding.
fn answer<T: Message + serde::Serialize>(response: T, encoding: Encoding) -> Response {
    match encoding {
        Encoding::Json => match serde_json::to_vec(&response) {
            Ok(body) => ([(header::CONTENT_TYPE, "application/json")], body).into_response(),
            Err(error) => (StatusCode::INTERNAL_SERVER_ERROR, error.to_string()).into_response(),
        },
        Encoding::Protobuf => {
            ([(header::CONTENT_TYPE, "application/x-protobuf")], response.encode_to_vec()).into_response()
        }
    }
}

fn error(status: StatusCode, message: String, encoding: Encoding) -> Response {
    // gRPC's INVALID_ARGUMENT (3) for a bad body, RESOURCE_EXHAUSTED (8) for a large one, UNIMPLEMENTED (12) else.
    let code = match status {
        StatusCode::BAD_REQUEST => 3,
        StatusCode::PAYLOAD_TOO_LARGE => 8,
        _ => 12,
    };
    let mut response = answer(RpcStatus { code, message }, encoding);
    *response.status_mut() = status;
    response
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;

    use axum::body::Body;
    use tower::ServiceExt as _;

    use super::*;

    async fn post(content_type: &str, encoding: Option<&str>, body: Vec<u8>) -> (StatusCode, Vec<u8>, Arc<Store>) {
        let store = Arc::new(Store::default());
        let mut request = axum::http::Request::post("/v1/traces").header(header::CONTENT_TYPE, content_type);
        if let Some(encoding) = encoding {
            request = request.header(header::CONTENT_ENCODING, encoding);
        }
        let intake = Arc::new(Semaphore::new(super::super::MAX_REQUESTS_IN_FLIGHT));
        let response = router(Arc::clone(&store), intake)
            .oneshot(request.body(Body::from(body)).expect("a request"))
            .await
            .expect("infallible");
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.expect("a body");
        (status, bytes.to_vec(), store)
    }

    const ONE_SPAN: &str = r#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"0102030405060708090a0b0c0d0e0f10",
        "spanId":"0102030405060708","name":"GET /","kind":2,"startTimeUnixNano":"1","endTimeUnixNano":"2"}]}]}]}"#;

    #[tokio::test]
    async fn json_in_json_out() {
        let (status, body, store) = post("application/json", None, ONE_SPAN.as_bytes().to_vec()).await;
        assert_eq!(status, StatusCode::OK);
        let answer: serde_json::Value = serde_json::from_slice(&body).expect("a JSON answer");
        assert!(answer["partialSuccess"].is_null(), "full success: {answer}");
        assert_eq!(store.read().span_count, 1);
    }

    #[tokio::test]
    async fn gzip_bodies_are_inflated() {
        let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gzip.write_all(ONE_SPAN.as_bytes()).expect("compress");
        let (status, _, store) = post("application/json", Some("gzip"), gzip.finish().expect("compress")).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(store.read().span_count, 1);
    }

    #[tokio::test]
    async fn a_gzip_bomb_is_refused_with_413() {
        let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        let zeros = vec![0u8; 1024 * 1024];
        for _ in 0..=MAX_REQUEST_BYTES / zeros.len() {
            gzip.write_all(&zeros).expect("compress");
        }
        let body = gzip.finish().expect("compress");
        assert!(body.len() < 100 * 1024, "small on the wire");
        let (status, body, _) = post("application/x-protobuf", Some("gzip"), body).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(RpcStatus::decode(&body[..]).expect("a Status").code, 8);
    }

    #[tokio::test]
    async fn malformed_bodies_get_400_with_a_status() {
        let (status, body, store) = post("application/x-protobuf", None, vec![0xff, 0xff, 0xff]).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        let answer = RpcStatus::decode(&body[..]).expect("a protobuf Status");
        assert_eq!(answer.code, 3);
        assert!(answer.message.contains("protobuf"), "{}", answer.message);
        let (status, body, _) = post("application/json", None, b"{\"resourceSpans\": 7}".to_vec()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        let answer: serde_json::Value = serde_json::from_slice(&body).expect("a JSON Status");
        assert_eq!(answer["code"], 3);
        assert_eq!(store.read().span_count, 0);
    }

    #[tokio::test]
    async fn other_media_types_get_415() {
        let (status, _, _) = post("text/plain", None, ONE_SPAN.as_bytes().to_vec()).await;
        assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
        let (status, _, _) = post("application/json", Some("br"), ONE_SPAN.as_bytes().to_vec()).await;
        assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    }
}
