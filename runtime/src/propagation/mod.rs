//! Trace context across process boundaries: [`inject`] into and [`extract`] from `http::HeaderMap`s,
//! for clients and queues the layer and the instrumented client do not cover.
//!
//! Both use the global text map propagator (`OTEL_PROPAGATORS`, `tracecontext,baggage` by default once
//! `traced::init()` ran). Set one with [`set_propagators`] or [`set_text_map_propagator`] rather than
//! `opentelemetry::global::set_text_map_propagator`: it is then cached per thread, so requests take no
//! lock to read it (the global one sits behind a `RwLock`). When every header its extraction reads is
//! known (the propagators [`set_propagators`] installs, the SDK's `TraceContextPropagator` and
//! `BaggagePropagator`), a request that carries none of them keeps its context without the propagator
//! running; any other propagator always runs.
//!
//! A malformed `traceparent` (wrong length, bad hex, version `ff`, all-zero ids, repeated, ...) is ignored
//! before the propagator sees it: the request starts a fresh trace instead of joining a bogus one.
//! [`propagator`] builds what `OTEL_PROPAGATORS` names: the SDK's W3C propagators held to the
//! specifications' limits (`tracestate` 32 members / 512 characters, `baggage` 8,192 bytes / 180
//! members, valid values passed on unchanged, no empty header ever sent) and B3 (`b3`, `b3multi`).
//!
//! ```
//! use opentelemetry::trace::TraceContextExt as _;
//!
//! traced::propagation::set_text_map_propagator(
//!     opentelemetry_sdk::propagation::TraceContextPropagator::new(),
//! );
//! let mut headers = http::HeaderMap::new();
//! headers.insert(
//!     "traceparent",
//!     http::HeaderValue::from_static("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
//! );
//! let cx = traced::propagation::extract(&headers);
//! assert_eq!(cx.span().span_context().trace_id().to_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
//!
//! let mut outgoing = http::HeaderMap::new();
//! traced::propagation::inject_context(&cx, &mut outgoing);
//! assert!(outgoing["traceparent"].to_str().unwrap().starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"));
//! ```

use std::any::TypeId;
use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use http::header::{HeaderMap, HeaderName, HeaderValue};
use opentelemetry::propagation::{Extractor, Injector, TextMapCompositePropagator, TextMapPropagator};
use opentelemetry::Context;
use opentelemetry_sdk::propagation::{BaggagePropagator, TraceContextPropagator};

use crate::telemetry::settings::PropagatorKind;

mod b3;
mod w3c;

pub(crate) use w3c::with_received_baggage;

type SharedPropagator = Arc<dyn TextMapPropagator + Send + Sync>;

const TRACEPARENT: &str = "traceparent";
const TRACESTATE: &str = "tracestate";
const BAGGAGE: &str = "baggage";
// Typed names for the fields every request is asked for: a `&str` lookup parses the name each time.
const TRACEPARENT_NAME: HeaderName = HeaderName::from_static(TRACEPARENT);
const TRACESTATE_NAME: HeaderName = HeaderName::from_static(TRACESTATE);
const BAGGAGE_NAME: HeaderName = HeaderName::from_static(BAGGAGE);

static GENERATION: AtomicU64 = AtomicU64::new(0);
static INSTALLED: RwLock<Option<Installed>> = RwLock::new(None);

// Hand-written twin of the tracer cache in `crate::span::backend` (same generation scheme): keep the two
// alike until one generic version matches them in `span_cost`.
thread_local! {
    static CACHED: RefCell<(u64, Option<Installed>)> = const { RefCell::new((u64::MAX, None)) };
}

/// The propagator [`set_text_map_propagator`] or [`set_propagators`] installed.
#[derive(Clone)]
struct Installed {
    propagator: SharedPropagator,
    /// Every header the propagator's extraction reads, when `traced` knows them: without any of them
    /// it returns the context it was given. `None` for any other propagator (`fields()` names what a
    /// propagator injects, and nothing stops one from reading more).
    reads: Option<Arc<[HeaderName]>>,
}

impl Installed {
    fn new(propagator: SharedPropagator, reads: Option<&[&str]>) -> Self {
        let reads = reads.and_then(|names| {
            names.iter().map(|name| HeaderName::from_bytes(name.as_bytes()).ok()).collect::<Option<Arc<[HeaderName]>>>()
        });
        Self { propagator, reads }
    }
}

