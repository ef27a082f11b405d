//! OTLP/gRPC: the encoded request goes out as is through a tonic channel (one per exporter,
//! connected lazily inside the export runtime), so a retry or a split never converts data again.

use std::sync::OnceLock;

use bytes::{Buf, BufMut, Bytes};
use futures_util::future::BoxFuture;
use prost::Message;
use tonic::codec::{Codec, CompressionEncoding, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::metadata::{MetadataKey, MetadataMap, MetadataValue};
use tonic::transport::{Channel, ClientTlsConfig, Endpoint};
use tonic::Status;
use tonic_types::StatusExt;

use super::super::settings::{Compression, OtlpSettings};
use super::encode::Signal;
use super::export::{Attempt, Encoded, Transport};
use super::USER_AGENT;

/// A gRPC client of one collector service.
#[derive(Debug)]
pub(super) struct Grpc {
    endpoint: Endpoint,
    channel: OnceLock<Channel>,
    metadata: MetadataMap,
    gzip: bool,
}

impl Grpc {
    pub(super) fn new(settings: &OtlpSettings) -> Result<Self, tonic::transport::Error> {
        let mut endpoint = Endpoint::from_shared(settings.endpoint.clone())?
            .user_agent(USER_AGENT)?
            .connect_timeout(super::connect_timeout(settings));
        if settings.endpoint.starts_with("https://") {
            // Native roots honour SSL_CERT_FILE / SSL_CERT_DIR; webpki roots cover machines without a store.
            endpoint = endpoint.tls_config(ClientTlsConfig::new().with_native_roots().with_webpki_roots())?;
        }
        Ok(Self {
            endpoint,
            channel: OnceLock::new(),
            metadata: metadata(&settings.headers),
            gzip: settings.compression == Some(Compression::Gzip),
        })
    }

    /// The channel, created at the first export: tonic spawns its worker on the runtime polling it.
    fn channel(&self) -> Channel {
        self.channel.get_or_init(|| self.endpoint.connect_lazy()).clone()
    }

    async fn call(&self, body: Bytes, path: &'static str) -> Attempt {
        // A grpc-go server (the OpenTelemetry Collector) answers a gzip request gzip-compressed, whatever
        // the client says it accepts; refusing that answer would turn an accepted export into a refusal.
        let mut client = tonic::client::Grpc::new(self.channel()).accept_compressed(CompressionEncoding::Gzip);
        if self.gzip {
            client = client.send_compressed(CompressionEncoding::Gzip);
        }
        if let Err(error) = client.ready().await {
            return Attempt::Unreachable(chain(&error));
        }
        let mut request = tonic::Request::new(body);
        *request.metadata_mut() = self.metadata.clone();
        let path = http::uri::PathAndQuery::from_static(path);
        match client.unary(request, path, Raw).await {
            Ok(response) => Attempt::Answered { body: response.into_inner(), json: false },
            Err(status) => attempt(&status),
        }
    }
}

/// A failed call: a status made on our side (no connection, broken connection) or the collector's.
fn attempt(status: &Status) -> Attempt {
    if let Some(source) = std::error::Error::source(status) {
        // The source chain in words: a status's own `Display` dumps the sources with `Debug`.
        let causes = chain(source);
        let text = if causes.contains(status.message()) { causes } else { format!("{}: {causes}", status.message()) };
        return if is_connect_error(status) { Attempt::Unreachable(text) } else { Attempt::Broken(text) };
    }
    let retry_delay = status.get_details_retry_info().and_then(|info| info.retry_delay);
    let verdict = super::classify::grpc(status.code(), status.message(), retry_delay);
    Attempt::Refused { verdict, message: status.message().to_owned() }
}

fn is_connect_error(status: &Status) -> bool {
    let mut source = std::error::Error::source(status);
    while let Some(error) = source {
        if error.is::<tonic::ConnectError>() {
            return true;
        }
        source = error.source();
    }
    false
}

/// An error and its sources, `: `-separated.
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(error) = source {
        let more = error.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = error.source();
    }
    text
}

/// The settings' headers as gRPC metadata (keys lowercased; the values marked sensitive so no
/// debug output shows them).
fn metadata(headers: &[(String, String)]) -> MetadataMap {
    let mut metadata = MetadataMap::new();
    for (key, value) in headers {
        // Checked as HTTP headers in settings.rs; gRPC metadata keys are the same set, lowercased.
        let key = MetadataKey::from_bytes(key.to_ascii_lowercase().as_bytes());
        if let (Ok(key), Ok(mut value)) = (key, MetadataValue::try_from(value.as_str())) {
            value.set_sensitive(true);
            metadata.insert(key, value);
        }
    }
    metadata
}

impl<S: Signal> Transport<S> for Grpc {
    fn encode(&self, request: &S::Request) -> Result<Encoded, String> {
        let body = Bytes::from(request.encode_to_vec());
        Ok(Encoded { size: body.len(), body })
    }

    fn send(&self, body: Bytes) -> BoxFuture<'_, Attempt> {
        Box::pin(self.call(body, S::GRPC_PATH))
    }

    fn decode(&self, body: &[u8], _json: bool) -> Option<S::Response> {
        S::Response::decode(body).ok()
    }
}

/// A codec passing encoded messages through: the request is encoded once, by us.
#[derive(Debug, Clone, Copy, Default)]
struct Raw;

impl Codec for Raw {
    type Encode = Bytes;
    type Decode = Bytes;
    type Encoder = Raw;
    type Decoder = Raw;

    fn encoder(&mut self) -> Raw {
        Raw
    }

    fn decoder(&mut self) -> Raw {
        Raw
    }
}

impl Encoder for Raw {
    type Item = Bytes;
    type Error = Status;

    fn encode(&mut self, item: Bytes, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put(item);
        Ok(())
    }
}

impl Decoder for Raw {
    type Item = Bytes;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Bytes>, Status> {
        Ok(Some(src.copy_to_bytes(src.remaining())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_become_lowercase_sensitive_metadata() {
        let metadata = metadata(&[("X-Api-Key".to_owned(), "HDRSECRET".to_owned())]);
        let value = metadata.get("x-api-key").expect("lowercased key");
        assert_eq!(value.to_str().ok(), Some("HDRSECRET"));
        assert!(!format!("{metadata:?}").contains("HDRSECRET"), "{metadata:?}");
    }

    #[test]
    fn a_collector_status_is_classified_and_a_local_one_is_not() {
        let refused = attempt(&Status::invalid_argument("bad span"));
        assert!(matches!(refused, Attempt::Refused { verdict: super::super::classify::Verdict::Reject { .. }, .. }));
        let connect = Status::from_error(Box::new(tonic::ConnectError(Box::new(std::io::Error::from(
            std::io::ErrorKind::ConnectionRefused,
        )))));
        let Attempt::Unreachable(text) = attempt(&connect) else { panic!("unreachable: {connect:?}") };
        assert!(text.contains("refused"), "{text}");
        assert!(!text.contains("code:") && !text.contains("source:") && !text.contains("Kind("), "{text}");
    }
}
