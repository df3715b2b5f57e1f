//! Delayed adds: one min-heap of deadlines per queue and one timer task that wakes for the earliest.
//!
//! `add_after` records the deadline in the key's entry (keeping the earliest) and pushes a heap item;
//! a later, earlier deadline for the same key pushes another item and leaves the first one stale (its
//! deadline no longer matches the entry). Due keys are promoted into the ready FIFO by every queue
//! operation that finds the heap's top due, and by the timer task, which sleeps until the earliest
//! deadline so that a worker blocked in `get` is woken on time. There is one timer task per queue,
//! spawned on first need, never one task or one timer per key.

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::hash::Hash;
use std::sync::{Arc, Weak};

use tokio::sync::Notify;
use tokio::time::{Instant, sleep_until};

use crate::queue::Shared;
use crate::state::Wakeups;

/// A key whose delayed add falls due at `at`.
pub(crate) struct Delayed<K> {
    pub(crate) at: Instant,
    seq: u64,
    pub(crate) key: K,
}

impl<K> PartialEq for Delayed<K> {
    fn eq(&self, other: &Self) -> bool {
        self.at == other.at && self.seq == other.seq
    }
}

impl<K> Eq for Delayed<K> {}

impl<K> PartialOrd for Delayed<K> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<K> Ord for Delayed<K> {
    /// Reversed, so that `BinaryHeap` (a max-heap) pops the earliest deadline first, FIFO on ties.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.at, other.seq).cmp(&(self.at, self.seq))
    }
}

/// The heap of pending delayed adds (including stale items).
pub(crate) struct DelayHeap<K> {
    heap: BinaryHeap<Delayed<K>>,
    next_seq: u64,
}

impl<K> DelayHeap<K> {
    pub(crate) fn new() -> Self {
        DelayHeap {
            heap: BinaryHeap::new(),
            next_seq: 0,
        }
    }

    pub(crate) fn push(&mut self, key: K, at: Instant) {
        self.next_seq += 1;
        self.heap.push(Delayed {
            at,
            seq: self.next_seq,
            key,
        });
    }

    /// Pops the earliest item if it is due at `now`.
    pub(crate) fn pop_due(&mut self, now: Instant) -> Option<Delayed<K>> {
        if self.heap.peek()?.at <= now {
            self.heap.pop()
        } else {
            None
        }
    }

    /// The earliest deadline, stale or not.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.heap.peek().map(|d| d.at)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }

    pub(crate) fn clear(&mut self) {
        self.heap = BinaryHeap::new();
    }
}

/// What the queue knows about its timer task (kept under the queue's lock).
#[derive(Default)]
pub(crate) struct TimerState {
    /// The task exists.
    pub(crate) running: bool,
    /// The deadline the task sleeps until; `None` while it waits for a notification only.
    pub(crate) deadline: Option<Instant>,
}

/// How often the timer task reports unfinished work to metrics, as client-go does.
pub(crate) const UNFINISHED_WORK_PERIOD: std::time::Duration = std::time::Duration::from_millis(500);

/// The timer task: promotes due keys, wakes workers, and (with metrics) reports unfinished work.
///
/// It holds the queue weakly, so the queue is freed when its last handle drops; dropping the last
/// handle notifies the task, which then ends. It also ends when the queue shuts down.
pub(crate) async fn run_timer<K>(queue: Weak<Shared<K>>, wake: Arc<Notify>)
where
    K: Clone + Eq + Hash + Send + Sync + 'static,
{
    let mut next_report: Option<Instant> = None;
    loop {
        let deadline = {
            let Some(shared) = queue.upgrade() else { return };
            let now = crate::clock::now();
            let mut wakeups = Wakeups::default();
            let deadline = {
                let mut state = shared.state.lock();
                if state.shutting_down {
                    state.timer.running = false;
                    return;
                }
                state.promote_due(now, &mut wakeups);
                let mut deadline = state.delayed.next_deadline();
                if let Some(metrics) = &state.metrics {
                    let report_at = match next_report {
                        Some(at) if at > now => at,
                        _ => {
                            metrics.report_unfinished(now);
                            now + UNFINISHED_WORK_PERIOD
                        }
                    };
                    next_report = Some(report_at);
                    deadline = Some(deadline.map_or(report_at, |d| d.min(report_at)));
                }
                state.timer.deadline = deadline;
                deadline
            };
            wakeups.wake();
            deadline
        };
        match deadline {
            Some(at) => {
                tokio::select! {
                    biased;
                    () = wake.notified() => {}
                    () = sleep_until(at) => {}
                }
            }
            None => wake.notified().await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test(start_paused = true)]
    async fn heap_pops_earliest_first_and_fifo_on_ties() {
        let t0 = Instant::now();
        let mut heap = DelayHeap::new();
        heap.push("late", t0 + Duration::from_millis(9));
        heap.push("first", t0 + Duration::from_millis(3));
        heap.push("second", t0 + Duration::from_millis(3));
        assert!(heap.pop_due(t0).is_none(), "nothing is due before its deadline");
        let due: Vec<_> = std::iter::from_fn(|| heap.pop_due(t0 + Duration::from_millis(5)).map(|d| d.key)).collect();
        assert_eq!(due, ["first", "second"]);
        assert_eq!(heap.next_deadline(), Some(t0 + Duration::from_millis(9)));
    }
}
