//! A value set rarely and read on every call (the tracer `#[traced]` uses, the propagator the layer
//! uses): readers keep a per-thread copy, refreshed only when the generation moves, so the hot path
//! takes no lock.

use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::RwLock;
use std::thread::LocalKey;

/// The per-thread copy of a [`ThreadCached`] value and the generation it was read at.
pub(crate) type PerThread<T> = RefCell<(u64, Option<T>)>;

/// The shared slot; pair it with a `thread_local!` [`PerThread`] that starts at generation `u64::MAX`.
#[derive(Debug)]
pub(crate) struct ThreadCached<T> {
    value: RwLock<Option<T>>,
    generation: AtomicU64,
}

impl<T: Clone> ThreadCached<T> {
    pub(crate) const fn new() -> Self {
        Self { value: RwLock::new(None), generation: AtomicU64::new(0) }
    }

    /// Replaces the value; every thread re-reads it at its next call.
    pub(crate) fn set(&self, value: Option<T>) {
        if let Ok(mut slot) = self.value.write() {
            *slot = value;
        }
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    /// The value, read under the lock (the slow path).
    #[cold]
    pub(crate) fn get(&self) -> Option<T> {
        self.value.read().ok().and_then(|slot| slot.clone())
    }

    /// Runs `f` with the value, from this thread's copy when it is current; hot path.
    #[inline]
    pub(crate) fn with<R>(&self, per_thread: &'static LocalKey<PerThread<T>>, f: impl FnOnce(Option<&T>) -> R) -> R {
        let generation = self.generation.load(Ordering::Acquire);
        let mut f = Some(f);
        let result = per_thread
            .try_with(|cell| {
                if cell.borrow().0 != generation {
                    // A nested call (a span processor starting a span, a propagator propagating) may
                    // hold a borrow: it then reads the shared slot instead.
                    let Ok(mut stale) = cell.try_borrow_mut() else { return None };
                    *stale = (generation, self.get());
                }
                let cached = cell.try_borrow().ok()?;
                let f = f.take()?;
                Some(f(cached.1.as_ref()))
            })
            .ok()
            .flatten();
        match (result, f) {
            (Some(result), _) => result,
            (None, Some(f)) => f(self.get().as_ref()),
            // Unreachable: once the closure takes `f` it runs it and returns `Some`.
            (None, None) => ran_without_result(),
        }
    }
}

#[cold]
fn ran_without_result<R>() -> R {
    unreachable!("the cached-value closure ran without returning a value")
}

#[cfg(test)]
mod tests {
    use super::*;

    static SLOT: ThreadCached<u32> = ThreadCached::new();
    thread_local! {
        static COPY: PerThread<u32> = const { RefCell::new((u64::MAX, None)) };
    }

    #[test]
    fn readers_see_every_new_value_and_nested_reads_still_work() {
        assert_eq!(SLOT.with(&COPY, |value| value.copied()), None);
        SLOT.set(Some(1));
        assert_eq!(SLOT.with(&COPY, |value| value.copied()), Some(1));
        SLOT.set(Some(2));
        let nested = SLOT.with(&COPY, |outer| {
            SLOT.set(Some(3));
            (outer.copied(), SLOT.with(&COPY, |inner| inner.copied()))
        });
        assert_eq!(nested, (Some(2), Some(3)), "a nested read during a refresh falls back to the slot");
        assert_eq!(SLOT.with(&COPY, |value| value.copied()), Some(3));
    }
}
