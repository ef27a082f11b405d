//! How a faulty collector answers: `Unavailable` a number of times first, requests above a size
//! refused as too large, a partial success rejecting some items of every request. The gRPC and HTTP
//! servers ask [`Faults::judge`] before accepting a request, and count what they refused.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// The faults a receiver plays, all off by default.
#[derive(Debug, Clone, Default)]
pub struct FaultOptions {
    /// Answer the first `n` export requests with gRPC `Unavailable` / HTTP 503.
    pub unavailable_first: usize,
    /// With `unavailable_first`: the delay to ask for. HTTP: 503 with `Retry-After`; gRPC: the refusals
    /// become `ResourceExhausted` with a `RetryInfo` (throttling, not a size problem).
    pub retry_after: Option<Duration>,
    /// Refuse a request whose encoded (uncompressed) payload is above this many bytes: gRPC
    /// `ResourceExhausted` without `RetryInfo`, HTTP 413 (what a collector with the usual 4 MiB limit does).
    pub max_request_bytes: Option<usize>,
    /// Accept every request with a partial success rejecting this many of its items (at most all of
    /// them; for metrics, data points), with the message `"test receiver rejects N"`.
    pub reject_per_request: Option<i64>,
    /// Answer every request with this final refusal: a gRPC code (`tonic::Code as i32`) or an HTTP status.
    pub refuse_with: Option<u16>,
    /// With `refuse_with`: the refusal's message quotes the value of this request header, as a
    /// collector naming the API key it does not know.
    pub refusal_quotes_header: Option<&'static str>,
}

/// The verdict on one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Answer {
    /// Record it; report `rejected` items (0: full success).
    Accept { rejected: i64 },
    /// Transient refusal.
    Unavailable,
    /// Too large.
    TooLarge,
    /// A final refusal with this code.
    Refuse(u16),
}

/// The faults with their state.
#[derive(Debug, Default)]
pub(super) struct Faults {
    options: FaultOptions,
    unavailable_sent: AtomicUsize,
}

impl Faults {
    pub(super) fn new(options: FaultOptions) -> Self {
        Self { options, unavailable_sent: AtomicUsize::new(0) }
    }

    pub(super) fn retry_after(&self) -> Option<Duration> {
        self.options.retry_after
    }

    /// The message of a final refusal of a request carrying `headers`.
    pub(super) fn refusal_message(&self, headers: &http::HeaderMap) -> String {
        let quoted = self.options.refusal_quotes_header.and_then(|name| headers.get(name));
        match quoted.and_then(|value| value.to_str().ok()) {
            Some(value) => format!("test receiver refuses the key {value}"),
            None => "test receiver refuses".to_owned(),
        }
    }

    /// What to answer to a request of `bytes` encoded bytes carrying `items` items.
    pub(super) fn judge(&self, bytes: usize, items: usize) -> Answer {
        if let Some(code) = self.options.refuse_with {
            return Answer::Refuse(code);
        }
        let first = self.unavailable_sent.fetch_add(1, Ordering::SeqCst) < self.options.unavailable_first;
        if first {
            return Answer::Unavailable;
        }
        if self.options.max_request_bytes.is_some_and(|limit| bytes > limit) {
            return Answer::TooLarge;
        }
        let rejected = self.options.reject_per_request.unwrap_or(0).min(items as i64);
        Answer::Accept { rejected }
    }
}
