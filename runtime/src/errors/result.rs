//! The functions `#[record_errors]` accepts (those returning a `Result`, under any alias) and what it
//! does with their `Err` when it only records.

use http::StatusCode;

use super::probe::Failure;

/// A `Result`, whatever alias spells it.
#[diagnostic::on_unimplemented(
    message = "expected a `Result`, found `{Self}`",
    label = "not a `Result`",
    note = "`#[record_errors]` needs a function returning `Result<_, E>`, and a `#[traced_dependency]` returning a type named `..Result` needs it to be one"
)]
pub trait ReturnsResult {
    /// The success type.
    type Value;
    /// The error type.
    type Error;

    /// The error, if the call failed.
    fn error(&self) -> Option<&Self::Error>;

    /// The value as a plain `Result`.
    fn into_result(self) -> Result<Self::Value, Self::Error>;
}

impl<T, E> ReturnsResult for Result<T, E> {
    type Value = T;
    type Error = E;

    #[inline]
    fn error(&self) -> Option<&E> {
        self.as_ref().err()
    }

    #[inline]
    fn into_result(self) -> Self {
        self
    }
}

/// Records the `Err` of `ret` on the current span (`describe` turns it into a [`Failure`] where its
/// type is concrete), unless the error says it is the client's (a 4xx [`PublicError`](super::PublicError)).
#[inline]
pub fn observe<R: ReturnsResult>(ret: &R, describe: impl for<'a> FnOnce(&'a R::Error) -> Failure<'a>) {
    if let Some(error) = ret.error() {
        record_unless_client_error(&describe(error), StatusCode::INTERNAL_SERVER_ERROR);
    }
}

/// Records `failure` when its status (or `default`) is not a client error; returns that status.
pub(crate) fn record_unless_client_error(failure: &Failure<'_>, default: StatusCode) -> StatusCode {
    let status = failure.status_or(default);
    if !status.is_client_error() {
        super::record(failure);
    }
    status
}

/// Returns `future` unchanged, telling the compiler its output type: an `async` block passed here
/// infers `?` and `return` as the function it replaces would.
#[inline(always)]
pub fn with_output<T, F: std::future::Future<Output = T>>(future: F) -> F {
    future
}
