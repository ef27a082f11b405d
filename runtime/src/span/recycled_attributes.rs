//! Span attribute `Vec`s used again: the exporters `traced` owns hand back the `Vec`s of the spans they
//! are done with (emptied), and the threads that start spans take them instead of allocating.
//!
//! A span's attributes live in a `Vec` allocated on the thread that starts it and freed, in batches, on
//! the export thread; glibc's allocator pays for that memory moving between threads (about 200 ns a
//! span on the calling thread, more on the export side; see the README, "Process CPU per span").
//! Here it only moves between the two pools' lists.
//!
//! Bounded: two size classes ([`SMALL`] and [`LARGE`] attributes of capacity), each pool keeps at most
//! [`Class::limit`] `Vec`s; a `Vec` of another capacity, or one more than the pool holds, is simply
//! freed. A producing thread takes `Vec`s [`Class::chunk`] at a time (one lock per chunk) into a cache of
//! its own, which holds at most one chunk per class; an empty pool costs one relaxed atomic load, and
//! until an exporter hands a `Vec` back nothing is taken or kept at all (one relaxed load), so a
//! process whose spans go to exporters that hand nothing back (the SDK's batch processor, a user's
//! exporter) pays about nothing. The export side returns a batch's `Vec`s under one lock per class.
//!
//! Hot path, guarded by `cargo bench -p traced --bench span_cost -- cpu`.

use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};

use opentelemetry::KeyValue;
use opentelemetry_sdk::trace::SpanData;

/// The capacity of a `Vec` of the small class: a `#[traced]` span's own attributes and its three code
/// attributes, or a client span's.
pub(crate) const SMALL: usize = 8;
/// The largest capacity kept: an HTTP server span's attributes (about 12, and those of the response).
pub(crate) const LARGE: usize = 32;

/// One size class: `Vec`s of capacity `min..=max`.
#[derive(Debug)]
struct Class {
    min: usize,
    max: usize,
    /// At most this many `Vec`s wait in the pool (the default span queue holds 2,048 spans).
    limit: usize,
    /// A producing thread takes this many at a time, and holds at most this many.
    chunk: usize,
}

const CLASSES: [Class; 2] = [
    Class { min: SMALL, max: SMALL, limit: 2048, chunk: 32 },
    Class { min: 2 * SMALL, max: LARGE, limit: 512, chunk: 8 },
];

/// The `Vec`s handed back and not yet taken, of one class.
struct Pool {
    vecs: Mutex<Vec<Vec<KeyValue>>>,
    /// `vecs.len()`, read without the lock.
    len: AtomicUsize,
}

static POOLS: [Pool; 2] = [Pool::new(), Pool::new()];

/// Set once an exporter handed `Vec`s back: until then taking and keeping cost one relaxed load.
static IN_USE: AtomicBool = AtomicBool::new(false);

thread_local! {
    /// This thread's `Vec`s of each class, taken from the pools a chunk at a time.
    static CACHE: RefCell<[Vec<Vec<KeyValue>>; 2]> = const { RefCell::new([Vec::new(), Vec::new()]) };
}

impl Pool {
    const fn new() -> Self {
        Self { vecs: Mutex::new(Vec::new()), len: AtomicUsize::new(0) }
    }

    /// Moves up to `class.chunk` `Vec`s into `cache` (one lock), unless the pool looks empty.
    #[inline]
    fn refill(&self, class: &Class, cache: &mut Vec<Vec<KeyValue>>) {
        if self.len.load(Ordering::Relaxed) == 0 {
            return;
        }
        let mut vecs = self.vecs.lock().unwrap_or_else(PoisonError::into_inner);
        let keep = vecs.len().saturating_sub(class.chunk);
        cache.extend(vecs.drain(keep..));
        self.len.store(vecs.len(), Ordering::Relaxed);
    }
}

/// The class a `Vec` of `capacity` is kept in, if any.
#[inline]
fn class_of(capacity: usize) -> Option<usize> {
    CLASSES.iter().position(|class| (class.min..=class.max).contains(&capacity))
}

/// The class whose `Vec`s all have room for `capacity` attributes, if any.
#[inline]
fn class_for(capacity: usize) -> Option<usize> {
    CLASSES.iter().position(|class| capacity <= class.min)
}

/// An empty `Vec` with room for at least `capacity` attributes: one handed back by an exporter when
/// this thread has one at hand, else a new one (of its class's capacity, so that it can come back).
#[inline]
pub(crate) fn with_capacity(capacity: usize) -> Vec<KeyValue> {
    match class_for(capacity) {
        Some(index) if capacity > 0 && IN_USE.load(Ordering::Relaxed) => take(index).unwrap_or_else(|| new(capacity)),
        _ => new(capacity),
    }
}

