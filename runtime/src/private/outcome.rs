//! Seeing whether a traced function failed, without requiring anything of its return type.
//!
//! The macro calls `(&&value).__traced_observe(&span)` on the concrete return value: method resolution
//! picks [`ObserveResult`] for a `Result` (any alias of it included) and the do-nothing
//! [`ObserveOther`] for every other type (autoref specialisation, stable Rust).

use crate::span::SpanHandle;

/// Marks the span failed when the value is an `Err`, with the error's concrete type as `error.type`.
pub trait ObserveResult {
    /// Records the outcome on `span`.
    fn __traced_observe(&self, span: Option<&SpanHandle>);

    /// `Some(is_ok)`: the `result` label of `#[traced(metrics)]`.
    fn __traced_outcome(&self) -> Option<bool>;
}

// One reference less than `ObserveOther`: on a `&&Result` receiver this impl matches by value, before
// the fallback needs an autoref (with the same depth the fallback would win).
impl<T, E> ObserveResult for &core::result::Result<T, E> {
    #[inline]
    fn __traced_observe(&self, span: Option<&SpanHandle>) {
        if let (Err(_), Some(span)) = (self, span) {
            span.fail(core::any::type_name::<E>());
        }
    }

    #[inline]
    fn __traced_outcome(&self) -> Option<bool> {
        Some(self.is_ok())
    }
}

/// The fallback for return types that cannot fail.
pub trait ObserveOther {
    /// Does nothing.
    fn __traced_observe(&self, span: Option<&SpanHandle>);

    /// `None`: no `result` label.
    fn __traced_outcome(&self) -> Option<bool>;
}

impl<T: ?Sized> ObserveOther for &&T {
    #[inline]
    fn __traced_observe(&self, _span: Option<&SpanHandle>) {}

    #[inline]
    fn __traced_outcome(&self) -> Option<bool> {
        None
    }
}
