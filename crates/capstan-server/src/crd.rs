//! CustomResourceDefinitions: the server serves, besides its built-in kinds, every served version of
//! every CRD whose names were accepted, and keeps that set in step with the store.
//!
//! [`reconcile`] is the whole controller, level-triggered: it lists the CRDs, decides which are
//! served (a CRD whose group/plural, group/kind or group/singular clashes with a built-in kind or an
//! older CRD is not, and gets `NamesAccepted=False`), swaps the server's [`Registry`] snapshot, and
//! writes each CRD's status (`NamesAccepted`, `Established`, `acceptedNames`, `storedVersions`). It
//! emulates Kubernetes' `customresourcecleanup.apiextensions.k8s.io` finalizer: every CRD gets it,
//! and a CRD being deleted first has all its custom objects deleted, then stops being served, then
//! loses the finalizer (so the store removes it). [`run`] calls it at start, on every CRD watch
//! event, and once a second while a deletion waits for custom objects to go.
//!
//! Custom objects get metadata validation only: schemas are stored, not enforced, and unknown
//! fields are neither pruned nor refused. Each version is stored separately (no conversion).

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use capstan_core::k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
    CustomResourceDefinition, CustomResourceDefinitionNames,
};
use capstan_core::{Resource, TypeKey};
use capstan_store::{DeleteParams, ListParams, Revision, StoreError, Subresource, WatchEvent, WatchParams};
use futures::StreamExt;
use serde_json::{Value, json};

use crate::discovery::{Registry, ResourceInfo};
use crate::server::ApiServer;

/// The finalizer that holds a deleted CRD until its custom objects are gone.
pub const CLEANUP_FINALIZER: &str = "customresourcecleanup.apiextensions.k8s.io";

/// How often a CRD deletion waiting on custom objects (with finalizers of their own) is retried.
const CLEANUP_RETRY: Duration = Duration::from_secs(1);

/// What a served custom kind's CRD declares beyond its [`TypeKey`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CustomInfo {
    /// The CRD's name (`<plural>.<group>`).
    pub crd_name: String,
    /// `spec.names.singular`.
    pub singular: String,
    /// `spec.names.shortNames`.
    pub short_names: Vec<String>,
    /// `spec.names.categories`.
    pub categories: Vec<String>,
    /// The version's `additionalPrinterColumns`.
    pub printer_columns: Vec<PrinterColumn>,
    /// Whether the CRD is being deleted (new objects are refused).
    pub terminating: bool,
}

/// One of a CRD version's `additionalPrinterColumns`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PrinterColumn {
    /// Column header.
    pub name: String,
    /// OpenAPI type: `string`, `integer`, `number`, `boolean` or `date`.
    pub type_: String,
    /// Simple JSONPath (`.spec.message`).
    pub json_path: String,
    /// 0 for the default output, above for `-o wide`.
    pub priority: i32,
    /// Description.
    pub description: String,
    /// OpenAPI format.
    pub format: String,
}

/// The type key of `CustomResourceDefinition`.
pub fn crd_type() -> TypeKey {
    CustomResourceDefinition::type_key()
}

/// The kinds a CRD declares, one per served version.
pub fn resources_of(crd: &CustomResourceDefinition) -> Vec<ResourceInfo> {
    let spec = &crd.spec;
    let n = &spec.names;
    let singular = n
        .singular
        .clone()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| n.kind.to_lowercase());
    let terminating = crd.metadata.deletion_timestamp.is_some();
    spec.versions
        .iter()
        .filter(|v| v.served)
        .map(|v| {
            let type_key = TypeKey::new(&spec.group, &v.name, &n.kind, &n.plural, spec.scope == "Namespaced");
            let printer_columns = v
                .additional_printer_columns
                .iter()
                .flatten()
                .map(|c| PrinterColumn {
                    name: c.name.clone(),
                    type_: c.type_.clone(),
                    json_path: c.json_path.clone(),
                    priority: c.priority.unwrap_or(0),
                    description: c.description.clone().unwrap_or_default(),
                    format: c.format.clone().unwrap_or_default(),
                })
                .collect();
            ResourceInfo {
                short_names: Vec::new(),
                categories: Vec::new(),
                has_status: v.subresources.as_ref().is_some_and(|s| s.status.is_some()),
                has_scale: false,
                has_eviction: false,
                custom: Some(Arc::new(CustomInfo {
                    crd_name: crd.metadata.name.clone().unwrap_or_default(),
                    singular: singular.clone(),
                    short_names: n.short_names.clone().unwrap_or_default(),
                    categories: n.categories.clone().unwrap_or_default(),
                    printer_columns,
                    terminating,
                })),
                type_key,
            }
        })
        .collect()
}