/// The headers the extraction of a propagator of type `P` reads, for the ones `traced` knows.
fn known_reads<P: 'static>() -> Option<&'static [&'static str]> {
    let id = TypeId::of::<P>();
    if id == TypeId::of::<TraceContextPropagator>() {
        Some(w3c::TraceContext::READS)
    } else if id == TypeId::of::<BaggagePropagator>() {
        Some(w3c::Baggage::READS)
    } else {
        None
    }
}

/// Sets `propagator` as the global text map propagator and as the one `traced` reads without a lock.
pub fn set_text_map_propagator<P>(propagator: P)
where
    P: TextMapPropagator + Send + Sync + 'static,
{
    install(Installed::new(Arc::new(propagator), known_reads::<P>()));
}

/// Sets the propagator `OTEL_PROPAGATORS` names ([`propagator`]`(kinds)`), as `traced::init()` does.
/// Unlike [`set_text_map_propagator`] with the same propagator, `traced` then knows every header it
/// reads, so a request that carries none of them skips it.
///
/// ```
/// use traced::telemetry::PropagatorKind;
///
/// traced::propagation::set_propagators(&[PropagatorKind::TraceContext, PropagatorKind::Baggage]);
/// ```
pub fn set_propagators(kinds: &[PropagatorKind]) {
    let reads: Vec<&str> = kinds.iter().flat_map(|kind| reads_of(*kind)).copied().collect();
    install(Installed::new(Arc::new(propagator(kinds)), Some(&reads)));
}

/// The headers the extraction of `kind` reads.
fn reads_of(kind: PropagatorKind) -> &'static [&'static str] {
    match kind {
        PropagatorKind::TraceContext => w3c::TraceContext::READS,
        PropagatorKind::Baggage => w3c::Baggage::READS,
        PropagatorKind::B3 | PropagatorKind::B3Multi => b3::B3Propagator::READS,
    }
}

fn install(installed: Installed) {
    opentelemetry::global::set_text_map_propagator(SharedGlobal(installed.propagator.clone()));
    if let Ok(mut slot) = INSTALLED.write() {
        *slot = Some(installed);
    }
    GENERATION.fetch_add(1, Ordering::AcqRel);
}

/// Runs `f` with the propagator in use: ours when [`set_text_map_propagator`] installed one, else the
/// global one. Per-request path (guarded by the `http_overhead` benchmark): no lock once cached.
pub(crate) fn with_propagator<R>(f: impl FnOnce(&dyn TextMapPropagator) -> R) -> R {
    with_installed(|propagator, _| f(propagator))
}

/// [`with_propagator`], also handing `f` the headers the propagator reads when they are known.
fn with_installed<R>(f: impl FnOnce(&dyn TextMapPropagator, Option<&[HeaderName]>) -> R) -> R {
    let generation = GENERATION.load(Ordering::Acquire);
    let mut f = Some(f);
    let result = CACHED
        .try_with(|cell| {
            if cell.borrow().0 != generation {
                // A propagator that itself propagates may hold a borrow: it then reads the global one.
                let Ok(mut stale) = cell.try_borrow_mut() else { return None };
                let replaced = std::mem::replace(&mut *stale, (generation, read_installed()));
                drop(stale);
                // Out of the borrow (as in `crate::span::backend`): the replaced propagator's drop may
                // propagate.
                drop(replaced);
            }
            let cached = cell.try_borrow().ok()?;
            let installed = cached.1.as_ref()?;
            let f = f.take()?;
            Some(f(&*installed.propagator, installed.reads.as_deref()))
        })
        .ok()
        .flatten();
    match (result, f) {
        (Some(result), _) => result,
        (None, Some(f)) => with_global(|propagator| f(propagator, None)),
        (None, None) => ran_without_result(),
    }
}

#[cold]
fn read_installed() -> Option<Installed> {
    INSTALLED.read().ok().and_then(|installed| installed.clone())
}

#[cold]
fn with_global<R>(f: impl FnOnce(&dyn TextMapPropagator) -> R) -> R {
    let mut f = Some(f);
    // The global getter calls its closure exactly once.
    opentelemetry::global::get_text_map_propagator(|propagator| f.take().map(|f| f(propagator)))
        .unwrap_or_else(ran_without_result)
}

#[cold]
fn ran_without_result<R>() -> R {
    unreachable!("the propagator closure ran without returning a value")
}

