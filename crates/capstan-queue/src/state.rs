//! The queue's state behind its one lock: the key index, the ready FIFO of key ids, the delay heap.
//!
//! A key has one entry in [`Keys`] while it is waiting, being processed, or delayed; the entry is
//! removed when none of these holds any more. The FIFO and the heap refer to entries by id, so each
//! operation does at most one hash lookup (none to hand out a key), with the hash computed by the
//! caller before taking the lock.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::task::Waker;

use tokio::time::Instant;

use crate::delay::{DelayHeap, TimerState};
use crate::keys::{Entry, Found, Keys, Phase};
use crate::metrics::MetricsState;
use crate::ready::Ready;

pub(crate) type Map<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

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

/// Wakers collected under the lock and woken after it is released. The common case, one waker, is
/// kept inline: no allocation.
#[derive(Default)]
pub(crate) struct Wakeups {
    one: Option<Waker>,
    more: Vec<Waker>,
}

impl Wakeups {
    pub(crate) fn push(&mut self, waker: Option<Waker>) {
        if let Some(waker) = waker {
            match self.one {
                None => self.one = Some(waker),
                Some(_) => self.more.push(waker),
            }
        }
    }

    pub(crate) fn extend(&mut self, wakers: Vec<Waker>) {
        self.more.extend(wakers);
    }

    pub(crate) fn wake(self) {
        if let Some(waker) = self.one {
            waker.wake();
        }
        for waker in self.more {
            waker.wake();
        }
    }
}

/// Everything behind the queue's lock.
pub(crate) struct State<K> {
    pub(crate) keys: Keys<K>,
    pub(crate) ready: Ready<u32>,
    /// Keys in `Waiting`: what `len()` reports.
    pub(crate) waiting: usize,
    /// Keys in `Processing` or `ProcessingDirty`.
    pub(crate) processing: usize,
    /// Keys in `ProcessingDirty`.
    pub(crate) dirty: usize,
    next_seq: u64,
    pub(crate) delayed: DelayHeap<u32>,
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
            keys: Keys::new(),
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

    /// Adds `key` (whose hash is `hash`) now with `priority`; the caller checked that the queue is not
    /// shutting down. Returns the outcome and the caller's key if the queue already had a copy (to be
    /// dropped after unlocking).
    pub(crate) fn add(&mut self, key: K, hash: u64, priority: i32, wakeups: &mut Wakeups) -> (Added, Option<K>) {
        let seq = self.next_seq();
        match self.keys.find_or_insert(key, hash, Phase::Waiting, priority, seq, None) {
            Found::Inserted(id) => {
                self.after_add(id, Added::Queued, Some(priority), seq, wakeups);
                (Added::Queued, None)
            }
            Found::Existing(id, key) => {
                let Some(entry) = self.keys.get_mut(id) else {
                    return (Added::Deduplicated, Some(key));
                };
                let (added, push) = apply_add(entry, priority, seq);
                self.after_add(id, added, push, seq, wakeups);
                (added, Some(key))
            }
        }
    }

    /// Moves every delayed key whose time has come into the ready FIFO, earliest first.
    pub(crate) fn promote_due(&mut self, now: Instant, wakeups: &mut Wakeups) {
        while let Some(item) = self.delayed.pop_due(now) {
            let id = item.key;
            let Some(entry) = self.keys.get_mut(id) else {
                continue;
            };
            if entry.delay != Some(item.at) {
                continue; // superseded by an earlier delay for the same key
            }
            entry.delay = None;
            self.next_seq += 1;
            let seq = self.next_seq;
            let (added, push) = apply_add(entry, 0, seq);
            self.after_add(id, added, push, seq, wakeups);
        }
    }

    /// Bookkeeping after an add changed entry `id`: the FIFO push (with `priority`, if any), counters,
    /// one waiter to wake, metrics.
    fn after_add(&mut self, id: u32, added: Added, push: Option<i32>, seq: u64, wakeups: &mut Wakeups) {
        if let Some(priority) = push {
            self.ready.push(priority, id, seq);
        }
        match added {
            Added::Queued => {
                self.waiting += 1;
                wakeups.push(self.waiters.pop());
            }
            Added::Dirty => self.dirty += 1,
            Added::Deduplicated => return,
        }
        if let Some(metrics) = &mut self.metrics {
            if let Some(entry) = self.keys.get(id) {
                metrics.on_add(&entry.key);
            }
            metrics.depth(self.waiting + self.dirty);
        }
    }

