//! One exporter's worker: a task on the guard's export runtime that takes batches off the queue and
//! exports them, with the `OTEL_BSP_*` / `OTEL_BLRP_*` rules: export when a full batch is waiting or
//! when the schedule delay has passed since the last export with something waiting; each export
//! within the export timeout. It sleeps without a timer while the queue is empty, so an idle process
//! uses no CPU whatever the delay.
//!
//! Items come out of the producing threads' buffers (`buffers`): the worker takes every buffer whole
//! when it needs more than it holds for a batch, and exports batches of at most the batch size.
//!
//! Stopping closes the queue, drains it batch after batch until it is empty or the shutdown deadline
//! passes (each export gets `min(export timeout, what is left)`), then counts what the deadline left
//! queued.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::FutureExt as _;
use tokio::time::sleep_until;

use super::buffers::Buffers;
use super::deadline::{after, with_stop, Completion, EXPORT_GRACE};
use super::delivery::{BatchExport, Delivery};
use super::queue::{Requests, Shared};

/// How a worker batches: the `OTEL_BSP_*` / `OTEL_BLRP_*` settings it uses.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Batching {
    pub(crate) max_export_batch_size: usize,
    pub(crate) schedule_delay: Duration,
    pub(crate) export_timeout: Duration,
}

pub(crate) struct Worker<T> {
    buffers: Arc<Buffers<T>>,
    /// Items taken out of the buffers, not yet exported.
    staged: Vec<T>,
    /// Closes the queue when the worker ends, stopped or dropped with its runtime.
    _closing: Closing,
    shared: Arc<Shared>,
    exporter: Box<dyn BatchExport<T>>,
    batching: Batching,
    /// Items this worker took off the queue (its own copy of the counter, to compute what waits).
    taken: u64,
}

impl<T: Send + 'static> Worker<T> {
    pub(crate) fn new(
        buffers: Arc<Buffers<T>>,
        shared: Arc<Shared>,
        exporter: Box<dyn BatchExport<T>>,
        batching: Batching,
    ) -> Self {
        let batching = Batching { max_export_batch_size: batching.max_export_batch_size.max(1), ..batching };
        let closing = Closing(shared.clone());
        Self { buffers, staged: Vec::new(), _closing: closing, shared, exporter, batching, taken: 0 }
    }

    /// Items accepted into the queue and not yet taken.
    fn waiting(&self) -> u64 {
        self.shared.counts.accepted().saturating_sub(self.taken)
    }

    pub(crate) async fn run(mut self) {
        let batch = self.batching.max_export_batch_size as u64;
        let mut next_export = after(self.batching.schedule_delay);
        loop {
            let Requests { stop, flushes } = self.shared.take_requests();
            if let Some(deadline) = stop {
                return self.stop(deadline, flushes).await;
            }
            if !flushes.is_empty() {
                self.flush(flushes).await;
                next_export = after(self.batching.schedule_delay);
                continue;
            }
            let waiting = self.waiting();
            if waiting >= batch || (waiting > 0 && Instant::now() >= next_export) {
                self.export_batch(None).await;
                next_export = after(self.batching.schedule_delay);
                continue;
            }
            // Woken by the item that completes a batch, or by the first one when the queue is empty.
            let threshold = if waiting == 0 { self.taken + 1 } else { self.taken + batch };
            if !self.shared.wake_at(threshold) {
                continue;
            }
            let timer = (waiting > 0).then_some(next_export);
            tokio::select! {
                () = self.shared.wake.notified() => {}
                () = self.shared.requested.notified() => {}
                () = sleep_until(timer.unwrap_or(next_export).into()), if timer.is_some() => {}
            }
        }
    }

    /// Exports one batch (up to the batch size) of what is queued; returns how many items it took.
    async fn export_batch(&mut self, stop: Option<Instant>) -> usize {
        let size = self.batching.max_export_batch_size;
        if self.staged.len() < size {
            self.buffers.take_all(&mut self.staged);
        }
        let staged = self.staged.len();
        // Whichever part is smaller is moved: the rest (after a batch's worth), else the batch.
        let batch = if staged <= size {
            std::mem::take(&mut self.staged)
        } else if staged - size < size {
            let rest = self.staged.split_off(size);
            std::mem::replace(&mut self.staged, rest)
        } else {
            self.staged.split_off(staged - size)
        };
        let count = batch.len();
        if count == 0 {
            return 0;
        }
        self.taken += count as u64;
        self.shared.counts.exporting(count);
        let mut deadline = after(self.batching.export_timeout);
        if let Some(stop) = stop {
            deadline = deadline.min(stop);
        }
        let delivery = Self::export(&self.shared, &*self.exporter, batch, deadline).await.fitted_to(count);
        self.shared.counts.delivered(delivery);
        count
    }

    /// The exporter's delivery, or all of the batch unconfirmed if it overran its deadline (or the
    /// shutdown deadline that came while it ran).
    /// (Not a method: the worker's staged items need not be `Sync`.)
    async fn export(shared: &Shared, exporter: &dyn BatchExport<T>, batch: Vec<T>, deadline: Instant) -> Delivery {
        let count = batch.len();
        let mut cut_at = deadline + EXPORT_GRACE;
        // An exporter that panics fails its batch instead of taking the worker down.
        let export = with_stop(shared.watch_stop(), AssertUnwindSafe(exporter.export(batch, deadline)).catch_unwind());
        tokio::pin!(export);
        loop {
            tokio::select! {
                biased;
                delivery = &mut export => return delivery.unwrap_or(Delivery::failed(count)),
                () = sleep_until(cut_at.into()) => return Delivery::unconfirmed(count),
                () = shared.requested.notified() => {
                    if let Some(stop) = shared.stop_deadline() {
                        cut_at = cut_at.min(stop + EXPORT_GRACE);
                    }
                    // A flush asked meanwhile is read by the main loop after this export.
                }
            }
        }
    }

    /// Exports what was queued when each flush was asked, then finishes the flushes.
    async fn flush(&mut self, flushes: Vec<(u64, Arc<Completion>)>) {
        let target = flushes.iter().map(|(accepted, _)| *accepted).max().unwrap_or(0);
        while self.taken < target && self.shared.stop_deadline().is_none() {
            if self.export_batch(None).await == 0 {
                break;
            }
        }
        for (_, completion) in flushes {
            completion.finish();
        }
    }

    async fn stop(mut self, deadline: Instant, flushes: Vec<(u64, Arc<Completion>)>) {
        // From here on, pushes count as `after_shutdown`; what is buffered stays reachable.
        self.shared.close();
        while Instant::now() < deadline {
            if self.export_batch(Some(deadline)).await == 0 {
                break;
            }
        }
        self.buffers.take_last(&mut self.staged);
        let cut = std::mem::take(&mut self.staged).len();
        self.shared.counts.cut_by_deadline(cut as u64);
        // The exporter's own shutdown may block (the console prints the traces it holds).
        let Self { exporter, shared, .. } = self;
        let shutdown = tokio::task::spawn_blocking(move || exporter.shutdown());
        let _ = tokio::time::timeout_at(deadline.max(Instant::now()).into(), shutdown).await;
        for (_, completion) in flushes.into_iter().chain(shared.take_requests().flushes) {
            completion.finish();
        }
        shared.stopped.finish();
    }
}

/// Closes the queue when dropped: a worker dropped without stopping (its runtime shut down) leaves no
/// producer filling buffers nobody empties; their items count as after shutdown.
#[derive(Debug)]
struct Closing(Arc<Shared>);

impl Drop for Closing {
    fn drop(&mut self) {
        self.0.close();
    }
}
