//! The garbage collector as reconcilers, one per kind Capstan runs (Deployment, ReplicaSet, Pod),
//! all sharing [`GarbageCollector`] (B.15–B.18).
//!
//! # Expected flow of one sync of object X
//! 1. X is being deleted with the `orphan` finalizer: strip X's ownerReferences from every dependent,
//!    then drop the finalizer (B.18).
//! 2. X is being deleted with `foregroundDeletion`: delete its dependents (in foreground when they
//!    have dependents of their own) and drop the finalizer once no blocking dependent is left (B.17).
//! 3. X has ownerReferences: look each owner up (cache, by kind and name, compared by UID). When all
//!    are gone, confirm with a store read, then delete X (B.15); when only some are gone or waiting,
//!    drop the references to them.
//!
//! Dependents are found through every cache's owner index; dependents of the kinds only the sweep
//! follows ([`super::sweep`]: ConfigMaps, custom resources, ...) are read from the store when an
//! owner is deleted in foreground or with `orphan`, so they are waited for or released as well. Each collector also watches the other two
//! kinds, so a dependent's change wakes its owners and an owner's change wakes its dependents.

use std::marker::PhantomData;

use capstan_core::{ObjectKey, Resource};
use capstan_runtime::{Action, Cache, Context, ReconcileError, ReconcileRequest, Reconciler};
use capstan_store::{DeleteParams, Preconditions, PropagationPolicy, StoreError};
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use serde_json::{Value, json};

use crate::gc::logic::{
    Dependent, FOREGROUND_FINALIZER, GcAction, ORPHAN_FINALIZER, OwnerState, Propagation, decide_dependent,
    foreground_plan, has_finalizer, orphan_plan, without_finalizer,
};
use crate::gc::sweep;
use crate::writes::is_benign;

/// How soon an owner waiting in foreground for dependents of untyped kinds looks again.
const UNTYPED_RECHECK: std::time::Duration = std::time::Duration::from_millis(500);

/// The kinds the collector knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Deployment,
    ReplicaSet,
    Pod,
}

impl Kind {
    fn of_ref(r: &OwnerReference) -> Option<Kind> {
        let group = r.api_version.rsplit_once('/').map(|(g, _)| g).unwrap_or("");
        match (group, r.kind.as_str()) {
            ("apps", "Deployment") => Some(Kind::Deployment),
            ("apps", "ReplicaSet") => Some(Kind::ReplicaSet),
            ("", "Pod") => Some(Kind::Pod),
            _ => None,
        }
    }
}

/// A dependent found in a cache.
struct Found {
    kind: Kind,
    meta: ObjectMeta,
    has_dependents: bool,
}

/// The caches the collector reads.
struct Caches {
    deployments: Cache<Deployment>,
    replicasets: Cache<ReplicaSet>,
    pods: Cache<Pod>,
}

impl Caches {
    fn of<K: Resource>(ctx: &Context<K>) -> Result<Caches, ReconcileError> {
        Ok(Caches {
            deployments: ctx.cache_of::<Deployment>()?,
            replicasets: ctx.cache_of::<ReplicaSet>()?,
            pods: ctx.cache_of::<Pod>()?,
        })
    }

    fn dependents_of(&self, uid: &str) -> Vec<(Kind, ObjectMeta)> {
        let mut out: Vec<(Kind, ObjectMeta)> = Vec::new();
        out.extend(
            self.deployments
                .owned_by(uid)
                .iter()
                .map(|o| (Kind::Deployment, o.metadata.clone())),
        );
        out.extend(
            self.replicasets
                .owned_by(uid)
                .iter()
                .map(|o| (Kind::ReplicaSet, o.metadata.clone())),
        );
        out.extend(self.pods.owned_by(uid).iter().map(|o| (Kind::Pod, o.metadata.clone())));
        out
    }

    fn has_dependents(&self, uid: &str) -> bool {
        !self.deployments.owned_by(uid).is_empty()
            || !self.replicasets.owned_by(uid).is_empty()
            || !self.pods.owned_by(uid).is_empty()
    }

