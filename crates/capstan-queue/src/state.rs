//! The queue's state behind its one lock: every key the queue knows, in one hash map.
//!
//! A key has one [`Entry`] while it is waiting, being processed, or delayed; the entry is removed
//! when none of these holds any more. Each operation is one short critical section with one hash
//! lookup on its common path.

use std::collections::hash_map::Entry as MapEntry;
use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::task::Waker;

use tokio::time::Instant;

use crate::delay::{DelayHeap, TimerState};
use crate::metrics::MetricsState;
use crate::ready::Ready;

pub(crate) type Map<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// Where a key is in its life cycle.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Phase {
    /// Known only because of a pending delayed add.
    Idle,
    /// In the ready FIFO, waiting for a worker.
    Waiting,
    /// Held by a worker.
    Processing,
    /// Held by a worker and added again since: requeued at `done`.
    ProcessingDirty,
}

/// What the queue knows about one key.
pub(crate) struct Entry {
    pub(crate) phase: Phase,
    /// The priority the key waits with (or will wait with, once a dirty key is done).
    pub(crate) priority: i32,
    /// The sequence number of the key's live slot in the ready FIFO, when `Waiting`.
    pub(crate) seq: u64,
    /// The earliest pending delayed add, if any.
    pub(crate) delay: Option<Instant>,
}

/// The outcome of adding a key, for wake-ups and metrics.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Added {
    /// The key was not waiting: it now waits for a worker.
    Queued,
    /// The key was being processed: it will be requeued when done.
    Dirty,
    /// The key was already waiting or already dirty: nothing changed but possibly its priority.
    Deduplicated,
}

/// Wakers of pending `get` calls, oldest first, each with its registration id.
#[derive(Default)]
pub(crate) struct Waiters {
    list: VecDeque<(u64, Waker)>,
    next_id: u64,
}

impl Waiters {
    /// Registers a new waiter and returns its id.
    pub(crate) fn register(&mut self, waker: &Waker) -> u64 {
        self.next_id += 1;
        self.list.push_back((self.next_id, waker.clone()));
        self.next_id
    }

    /// Refreshes the waker of `id` if it is still registered; false if it was woken since.
    pub(crate) fn refresh(&mut self, id: u64, waker: &Waker) -> bool {
        match self.list.iter_mut().find(|(i, _)| *i == id) {
            Some((_, w)) => {
                if !w.will_wake(waker) {
                    w.clone_from(waker);
                }
                true
            }
            None => false,
        }
    }

    /// Removes `id`; false if it was not registered (it was woken since).
    pub(crate) fn remove(&mut self, id: u64) -> bool {
        match self.list.iter().position(|(i, _)| *i == id) {
            Some(pos) => {
                self.list.remove(pos);
                true
            }
            None => false,
        }
    }

    /// Takes the oldest waiter, to wake it once the lock is released.
    pub(crate) fn pop(&mut self) -> Option<Waker> {
        self.list.pop_front().map(|(_, w)| w)
    }

    /// Takes every waiter.
    pub(crate) fn take_all(&mut self) -> Vec<Waker> {
        self.list.drain(..).map(|(_, w)| w).collect()
    }
}

/// Wakers collected under the lock and woken after it is released.
#[derive(Default)]
pub(crate) struct Wakeups(Vec<Waker>);

impl Wakeups {
    pub(crate) fn push(&mut self, waker: Option<Waker>) {
        if let Some(waker) = waker {
            self.0.push(waker);
        }
    }

    pub(crate) fn extend(&mut self, wakers: Vec<Waker>) {
        self.0.extend(wakers);
    }

    pub(crate) fn wake(self) {
        for waker in self.0 {
            waker.wake();
        }
    }
}

/// Everything behind the queue's lock.
pub(crate) struct State<K> {
    pub(crate) keys: Map<K, Entry>,
    pub(crate) ready: Ready<K>,
    /// Keys in `Waiting`: what `len()` reports.
    pub(crate) waiting: usize,
    /// Keys in `Processing` or `ProcessingDirty`.
    pub(crate) processing: usize,
    /// Keys in `ProcessingDirty`.
    pub(crate) dirty: usize,
    next_seq: u64,
    pub(crate) delayed: DelayHeap<K>,
    pub(crate) waiters: Waiters,
    pub(crate) shutting_down: bool,
    /// `shut_down_with_drain` is waiting for `processing` to reach zero.
    pub(crate) draining: bool,
    pub(crate) metrics: Option<MetricsState<K>>,
    pub(crate) timer: TimerState,
}

