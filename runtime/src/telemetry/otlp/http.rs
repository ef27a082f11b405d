//! OTLP/HTTP: http/protobuf or http/json bodies, gzip-compressed once per request when asked, sent
//! with an async reqwest client (rustls; the platform verifier reads the system roots and
//! `SSL_CERT_FILE`).

use std::io::Write;

use bytes::Bytes;
use futures_util::future::BoxFuture;
use http::header::{HeaderMap, HeaderName, HeaderValue, CONTENT_ENCODING, CONTENT_TYPE, RETRY_AFTER};
use prost::Message;

use super::super::settings::{Compression, OtlpSettings, Protocol};
use super::classify;
use super::encode::Signal;
use super::export::{Attempt, Encoded, Transport};
use super::USER_AGENT;

/// A collector's answer body is read up to this size (an answer is a few bytes; a hostile collector
/// does not make us buffer more).
const MAX_ANSWER: usize = 64 * 1024;

/// How long the body of a refusal (a status other than 2xx) is read at most.
const REFUSAL_READ: std::time::Duration = std::time::Duration::from_secs(1);

/// An HTTP client of one signal's endpoint.
#[derive(Debug)]
pub(super) struct Http {
    client: reqwest::Client,
    url: reqwest::Url,
    headers: HeaderMap,
    json: bool,
    gzip: bool,
}

impl Http {
    pub(super) fn new(settings: &OtlpSettings) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        let url = reqwest::Url::parse(&settings.endpoint).map_err(|_| "the endpoint is not a valid URL")?;
        // No redirects: a collector's 3xx is a refusal, so the headers (API keys) never go to another host.
        let client = reqwest::Client::builder()
            .user_agent(USER_AGENT)
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(super::connect_timeout(settings))
            .build()
            .map_err(reqwest::Error::without_url)?;
        let json = settings.protocol == Protocol::HttpJson;
        let mut headers = HeaderMap::new();
        for (key, value) in &settings.headers {
            // Checked as HTTP headers in settings.rs.
            if let (Ok(key), Ok(mut value)) = (HeaderName::from_bytes(key.as_bytes()), HeaderValue::from_str(value)) {
                value.set_sensitive(true);
                headers.insert(key, value);
            }
        }
        let content_type = if json { "application/json" } else { "application/x-protobuf" };
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
        let gzip = settings.compression == Some(Compression::Gzip);
        if gzip {
            headers.insert(CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        }
        Ok(Self { client, url, headers, json, gzip })
    }

    async fn post(&self, body: Bytes) -> Attempt {
        let request = self.client.post(self.url.clone()).headers(self.headers.clone()).body(body);
        let mut response = match request.send().await {
            Ok(response) => response,
            Err(error) if error.is_connect() => return Attempt::Unreachable(chain(error)),
            Err(error) => return Attempt::Broken(chain(error)),
        };
        let status = response.status();
        let retry_after = classify::retry_after(response.headers().get(RETRY_AFTER));
        let content_type = response.headers().get(CONTENT_TYPE).and_then(|value| value.to_str().ok());
        let json = content_type.is_some_and(|value| value.starts_with("application/json"));
        let protobuf = content_type.is_some_and(|value| value.starts_with("application/x-protobuf"));
        let mut answer = Vec::new();
        let read = async {
            while answer.len() < MAX_ANSWER {
                match response.chunk().await {
                    Ok(Some(chunk)) => answer.extend_from_slice(&chunk[..chunk.len().min(MAX_ANSWER - answer.len())]),
                    // The status is what counts; a body cut short only loses the partial-success detail.
                    Ok(None) | Err(_) => break,
                }
            }
        };
        if status.is_success() {
            read.await;
            Attempt::Answered { body: Bytes::from(answer), json }
        } else {
            // A refusal's body only explains it: a stalled one must not hold the retry until the deadline.
            let _ = tokio::time::timeout(REFUSAL_READ, read).await;
            Attempt::Refused { verdict: classify::http(status, retry_after), message: refusal(&answer, json, protobuf) }
        }
    }
}

/// The message of a `google.rpc.Status`, what an OTLP/HTTP collector's refusal carries.
#[derive(Clone, PartialEq, prost::Message, serde::Deserialize)]
struct RpcStatus {
    #[prost(string, tag = "2")]
    #[serde(default)]
    message: String,
}

/// The text of a refusal: the message of its `google.rpc.Status` (protobuf or JSON, as its content
/// type says), else the body as text (a proxy's page).
fn refusal(answer: &[u8], json: bool, protobuf: bool) -> String {
    let status = if json {
        serde_json::from_slice::<RpcStatus>(answer).ok()
    } else if protobuf {
        RpcStatus::decode(answer).ok()
    } else {
        None
    };
    match status {
        Some(status) if !status.message.is_empty() => status.message,
        _ => String::from_utf8_lossy(answer).into_owned(),
    }
}

/// A reqwest error without its URL (which may carry userinfo), with its sources.
fn chain(error: reqwest::Error) -> String {
    let error = error.without_url();
    let mut text = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        let more = cause.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = cause.source();
    }
    text
}

/// An OTLP/JSON answer. Its partial success counts items in an int64, which proto3's JSON mapping
/// writes as a string (`"rejectedSpans":"3"`, as the OpenTelemetry Collector answers) and some servers
/// as a number; the generated types read numbers only, so a string is made a number first.
fn from_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Option<T> {
    let mut answer: serde_json::Value = serde_json::from_slice(body).ok()?;
    if let Some(partial) = answer.get_mut("partialSuccess").and_then(serde_json::Value::as_object_mut) {
        for (_, count) in partial.iter_mut().filter(|(field, _)| field.starts_with("rejected")) {
            if let Some(number) = count.as_str().and_then(|text| text.parse::<i64>().ok()) {
                *count = number.into();
            }
        }
    }
    serde_json::from_value(answer).ok()
}

fn gzip(bytes: &[u8]) -> Result<Vec<u8>, String> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::with_capacity(bytes.len() / 4), flate2::Compression::fast());
    encoder.write_all(bytes).and_then(|()| encoder.finish()).map_err(|error| format!("gzip: {error}"))
}

impl<S: Signal> Transport<S> for Http
where
    S::Request: serde::Serialize,
    S::Response: serde::de::DeserializeOwned,
{
    fn encode(&self, request: &S::Request) -> Result<Encoded, String> {
        let bytes = if self.json {
            serde_json::to_vec(request).map_err(|error| format!("OTLP/JSON: {error}"))?
        } else {
            request.encode_to_vec()
        };
        let size = bytes.len();
        let body = if self.gzip { gzip(&bytes)? } else { bytes };
        Ok(Encoded { body: Bytes::from(body), size })
    }

    fn send(&self, body: Bytes) -> BoxFuture<'_, Attempt> {
        Box::pin(self.post(body))
    }

    fn decode(&self, body: &[u8], json: bool) -> Option<S::Response> {
        if json {
            from_json(body)
        } else {
            S::Response::decode(body).ok()
        }
    }
}
