//! The FastAPI guide's sample app rebuilt on axum with `traced`, and a load generator for it.
//!
//! Binaries: `sample-app` (the app) and `loadgen` (the traffic). Both are thin wrappers over this
//! library so tests can run them in-process.

pub mod app;
pub mod duration;
pub mod loadgen;
