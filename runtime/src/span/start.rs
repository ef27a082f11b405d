//! Starting the span of an HTTP request (the server layer's and the client's) on the tracer
//! `#[traced]` uses, so they follow `traced::init()`, a provider installed with
//! [`crate::install_tracer_provider`] and a user-set global provider alike.
//!
//! When `traced` knows the provider's sampler, the span is decided before the SDK sees it, as
//! `#[traced]` spans are (see `span::presample`): a dropped span costs no SDK span, and its attributes
//! are not built at all unless the sampler may read them. The sampler is shown what the SDK would show
//! it: the parent context, the span's name, kind and start attributes (when it may read them), no links.
//!
//! Per-request path, guarded by the `http_overhead` benchmark.

use std::borrow::Cow;
use std::time::SystemTime;

use opentelemetry::trace::{
    Span as _, SpanBuilder, SpanContext, SpanKind, TraceContextExt as _, TraceFlags, TracerProvider as _,
};
use opentelemetry::{Context, KeyValue};

use crate::span::backend::{self, Backend, Installed};
use crate::span::make_current;
use crate::span::presample::{self, Classified, HandedOver, Root};
use crate::span::sampling::Shown;

/// A span about to start: its name and kind, and how to build its start attributes, which only a
/// recorded span (or a sampler that reads them) needs.
#[derive(Debug)]
pub(crate) struct Planned<A> {
    pub(crate) name: Cow<'static, str>,
    pub(crate) kind: SpanKind,
    /// Builds the start attributes. It must not start a span: it may run between the decision and the
    /// SDK's build, which takes the decided ids from this thread.
    pub(crate) attributes: A,
}

/// A started span.
#[derive(Debug)]
pub(crate) enum Started {
    /// Recorded: the context holds the span, started at `start_time` (wall clock; the server layer's
    /// duration follows from it).
    Recording {
        cx: Context,
        #[cfg_attr(not(feature = "axum"), allow(dead_code))]
        start_time: SystemTime,
    },
    /// Not recorded: the context holds the span context to propagate (the sampled flag off), and no
    /// SDK span.
    Unrecorded(Context),
}

#[cfg(feature = "axum")]
impl Started {
    /// When the recorded span started; `None` when it is not recorded.
    pub(crate) fn start_time(&self) -> Option<SystemTime> {
        match self {
            Started::Recording { start_time, .. } => Some(*start_time),
            Started::Unrecorded(_) => None,
        }
    }

    pub(crate) fn into_context(self) -> Context {
        match self {
            Started::Recording { cx, .. } | Started::Unrecorded(cx) => cx,
        }
    }
}

/// Starts the span `planned` describes as a child of `parent`; `None` when telemetry is disabled
/// (`OTEL_SDK_DISABLED=true`): the caller then records nothing.
#[inline]
pub(crate) fn start_with_parent<A>(planned: Planned<A>, parent: &Context) -> Option<Started>
where
    A: FnOnce() -> Vec<KeyValue>,
{
    backend::with_backend(|backend| match backend {
        Backend::Disabled => None,
        Backend::Sdk(installed) => Some(start_on_sdk(installed, planned, parent)),
        Backend::Global => Some(start_on_global(planned, parent)),
    })
}

#[inline]
fn start_on_sdk<A>(installed: &Installed, planned: Planned<A>, parent: &Context) -> Started
where
    A: FnOnce() -> Vec<KeyValue>,
{
    let Planned { name, kind, attributes } = planned;
    let Some(sampler) = &installed.sampler else {
        return build(&installed.tracer, SpanBuilder::from_name(name).with_kind(kind), attributes(), parent);
    };
    // The attributes are built before the decision only for a sampler that may read them.
    let (shown_attributes, attributes) =
        if sampler.reads_shown(parent) { (Some(attributes()), None) } else { (None, Some(attributes)) };
    let shown =
        Shown { name: &name, kind: &kind, attributes: shown_attributes.as_deref().unwrap_or_default(), links: &[] };
    let _handed_over = match (presample::classify(sampler, installed.ids.is_some(), parent, &shown), &installed.ids) {
        (Classified::DroppedChild, ids) => {
            return Started::Unrecorded(dropped_child(parent, ids.as_ref().map(|ids| ids.generate_span_id())));
        }
        (Classified::KeptChild, _) => Some(HandedOver::kept_child()),
        (Classified::Root, Some(ids)) => match presample::decide_root(sampler, ids, parent, &shown) {
            Root::Dropped(root) => return Started::Unrecorded(root.context(parent)),
            Root::DroppedWithTraceState(cx) => return Started::Unrecorded(cx),
            Root::Kept(handed_over) => Some(handed_over),
        },
        _ => None,
    };
    let attributes = match (shown_attributes, attributes) {
        (Some(built), _) => built,
        (None, Some(attributes)) => attributes(),
        (None, None) => Vec::new(),
    };
    build(&installed.tracer, SpanBuilder::from_name(name).with_kind(kind), attributes, parent)
}

