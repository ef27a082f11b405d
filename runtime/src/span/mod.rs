//! The per-call path behind `#[traced]`: start a span, make it current, end it.
//!
//! Hot path, guarded by the `span_cost` benchmark: no formatting, no locking, and nothing at all when
//! telemetry is disabled. A span that the sampler drops still becomes current (so its children inherit
//! the decision and outgoing requests propagate the unsampled trace context).

pub(crate) mod attribute;
pub(crate) mod backend;
pub(crate) mod code_location;
pub(crate) mod current;
pub(crate) mod function_metrics;
pub(crate) mod id_generator;
pub(crate) mod level;
pub(crate) mod origin;
pub(crate) mod presample;
pub(crate) mod recycled_attributes;
#[cfg(all(test, feature = "testing"))]
mod recycling_tests;
pub(crate) mod sampling;
#[cfg(any(feature = "axum", feature = "reqwest"))]
pub(crate) mod start;

use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};

use opentelemetry::trace::{
    Span as _, SpanBuilder, SpanKind, Status, TraceContextExt, Tracer as _, TracerProvider as _,
};
use opentelemetry::{Context, KeyValue};

use crate::span::attribute::AttributeValue;
use crate::span::backend::Backend;
use crate::span::code_location::CodeLocation;
use crate::span::function_metrics::{CallerGuard, InFunction};
use crate::span::level::Level;
use crate::span::origin::{Links, Parent};
use crate::span::presample::{Classified, DroppedRoot, HandedOver, Root};
use crate::span::sampling::{SharedSampler, Shown};

/// What a `#[traced]` call site knows at compile time; one `static` per site.
#[derive(Debug)]
pub struct Site {
    name: &'static str,
    kind: SpanKind,
    level: Level,
    code: Option<CodeLocation>,
}

impl Site {
    /// A call site whose spans are named `name` with the given kind, at level `info`.
    pub const fn new(name: &'static str, kind: SpanKind) -> Self {
        Self { name, kind, level: Level::Info, code: None }
    }

    /// This site with its code location (`code.function.name`, `code.file.path`, `code.line.number`):
    /// `function` is `module::path::function`, `module` the `module_path!()` it starts with.
    pub const fn with_code(self, module: &'static str, function: &'static str, file: &'static str, line: u32) -> Self {
        Self { code: Some(CodeLocation::new(module, function, file, line)), ..self }
    }

    /// Where the site's function is, if the macro said.
    #[inline]
    pub(crate) fn code(&self) -> Option<&CodeLocation> {
        self.code.as_ref()
    }

    /// This site at `level` (`#[traced(level = ..)]`).
    pub const fn at_level(self, level: Level) -> Self {
        Self { level, ..self }
    }
}

/// The attributes known at span start, collected before sampling so samplers see them.
#[derive(Debug, Default)]
pub struct Attributes {
    items: Vec<KeyValue>,
}

impl Attributes {
    /// Room for `capacity` attributes; the macro knows how many it will push.
    #[inline]
    pub fn with_capacity(capacity: usize) -> Self {
        Self { items: recycled_attributes::with_capacity(capacity) }
    }

    /// Records `value` under `key`; a value that converts to nothing (`None`) records nothing.
    #[inline]
    pub fn push<V: AttributeValue + ?Sized>(&mut self, key: &'static str, value: &V) {
        if let Some(value) = value.to_otel_value() {
            if self.items.capacity() == 0 {
                self.items = recycled_attributes::with_capacity(1);
            }
            self.items.push(KeyValue::new(key, value));
        }
    }

    /// Room for `more` attributes: the first take a recycled `Vec` when one is at hand.
    #[inline]
    fn reserve(&mut self, more: usize) {
        if self.items.capacity() == 0 {
            self.items = recycled_attributes::with_capacity(more);
        } else {
            self.items.reserve(more);
        }
    }

    /// Whether these attributes own no memory: then a span never built forgets them rather than drop
    /// them, which skips the out-of-line drop of an empty `Vec` (24 instructions a call on the unsampled
    /// paths, callgrind). Checked in place: moving them first costs more than the drop.
    #[inline]
    fn own_nothing(&self) -> bool {
        self.items.capacity() == 0
    }