/// The installed propagator as the global one (the global setter wants an owned value).
#[derive(Debug)]
struct SharedGlobal(SharedPropagator);

impl TextMapPropagator for SharedGlobal {
    fn inject_context(&self, cx: &Context, injector: &mut dyn Injector) {
        self.0.inject_context(cx, injector);
    }

    fn extract_with_context(&self, cx: &Context, extractor: &dyn Extractor) -> Context {
        self.0.extract_with_context(cx, extractor)
    }

    fn fields(&self) -> opentelemetry::propagation::text_map_propagator::FieldIter<'_> {
        self.0.fields()
    }
}

/// The propagator `OTEL_PROPAGATORS` names: the composite of `kinds`, in the order given (what
/// `traced::init()` installs).
///
/// ```
/// use traced::telemetry::PropagatorKind;
///
/// traced::propagation::set_text_map_propagator(traced::propagation::propagator(&[
///     PropagatorKind::TraceContext,
///     PropagatorKind::Baggage,
/// ]));
/// ```
pub fn propagator(kinds: &[PropagatorKind]) -> TextMapCompositePropagator {
    let propagators = kinds
        .iter()
        .map(|kind| -> Box<dyn TextMapPropagator + Send + Sync> {
            match kind {
                PropagatorKind::TraceContext => Box::new(w3c::TraceContext::new()),
                PropagatorKind::Baggage => Box::new(w3c::Baggage::new()),
                PropagatorKind::B3 => Box::new(b3::B3Propagator::single()),
                PropagatorKind::B3Multi => Box::new(b3::B3Propagator::multi()),
            }
        })
        .collect();
    TextMapCompositePropagator::new(propagators)
}

/// Writes the current context (trace context, baggage) into `headers`.
pub fn inject(headers: &mut HeaderMap) {
    Context::map_current(|cx| inject_context(cx, headers));
}

/// Writes `cx` (trace context, baggage) into `headers`.
pub fn inject_context(cx: &Context, headers: &mut HeaderMap) {
    with_propagator(|propagator| propagator.inject_context(cx, &mut HeaderInjector(headers)));
}

/// The context `headers` carry, as a child of the current one; use it as the parent of the span
/// that handles the message.
pub fn extract(headers: &HeaderMap) -> Context {
    Context::map_current(|cx| extract_with_context(cx, headers))
}

/// The context `headers` carry, on top of `cx`.
pub fn extract_with_context(cx: &Context, headers: &HeaderMap) -> Context {
    with_installed(|propagator, reads| extract_with(propagator, reads, cx, headers))
}

/// What `propagator` extracts from `headers` on top of `cx`; `reads`, when known, are all the headers
/// it reads: with none of them there, it would return `cx` unchanged and is not asked.
fn extract_with(
    propagator: &dyn TextMapPropagator,
    reads: Option<&[HeaderName]>,
    cx: &Context,
    headers: &HeaderMap,
) -> Context {
    if reads.is_some_and(|reads| !carries_any(headers, reads)) {
        return cx.clone();
    }
    // A repeated `traceparent` is malformed too (W3C test suite: `test_traceparent_duplicated`):
    // which of two callers to follow is not ours to guess.
    let mut traceparents = headers.get_all(&TRACEPARENT_NAME).iter();
    let first = traceparents.next();
    let malformed = match (first, traceparents.next()) {
        (Some(value), None) => !value.to_str().is_ok_and(is_well_formed_traceparent),
        (Some(_), Some(_)) => true,
        (None, _) => false,
    };
    let extractor = HeaderExtractor { headers, traceparent: first, hide_trace_context: malformed };
    propagator.extract_with_context(cx, &extractor)
}

/// Whether `headers` has a field named in `names`. A request has a few fields: comparing their names
/// is cheaper than hashing each of `names` for a lookup.
fn carries_any(headers: &HeaderMap, names: &[HeaderName]) -> bool {
    if headers.keys_len() <= 16 {
        headers.keys().any(|key| names.contains(key))
    } else {
        names.iter().any(|name| headers.contains_key(name))
    }
}

/// Writes propagation fields into a header map; values that are not valid header values are dropped,
/// and an empty value removes the field rather than sending it empty.
struct HeaderInjector<'a>(&'a mut HeaderMap);

impl Injector for HeaderInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        let Ok(name) = HeaderName::from_bytes(key.as_bytes()) else { return };
        if value.trim().is_empty() {
            self.0.remove(name);
            return;
        }
        if let Ok(value) = HeaderValue::try_from(value) {
            self.0.insert(name, value);
        }
    }
}

