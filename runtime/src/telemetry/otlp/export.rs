//! The OTLP exporter of one signal: requests cut to the size limit, sent one at a time with retries,
//! split when refused as too large, and every item of the batch accounted for once.

use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::future::BoxFuture;
use opentelemetry_proto::transform::common::tonic::ResourceAttributesWithSchema;
use opentelemetry_sdk::metrics::data::ResourceMetrics;
use opentelemetry_sdk::trace::SpanData;

use super::classify::Verdict;
use super::encode::{self, Logs, Metrics, Parts, Signal, Traces};
use super::retry::Backoff;
use super::warnings::Warnings;
use crate::telemetry::pipeline::deadline;
use crate::telemetry::pipeline::delivery::{BatchExport, Delivery, LogItem, MetricExport};

/// Splits of one request, nested, at most. Every split makes strictly smaller requests and the deadline
/// bounds the work; this bounds it for a collector that refuses anything (halvings of 2^32 items).
const MAX_SPLIT_DEPTH: u32 = 64;

/// A request ready to send: `body` goes on the wire, `size` is the encoded size before compression.
#[derive(Debug)]
pub(super) struct Encoded {
    pub(super) body: Bytes,
    pub(super) size: usize,
}

/// What one attempt at sending a request gave.
#[derive(Debug)]
pub(super) enum Attempt {
    /// A success status, with the response body (`json` when it is OTLP/JSON).
    Answered { body: Bytes, json: bool },
    /// The collector answered with a failure status.
    Refused { verdict: Verdict, message: String },
    /// No connection: the request was not sent.
    Unreachable(String),
    /// The connection failed after the request went out: maybe delivered.
    Broken(String),
}

/// How requests of signal `S` travel: gRPC or HTTP.
pub(super) trait Transport<S: Signal>: Send + Sync + std::fmt::Debug {
    /// The request in this transport's wire format.
    fn encode(&self, request: &S::Request) -> Result<Encoded, String>;
    /// One attempt; the caller stops waiting at the deadline.
    fn send(&self, body: Bytes) -> BoxFuture<'_, Attempt>;
    /// The collector's answer, if it can be read.
    fn decode(&self, body: &[u8], json: bool) -> Option<S::Response>;
}

/// The end of one request after its retries.
#[derive(Debug)]
enum Sent<R> {
    Accepted(Option<R>),
    TooLarge(String),
    Rejected { status: String, message: String },
    Unreachable(String),
    Failing { status: String, message: String },
    Broken(String),
    NoAnswer,
}

/// The OTLP exporter of signal `S`.
#[derive(Debug)]
pub(crate) struct Exporter<S: Signal> {
    transport: Box<dyn Transport<S>>,
    limit: usize,
    /// `OTEL_EXPORTER_OTLP_TIMEOUT`: an export ends by this long after it starts, or by the pipeline's
    /// deadline if that comes first.
    timeout: Duration,
    warnings: Warnings,
    resource: ResourceAttributesWithSchema,
}

impl<S: Signal> Exporter<S> {
    pub(super) fn new(
        transport: Box<dyn Transport<S>>,
        limit: usize,
        timeout: Duration,
        warnings: Warnings,
        resource: &opentelemetry_sdk::Resource,
    ) -> Self {
        Self { transport, limit, timeout, warnings, resource: resource.into() }
    }

