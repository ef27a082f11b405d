//! Test support shared by every test binary of `traced-tests` (`use traced_tests::...`).
//!
//! * [`Receiver`]: an OTLP receiver inside the test process on 127.0.0.1 with an ephemeral port,
//!   over gRPC (tonic with the `opentelemetry-proto` service definitions) or HTTP (protobuf or JSON,
//!   gzip or not), recording every request's headers and decoded payload.
//! * [`FaultOptions`] make a receiver refuse (`Unavailable` first, too large, a final status) or
//!   answer with a partial success; [`SilentCollector`] accepts and never answers; [`ScriptedCollector`]
//!   answers HTTP requests with the bytes a test gives;
//!   [`Receiver::unreachable_endpoint`] is a dead port.
//! * [`TestCertificates`]: a throwaway CA and server certificate for TLS receivers.
//! * [`child`]: re-runs the current test binary as a child process with its own environment, for
//!   tests of process-global state (`traced::init()`, environment variables).
//! * [`in_memory_tracer_provider`]: an SDK tracer provider exporting every span into memory at once.

pub mod child;
mod providers;
mod receiver;
mod tls;

pub use providers::in_memory_tracer_provider;

pub use receiver::{
    FaultOptions, ReceivedLog, ReceivedMetric, ReceivedRequest, ReceivedSpan, Receiver, ReceiverOptions, Scripted,
    ScriptedCollector, Signal, SilentCollector, Transport,
};
pub use tls::TestCertificates;