/// Reads propagation fields from a header map, hiding a malformed trace context.
struct HeaderExtractor<'a> {
    headers: &'a HeaderMap,
    /// The first `traceparent` field, found already: every propagator asks for it again.
    traceparent: Option<&'a HeaderValue>,
    hide_trace_context: bool,
}

impl HeaderExtractor<'_> {
    fn hidden(&self, key: &str) -> bool {
        self.hide_trace_context && (key.eq_ignore_ascii_case(TRACEPARENT) || key.eq_ignore_ascii_case(TRACESTATE))
    }
}

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        if self.hidden(key) {
            return None;
        }
        let value = match key {
            TRACEPARENT => self.traceparent,
            TRACESTATE => self.headers.get(&TRACESTATE_NAME),
            BAGGAGE => self.headers.get(&BAGGAGE_NAME),
            _ => self.headers.get(key),
        };
        value.and_then(|value| value.to_str().ok())
    }

    /// Every field of a repeated header (W3C combines `tracestate` and `baggage` fields); values that
    /// are not text are skipped.
    fn get_all(&self, key: &str) -> Option<Vec<&str>> {
        if self.hidden(key) {
            return None;
        }
        let all = match key {
            TRACESTATE => self.headers.get_all(&TRACESTATE_NAME),
            BAGGAGE => self.headers.get_all(&BAGGAGE_NAME),
            _ => self.headers.get_all(key),
        };
        let values: Vec<&str> = all.iter().filter_map(|value| value.to_str().ok()).collect();
        (!values.is_empty()).then_some(values)
    }

    fn keys(&self) -> Vec<&str> {
        self.headers.keys().map(HeaderName::as_str).filter(|key| !self.hidden(key)).collect()
    }
}

/// Whether `value` has the exact shape W3C Trace Context requires: `vv-<32 hex>-<16 hex>-ff`, lowercase,
/// version not `ff`, non-zero ids; version `00` has nothing after the flags, later versions may
/// append `-...`. Propagators are more lenient (short ids parse as numbers), so we check first.
pub(crate) fn is_well_formed_traceparent(value: &str) -> bool {
    let value = value.trim_matches(|c| c == ' ' || c == '\t');
    let bytes = value.as_bytes();
    if bytes.len() < 55 {
        return false;
    }
    let (head, rest) = bytes.split_at(55);
    let version = &head[0..2];
    let trace_id = &head[3..35];
    let span_id = &head[36..52];
    let flags = &head[53..55];
    let dashes = head[2] == b'-' && head[35] == b'-' && head[52] == b'-';
    let fields_hex = [version, trace_id, span_id, flags].iter().all(|field| field.iter().all(is_lower_hex));
    let tail_ok = match version {
        b"00" => rest.is_empty(),
        _ => rest.is_empty() || rest[0] == b'-',
    };
    dashes
        && fields_hex
        && version != b"ff"
        && tail_ok
        && trace_id.iter().any(|&b| b != b'0')
        && span_id.iter().any(|&b| b != b'0')
}

