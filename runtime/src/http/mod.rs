//! HTTP pieces the server layer ([`crate::axum`]) and the client ([`crate::client`]) share: the
//! semantic-convention values, the settings they record by, header capture, and the error response.

#[cfg(feature = "axum")]
pub(crate) mod error;
#[cfg(any(feature = "axum", feature = "reqwest"))]
pub(crate) mod header_capture;
#[cfg(any(feature = "axum", feature = "reqwest"))]
pub(crate) mod semconv;
pub mod settings;

#[cfg(feature = "axum")]
pub use error::{ErrorResponse, DEFAULT_ERROR_MESSAGE};
