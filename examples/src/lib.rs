//! The FastAPI guide's sample app rebuilt on axum with `traced`, a load generator and a local viewer for it.
//!
//! Binaries: `sample-app` (the app), `loadgen` (the traffic) and `viewer` (OTLP in, a web page out). Each is a
//! thin wrapper over this library so tests can run them in-process.

pub mod app;
pub mod duration;
pub mod loadgen;
pub mod viewer;