    fn found(&self, uid: &str) -> Vec<Found> {
        self.dependents_of(uid)
            .into_iter()
            .map(|(kind, meta)| {
                let has_dependents = self.has_dependents(meta.uid.as_deref().unwrap_or_default());
                Found {
                    kind,
                    meta,
                    has_dependents,
                }
            })
            .collect()
    }

    fn owner_meta(&self, ns: &str, r: &OwnerReference) -> Option<Option<ObjectMeta>> {
        let meta = match Kind::of_ref(r)? {
            Kind::Deployment => self.deployments.get_named(ns, &r.name).map(|o| o.metadata.clone()),
            Kind::ReplicaSet => self.replicasets.get_named(ns, &r.name).map(|o| o.metadata.clone()),
            Kind::Pod => self.pods.get_named(ns, &r.name).map(|o| o.metadata.clone()),
        };
        Some(meta)
    }

    /// The owner's state from the cache; owners of kinds the collector does not know count as present.
    fn owner_state(&self, ns: &str, r: &OwnerReference) -> OwnerState {
        match self.owner_meta(ns, r) {
            None => OwnerState::Present,
            Some(meta) => state_of(meta.as_ref(), r),
        }
    }
}

fn state_of(meta: Option<&ObjectMeta>, r: &OwnerReference) -> OwnerState {
    match meta {
        Some(m) if m.uid.as_deref() == Some(r.uid.as_str()) => {
            if m.deletion_timestamp.is_some() && has_finalizer(m, FOREGROUND_FINALIZER) {
                OwnerState::DeletingForeground
            } else {
                OwnerState::Present
            }
        }
        _ => OwnerState::Absent,
    }
}

/// The garbage collector for objects of kind `K`.
pub struct GarbageCollector<K> {
    _kind: PhantomData<fn() -> K>,
}

impl<K> std::fmt::Debug for GarbageCollector<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GarbageCollector").finish()
    }
}

impl<K> Default for GarbageCollector<K> {
    fn default() -> Self {
        Self { _kind: PhantomData }
    }
}

fn policy(p: Propagation) -> PropagationPolicy {
    match p {
        Propagation::Background => PropagationPolicy::Background,
        Propagation::Foreground => PropagationPolicy::Foreground,
        Propagation::Orphan => PropagationPolicy::Orphan,
    }
}

async fn delete_kind<K: Resource>(
    ctx: &Context<impl Resource>,
    meta: &ObjectMeta,
    p: Propagation,
) -> Result<(), StoreError> {
    let params = DeleteParams {
        preconditions: Preconditions {
            uid: meta.uid.clone(),
            resource_version: None,
        },
        propagation_policy: Some(policy(p)),
        grace_period_seconds: None,
    };
    let ns = meta.namespace.clone().unwrap_or_default();
    match ctx
        .api::<K>(&ns)
        .delete(meta.name.as_deref().unwrap_or_default(), &params)
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if is_benign(&e) => Ok(()),
        Err(e) => Err(e),
    }
}

async fn delete_found(
    ctx: &Context<impl Resource>,
    kind: Kind,
    meta: &ObjectMeta,
    p: Propagation,
) -> Result<(), StoreError> {
    tracing::info!(
        "garbage collector: deleting {kind:?} {}/{} (owner deleted; propagation {})",
        meta.namespace.as_deref().unwrap_or(""),
        meta.name.as_deref().unwrap_or(""),
        p.as_str()
    );
    match kind {
        Kind::Deployment => delete_kind::<Deployment>(ctx, meta, p).await,
        Kind::ReplicaSet => delete_kind::<ReplicaSet>(ctx, meta, p).await,
        Kind::Pod => delete_kind::<Pod>(ctx, meta, p).await,
    }
}

/// A merge patch guarded by the object's resourceVersion (a stale write fails with Conflict).
async fn patch_meta<K: Resource>(
    ctx: &Context<impl Resource>,
    meta: &ObjectMeta,
    field: &str,
    value: Value,
) -> Result<(), StoreError> {
    let ns = meta.namespace.clone().unwrap_or_default();
    let patch = json!({"metadata": {field: value, "resourceVersion": meta.resource_version}});
    match ctx
        .api::<K>(&ns)
        .patch(meta.name.as_deref().unwrap_or_default(), &patch)
        .await
    {
        Ok(_) => Ok(()),
        Err(StoreError::NotFound { .. }) => Ok(()),
        Err(e) => Err(e),
    }
}