    /// Hands out the next waiting key, marking it processing.
    pub(crate) fn pop(&mut self) -> Option<K> {
        while let Some(slot) = self.ready.pop() {
            let Some(entry) = self.keys.get_mut(slot.key) else {
                continue;
            };
            if entry.phase != Phase::Waiting || entry.seq != slot.seq {
                continue; // stale slot of a key whose priority was raised
            }
            entry.phase = Phase::Processing;
            self.waiting -= 1;
            self.processing += 1;
            let key = entry.key.clone();
            if let Some(metrics) = &mut self.metrics {
                metrics.on_get(&key, self.waiting + self.dirty);
            }
            return Some(key);
        }
        None
    }

    /// Ends processing of `key` (whose hash is `hash`); a dirty key waits again. Returns false if
    /// `key` was not processing. A key no longer tracked is moved to `garbage`, to be dropped after
    /// the lock is released.
    pub(crate) fn done(&mut self, key: &K, hash: u64, wakeups: &mut Wakeups, garbage: &mut Option<K>) -> bool {
        let Some(id) = self.keys.find(hash, key) else {
            return false;
        };
        let seq = self.next_seq + 1;
        let Some(entry) = self.keys.get_mut(id) else {
            return false;
        };
        match entry.phase {
            Phase::Processing => {
                self.processing -= 1;
                if let Some(metrics) = &mut self.metrics {
                    metrics.on_done(&entry.key);
                }
                if entry.delay.is_some() {
                    entry.phase = Phase::Idle;
                } else {
                    *garbage = self.keys.remove(id);
                }
            }
            Phase::ProcessingDirty => {
                self.next_seq = seq;
                entry.phase = Phase::Waiting;
                entry.seq = seq;
                let priority = entry.priority;
                if let Some(metrics) = &mut self.metrics {
                    metrics.on_done(&entry.key);
                }
                self.processing -= 1;
                self.dirty -= 1;
                self.ready.push(priority, id, seq);
                self.waiting += 1;
                wakeups.push(self.waiters.pop());
                if let Some(metrics) = &self.metrics {
                    metrics.depth(self.waiting + self.dirty);
                }
            }
            Phase::Idle | Phase::Waiting => return false,
        }
        true
    }

    /// Records a delayed add of `key` (whose hash is `hash`) at `at`, keeping the earliest. Returns
    /// whether `at` is now the key's deadline (the heap got a new item), and the caller's key if the
    /// queue already had a copy (to be dropped after unlocking).
    pub(crate) fn add_delayed(&mut self, key: K, hash: u64, at: Instant) -> (bool, Option<K>) {
        match self.keys.find_or_insert(key, hash, Phase::Idle, 0, 0, Some(at)) {
            Found::Inserted(id) => {
                self.delayed.push(id, at);
                (true, None)
            }
            Found::Existing(id, key) => {
                let Some(entry) = self.keys.get_mut(id) else {
                    return (false, Some(key));
                };
                if entry.delay.is_some_and(|current| current <= at) {
                    return (false, Some(key));
                }
                entry.delay = Some(at);
                self.delayed.push(id, at);
                (true, Some(key))
            }
        }
    }

    /// Stops the queue: no key is handed out or accepted any more; delayed keys are dropped.
    pub(crate) fn shut_down(&mut self, wakeups: &mut Wakeups) {
        self.shutting_down = true;
        self.delayed.clear();
        self.keys.retain(|entry| {
            entry.delay = None;
            entry.phase != Phase::Idle
        });
        wakeups.extend(self.waiters.take_all());
    }
}

/// Applies an add to an existing entry; returns the outcome and, if the key must be pushed to the
/// ready FIFO, the priority to push it with.
fn apply_add<K>(entry: &mut Entry<K>, priority: i32, seq: u64) -> (Added, Option<i32>) {
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
