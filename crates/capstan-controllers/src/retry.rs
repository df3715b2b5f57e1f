//! [`RetryConflicts`]: a reconciler wrapper that treats an optimistic-concurrency conflict as an
//! ordinary retry rather than a failure.
//!
//! A controller writes with the `resourceVersion` it read from its cache; when another writer got
//! there first the store answers Conflict (409). That is expected in a level-triggered system: the
//! newer version is on its way through the watch and wakes the key again. Kubernetes' controllers
//! log it at a debug verbosity; here the wrapper logs it at `debug` and requeues the key after
//! [`CONFLICT_RETRY_DELAY`], so `capstan up`'s log keeps warnings for real failures.

use std::time::Duration;

use capstan_core::Resource;
use capstan_runtime::{Action, Context, ReconcileError, ReconcileRequest, Reconciler};
use capstan_store::StoreError;

use crate::Error;

/// How long after a conflict the key is reconciled again (the watch event of the newer version
/// usually wakes it sooner).
pub const CONFLICT_RETRY_DELAY: Duration = Duration::from_millis(100);

/// Wraps a reconciler so that a resourceVersion conflict is a debug-level requeue, not an error.
#[derive(Clone, Debug, Default)]
pub struct RetryConflicts<R>(pub R);

/// Whether a reconcile error is a store conflict (directly or inside this crate's [`Error`]).
pub fn is_conflict(e: &ReconcileError) -> bool {
    let conflict = |s: &StoreError| matches!(s, StoreError::Conflict { .. });
    e.downcast_ref::<StoreError>().is_some_and(conflict)
        || matches!(e.downcast_ref::<Error>(), Some(Error::Store(s)) if conflict(s))
}

/// Turns a conflict into a delayed requeue; other outcomes pass through.
pub fn conflict_as_retry(result: Result<Action, ReconcileError>) -> Result<Action, ReconcileError> {
    match result {
        Err(e) if is_conflict(&e) => {
            tracing::debug!(error = %e, "conflict; retrying with fresh state");
            Ok(Action::requeue_after(CONFLICT_RETRY_DELAY))
        }
        other => other,
    }
}

#[capstan_runtime::async_trait]
impl<K: Resource, R: Reconciler<K>> Reconciler<K> for RetryConflicts<R> {
    async fn reconcile(&self, req: ReconcileRequest, ctx: &Context<K>) -> Result<Action, ReconcileError> {
        conflict_as_retry(self.0.reconcile(req, ctx).await)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use capstan_core::{ObjectKey, TypeKey};

    fn conflict() -> StoreError {
        StoreError::Conflict {
            type_key: TypeKey::new("apps", "v1", "Deployment", "deployments", true),
            key: ObjectKey::new("default", "web"),
            message: "the object has been modified".into(),
        }
    }

    #[test]
    fn conflicts_become_a_delayed_requeue_and_other_errors_stay_errors() {
        let direct = conflict_as_retry(Err(ReconcileError::new(conflict())));
        assert_eq!(direct.ok().and_then(|a| a.requeue_delay()), Some(CONFLICT_RETRY_DELAY));
        let wrapped = conflict_as_retry(Err(ReconcileError::new(Error::from(conflict()))));
        assert!(wrapped.is_ok(), "a conflict inside the crate error is a retry too");
        let other = conflict_as_retry(Err(ReconcileError::msg("boom")));
        assert!(other.is_err());
        let done = conflict_as_retry(Ok(Action::done()));
        assert_eq!(done.ok().and_then(|a| a.requeue_delay()), None);
    }
}