async fn set_owner_refs(
    ctx: &Context<impl Resource>,
    kind: Kind,
    meta: &ObjectMeta,
    refs: Vec<OwnerReference>,
) -> Result<(), StoreError> {
    let value = if refs.is_empty() {
        Value::Null
    } else {
        serde_json::to_value(refs).map_err(|e| StoreError::BadRequest(e.to_string()))?
    };
    match kind {
        Kind::Deployment => patch_meta::<Deployment>(ctx, meta, "ownerReferences", value).await,
        Kind::ReplicaSet => patch_meta::<ReplicaSet>(ctx, meta, "ownerReferences", value).await,
        Kind::Pod => patch_meta::<Pod>(ctx, meta, "ownerReferences", value).await,
    }
}

async fn drop_finalizer<K: Resource>(ctx: &Context<K>, meta: &ObjectMeta, finalizer: &str) -> Result<(), StoreError> {
    let Some(rest) = without_finalizer(meta, finalizer) else {
        return Ok(());
    };
    let value = if rest.is_empty() { Value::Null } else { json!(rest) };
    tracing::debug!(kind = K::KIND, name = ?meta.name, finalizer, "removing finalizer");
    patch_meta::<K>(ctx, meta, "finalizers", value).await
}

#[capstan_runtime::async_trait]
impl<K: Resource> Reconciler<K> for GarbageCollector<K> {
    async fn reconcile(&self, req: ReconcileRequest, ctx: &Context<K>) -> Result<Action, ReconcileError> {
        let Some(obj) = ctx.cache().get(&req.key) else {
            return Ok(Action::done());
        };
        let meta = obj.meta().clone();
        let caches = Caches::of(ctx)?;
        let uid = meta.uid.clone().unwrap_or_default();
        if meta.deletion_timestamp.is_some() {
            let ns = meta.namespace.clone().unwrap_or_default();
            if has_finalizer(&meta, ORPHAN_FINALIZER) {
                let found = caches.found(&uid);
                let metas: Vec<&ObjectMeta> = found.iter().map(|f| &f.meta).collect();
                for (i, refs) in orphan_plan(&meta, &metas) {
                    set_owner_refs(ctx, found[i].kind, &found[i].meta, refs).await?;
                }
                // Dependents of the other kinds (ConfigMaps, custom resources, ...) are released too.
                let untyped = sweep::untyped_dependents(ctx.store().as_ref(), &ns, &uid).await?;
                sweep::release(ctx.store().as_ref(), &untyped, &uid).await?;
                drop_finalizer(ctx, &meta, ORPHAN_FINALIZER).await?;
            } else if has_finalizer(&meta, FOREGROUND_FINALIZER) {
                let found = caches.found(&uid);
                let deps: Vec<Dependent<'_>> = found
                    .iter()
                    .map(|f| Dependent {
                        meta: &f.meta,
                        has_dependents: f.has_dependents,
                    })
                    .collect();
                let plan = foreground_plan(&meta, &deps);
                for (i, p) in plan.delete {
                    delete_found(ctx, found[i].kind, &found[i].meta, p).await?;
                }
                if plan.remove_finalizer {
                    // Dependents of the other kinds go first too; their deletion wakes nothing here,
                    // so look again shortly.
                    let untyped = sweep::untyped_dependents(ctx.store().as_ref(), &ns, &uid).await?;
                    if !untyped.is_empty() {
                        sweep::delete_dependents(ctx.store().as_ref(), &untyped).await?;
                        return Ok(Action::requeue_after(UNTYPED_RECHECK));
                    }
                    drop_finalizer(ctx, &meta, FOREGROUND_FINALIZER).await?;
                }
            }
            return Ok(Action::done());
        }
        if meta.owner_references.as_deref().unwrap_or_default().is_empty() {
            return Ok(Action::done());
        }
        let ns = req.key.namespace.clone();
        let action = decide_dependent(&meta, |r| caches.owner_state(&ns, r), caches.has_dependents(&uid));
        let kind = match K::KIND {
            "Deployment" => Kind::Deployment,
            "ReplicaSet" => Kind::ReplicaSet,
            _ => Kind::Pod,
        };
        match action {
            GcAction::Keep => {}
            GcAction::Delete(p) => {
                if confirmed_absent(ctx, &ns, &meta).await? {
                    delete_found(ctx, kind, &meta, p).await?;
                }
            }
            GcAction::SetOwnerRefs(refs) => set_owner_refs(ctx, kind, &meta, refs).await?,
        }
        Ok(Action::done())
    }
}

