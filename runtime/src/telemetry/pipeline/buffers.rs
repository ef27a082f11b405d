//! Where queued items wait until the worker takes them: one buffer per producing thread and queue,
//! filled only by its thread (an uncontended lock and a `Vec` push per item) and emptied by the worker.
//!
//! This replaces a channel operation per item by nothing shared but the queue's counters: the worker
//! takes a thread's whole buffer at once (swapping in an empty one of the same capacity, so neither
//! side copies items or reallocates), when a batch is due, at the schedule delay, on a flush and at
//! shutdown. Every buffer is registered with its queue, so nothing is stranded on a thread that went
//! idle or exited: the worker reaches them all, and forgets the buffer of an exited thread once it
//! emptied it. Items in buffers count against the queue's size (see `Counts::reserve`).

use std::any::Any;
use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, TryLockError};

/// One thread's items for one queue.
type Buffer<T> = Mutex<Vec<T>>;

/// Ids of queues, so that a thread finds its buffer in each queue it fed.
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

thread_local! {
    /// This thread's buffer in each queue it fed, by queue id.
    static OWN: RefCell<Vec<(u64, Arc<dyn Any + Send + Sync>)>> = const { RefCell::new(Vec::new()) };
}

/// The buffers of one queue.
#[derive(Debug)]
pub(crate) struct Buffers<T> {
    id: u64,
    /// Every thread's buffer, and `common`; the worker empties them all.
    registered: Mutex<Vec<Arc<Buffer<T>>>>,
    /// For a thread whose own buffer cannot be reached (an item pushed while its thread-locals are
    /// torn down, or from inside a push).
    common: Arc<Buffer<T>>,
    /// The capacity an emptied buffer gets back at most (a burst beyond it grows the buffer again).
    retained: usize,
}

fn lock<T>(buffer: &Buffer<T>) -> MutexGuard<'_, Vec<T>> {
    // A push never panics while holding the lock but for an allocation failure; the items stay valid.
    buffer.lock().unwrap_or_else(PoisonError::into_inner)
}

fn try_lock<T>(buffer: &Buffer<T>) -> Option<MutexGuard<'_, Vec<T>>> {
    match buffer.try_lock() {
        Ok(items) => Some(items),
        Err(TryLockError::Poisoned(poisoned)) => Some(poisoned.into_inner()),
        Err(TryLockError::WouldBlock) => None,
    }
}

impl<T: Send + 'static> Buffers<T> {
    /// Buffers that give an emptied buffer back with room for up to `retained` items.
    pub(crate) fn new(retained: usize) -> Self {
        let common = Arc::new(Mutex::new(Vec::new()));
        Self {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            registered: Mutex::new(vec![common.clone()]),
            common,
            retained: retained.max(1),
        }
    }

    /// Runs `fill` on this thread's buffer, locked (registering it on the thread's first item).
    pub(crate) fn with_own(&self, fill: impl FnOnce(&mut Vec<T>)) {
        let mut fill = Some(fill);
        let _ = OWN.try_with(|own| {
            let Ok(own) = own.try_borrow() else { return };
            let buffer = own.iter().find(|(id, _)| *id == self.id).and_then(|(_, buffer)| buffer.downcast_ref());
            // Busy (the worker is emptying it, or a push inside a push on this thread): `common`.
            let Some(mut items) = buffer.and_then(try_lock) else { return };
            if let Some(fill) = fill.take() {
                fill(&mut items);
            }
        });
        if let Some(fill) = fill {
            let registered =
                OWN.try_with(|own| own.try_borrow().is_ok_and(|own| own.iter().any(|(id, _)| *id == self.id)));
            let buffer = if registered == Ok(false) { self.register() } else { self.common.clone() };
            fill(&mut lock(&buffer));
        }
    }

    /// A new buffer for this thread, registered here and in the thread's locals; `common` if the
    /// thread's locals cannot take it.
    #[cold]
    fn register(&self) -> Arc<Buffer<T>> {
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let kept = OWN.try_with(|own| {
            let Ok(mut own) = own.try_borrow_mut() else { return false };
            // Buffers of queues that are gone: nobody but this thread holds them any more.
            own.retain(|(_, buffer)| Arc::strong_count(buffer) > 1);
            own.push((self.id, buffer.clone()));
            true
        });
        if !matches!(kept, Ok(true)) {
            return self.common.clone();
        }
        lock(&self.registered).push(buffer.clone());
        buffer
    }

    /// Moves every buffered item into `into` (appended), and forgets the buffers of exited threads.
    pub(crate) fn take_all(&self, into: &mut Vec<T>) {
        self.take(into, self.retained);
    }

    /// As `take_all`, for the last time: the buffers keep no capacity (the queue is closed).
    pub(crate) fn take_last(&self, into: &mut Vec<T>) {
        self.take(into, 0);
    }

    fn take(&self, into: &mut Vec<T>, retained: usize) {
        let mut registered = lock(&self.registered);
        registered.retain(|buffer| {
            let mut items = lock(buffer);
            // Only this list holds it: its thread exited, nothing can fill it again.
            let orphan = Arc::strong_count(buffer) == 1;
            if !items.is_empty() {
                let emptied = Vec::with_capacity(items.capacity().min(retained));
                let mut full = std::mem::replace(&mut *items, emptied);
                drop(items);
                // The smaller moves (order does not matter in a batch).
                if into.len() < full.len() {
                    std::mem::swap(into, &mut full);
                }
                into.append(&mut full);
            }
            !orphan
        });
    }
}
