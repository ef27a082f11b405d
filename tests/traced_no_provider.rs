//! `#[traced]` in a process where no tracer provider is ever installed (own binary: nothing here
//! installs one): no span, the current context left as it was, and no allocation on the calls that
//! skip `opentelemetry::global`. A thread asks the global again after 2, 4, ... up to 1,024 calls (so
//! that a provider set there later is picked up, see `traced_global_provider_later.rs`); that check
//! allocates (the API's boxed no-op span, the attribute `Vec`), once per 1,025 calls at most.
#![allow(unsafe_code)] // the counting global allocator below

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt as _, TraceFlags, TraceId, TraceState};
use opentelemetry::Context;
use traced::traced;

struct CountingAllocator;

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

// SAFETY: forwards to the system allocator; only counts, per thread, without allocating.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|count| count.set(count.get() + 1));
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|count| count.set(count.get() + 1));
        // SAFETY: same contract as ours.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

fn allocations() -> u64 {
    ALLOCATIONS.with(Cell::get)
}

/// What is current inside the function.
#[traced(name = "work", attributes(item.id = x))]
fn work(x: u64) -> (bool, SpanContext) {
    Context::map_current(|cx| (cx.has_active_span(), cx.span().span_context().clone()))
}

/// Calls `work` `calls` times; the indices of the calls that allocated.
fn allocating_calls(calls: usize) -> Vec<usize> {
    let mut allocating = Vec::with_capacity(calls);
    for call in 0..calls {
        let before = allocations();
        let (active, _) = std::hint::black_box(work(call as u64));
        assert!(!active, "call {call}: no span is current");
        if allocations() > before {
            allocating.push(call);
        }
    }
    allocating
}

#[test]
fn nothing_is_recorded_or_made_current_and_only_the_recheck_allocates() {
    // The first calls learn that the global holds no provider (2 + 4 + ... + 1,024 calls skipped).
    let warm_up = allocating_calls(2100);
    assert_eq!(warm_up.first(), Some(&0), "the first call asks the global");
    let allocating = allocating_calls(10 * 1025);
    assert!(allocating.len() <= 10, "{} checks in 10,250 calls: {allocating:?}", allocating.len());
    for pair in allocating.windows(2) {
        assert_eq!(pair[1] - pair[0], 1025, "one check, then 1,024 calls without allocation: {allocating:?}");
    }
    assert_eq!(traced::current_trace_id(), "0".repeat(32));
}

#[test]
fn a_current_parent_stays_current_unchanged() {
    // e.g. a `traceparent` extracted from a request, with no provider to continue it.
    let remote = SpanContext::new(TraceId::from(7), SpanId::from(9), TraceFlags::SAMPLED, true, TraceState::default());
    let _attached = Context::new().with_remote_span_context(remote.clone()).attach();
    for call in 0..3000 {
        let (active, inside) = work(call);
        assert!(active);
        assert_eq!(inside, remote, "call {call}");
    }
    assert_eq!(Context::map_current(|cx| cx.span().span_context().clone()), remote);
}
