//! Collecting independent errors, so one build reports every problem of an attribute.

/// Errors found so far; empty until the first one is pushed.
#[derive(Default)]
pub(crate) struct Errors(Option<syn::Error>);

impl Errors {
    /// Records `error` next to the ones already found.
    pub(crate) fn push(&mut self, error: syn::Error) {
        match &mut self.0 {
            Some(existing) => existing.combine(error),
            None => self.0 = Some(error),
        }
    }

    /// Records the errors of `other` next to these.
    pub(crate) fn extend(&mut self, other: Errors) {
        if let Some(error) = other.0 {
            self.push(error);
        }
    }

    /// Records the error of `result`, if any, and passes its value on.
    pub(crate) fn take<T>(&mut self, result: syn::Result<T>) -> Option<T> {
        result.map_err(|error| self.push(error)).ok()
    }

    /// The value built when nothing went wrong (a step that failed recorded its error and gave `None`),
    /// otherwise every error found.
    pub(crate) fn result<T>(self, value: Option<T>) -> syn::Result<T> {
        match (self.0, value) {
            (None, Some(value)) => Ok(value),
            (Some(error), _) => Err(error),
            (None, None) => Err(syn::Error::new(proc_macro2::Span::call_site(), "a step failed without an error")),
        }
    }

    /// `value` when nothing went wrong, otherwise every error found.
    pub(crate) fn finish<T>(self, value: T) -> syn::Result<T> {
        match self.0 {
            Some(error) => Err(error),
            None => Ok(value),
        }
    }
}