/// Why a CRD's names are not accepted, if they clash with a kind already in `registry`.
pub fn name_conflict(registry: &Registry, crd: &CustomResourceDefinition) -> Option<String> {
    let spec = &crd.spec;
    let n = &spec.names;
    for r in registry.resources().iter().filter(|r| r.type_key.group == spec.group) {
        if r.type_key.plural == n.plural {
            return Some(format!("\"{}\" is already in use", n.plural));
        }
        if r.type_key.kind == n.kind {
            return Some(format!("\"{}\" is already in use", n.kind));
        }
        if n.singular.as_deref().is_some_and(|s| s == r.singular()) {
            return Some(format!("\"{}\" is already in use", r.singular()));
        }
    }
    None
}

/// The registry `base` plus the served versions of every CRD in `crds` whose names are accepted
/// (in creation order, so an older CRD keeps its names), and the conflict found for each refused one.
pub fn build(base: &Registry, crds: &[CustomResourceDefinition]) -> (Registry, Vec<(String, String)>) {
    let mut order: Vec<&CustomResourceDefinition> = crds.iter().collect();
    order.sort_by(|a, b| {
        let ts = |c: &CustomResourceDefinition| c.metadata.creation_timestamp.as_ref().map(|t| t.0);
        (ts(a), &a.metadata.name).cmp(&(ts(b), &b.metadata.name))
    });
    let mut registry = base.clone();
    let mut refused = Vec::new();
    for crd in order {
        let name = crd.metadata.name.clone().unwrap_or_default();
        match name_conflict(&registry, crd) {
            Some(why) => refused.push((name, why)),
            None => resources_of(crd).into_iter().for_each(|r| registry.push(r)),
        }
    }
    (registry, refused)
}

/// One status condition; `previous` keeps its transition time when the status did not change.
fn condition(kind: &str, ok: bool, reason: &str, message: &str, previous: &Value) -> Value {
    let status = if ok { "True" } else { "False" };
    let old = previous["conditions"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["type"] == kind));
    let time = match old {
        Some(c) if c["status"] == status => c["lastTransitionTime"].clone(),
        _ => json!(capstan_store::clock::now().to_string()),
    };
    json!({"type": kind, "status": status, "reason": reason, "message": message, "lastTransitionTime": time})
}

/// Drops `lastTransitionTime` so that two statuses can be compared by what they say.
fn without_times(status: &Value) -> Value {
    let mut s = status.clone();
    if let Some(cs) = s["conditions"].as_array_mut() {
        for c in cs {
            if let Value::Object(m) = c {
                m.remove("lastTransitionTime");
            }
        }
    }
    s
}

