//! `#[traced(metrics)]`: per-function call counts and durations with the names and labels of the
//! autometrics specification, so its dashboards and alerts work unchanged.
//!
//! * counter `function.calls` {`function`, `module`, `result` (`ok`/`error`, for a `Result` only),
//!   `caller.function`, `caller.module`};
//! * histogram `function.calls.duration`, seconds {`function`, `module`}.
//!
//! The instruments are created once per call site, at its first call, from the global meter provider
//! in place then. Every call is recorded, whether or not its span is sampled or created.
//!
//! The caller is the `#[traced]` function running on this thread (or being polled) when the call
//! starts. A `#[traced(metrics)]` function always makes itself the caller of what it calls; any other
//! `#[traced]` function does so only once the process has called a `metrics` function: until then it
//! costs one relaxed atomic load ([`tracking`]), so a process without `metrics` pays nothing more per
//! span. The price is a gap at the start: a `#[traced]` function already running when the first
//! `metrics` call of the process starts (the rest of that sync call, the rest of that poll of an async
//! one) is not the caller of the calls it makes then. Names come from the sites' code locations
//! (`&'static`, nothing copied). A function whose level is compiled out is its plain body: not a caller.

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;
use std::task::{Context as TaskContext, Poll};
use std::time::Instant;

use opentelemetry::metrics::{Counter, Histogram};
use opentelemetry::KeyValue;

use crate::span::code_location::CodeLocation;
use crate::span::Site;

/// The histogram's bucket boundaries, in seconds (autometrics' defaults).
const DURATION_BOUNDARIES: [f64; 14] =
    [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0];

/// Set at the first `#[traced(metrics)]` call of the process, never cleared: from then on every
/// `#[traced]` function is tracked as a caller.
static TRACKING: AtomicBool = AtomicBool::new(false);

thread_local! {
    /// The `#[traced]` function running on this thread, as caller (`None`: none, or not tracked).
    static CURRENT: Cell<Option<&'static CodeLocation>> = const { Cell::new(None) };
}

/// Whether `#[traced]` functions without `metrics` make themselves the caller now.
#[inline]
pub(crate) fn tracking() -> bool {
    TRACKING.load(Ordering::Relaxed)
}

#[cold]
#[inline(never)]
fn start_tracking() {
    TRACKING.store(true, Ordering::Relaxed);
}

/// Makes `caller` the caller of the calls made on this thread until the guard drops.
#[inline]
fn enter(caller: Option<&'static CodeLocation>) -> CallerGuard {
    CallerGuard { previous: CURRENT.try_with(|current| current.replace(caller)).ok().flatten() }
}

/// A sync `#[traced]` body without `metrics`: its function becomes the caller if callers are tracked.
#[inline]
pub(crate) fn enter_if_tracking(site: &'static Site) -> Option<CallerGuard> {
    if tracking() {
        Some(enter(site.code()))
    } else {
        None
    }
}

/// An async `#[traced]` body without `metrics`: its function is the caller during the polls made once
/// callers are tracked.
#[inline]
pub(crate) fn scope_if_tracking<F: Future>(site: &'static Site, future: F) -> InFunction<F> {
    InFunction { caller: site.code(), always: false, inner: future }
}

/// A `#[traced(metrics)]` call site; one `static` per site, next to the span's [`Site`], whose code
/// location names it.
#[derive(Debug)]
pub struct FunctionMetrics {
    site: &'static Site,
    instruments: OnceLock<Instruments>,
}

#[derive(Debug)]
struct Instruments {
    calls: Counter<u64>,
    duration: Histogram<f64>,
}

impl FunctionMetrics {
    /// The metrics of the function at `site`: `function` is the name of its code location inside its
    /// module (`Type::method` in an impl block), `module` its `module_path!()`.
    pub const fn new(site: &'static Site) -> Self {
        Self { site, instruments: OnceLock::new() }
    }

