//! Learning what an error can tell, at the macro's call site where its concrete type is known.
//!
//! Stable Rust has no specialisation, so `__traced_failure!` asks through autoref specialisation: the
//! method call on `&&&&&Probe(error)` resolves to the first impl whose bound the error meets, from
//! [`std::error::Error`] down to "nothing known". Each extra `&` in an impl's `Self` is one step
//! earlier in method resolution.

use std::backtrace::Backtrace;
use std::error::Error;
use std::fmt::Display;

use super::{ErrorBacktrace, PublicError};

/// The error under inspection.
#[derive(Debug)]
pub struct Probe<'a, E>(pub &'a E);

impl<E> Probe<'_, E> {
    /// `exception.type`: the error's concrete type.
    pub fn type_name(&self) -> &'static str {
        core::any::type_name::<E>()
    }
}

/// What an error offers for `exception.message` and `exception.sources`.
#[derive(Clone, Copy)]
pub enum Described<'a> {
    /// A [`std::error::Error`]: message and source chain.
    Error(&'a (dyn Error + 'a)),
    /// Only `Display`: a message.
    Message(&'a (dyn Display + 'a)),
    /// Neither: the type name is all there is.
    Nothing,
}

/// Shows the text as `exception.message` records it: bounded and redacted.
impl std::fmt::Debug for Described<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use crate::privacy::{caps::EXCEPTION_MESSAGE, text_value};
        match self {
            Described::Error(error) => f.debug_tuple("Error").field(&text_value(error, EXCEPTION_MESSAGE)).finish(),
            Described::Message(message) => {
                f.debug_tuple("Message").field(&text_value(message, EXCEPTION_MESSAGE)).finish()
            }
            Described::Nothing => f.write_str("Nothing"),
        }
    }
}

/// Everything known about one `Err`.
pub struct Failure<'a> {
    pub(crate) type_name: &'static str,
    pub(crate) described: Described<'a>,
    pub(crate) public: Option<&'a dyn PublicError>,
    pub(crate) backtrace: Option<&'a Backtrace>,
}

impl<'a> Failure<'a> {
    /// Called by `__traced_failure!`.
    pub fn new(
        type_name: &'static str,
        described: Described<'a>,
        public: Option<&'a dyn PublicError>,
        backtrace: Option<&'a Backtrace>,
    ) -> Self {
        Self { type_name, described, public, backtrace }
    }

    /// The error's own status, or `default` when it does not implement [`PublicError`].
    pub(crate) fn status_or(&self, default: http::StatusCode) -> http::StatusCode {
        self.public.and_then(|public| public.status()).unwrap_or(default)
    }
}

impl std::fmt::Debug for Failure<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Failure")
            .field("type_name", &self.type_name)
            .field("described", &self.described)
            .field("public", &self.public.map(|public| public.status()))
            .field("backtrace", &self.backtrace.map(Backtrace::status))
            .finish()
    }
}

/// Step 1: a [`std::error::Error`].
pub trait StdError<'a> {
    fn __traced_describe(&self) -> Described<'a>;
}

impl<'a, E: Error + 'a> StdError<'a> for &&&&Probe<'a, E> {
    fn __traced_describe(&self) -> Described<'a> {
        Described::Error(self.0)
    }
}

/// Step 2: `anyhow::Error`, `eyre::Report`, `Box<dyn Error + Send + Sync>`.
pub trait AsDynSendSyncError<'a> {
    fn __traced_describe(&self) -> Described<'a>;
}

impl<'a, E: AsRef<dyn Error + Send + Sync + 'static>> AsDynSendSyncError<'a> for &&&Probe<'a, E> {
    fn __traced_describe(&self) -> Described<'a> {
        Described::Error(self.0.as_ref())
    }
}

/// Step 3: `Box<dyn Error>`.
pub trait AsDynError<'a> {
    fn __traced_describe(&self) -> Described<'a>;
}

impl<'a, E: AsRef<dyn Error + 'static>> AsDynError<'a> for &&Probe<'a, E> {
    fn __traced_describe(&self) -> Described<'a> {
        Described::Error(self.0.as_ref())
    }
}

/// Step 4: `String`, `&str` and other `Display` types.
pub trait DisplayOnly<'a> {
    fn __traced_describe(&self) -> Described<'a>;
}

impl<'a, E: Display + 'a> DisplayOnly<'a> for &Probe<'a, E> {
    fn __traced_describe(&self) -> Described<'a> {
        Described::Message(self.0)
    }
}

/// Step 5: anything else (`()`, a bare enum).
pub trait Opaque<'a> {
    fn __traced_describe(&self) -> Described<'a>;
}

impl<'a, E> Opaque<'a> for Probe<'a, E> {
    fn __traced_describe(&self) -> Described<'a> {
        Described::Nothing
    }
}

/// An error implementing [`PublicError`].
pub trait HasPublic<'a> {
    fn __traced_public(&self) -> Option<&'a dyn PublicError>;
}