    /// The attributes, for the span's builder (no drop left to run: nothing goes back to the cache).
    #[inline]
    fn into_items(self) -> Vec<KeyValue> {
        let mut this = std::mem::ManuallyDrop::new(self);
        std::mem::take(&mut this.items)
    }
}

impl Drop for Attributes {
    /// Attributes of a span never built (the sampler dropped it) leave their `Vec` for the next span.
    #[inline]
    fn drop(&mut self) {
        if self.items.capacity() > 0 {
            recycled_attributes::keep(std::mem::take(&mut self.items));
        }
    }
}

/// A started span (or nothing, when telemetry is off). Dropping it ends the span; dropping it while
/// the thread panics first marks it ERROR.
#[derive(Debug)]
#[must_use = "the span ends when this handle is dropped"]
pub struct SpanHandle {
    held: Held,
}

/// What a [`SpanHandle`] holds.
#[derive(Debug)]
enum Held {
    Nothing,
    /// The context made current at each entry, holding the span (recording or not).
    Context(Context),
    /// A root `traced` dropped before the SDK: its context is built when entered (see [`DroppedRoot`]);
    /// nothing to end.
    DroppedRoot(DroppedRoot),
}

impl SpanHandle {
    /// A handle over `cx` (nothing when `None`).
    #[inline]
    fn holding(cx: Option<Context>) -> Self {
        match cx {
            Some(cx) => Self { held: Held::Context(cx) },
            None => Self::none(),
        }
    }
}

/// Starts a span for `site`, with the attributes `attributes` pushes, as a child of the current context.
#[inline]
pub fn start_span(site: &'static Site, attributes: impl FnOnce(&mut Attributes)) -> SpanHandle {
    if backend::is_disabled() || !site.level.enabled() {
        return SpanHandle::none();
    }
    backend::with_backend(|backend| match backend {
        Backend::Disabled => SpanHandle::none(),
        Backend::Sdk(installed) => {
            let attributes = collect(attributes);
            let shown = Shown { name: site.name, kind: &site.kind, attributes: &attributes.items, links: &[] };
            let parent = match &installed.sampler {
                Some(sampler) => {
                    Context::map_current(|parent| presample::classify(sampler, installed.ids.is_some(), parent, &shown))
                }
                None => Classified::Sdk,
            };
            let handed_over = match (parent, &installed.sampler, &installed.ids) {
                (Classified::DroppedChild, ..) => {
                    if attributes.own_nothing() {
                        std::mem::forget(attributes);
                    }
                    return SpanHandle::none();
                }
                (Classified::KeptChild, ..) => Some(HandedOver::kept_child()),
                (Classified::Root, Some(sampler), Some(ids)) => {
                    match Context::map_current(|parent| presample::decide_root(sampler, ids, parent, &shown)) {
                        Root::Dropped(root) => {
                            if attributes.own_nothing() {
                                std::mem::forget(attributes);
                            }
                            return SpanHandle { held: Held::DroppedRoot(root) };
                        }
                        Root::DroppedWithTraceState(cx) => return SpanHandle { held: Held::Context(cx) },
                        Root::Kept(handed_over) => Some(handed_over),
                    }
                }
                _ => None,
            };
            let cx = Context::map_current(|parent| {
                let mut attributes = attributes;
                if handed_over.is_some() || sdk_records_child(installed.sampler.as_ref(), parent) {
                    site.make_room_for_code(&mut attributes);
                }
                let mut span = installed.tracer.build_with_context(builder(site, attributes), parent);
                site.record_code(&mut span);
                make_current(parent, span)
            });
            SpanHandle { held: Held::Context(cx) }
        }
        Backend::Global => {
            // Nothing current records (as when the global answered "no provider" before): the no-op
            // span would only copy the current context, so leaving it current is the same.
            if backend::skips_global() && Context::map_current(|parent| !parent.span().is_recording()) {
                return SpanHandle::none();
            }
            start_on_global(site, attributes)
        }
    })
}

