//! An id generator shared between the SDK and `traced`'s span fast path.
//!
//! Knowing the provider's id generator (and its sampler) lets `#[traced]` decide a root span before the
//! SDK does, with the trace id the SDK would have used: a dropped root then costs no SDK span at all,
//! and a kept one is handed to the SDK with its ids and decision (see `span::presample`), so the
//! sampler runs once per span.
//!
//! The default generator is `traced`'s own: random ids from a per-thread generator seeded from the
//! operating system, drawn in one go per root (hot path, guarded by the `span_cost` benchmark). A
//! generator given to [`SharedIdGenerator::new`] is always the one asked.

use std::sync::Arc;

use opentelemetry::trace::{SpanId, TraceId};
use opentelemetry_sdk::trace::IdGenerator;

use crate::span::presample;

/// An id generator that can be handed to the SDK and kept by `traced` at the same time.
///
/// ```
/// use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider};
/// use traced::{SharedIdGenerator, SharedSampler};
///
/// let sampler = SharedSampler::new(Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(0.1))));
/// let ids = SharedIdGenerator::default();
/// let provider =
///     SdkTracerProvider::builder().with_sampler(sampler.clone()).with_id_generator(ids.clone()).build();
/// traced::install_tracer_provider_with_sampler_and_ids(&provider, sampler, ids);
/// ```
#[derive(Debug, Clone)]
pub struct SharedIdGenerator {
    /// `None`: `traced`'s own random ids.
    given: Option<Arc<dyn IdGenerator>>,
}

impl SharedIdGenerator {
    /// Shares `generator`.
    pub fn new(generator: impl IdGenerator + 'static) -> Self {
        Self { given: Some(Arc::new(generator)) }
    }

    /// A new span id from the shared generator itself (never a handed-over one).
    #[inline]
    pub(crate) fn generate_span_id(&self) -> SpanId {
        match &self.given {
            None => random::span_id(),
            Some(given) => given.new_span_id(),
        }
    }

    /// A new root's ids from the shared generator itself (never handed-over ones): span id, then trace
    /// id, as the SDK draws them.
    #[inline]
    pub(crate) fn generate_root_ids(&self) -> (TraceId, SpanId) {
        match &self.given {
            None => random::root_ids(),
            Some(given) => {
                let span_id = given.new_span_id();
                (given.new_trace_id(), span_id)
            }
        }
    }
}

impl Default for SharedIdGenerator {
    /// Random ids (W3C Trace Context's random trace ids), from a fast per-thread generator seeded from
    /// the operating system.
    fn default() -> Self {
        Self { given: None }
    }
}

impl IdGenerator for SharedIdGenerator {
    #[inline]
    fn new_trace_id(&self) -> TraceId {
        presample::take_trace_id().unwrap_or_else(|| match &self.given {
            None => random::trace_id(),
            Some(given) => given.new_trace_id(),
        })
    }

    #[inline]
    fn new_span_id(&self) -> SpanId {
        presample::take_span_id().unwrap_or_else(|| self.generate_span_id())
    }
}

/// Random ids from wyrand (Wang Yi's generator: a Weyl sequence through a 128-bit multiply, 64-bit
/// state, passes BigCrush and PractRand), seeded from the operating system per thread. Not
/// cryptographic (neither is the SDK's `RandomIdGenerator`); ids need not be.
///
/// Every wyrand walks the same cycle of 2^64 states, each thread from a random place: over a fleet two
/// walks meet with a probability of about threads x ids drawn / 2^64, which thread churn makes real. A
/// trace id therefore takes its halves from two walks seeded apart (128 bits of state), so threads whose
/// walks meet still draw different trace ids; span ids need only differ within a trace.
mod random {
    use std::cell::Cell;

    use opentelemetry::trace::{SpanId, TraceId};

    /// One thread's two walks, each 0 until seeded (seeding never leaves 0).
    struct Walks {
        /// Span ids and the high halves of trace ids.
        ids: Cell<u64>,
        /// The low halves of trace ids.
        low: Cell<u64>,
    }

