//! Where a `#[traced]` span comes from, when the user says: `parent = expr`, `root`, `links(expr, ...)`.
//!
//! The macro passes the user's expressions through the traits below, so the accepted types are decided
//! here (not by the shape of the tokens) and a value of any other type is a compile error at the user's
//! expression, naming the accepted types.

use opentelemetry::baggage::{Baggage, BaggageExt as _};
use opentelemetry::trace::{Link, SpanContext, TraceContextExt as _};
use opentelemetry::Context;

/// The parent of a span started with an explicit `parent = ..` or `root`.
#[derive(Debug)]
pub enum Parent {
    /// The current context (`parent = None`).
    Current,
    /// A new trace, whatever is current (`root`). Baggage and other context values are kept.
    Root,
    /// This context's span (`parent = &cx`, `parent = cx`).
    Context(Context),
    /// This span context, on top of the current context (`parent = span_context`).
    SpanContext(SpanContext),
}

impl Parent {
    /// Runs `f` with the context the span starts under (what the sampler, the span processors and the SDK
    /// see) and the context it becomes current over (whose values its function's body sees): the same
    /// one but for `root`.
    #[inline]
    pub(crate) fn with_context<R>(self, f: impl FnOnce(&Context, &Context) -> R) -> R {
        match self {
            Parent::Current => Context::map_current(|cx| f(cx, cx)),
            Parent::Context(cx) => f(&cx, &cx),
            Parent::Root => Context::map_current(|current| f(&without_span(current), current)),
            Parent::SpanContext(span_context) => {
                let cx = Context::map_current(|cx| cx.with_remote_span_context(span_context));
                f(&cx, &cx)
            }
        }
    }
}

/// A context with no span at all, carrying `current`'s baggage and telemetry suppression. Not
/// `current` with an invalid span context: the SDK's `ParentBased` sampler takes any active span for a
/// parent, an invalid one for an unsampled parent, and would drop every root. (The API gives no way to
/// take the span out of a context and keep its other values: those stay with the span's body.)
fn without_span(current: &Context) -> Context {
    let baggage = current.baggage();
    let root = if baggage.is_empty() {
        Context::new()
    } else {
        let copied: Baggage =
            baggage.iter().map(|(key, (value, metadata))| (key.clone(), (value.clone(), metadata.clone()))).collect();
        crate::propagation::with_received_baggage(current, Context::new().with_baggage(copied))
    };
    if current.is_telemetry_suppressed() {
        root.with_telemetry_suppressed()
    } else {
        root
    }
}

/// What `#[traced(parent = ..)]` accepts. Taken by reference, so `parent = cx` leaves `cx` to the body.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be the parent of a span",
    label = "this is not a parent context",
    note = "`parent = ..` takes `&opentelemetry::Context`, `opentelemetry::Context`, \
            `opentelemetry::trace::SpanContext`, `&SpanContext`, or an `Option` of those (`None`: the current context)"
)]
pub trait SpanParent {
    /// The parent this value designates.
    fn parent(&self) -> Parent;
}

impl SpanParent for Context {
    fn parent(&self) -> Parent {
        Parent::Context(self.clone())
    }
}

impl SpanParent for SpanContext {
    /// An invalid one (a message that carried no trace) designates no span: a new trace, as for `root`.
    /// On top of the current context it would be an unsampled parent, whose children `ParentBased`
    /// samplers drop.
    fn parent(&self) -> Parent {
        if self.is_valid() {
            Parent::SpanContext(self.clone())
        } else {
            Parent::Root
        }
    }
}

impl SpanParent for &Context {
    fn parent(&self) -> Parent {
        (*self).parent()
    }
}

impl SpanParent for &SpanContext {
    fn parent(&self) -> Parent {
        (*self).parent()
    }
}

impl SpanParent for Option<Context> {
    fn parent(&self) -> Parent {
        self.as_ref().map_or(Parent::Current, SpanParent::parent)
    }
}

impl SpanParent for Option<SpanContext> {
    fn parent(&self) -> Parent {
        self.as_ref().map_or(Parent::Current, SpanParent::parent)
    }
}

impl SpanParent for Option<&Context> {
    fn parent(&self) -> Parent {
        self.map_or(Parent::Current, SpanParent::parent)
    }
}

impl SpanParent for Option<&SpanContext> {
    fn parent(&self) -> Parent {
        self.map_or(Parent::Current, SpanParent::parent)
    }
}

/// The links of a span, collected before sampling so samplers see them.
#[derive(Debug, Default)]
pub struct Links {
    pub(crate) items: Vec<Link>,
}

impl Links {
    /// Room for `capacity` links; the macro knows how many it will push.
    #[inline]
    pub fn with_capacity(capacity: usize) -> Self {
        Self { items: Vec::with_capacity(capacity) }
    }