impl<K: Clone + Eq + Hash> State<K> {
    pub(crate) fn new(metrics: Option<MetricsState<K>>) -> Self {
        State {
            keys: Map::default(),
            ready: Ready::new(),
            waiting: 0,
            processing: 0,
            dirty: 0,
            next_seq: 0,
            delayed: DelayHeap::new(),
            waiters: Waiters::default(),
            shutting_down: false,
            draining: false,
            metrics,
            timer: TimerState::default(),
        }
    }

    fn next_seq(&mut self) -> u64 {
        self.next_seq += 1;
        self.next_seq
    }

    /// Adds `key` now with `priority`; the caller checked that the queue is not shutting down.
    pub(crate) fn add(&mut self, key: K, priority: i32, wakeups: &mut Wakeups) -> Added {
        let seq = self.next_seq();
        let with_metrics = self.metrics.is_some();
        let (added, push, dirty_key) = match self.keys.entry(key) {
            MapEntry::Vacant(vacant) => {
                let slot_key = vacant.key().clone();
                vacant.insert(Entry {
                    phase: Phase::Waiting,
                    priority,
                    seq,
                    delay: None,
                });
                (Added::Queued, Some((slot_key, priority)), None)
            }
            MapEntry::Occupied(mut occupied) => {
                let (added, push) = apply_add(occupied.get_mut(), priority, seq);
                let push = push.map(|p| (occupied.key().clone(), p));
                let dirty_key = (added == Added::Dirty && with_metrics).then(|| occupied.key().clone());
                (added, push, dirty_key)
            }
        };
        self.after_add(added, push, dirty_key, seq, wakeups);
        added
    }

    /// Moves every delayed key whose time has come into the ready FIFO, earliest first.
    pub(crate) fn promote_due(&mut self, now: Instant, wakeups: &mut Wakeups) {
        while let Some(item) = self.delayed.pop_due(now) {
            let Some(entry) = self.keys.get_mut(&item.key) else {
                continue;
            };
            if entry.delay != Some(item.at) {
                continue; // superseded by an earlier delay for the same key
            }
            entry.delay = None;
            self.next_seq += 1;
            let seq = self.next_seq;
            let (added, push) = apply_add(entry, 0, seq);
            let dirty_key = (added == Added::Dirty && self.metrics.is_some()).then(|| item.key.clone());
            // The heap's copy of the key moves into the FIFO: no clone on this path.
            let push = push.map(|p| (item.key, p));
            self.after_add(added, push, dirty_key, seq, wakeups);
        }
    }

    fn after_add(
        &mut self,
        added: Added,
        push: Option<(K, i32)>,
        dirty_key: Option<K>,
        seq: u64,
        wakeups: &mut Wakeups,
    ) {
        if let Some((key, priority)) = push {
            if added == Added::Queued {
                if let Some(metrics) = &mut self.metrics {
                    metrics.on_add(&key);
                }
                self.waiting += 1;
                wakeups.push(self.waiters.pop());
            }
            self.ready.push(priority, key, seq);
        }
        if added == Added::Dirty {
            self.dirty += 1;
            if let (Some(metrics), Some(key)) = (&mut self.metrics, dirty_key) {
                metrics.on_add(&key);
            }
        }
        if added != Added::Deduplicated
            && let Some(metrics) = &self.metrics
        {
            metrics.depth(self.waiting + self.dirty);
        }
    }

    /// Hands out the next waiting key, marking it processing.
    pub(crate) fn pop(&mut self) -> Option<K> {
        while let Some(slot) = self.ready.pop() {
            let Some(entry) = self.keys.get_mut(&slot.key) else {
                continue;
            };
            if entry.phase != Phase::Waiting || entry.seq != slot.seq {
                continue; // stale slot of a key whose priority was raised
            }
            entry.phase = Phase::Processing;
            self.waiting -= 1;
            self.processing += 1;
            if let Some(metrics) = &mut self.metrics {
                metrics.on_get(&slot.key, self.waiting + self.dirty);
            }
            return Some(slot.key);
        }
        None
    }

