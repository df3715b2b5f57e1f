//! State-machine properties: random operations from several simulated workers, run against the real
//! queue on a paused clock and checked step by step against a simple model.
//!
//! The model is a sorted map of waiting keys, a set of keys in processing, a map of dirty keys, a
//! map of delayed deadlines and the backoff counts. Each step checks that the queue hands out
//! exactly the key the model predicts (so no key is ever handed to two workers, duplicates never
//! appear, priority order and FIFO hold, delayed keys are neither early nor late), that `len()`
//! equals the model's waiting count, that backoff follows 5 ms · 2^n capped at 40 ms and resets on
//! `forget`, and that a shutdown with drain completes exactly when no worker holds a key. At the end
//! (without shutdown) every key still owed is handed out.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use capstan_queue::{ExponentialBackoff, WorkQueue};
use proptest::prelude::*;

const WORKERS: usize = 3;
const BASE_MS: u64 = 5;
const CAP_MS: u64 = 40;

#[derive(Debug, Clone)]
enum Op {
    Add(u8),
    AddWithPriority(u8, i32),
    AddAfter(u8, u64),
    AddRateLimited(u8),
    Get(usize),
    Done(usize),
    Forget(u8),
    Advance(u64),
    ShutDown,
    ShutDownWithDrain,
}

fn op() -> impl Strategy<Value = Op> {
    let key = 0u8..6;
    prop_oneof![
        6 => key.clone().prop_map(Op::Add),
        3 => (key.clone(), -1i32..3).prop_map(|(k, p)| Op::AddWithPriority(k, p)),
        4 => (key.clone(), 0u64..30).prop_map(|(k, d)| Op::AddAfter(k, d)),
        3 => key.clone().prop_map(Op::AddRateLimited),
        8 => (0..WORKERS).prop_map(Op::Get),
        6 => (0..WORKERS).prop_map(Op::Done),
        2 => key.prop_map(Op::Forget),
        4 => (1u64..25).prop_map(Op::Advance),
        1 => Just(Op::ShutDown),
        1 => Just(Op::ShutDownWithDrain),
    ]
}

/// What the queue should contain.
#[derive(Default)]
struct Model {
    now: u64,
    seq: u64,
    /// Waiting key -> (priority, sequence of the add that placed it).
    waiting: BTreeMap<u8, (i32, u64)>,
    processing: HashSet<u8>,
    /// Dirty key -> the priority it will wait with after `done`.
    dirty: HashMap<u8, i32>,
    /// Delayed key -> (deadline ms, sequence of the delayed add that set it).
    delayed: HashMap<u8, (u64, u64)>,
    failures: HashMap<u8, u32>,
    shut: bool,
}

impl Model {
    fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    fn add(&mut self, key: u8, priority: i32) {
        if self.shut {
            return;
        }
        let seq = self.next_seq();
        if self.processing.contains(&key) {
            let p = self.dirty.entry(key).or_insert(priority);
            *p = (*p).max(priority);
        } else if let Some((p, s)) = self.waiting.get_mut(&key) {
            if priority > *p {
                (*p, *s) = (priority, seq);
            }
        } else {
            self.waiting.insert(key, (priority, seq));
        }
    }

    fn add_after(&mut self, key: u8, delay_ms: u64) {
        if self.shut {
            return;
        }
        if delay_ms == 0 {
            return self.add(key, 0);
        }
        let at = self.now + delay_ms;
        let seq = self.next_seq();
        match self.delayed.get(&key) {
            Some((current, _)) if *current <= at => {}
            _ => {
                self.delayed.insert(key, (at, seq));
            }
        }
    }

    fn promote(&mut self) {
        let mut due: Vec<(u64, u64, u8)> = self
            .delayed
            .iter()
            .filter(|(_, (at, _))| *at <= self.now)
            .map(|(k, (at, s))| (*at, *s, *k))
            .collect();
        due.sort();
        for (_, _, key) in due {
            self.delayed.remove(&key);
            self.add(key, 0);
        }
    }

    fn pop(&mut self) -> Option<u8> {
        let (&key, _) = self
            .waiting
            .iter()
            .max_by_key(|(_, (p, s))| (*p, std::cmp::Reverse(*s)))?;
        self.waiting.remove(&key);
        self.processing.insert(key);
        Some(key)
    }

    fn done(&mut self, key: u8) {
        self.processing.remove(&key);
        if let Some(priority) = self.dirty.remove(&key) {
            let seq = self.next_seq();
            self.waiting.insert(key, (priority, seq));
        }
    }

    fn backoff_ms(&mut self, key: u8) -> u64 {
        let n = self.failures.entry(key).or_insert(0);
        let delay = (BASE_MS << (*n).min(20)).min(CAP_MS);
        *n += 1;
        delay
    }
}