    /// Links the span to `link` (taken by reference: `links(sc)` leaves `sc` to the body); an invalid
    /// span context or `None` adds nothing.
    #[inline]
    pub fn push<L: SpanLink + ?Sized>(&mut self, link: &L) {
        if let Some(span_context) = link.span_context().filter(|span_context| span_context.is_valid()) {
            self.items.push(Link::with_context(span_context.clone()));
        }
    }
}

/// What `#[traced(links(..))]` accepts.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a span link",
    label = "this is not a span context",
    note = "`links(..)` takes `opentelemetry::trace::SpanContext`, `&SpanContext`, `Option<SpanContext>` \
            or `Option<&SpanContext>` (invalid ones and `None` are skipped)"
)]
pub trait SpanLink {
    /// The span context to link to, if any.
    fn span_context(&self) -> Option<&SpanContext>;
}

impl SpanLink for SpanContext {
    fn span_context(&self) -> Option<&SpanContext> {
        Some(self)
    }
}

impl SpanLink for &SpanContext {
    fn span_context(&self) -> Option<&SpanContext> {
        Some(self)
    }
}

impl SpanLink for Option<SpanContext> {
    fn span_context(&self) -> Option<&SpanContext> {
        self.as_ref()
    }
}

impl SpanLink for Option<&SpanContext> {
    fn span_context(&self) -> Option<&SpanContext> {
        *self
    }
}

#[cfg(test)]
mod tests {
    use opentelemetry::trace::{SpanId, TraceFlags, TraceId, TraceState};

    use super::*;

    #[test]
    fn a_new_root_sends_the_received_baggage_on_unchanged() {
        use opentelemetry::propagation::TextMapPropagator as _;
        let propagator = crate::propagation::propagator(&[crate::telemetry::PropagatorKind::Baggage]);
        // Valid, and more members than the SDK keeps (64): sent on byte for byte by its own context.
        let received = (0..100).map(|i| format!("k{i}=v{i}")).collect::<Vec<_>>().join(",");
        let cx = propagator.extract(&std::collections::HashMap::from([("baggage".to_owned(), received.clone())]));
        let mut sent = std::collections::HashMap::new();
        propagator.inject_context(&without_span(&cx), &mut sent);
        assert_eq!(sent.get("baggage"), Some(&received), "every member, in its order, from a new root");
    }

    fn span_context(id: u8) -> SpanContext {
        SpanContext::new(
            TraceId::from_bytes([id; 16]),
            SpanId::from_bytes([id; 8]),
            TraceFlags::SAMPLED,
            true,
            TraceState::default(),
        )
    }

    fn parent_span_context(parent: impl SpanParent) -> Option<SpanContext> {
        parent.parent().with_context(|cx, over| {
            assert!(std::ptr::eq(cx, over), "the span becomes current over the context it starts under");
            cx.has_active_span().then(|| cx.span().span_context().clone())
        })
    }

    #[test]
    fn every_accepted_parent_designates_its_span_context() {
        let sc = span_context(1);
        let cx = Context::new().with_remote_span_context(sc.clone());
        assert_eq!(parent_span_context(&cx), Some(sc.clone()));
        assert_eq!(parent_span_context(cx.clone()), Some(sc.clone()));
        assert_eq!(parent_span_context(Some(&cx)), Some(sc.clone()));
        assert_eq!(parent_span_context(Some(cx.clone())), Some(sc.clone()));
        assert_eq!(parent_span_context(sc.clone()), Some(sc.clone()));
        assert_eq!(parent_span_context(&sc), Some(sc.clone()));
        assert_eq!(parent_span_context(Some(sc.clone())), Some(sc.clone()));
        assert_eq!(parent_span_context(Some(&sc)), Some(sc));
    }

    #[test]
    fn none_is_the_current_context_and_root_hides_it() {
        let current = span_context(2);
        let _attached = Context::new().with_remote_span_context(current.clone()).attach();
        assert_eq!(parent_span_context(None::<Context>), Some(current.clone()));
        assert_eq!(parent_span_context(None::<&SpanContext>), Some(current));
        let (active, over) =
            Parent::Root.with_context(|cx, over| (cx.has_active_span(), over.span().span_context().clone()));
        assert!(!active, "under `root` no span is a parent, not even an invalid one");
        assert_eq!(over, span_context(2), "it becomes current over the current context");
    }

    #[test]
    fn invalid_and_missing_links_are_skipped() {
        let mut links = Links::with_capacity(5);
        links.push(&span_context(1));
        links.push(&&span_context(2));
        links.push(&None::<SpanContext>);
        links.push(&Some(SpanContext::empty_context()));
        links.push(&Some(&span_context(3)));
        links.push(&Some(span_context(4)));
        let ids: Vec<TraceId> = links.items.iter().map(|link| link.span_context.trace_id()).collect();
        assert_eq!(ids, [1, 2, 3, 4].map(|id| TraceId::from_bytes([id; 16])));
    }
}