    /// Sends every item of `parts`, returning by `deadline` with what became of each.
    async fn deliver(&self, parts: Parts<S::Item>, deadline: Instant) -> Delivery {
        let deadline = Instant::now().checked_add(self.timeout).map_or(deadline, |own| own.min(deadline));
        let mut delivery = Delivery::default();
        // Lowered below a request size the collector refused as too large, for the rest of this export;
        // `refused` is the status it refused with.
        let mut limit = self.limit;
        let mut refused: Option<String> = None;
        let mut work: Vec<(Parts<S::Item>, u32)> = parts.chunks(limit).into_iter().rev().map(|c| (c, 0)).collect();
        while let Some((chunk, depth)) = work.pop() {
            let count = chunk.len();
            if count == 0 {
                continue;
            }
            // The shutdown deadline, when it comes during this export, ends it too.
            if Instant::now() >= deadline::effective(deadline) {
                delivery.failed += count as u64;
                continue;
            }
            if count == 1 && chunk.item_size(0) > limit {
                self.warnings.too_large(S::ITEM, chunk.item_size(0), self.limit, refused.as_deref());
                delivery.rejected += 1;
                continue;
            }
            let request = S::assemble(chunk);
            let encoded = match self.transport.encode(&request) {
                Ok(encoded) => encoded,
                Err(error) => {
                    self.warnings.failing("an encoding error", &error);
                    delivery.failed += count as u64;
                    continue;
                }
            };
            let size = encoded.size;
            if size > limit {
                match split::<S>(request, count, depth, limit) {
                    Some(pieces) => work.extend(pieces),
                    None => {
                        self.warnings.too_large(S::ITEM, size, self.limit, refused.as_deref());
                        delivery.rejected += count as u64;
                    }
                }
                continue;
            }
            match self.send(encoded.body, deadline).await {
                Sent::Accepted(response) => delivery = delivery + self.accepted(response.as_ref(), count),
                Sent::TooLarge(status) => {
                    limit = limit.min(size.saturating_sub(1));
                    // Halves: a cut just under the refused size would peel off a few items per round trip.
                    match split::<S>(request, count, depth, usize::MAX) {
                        Some(pieces) => work.extend(pieces),
                        None => {
                            self.warnings.too_large(S::ITEM, size, self.limit, Some(&status));
                            delivery.rejected += count as u64;
                        }
                    }
                    refused = Some(status);
                }
                Sent::Rejected { status, message } => {
                    self.warnings.rejected(&status, &message);
                    delivery.rejected += count as u64;
                }
                Sent::Unreachable(error) => {
                    self.warnings.unreachable(&error);
                    delivery.failed += count as u64;
                }
                Sent::Failing { status, message } => {
                    self.warnings.failing(&status, &message);
                    delivery.failed += count as u64;
                }
                Sent::Broken(error) => {
                    self.warnings.broken(&error);
                    delivery.unconfirmed += count as u64;
                }
                Sent::NoAnswer => {
                    self.warnings.no_answer();
                    delivery.unconfirmed += count as u64;
                }
            }
        }
        delivery
    }

    /// A success answer: the partial success, if any, moves items from exported to rejected.
    fn accepted(&self, response: Option<&S::Response>, count: usize) -> Delivery {
        let Some((rejected, message)) = response.and_then(S::partial_success) else {
            return Delivery::exported(count);
        };
        if rejected > 0 || !message.is_empty() {
            self.warnings.partial_success(rejected.max(0) as u64, count, S::ITEM, S::REJECTED_UNIT, &message);
        }
        let rejected = S::rejected_items(rejected, count);
        Delivery { exported: (count - rejected) as u64, rejected: rejected as u64, ..Delivery::default() }
    }

    /// One request, retried on transient failures until it is answered or the deadline comes.
    async fn send(&self, body: Bytes, deadline: Instant) -> Sent<S::Response> {
        let mut backoff = Backoff::new(deadline);
        let mut unreachable = None;
        // Set once an attempt broke after the request went out: the collector may have it, so no later
        // failure makes it "never delivered".
        let mut broken = None;
        loop {
            let attempt = tokio::select! {
                biased;
                attempt = self.transport.send(body.clone()) => Ok(attempt),
                () = deadline::reached(deadline) => Err(()),
            };
            let (asked, failure) = match attempt {
                // An attempt cut by the deadline right after one that could not connect is most likely
                // connecting again (a TLS handshake, a slow refusal): not sent, like the one before.
                Err(_elapsed) => return maybe_sent(unreachable.map_or(Sent::NoAnswer, Sent::Unreachable), broken),
                Ok(Attempt::Answered { body, json }) => return Sent::Accepted(self.transport.decode(&body, json)),
                Ok(Attempt::Refused { verdict, message }) => match verdict {
                    Verdict::TooLarge { status } => return Sent::TooLarge(status),
                    Verdict::Reject { status } => return Sent::Rejected { status, message },
                    Verdict::Retry { after, status } => (after, Sent::Failing { status, message }),
                },
                Ok(Attempt::Unreachable(error)) => {
                    unreachable = Some(error.clone());
                    (None, Sent::Unreachable(error))
                }
                Ok(Attempt::Broken(error)) => {
                    broken = Some(error.clone());
                    (None, Sent::Broken(error))
                }
            };
            if !matches!(failure, Sent::Unreachable(_)) {
                unreachable = None;
            }
            match backoff.next(asked, Instant::now()) {
                Some(at) => tokio::select! {
                    () = tokio::time::sleep_until(at.into()) => {}
                    () = deadline::reached(deadline) => return maybe_sent(failure, broken),
                },
                None => return maybe_sent(failure, broken),
            }
        }
    }
}