/// The context of a span the sampler dropped under an unsampled parent, as the SDK makes it: the
/// parent's trace id and trace state, a span id of its own (when `traced` can draw one; else the
/// parent's context stays current, as for `#[traced]`), no flags. Not cold: under `parentbased_*` it is
/// every request whose caller did not sample.
fn dropped_child(parent: &Context, span_id: Option<opentelemetry::trace::SpanId>) -> Context {
    let Some(span_id) = span_id else { return parent.clone() };
    let parent_span = parent.span();
    let parent_span_context = parent_span.span_context();
    let span_context = SpanContext::new(
        parent_span_context.trace_id(),
        span_id,
        TraceFlags::default(),
        false,
        parent_span_context.trace_state().clone(),
    );
    parent.with_remote_span_context(span_context)
}

/// Builds the span on `tracer` with `attributes`, stamped with the wall clock now.
#[inline]
fn build<T>(tracer: &T, mut builder: SpanBuilder, attributes: Vec<KeyValue>, parent: &Context) -> Started
where
    T: opentelemetry::trace::Tracer,
    T::Span: Send + Sync + 'static,
{
    let start_time = SystemTime::now();
    builder.start_time = Some(start_time);
    if !attributes.is_empty() {
        builder.attributes = Some(attributes);
    }
    let span = tracer.build_with_context(builder, parent);
    if span.is_recording() {
        Started::Recording { cx: parent.with_span(span), start_time }
    } else {
        Started::Unrecorded(make_current(parent, span))
    }
}

#[cold]
#[inline(never)]
fn start_on_global<A>(planned: Planned<A>, parent: &Context) -> Started
where
    A: FnOnce() -> Vec<KeyValue>,
{
    let tracer = opentelemetry::global::tracer_provider().tracer_with_scope(backend::scope());
    // Without a provider this is a no-op span carrying the parent's context, so propagation still works.
    let Planned { name, kind, attributes } = planned;
    build(&tracer, SpanBuilder::from_name(name).with_kind(kind), attributes(), parent)
}

#[cfg(all(test, feature = "testing"))]
mod tests {
    use std::cell::Cell;
    use std::sync::{Arc, Mutex, PoisonError};

    use opentelemetry::trace::{Link, SpanId, TraceId, TraceState};
    use opentelemetry_sdk::trace::{Sampler, SamplingDecision, SamplingResult, ShouldSample};

    use super::*;
    use crate::testing::capture_with_sampler;