    /// Ends processing of `key`; a dirty key waits again. Returns false if `key` was not processing.
    /// A key no longer tracked is moved to `garbage`, to be dropped after the lock is released.
    pub(crate) fn done(&mut self, key: &K, wakeups: &mut Wakeups, garbage: &mut Option<K>) -> bool {
        // One lookup on the common path: remove, and put back only if something remains to track.
        let Some((owned, mut entry)) = self.keys.remove_entry(key) else {
            return false;
        };
        match entry.phase {
            Phase::Processing => {
                self.processing -= 1;
                if let Some(metrics) = &mut self.metrics {
                    metrics.on_done(&owned);
                }
                if entry.delay.is_some() {
                    entry.phase = Phase::Idle;
                    self.keys.insert(owned, entry);
                } else {
                    *garbage = Some(owned);
                }
            }
            Phase::ProcessingDirty => {
                self.processing -= 1;
                self.dirty -= 1;
                if let Some(metrics) = &mut self.metrics {
                    metrics.on_done(&owned);
                }
                let seq = self.next_seq();
                entry.phase = Phase::Waiting;
                entry.seq = seq;
                let priority = entry.priority;
                let slot_key = owned.clone();
                self.keys.insert(owned, entry);
                self.ready.push(priority, slot_key, seq);
                self.waiting += 1;
                wakeups.push(self.waiters.pop());
                if let Some(metrics) = &self.metrics {
                    metrics.depth(self.waiting + self.dirty);
                }
            }
            Phase::Idle | Phase::Waiting => {
                self.keys.insert(owned, entry);
                return false;
            }
        }
        true
    }

    /// Records a delayed add of `key` at `at`, keeping the earliest. Returns true if `at` is now the
    /// key's deadline (the heap got a new item).
    pub(crate) fn add_delayed(&mut self, key: K, at: Instant) -> bool {
        match self.keys.entry(key) {
            MapEntry::Vacant(vacant) => {
                let heap_key = vacant.key().clone();
                vacant.insert(Entry {
                    phase: Phase::Idle,
                    priority: 0,
                    seq: 0,
                    delay: Some(at),
                });
                self.delayed.push(heap_key, at);
                true
            }
            MapEntry::Occupied(mut occupied) => {
                let entry = occupied.get_mut();
                if entry.delay.is_some_and(|current| current <= at) {
                    return false;
                }
                entry.delay = Some(at);
                let heap_key = occupied.key().clone();
                self.delayed.push(heap_key, at);
                true
            }
        }
    }

    /// Stops the queue: no key is handed out or accepted any more; delayed keys are dropped.
    pub(crate) fn shut_down(&mut self, wakeups: &mut Wakeups) {
        self.shutting_down = true;
        self.delayed.clear();
        self.keys.retain(|_, entry| {
            entry.delay = None;
            entry.phase != Phase::Idle
        });
        wakeups.extend(self.waiters.take_all());
    }
}

/// Applies an add to an existing entry; returns the outcome and, if the key must be pushed to the
/// ready FIFO, the priority to push it with.
fn apply_add(entry: &mut Entry, priority: i32, seq: u64) -> (Added, Option<i32>) {
    match entry.phase {
        Phase::Idle => {
            entry.phase = Phase::Waiting;
            entry.priority = priority;
            entry.seq = seq;
            (Added::Queued, Some(priority))
        }
        Phase::Waiting if priority > entry.priority => {
            // A raised priority: a new slot at the higher level; the old one becomes stale.
            entry.priority = priority;
            entry.seq = seq;
            (Added::Deduplicated, Some(priority))
        }
        Phase::Waiting => (Added::Deduplicated, None),
        Phase::Processing => {
            entry.phase = Phase::ProcessingDirty;
            entry.priority = priority;
            (Added::Dirty, None)
        }
        Phase::ProcessingDirty => {
            entry.priority = entry.priority.max(priority);
            (Added::Deduplicated, None)
        }
    }
}
