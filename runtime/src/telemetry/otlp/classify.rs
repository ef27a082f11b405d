//! What a collector's refusal means for the batch: retry later, split it, or give it up.
//!
//! The rules are the OTLP specification's ("Failures" in the OTLP/gRPC and OTLP/HTTP sections):
//! gRPC `Unavailable`, `DeadlineExceeded`, `Aborted`, `Cancelled`, `OutOfRange`, `DataLoss` and
//! `ResourceExhausted` with a `RetryInfo` are transient; HTTP 429, 502, 503 and 504 are transient and
//! may carry `Retry-After`. A request refused as too large (gRPC `ResourceExhausted` without
//! `RetryInfo`, HTTP 413) is split. Everything else is final.

use std::time::Duration;

/// The verdict on one refused request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Verdict {
    /// Try the same request again, not before `after` when the collector said so.
    Retry { after: Option<Duration>, status: String },
    /// The request is too large for the collector: send its halves.
    TooLarge { status: String },
    /// The collector will never take this request.
    Reject { status: String },
}

/// A gRPC status from the collector (`retry_delay` from its `RetryInfo` detail, if any).
#[cfg(feature = "otlp-grpc")]
pub(super) fn grpc(code: tonic::Code, message: &str, retry_delay: Option<Duration>) -> Verdict {
    use tonic::Code;
    let status = format!("gRPC {code:?}");
    match code {
        Code::ResourceExhausted if retry_delay.is_some() => Verdict::Retry { after: retry_delay, status },
        Code::ResourceExhausted => Verdict::TooLarge { status },
        // tonic servers refuse a message above their decoding limit this way.
        Code::OutOfRange if message.contains("message length too large") => Verdict::TooLarge { status },
        Code::Unavailable
        | Code::DeadlineExceeded
        | Code::Aborted
        | Code::Cancelled
        | Code::OutOfRange
        | Code::DataLoss => Verdict::Retry { after: retry_delay, status },
        _ => Verdict::Reject { status },
    }
}

/// An HTTP status other than 2xx (`retry_after` from the `Retry-After` header, if any).
#[cfg(feature = "otlp-http")]
pub(super) fn http(status: http::StatusCode, retry_after: Option<Duration>) -> Verdict {
    let text = match status.canonical_reason() {
        Some(reason) => format!("HTTP {} {reason}", status.as_u16()),
        None => format!("HTTP {}", status.as_u16()),
    };
    match status.as_u16() {
        413 => Verdict::TooLarge { status: text },
        429 | 502 | 503 | 504 => Verdict::Retry { after: retry_after, status: text },
        _ => Verdict::Reject { status: text },
    }
}

/// `Retry-After` in either form HTTP allows: a number of seconds, or an HTTP-date (the time until it,
/// zero when it is past). Anything else falls back to our own backoff; the retry loop caps the wait by
/// the export's deadline either way.
#[cfg(feature = "otlp-http")]
pub(super) fn retry_after(value: Option<&http::HeaderValue>) -> Option<Duration> {
    retry_after_at(value, std::time::SystemTime::now())
}

#[cfg(feature = "otlp-http")]
fn retry_after_at(value: Option<&http::HeaderValue>, now: std::time::SystemTime) -> Option<Duration> {
    let text = value?.to_str().ok()?.trim();
    if let Ok(seconds) = text.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let date = httpdate::parse_http_date(text).ok()?;
    Some(date.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(feature = "otlp-grpc")]
    #[test]
    fn grpc_statuses_follow_the_otlp_specification() {
        use tonic::Code;
        let retry = |code| matches!(grpc(code, "", None), Verdict::Retry { after: None, .. });
        for code in [Code::Unavailable, Code::DeadlineExceeded, Code::Aborted, Code::Cancelled, Code::DataLoss] {
            assert!(retry(code), "{code:?} is transient");
        }
        for code in [Code::InvalidArgument, Code::Unauthenticated, Code::PermissionDenied, Code::Unimplemented] {
            assert!(matches!(grpc(code, "", None), Verdict::Reject { .. }), "{code:?} is final");
        }
        assert!(matches!(grpc(Code::ResourceExhausted, "", None), Verdict::TooLarge { .. }));
        let throttled = grpc(Code::ResourceExhausted, "", Some(Duration::from_millis(300)));
        assert!(matches!(throttled, Verdict::Retry { after: Some(delay), .. } if delay == Duration::from_millis(300)));
        let tonic_limit = "Error, decoded message length too large: found 5000000 bytes, the limit is: 4194304 bytes";
        assert!(matches!(grpc(Code::OutOfRange, tonic_limit, None), Verdict::TooLarge { .. }));
        assert!(retry(Code::OutOfRange));
    }

    #[cfg(feature = "otlp-http")]
    #[test]
    fn http_statuses_follow_the_otlp_specification() {
        use http::StatusCode;
        for code in [429, 502, 503, 504] {
            let status = StatusCode::from_u16(code).expect("valid status");
            assert!(matches!(http(status, None), Verdict::Retry { .. }), "{code} is transient");
        }
        for code in [400, 401, 403, 404, 405, 500] {
            let status = StatusCode::from_u16(code).expect("valid status");
            assert!(matches!(http(status, None), Verdict::Reject { .. }), "{code} is final");
        }
        assert_eq!(
            http(StatusCode::PAYLOAD_TOO_LARGE, None),
            Verdict::TooLarge { status: "HTTP 413 Payload Too Large".to_owned() }
        );
        let after = Some(Duration::from_secs(2));
        assert!(matches!(http(StatusCode::TOO_MANY_REQUESTS, after), Verdict::Retry { after: Some(_), .. }));
    }

    #[cfg(feature = "otlp-http")]
    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        use std::time::{SystemTime, UNIX_EPOCH};
        let header = |value: &str| http::HeaderValue::from_str(value).expect("header");
        // Wed, 21 Oct 2015 07:28:00 GMT
        let date = UNIX_EPOCH + Duration::from_secs(1_445_412_480);
        let at = |value: &str, now: SystemTime| retry_after_at(Some(&header(value)), now);
        assert_eq!(at("3", date), Some(Duration::from_secs(3)));
        assert_eq!(at(" 120 ", date), Some(Duration::from_secs(120)));
        let http_date = "Wed, 21 Oct 2015 07:28:00 GMT";
        assert_eq!(at(http_date, date - Duration::from_secs(30)), Some(Duration::from_secs(30)));
        assert_eq!(at(http_date, date + Duration::from_secs(30)), Some(Duration::ZERO), "a past date: now");
        // The obsolete forms HTTP still asks recipients to accept.
        assert_eq!(at("Wednesday, 21-Oct-15 07:28:00 GMT", date), Some(Duration::ZERO));
        assert_eq!(at("Wed Oct 21 07:28:00 2015", date), Some(Duration::ZERO));
        for bad in ["-1", "soon", "Wed, 32 Oct 2015 07:28:00 GMT", ""] {
            assert_eq!(at(bad, date), None, "{bad:?}");
        }
        assert_eq!(retry_after(None), None);
    }
}