    fn planned(built: &Cell<usize>) -> Planned<impl FnOnce() -> Vec<KeyValue> + '_> {
        Planned {
            name: Cow::Borrowed("GET /items/{id}"),
            kind: SpanKind::Server,
            attributes: move || {
                built.set(built.get() + 1);
                vec![KeyValue::new("url.path", "/items/7"), KeyValue::new("http.request.method", "GET")]
            },
        }
    }

    fn remote_parent(flags: TraceFlags) -> Context {
        let state = TraceState::from_key_value([("vendor", "x")]).expect("valid trace state");
        let span_context = SpanContext::new(TraceId::from(0xabc), SpanId::from(0xdef), flags, true, state);
        Context::new().with_remote_span_context(span_context)
    }

    #[test]
    fn a_dropped_root_costs_no_sdk_span_and_no_attributes() {
        let capture = capture_with_sampler(Sampler::TraceIdRatioBased(0.0));
        let built = Cell::new(0);
        let Some(Started::Unrecorded(cx)) = start_with_parent(planned(&built), &Context::new()) else {
            panic!("a ratio of 0 drops every root");
        };
        let span_context = cx.span().span_context().clone();
        assert!(span_context.is_valid() && !span_context.is_sampled(), "{span_context:?}");
        assert_eq!(built.get(), 0, "no attributes for a span nobody records");
        drop(cx);
        assert!(capture.spans().is_empty());
    }

    #[test]
    fn an_unsampled_remote_parent_gets_a_dropped_child_of_its_own() {
        let capture = capture_with_sampler(Sampler::ParentBased(Box::new(Sampler::AlwaysOn)));
        let built = Cell::new(0);
        let parent = remote_parent(TraceFlags::default());
        let Some(Started::Unrecorded(cx)) = start_with_parent(planned(&built), &parent) else {
            panic!("the parent's decision is kept");
        };
        let (span, parent_span) = (cx.span(), parent.span());
        let (child, parent) = (span.span_context(), parent_span.span_context());
        assert_eq!(child.trace_id(), parent.trace_id());
        assert_ne!(child.span_id(), parent.span_id(), "a span id of its own, as the SDK draws");
        assert!(child.is_valid() && !child.is_sampled() && !child.is_remote());
        assert_eq!(child.trace_state().get("vendor"), Some("x"));
        assert_eq!(built.get(), 0);
        assert!(capture.spans().is_empty());
    }

    #[test]
    fn a_kept_span_has_its_attributes_and_its_start_time() {
        let capture = capture_with_sampler(Sampler::ParentBased(Box::new(Sampler::AlwaysOn)));
        let built = Cell::new(0);
        let parent = remote_parent(TraceFlags::SAMPLED);
        let Some(Started::Recording { cx, start_time }) = start_with_parent(planned(&built), &parent) else {
            panic!("a sampled parent's child is recorded");
        };
        cx.span().end();
        let span = capture.span("GET /items/{id}");
        assert_eq!(built.get(), 1);
        assert_eq!(span.start_time, start_time);
        assert_eq!(span.parent_span_id, SpanId::from(0xdef));
        assert_eq!(span.span_kind, SpanKind::Server);
        assert!(span.attributes.contains(&KeyValue::new("url.path", "/items/7")), "{:?}", span.attributes);
    }

    /// A span's name, kind and attributes, as a sampler saw them.
    type Seen = (String, SpanKind, Vec<KeyValue>);

    /// Drops (or keeps) every span and remembers what it was shown.
    #[derive(Debug, Clone, Default)]
    struct Reader(Arc<Mutex<Vec<Seen>>>, bool);

    impl ShouldSample for Reader {
        fn should_sample(
            &self,
            parent: Option<&Context>,
            _: TraceId,
            name: &str,
            kind: &SpanKind,
            attributes: &[KeyValue],
            _: &[Link],
        ) -> SamplingResult {
            let seen = (name.to_owned(), kind.clone(), attributes.to_vec());
            self.0.lock().unwrap_or_else(PoisonError::into_inner).push(seen);
            let trace_state = parent.map(|cx| cx.span().span_context().trace_state().clone()).unwrap_or_default();
            let decision = if self.1 { SamplingDecision::RecordAndSample } else { SamplingDecision::Drop };
            SamplingResult { decision, attributes: Vec::new(), trace_state }
        }
    }

    #[test]
    fn a_sampler_that_may_read_the_attributes_is_shown_them() {
        let reader = Reader::default();
        let capture = capture_with_sampler(reader.clone());
        let built = Cell::new(0);
        let started = start_with_parent(planned(&built), &Context::new());
        assert!(matches!(started, Some(Started::Unrecorded(_))), "{started:?}");
        let seen = reader.0.lock().unwrap_or_else(PoisonError::into_inner).clone();
        let expected = vec![KeyValue::new("url.path", "/items/7"), KeyValue::new("http.request.method", "GET")];
        assert_eq!(seen, vec![("GET /items/{id}".to_owned(), SpanKind::Server, expected)], "asked once");
        assert_eq!(built.get(), 1);
        assert!(capture.spans().is_empty());
    }

    #[test]
    fn a_sampler_keeping_the_child_of_an_unsampled_caller_is_asked_once() {
        let reader = Reader(Arc::default(), true);
        let capture = capture_with_sampler(reader.clone());
        let built = Cell::new(0);
        let Some(Started::Recording { cx, .. }) =
            start_with_parent(planned(&built), &remote_parent(TraceFlags::default()))
        else {
            panic!("the sampler keeps it");
        };
        cx.span().end();
        assert_eq!(
            reader.0.lock().unwrap_or_else(PoisonError::into_inner).len(),
            1,
            "asked once, not again by the SDK"
        );
        assert_eq!(built.get(), 1);
        let span = capture.span("GET /items/{id}");
        assert_eq!((span.span_context.trace_id(), span.parent_span_id), (TraceId::from(0xabc), SpanId::from(0xdef)));
    }
}
