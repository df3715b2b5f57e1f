//! Metrics hooks, named as Kubernetes operators know them.
//!
//! A queue built with [`WorkQueueBuilder::metrics`](crate::WorkQueueBuilder::metrics) asks its
//! [`MetricsProvider`] once for the [`QueueMetrics`] of its name, then calls those hooks as keys move.
//! A queue without metrics keeps no timestamps and calls nothing: it pays one `Option` check per
//! operation. [`PrometheusMetrics`] is a ready-made provider that renders the Prometheus text format
//! with client-go's metric names, for a runtime to serve on its `/metrics` endpoint.
//!
//! | hook | Prometheus series (label `name` = queue name) |
//! |---|---|
//! | [`QueueMetrics::depth`] | `workqueue_depth` (gauge) |
//! | [`QueueMetrics::added`] | `workqueue_adds_total` (counter) |
//! | [`QueueMetrics::queue_duration`] | `workqueue_queue_duration_seconds` (histogram) |
//! | [`QueueMetrics::work_duration`] | `workqueue_work_duration_seconds` (histogram) |
//! | [`QueueMetrics::unfinished_work`] | `workqueue_unfinished_work_seconds`, `workqueue_longest_running_processor_seconds` (gauges) |
//! | [`QueueMetrics::retried`] | `workqueue_retries_total` (counter) |

mod prometheus;

pub use prometheus::PrometheusMetrics;

use std::hash::Hash;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use crate::state::Map;

/// Creates the metrics hooks of each queue, by queue name.
///
/// Implement it to publish queue metrics in your own registry; or use [`PrometheusMetrics`].
#[doc(alias = "workqueue metrics")]
pub trait MetricsProvider: Send + Sync + 'static {
    /// The hooks for the queue named `queue_name`; called once, when the queue is built.
    fn queue_metrics(&self, queue_name: &str) -> Arc<dyn QueueMetrics>;
}

/// The hooks one queue calls. Every hook defaults to doing nothing; override those you publish.
///
/// Hooks are called while the queue's lock is held, so they must be quick (an atomic update) and
/// must not call back into the queue.
pub trait QueueMetrics: Send + Sync + 'static {
    /// The number of keys waiting to be handed out, including keys added again while being
    /// processed (`workqueue_depth`).
    fn depth(&self, depth: usize) {
        let _ = depth;
    }

    /// A key was added that was not already waiting (`workqueue_adds_total`).
    fn added(&self) {}

    /// A key waited `waited` between its add and its hand-out (`workqueue_queue_duration_seconds`).
    fn queue_duration(&self, waited: Duration) {
        let _ = waited;
    }

    /// A worker held a key for `worked` before `done` (`workqueue_work_duration_seconds`).
    fn work_duration(&self, worked: Duration) {
        let _ = worked;
    }

    /// Every 500 ms: the summed time keys currently in processing have been held
    /// (`workqueue_unfinished_work_seconds`) and the longest of them
    /// (`workqueue_longest_running_processor_seconds`).
    fn unfinished_work(&self, unfinished: Duration, longest_running: Duration) {
        let _ = (unfinished, longest_running);
    }

    /// A key was added through the rate limiter (`workqueue_retries_total`).
    fn retried(&self) {}
}

/// The queue-side bookkeeping for metrics: add and start times per key (only with metrics).
pub(crate) struct MetricsState<K> {
    hooks: Arc<dyn QueueMetrics>,
    queued_at: Map<K, Instant>,
    started_at: Map<K, Instant>,
}

impl<K: Clone + Eq + Hash> MetricsState<K> {
    pub(crate) fn new(hooks: Arc<dyn QueueMetrics>) -> Self {
        MetricsState {
            hooks,
            queued_at: Map::default(),
            started_at: Map::default(),
        }
    }

    pub(crate) fn depth(&self, depth: usize) {
        self.hooks.depth(depth);
    }

    /// A key became waiting, or dirty while processing.
    pub(crate) fn on_add(&mut self, key: &K) {
        self.hooks.added();
        if !self.queued_at.contains_key(key) {
            self.queued_at.insert(key.clone(), crate::clock::now());
        }
    }

    /// A key was handed out.
    pub(crate) fn on_get(&mut self, key: &K, depth: usize) {
        let now = crate::clock::now();
        self.hooks.depth(depth);
        if let Some(at) = self.queued_at.remove(key) {
            self.hooks.queue_duration(now.saturating_duration_since(at));
        }
        self.started_at.insert(key.clone(), now);
    }

    /// A key's processing ended.
    pub(crate) fn on_done(&mut self, key: &K) {
        if let Some(at) = self.started_at.remove(key) {
            self.hooks
                .work_duration(crate::clock::now().saturating_duration_since(at));
        }
    }

    /// Reports unfinished work as of `now`.
    pub(crate) fn report_unfinished(&self, now: Instant) {
        let (mut total, mut longest) = (Duration::ZERO, Duration::ZERO);
        for at in self.started_at.values() {
            let held = now.saturating_duration_since(*at);
            total += held;
            longest = longest.max(held);
        }
        self.hooks.unfinished_work(total, longest);
    }
}