impl<'a, E: PublicError + 'a> HasPublic<'a> for &Probe<'a, E> {
    fn __traced_public(&self) -> Option<&'a dyn PublicError> {
        Some(self.0)
    }
}

/// Any other error.
pub trait NoPublic<'a> {
    fn __traced_public(&self) -> Option<&'a dyn PublicError>;
}

impl<'a, E> NoPublic<'a> for Probe<'a, E> {
    fn __traced_public(&self) -> Option<&'a dyn PublicError> {
        None
    }
}

/// An error implementing [`ErrorBacktrace`].
pub trait HasBacktrace<'a> {
    fn __traced_backtrace(&self) -> Option<&'a Backtrace>;
}

impl<'a, E: ErrorBacktrace> HasBacktrace<'a> for &Probe<'a, E> {
    fn __traced_backtrace(&self) -> Option<&'a Backtrace> {
        self.0.backtrace()
    }
}

/// Any other error.
pub trait NoBacktrace<'a> {
    fn __traced_backtrace(&self) -> Option<&'a Backtrace>;
}

impl<'a, E> NoBacktrace<'a> for Probe<'a, E> {
    fn __traced_backtrace(&self) -> Option<&'a Backtrace> {
        None
    }
}

/// Everything known about the error `$error` (a reference), as a [`Failure`]. Expanded where the
/// error's type is concrete, which autoref specialisation needs.
#[doc(hidden)]
#[macro_export]
macro_rules! __traced_failure {
    ($error:expr) => {{
        #[allow(unused_imports)]
        use $crate::__private::errors::{
            AsDynError as _, AsDynSendSyncError as _, DisplayOnly as _, HasBacktrace as _, HasPublic as _,
            NoBacktrace as _, NoPublic as _, Opaque as _, StdError as _,
        };
        let probe = $crate::__private::errors::Probe($error);
        $crate::__private::errors::Failure::new(
            probe.type_name(),
            (&&&&&probe).__traced_describe(),
            (&&probe).__traced_public(),
            (&&probe).__traced_backtrace(),
        )
    }};
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use http::StatusCode;

    use super::*;

    #[derive(Debug)]
    struct Outer(Inner);
    #[derive(Debug)]
    struct Inner;

    impl Display for Outer {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("outer failed")
        }
    }
    impl Error for Outer {
        fn source(&self) -> Option<&(dyn Error + 'static)> {
            Some(&self.0)
        }
    }
    impl Display for Inner {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("inner failed")
        }
    }
    impl Error for Inner {}
    impl PublicError for Inner {
        fn status(&self) -> Option<StatusCode> {
            Some(StatusCode::NOT_FOUND)
        }
        fn public_message(&self) -> Option<Cow<'_, str>> {
            Some("no such thing".into())
        }
    }

    fn kind(described: Described<'_>) -> String {
        match described {
            Described::Error(error) => format!("error: {error}"),
            Described::Message(message) => format!("message: {message}"),
            Described::Nothing => "nothing".to_owned(),
        }
    }

    #[test]
    fn each_kind_of_error_is_described_by_the_richest_step_it_meets() {
        let boxed: Box<dyn Error> = Box::new(Inner);
        let boxed_send: Box<dyn Error + Send + Sync> = Box::new(Inner);
        assert_eq!(kind(crate::__traced_failure!(&Outer(Inner)).described), "error: outer failed");
        assert_eq!(kind(crate::__traced_failure!(&boxed_send).described), "error: inner failed");
        assert_eq!(kind(crate::__traced_failure!(&boxed).described), "error: inner failed");
        assert_eq!(kind(crate::__traced_failure!(&"plain text").described), "message: plain text");
        assert_eq!(kind(crate::__traced_failure!(&()).described), "nothing");
    }

    #[test]
    fn debug_output_is_redacted_and_bounded_like_the_exception() {
        let text = format!("fetch of http://u:PWSECRET@h/?token=T0PSECRET failed {}", "x".repeat(100_000));
        let message: &dyn Display = &text;
        let error = std::io::Error::other(text.clone());
        for described in [Described::Message(message), Described::Error(&error)] {
            let debug = format!("{:?}", Failure::new("E", described, None, None));
            assert!(!debug.contains("PWSECRET") && !debug.contains("T0PSECRET"), "{}", &debug[..200]);
            assert!(debug.contains("token=REDACTED") && debug.len() < 10_000, "{} bytes", debug.len());
        }
    }

    #[test]
    fn the_type_name_is_the_concrete_type() {
        let failure = crate::__traced_failure!(&Outer(Inner));
        assert_eq!(failure.type_name, "traced::errors::probe::tests::Outer");
    }

    #[test]
    fn public_errors_bring_their_status_others_take_the_default() {
        let public = crate::__traced_failure!(&Inner);
        let private = crate::__traced_failure!(&Outer(Inner));
        assert_eq!(public.status_or(StatusCode::BAD_GATEWAY), StatusCode::NOT_FOUND);
        assert_eq!(private.status_or(StatusCode::BAD_GATEWAY), StatusCode::BAD_GATEWAY);
        assert!(private.backtrace.is_none());
    }
}