/// A new `Vec` with room for `capacity` attributes: of its class's capacity, so that it can come back.
#[inline]
fn new(capacity: usize) -> Vec<KeyValue> {
    match class_for(capacity) {
        _ if capacity == 0 => Vec::new(),
        Some(index) => Vec::with_capacity(CLASSES[index].min),
        None => Vec::with_capacity(capacity),
    }
}

/// A `Vec` of the class `index` from this thread's cache, refilled from the pool when empty.
#[inline]
fn take(index: usize) -> Option<Vec<KeyValue>> {
    let taken = CACHE.try_with(|cache| {
        let mut cache = cache.try_borrow_mut().ok()?;
        let cache = &mut cache[index];
        if cache.is_empty() {
            POOLS[index].refill(&CLASSES[index], cache);
        }
        cache.pop()
    });
    taken.ok().flatten()
}

/// Keeps `vec` in this thread's cache for its next span (its span was never built), or frees it.
#[inline]
pub(crate) fn keep(mut vec: Vec<KeyValue>) {
    if !IN_USE.load(Ordering::Relaxed) {
        return;
    }
    let Some(index) = class_of(vec.capacity()) else { return };
    vec.clear();
    let _ = CACHE.try_with(|cache| {
        if let Ok(mut cache) = cache.try_borrow_mut() {
            let cache = &mut cache[index];
            if cache.len() < CLASSES[index].chunk {
                cache.push(vec);
            }
        }
    });
}

/// Drops the spans of a batch an exporter is done with, keeping their attribute `Vec`s (emptied) for
/// the next spans: one pass over the batch (each span dropped while its memory is at hand), one lock
/// per class. What the pools have no room for is freed with its span.
pub(crate) fn give_back(spans: Vec<SpanData>) {
    let room = [0, 1].map(|index| CLASSES[index].limit.saturating_sub(POOLS[index].len.load(Ordering::Relaxed)));
    if room == [0, 0] {
        return;
    }
    for (index, mut list) in emptied(spans, room).into_iter().enumerate() {
        if list.is_empty() {
            continue;
        }
        let pool = &POOLS[index];
        let mut vecs = pool.vecs.lock().unwrap_or_else(PoisonError::into_inner);
        list.truncate(CLASSES[index].limit.saturating_sub(vecs.len()));
        vecs.append(&mut list);
        pool.len.store(vecs.len(), Ordering::Relaxed);
        drop(vecs);
        if !IN_USE.load(Ordering::Relaxed) {
            IN_USE.store(true, Ordering::Relaxed);
        }
    }
}

/// Spans handled at a time by [`emptied`]: their memory stays in the core's first-level cache between
/// taking their attributes and dropping the rest.
const STRIDE: usize = 64;

/// Drops `spans`, keeping up to `room` attribute `Vec`s of each class, emptied (their attributes are
/// dropped here, outside any lock). The spans are dropped in place, `STRIDE` at a time from the end.
fn emptied(mut spans: Vec<SpanData>, room: [usize; 2]) -> [Vec<Vec<KeyValue>>; 2] {
    let count = spans.len();
    let mut emptied: [Vec<Vec<KeyValue>>; 2] = [Vec::new(), Vec::new()];
    while !spans.is_empty() {
        let start = spans.len().saturating_sub(STRIDE);
        for span in &mut spans[start..] {
            let Some(index) = class_of(span.attributes.capacity()) else { continue };
            let list = &mut emptied[index];
            if list.len() < room[index] {
                if list.capacity() == 0 {
                    list.reserve_exact(count.min(room[index]));
                }
                span.attributes.clear();
                list.push(std::mem::take(&mut span.attributes));
            }
        }
        spans.truncate(start);
    }
    emptied
}