    fn instruments(&self) -> &Instruments {
        self.instruments.get_or_init(|| {
            let meter = opentelemetry::global::meter_with_scope(crate::span::backend::scope());
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
        if !tracking() {
            start_tracking();
        }
        let caller = CURRENT.try_with(Cell::get).ok().flatten();
        FunctionCall { function: self, caller, started: Instant::now(), succeeded: None }
    }

    /// Makes this function the caller of the calls made until the guard drops (a sync body).
    #[inline]
    pub fn enter(&'static self) -> CallerGuard {
        enter(self.site.code())
    }

    /// Makes this function the caller of the calls made whenever `future` is polled (an async body).
    #[inline]
    pub fn scope<F: Future>(&'static self, future: F) -> InFunction<F> {
        InFunction { caller: self.site.code(), always: true, inner: future }
    }
}

/// A call being timed; recorded when dropped (on return, early return or panic alike).
#[derive(Debug)]
#[must_use = "the call is recorded when this drops"]
pub struct FunctionCall {
    function: &'static FunctionMetrics,
    caller: Option<&'static CodeLocation>,
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
        let names = |code: Option<&'static CodeLocation>| code.map_or(("", ""), |code| (code.name(), code.module()));
        let (function, module) = names(self.function.site.code());
        let (caller_function, caller_module) = names(self.caller);
        let result = match self.succeeded {
            Some(true) => "ok",
            Some(false) => "error",
            None => "",
        };
        let labels = [
            KeyValue::new("function", function),
            KeyValue::new("module", module),
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
        let instruments = self.function.instruments();
        let (labels, count) = self.labels();
        instruments.calls.add(1, &labels[..count]);
        instruments.duration.record(seconds, &labels[..2]);
    }
}

/// Restores the previous caller when dropped; see [`FunctionMetrics::enter`].
#[derive(Debug)]
pub struct CallerGuard {
    previous: Option<&'static CodeLocation>,
}

impl Drop for CallerGuard {
    #[inline]
    fn drop(&mut self) {
        let _ = CURRENT.try_with(|current| current.set(self.previous));
    }
}

pin_project_lite::pin_project! {
    /// A future whose polls run with its function as the caller (`always`, or once callers are
    /// tracked); see [`FunctionMetrics::scope`].
    #[derive(Debug)]
    pub struct InFunction<F> {
        caller: Option<&'static CodeLocation>,
        always: bool,
        #[pin]
        inner: F,
    }
}

impl<F: Future> Future for InFunction<F> {
    type Output = F::Output;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let _caller = (*this.always || tracking()).then(|| enter(*this.caller));
        this.inner.poll(cx)
    }
}

#[cfg(test)]
mod tests {
    use opentelemetry::trace::SpanKind;

    use super::*;

    static OUTER_SITE: Site =
        Site::new("outer", SpanKind::Internal).with_code("shop::api", "shop::api::outer", "src/api.rs", 3);
    static OUTER: FunctionMetrics = FunctionMetrics::new(&OUTER_SITE);
    static INNER_SITE: Site =
        Site::new("get", SpanKind::Internal).with_code("shop::store", "shop::store::Store::get", "src/store.rs", 9);
    static INNER: FunctionMetrics = FunctionMetrics::new(&INNER_SITE);
    static PLAIN_SITE: Site =
        Site::new("plain", SpanKind::Internal).with_code("shop::web", "shop::web::handler", "src/web.rs", 5);

    fn pairs(call: &FunctionCall) -> Vec<(String, String)> {
        let (labels, count) = call.labels();
        labels[..count].iter().map(|kv| (kv.key.to_string(), kv.value.to_string())).collect()
    }

    fn caller(call: &FunctionCall) -> (String, String) {
        let pairs = pairs(call);
        (pairs[2].1.clone(), pairs[3].1.clone())
    }

    fn current() -> Option<&'static str> {
        CURRENT.with(Cell::get).map(CodeLocation::name)
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
        assert_eq!(current(), None);
        drop(outside);
    }

    #[test]
    fn once_a_metrics_function_ran_a_plain_traced_function_is_the_caller_and_restores_the_previous_one() {
        drop(INNER.start());
        assert!(tracking(), "set by the first metrics call, for good");
        let _outer = OUTER.enter();
        {
            let _plain = enter_if_tracking(&PLAIN_SITE);
            assert_eq!(current(), Some("handler"));
            assert_eq!(caller(&INNER.start()), ("handler".to_owned(), "shop::web".to_owned()));
        }
        assert_eq!(current(), Some("outer"));
    }

    #[test]
    fn an_async_body_is_the_caller_only_while_it_is_polled() {
        drop(INNER.start());
        let seen = Cell::new(None);
        let body = std::future::poll_fn(|_| {
            seen.set(current());
            Poll::Ready(())
        });
        let mut scoped = std::pin::pin!(scope_if_tracking(&PLAIN_SITE, body));
        assert_eq!(current(), None);
        assert!(scoped.as_mut().poll(&mut TaskContext::from_waker(std::task::Waker::noop())).is_ready());
        assert_eq!((seen.get(), current()), (Some("handler"), None));
    }
}