/// The end of a request's retries, given the error of an earlier attempt that broke after the request
/// went out, if any: then a failure that says "not delivered" (unreachable, refused for now) is
/// unconfirmed instead, as that earlier attempt may have arrived.
fn maybe_sent<R>(failure: Sent<R>, broken: Option<String>) -> Sent<R> {
    match (failure, broken) {
        (Sent::Unreachable(_) | Sent::Failing { .. }, Some(error)) => Sent::Broken(error),
        (failure, _) => failure,
    }
}

/// A request of `count` items cut into requests under `limit` by estimate, or in halves when the
/// estimate keeps it whole (always with `usize::MAX`); `None` when it cannot be split further.
fn split<S: Signal>(request: S::Request, count: usize, depth: u32, limit: usize) -> Option<Vec<(Parts<S::Item>, u32)>> {
    if count < 2 || depth >= MAX_SPLIT_DEPTH {
        return None;
    }
    let mut pieces = S::flatten(request).chunks(limit);
    if pieces.len() < 2 {
        let mut head = pieces.pop()?;
        let tail = head.split_off(count / 2);
        pieces = vec![head, tail];
    }
    // Popped from the end: the first piece goes first.
    Some(pieces.into_iter().rev().map(|piece| (piece, depth + 1)).collect())
}

impl BatchExport<SpanData> for Exporter<Traces> {
    fn export(&self, batch: Vec<SpanData>, deadline: Instant) -> BoxFuture<'_, Delivery> {
        Box::pin(async move { self.deliver(encode::spans(batch, &self.resource), deadline).await })
    }
}

impl BatchExport<LogItem> for Exporter<Logs> {
    fn export(&self, batch: Vec<LogItem>, deadline: Instant) -> BoxFuture<'_, Delivery> {
        Box::pin(async move {
            let parts = encode::logs(&batch, &self.resource);
            drop(batch);
            self.deliver(parts, deadline).await
        })
    }
}