/// Re-reads from the store every owner the cache calls absent: a cache that is behind must never
/// make the collector delete a live object.
async fn confirmed_absent<K: Resource>(ctx: &Context<K>, ns: &str, meta: &ObjectMeta) -> Result<bool, StoreError> {
    for r in meta.owner_references.iter().flatten() {
        let fresh = match Kind::of_ref(r) {
            Some(Kind::Deployment) => ctx
                .api::<Deployment>(ns)
                .get_opt(&r.name)
                .await?
                .map(|o| o.metadata.clone()),
            Some(Kind::ReplicaSet) => ctx
                .api::<ReplicaSet>(ns)
                .get_opt(&r.name)
                .await?
                .map(|o| o.metadata.clone()),
            Some(Kind::Pod) => ctx.api::<Pod>(ns).get_opt(&r.name).await?.map(|o| o.metadata.clone()),
            None => return Ok(false),
        };
        if state_of(fresh.as_ref(), r) == OwnerState::Present {
            return Ok(false);
        }
    }
    Ok(true)
}

/// The keys of `K`-objects related to `obj`: its owners of kind `K` (so a dependent's change wakes its
/// owner) and the `K`-objects it owns (so an owner's change wakes its dependents).
pub(crate) fn related_keys<K: Resource, W: Resource>(cache: &Cache<K>, obj: &W) -> Vec<ObjectKey> {
    let ns = obj.meta().namespace.clone().unwrap_or_default();
    let mut keys: Vec<ObjectKey> = obj
        .meta()
        .owner_references
        .iter()
        .flatten()
        .filter(|r| r.kind == K::KIND && r.api_version.rsplit_once('/').map(|(g, _)| g).unwrap_or("") == K::GROUP)
        .map(|r| ObjectKey::new(ns.clone(), r.name.clone()))
        .collect();
    if let Some(uid) = obj.meta().uid.as_deref() {
        keys.extend(cache.owned_by(uid).iter().map(|o| o.object_key()));
    }
    keys
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    fn owner_ref(api_version: &str, kind: &str) -> OwnerReference {
        OwnerReference {
            api_version: api_version.into(),
            kind: kind.into(),
            name: "o".into(),
            uid: "u1".into(),
            ..OwnerReference::default()
        }
    }

    #[test]
    fn only_the_three_known_kinds_are_looked_up_by_group_and_kind() {
        assert_eq!(
            Kind::of_ref(&owner_ref("apps/v1", "Deployment")),
            Some(Kind::Deployment)
        );
        assert_eq!(
            Kind::of_ref(&owner_ref("apps/v1", "ReplicaSet")),
            Some(Kind::ReplicaSet)
        );
        assert_eq!(Kind::of_ref(&owner_ref("v1", "Pod")), Some(Kind::Pod));
        assert_eq!(Kind::of_ref(&owner_ref("example.com/v1", "ReplicaSet")), None);
        assert_eq!(Kind::of_ref(&owner_ref("v1", "ConfigMap")), None);
    }

    #[test]
    fn b15_an_owner_with_another_uid_counts_as_absent() {
        let r = owner_ref("apps/v1", "ReplicaSet");
        let mut m = ObjectMeta {
            uid: Some("u1".into()),
            ..ObjectMeta::default()
        };
        assert_eq!(state_of(Some(&m), &r), OwnerState::Present);
        assert_eq!(state_of(None, &r), OwnerState::Absent);
        m.deletion_timestamp = Some(Time(k8s_openapi::jiff::Timestamp::UNIX_EPOCH));
        m.finalizers = Some(vec![FOREGROUND_FINALIZER.into()]);
        assert_eq!(state_of(Some(&m), &r), OwnerState::DeletingForeground);
        m.uid = Some("recreated".into());
        assert_eq!(state_of(Some(&m), &r), OwnerState::Absent);
    }
}
