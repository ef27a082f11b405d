//! Span levels (`#[traced(level = debug)]`): which spans are created.
//!
//! Two gates, both before anything else a span costs:
//! * at compile time, the cargo features `max_level_*` and, in builds without debug assertions,
//!   `release_max_level_*` (as `tracing` has them): a span above the maximum is compiled out, its
//!   function keeps only its body;
//! * at run time, the threshold (`TRACED_SPAN_LEVEL`, `Telemetry::builder().span_level(..)`,
//!   [`set_span_level`], default `info`): a span above it costs one atomic load and is not created,
//!   so spans started inside attach to the nearest created ancestor.

use std::sync::atomic::{AtomicU8, Ordering};

use tracing_core::LevelFilter;

/// The level of a span, from the most important to the most verbose.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[repr(u8)]
pub enum Level {
    /// `level = error`
    Error = 1,
    /// `level = warn`
    Warn = 2,
    /// `level = info`, the default.
    Info = 3,
    /// `level = debug`
    Debug = 4,
    /// `level = trace`
    Trace = 5,
}

const OFF: u8 = 0;

/// The most verbose level created, as the `u8` of [`Level`] (`OFF`: none).
static THRESHOLD: AtomicU8 = AtomicU8::new(Level::Info as u8);

/// The most verbose level compiled in, from the cargo features (the most restrictive one set wins).
const STATIC_MAX: u8 = if cfg!(all(not(debug_assertions), feature = "release_max_level_off")) {
    OFF
} else if cfg!(all(not(debug_assertions), feature = "release_max_level_error")) {
    Level::Error as u8
} else if cfg!(all(not(debug_assertions), feature = "release_max_level_warn")) {
    Level::Warn as u8
} else if cfg!(all(not(debug_assertions), feature = "release_max_level_info")) {
    Level::Info as u8
} else if cfg!(all(not(debug_assertions), feature = "release_max_level_debug")) {
    Level::Debug as u8
} else if cfg!(all(not(debug_assertions), feature = "release_max_level_trace")) {
    Level::Trace as u8
} else if cfg!(feature = "max_level_off") {
    OFF
} else if cfg!(feature = "max_level_error") {
    Level::Error as u8
} else if cfg!(feature = "max_level_warn") {
    Level::Warn as u8
} else if cfg!(feature = "max_level_info") {
    Level::Info as u8
} else if cfg!(feature = "max_level_debug") {
    Level::Debug as u8
} else {
    Level::Trace as u8
};

impl Level {
    /// Whether spans of this level are compiled in (the `max_level_*` features); a constant.
    #[inline]
    // `max_level_off` makes `STATIC_MAX` the type's minimum, which clippy flags as always false.
    #[allow(clippy::absurd_extreme_comparisons)]
    pub const fn compiled_in(self) -> bool {
        self as u8 <= STATIC_MAX
    }

    /// Whether spans of this level are created now (the run-time threshold).
    #[inline]
    pub(crate) fn enabled(self) -> bool {
        self.enabled_under(THRESHOLD.load(Ordering::Relaxed))
    }

    #[inline]
    fn enabled_under(self, threshold: u8) -> bool {
        self as u8 <= threshold
    }
}

/// Sets the most verbose span level created from now on, in every thread (`LevelFilter::OFF`: none).
/// `traced::init()` sets it from `TRACED_SPAN_LEVEL` (default `info`).
pub fn set_span_level(filter: LevelFilter) {
    THRESHOLD.store(filter_value(filter), Ordering::Relaxed);
}

/// The most verbose span level created now.
pub fn span_level() -> LevelFilter {
    filter_of(THRESHOLD.load(Ordering::Relaxed))
}

fn filter_of(value: u8) -> LevelFilter {
    match value {
        OFF => LevelFilter::OFF,
        1 => LevelFilter::ERROR,
        2 => LevelFilter::WARN,
        3 => LevelFilter::INFO,
        4 => LevelFilter::DEBUG,
        _ => LevelFilter::TRACE,
    }
}

fn filter_value(filter: LevelFilter) -> u8 {
    match filter.into_level() {
        None => OFF,
        Some(tracing_core::Level::ERROR) => Level::Error as u8,
        Some(tracing_core::Level::WARN) => Level::Warn as u8,
        Some(tracing_core::Level::INFO) => Level::Info as u8,
        Some(tracing_core::Level::DEBUG) => Level::Debug as u8,
        Some(_) => Level::Trace as u8,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILTERS: [LevelFilter; 6] = [
        LevelFilter::OFF,
        LevelFilter::ERROR,
        LevelFilter::WARN,
        LevelFilter::INFO,
        LevelFilter::DEBUG,
        LevelFilter::TRACE,
    ];

    // The threshold is process-wide and other tests start spans: these test the pure parts.
    #[test]
    fn every_filter_round_trips_and_orders_the_levels() {
        for filter in FILTERS {
            assert_eq!(filter_of(filter_value(filter)), filter);
        }
        let warn = filter_value(LevelFilter::WARN);
        assert!(Level::Error.enabled_under(warn) && Level::Warn.enabled_under(warn));
        assert!(!Level::Info.enabled_under(warn) && !Level::Debug.enabled_under(warn));
        assert!(!Level::Trace.enabled_under(warn));
        assert!(!Level::Error.enabled_under(filter_value(LevelFilter::OFF)));
        assert!(Level::Trace.enabled_under(filter_value(LevelFilter::TRACE)));
    }

    #[test]
    fn without_max_level_features_every_level_is_compiled_in() {
        // `--all-features` turns `max_level_off` on (the most restrictive wins): then nothing is.
        let off = cfg!(feature = "max_level_off");
        let restricted = cfg!(any(
            feature = "max_level_error",
            feature = "max_level_warn",
            feature = "max_level_info",
            feature = "max_level_debug"
        ));
        assert_eq!(Level::Trace.compiled_in(), !off && !restricted);
        assert_eq!(Level::Error.compiled_in(), !off);
    }
}
