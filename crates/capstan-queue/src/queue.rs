//! [`WorkQueue`]: the shared handle, its builder, and `get`.

use std::future::Future;
use std::hash::{BuildHasher, Hash};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use parking_lot::Mutex;
use tokio::sync::Notify;
use tokio::time::Instant;

use crate::delay::run_timer;
use crate::limiter::{RateLimiter, default_rate_limiter};
use crate::metrics::{MetricsProvider, MetricsState, QueueMetrics};
use crate::state::{State, Wakeups};

/// What every handle of one queue shares.
pub(crate) struct Shared<K> {
    name: Box<str>,
    /// The one lock. `parking_lot::Mutex` (brief spinning, then parking): with keys hashed before
    /// locking and dropped after unlocking, it measured about as fast as a spin-then-yield lock
    /// overall (better in some scenarios, worse in others: BENCHMARKS.md), and it does not burn a
    /// core while the holder is descheduled.
    pub(crate) state: Mutex<State<K>>,
    /// Hashes keys before the lock is taken: the critical sections only probe the index.
    hasher: foldhash::fast::RandomState,
    limiter: Box<dyn RateLimiter<K>>,
    /// The metrics hooks, also kept here so that `add_rate_limited` counts retries without the lock.
    hooks: Option<Arc<dyn QueueMetrics>>,
    /// Wakes the timer task: an earlier deadline, shutdown, or the last handle dropped.
    timer_wake: Arc<Notify>,
    /// Wakes `shut_down_with_drain` when the last processing key is done.
    drained: Notify,
}

impl<K> Drop for Shared<K> {
    fn drop(&mut self) {
        self.timer_wake.notify_one();
    }
}

/// A rate-limited, deduplicating queue of keys for controllers, with client-go's semantics.
///
/// Cloning gives another handle to the same queue. Producers [`add`](WorkQueue::add) keys; workers
/// loop on [`get`](WorkQueue::get), process the key, then call [`done`](WorkQueue::done) — and on
/// failure [`add_rate_limited`](WorkQueue::add_rate_limited), on success [`forget`](WorkQueue::forget).
///
/// # Guarantees
/// - A key is held by at most one worker at a time (between `get` and `done`).
/// - A key added while it waits is not duplicated; a key added while it is processed is handed out
///   once more after its `done`.
/// - Higher priorities are handed out first, FIFO within a priority; a waiting key keeps the highest
///   priority it was added with.
/// - A delayed key is never handed out before its time, and is added once its time has come.
/// - After [`shut_down`](WorkQueue::shut_down), adds are ignored and `get` returns `None`.
///
/// # Caveats
/// The queue keeps one copy of each key it tracks and `get` hands out a clone of it: use keys that
/// are cheap to clone (`Arc<str>`, small strings, ids). Time comes from `tokio::time`, so delays follow a paused clock.
#[doc(alias = "workqueue")]
#[doc(alias = "RateLimitingInterface")]
pub struct WorkQueue<K> {
    shared: Arc<Shared<K>>,
}

impl<K> Clone for WorkQueue<K> {
    fn clone(&self) -> Self {
        WorkQueue {
            shared: self.shared.clone(),
        }
    }
}

impl<K> std::fmt::Debug for WorkQueue<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.shared.state.lock();
        f.debug_struct("WorkQueue")
            .field("name", &self.shared.name)
            .field("waiting", &state.waiting)
            .field("processing", &state.processing)
            .field("shutting_down", &state.shutting_down)
            .finish()
    }
}

/// Configures a [`WorkQueue`]: its rate limiter and metrics.
pub struct WorkQueueBuilder<K> {
    name: String,
    limiter: Option<Box<dyn RateLimiter<K>>>,
    metrics: Option<Arc<dyn MetricsProvider>>,
}

impl<K> std::fmt::Debug for WorkQueueBuilder<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkQueueBuilder")
            .field("name", &self.name)
            .field("custom_limiter", &self.limiter.is_some())
            .field("metrics", &self.metrics.is_some())
            .finish()
    }
}

