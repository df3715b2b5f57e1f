//! The workers of one controller: take a key from the queue, reconcile it, tell the queue how it went.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use capstan_core::{ObjectKey, Resource};
use capstan_queue::WorkQueue;
use futures::FutureExt;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tracing::Instrument;

use crate::context::Context;
use crate::metrics::{MetricsRegistry, ReconcileResult};
use crate::reconciler::{ReconcileRequest, Reconciler};

/// A controller ready to run: its queue, reconciler and context.
pub(crate) struct Workers<K: Resource> {
    pub(crate) name: String,
    pub(crate) concurrency: usize,
    pub(crate) queue: Arc<WorkQueue<ObjectKey>>,
    pub(crate) reconciler: Arc<dyn Reconciler<K>>,
    pub(crate) ctx: Context<K>,
    pub(crate) metrics: MetricsRegistry,
}

/// A running controller as the manager sees it, whatever its kind.
pub(crate) trait RunningController: Send + Sync {
    /// The controller's name.
    fn name(&self) -> &str;
    /// Starts its workers on `set`; they stop taking keys once `stop` turns true.
    fn spawn(self: Arc<Self>, set: &mut JoinSet<()>, stop: watch::Receiver<bool>);
    /// Shuts its queue down (wakes idle workers so they see the stop signal).
    fn shut_down_queue(&self);
}

impl<K: Resource> RunningController for Workers<K> {
    fn name(&self) -> &str {
        &self.name
    }

    fn spawn(self: Arc<Self>, set: &mut JoinSet<()>, stop: watch::Receiver<bool>) {
        for _ in 0..self.concurrency.max(1) {
            let me = self.clone();
            let stop = stop.clone();
            set.spawn(async move { me.work(stop).await });
        }
    }

    fn shut_down_queue(&self) {
        self.queue.shut_down();
    }
}

/// Text of a panic payload, for the log.
fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic payload".to_owned()
    }
}

impl<K: Resource> Workers<K> {
    /// One worker: keys until the queue shuts down or `stop` turns true.
    async fn work(&self, stop: watch::Receiver<bool>) {
        loop {
            if *stop.borrow() {
                return;
            }
            let Some(key) = self.queue.get().await else { return };
            if *stop.borrow() {
                // Shutting down: leave the key; the next leader or run reconciles it from its list.
                self.queue.done(&key);
                return;
            }
            self.reconcile_one(&key).await;
            self.queue.done(&key);
        }
    }

    /// Reconciles one key and requeues it as the result says.
    pub(crate) async fn reconcile_one(&self, key: &ObjectKey) {
        let request = ReconcileRequest {
            key: key.clone(),
            retries: self.queue.num_requeues(key),
        };
        let span = tracing::info_span!(
            "reconcile",
            controller = %self.name,
            key = %key,
            retries = request.retries,
            result = tracing::field::Empty,
            duration_ms = tracing::field::Empty,
        );
        self.metrics.reconcile_started(&self.name);
        let started = crate::clock::now();
        let outcome = AssertUnwindSafe(self.reconciler.reconcile(request, &self.ctx))
            .catch_unwind()
            .instrument(span.clone())
            .await;
        let took = started.elapsed();
        let _enter = span.enter();
        let (result, terminal, panicked) = match outcome {
            Ok(Ok(action)) => {
                self.queue.forget(key);
                match action.requeue_delay() {
                    Some(delay) => {
                        self.queue.add_after(key.clone(), delay);
                        (ReconcileResult::RequeueAfter, false, false)
                    }
                    None => (ReconcileResult::Success, false, false),
                }
            }
            Ok(Err(error)) if error.is_terminal() => {
                self.queue.forget(key);
                tracing::error!(%error, "reconcile failed with a terminal error; not requeued");
                (ReconcileResult::Error, true, false)
            }
            Ok(Err(error)) if error.is_conflict() => {
                // Someone wrote the object since it was read; the newer version is on its way.
                tracing::debug!(%error, "conflict; requeued with backoff to retry on fresh state");
                self.queue.add_rate_limited(key.clone());
                (ReconcileResult::Requeue, false, false)
            }
            Ok(Err(error)) => {
                tracing::warn!(%error, "reconcile failed; requeued with backoff");
                self.queue.add_rate_limited(key.clone());
                (ReconcileResult::Error, false, false)
            }
            Err(payload) => {
                let message = panic_message(&*payload);
                tracing::error!(panic = %message, "reconcile panicked; requeued with backoff");
                self.queue.add_rate_limited(key.clone());
                (ReconcileResult::Error, false, true)
            }
        };
        span.record("result", result.as_str());
        span.record("duration_ms", took.as_secs_f64() * 1000.0);
        tracing::debug!("reconciled");
        self.metrics
            .reconcile_finished(&self.name, result, terminal, panicked, took);
    }
}
