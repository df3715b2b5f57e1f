//! The Deployment controller's writes: the new RS and its revision (D.32–D.37), scaling an RS with
//! its replica annotations and Event (D.36), cleanup (G.51) and the status (H.52).
//!
//! A [`Syncer`] holds the Deployment and its claimed ReplicaSets for one sync and keeps them current:
//! every write replaces the local copy with what the store returned, so later decisions and
//! compare-and-swap writes in the same sync see it.

use capstan_runtime::{Context, ReconcileError};
use capstan_store::{DeleteParams, Preconditions, StoreError};
use k8s_openapi::api::apps::v1::{Deployment, DeploymentStatus, ReplicaSet};

use crate::deployment::cleanup::replica_sets_to_delete;
use crate::deployment::math::ScaleTo;
use crate::deployment::revisions::{
    Collision, new_replica_set, on_already_exists, revision, scaled_replica_set, set_deployment_revision,
    split_new_and_old, sync_existing_new_rs,
};
use crate::deployment::status::{
    found_new_rs_condition, new_rs_created_condition, rs_create_error_condition, set_condition,
};
use crate::deployment::sync::{SCALING_REPLICA_SET, scaling_message};
use crate::util::{REVISION_ANNOTATION, annotation};
use crate::writes::is_benign;

/// One Deployment sync's view of the Deployment and its ReplicaSets, kept current across writes.
pub(crate) struct Syncer<'c> {
    pub(crate) ctx: &'c Context<Deployment>,
    pub(crate) ns: String,
    pub(crate) d: Deployment,
    pub(crate) rss: Vec<ReplicaSet>,
}

impl<'c> Syncer<'c> {
    pub(crate) fn new(ctx: &'c Context<Deployment>, d: Deployment) -> Self {
        Self {
            ctx,
            ns: d.metadata.namespace.clone().unwrap_or_default(),
            d,
            rss: Vec::new(),
        }
    }

    /// The new RS (D.31), if any, and every claimed RS (owned copies).
    pub(crate) fn split(&self) -> (Option<ReplicaSet>, Vec<&ReplicaSet>) {
        let refs: Vec<&ReplicaSet> = self.rss.iter().collect();
        let (new_rs, _) = split_new_and_old(&self.d, &refs);
        (new_rs.cloned(), refs)
    }

    /// The old RSs (every claimed RS but the new one), oldest first.
    pub(crate) fn old(&self) -> Vec<ReplicaSet> {
        let refs: Vec<&ReplicaSet> = self.rss.iter().collect();
        let (_, old) = split_new_and_old(&self.d, &refs);
        old.into_iter().cloned().collect()
    }

    fn remember(&mut self, rs: ReplicaSet) {
        match self.rss.iter_mut().find(|r| r.metadata.name == rs.metadata.name) {
            Some(slot) => *slot = rs,
            None => self.rss.push(rs),
        }
    }

    /// Writes the status when it changed.
    pub(crate) async fn write_status(&mut self, status: DeploymentStatus) -> Result<(), StoreError> {
        if self.d.status.as_ref() == Some(&status) {
            return Ok(());
        }
        let mut updated = self.d.clone();
        updated.status = Some(status);
        let written = self.ctx.api::<Deployment>(&self.ns).replace_status(&updated).await?;
        self.d = (*written).clone();
        Ok(())
    }

    /// Sets one condition on the current status and writes it.
    async fn write_condition(
        &mut self,
        cond: k8s_openapi::api::apps::v1::DeploymentCondition,
    ) -> Result<(), StoreError> {
        let mut status = self.d.status.clone().unwrap_or_default();
        set_condition(&mut status, cond);
        self.write_status(status).await
    }

    /// Copies the new RS's revision onto the Deployment (D.35) with a status write, which never bumps
    /// `metadata.generation` (A.9).
    async fn set_revision(&mut self, rev: &str) -> Result<(), StoreError> {
        let mut updated = self.d.clone();
        if set_deployment_revision(&mut updated, rev) {
            let written = self.ctx.api::<Deployment>(&self.ns).replace_status(&updated).await?;
            self.d = (*written).clone();
        }
        Ok(())
    }