/// Turns recycling on as an exporter handing `Vec`s back does (for tests that keep and take directly).
#[cfg(test)]
pub(crate) fn in_use() {
    IN_USE.store(true, Ordering::Relaxed);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span_with(attributes: Vec<KeyValue>) -> SpanData {
        use opentelemetry::trace::{SpanContext, SpanKind, Status};
        use opentelemetry::InstrumentationScope;
        use opentelemetry_sdk::trace::{SpanEvents, SpanLinks};

        SpanData {
            span_context: SpanContext::empty_context(),
            parent_span_id: opentelemetry::trace::SpanId::INVALID,
            parent_span_is_remote: false,
            span_kind: SpanKind::Internal,
            name: "recycled".into(),
            start_time: std::time::SystemTime::UNIX_EPOCH,
            end_time: std::time::SystemTime::UNIX_EPOCH,
            attributes,
            dropped_attributes_count: 0,
            events: SpanEvents::default(),
            links: SpanLinks::default(),
            status: Status::Unset,
            instrumentation_scope: InstrumentationScope::builder("test").build(),
        }
    }

    fn pooled(index: usize) -> usize {
        POOLS[index].vecs.lock().unwrap_or_else(PoisonError::into_inner).len()
    }

    fn cached(index: usize) -> usize {
        CACHE.with(|cache| cache.borrow()[index].len())
    }

    /// Empties this thread's cache (the pools are shared by the tests of this binary that export).
    fn clear_cache() {
        CACHE.with(|cache| cache.borrow_mut().iter_mut().for_each(Vec::clear));
    }

    #[test]
    fn every_vec_handed_out_has_a_capacity_its_class_keeps() {
        // New (before any exporter handed one back, or with the pool empty) or recycled: the first
        // ones must be able to come back.
        for capacity in [1, 3, SMALL, SMALL + 1, 14, 2 * SMALL] {
            for vec in [new(capacity), with_capacity(capacity)] {
                assert!(vec.capacity() >= capacity);
                assert_eq!(class_of(vec.capacity()), class_for(capacity), "asked for {capacity}");
            }
        }
        assert_eq!(with_capacity(0).capacity(), 0, "nothing asked, nothing allocated");
        assert_eq!(new(2 * SMALL + 1).capacity(), 2 * SMALL + 1, "beyond the classes: a plain Vec");
    }

    #[test]
    fn a_vec_comes_back_empty_with_its_buffer_and_only_in_its_class() {
        in_use();
        clear_cache();
        let mut vec = Vec::with_capacity(SMALL);
        vec.push(KeyValue::new("secret.of.the.last.span", "x"));
        let buffer = vec.as_ptr();
        keep(vec);
        let taken = with_capacity(3);
        assert!(taken.is_empty(), "a recycled Vec arrives empty");
        assert_eq!((taken.as_ptr(), taken.capacity()), (buffer, SMALL));

        // A large request gets a large Vec, never the small one kept meanwhile.
        keep(taken);
        let large = with_capacity(14);
        assert!(large.capacity() >= 14 && large.capacity() <= LARGE);
        assert_ne!(large.as_ptr(), buffer);
        assert_eq!(cached(0), 1);

        // Capacities of no class are freed, not kept.
        for capacity in [1, 4, SMALL + 1, LARGE + 1, 1024] {
            keep(Vec::with_capacity(capacity));
        }
        assert_eq!((cached(0), cached(1)), (1, 0));
        assert_eq!(with_capacity(2 * SMALL + 1).capacity(), 2 * SMALL + 1, "beyond the classes: a plain Vec");
    }

    #[test]
    fn the_pools_and_the_thread_caches_are_bounded() {
        let spans = |capacity: usize, count: usize| -> Vec<SpanData> {
            (0..count).map(|_| span_with(Vec::with_capacity(capacity))).collect()
        };
        // More than a pool holds, in several batches: it never holds more than its limit.
        for _ in 0..3 {
            give_back(spans(SMALL, CLASSES[0].limit));
            assert!(pooled(0) <= CLASSES[0].limit);
            give_back(spans(LARGE, CLASSES[1].limit));
            assert!(pooled(1) <= CLASSES[1].limit);
        }

        // No more than the room left, and capacities of no class are freed with their spans.
        let mut batch = spans(SMALL, 5);
        batch.extend(spans(4, 3));
        batch.extend(spans(2 * SMALL, 2));
        batch.extend(spans(LARGE + 1, 2));
        let [small, large] = emptied(batch, [3, 10]);
        assert_eq!((small.len(), large.len()), (3, 2));
        assert!(small.iter().all(|vec| vec.capacity() == SMALL) && large.iter().all(|vec| vec.capacity() == 2 * SMALL));

        // A thread takes one chunk at a time and holds at most one chunk per class.
        in_use();
        clear_cache();
        drop(with_capacity(1));
        assert!(cached(0) < CLASSES[0].chunk);
        for _ in 0..3 * CLASSES[0].chunk {
            keep(Vec::with_capacity(SMALL));
        }
        assert_eq!(cached(0), CLASSES[0].chunk);
        clear_cache();
    }

    #[test]
    fn what_an_exporter_hands_back_is_emptied_and_keeps_its_buffer() {
        let mut attributes = Vec::with_capacity(SMALL);
        attributes.extend([KeyValue::new("user.id", "42"), KeyValue::new("code.line.number", 7)]);
        let buffer = attributes.as_ptr();
        let batch = vec![span_with(attributes), span_with(Vec::new())];
        let [small, large] = emptied(batch, [8, 8]);
        assert_eq!(small.len(), 1, "nothing to take from a span without attributes");
        assert!(large.is_empty());
        assert!(small[0].is_empty(), "the attributes of the last span are gone");
        assert_eq!((small[0].as_ptr(), small[0].capacity()), (buffer, SMALL));
    }
}
