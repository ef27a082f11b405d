//! `#[traced(metrics)]`: per-function call counts and durations with the names and labels of the
//! autometrics specification, so its dashboards and alerts work unchanged.
//!
//! * counter `function.calls` {`function`, `module`, `result` (`ok`/`error`, for a `Result` only),
//!   `caller.function`, `caller.module`};
//! * histogram `function.calls.duration`, seconds {`function`, `module`}.
//!
//! The instruments are created once per call site, at its first call, from the global meter provider
//! in place then. Every call is recorded, whether or not its span is sampled or created. The caller is
//! the `#[traced(metrics)]` function running on this thread (or being polled) when the call starts, as
//! autometrics tracks it: functions without `metrics` are not tracked, so they cost nothing more.

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::sync::OnceLock;
use std::task::{Context as TaskContext, Poll};
use std::time::Instant;

use opentelemetry::metrics::{Counter, Histogram};
use opentelemetry::KeyValue;

/// The histogram's bucket boundaries, in seconds (autometrics' defaults).
const DURATION_BOUNDARIES: [f64; 14] =
    [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0];

thread_local! {
    /// The `#[traced(metrics)]` function running on this thread.
    static CURRENT: Cell<Option<&'static FunctionMetrics>> = const { Cell::new(None) };
}

/// A `#[traced(metrics)]` call site; one `static` per site.
#[derive(Debug)]
pub struct FunctionMetrics {
    function: &'static str,
    module: &'static str,
    instruments: OnceLock<Instruments>,
}

#[derive(Debug)]
struct Instruments {
    calls: Counter<u64>,
    duration: Histogram<f64>,
}

impl FunctionMetrics {
    /// The site of `function` (`Type::method` in an impl block) in `module` (`module_path!()`).
    pub const fn new(function: &'static str, module: &'static str) -> Self {
        Self { function, module, instruments: OnceLock::new() }
    }

    fn instruments(&self) -> &Instruments {
        self.instruments.get_or_init(|| {
            let meter = opentelemetry::global::meter_with_scope(crate::backend::scope());
            Instruments {
                calls: meter.u64_counter("function.calls").with_description("Calls of the function.").build(),
                duration: meter
                    .f64_histogram("function.calls.duration")
                    .with_unit("s")
                    .with_description("Duration of the function's calls.")
                    .with_boundaries(DURATION_BOUNDARIES.to_vec())
                    .build(),
            }
        })
    }

    /// Starts timing a call; it is recorded when the returned value drops.
    #[inline]
    pub fn start(&'static self) -> FunctionCall {
        let caller = CURRENT.try_with(Cell::get).ok().flatten();
        FunctionCall { site: self, caller, started: Instant::now(), succeeded: None }
    }

    /// Makes this function the caller of the calls made until the guard drops (a sync body).
    #[inline]
    pub fn enter(&'static self) -> CallerGuard {
        CallerGuard { previous: CURRENT.try_with(|current| current.replace(Some(self))).ok().flatten() }
    }

    /// Makes this function the caller of the calls made whenever `future` is polled (an async body).
    #[inline]
    pub fn scope<F: Future>(&'static self, future: F) -> InFunction<F> {
        InFunction { site: self, inner: future }
    }
}

/// A call being timed; recorded when dropped (on return, early return or panic alike).
#[derive(Debug)]
#[must_use = "the call is recorded when this drops"]
pub struct FunctionCall {
    site: &'static FunctionMetrics,
    caller: Option<&'static FunctionMetrics>,
    started: Instant,
    succeeded: Option<bool>,
}

impl FunctionCall {
    /// Notes the outcome of a function returning a `Result` (`Some(is_ok)`); `None` for other types.
    #[inline]
    pub fn outcome(&mut self, succeeded: Option<bool>) {
        self.succeeded = succeeded;
    }

    fn labels(&self) -> ([KeyValue; 5], usize) {
        let (caller_function, caller_module) = self.caller.map_or(("", ""), |caller| (caller.function, caller.module));
        let result = match self.succeeded {
            Some(true) => "ok",
            Some(false) => "error",
            None => "",
        };
        let labels = [
            KeyValue::new("function", self.site.function),
            KeyValue::new("module", self.site.module),
            KeyValue::new("caller.function", caller_function),
            KeyValue::new("caller.module", caller_module),
            KeyValue::new("result", result),
        ];
        // `result` only for a function that returns a `Result`.
        (labels, if self.succeeded.is_some() { 5 } else { 4 })
    }
}

impl Drop for FunctionCall {
    fn drop(&mut self) {
        let seconds = self.started.elapsed().as_secs_f64();
        let instruments = self.site.instruments();
        let (labels, count) = self.labels();
        instruments.calls.add(1, &labels[..count]);
        instruments.duration.record(seconds, &labels[..2]);
    }
}

/// Restores the previous caller when dropped; see [`FunctionMetrics::enter`].
#[derive(Debug)]
pub struct CallerGuard {
    previous: Option<&'static FunctionMetrics>,
}

impl Drop for CallerGuard {
    #[inline]
    fn drop(&mut self) {
        let _ = CURRENT.try_with(|current| current.set(self.previous));
    }
}

pin_project_lite::pin_project! {
    /// A future whose polls run with its function as the caller; see [`FunctionMetrics::scope`].
    #[derive(Debug)]
    pub struct InFunction<F> {
        site: &'static FunctionMetrics,
        #[pin]
        inner: F,
    }
}

impl<F: Future> Future for InFunction<F> {
    type Output = F::Output;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let _caller = this.site.enter();
        this.inner.poll(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    static OUTER: FunctionMetrics = FunctionMetrics::new("outer", "shop::api");
    static INNER: FunctionMetrics = FunctionMetrics::new("Store::get", "shop::store");

    fn pairs(call: &FunctionCall) -> Vec<(String, String)> {
        let (labels, count) = call.labels();
        labels[..count].iter().map(|kv| (kv.key.to_string(), kv.value.to_string())).collect()
    }

    #[test]
    fn the_caller_is_the_metrics_function_running_and_is_restored_after_it() {
        let outside = INNER.start();
        assert_eq!(pairs(&outside)[2..4], [("caller.function".into(), "".into()), ("caller.module".into(), "".into())]);
        {
            let _outer = OUTER.enter();
            let mut inside = INNER.start();
            inside.outcome(Some(false));
            assert_eq!(
                pairs(&inside),
                [
                    ("function".to_owned(), "Store::get".to_owned()),
                    ("module".to_owned(), "shop::store".to_owned()),
                    ("caller.function".to_owned(), "outer".to_owned()),
                    ("caller.module".to_owned(), "shop::api".to_owned()),
                    ("result".to_owned(), "error".to_owned()),
                ]
            );
        }
        assert_eq!(CURRENT.with(Cell::get).map(|site| site.function), None);
        drop(outside);
    }
}
