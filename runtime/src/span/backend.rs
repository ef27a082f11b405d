//! Which tracer `#[traced]` spans come from.
//!
//! * `Global` (the default): spans ask `opentelemetry::global`, so a user who installed a tracer
//!   provider themselves gets spans with no further step. A thread whose spans found no provider there
//!   skips asking for a while (see [`skips_global`]).
//! * `Sdk`: `traced::init()` or [`crate::install_tracer_provider`] handed us the SDK provider, so spans
//!   are built on the concrete SDK tracer (no boxed tracer, no boxed span per call).
//! * `Disabled`: `OTEL_SDK_DISABLED=true`; a span costs one atomic load.
//!
//! The installed tracer is cached per thread and re-read only when the generation changes, so the
//! per-call path takes no lock (guarded by the `span_cost` benchmark).

use std::cell::{Cell, RefCell};
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, RwLock, Weak};

use opentelemetry::trace::TracerProvider as _;
use opentelemetry::InstrumentationScope;
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider};

use crate::span::id_generator::SharedIdGenerator;
use crate::span::sampling::SharedSampler;

const MODE_GLOBAL: u8 = 0;
const MODE_DISABLED: u8 = 1;
const MODE_SDK: u8 = 2;

static MODE: AtomicU8 = AtomicU8::new(MODE_GLOBAL);
static GENERATION: AtomicU64 = AtomicU64::new(0);
static INSTALLED: RwLock<Option<Installed>> = RwLock::new(None);

// Hand-written twin of the propagator cache in `crate::propagation` (same generation scheme): keep the two
// alike until one generic version matches them in `span_cost`.
thread_local! {
    static CACHED: RefCell<(u64, Option<Installed>)> = const { RefCell::new((u64::MAX, None)) };
}

/// The SDK tracer `#[traced]` uses, and its provider's sampler and id generator when known.
#[derive(Clone, Debug)]
pub(crate) struct Installed {
    pub(crate) tracer: SdkTracer,
    pub(crate) sampler: Option<SharedSampler>,
    /// Known only with the sampler: then roots are sampled before the SDK (see `span::presample`).
    pub(crate) ids: Option<SharedIdGenerator>,
    /// Alive while `opentelemetry::global` still holds the provider we set: when the user replaces
    /// it with `set_tracer_provider`, the global drops our [`GlobalProvider`] and spans follow theirs.
    still_global: Weak<()>,
}

impl Installed {
    /// Whether our provider is still the global one (one atomic load).
    #[inline]
    pub(crate) fn is_still_global(&self) -> bool {
        self.still_global.strong_count() > 0
    }
}

/// What `traced` sets as the global tracer provider: the SDK provider, plus the token whose drop tells
/// `#[traced]` that someone else's provider replaced it.
#[derive(Debug)]
struct GlobalProvider {
    provider: SdkTracerProvider,
    _token: Arc<()>,
}

impl opentelemetry::trace::TracerProvider for GlobalProvider {
    type Tracer = SdkTracer;

    fn tracer_with_scope(&self, scope: InstrumentationScope) -> SdkTracer {
        self.provider.tracer_with_scope(scope)
    }
}

/// Where the next span comes from.
pub(crate) enum Backend<'a> {
    Global,
    Disabled,
    Sdk(&'a Installed),
}

/// The instrumentation scope of every span `traced` creates.
pub(crate) fn scope() -> InstrumentationScope {
    InstrumentationScope::builder("traced").with_version(env!("CARGO_PKG_VERSION")).build()
}

#[inline]
pub(crate) fn is_disabled() -> bool {
    MODE.load(Ordering::Relaxed) == MODE_DISABLED
}