/// Starts a span for `site` under the parent `parent` returns (`parent = ..`, `root`), linked to the
/// span contexts `links` pushes. Parent, attributes and links are evaluated before the sampler decides,
/// and not at all when telemetry is disabled.
///
/// Off the plain `#[traced]` path: the sampler is left to the SDK here, which sees the links, and
/// the span is always made current (a dropped one as its bare span context), so its children follow
/// the parent given rather than whatever was current.
#[inline(never)]
pub fn start_span_with(
    site: &'static Site,
    parent: impl FnOnce() -> Parent,
    attributes: impl FnOnce(&mut Attributes),
    links: impl FnOnce(&mut Links),
) -> SpanHandle {
    if backend::is_disabled() || !site.level.enabled() {
        return SpanHandle::none();
    }
    backend::with_backend(|backend| {
        let tracer = match backend {
            Backend::Disabled => return SpanHandle::none(),
            Backend::Sdk(installed) => Some(&installed.tracer),
            Backend::Global => None,
        };
        let mut builder = builder(site, collect(attributes));
        let mut collected = Links::default();
        links(&mut collected);
        if !collected.items.is_empty() {
            builder.links = Some(collected.items);
        }
        parent().with_context(|parent, over| {
            let cx = match tracer {
                Some(tracer) => {
                    let mut span = tracer.build_with_context(builder, parent);
                    site.record_code(&mut span);
                    Some(make_current(over, span))
                }
                None => {
                    let tracer = opentelemetry::global::tracer_provider().tracer_with_scope(backend::scope());
                    let mut span = tracer.build_with_context(builder, parent);
                    site.record_code(&mut span);
                    // A no-op provider with no valid parent: nothing to make current.
                    span.span_context().is_valid().then(|| make_current(over, span))
                }
            };
            SpanHandle::holding(cx)
        })
    })
}

#[cold]
#[inline(never)]
fn start_on_global(site: &'static Site, attributes: impl FnOnce(&mut Attributes)) -> SpanHandle {
    let tracer = opentelemetry::global::tracer_provider().tracer_with_scope(backend::scope());
    let builder = builder(site, collect(attributes));
    let cx = Context::map_current(|parent| {
        let mut span = tracer.build_with_context(builder, parent);
        site.record_code(&mut span);
        // The API's no-op tracer (no provider) hands back the parent's span context; an SDK draws a new
        // span id even for a span it drops (or, shut down, an empty context, which also records nothing).
        let parent_span = parent.span();
        backend::global_answered(
            !span.is_recording()
                && span.span_context() == parent_span.span_context()
                && !parent.is_telemetry_suppressed(),
        );
        if !span.span_context().is_valid() && !parent.has_active_span() {
            // A no-op provider: nothing to make current, nothing to end.
            return None;
        }
        Some(make_current(parent, span))
    });
    SpanHandle::holding(cx)
}

impl Site {
    #[inline]
    fn record_code<S: opentelemetry::trace::Span>(&self, span: &mut S) {
        if let Some(code) = &self.code {
            code.record(span);
        }
    }

    /// Room in `attributes` for the code attributes [`Self::record_code`] adds to a span the SDK will
    /// record, so that the span's `Vec` is a recycled one and does not grow (the SDK moves the
    /// builder's `Vec` into the span; the attributes and the limits applied stay the SDK's own).
    #[inline]
    fn make_room_for_code(&self, attributes: &mut Attributes) {
        if let Some(code) = &self.code {
            let count = code.recorded_count();
            if count > 0 {
                attributes.reserve(count);
            }
        }
    }
}

/// Whether the SDK will record the span it builds under `parent` (its sampler left to it): under the
/// SDK's `ParentBased` sampler a child of a sampled parent always is, local or remote.
#[inline]
fn sdk_records_child(sampler: Option<&SharedSampler>, parent: &Context) -> bool {
    sampler.is_some_and(SharedSampler::drops_children_of_unsampled_local_parents)
        && parent.span().span_context().is_sampled()
        && !parent.is_telemetry_suppressed()
}

/// The context with `span` current. A span the sampler dropped is kept as its bare span context:
/// children and outgoing requests still see the (unsampled) trace, and the context costs one
/// allocation instead of two (no boxed span inside it).
#[inline]
pub(crate) fn make_current<S>(parent: &Context, span: S) -> Context
where
    S: opentelemetry::trace::Span + Send + Sync + 'static,
{
    if span.is_recording() {
        parent.with_span(span)
    } else {
        parent.with_remote_span_context(span.span_context().clone())
    }
}

