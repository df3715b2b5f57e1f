//! What the reconcilers share when they act on the store: claiming children with the adoption and
//! release writes (B.12), and small helpers that turn store outcomes into decisions.
//!
//! Everything here uses only the public runtime and store API, as a user's controller would.

use std::collections::BTreeMap;

use capstan_core::{LabelSelector, ObjectKey, Resource};
use capstan_runtime::Cache;
use capstan_store::{Api, StoreError};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;

use crate::ownership::claim;
use crate::util::controller_ref;

/// Whether a store error means "someone else changed or removed it first": skip, the next sync sees
/// the truth.
pub(crate) fn is_benign(e: &StoreError) -> bool {
    matches!(e, StoreError::NotFound { .. } | StoreError::Conflict { .. })
}

/// The children of kind `C` that `owner` controls after claiming (B.12): owned ones, plus orphans
/// it adopted (written to the store), minus ones it released (written too).
///
/// Candidates come from `cache`: objects with an ownerRef to the owner's UID, and orphans in its
/// namespace that match `selector`; `keep` filters them first (the ReplicaSet claims active pods only).
/// Before any adoption the owner is re-read from `owner_api` (the store): adoption happens only if
/// its UID is unchanged and it is not being deleted.
pub(crate) async fn claim_children<O: Resource, C: Resource + Clone>(
    owner: &O,
    owner_ref: &OwnerReference,
    selector: &LabelSelector,
    cache: &Cache<C>,
    api: &Api<C>,
    owner_api: &Api<O>,
    keep: impl Fn(&C) -> bool,
) -> Result<Vec<C>, StoreError> {
    let meta = owner.meta();
    let uid = meta.uid.clone().unwrap_or_default();
    let ns = meta.namespace.clone().unwrap_or_default();
    let mut candidates: BTreeMap<ObjectKey, C> = BTreeMap::new();
    for c in cache.owned_by(&uid) {
        if keep(&c) {
            candidates.insert(c.object_key(), (*c).clone());
        }
    }
    for c in cache.list_selected(Some(&ns), selector) {
        if controller_ref(c.meta()).is_none() && keep(&c) {
            candidates.entry(c.object_key()).or_insert_with(|| (*c).clone());
        }
    }
    let candidates: Vec<C> = candidates.into_values().collect();
    let claimed = claim(meta, owner_ref, selector, &candidates);
    let mut out: Vec<C> = claimed.owned.iter().map(|c| (*c).clone()).collect();
    if claimed.needs_owner_recheck() {
        let fresh = owner_api.get_opt(meta.name.as_deref().unwrap_or_default()).await?;
        let still_ours = fresh
            .as_ref()
            .is_some_and(|f| f.meta().uid.as_deref() == Some(uid.as_str()) && f.meta().deletion_timestamp.is_none());
        if still_ours {
            for adopted in &claimed.adopt {
                match api.replace(adopted).await {
                    Ok(written) => out.push((*written).clone()),
                    Err(e) if is_benign(&e) => tracing::debug!(error = %e, "adoption skipped"),
                    Err(e) => return Err(e),
                }
            }
        } else {
            tracing::debug!(owner = ?meta.name, "owner changed or is being deleted; no adoption");
        }
    }
    for released in &claimed.release {
        match api.replace(released).await {
            Ok(_) => tracing::debug!(child = ?released.meta().name, "released"),
            Err(e) if is_benign(&e) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

/// A `std` duration from now until `at` (zero when `at` has passed).
pub(crate) fn until(at: k8s_openapi::jiff::Timestamp, now: k8s_openapi::jiff::Timestamp) -> std::time::Duration {
    crate::util::to_std(at.duration_since(now))
}
