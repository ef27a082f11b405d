//! The export pipeline: bounded queues, export workers, exact accounting and one shutdown deadline.
//! `delivery` is the contract exporters implement.

#![allow(dead_code)] // the contract lands before the pipeline that uses it

pub(crate) mod delivery;