#[inline]
fn collect(attributes: impl FnOnce(&mut Attributes)) -> Attributes {
    let mut collected = Attributes::default();
    attributes(&mut collected);
    collected
}

#[inline]
fn builder(site: &'static Site, attributes: Attributes) -> SpanBuilder {
    let mut builder = SpanBuilder::from_name(Cow::Borrowed(site.name)).with_kind(site.kind.clone());
    let items = attributes.into_items();
    // Empty with room: reserved for the code attributes.
    if items.capacity() > 0 {
        builder.attributes = Some(items);
    }
    builder
}

impl SpanHandle {
    /// A handle that records nothing.
    pub const fn none() -> Self {
        Self { held: Held::Nothing }
    }

    /// Makes this span current until the guard drops (sync functions; each poll of an async one). A
    /// dropped root's context is built for each entry and moved into the context stack: its one
    /// allocation, and no reference count shared with the handle.
    #[inline]
    pub fn enter(&self) -> Option<opentelemetry::ContextGuard> {
        match &self.held {
            Held::Nothing => None,
            Held::Context(cx) => Some(cx.clone().attach()),
            Held::DroppedRoot(root) => Some(enter_dropped_root(*root)),
        }
    }

    /// Makes this span current whenever `future` is polled (async functions).
    #[inline]
    pub fn instrument<F: Future>(&self, future: F) -> Instrumented<'_, F> {
        Instrumented::new(Some(self), future)
    }

    /// This handle with a dropped root's context built now, over the current context: for a handle
    /// entered later, under whatever context is current then (a dependency's span).
    #[cfg(feature = "axum")]
    pub(crate) fn with_context_now(mut self) -> Self {
        if let Held::DroppedRoot(root) = self.held {
            self.held = Held::Context(root.context_here());
        }
        self
    }

    /// The context holding this span, to hand to work that outlives the call (a dropped root's is built
    /// now, over the current context).
    pub fn context(&self) -> Option<Context> {
        match &self.held {
            Held::Nothing => None,
            Held::Context(cx) => Some(cx.clone()),
            Held::DroppedRoot(root) => Some(root.context_here()),
        }
    }

    /// Marks the span failed with `error.type` (an `Err` came back).
    #[cold]
    pub fn fail(&self, error_type: &'static str) {
        if let Held::Context(cx) = &self.held {
            let span = cx.span();
            if span.is_recording() {
                span.set_attribute(KeyValue::new(
                    opentelemetry_semantic_conventions::attribute::ERROR_TYPE,
                    error_type,
                ));
                span.set_status(Status::error(""));
            }
        }
    }
}

impl Drop for SpanHandle {
    #[inline]
    fn drop(&mut self) {
        // A dropped root has nothing to end (and no clock to read).
        if let Held::Context(cx) = &self.held {
            let span = cx.span();
            if span.is_recording() {
                if std::thread::panicking() {
                    mark_panicked(&span);
                }
                span.end();
            }
        }
    }
}

/// Chooses at compile time whether a `#[traced]` site starts spans: `Gate<false>` (a level compiled out
/// by a `max_level_*` feature) never calls `start` and hands out [`NoSpan`], which has nothing to drop,
/// nor is its function ever a metrics caller.
#[derive(Debug)]
pub struct Gate<const ON: bool>;

/// See [`Gate`].
pub trait Gated {
    /// What the function body holds while it runs.
    type Handle: SpanSlot;
    /// What a sync body without `metrics` holds while its function is the metrics caller.
    type Caller;
    /// An async body without `metrics`, polled with its function as the metrics caller.
    type InCaller<F: Future>: Future<Output = F::Output>;

    /// The handle, from `start` when spans are compiled in.
    fn start(start: impl FnOnce() -> SpanHandle) -> Self::Handle;

