//! Where a `#[traced]` function is, on its spans: `code.function.name`, `code.file.path`,
//! `code.line.number` (the stable semantic conventions), known at compile time.
//!
//! Recorded on by default; `TRACED_CODE_ATTRIBUTES=false`, `Telemetry::builder().code_attributes(false)`
//! or [`set_code_attributes`] turn them off. They are added once the sampler kept the span (so an
//! unsampled span costs nothing more), as `&'static` values that allocate nothing of their own.

use std::sync::atomic::{AtomicBool, Ordering};

use opentelemetry::KeyValue;
use opentelemetry_semantic_conventions::attribute::{CODE_FILE_PATH, CODE_FUNCTION_NAME, CODE_LINE_NUMBER};

static ENABLED: AtomicBool = AtomicBool::new(true);

/// The code attributes of a span.
const COUNT: usize = 3;

/// The location of a traced function, as the macro wrote it.
#[derive(Debug)]
pub struct CodeLocation {
    module: &'static str,
    function: &'static str,
    file: &'static str,
    line: u32,
}

impl CodeLocation {
    /// `function` is `module::path::function` (`module::path::Type::method` in an impl block), where
    /// `module` is the `module_path!()` it starts with.
    pub const fn new(module: &'static str, function: &'static str, file: &'static str, line: u32) -> Self {
        Self { module, function, file, line }
    }

    /// The `module_path!()` of the function.
    pub(crate) fn module(&self) -> &'static str {
        self.module
    }

    /// The function's name inside its module: `function`, or `Type::method` in an impl block (the
    /// `function` label of `#[traced(metrics)]`). A slice of the full name, which it repeats nothing of.
    pub(crate) fn name(&self) -> &'static str {
        let function: &'static str = self.function;
        function.strip_prefix(self.module).and_then(|name| name.strip_prefix("::")).unwrap_or(function)
    }

    /// Adds the location to `span`, unless turned off or the span records nothing.
    #[inline]
    pub(crate) fn record<S: opentelemetry::trace::Span>(&self, span: &mut S) {
        if ENABLED.load(Ordering::Relaxed) && span.is_recording() {
            span.set_attributes(self.attributes());
        }
    }

    /// How many attributes [`Self::record`] adds to a recording span now.
    #[inline]
    pub(crate) fn recorded_count(&self) -> usize {
        if ENABLED.load(Ordering::Relaxed) {
            COUNT
        } else {
            0
        }
    }

    fn attributes(&self) -> [KeyValue; COUNT] {
        [
            KeyValue::new(CODE_FUNCTION_NAME, self.function),
            KeyValue::new(CODE_FILE_PATH, self.file),
            KeyValue::new(CODE_LINE_NUMBER, i64::from(self.line)),
        ]
    }
}

/// Turns the code attributes of `#[traced]` spans on or off, in every thread, from now on.
/// `traced::init()` sets it from `TRACED_CODE_ATTRIBUTES` (default `true`).
pub fn set_code_attributes(enabled: bool) {
    ENABLED.store(enabled, Ordering::Relaxed);
}

/// Whether `#[traced]` spans carry their code attributes now.
pub fn code_attributes() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

#[cfg(test)]
mod tests {
    use opentelemetry::{StringValue, Value};

    use super::*;

    #[test]
    fn the_location_is_three_static_values() {
        static SITE: CodeLocation = CodeLocation::new("shop::store", "shop::store::Store::get", "src/store.rs", 42);
        let [function, file, line] = SITE.attributes();
        assert_eq!((function.key.as_str(), file.key.as_str()), ("code.function.name", "code.file.path"));
        assert_eq!(line.key.as_str(), "code.line.number");
        assert_eq!(function.value, Value::String(StringValue::from("shop::store::Store::get")));
        assert_eq!(file.value, Value::String(StringValue::from("src/store.rs")));
        assert_eq!(line.value, Value::I64(42));
        assert_eq!((SITE.module(), SITE.name()), ("shop::store", "Store::get"));
    }

    #[test]
    fn a_function_name_outside_its_module_is_kept_whole() {
        let location = CodeLocation::new("shop", "other::load", "src/lib.rs", 1);
        assert_eq!(location.name(), "other::load");
        let location = CodeLocation::new("shop", "shopping::load", "src/lib.rs", 1);
        assert_eq!(location.name(), "shopping::load");
    }
}
