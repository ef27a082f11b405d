//! The default byte budget of every value `traced` copies from a request, a response or an error.
//!
//! They bound memory whatever a client sends; `OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT` (or
//! `OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT`) cuts further, at export. The README's "Security and
//! privacy" section lists them: keep the two in step.

/// `url.path` of a server span: browsers and proxies rarely accept more than a few KiB of URL.
pub(crate) const URL_PATH: usize = 2048;
/// `url.query` of a server span (after redaction).
pub(crate) const URL_QUERY: usize = 2048;
/// `url.full` of a client span (after redaction).
pub(crate) const URL_FULL: usize = 2048;
/// `user_agent.original`.
pub(crate) const USER_AGENT: usize = 512;
/// `server.address`: a DNS name is at most 253 bytes.
pub(crate) const SERVER_ADDRESS: usize = 255;
/// `client.address` (the first `X-Forwarded-For` hop can be anything a client writes).
pub(crate) const CLIENT_ADDRESS: usize = 255;
/// `http.request.method_original` of a method the conventions do not know.
pub(crate) const METHOD_ORIGINAL: usize = 64;
/// Each captured header value (`http.request.header.<name>`, `http.response.header.<name>`).
pub(crate) const HEADER_VALUE: usize = 1024;
/// `exception.message`.
pub(crate) const EXCEPTION_MESSAGE: usize = 8 * 1024;
/// `exception.stacktrace`.
pub(crate) const EXCEPTION_STACKTRACE: usize = 16 * 1024;
/// Each item of `exception.sources` (at most 32 items are kept).
pub(crate) const EXCEPTION_SOURCE: usize = 2048;
/// The description of an ERROR span status.
pub(crate) const STATUS_DESCRIPTION: usize = 2048;
/// The body of a log record (the `tracing` event's message) and each string field of it.
pub(crate) const LOG_BODY: usize = 16 * 1024;