fn is_lower_hex(byte: &u8) -> bool {
    matches!(byte, b'0'..=b'9' | b'a'..=b'f')
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use opentelemetry::baggage::BaggageExt as _;

    use super::*;

    const VALID: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn accepts_the_w3c_examples() {
        assert!(is_well_formed_traceparent(VALID));
        assert!(is_well_formed_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"));
        assert!(is_well_formed_traceparent("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-future"));
        assert!(is_well_formed_traceparent(" 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\t"));
    }

    #[test]
    fn rejects_malformed_values() {
        for value in [
            "",
            "00",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b-01",
            "00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01",
            "00_4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7_01",
            "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x",
            "00-+bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        ] {
            assert!(!is_well_formed_traceparent(value), "{value:?} was accepted");
        }
    }

    #[test]
    fn a_malformed_traceparent_hides_tracestate_too() {
        let mut headers = HeaderMap::new();
        headers.insert(TRACEPARENT, HeaderValue::from_static("00-zz-00f067aa0ba902b7-01"));
        headers.insert(TRACESTATE, HeaderValue::from_static("vendor=1"));
        headers.insert(BAGGAGE, HeaderValue::from_static("user=1"));
        let extractor = HeaderExtractor {
            headers: &headers,
            traceparent: headers.get(&TRACEPARENT_NAME),
            hide_trace_context: true,
        };
        assert_eq!(extractor.get("traceparent"), None);
        assert_eq!(extractor.get("tracestate"), None);
        assert_eq!(extractor.get("baggage"), Some("user=1"));
        assert_eq!(extractor.keys(), vec!["baggage"]);
    }

    #[test]
    fn the_injector_skips_values_that_are_not_header_values() {
        let mut headers = HeaderMap::new();
        let mut injector = HeaderInjector(&mut headers);
        injector.set("traceparent", VALID.to_owned());
        injector.set("bad", "line\nbreak".to_owned());
        assert_eq!(headers.len(), 1);
        assert_eq!(headers["traceparent"], VALID);
    }

    #[test]
    fn propagators_follow_the_list() {
        let mut fields: Vec<String> =
            propagator(&[PropagatorKind::B3, PropagatorKind::TraceContext]).fields().map(str::to_owned).collect();
        fields.sort();
        assert_eq!(fields, ["b3", "traceparent", "tracestate"]);
        assert_eq!(propagator(&[]).fields().count(), 0);
    }

    #[test]
    fn an_empty_value_is_never_sent_and_removes_a_stale_one() {
        let mut headers = HeaderMap::new();
        headers.insert(TRACESTATE, HeaderValue::from_static("stale=1"));
        let mut injector = HeaderInjector(&mut headers);
        injector.set("tracestate", String::new());
        injector.set("baggage", " ".to_owned());
        assert!(headers.is_empty(), "{headers:?}");
    }

    /// Counts extractions; continues the trace of `x-custom-trace`, a header it does not list.
    #[derive(Debug, Default)]
    struct Unlisted(std::sync::atomic::AtomicUsize);

    impl TextMapPropagator for Unlisted {
        fn inject_context(&self, _: &Context, _: &mut dyn Injector) {}

        fn extract_with_context(&self, cx: &Context, extractor: &dyn Extractor) -> Context {
            use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt as _, TraceFlags, TraceId, TraceState};
            self.0.fetch_add(1, Ordering::Relaxed);
            let Some(trace_id) = extractor.get("x-custom-trace").and_then(|hex| TraceId::from_hex(hex).ok()) else {
                return cx.clone();
            };
            let parent = SpanContext::new(trace_id, SpanId::from(7), TraceFlags::SAMPLED, true, TraceState::NONE);
            cx.with_remote_span_context(parent)
        }

        fn fields(&self) -> opentelemetry::propagation::text_map_propagator::FieldIter<'_> {
            opentelemetry::propagation::text_map_propagator::FieldIter::new(&[])
        }
    }

    fn remote_trace_id(cx: &Context) -> Option<String> {
        use opentelemetry::trace::TraceContextExt as _;
        let span = cx.span();
        let context = span.span_context();
        context.is_remote().then(|| context.trace_id().to_string())
    }

    fn names(names: &[&'static str]) -> Vec<HeaderName> {
        names.iter().map(|name| HeaderName::from_static(name)).collect()
    }

    #[test]
    fn a_propagator_whose_reads_are_known_is_skipped_only_without_them() {
        let counting = Unlisted::default();
        let reads = names(&["x-custom-trace", "x-other"]);
        let mut headers = HeaderMap::new();
        headers.insert("host", HeaderValue::from_static("example.com"));
        let cx = extract_with(&counting, Some(&reads), &Context::new(), &headers);
        assert_eq!(counting.0.load(Ordering::Relaxed), 0, "skipped without any of its headers");
        assert_eq!(remote_trace_id(&cx), None);

        headers.insert("x-custom-trace", HeaderValue::from_static("4bf92f3577b34da6a3ce929d0e0e4736"));
        let cx = extract_with(&counting, Some(&reads), &Context::new(), &headers);
        assert_eq!(counting.0.load(Ordering::Relaxed), 1);
        assert_eq!(remote_trace_id(&cx).as_deref(), Some("4bf92f3577b34da6a3ce929d0e0e4736"));
    }

    #[test]
    fn a_propagator_whose_reads_are_unknown_always_runs() {
        assert!(known_reads::<Unlisted>().is_none());
        assert!(known_reads::<TextMapCompositePropagator>().is_none(), "its parts are unknown");
        let counting = Unlisted::default();
        let mut headers = HeaderMap::new();
        headers.insert("x-custom-trace", HeaderValue::from_static("4bf92f3577b34da6a3ce929d0e0e4736"));
        let cx = extract_with(&counting, None, &Context::new(), &headers);
        assert_eq!(remote_trace_id(&cx).as_deref(), Some("4bf92f3577b34da6a3ce929d0e0e4736"));
        extract_with(&counting, None, &Context::new(), &HeaderMap::new());
        assert_eq!(counting.0.load(Ordering::Relaxed), 2);
    }

    #[test]
    fn many_fields_are_searched_by_name() {
        let reads = names(&["traceparent", "baggage"]);
        let mut headers = HeaderMap::new();
        for index in 0..40 {
            headers.insert(HeaderName::try_from(format!("x-filler-{index}")).expect("name"), HeaderValue::from(index));
        }
        assert!(!carries_any(&headers, &reads));
        headers.insert("baggage", HeaderValue::from_static("k=v"));
        assert!(carries_any(&headers, &reads));
        headers.clear();
        headers.insert("baggage", HeaderValue::from_static("k=v"));
        assert!(carries_any(&headers, &reads));
    }

    /// Answers every key with a valid value of its propagator and notes the keys asked for.
    struct Recording<'a> {
        values: &'a HashMap<&'static str, &'static str>,
        asked: RefCell<Vec<String>>,
    }

    impl Extractor for Recording<'_> {
        fn get(&self, key: &str) -> Option<&str> {
            self.asked.borrow_mut().push(key.to_ascii_lowercase());
            self.values.get(key.to_ascii_lowercase().as_str()).copied()
        }

        fn get_all(&self, key: &str) -> Option<Vec<&str>> {
            self.get(key).map(|value| vec![value])
        }

        fn keys(&self) -> Vec<&str> {
            self.asked.borrow_mut().push("<every key>".to_owned());
            self.values.keys().copied().collect()
        }
    }

    #[test]
    fn the_known_reads_cover_every_header_each_propagator_asks_for() {
        let valid: HashMap<&str, &str> = HashMap::from([
            (TRACEPARENT, VALID),
            (TRACESTATE, "vendor=1"),
            (BAGGAGE, "user=1"),
            ("b3", "4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1"),
            ("x-b3-traceid", "4bf92f3577b34da6a3ce929d0e0e4736"),
            ("x-b3-spanid", "00f067aa0ba902b7"),
            ("x-b3-sampled", "1"),
            ("x-b3-flags", "1"),
        ]);
        let b3_multi_only: HashMap<&str, &str> =
            valid.iter().filter(|(key, _)| **key != "b3").map(|(key, value)| (*key, *value)).collect();
        let none = HashMap::new();
        let mut cases: Vec<(Box<dyn TextMapPropagator>, &[&str])> = vec![
            (Box::new(TraceContextPropagator::new()), known_reads::<TraceContextPropagator>().expect("known")),
            (Box::new(BaggagePropagator::new()), known_reads::<BaggagePropagator>().expect("known")),
        ];
        for kind in [PropagatorKind::TraceContext, PropagatorKind::Baggage, PropagatorKind::B3, PropagatorKind::B3Multi]
        {
            cases.push((Box::new(propagator(&[kind])), reads_of(kind)));
        }
        for (propagator, reads) in &cases {
            let mut found = false;
            for values in [&valid, &b3_multi_only, &none] {
                let extractor = Recording { values, asked: RefCell::new(Vec::new()) };
                let cx = propagator.extract_with_context(&Context::new(), &extractor);
                found |= remote_trace_id(&cx).is_some() || !cx.baggage().is_empty();
                for key in extractor.asked.into_inner() {
                    assert!(reads.contains(&key.as_str()), "{propagator:?} read {key}, not in {reads:?}");
                }
            }
            assert!(found, "{propagator:?} found what the headers carry");
        }
    }

    #[test]
    fn repeated_fields_are_all_read() {
        let mut headers = HeaderMap::new();
        headers.append(TRACESTATE, HeaderValue::from_static("a=1"));
        headers.append(TRACESTATE, HeaderValue::from_static("b=2"));
        let extractor = HeaderExtractor {
            headers: &headers,
            traceparent: headers.get(&TRACEPARENT_NAME),
            hide_trace_context: false,
        };
        assert_eq!(extractor.get_all("tracestate"), Some(vec!["a=1", "b=2"]));
        assert_eq!(extractor.get_all("baggage"), None);
    }
}