    /// `getAllReplicaSetsAndSyncRevision`: brings an existing new RS's annotations, revision and
    /// `minReadySeconds` up to date (D.34–D.36), or with `create` creates the new RS (D.32–D.33),
    /// handling a hash collision (D.37); then copies its revision onto the Deployment (D.35) and sets
    /// the Progressing condition for a created or found RS (H.54).
    pub(crate) async fn sync_revision(&mut self, create: bool) -> Result<(), ReconcileError> {
        let (new_rs, _) = self.split();
        let old = self.old();
        let old_refs: Vec<&ReplicaSet> = old.iter().collect();
        let now = self.ctx.now();
        let rs_api = self.ctx.api::<ReplicaSet>(&self.ns);
        if let Some(existing) = new_rs {
            let current = match sync_existing_new_rs(&self.d, &existing, &old_refs)? {
                Some(updated) => {
                    let written = (*rs_api.replace(&updated).await?).clone();
                    self.remember(written.clone());
                    written
                }
                None => existing,
            };
            let name = current.metadata.name.clone().unwrap_or_default();
            if let Some(rev) = annotation(&current.metadata, REVISION_ANNOTATION) {
                self.set_revision(rev).await?;
            }
            if let Some(cond) = found_new_rs_condition(&self.d, &name, now) {
                self.write_condition(cond).await?;
            }
            return Ok(());
        }
        if !create {
            return Ok(());
        }
        let rs = new_replica_set(&self.d, &old_refs)?;
        let name = rs.metadata.name.clone().unwrap_or_default();
        match rs_api.create(&rs).await {
            Ok(created) => {
                let created = (*created).clone();
                let size = created.spec.as_ref().and_then(|s| s.replicas).unwrap_or(0);
                if size > 0 {
                    let msg = format!("Scaled up replica set {name} to {size}");
                    tracing::info!(
                        "deployment {}/{}: {msg}",
                        self.ns,
                        self.d.metadata.name.as_deref().unwrap_or("")
                    );
                    self.ctx.recorder().normal(&self.d, SCALING_REPLICA_SET, &msg).await;
                }
                let rev = revision(&created.metadata).to_string();
                self.remember(created);
                self.set_revision(&rev).await?;
                if let Some(cond) = new_rs_created_condition(&self.d, &name, now) {
                    self.write_condition(cond).await?;
                }
                Ok(())
            }
            Err(StoreError::AlreadyExists { .. }) => {
                let existing = rs_api.get(&name).await?;
                match on_already_exists(&self.d, &existing) {
                    Collision::AdoptExisting => {
                        self.remember((*existing).clone());
                        Ok(())
                    }
                    Collision::BumpCollisionCount(n) => {
                        let mut status = self.d.status.clone().unwrap_or_default();
                        status.collision_count = Some(n);
                        self.write_status(status).await?;
                        Err(ReconcileError::msg(format!(
                            "hash collision creating replica set {name}; collisionCount is now {n}"
                        )))
                    }
                }
            }
            Err(e) => {
                if let Some(cond) = rs_create_error_condition(&self.d, &e.to_string(), now) {
                    self.write_condition(cond).await?;
                }
                Err(e.into())
            }
        }
    }

    /// Scales the RS `name` to `size` and refreshes its replica annotations (D.36); records the
    /// `ScalingReplicaSet` Event when the size changed.
    pub(crate) async fn scale_rs(&mut self, name: &str, size: i32) -> Result<(), ReconcileError> {
        let Some(rs) = self
            .rss
            .iter()
            .find(|r| r.metadata.name.as_deref() == Some(name))
            .cloned()
        else {
            return Ok(());
        };
        let Some(updated) = scaled_replica_set(&self.d, &rs, size)? else {
            return Ok(());
        };
        let written = (*self.ctx.api::<ReplicaSet>(&self.ns).replace(&updated).await?).clone();
        let step = ScaleTo {
            name: name.to_owned(),
            from: rs.spec.as_ref().and_then(|s| s.replicas).unwrap_or(0),
            to: size,
        };
        if let Some(msg) = scaling_message(&step) {
            tracing::info!(
                "deployment {}/{}: {msg}",
                self.ns,
                self.d.metadata.name.as_deref().unwrap_or("")
            );
            self.ctx.recorder().normal(&self.d, SCALING_REPLICA_SET, &msg).await;
        }
        self.remember(written);
        Ok(())
    }

    /// Deletes old RSs beyond `revisionHistoryLimit` (G.51).
    pub(crate) async fn cleanup(&mut self) -> Result<(), StoreError> {
        let old = self.old();
        let old_refs: Vec<&ReplicaSet> = old.iter().collect();
        let doomed: Vec<(String, Option<String>)> = replica_sets_to_delete(&self.d, &old_refs)
            .into_iter()
            .map(|rs| (rs.metadata.name.clone().unwrap_or_default(), rs.metadata.uid.clone()))
            .collect();
        let api = self.ctx.api::<ReplicaSet>(&self.ns);
        for (name, uid) in doomed {
            tracing::debug!(deployment = ?self.d.metadata.name, rs = %name, "cleaning up old replica set");
            let params = DeleteParams {
                preconditions: Preconditions {
                    uid,
                    resource_version: None,
                },
                ..DeleteParams::default()
            };
            match api.delete(&name, &params).await {
                Ok(_) => self.rss.retain(|r| r.metadata.name.as_deref() != Some(name.as_str())),
                Err(e) if is_benign(&e) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}
