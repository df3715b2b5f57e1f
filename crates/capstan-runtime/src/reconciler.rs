//! The [`Reconciler`] trait and its [`Action`]: the one thing a controller author implements.
//!
//! Read this module first.
//!
//! # Level-based reconciliation
//!
//! A reconciler is told **which** object to look at, never **what happened** to it. It receives a
//! [`ReconcileRequest`] holding only the object's key (namespace and name), reads the current state
//! itself, compares it with the desired state, and acts until they agree. Because it never trusts an
//! event, a missed event, a crash or a restart only delays convergence: the next reconcile of the key
//! sees the whole truth.
//!
//! Take a ReplicaSet that wants 3 replicas. Whether the reconcile was woken by the ReplicaSet's
//! creation, by a change to its spec, or by the deletion of one of its Pods, the reconciler does the
//! same thing:
//!
//! 1. read the ReplicaSet `web` from the cache; if it is gone, there is nothing to do (its Pods are
//!    removed by the garbage collector through their owner references);
//! 2. list the Pods it owns from the cache (the owner index makes that cheap);
//! 3. 2 Pods exist and 3 are wanted: create one, with an owner reference to the ReplicaSet;
//! 4. write `status.replicas` and `status.observedGeneration`;
//! 5. return [`Action::done()`].
//!
//! Many events for one key collapse into one reconcile (the work-queue deduplicates keys), and one
//! key is never reconciled by two workers at once, so a reconciler needs no locking of its own.
//!
//! # The object may be gone
//!
//! The request carries a key because the object may have been deleted by the time the reconcile
//! runs. A reconciler that must clean up something outside the store (a cloud load balancer, a file)
//! uses a finalizer on the object so that it sees the deletion while the object still exists; for
//! objects in the store, owner references and the garbage collector are enough.
//!
//! # Reads: the cache is not the store
//!
//! [`Context::cache`](crate::Context::cache) reads the manager's informer cache: fast, shared, and
//! possibly a little behind the store (it is a watch away). [`Context::api`](crate::Context::api) is
//! the store client: every write goes there, and a read there is always current. Right after a write,
//! the cache may not show it yet; when acting twice on a stale cache would do harm (creating a Pod
//! twice), record [`Expectations`](crate::Expectations) before writing and wait until they are
//! satisfied, as the Kubernetes ReplicaSet controller does.
//!
//! # What the result does to the queue
//!
//! | returns | the key is ... | its backoff |
//! |---|---|---|
//! | `Ok(Action::done())` | not requeued (a later change wakes it again) | forgotten |
//! | `Ok(Action::requeue_after(d))` | reconciled again after `d` | forgotten |
//! | `Err(e)` (`?` on any error) | requeued through the queue's rate limiter: 5 ms, 10 ms, 20 ms, ... up to 1000 s | grows |
//! | `Err(e)` where `e` is a store `Conflict` | requeued the same way, but logged at `debug` and counted as `requeue`, not `error` | grows |
//! | `Err(ReconcileError::terminal(e))` | not requeued; the error is logged and counted | forgotten |
//! | a panic | caught, logged, counted as `controller_runtime_reconcile_panics_total`, requeued like an error | grows |
//!
//! The backoff lives in the queue, which hears about successes too, so a key that recovers starts
//! from the shortest delay again next time it fails.

use std::time::Duration;

use capstan_core::{ObjectKey, Resource};

use crate::context::Context;
use crate::error::ReconcileError;

/// A request to reconcile one object: its key, and how often it has been retried.
///
/// Also known as `reconcile.Request` in controller-runtime.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ReconcileRequest {
    /// Namespace (empty for cluster-scoped kinds) and name of the object to reconcile.
    pub key: ObjectKey,
    /// How many times this key has been requeued with backoff since its last success (0 on a first
    /// attempt). Useful for logging; the backoff itself is the queue's job.
    pub retries: u32,
}

impl ReconcileRequest {
    /// A request for `key` on its first attempt (handy in a reconciler's unit tests).
    pub fn new(key: ObjectKey) -> Self {
        Self { key, retries: 0 }
    }

    /// The namespace of the object (empty for cluster-scoped kinds).
    pub fn namespace(&self) -> &str {
        &self.key.namespace
    }

    /// The name of the object.
    pub fn name(&self) -> &str {
        &self.key.name
    }
}

impl std::fmt::Display for ReconcileRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(&self.key, f)
    }
}

/// What to do with a key after a successful reconcile.
///
/// Also known as `reconcile.Result` in controller-runtime.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Action {
    requeue_after: Option<Duration>,
}

impl Action {
    /// The object is in its desired state. The key is not requeued; a later change to the object or
    /// to anything mapped to it wakes the controller again.
    pub fn done() -> Self {
        Self { requeue_after: None }
    }

    /// Reconcile this key again after `delay`, even if nothing changes: for conditions that only time
    /// can change (a progress deadline, a certificate about to expire, a pod becoming available after
    /// `minReadySeconds`). The key's error backoff is reset.
    pub fn requeue_after(delay: Duration) -> Self {
        Self {
            requeue_after: Some(delay),
        }
    }

    /// The requested delay before the next reconcile, if any.
    pub fn requeue_delay(&self) -> Option<Duration> {
        self.requeue_after
    }
}

/// Brings one kind of object (the primary kind `K`) to its desired state, one key at a time.
///
/// Also known as a reconcile loop or a controller's sync handler. See the [module
/// documentation](self) for the contract: level-based, key only, the object may be gone, and what
/// each result does to the queue.
///
/// # Example
///
/// ```
/// use capstan_runtime::{Action, Context, ReconcileError, ReconcileRequest, Reconciler};
/// use k8s_openapi::api::core::v1::Pod;
///
/// struct LogPods;
///
/// #[capstan_runtime::async_trait]
/// impl Reconciler<Pod> for LogPods {
///     async fn reconcile(&self, req: ReconcileRequest, ctx: &Context<Pod>) -> Result<Action, ReconcileError> {
///         match ctx.cache().get(&req.key) {
///             Some(pod) => println!("{} is {:?}", req, pod.status.as_ref().and_then(|s| s.phase.as_ref())),
///             None => println!("{req} is gone"),
///         }
///         Ok(Action::done())
///     }
/// }
/// ```
///
/// # Guarantees
///
/// * One key is never reconciled by two workers at once (the queue hands a key to one worker and
///   holds further adds until it is done); different keys run concurrently up to
///   [`Controller::concurrency`](crate::Controller::concurrency).
/// * Before the first reconcile, the caches of the primary kind and of every owned or watched kind
///   have synced.
/// * With leader election, only the leader's controllers reconcile.
#[async_trait::async_trait]
pub trait Reconciler<K: Resource>: Send + Sync + 'static {
    /// Reconciles the object named by `request`: read current state (usually through
    /// [`Context::cache`]), act through [`Context::api`], and say what to do with the key next.
    async fn reconcile(&self, request: ReconcileRequest, ctx: &Context<K>) -> Result<Action, ReconcileError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn done_has_no_delay_and_requeue_after_keeps_its_delay() {
        assert_eq!(Action::done().requeue_delay(), None);
        assert_eq!(
            Action::requeue_after(Duration::from_secs(3)).requeue_delay(),
            Some(Duration::from_secs(3))
        );
        assert_eq!(Action::default(), Action::done());
    }

    #[test]
    fn requests_print_as_their_key() {
        let r = ReconcileRequest::new(ObjectKey::new("ns", "web"));
        assert_eq!(r.to_string(), "ns/web");
        assert_eq!((r.namespace(), r.name(), r.retries), ("ns", "web", 0));
    }
}
