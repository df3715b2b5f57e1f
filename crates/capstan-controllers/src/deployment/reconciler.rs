//! The Deployment controller as a [`Reconciler`]: one sync in the order of D.30.
//!
//! # Expected flow of one sync
//! 1. The Deployment is gone: done.
//! 2. Empty selector: Warning event `SelectingAll`, write `observedGeneration`, stop.
//! 3. Claim ReplicaSets (B.12–B.14; the Deployment never claims pods, B.13).
//! 4. Being deleted: recompute status only (B.19).
//! 5. Update the paused condition (G.48).
//! 6. Paused or a scaling event: scale (D.39), clean up when paused (G.51), write status (H.52).
//! 7. Rollback annotation: roll the template back (G.49), no RS change.
//! 8. Otherwise roll out with the strategy: RollingUpdate (E.42–E.45) or Recreate (F.46), then write
//!    the status with its Progressing checks (H.54–H.57) and requeue a possibly stuck rollout (H.56).
//!
//! The writes themselves (new RS, scaling, revisions, status) are in [`crate::deployment::actions`].

use capstan_core::LabelSelector;
use capstan_runtime::{Action, Context, ReconcileError, ReconcileRequest, Reconciler};
use k8s_openapi::api::apps::v1::{Deployment, DeploymentStatus, ReplicaSet};
use k8s_openapi::api::core::v1::Pod;

use crate::deployment::actions::Syncer;
use crate::deployment::fields::{is_paused, is_rolling_update};
use crate::deployment::math::scale;
use crate::deployment::recreate::{RecreateStep, recreate_step};
use crate::deployment::rollback::{rollback, rollback_to};
use crate::deployment::rolling::{RollingPlan, rolling_plan};
use crate::deployment::status::{StuckRequeue, calculate_status, is_complete, paused_condition, requeue_stuck};
use crate::deployment::sync::{SyncPath, sync_path};
use crate::util::new_controller_ref;
use crate::writes::claim_children;

/// Event reason when a Deployment's selector selects everything (D.30 step 2).
pub const SELECTING_ALL: &str = "SelectingAll";

/// The Deployment reconciler. Register it with
/// `Controller::<Deployment>::new().owns::<ReplicaSet>().watches::<Pod>(..)` (see [`crate::install`]).
#[derive(Clone, Debug, Default)]
pub struct DeploymentReconciler {
    _private: (),
}

#[capstan_runtime::async_trait]
impl Reconciler<Deployment> for DeploymentReconciler {
    async fn reconcile(&self, req: ReconcileRequest, ctx: &Context<Deployment>) -> Result<Action, ReconcileError> {
        let Some(d) = ctx.cache().get(&req.key) else {
            return Ok(Action::done());
        };
        let Some(spec) = d.spec.as_ref() else {
            return Ok(Action::done());
        };
        let selector = match LabelSelector::from_k8s(&spec.selector) {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(deployment = %req.key, error = %e, "invalid selector; not syncing");
                return Ok(Action::done());
            }
        };
        let ns = req.key.namespace.as_str();
        let mut s = Syncer::new(ctx, (*d).clone());
        if selector.is_empty() {
            ctx.recorder()
                .warning(
                    &*d,
                    SELECTING_ALL,
                    "This deployment is selecting all pods. A non-empty selector is required.",
                )
                .await;
            let mut status = d.status.clone().unwrap_or_default();
            status.observed_generation = d.metadata.generation;
            s.write_status(status).await?;
            return Ok(Action::done());
        }
        let owner_ref = new_controller_ref("apps/v1", "Deployment", &d.metadata);
        s.rss = claim_children(
            &*d,
            &owner_ref,
            &selector,
            &ctx.cache_of::<ReplicaSet>()?,
            &ctx.api::<ReplicaSet>(ns),
            &ctx.api::<Deployment>(ns),
            |_| true,
        )
        .await?;

        if d.metadata.deletion_timestamp.is_some() {
            let (new_rs, all) = s.split();
            let status = calculate_status(&s.d, &all, new_rs.as_ref(), ctx.now())?;
            s.write_status(status).await?;
            return Ok(Action::done());
        }
        if let Some(status) = paused_condition(&s.d, ctx.now()) {
            s.write_status(status).await?;
        }
        let path = {
            let refs: Vec<&ReplicaSet> = s.rss.iter().collect();
            sync_path(&s.d, false, &refs)
        };
        match path {
            SyncPath::Paused | SyncPath::Scale => sync_scale(&mut s).await,
            SyncPath::Rollback => sync_rollback(&mut s).await,
            SyncPath::Rollout if is_rolling_update(&s.d) => sync_rolling(&mut s).await,
            SyncPath::Rollout => sync_recreate(&mut s).await,
            SyncPath::SelectingAll | SyncPath::StatusOnly => Ok(Action::done()),
        }
    }
}