/// The status a CRD should have: `conflict` is why its names were refused, if they were.
pub fn desired_status(crd: &CustomResourceDefinition, current: &Value, conflict: Option<&str>) -> Value {
    let accepted = conflict.is_none();
    let mut conditions = vec![
        match conflict {
            None => condition("NamesAccepted", true, "NoConflicts", "no conflicts found", current),
            Some(why) => condition("NamesAccepted", false, "NameConflict", why, current),
        },
        if accepted {
            condition(
                "Established",
                true,
                "InitialNamesAccepted",
                "the initial names have been accepted",
                current,
            )
        } else {
            condition(
                "Established",
                false,
                "NotAccepted",
                "not all names are accepted",
                current,
            )
        },
    ];
    if crd.metadata.deletion_timestamp.is_some() {
        conditions.push(condition(
            "Terminating",
            true,
            "InstanceDeletionInProgress",
            "CustomResource deletion is in progress",
            current,
        ));
    }
    let mut stored: Vec<String> = current["storedVersions"]
        .as_array()
        .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect())
        .unwrap_or_default();
    if let Some(v) = capstan_core::admission::crd::storage_version(crd)
        && !stored.iter().any(|s| s == v)
    {
        stored.push(v.to_owned());
    }
    let names = if accepted {
        serde_json::to_value(&crd.spec.names).unwrap_or(Value::Null)
    } else {
        serde_json::to_value(CustomResourceDefinitionNames::default()).unwrap_or(Value::Null)
    };
    json!({"conditions": conditions, "acceptedNames": names, "storedVersions": stored})
}

/// Deletes every custom object a CRD declares (all versions). Returns whether none is left.
async fn delete_instances(server: &ApiServer, crd: &CustomResourceDefinition) -> Result<bool, StoreError> {
    let mut all_gone = true;
    let spec = &crd.spec;
    for v in &spec.versions {
        let t = TypeKey::new(
            &spec.group,
            &v.name,
            &spec.names.kind,
            &spec.names.plural,
            spec.scope == "Namespaced",
        );
        let list = server.store().list(&t, &ListParams::default()).await?;
        for o in &list.items {
            match server.store().delete(&t, o.key(), &DeleteParams::default()).await {
                Ok(capstan_store::DeleteOutcome::Deleted(_)) | Err(StoreError::NotFound { .. }) => {}
                Ok(capstan_store::DeleteOutcome::Pending(_)) => all_gone = false,
                Err(e) => return Err(e),
            }
        }
    }
    Ok(all_gone)
}