impl<K> WorkQueueBuilder<K>
where
    K: Clone + Eq + Hash + Send + Sync + 'static,
{
    /// Uses `limiter` for [`WorkQueue::add_rate_limited`] instead of [`default_rate_limiter`].
    pub fn rate_limiter(mut self, limiter: impl RateLimiter<K>) -> Self {
        self.limiter = Some(Box::new(limiter));
        self
    }

    /// Publishes metrics through `provider`, under the queue's name.
    pub fn metrics(mut self, provider: Arc<dyn MetricsProvider>) -> Self {
        self.metrics = Some(provider);
        self
    }

    /// Builds the queue. Needs no runtime; its timer task is spawned on the current tokio runtime the
    /// first time it is needed.
    pub fn build(self) -> WorkQueue<K> {
        let hooks = self.metrics.map(|provider| provider.queue_metrics(&self.name));
        let limiter = self.limiter.unwrap_or_else(|| Box::new(default_rate_limiter()));
        let queue = WorkQueue {
            shared: Arc::new(Shared {
                name: self.name.into_boxed_str(),
                state: Mutex::new(State::new(hooks.clone().map(MetricsState::new))),
                hasher: foldhash::fast::RandomState::default(),
                limiter,
                hooks,
                timer_wake: Arc::new(Notify::new()),
                drained: Notify::new(),
            }),
        };
        if queue.shared.hooks.is_some() {
            // Unfinished work is reported every 500 ms by the timer task.
            queue.spawn_timer();
        }
        queue
    }
}