/// Polls a future once without a runtime waker: `Some(output)` if ready.
fn poll_once<F: Future + ?Sized>(future: Pin<&mut F>) -> Option<F::Output> {
    match future.poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(value) => Some(value),
        Poll::Pending => None,
    }
}

fn try_get(queue: &WorkQueue<u8>) -> Option<Option<u8>> {
    poll_once(std::pin::pin!(queue.get()).as_mut())
}

fn run(ops: Vec<Op>) -> Result<(), TestCaseError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    runtime.block_on(async move {
        let limiter = ExponentialBackoff::new(Duration::from_millis(BASE_MS), Duration::from_millis(CAP_MS));
        let queue: WorkQueue<u8> = WorkQueue::builder("model").rate_limiter(limiter).build();
        let mut model = Model::default();
        let mut held: [Option<u8>; WORKERS] = [None; WORKERS];
        let mut drain: Option<Pin<Box<dyn Future<Output = ()> + '_>>> = None;
        for op in ops {
            model.promote();
            match op {
                Op::Add(k) => {
                    queue.add(k);
                    model.add(k, 0);
                }
                Op::AddWithPriority(k, p) => {
                    queue.add_with_priority(k, p);
                    model.add(k, p);
                }
                Op::AddAfter(k, d) => {
                    queue.add_after(k, Duration::from_millis(d));
                    model.add_after(k, d);
                }
                Op::AddRateLimited(k) => {
                    queue.add_rate_limited(k);
                    let delay = model.backoff_ms(k);
                    model.add_after(k, delay);
                    prop_assert_eq!(queue.num_requeues(&k), model.failures[&k]);
                }
                Op::Get(w) if held[w].is_none() => {
                    let expected = if model.shut { Some(None) } else { model.pop().map(Some) };
                    let got = try_get(&queue);
                    prop_assert_eq!(got, expected, "worker {} at {} ms", w, model.now);
                    held[w] = got.flatten();
                    let holders: Vec<u8> = held.iter().flatten().copied().collect();
                    let distinct: HashSet<u8> = holders.iter().copied().collect();
                    prop_assert_eq!(holders.len(), distinct.len(), "a key is held by two workers");
                }
                Op::Get(_) => {}
                Op::Done(w) => {
                    if let Some(k) = held[w].take() {
                        queue.done(&k);
                        model.done(k);
                    }
                }
                Op::Forget(k) => {
                    queue.forget(&k);
                    model.failures.remove(&k);
                    prop_assert_eq!(queue.num_requeues(&k), 0);
                }
                Op::Advance(ms) => {
                    tokio::time::advance(Duration::from_millis(ms)).await;
                    model.now += ms;
                    model.promote();
                }
                Op::ShutDown => {
                    queue.shut_down();
                    model.shut = true;
                    model.delayed.clear();
                    drain = None; // a plain shutdown ends a drain in progress
                }
                Op::ShutDownWithDrain if !model.shut => {
                    drain = Some(Box::pin(queue.shut_down_with_drain()));
                    model.shut = true;
                    model.delayed.clear();
                }
                Op::ShutDownWithDrain => {}
            }
            if let Some(future) = drain.as_mut() {
                let finished = poll_once(future.as_mut()).is_some();
                prop_assert_eq!(
                    finished,
                    held.iter().all(Option::is_none),
                    "drain ends exactly when nothing is held"
                );
                if finished {
                    drain = None;
                }
            }
            prop_assert_eq!(queue.len(), model.waiting.len(), "len at {} ms", model.now);
            prop_assert_eq!(queue.is_shutting_down(), model.shut);
        }
        // Liveness: without shutdown, every key still owed (waiting, dirty or delayed) comes out.
        if !model.shut {
            for slot in held.iter_mut() {
                if let Some(k) = slot.take() {
                    queue.done(&k);
                    model.done(k);
                }
            }
            tokio::time::advance(Duration::from_millis(CAP_MS + 30)).await;
            model.now += CAP_MS + 30;
            model.promote();
            while let Some(expected) = model.pop() {
                prop_assert_eq!(try_get(&queue), Some(Some(expected)));
                queue.done(&expected);
                model.done(expected);
            }
            prop_assert_eq!(try_get(&queue), None, "nothing beyond the model's keys");
            prop_assert_eq!(queue.len(), 0);
        }
        Ok(())
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn queue_matches_its_model_step_by_step(ops in prop::collection::vec(op(), 1..80)) {
        run(ops)?;
    }
}

#[test]
fn model_promotes_delayed_keys_at_their_deadline_not_before() {
    // The reference the property compares against: a key delayed by 10 ms is not ready after 9 ms.
    let mut model = Model::default();
    model.add_after(1, 10);
    model.now = 9;
    model.promote();
    assert_eq!(model.pop(), None);
    model.now = 10;
    model.promote();
    assert_eq!(model.pop(), Some(1));
}