    /// Makes the function at `site` the caller of `#[traced(metrics)]` functions until the value drops,
    /// once callers are tracked (see `function_metrics`).
    fn enter_caller(site: &'static Site) -> Self::Caller;

    /// Makes the function at `site` the caller of `#[traced(metrics)]` functions whenever `future` is
    /// polled, once callers are tracked.
    fn in_caller<F: Future>(site: &'static Site, future: F) -> Self::InCaller<F>;
}

impl Gated for Gate<true> {
    type Handle = SpanHandle;
    type Caller = Option<CallerGuard>;
    type InCaller<F: Future> = InFunction<F>;

    #[inline]
    fn start(start: impl FnOnce() -> SpanHandle) -> SpanHandle {
        start()
    }

    #[inline]
    fn enter_caller(site: &'static Site) -> Option<CallerGuard> {
        function_metrics::enter_if_tracking(site)
    }

    #[inline]
    fn in_caller<F: Future>(site: &'static Site, future: F) -> InFunction<F> {
        function_metrics::scope_if_tracking(site, future)
    }
}

impl Gated for Gate<false> {
    type Handle = NoSpan;
    type Caller = ();
    type InCaller<F: Future> = F;

    #[inline(always)]
    fn start(_start: impl FnOnce() -> SpanHandle) -> NoSpan {
        NoSpan
    }

    #[inline(always)]
    fn enter_caller(_site: &'static Site) {}

    #[inline(always)]
    fn in_caller<F: Future>(_site: &'static Site, future: F) -> F {
        future
    }
}

/// The handle of a span compiled out.
#[derive(Debug)]
pub struct NoSpan;

/// A span handle, or nothing.
pub trait SpanSlot {
    /// The started span, if any.
    fn span(&self) -> Option<&SpanHandle>;
}

impl SpanSlot for SpanHandle {
    #[inline(always)]
    fn span(&self) -> Option<&SpanHandle> {
        Some(self)
    }
}

impl SpanSlot for NoSpan {
    #[inline(always)]
    fn span(&self) -> Option<&SpanHandle> {
        None
    }
}

/// The started span of `slot`, if any.
#[inline(always)]
pub fn span_of<S: SpanSlot>(slot: &S) -> Option<&SpanHandle> {
    slot.span()
}

/// [`SpanHandle::enter`] for the span of `slot`, if any.
#[inline]
pub fn span_enter<S: SpanSlot>(slot: &S) -> Option<opentelemetry::ContextGuard> {
    slot.span().and_then(SpanHandle::enter)
}

/// [`SpanHandle::instrument`] for the span of `slot`, if any.
#[inline]
pub fn span_instrument<S: SpanSlot, F: Future>(slot: &S, future: F) -> Instrumented<'_, F> {
    Instrumented::new(slot.span(), future)
}

/// Kept out of line: the allocation and the context stack stay off the paths with nothing to enter.
#[inline(never)]
fn enter_dropped_root(root: DroppedRoot) -> opentelemetry::ContextGuard {
    root.context_here().attach()
}

#[cold]
fn mark_panicked(span: &opentelemetry::trace::SpanRef<'_>) {
    span.set_status(Status::error("panicked"));
}

pin_project_lite::pin_project! {
    /// A future polled with its span current; see [`SpanHandle::instrument`]. Dropped before it
    /// completed (cancelled), it drops the future with the span current too, so what the future's
    /// locals do on drop (a rollback, a log line) belongs to the span.
    #[derive(Debug)]
    pub struct Instrumented<'a, F> {
        span: Option<&'a SpanHandle>,
        // `None` only while dropping.
        #[pin]
        inner: Option<F>,
        done: bool,
    }

    impl<'a, F> PinnedDrop for Instrumented<'a, F> {
        fn drop(this: Pin<&mut Self>) {
            let mut this = this.project();
            if !*this.done {
                let _guard = this.span.and_then(SpanHandle::enter);
                this.inner.set(None);
            }
        }
    }
}

impl<'a, F> Instrumented<'a, F> {
    #[inline]
    fn new(span: Option<&'a SpanHandle>, future: F) -> Self {
        Self { span, inner: Some(future), done: false }
    }
}

impl<F: Future> Future for Instrumented<'_, F> {
    type Output = F::Output;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let Some(inner) = this.inner.as_pin_mut() else { return Poll::Pending };
        let _guard = this.span.and_then(SpanHandle::enter);
        let polled = inner.poll(cx);
        *this.done = polled.is_ready();
        polled
    }
}