    impl Walks {
        const fn unseeded() -> Self {
            Self { ids: Cell::new(0), low: Cell::new(0) }
        }
    }

    thread_local! {
        static WALKS: Walks = const { Walks::unseeded() };
    }

    const INCREMENT: u64 = 0xa076_1d64_78bd_642f;
    const MIX: u64 = 0xe703_7ed1_a0b4_28db;

    /// The trace and span ids of a root, from one visit to the thread's generator.
    #[inline]
    pub(super) fn root_ids() -> (TraceId, SpanId) {
        with_walks(|walks| (trace_id_from(walks), span_id_from(walks)))
    }

    #[inline]
    pub(super) fn trace_id() -> TraceId {
        with_walks(trace_id_from)
    }

    #[inline]
    pub(super) fn span_id() -> SpanId {
        with_walks(span_id_from)
    }

    #[inline]
    fn with_walks<R>(draw: impl Fn(&Walks) -> R + Copy) -> R {
        // A thread being torn down (a span started in a thread-local destructor) draws from walks of
        // its own, seeded afresh.
        WALKS.try_with(|walks| draw(walks)).unwrap_or_else(|_| draw(&Walks::unseeded()))
    }

    /// A valid (non-zero) trace id.
    #[inline]
    fn trace_id_from(walks: &Walks) -> TraceId {
        loop {
            let id = (u128::from(next(&walks.ids)) << 64) | u128::from(next(&walks.low));
            if id != 0 {
                return TraceId::from(id);
            }
        }
    }

    /// A valid (non-zero) span id.
    #[inline]
    fn span_id_from(walks: &Walks) -> SpanId {
        loop {
            let id = next(&walks.ids);
            if id != 0 {
                return SpanId::from(id);
            }
        }
    }

    #[inline]
    fn next(state: &Cell<u64>) -> u64 {
        let mut current = state.get();
        if current == 0 {
            current = seed();
        }
        let advanced = current.wrapping_add(INCREMENT);
        state.set(advanced);
        let product = u128::from(advanced) * u128::from(advanced ^ MIX);
        (product as u64) ^ ((product >> 64) as u64)
    }

    /// A non-zero seed from the operating system (std's per-thread random hashing keys if that fails).
    #[cold]
    #[inline(never)]
    fn seed() -> u64 {
        let seed = getrandom::u64().unwrap_or_else(|_| fallback_seed());
        if seed == 0 {
            INCREMENT
        } else {
            seed
        }
    }

    /// std's `RandomState` keys come from the operating system's random source once per thread.
    fn fallback_seed() -> u64 {
        use std::hash::{BuildHasher as _, Hasher as _};

        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u64(std::process::id().into());
        hasher.finish()
    }

    #[cfg(test)]
    pub(super) fn state() -> [u64; 2] {
        WALKS.with(|walks| [walks.ids.get(), walks.low.get()])
    }

    #[cfg(test)]
    pub(super) fn reset() {
        WALKS.with(|walks| {
            walks.ids.set(0);
            walks.low.set(0);
        });
    }

