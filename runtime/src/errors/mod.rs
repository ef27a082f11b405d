//! What `#[record_errors]` records about an `Err`, and how an error type tells it more.
//!
//! The macro knows the error's concrete type, so every `Err` gets an `exception` event with
//! `exception.type` (the type's name), `exception.message` (its `Display`), `exception.sources` (the
//! `source()` chain, outermost first) and `exception.stacktrace` (a backtrace the error captured and
//! exposes through [`ErrorBacktrace`]); the span's status becomes ERROR. An error whose
//! [`PublicError::status`] is 4xx is the client's mistake: it is passed through unrecorded.

mod exception;
mod probe;
#[cfg(feature = "axum")]
mod response;
mod result;

use std::backtrace::Backtrace;
use std::borrow::Cow;

use http::StatusCode;

pub(crate) use exception::record;
#[cfg(feature = "axum")]
pub(crate) use exception::Exception;
pub use probe::{
    AsDynError, AsDynSendSyncError, Described, DisplayOnly, Failure, HasBacktrace, HasPublic, NoBacktrace, NoPublic,
    Opaque, Probe, StdError,
};
#[cfg(feature = "axum")]
pub use response::{respond, ResponseOptions};
pub use result::{observe, with_output, ReturnsResult};

/// How an error presents itself to the caller of an HTTP handler: its status and a message that is
/// safe to show. Implement it to opt in; every method has a default.
///
/// ```
/// use std::borrow::Cow;
/// use traced::PublicError;
/// use http::StatusCode;
///
/// #[derive(Debug)]
/// enum StoreError { NotFound(u64), Unavailable }
///
/// impl PublicError for StoreError {
///     fn status(&self) -> Option<StatusCode> {
///         match self {
///             StoreError::NotFound(_) => Some(StatusCode::NOT_FOUND),
///             StoreError::Unavailable => Some(StatusCode::SERVICE_UNAVAILABLE),
///         }
///     }
///     fn public_message(&self) -> Option<Cow<'_, str>> {
///         match self {
///             StoreError::NotFound(id) => Some(format!("no item {id}").into()),
///             StoreError::Unavailable => None,
///         }
///     }
/// }
///
/// assert_eq!(StoreError::NotFound(7).status(), Some(StatusCode::NOT_FOUND));
/// assert_eq!(StoreError::Unavailable.public_message(), None);
/// ```
pub trait PublicError {
    /// The response status; `None` keeps the macro's (500 unless `status = ..`). A 4xx status means
    /// the client erred: `#[record_errors]` then records nothing. Default: `None`.
    fn status(&self) -> Option<StatusCode> {
        None
    }

    /// The message the response shows; `None` keeps the one configured on the macro. Default: `None`.
    fn public_message(&self) -> Option<Cow<'_, str>> {
        None
    }
}

/// An error that captured a backtrace, for `exception.stacktrace`.
///
/// Stable Rust cannot ask an arbitrary error for its backtrace (`Error::provide` is unstable), so an
/// error opts in by handing out the one it holds. Only a captured backtrace is recorded (run with
/// `RUST_BACKTRACE=1` or `RUST_LIB_BACKTRACE=1`).
///
/// ```
/// use std::backtrace::Backtrace;
///
/// #[derive(Debug)]
/// struct QueryFailed { backtrace: Backtrace }
///
/// impl traced::ErrorBacktrace for QueryFailed {
///     fn backtrace(&self) -> Option<&Backtrace> {
///         Some(&self.backtrace)
///     }
/// }
///
/// let error = QueryFailed { backtrace: Backtrace::capture() };
/// assert!(traced::ErrorBacktrace::backtrace(&error).is_some());
/// ```
pub trait ErrorBacktrace {
    /// The backtrace captured when the error was created.
    fn backtrace(&self) -> Option<&Backtrace>;
}