/// D.30 steps 7 and 9: scale, clean up when paused, write status (no progress estimation).
async fn sync_scale(s: &mut Syncer<'_>) -> Result<Action, ReconcileError> {
    s.sync_revision(false).await?;
    let (new_rs, _) = s.split();
    let old = s.old();
    let steps = {
        let old_refs: Vec<&ReplicaSet> = old.iter().collect();
        scale(&s.d, new_rs.as_ref(), &old_refs)?
    };
    for step in steps {
        s.scale_rs(&step.name, step.to).await?;
    }
    if is_paused(&s.d) && rollback_to(&s.d).is_none() {
        s.cleanup().await?;
    }
    let (new_rs, all) = s.split();
    let status = calculate_status(&s.d, &all, new_rs.as_ref(), s.ctx.now())?;
    s.write_status(status).await?;
    Ok(Action::done())
}

/// D.30 step 8 / G.49: roll the template back to the requested revision; no RS changes.
async fn sync_rollback(s: &mut Syncer<'_>) -> Result<Action, ReconcileError> {
    let refs: Vec<&ReplicaSet> = s.rss.iter().collect();
    let Some(rb) = rollback(&s.d, &refs) else {
        return Ok(Action::done());
    };
    let written = s.ctx.api::<Deployment>(&s.ns).replace(&rb.deployment).await?;
    let event = rb.event;
    tracing::info!(
        "deployment {}/{}: {}",
        s.ns,
        written.metadata.name.as_deref().unwrap_or(""),
        event.message
    );
    let kind = if event.type_ == "Warning" {
        capstan_runtime::EventType::Warning
    } else {
        capstan_runtime::EventType::Normal
    };
    s.ctx
        .recorder()
        .record(&*written, kind, event.reason, &event.message)
        .await;
    s.d = (*written).clone();
    Ok(Action::done())
}

/// E.42–E.45.
async fn sync_rolling(s: &mut Syncer<'_>) -> Result<Action, ReconcileError> {
    let complete_before = is_complete(&s.d, &s.d.status.clone().unwrap_or_default());
    s.sync_revision(true).await?;
    let (Some(new_rs), _) = s.split() else {
        return Err(ReconcileError::msg("the new ReplicaSet is missing after creation"));
    };
    let old = s.old();
    let plan = {
        let old_refs: Vec<&ReplicaSet> = old.iter().collect();
        rolling_plan(&s.d, &new_rs, &old_refs)?
    };
    match plan {
        RollingPlan::ScaleNew(n) => s.scale_rs(name_of(&new_rs), n).await?,
        RollingPlan::ScaleDownOld(steps) => {
            for step in steps {
                s.scale_rs(&step.name, step.to).await?;
            }
        }
        RollingPlan::Idle => {
            if complete_before {
                s.cleanup().await?;
            }
        }
    }
    rollout_status(s).await
}

/// F.46.
async fn sync_recreate(s: &mut Syncer<'_>) -> Result<Action, ReconcileError> {
    let complete_before = is_complete(&s.d, &s.d.status.clone().unwrap_or_default());
    s.sync_revision(false).await?;
    let (new_rs, _) = s.split();
    let old = s.old();
    let pods_cache = s.ctx.cache_of::<Pod>()?;
    let old_pods: Vec<std::sync::Arc<Pod>> = old
        .iter()
        .filter_map(|rs| rs.metadata.uid.as_deref())
        .flat_map(|uid| pods_cache.owned_by(uid))
        .collect();
    let step = {
        let old_refs: Vec<&ReplicaSet> = old.iter().collect();
        let pod_refs: Vec<&Pod> = old_pods.iter().map(|p| &**p).collect();
        recreate_step(&s.d, new_rs.as_ref(), &old_refs, &pod_refs)
    };
    match step {
        RecreateStep::ScaleDownOld(steps) => {
            for step in steps {
                s.scale_rs(&step.name, step.to).await?;
            }
        }
        RecreateStep::WaitForOldPods => {}
        RecreateStep::CreateNewRs => s.sync_revision(true).await?,
        RecreateStep::ScaleUpNew(n) => {
            if let Some(rs) = &new_rs {
                s.scale_rs(name_of(rs), n).await?;
            }
        }
        RecreateStep::Idle => {
            if complete_before {
                s.cleanup().await?;
            }
        }
    }
    rollout_status(s).await
}

/// Writes the rollout status (H.52–H.57) and decides the requeue for a stuck rollout (H.56).
async fn rollout_status(s: &mut Syncer<'_>) -> Result<Action, ReconcileError> {
    let (new_rs, all) = s.split();
    let now = s.ctx.now();
    let status: DeploymentStatus = crate::deployment::status::rollout_status(&s.d, &all, new_rs.as_ref(), now)?;
    s.write_status(status.clone()).await?;
    match requeue_stuck(&s.d, &status, now) {
        StuckRequeue::None => Ok(Action::done()),
        StuckRequeue::After(d) => Ok(Action::requeue_after(d)),
        StuckRequeue::RateLimitedNow => Err(ReconcileError::msg(
            "progress deadline is about to pass; checking again",
        )),
    }
}

fn name_of(rs: &ReplicaSet) -> &str {
    rs.metadata.name.as_deref().unwrap_or_default()
}