/// One metric collection is one item: it counts as rejected if the collector rejected any of its
/// data points (or any metric of it was too large), else failed if any part of it was not delivered,
/// else unconfirmed if any part went unanswered, else exported.
impl MetricExport for Exporter<Metrics> {
    fn export<'a>(&'a self, metrics: &'a ResourceMetrics, deadline: Instant) -> BoxFuture<'a, Delivery> {
        Box::pin(async move {
            let parts = self.deliver(encode::metrics(metrics), deadline).await;
            if parts.rejected > 0 {
                Delivery { rejected: 1, ..Delivery::default() }
            } else if parts.failed > 0 {
                Delivery::failed(1)
            } else if parts.unconfirmed > 0 {
                Delivery::unconfirmed(1)
            } else {
                Delivery::exported(1)
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use opentelemetry_proto::tonic::collector::trace::v1::{ExportTracePartialSuccess, ExportTraceServiceResponse};
    use prost::Message;

    use super::super::warnings::tests::captured;
    use super::*;

    /// A transport playing a script of attempts; `None` never answers.
    #[derive(Debug, Default)]
    struct Scripted {
        script: Mutex<VecDeque<Option<Attempt>>>,
        sent: Mutex<Vec<usize>>,
    }

    impl Transport<Traces> for Scripted {
        fn encode(&self, request: &<Traces as Signal>::Request) -> Result<Encoded, String> {
            let body = Bytes::from(request.encode_to_vec());
            Ok(Encoded { size: body.len(), body })
        }

        fn send(&self, body: Bytes) -> BoxFuture<'_, Attempt> {
            self.sent.lock().expect("lock").push(body.len());
            let next = self.script.lock().expect("lock").pop_front().flatten();
            Box::pin(async move {
                match next {
                    Some(attempt) => attempt,
                    None => std::future::pending().await,
                }
            })
        }

        fn decode(&self, body: &[u8], _json: bool) -> Option<ExportTraceServiceResponse> {
            ExportTraceServiceResponse::decode(body).ok()
        }
    }

    fn scripted(script: Vec<Option<Attempt>>) -> (Exporter<Traces>, Arc<Mutex<Vec<String>>>) {
        let transport = Scripted { script: Mutex::new(script.into()), sent: Mutex::default() };
        let (sink, lines) = captured();
        let warnings = Warnings::new("traces", "http://collector:4318/v1/traces", &[], sink);
        let resource = opentelemetry_sdk::Resource::builder_empty().build();
        (Exporter::new(Box::new(transport), 1 << 20, Duration::from_secs(60), warnings, &resource), lines)
    }

    fn spans(count: usize) -> Vec<SpanData> {
        use opentelemetry::trace::{SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceId, TraceState};
        (0..count)
            .map(|index| SpanData {
                span_context: SpanContext::new(
                    TraceId::from(index as u128 + 1),
                    SpanId::from(index as u64 + 1),
                    TraceFlags::SAMPLED,
                    false,
                    TraceState::default(),
                ),
                parent_span_id: opentelemetry::trace::SpanId::INVALID,
                parent_span_is_remote: false,
                span_kind: SpanKind::Internal,
                name: "s".into(),
                start_time: std::time::SystemTime::now(),
                end_time: std::time::SystemTime::now(),
                attributes: Vec::new(),
                dropped_attributes_count: 0,
                events: opentelemetry_sdk::trace::SpanEvents::default(),
                links: opentelemetry_sdk::trace::SpanLinks::default(),
                status: Status::Unset,
                instrumentation_scope: opentelemetry::InstrumentationScope::builder("t").build(),
            })
            .collect()
    }

    /// A collector refusing requests above `limit` bytes as too large, counting the requests.
    #[derive(Debug)]
    struct SizeLimited {
        limit: usize,
        requests: Mutex<usize>,
    }

    impl Transport<Traces> for SizeLimited {
        fn encode(&self, request: &<Traces as Signal>::Request) -> Result<Encoded, String> {
            let body = Bytes::from(request.encode_to_vec());
            Ok(Encoded { size: body.len(), body })
        }

        fn send(&self, body: Bytes) -> BoxFuture<'_, Attempt> {
            *self.requests.lock().expect("lock") += 1;
            let attempt = if body.len() > self.limit {
                let verdict = Verdict::TooLarge { status: "gRPC ResourceExhausted".into() };
                Attempt::Refused { verdict, message: "too large".into() }
            } else {
                answered(0).expect("an answer")
            };
            Box::pin(async move { attempt })
        }

        fn decode(&self, body: &[u8], _json: bool) -> Option<ExportTraceServiceResponse> {
            ExportTraceServiceResponse::decode(body).ok()
        }
    }

    #[test]
    fn only_items_too_large_alone_are_rejected_whatever_the_mix() {
        let (sink, lines) = captured();
        let warnings = Warnings::new("traces", "http://collector:4317", &[], sink);
        let resource = opentelemetry_sdk::Resource::builder_empty().build();
        let transport = SizeLimited { limit: 200 * 1024, requests: Mutex::new(0) };
        let exporter = Exporter::new(Box::new(transport), 4 << 20, Duration::from_secs(60), warnings, &resource);
        let mut batch = spans(512);
        for span in batch.iter_mut().skip(19).step_by(20) {
            span.attributes.push(opentelemetry::KeyValue::new("big", "b".repeat(300 * 1024)));
        }
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        let delivery = runtime.block_on(exporter.export(batch, Instant::now() + Duration::from_secs(60)));
        assert_eq!(delivery, Delivery { exported: 487, rejected: 25, ..Delivery::default() });
        let lines = lines.lock().expect("lock").clone();
        assert_eq!(lines.iter().filter(|line| line.contains("alone as too large")).count(), 1, "{lines:#?}");
    }

    fn answered(rejected: i64) -> Option<Attempt> {
        let partial_success = Some(ExportTracePartialSuccess { rejected_spans: rejected, error_message: "no".into() });
        let body = Bytes::from(ExportTraceServiceResponse { partial_success }.encode_to_vec());
        Some(Attempt::Answered { body, json: false })
    }

    fn run(exporter: &Exporter<Traces>, count: usize, within: Duration) -> Delivery {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        runtime.block_on(exporter.export(spans(count), Instant::now() + within))
    }

    #[test]
    fn a_partial_success_beyond_the_batch_is_clamped() {
        let (exporter, _) = scripted(vec![answered(50)]);
        assert_eq!(run(&exporter, 10, Duration::from_secs(5)), Delivery { rejected: 10, ..Delivery::default() });
        let (exporter, _) = exporter_with_negative();
        assert_eq!(run(&exporter, 10, Duration::from_secs(5)), Delivery::exported(10));
    }

    fn exporter_with_negative() -> (Exporter<Traces>, Arc<Mutex<Vec<String>>>) {
        scripted(vec![answered(-3)])
    }

    #[test]
    fn an_attempt_cut_by_the_deadline_after_a_refused_connection_is_failed_not_unconfirmed() {
        let refused = || Some(Attempt::Unreachable("tcp connect error: Connection refused".into()));
        let (exporter, lines) = scripted(vec![refused(), None]);
        let delivery = run(&exporter, 7, Duration::from_millis(800));
        assert_eq!(delivery, Delivery::failed(7));
        assert!(lines.lock().expect("lock")[0].contains("cannot connect"));

        let (exporter, lines) = scripted(vec![None]);
        assert_eq!(run(&exporter, 7, Duration::from_millis(200)), Delivery::unconfirmed(7));
        assert!(lines.lock().expect("lock")[0].contains("did not answer"));
    }

    #[test]
    fn a_deadline_already_past_sends_nothing_and_counts_every_item_once() {
        let (exporter, lines) = scripted(vec![]);
        assert_eq!(run(&exporter, 5, Duration::ZERO), Delivery::failed(5));
        assert!(lines.lock().expect("lock").is_empty());
    }

    #[test]
    fn a_request_that_may_have_arrived_is_never_counted_failed_by_a_later_refusal() {
        let broken = || Some(Attempt::Broken("connection reset after the request went out".into()));
        let unavailable = || {
            let verdict = Verdict::Retry { after: None, status: "HTTP 503 Service Unavailable".into() };
            Some(Attempt::Refused { verdict, message: "restarting".into() })
        };
        let refused = || Some(Attempt::Unreachable("tcp connect error: Connection refused".into()));
        for (then, name) in [(unavailable as fn() -> Option<Attempt>, "unavailable"), (refused, "refused")] {
            let script = std::iter::once(broken()).chain((0..20).map(|_| then())).collect();
            let (exporter, lines) = scripted(script);
            assert_eq!(run(&exporter, 4, Duration::from_millis(600)), Delivery::unconfirmed(4), "{name}");
            let lines = lines.lock().expect("lock").clone();
            assert!(lines.len() == 1 && lines[0].contains("broke"), "{name}: {lines:#?}");
        }
    }

    #[test]
    fn a_broken_connection_is_retried_then_unconfirmed() {
        let broken = || Some(Attempt::Broken("connection reset".into()));
        let (exporter, _) = scripted(vec![broken(), answered(0)]);
        assert_eq!(run(&exporter, 4, Duration::from_secs(5)), Delivery::exported(4));
        let (exporter, lines) = scripted((0..20).map(|_| broken()).collect());
        assert_eq!(run(&exporter, 4, Duration::from_millis(400)), Delivery::unconfirmed(4));
        assert!(lines.lock().expect("lock")[0].contains("broke"));
    }
}