/// Runs `f` with the backend for this call; hot path (see the `span_cost` benchmark).
#[inline]
pub(crate) fn with_backend<R>(f: impl FnOnce(Backend<'_>) -> R) -> R {
    match MODE.load(Ordering::Acquire) {
        MODE_DISABLED => f(Backend::Disabled),
        MODE_SDK => with_sdk_tracer(f),
        _ => f(Backend::Global),
    }
}

#[inline]
fn with_sdk_tracer<R>(f: impl FnOnce(Backend<'_>) -> R) -> R {
    let generation = GENERATION.load(Ordering::Acquire);
    let mut f = Some(f);
    let cached = CACHED.try_with(|cell| {
        if cell.borrow().0 != generation {
            // A nested call (a span processor creating a span) may hold a borrow: it then uses a copy.
            let Ok(mut stale) = cell.try_borrow_mut() else { return None };
            let replaced = std::mem::replace(&mut *stale, (generation, read_installed()));
            drop(stale);
            // Out of the borrow: a provider whose last handle this was shuts down here, and its
            // processors and exporters may start spans as they do.
            drop(replaced);
        }
        let cached = cell.borrow();
        let f = f.take()?;
        Some(match &cached.1 {
            Some(installed) if installed.is_still_global() => f(Backend::Sdk(installed)),
            _ => f(Backend::Global),
        })
    });
    match (cached, f) {
        (Ok(Some(result)), _) => result,
        (_, Some(f)) => match read_installed() {
            Some(installed) if installed.is_still_global() => f(Backend::Sdk(&installed)),
            _ => f(Backend::Global),
        },
        // Unreachable: once the closure takes `f` it runs it and returns `Some`.
        (_, None) => unreachable_backend(),
    }
}

/// The most `#[traced]` calls in a row a thread skips `opentelemetry::global` for, once its spans found
/// no provider there: 2 after the first such answer, then 4, 8, ... up to this. A provider set later
/// with `opentelemetry::global::set_tracer_provider` therefore gets a thread's spans from its 1,025th
/// call after the install at the latest (from the first on a thread that had not found the global
/// empty); `traced::init()` and `install_tracer_provider*` take effect at every thread's next call.
pub(crate) const GLOBAL_RECHECK_CALLS: u32 = 1024;

/// What this thread learnt of `opentelemetry::global` under the backend `generation`.
#[derive(Clone, Copy)]
struct GlobalAnswers {
    generation: u64,
    /// Calls left that skip the global.
    skip: u32,
    /// No-provider answers in a row.
    streak: u32,
}

thread_local! {
    static GLOBAL_ANSWERS: Cell<GlobalAnswers> =
        const { Cell::new(GlobalAnswers { generation: u64::MAX, skip: 0, streak: 0 }) };
}

/// Whether this call skips `opentelemetry::global`, which held no provider the last times this thread
/// asked (and nothing was installed through `traced` since): no lock, no boxed tracer or span.
#[inline]
pub(crate) fn skips_global() -> bool {
    GLOBAL_ANSWERS
        .try_with(|answers| {
            let mut now = answers.get();
            if now.skip == 0 || now.generation != GENERATION.load(Ordering::Acquire) {
                return false;
            }
            now.skip -= 1;
            answers.set(now);
            true
        })
        .unwrap_or(false)
}

/// Records what a span built on `opentelemetry::global` showed: whether it held no provider.
#[cold]
pub(crate) fn global_answered(no_provider: bool) {
    let _ = GLOBAL_ANSWERS.try_with(|answers| {
        answers.set(answers.get().after(GENERATION.load(Ordering::Acquire), no_provider));
    });
}

impl GlobalAnswers {
    /// What a thread knows after one more answer under `generation`.
    fn after(self, generation: u64, no_provider: bool) -> Self {
        if !no_provider {
            return Self { generation, skip: 0, streak: 0 };
        }
        let streak = if self.generation == generation { self.streak + 1 } else { 1 };
        let streak = streak.min(GLOBAL_RECHECK_CALLS.trailing_zeros());
        Self { generation, skip: 1 << streak, streak }
    }
}

#[cold]
fn unreachable_backend<R>() -> R {
    unreachable!("the backend closure ran without returning a value")
}

#[cold]
fn read_installed() -> Option<Installed> {
    INSTALLED.read().ok().and_then(|installed| installed.clone())
}

fn set(mode: u8, next: Option<Installed>) {
    if let Ok(mut installed) = INSTALLED.write() {
        *installed = next;
    }
    GENERATION.fetch_add(1, Ordering::AcqRel);
    MODE.store(mode, Ordering::Release);
}

/// Routes `#[traced]` spans to `provider` and sets it as the global tracer provider.
///
/// `traced::init()` does this for you. Call it when you build the SDK provider yourself: spans then
/// skip the `opentelemetry::global` indirection (which boxes the tracer and every span).
///
/// Replacing it later with `opentelemetry::global::set_tracer_provider` works as usual: `#[traced]`
/// notices that the global provider changed and follows it (through `opentelemetry::global` again).
pub fn install_tracer_provider(provider: &SdkTracerProvider) {
    install_sdk(provider, None, None);
}

/// Like [`install_tracer_provider`], for a provider built with `.with_sampler(sampler.clone())`.
///
/// Knowing the sampler lets `#[traced]` skip the child of an unsampled parent with one sampler call
/// and no allocation (`traced::init()` does this for you).
pub fn install_tracer_provider_with_sampler(provider: &SdkTracerProvider, sampler: SharedSampler) {
    install_sdk(provider, Some(sampler), None);
}

/// Like [`install_tracer_provider_with_sampler`], for a provider built with
/// `.with_sampler(sampler.clone()).with_id_generator(ids.clone())` (`traced::init()` does this for you).
///
/// Knowing the id generator too lets `#[traced]` sample a root span itself, with the trace id the SDK
/// would have drawn: an unsampled root then becomes current as its bare span context (new trace and
/// span ids, sampled flag off, so children and outgoing `traceparent` headers carry the decision)
/// without building an SDK span, and a sampled one is handed to the SDK with its ids and decision, so
/// the sampler still runs once per span.
pub fn install_tracer_provider_with_sampler_and_ids(
    provider: &SdkTracerProvider,
    sampler: SharedSampler,
    ids: SharedIdGenerator,
) {
    install_sdk(provider, Some(sampler), Some(ids));
}

/// Sets `provider` as the global tracer provider and routes `#[traced]` spans to its tracer directly,
/// for as long as it stays the global one. `sampler` and `ids` must be the provider's own, when known.
pub(crate) fn install_sdk(
    provider: &SdkTracerProvider,
    sampler: Option<SharedSampler>,
    ids: Option<SharedIdGenerator>,
) {
    let token = Arc::new(());
    let still_global = Arc::downgrade(&token);
    opentelemetry::global::set_tracer_provider(GlobalProvider { provider: provider.clone(), _token: token });
    let ids = ids.filter(|_| sampler.is_some());
    set(MODE_SDK, Some(Installed { tracer: provider.tracer_with_scope(scope()), sampler, ids, still_global }));
}

/// Makes every `#[traced]` span a no-op (`OTEL_SDK_DISABLED=true`).
pub(crate) fn install_disabled() {
    set(MODE_DISABLED, None);
}

/// Goes back to asking `opentelemetry::global` on every span.
pub(crate) fn install_global() {
    set(MODE_GLOBAL, None);
}

/// The backend in place at some moment, to be put back later.
#[cfg(feature = "testing")]
#[derive(Debug)]
pub(crate) struct Snapshot {
    mode: u8,
    installed: Option<Installed>,
}

/// What `#[traced]` spans go to now (see [`restore`]).
#[cfg(feature = "testing")]
pub(crate) fn snapshot() -> Snapshot {
    Snapshot { mode: MODE.load(Ordering::Acquire), installed: read_installed() }
}

/// Routes spans where they went when `snapshot` was taken.
#[cfg(feature = "testing")]
pub(crate) fn restore(snapshot: &Snapshot) {
    set(snapshot.mode, snapshot.installed.clone());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_global_is_skipped_longer_after_each_empty_answer_and_asked_again_at_once_otherwise() {
        let mut answers = GlobalAnswers { generation: u64::MAX, skip: 0, streak: 0 };
        let mut skips = Vec::new();
        for _ in 0..12 {
            answers = answers.after(7, true);
            skips.push(answers.skip);
        }
        assert_eq!(skips, [2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 1024, 1024]);
        assert_eq!(answers.after(7, false).skip, 0, "a provider answered: ask every call");
        assert_eq!(answers.after(8, true).skip, 2, "something was installed through `traced` meanwhile");
        assert_eq!(answers.after(7, false).after(7, true).skip, 2);
    }

    /// Starts a span when its provider shuts down (an exporter or processor instrumented itself).
    #[cfg(feature = "testing")]
    #[derive(Debug)]
    struct StartsSpanAtShutdown;

    #[cfg(feature = "testing")]
    impl opentelemetry_sdk::trace::SpanProcessor for StartsSpanAtShutdown {
        fn on_start(&self, _span: &mut opentelemetry_sdk::trace::Span, _cx: &opentelemetry::Context) {}

        fn on_end(&self, _span: opentelemetry_sdk::trace::SpanData) {}

        fn force_flush(&self) -> opentelemetry_sdk::error::OTelSdkResult {
            Ok(())
        }

        fn shutdown_with_timeout(&self, _timeout: std::time::Duration) -> opentelemetry_sdk::error::OTelSdkResult {
            drop(crate::span::start_span(&AT_SHUTDOWN, |_| {}));
            Ok(())
        }
    }

    #[cfg(feature = "testing")]
    static AT_SHUTDOWN: crate::span::Site =
        crate::span::Site::new("at shutdown", opentelemetry::trace::SpanKind::Internal);

    #[cfg(feature = "testing")]
    #[test]
    fn a_provider_whose_last_handle_a_thread_drops_as_it_follows_a_new_one_may_start_spans_as_it_shuts_down() {
        use opentelemetry_sdk::trace::InMemorySpanExporter;

        let _turn = crate::testing::without_provider();
        let exporter = InMemorySpanExporter::default();
        let sent = exporter.clone();
        // On a thread of its own, whose tracer cache ends up holding the old provider's last handle.
        let thread = std::thread::spawn(move || {
            let old = SdkTracerProvider::builder().with_span_processor(StartsSpanAtShutdown).build();
            install_tracer_provider(&old);
            drop(crate::span::start_span(&AT_SHUTDOWN, |_| {}));
            let new = SdkTracerProvider::builder().with_simple_exporter(sent).build();
            install_tracer_provider(&new);
            drop(old);
            // Follows the new provider: the old one shuts down here and starts a span.
            drop(crate::span::start_span(&AT_SHUTDOWN, |_| {}));
            new
        });
        let new = thread.join().expect("no panic while the old provider shuts down");
        assert_eq!(exporter.get_finished_spans().expect("exported").len(), 2, "both reach the new provider");
        drop(new);
    }
}
