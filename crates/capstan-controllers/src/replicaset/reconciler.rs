//! The ReplicaSet controller as a [`Reconciler`]: keeps `spec.replicas` active pods (C.20–C.29).
//!
//! # Expected flow of one sync
//! 1. The RS is gone: forget its expectations (C.24), done.
//! 2. Claim pods (B.12): active pods it controls or that are matching orphans; adoption re-reads the
//!    RS from the store first.
//! 3. Unless the RS is being deleted (B.19) and only if its expectations are satisfied (C.24): create
//!    missing pods in slow-start batches (C.22) or delete the least valuable extras (C.25). Both are
//!    recorded as expectations before they are sent; failures lower them again.
//! 4. Write the status (C.26–C.27) when it changed.
//! 5. Requeue: with backoff after a failed create or delete; after `minReadySeconds` when a ready
//!    pod will become available (C.28).
//!
//! The runtime's `owns::<Pod>()` source counts observed creations and deletions (a pod gaining a
//! `deletionTimestamp` counts as deleted, C.29).

use std::time::Duration;

use capstan_core::{LabelSelector, ObjectKey};
use capstan_runtime::{Action, Context, ReconcileError, ReconcileRequest, Reconciler};
use capstan_store::DeleteParams;
use futures::future::join_all;
use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::jiff::Timestamp;

use crate::replicaset::{
    FAILED_CREATE, FAILED_DELETE, ManageFailure, ReplicaDiff, min_ready_seconds, pod_from_template, pods_to_delete,
    replica_diff, replicaset_status, requeue_for_availability, slow_start_batches, spec_replicas,
};
use crate::util::{add_secs, is_pod_active, new_controller_ref, ready_since};
use crate::writes::{claim_children, until};

/// The ReplicaSet reconciler. Register it with
/// `Controller::<ReplicaSet>::new().owns::<Pod>().reconcile(ReplicaSetReconciler::default())`
/// (see [`crate::install`]).
#[derive(Clone, Debug, Default)]
pub struct ReplicaSetReconciler {
    _private: (),
}

#[capstan_runtime::async_trait]
impl Reconciler<ReplicaSet> for ReplicaSetReconciler {
    async fn reconcile(&self, req: ReconcileRequest, ctx: &Context<ReplicaSet>) -> Result<Action, ReconcileError> {
        let Some(rs) = ctx.cache().get(&req.key) else {
            ctx.expectations().forget(&req.key);
            return Ok(Action::done());
        };
        sync(&rs, &req.key, ctx).await
    }
}

async fn sync(rs: &ReplicaSet, key: &ObjectKey, ctx: &Context<ReplicaSet>) -> Result<Action, ReconcileError> {
    let ns = key.namespace.as_str();
    let Some(spec) = rs.spec.as_ref() else {
        return Ok(Action::done());
    };
    let selector = match LabelSelector::from_k8s(&spec.selector) {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(rs = %key, error = %e, "invalid selector; not syncing");
            return Ok(Action::done());
        }
    };
    let pods_cache = ctx.cache_of::<Pod>()?;
    let pods_api = ctx.api::<Pod>(ns);
    let owner_ref = new_controller_ref("apps/v1", "ReplicaSet", &rs.metadata);
    let owned = claim_children(
        rs,
        &owner_ref,
        &selector,
        &pods_cache,
        &pods_api,
        &ctx.api::<ReplicaSet>(ns),
        is_pod_active,
    )
    .await?;
    let owned_refs: Vec<&Pod> = owned.iter().collect();

    let deleting = rs.metadata.deletion_timestamp.is_some();
    let mut failure = None;
    if !deleting && ctx.expectations().satisfied(key) {
        failure = manage_replicas(rs, key, &owned_refs, ctx).await;
    }

    let now = ctx.now();
    let status = replicaset_status(rs, &owned_refs, failure.as_ref(), now);
    if rs.status.as_ref() != Some(&status) {
        let mut updated = rs.clone();
        updated.status = Some(status.clone());
        ctx.api::<ReplicaSet>(ns).replace_status(&updated).await?;
    }
    if let Some(f) = failure {
        return Err(ReconcileError::msg(format!("{}: {}", f.reason, f.message)));
    }
    let availability = requeue_for_availability(rs, &status);
    let next_available = next_availability(&owned_refs, min_ready_seconds(rs), now);
    Ok(match [availability, next_available].into_iter().flatten().min() {
        Some(d) => Action::requeue_after(d),
        None => Action::done(),
    })
}