impl<K> WorkQueue<K>
where
    K: Clone + Eq + Hash + Send + Sync + 'static,
{
    /// A queue named `name` with [`default_rate_limiter`] and no metrics.
    pub fn new(name: &str) -> Self {
        Self::builder(name).build()
    }

    /// Starts configuring a queue named `name` (the `name` label of its metrics).
    pub fn builder(name: &str) -> WorkQueueBuilder<K> {
        WorkQueueBuilder {
            name: name.to_string(),
            limiter: None,
            metrics: None,
        }
    }

    /// The queue's name.
    pub fn name(&self) -> &str {
        &self.shared.name
    }

    /// Adds `key` with priority 0. See [`add_with_priority`](WorkQueue::add_with_priority).
    pub fn add(&self, key: K) {
        self.add_with_priority(key, 0);
    }

    /// Adds `key` now. If it is already waiting, nothing changes but its priority, raised to
    /// `priority` if that is higher; if it is being processed, it is handed out again after `done`.
    /// Ignored once the queue is shutting down.
    pub fn add_with_priority(&self, key: K, priority: i32) {
        let hash = self.shared.hasher.hash_one(&key);
        let mut wakeups = Wakeups::default();
        let _unused_copy = {
            let mut state = self.shared.state.lock();
            if state.shutting_down {
                return;
            }
            promote(&mut state, &mut wakeups);
            state.add(key, hash, priority, &mut wakeups).1
        };
        wakeups.wake();
    }

    /// Adds `key` once `delay` has passed (zero: now). If the key already has a pending delayed add,
    /// the earlier of the two deadlines is kept. Ignored once the queue is shutting down.
    pub fn add_after(&self, key: K, delay: Duration) {
        if delay.is_zero() {
            return self.add(key);
        }
        let hash = self.shared.hasher.hash_one(&key);
        let mut wakeups = Wakeups::default();
        let _unused_copy;
        let start_timer = {
            let mut state = self.shared.state.lock();
            if state.shutting_down {
                return;
            }
            let now = crate::clock::now();
            state.promote_due(now, &mut wakeups);
            let at = now.checked_add(delay).unwrap_or_else(far_future);
            let (pushed, copy) = state.add_delayed(key, hash, at);
            _unused_copy = copy;
            // Always bring the timer's deadline forward for an earlier key, whether or not a worker
            // waits now; a `get` that starts waiting also checks the deadline itself.
            let earlier = pushed && state.timer.deadline.is_none_or(|d| at < d);
            if earlier {
                state.timer.deadline = Some(at);
            }
            if !state.timer.running {
                Some(true)
            } else if earlier {
                Some(false)
            } else {
                None
            }
        };
        wakeups.wake();
        match start_timer {
            Some(true) => self.spawn_timer(),
            Some(false) => self.shared.timer_wake.notify_one(),
            None => {}
        }
    }

    /// Adds `key` after the rate limiter's delay for it, counting one more retry of `key`.
    pub fn add_rate_limited(&self, key: K) {
        let delay = self.shared.limiter.when(&key);
        if let Some(hooks) = &self.shared.hooks {
            hooks.retried();
        }
        self.add_after(key, delay);
    }

    /// Waits for the next key and marks it processing; `None` once the queue is shutting down.
    ///
    /// Keys come out by priority, then in the order they became ready. Cancelling the wait (dropping
    /// the future) loses no key. The caller must call [`done`](WorkQueue::done) with the key.
    pub async fn get(&self) -> Option<K> {
        Get { queue: self, id: None }.await
    }

    /// Ends the processing of `key`. If `key` was added again meanwhile, it waits again now. A key
    /// that is not being processed is ignored.
    pub fn done(&self, key: &K) {
        let hash = self.shared.hasher.hash_one(key);
        let mut wakeups = Wakeups::default();
        let mut garbage = None;
        let drained = {
            let mut state = self.shared.state.lock();
            promote(&mut state, &mut wakeups);
            state.done(key, hash, &mut wakeups, &mut garbage) && state.draining && state.processing == 0
        };
        drop(garbage);
        wakeups.wake();
        if drained {
            self.shared.drained.notify_waiters();
        }
    }

    /// Tells the rate limiter that `key` succeeded: its backoff starts again from the first delay.
    /// The key's place in the queue is unchanged.
    pub fn forget(&self, key: &K) {
        self.shared.limiter.forget(key);
    }

    /// How many rate-limited adds `key` had since it was last forgotten.
    pub fn num_requeues(&self, key: &K) -> u32 {
        self.shared.limiter.num_requeues(key)
    }

    /// The number of keys waiting to be handed out (not counting delayed keys or keys being
    /// processed).
    pub fn len(&self) -> usize {
        let mut wakeups = Wakeups::default();
        let len = {
            let mut state = self.shared.state.lock();
            promote(&mut state, &mut wakeups);
            state.waiting
        };
        wakeups.wake();
        len
    }

    /// No key is waiting to be handed out.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Stops the queue: `get` returns `None` from now on (waiting workers wake up), new adds are
    /// ignored and delayed adds are dropped. Workers still call `done` for the keys they hold. If a
    /// [`shut_down_with_drain`](WorkQueue::shut_down_with_drain) is waiting, it returns now.
    #[doc(alias = "ShutDown")]
    pub fn shut_down(&self) {
        let mut wakeups = Wakeups::default();
        {
            let mut state = self.shared.state.lock();
            state.shut_down(&mut wakeups);
            state.draining = false;
        }
        wakeups.wake();
        self.shared.timer_wake.notify_one();
        self.shared.drained.notify_waiters();
        tracing::debug!(queue = %self.shared.name, "work queue shut down");
    }

    /// Shuts the queue down like [`shut_down`](WorkQueue::shut_down), then waits until every key
    /// being processed is done. No key is handed out meanwhile.
    #[doc(alias = "ShutDownWithDrain")]
    pub async fn shut_down_with_drain(&self) {
        let mut wakeups = Wakeups::default();
        {
            let mut state = self.shared.state.lock();
            state.shut_down(&mut wakeups);
            state.draining = true;
        }
        wakeups.wake();
        self.shared.timer_wake.notify_one();
        tracing::debug!(queue = %self.shared.name, "work queue draining");
        loop {
            let notified = self.shared.drained.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            {
                let state = self.shared.state.lock();
                if state.processing == 0 || !state.draining {
                    return;
                }
            }
            notified.await;
        }
    }

    /// The queue was shut down.
    pub fn is_shutting_down(&self) -> bool {
        self.shared.state.lock().shutting_down
    }

    /// Spawns the timer task on the current runtime, if there is one and no task runs yet.
    fn spawn_timer(&self) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            tracing::debug!(queue = %self.shared.name, "no tokio runtime yet: delayed keys wait for the next get");
            return;
        };
        {
            let mut state = self.shared.state.lock();
            if state.timer.running || state.shutting_down {
                return;
            }
            state.timer.running = true;
        }
        runtime.spawn(run_timer(Arc::downgrade(&self.shared), self.shared.timer_wake.clone()));
    }
}