/// Brings the served kinds and every CRD's status and finalizer in line with the stored CRDs.
/// Returns the revision the CRDs were listed at and whether a deletion is still waiting.
///
/// # Errors
/// A store error other than a conflict (a conflict means someone else wrote: the watch event of
/// that write triggers the next pass).
pub async fn reconcile(server: &ApiServer) -> Result<(Revision, bool), StoreError> {
    let _one_at_a_time = server.crd_lock().lock().await;
    let t = crd_type();
    let list = server.store().list(&t, &ListParams::default()).await?;
    let mut crds = Vec::new();
    let mut stored = Vec::new();
    for o in &list.items {
        match serde_json::from_value::<CustomResourceDefinition>(o.json().clone()) {
            Ok(c) => {
                crds.push(c);
                stored.push(Arc::clone(o));
            }
            Err(e) => tracing::warn!(key = %o.key(), error = %e, "cannot read a CustomResourceDefinition"),
        }
    }
    let (mut registry, refused) = build(server.base_registry(), &crds);
    let existing: HashSet<String> = crds.iter().filter_map(|c| c.metadata.name.clone()).collect();
    sweep_vanished(server, &existing).await;
    server.set_registry(registry.clone());
    let mut waiting = false;
    for (crd, obj) in crds.iter().zip(&stored) {
        let name = crd.metadata.name.clone().unwrap_or_default();
        let conflict = refused.iter().find(|(n, _)| *n == name).map(|(_, why)| why.as_str());
        let mut current = Arc::clone(obj);
        let status = current.json().get("status").cloned().unwrap_or(Value::Null);
        let want = desired_status(crd, &status, conflict);
        if without_times(&want) != without_times(&status) {
            let mut body = current.json().clone();
            body["status"] = want;
            match server.store().update(&t, body, Subresource::Status).await {
                Ok(updated) => current = updated,
                Err(StoreError::Conflict { .. } | StoreError::NotFound { .. }) => continue,
                Err(e) => return Err(e),
            }
        }
        let finalizers: Vec<String> = crd.metadata.finalizers.clone().unwrap_or_default();
        let has_finalizer = finalizers.iter().any(|f| f == CLEANUP_FINALIZER);
        let terminating = crd.metadata.deletion_timestamp.is_some();
        let new_finalizers = match (terminating, has_finalizer) {
            (false, false) => {
                let mut f = finalizers.clone();
                f.push(CLEANUP_FINALIZER.to_owned());
                Some(f)
            }
            (true, true) => {
                if !delete_instances(server, crd).await? {
                    waiting = true;
                    continue;
                }
                // Stop serving the kind before the CRD disappears, so that a client that saw it
                // go never finds the kind still served.
                registry = registry_without(&registry, &name);
                server.set_registry(registry.clone());
                Some(finalizers.iter().filter(|f| *f != CLEANUP_FINALIZER).cloned().collect())
            }
            _ => None,
        };
        if let Some(f) = new_finalizers {
            let mut body = current.json().clone();
            body["metadata"]["finalizers"] = json!(f);
            match server.store().update(&t, body, Subresource::Main).await {
                Ok(_) | Err(StoreError::Conflict { .. } | StoreError::NotFound { .. }) => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok((list.revision, waiting))
}

/// `registry` without the kinds of the CRD `name`.
fn registry_without(registry: &Registry, name: &str) -> Registry {
    let mut out = Registry::default();
    for r in registry.resources() {
        if r.custom.as_ref().is_none_or(|c| c.crd_name != name) {
            out.push(r.clone());
        }
    }
    out
}

/// Deletes the objects of custom kinds that were served and whose CRD is gone without the cleanup
/// finalizer having run (it was deleted before the finalizer was added). Only the CRD's removal
/// counts: a CRD that still exists but no longer serves a version (`served: false`, a renamed kind,
/// a refused name) keeps its objects, as on Kubernetes.
async fn sweep_vanished(server: &ApiServer, existing_crds: &HashSet<String>) {
    let previous = server.registry();
    for r in previous.resources() {
        let Some(custom) = &r.custom else { continue };
        if existing_crds.contains(&custom.crd_name) {
            continue;
        }
        let Ok(list) = server.store().list(&r.type_key, &ListParams::default()).await else {
            continue;
        };
        for o in &list.items {
            if let Err(e) = server
                .store()
                .delete(&r.type_key, o.key(), &DeleteParams::default())
                .await
            {
                tracing::debug!(key = %o.key(), error = %e, "could not delete an object of a removed kind");
            }
        }
    }
}

/// Follows the store's CRDs until the task is dropped: a pass at start, one per watch event, and
/// one a second while a deletion waits. Watch failures (Gone) relist and watch again.
pub async fn run(server: Arc<ApiServer>) {
    loop {
        let (from, mut waiting) = match reconcile(&server).await {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(error = %e, "CustomResourceDefinition sync failed; retrying");
                tokio::time::sleep(CLEANUP_RETRY).await;
                continue;
            }
        };
        let params = WatchParams {
            from_revision: from,
            ..WatchParams::default()
        };
        let mut stream = match server.store().watch(&crd_type(), &params).await {
            Ok(s) => s,
            Err(e) => {
                tracing::debug!(error = %e, "CustomResourceDefinition watch failed; relisting");
                tokio::time::sleep(CLEANUP_RETRY).await;
                continue;
            }
        };
        loop {
            // `None`: the retry timer of a waiting deletion fired.
            let woken = tokio::select! {
                biased;
                ev = stream.next() => Some(ev),
                _ = tokio::time::sleep(CLEANUP_RETRY), if waiting => None,
            };
            match woken {
                Some(Some(Ok(WatchEvent::Bookmark(_)))) => {}
                None | Some(Some(Ok(_))) => match reconcile(&server).await {
                    Ok((_, w)) => waiting = w,
                    Err(e) => {
                        tracing::warn!(error = %e, "CustomResourceDefinition sync failed");
                        waiting = true;
                    }
                },
                Some(Some(Err(e))) => {
                    tracing::debug!(error = %e, "CustomResourceDefinition watch ended; relisting");
                    break;
                }
                Some(None) => break,
            }
        }
    }
}

#[cfg(test)]
mod tests;