    /// Puts this thread's walk of span ids (and trace ids' high halves) at `position` (non-zero).
    #[cfg(test)]
    pub(super) fn set_position(position: u64) {
        WALKS.with(|walks| walks.ids.set(position));
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use opentelemetry_sdk::trace::{SamplingDecision, SamplingResult};

    use super::*;

    /// Hands out the same ids every time, to see which generator was asked.
    #[derive(Debug)]
    struct Fixed;

    impl IdGenerator for Fixed {
        fn new_trace_id(&self) -> TraceId {
            TraceId::from(7)
        }

        fn new_span_id(&self) -> SpanId {
            SpanId::from(9)
        }
    }

    #[test]
    fn a_given_generator_is_the_one_asked() {
        let given = SharedIdGenerator::new(Fixed);
        assert_eq!(given.generate_root_ids(), (TraceId::from(7), SpanId::from(9)));
        assert_eq!((given.new_trace_id(), given.new_span_id()), (TraceId::from(7), SpanId::from(9)));
    }

    #[test]
    fn default_ids_are_valid_and_distinct() {
        let ids = SharedIdGenerator::default();
        let mut trace_ids = HashSet::new();
        let mut span_ids = HashSet::new();
        for _ in 0..10_000 {
            let (trace_id, span_id) = ids.generate_root_ids();
            assert!(trace_id != TraceId::INVALID && span_id != SpanId::INVALID);
            assert!(trace_ids.insert(trace_id) && span_ids.insert(span_id), "a repeated id");
            assert!(trace_ids.insert(ids.new_trace_id()) && span_ids.insert(ids.new_span_id()));
        }
    }

    #[test]
    fn default_ids_have_every_bit_random() {
        // Each of the 128 + 64 bits is set in about half of the ids (a generator stuck on a bit, or a
        // trace id built from one draw twice, fails this).
        let ids = SharedIdGenerator::default();
        let rounds = 4_000;
        let (mut trace_bits, mut span_bits) = ([0u32; 128], [0u32; 64]);
        let mut halves_equal = 0;
        for _ in 0..rounds {
            let (trace_id, span_id) = ids.generate_root_ids();
            let trace = u128::from_be_bytes(trace_id.to_bytes());
            let span = u64::from_be_bytes(span_id.to_bytes());
            for (bit, count) in trace_bits.iter_mut().enumerate() {
                *count += u32::from((trace >> bit) & 1 == 1);
            }
            for (bit, count) in span_bits.iter_mut().enumerate() {
                *count += u32::from((span >> bit) & 1 == 1);
            }
            halves_equal += u32::from((trace >> 64) as u64 == trace as u64);
        }
        // Binomial(4000, 1/2): 6 standard deviations is about 190.
        for count in trace_bits.iter().chain(&span_bits) {
            assert!((1810..=2190).contains(count), "{trace_bits:?} {span_bits:?}");
        }
        assert_eq!(halves_equal, 0);
    }

    #[test]
    fn each_thread_is_seeded_on_its_own() {
        random::reset();
        let here = SharedIdGenerator::default().generate_root_ids();
        assert!(random::state().iter().all(|state| *state != 0), "seeded at first use");
        let there = std::thread::spawn(|| SharedIdGenerator::default().generate_root_ids()).join().expect("joined");
        assert_ne!(here.0, there.0);
        assert_ne!(here.1, there.1);
        // A reseeded thread does not repeat itself either.
        random::reset();
        assert_ne!(SharedIdGenerator::default().generate_root_ids(), here);
    }

    #[test]
    fn threads_at_the_same_place_of_the_64_bit_walk_still_draw_different_trace_ids() {
        // Every thread walks the same cycle of 2^64 states from a random place: over a fleet, two walks
        // meet with a probability of about threads x ids / 2^64 (thread churn makes it real). A trace id
        // that followed from the place alone would then repeat another thread's, and two unrelated
        // requests would share a trace in the backend.
        let draw_at = |position: u64| {
            std::thread::spawn(move || {
                random::set_position(position);
                let ids = SharedIdGenerator::default();
                [ids.generate_root_ids().0, ids.new_trace_id()]
            })
            .join()
            .expect("joined")
        };
        let (one, two) = (draw_at(0x5eed), draw_at(0x5eed));
        assert!(one.iter().all(|trace_id| !two.contains(trace_id)), "{one:?} {two:?}");
    }

    #[test]
    fn handed_over_ids_come_first() {
        let given = SharedIdGenerator::new(Fixed);
        let default = SharedIdGenerator::default();
        for ids in [&given, &default] {
            let kept = SamplingResult {
                decision: SamplingDecision::RecordAndSample,
                attributes: Vec::new(),
                trace_state: Default::default(),
            };
            let handed = presample::hand_over(TraceId::from(3), SpanId::from(4), kept);
            assert_eq!((ids.new_trace_id(), ids.new_span_id()), (TraceId::from(3), SpanId::from(4)));
            drop(handed);
            assert_ne!(ids.new_trace_id(), TraceId::from(3), "taken once");
        }
    }
}