/// When the earliest ready-but-not-yet-available pod becomes available, plus a second (C.28).
fn next_availability(pods: &[&Pod], min_ready: i32, now: Timestamp) -> Option<Duration> {
    if min_ready <= 0 {
        return None;
    }
    pods.iter()
        .filter_map(|p| ready_since(p))
        .map(|since| add_secs(since, i64::from(min_ready) + 1))
        .filter(|at| *at > now)
        .min()
        .map(|at| until(at, now))
}

/// Creates or deletes pods towards `spec.replicas` (C.21–C.25); returns the failure, if any.
async fn manage_replicas(
    rs: &ReplicaSet,
    key: &ObjectKey,
    owned: &[&Pod],
    ctx: &Context<ReplicaSet>,
) -> Option<ManageFailure> {
    let active: Vec<&Pod> = owned.iter().copied().filter(|p| is_pod_active(p)).collect();
    let api = ctx.api::<Pod>(&key.namespace);
    match replica_diff(active.len(), spec_replicas(rs)) {
        ReplicaDiff::InSync => None,
        ReplicaDiff::Create(n) => {
            let pod = pod_from_template(rs)?;
            ctx.expectations().expect_creations(key, n);
            let batches = slow_start_batches(n);
            let mut created = 0usize;
            for (i, size) in batches.iter().enumerate() {
                let results = join_all((0..*size).map(|_| api.create(&pod))).await;
                let errors: Vec<String> = results
                    .iter()
                    .filter_map(|r| r.as_ref().err().map(ToString::to_string))
                    .collect();
                created += size - errors.len();
                for p in results.iter().filter_map(|r| r.as_ref().ok()) {
                    let name = p.metadata.name.as_deref().unwrap_or_default();
                    ctx.recorder()
                        .normal(rs, "SuccessfulCreate", &format!("Created pod: {name}"))
                        .await;
                }
                if let Some(first) = errors.first() {
                    let skipped = batches.iter().skip(i + 1).sum::<usize>();
                    for _ in 0..errors.len() + skipped {
                        ctx.expectations().creation_observed(key);
                    }
                    tracing::warn!(rs = %key, error = %first, skipped, "pod creation failed");
                    ctx.recorder()
                        .warning(rs, FAILED_CREATE, &format!("Error creating: {first}"))
                        .await;
                    return Some(ManageFailure {
                        reason: FAILED_CREATE,
                        message: first.clone(),
                    });
                }
            }
            tracing::info!("replica set {key}: created {created} pod(s)");
            None
        }
        ReplicaDiff::Delete(n) => {
            let victims = pods_to_delete(&active, n, owned);
            ctx.expectations().expect_deletions(key, victims.len());
            let results = join_all(victims.iter().map(|p| {
                let name = p.metadata.name.clone().unwrap_or_default();
                let api = api.clone();
                async move { (name.clone(), api.delete(&name, &DeleteParams::default()).await) }
            }))
            .await;
            let mut failure = None;
            let deleted = results.iter().filter(|(_, r)| r.is_ok()).count();
            if deleted > 0 {
                tracing::info!("replica set {key}: deleted {deleted} pod(s)");
            }
            for (name, result) in results {
                match result {
                    Ok(_) => {
                        ctx.recorder()
                            .normal(rs, "SuccessfulDelete", &format!("Deleted pod: {name}"))
                            .await;
                    }
                    Err(e) => {
                        ctx.expectations().deletion_observed(key);
                        if !matches!(e, capstan_store::StoreError::NotFound { .. }) && failure.is_none() {
                            failure = Some(ManageFailure {
                                reason: FAILED_DELETE,
                                message: e.to_string(),
                            });
                        }
                    }
                }
            }
            failure
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::util::testing::{pod, ts};

    #[test]
    fn c28_next_availability_is_one_second_after_min_ready_elapses() {
        let a = pod("a", "Running", Some(ts(0)));
        let b = pod("b", "Running", Some(ts(5)));
        let pods = [&a, &b];
        assert_eq!(next_availability(&pods, 10, ts(3)), Some(Duration::from_secs(8)));
        assert_eq!(next_availability(&pods, 10, ts(12)), Some(Duration::from_secs(4)));
        assert_eq!(next_availability(&pods, 10, ts(30)), None);
        assert_eq!(next_availability(&pods, 0, ts(3)), None);
    }
}