/// Promotes due delayed keys, reading the clock only if some delayed add is pending.
fn promote<K: Clone + Eq + Hash>(state: &mut State<K>, wakeups: &mut Wakeups) {
    if !state.delayed.is_empty() {
        state.promote_due(crate::clock::now(), wakeups);
    }
}

/// A deadline for delays too long to represent: about 30 years ahead, as tokio's own timers do.
fn far_future() -> Instant {
    crate::clock::now() + Duration::from_secs(86400 * 365 * 30)
}

/// The future of [`WorkQueue::get`]: registered as a waiter while no key is ready.
struct Get<'a, K> {
    queue: &'a WorkQueue<K>,
    /// Registration in the waiter list, once pending.
    id: Option<u64>,
}

impl<K> Future for Get<'_, K>
where
    K: Clone + Eq + Hash + Send + Sync + 'static,
{
    type Output = Option<K>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<K>> {
        let mut wakeups = Wakeups::default();
        let (result, need_timer, nudge_timer) = {
            let mut state = self.queue.shared.state.lock();
            let result = if state.shutting_down {
                Poll::Ready(None)
            } else {
                promote(&mut state, &mut wakeups);
                match state.pop() {
                    Some(key) => Poll::Ready(Some(key)),
                    None => {
                        let registered = self.id.is_some_and(|id| state.waiters.refresh(id, cx.waker()));
                        if !registered {
                            self.id = Some(state.waiters.register(cx.waker()));
                        }
                        Poll::Pending
                    }
                }
            };
            if result.is_ready()
                && let Some(id) = self.id.take()
            {
                state.waiters.remove(id);
            }
            let need_timer =
                result.is_pending() && !state.timer.running && (!state.delayed.is_empty() || state.metrics.is_some());
            // A waiting worker needs the timer to wake it at the earliest deadline, which `add_after`
            // did not pass on while no worker was waiting.
            let mut nudge_timer = false;
            if result.is_pending()
                && state.timer.running
                && let Some(next) = state.delayed.next_deadline()
                && state.timer.deadline.is_none_or(|d| next < d)
            {
                state.timer.deadline = Some(next);
                nudge_timer = true;
            }
            (result, need_timer, nudge_timer)
        };
        wakeups.wake();
        if need_timer {
            self.queue.spawn_timer();
        }
        if nudge_timer {
            self.queue.shared.timer_wake.notify_one();
        }
        result
    }
}

impl<K> Drop for Get<'_, K> {
    fn drop(&mut self) {
        let Some(id) = self.id else { return };
        let next = {
            let mut state = self.queue.shared.state.lock();
            // If we were woken for a key but are dropped before taking it, pass the wake-up on.
            if state.waiters.remove(id) || state.waiting == 0 {
                None
            } else {
                state.waiters.pop()
            }
        };
        if let Some(waker) = next {
            waker.wake();
        }
    }
}

#[cfg(test)]
#[path = "tests/queue.rs"]
mod tests;
