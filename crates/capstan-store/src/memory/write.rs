//! The write rules: what a create, update or delete does to the state it sees, as one [`Change`] or
//! a typed error. Pure over a [`View`]: nothing here touches the committed state, so a rejected write
//! changes nothing and a batch can be prepared before its journal commit.

use std::sync::Arc;

use capstan_core::{AdmissionError, FieldError, ObjectKey, TypeKey};
use serde_json::Value;

use super::meta;
use super::namespace;
use super::state::{Change, View};
use crate::clock;
use crate::error::{Result, StoreError};
use crate::object::StoredObject;
use crate::params::{DeleteParams, PropagationPolicy, Subresource};
use crate::store::{DeleteOutcome, Revision};

/// Finalizer the garbage collector honours for foreground deletion.
pub const FOREGROUND_FINALIZER: &str = "foregroundDeletion";
/// Finalizer the garbage collector honours for orphaning dependents.
pub const ORPHAN_FINALIZER: &str = "orphan";

/// Default pod grace period when neither the request nor the pod gives one.
const DEFAULT_POD_GRACE_SECONDS: i64 = 30;

/// How many generated names to try before giving up with AlreadyExists.
const GENERATE_NAME_ATTEMPTS: usize = 8;

/// One write request.
#[derive(Debug)]
pub(crate) enum WriteOp {
    /// Create an object.
    Create {
        /// The kind.
        type_key: TypeKey,
        /// The object.
        object: Value,
    },
    /// Update an object or its status.
    Update {
        /// The kind.
        type_key: TypeKey,
        /// The new object.
        object: Value,
        /// Which part.
        subresource: Subresource,
    },
    /// Delete an object.
    Delete {
        /// The kind.
        type_key: TypeKey,
        /// The object.
        key: ObjectKey,
        /// How.
        params: DeleteParams,
    },
}

/// What a write answers its caller.
#[derive(Debug, Clone)]
pub(crate) enum Reply {
    /// The object after a create or update.
    Object(Arc<StoredObject>),
    /// What a delete did.
    Delete(DeleteOutcome),
}

/// A write's answer and the change to commit (none for a write that changes nothing).
#[derive(Debug)]
pub(crate) struct Applied {
    pub reply: Reply,
    pub change: Option<Change>,
}

/// Limits the write rules need.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// Largest accepted encoded object.
    pub max_object_bytes: usize,
}

/// Applies `op` as the write with revision `revision`, reading through `view`.
pub(crate) fn apply(view: &impl View, limits: Limits, revision: Revision, op: WriteOp) -> Result<Applied> {
    match op {
        WriteOp::Create { type_key, object } => create(view, limits, revision, &type_key, object),
        WriteOp::Update {
            type_key,
            object,
            subresource,
        } => update(view, limits, revision, &type_key, object, subresource),
        WriteOp::Delete { type_key, key, params } => delete(view, limits, revision, &type_key, &key, &params),
    }
}

fn admission(type_key: &TypeKey, object: &mut Value, old: Option<&Value>) -> Result<()> {
    capstan_core::admit_json(type_key, object, old).map_err(|e| match e {
        AdmissionError::Invalid(invalid) => StoreError::Invalid(invalid),
        other => StoreError::BadRequest(other.to_string()),
    })
}

fn is_kind(type_key: &TypeKey, group: &str, kind: &str) -> bool {
    type_key.group == group && type_key.kind == kind
}

/// Sets the status a new object starts with, as Kubernetes' create strategies do: the status of a
/// kind with a status subresource is the controllers' to write, not the creator's.
fn reset_status_on_create(type_key: &TypeKey, object: &mut Value) {
    let Value::Object(map) = object else { return };
    if is_kind(type_key, "", "Pod") {
        map.insert("status".into(), serde_json::json!({"phase": "Pending"}));
    } else if is_kind(type_key, "", "Namespace") {
        map.insert("status".into(), serde_json::json!({"phase": "Active"}));
    } else if is_kind(type_key, "", "Node") || is_kind(type_key, "", "Event") {
        // Nodes register with their status; events have none.
    } else {
        map.remove("status");
    }
}

fn stamp(object: &mut Value, revision: Revision) -> Result<()> {
    meta::metadata_mut(object)?.insert("resourceVersion".into(), Value::String(revision.to_string()));
    Ok(())
}

fn create(
    view: &impl View,
    limits: Limits,
    revision: Revision,
    type_key: &TypeKey,
    mut object: Value,
) -> Result<Applied> {
    meta::check_type(type_key, &mut object)?;
    let mut key = meta::object_key(type_key, &mut object)?;
    namespace::check_create_allowed(view, type_key, &key)?;
    let meta_map = meta::metadata_mut(&mut object)?;
    if key.name.is_empty() {
        let prefix = meta_map
            .get("generateName")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        if !prefix.is_empty() {
            let mut attempts = 0;
            key.name = loop {
                let candidate = meta::generate_name(&prefix);
                attempts += 1;
                if view
                    .get(type_key, &ObjectKey::new(key.namespace.clone(), candidate.clone()))
                    .is_none()
                    || attempts >= GENERATE_NAME_ATTEMPTS
                {
                    break candidate;
                }
            };
            meta_map.insert("name".into(), Value::String(key.name.clone()));
        }
    }
    meta_map.insert("uid".into(), Value::String(meta::new_uid()));
    meta_map.insert("creationTimestamp".into(), meta::time_json(clock::now()));
    meta_map.insert("generation".into(), Value::from(1));
    for server_owned in [
        "resourceVersion",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "selfLink",
    ] {
        meta_map.remove(server_owned);
    }
    reset_status_on_create(type_key, &mut object);
    meta::normalize_metadata(&mut object);
    admission(type_key, &mut object, None)?;
    if key.name.is_empty() {
        return Err(meta::invalid(
            type_key,
            "",
            FieldError::required("metadata.name", "name or generateName is required"),
        ));
    }
    if view.get(type_key, &key).is_some() {
        return Err(StoreError::AlreadyExists {
            type_key: type_key.clone(),
            key,
        });
    }
    stamp(&mut object, revision)?;
    meta::check_size(&key, &object, limits.max_object_bytes)?;
    let stored = Arc::new(StoredObject::with_shared_type(
        view.shared_type(type_key),
        key,
        revision,
        object,
    ));
    Ok(Applied {
        reply: Reply::Object(stored.clone()),
        change: Some(Change {
            revision,
            prev: None,
            object: stored,
            removed: false,
        }),
    })
}

fn conflict(type_key: &TypeKey, key: &ObjectKey, message: String) -> StoreError {
    StoreError::Conflict {
        type_key: type_key.clone(),
        key: key.clone(),
        message,
    }
}

fn not_found(type_key: &TypeKey, key: &ObjectKey) -> StoreError {
    StoreError::NotFound {
        type_key: type_key.clone(),
        key: key.clone(),
    }
}

/// Checks a resourceVersion precondition against the stored object.
fn check_resource_version(type_key: &TypeKey, stored: &StoredObject, wanted: &str) -> Result<()> {
    let wanted_rev: Revision = wanted
        .parse()
        .map_err(|_| StoreError::BadRequest(format!("invalid resourceVersion {wanted:?}")))?;
    if wanted_rev != stored.revision() {
        return Err(conflict(
            type_key,
            stored.key(),
            format!(
                "the object has been modified (resourceVersion {wanted}, stored {}); please apply your changes to \
                 the latest version and try again",
                stored.revision()
            ),
        ));
    }
    Ok(())
}

fn check_uid(type_key: &TypeKey, stored: &StoredObject, wanted: &str) -> Result<()> {
    let have = stored.meta_str("uid").unwrap_or_default();
    if wanted != have {
        return Err(conflict(
            type_key,
            stored.key(),
            format!("Precondition failed: UID in precondition: {wanted}, UID in object meta: {have}"),
        ));
    }
    Ok(())
}

/// Copies `field` of `metadata` from `from` into `to` (removing it from `to` when `from` lacks it).
fn keep_meta(from: &Value, to: &mut serde_json::Map<String, Value>, field: &str) {
    match from.get("metadata").and_then(|m| m.get(field)) {
        Some(v) => {
            to.insert(field.into(), v.clone());
        }
        None => {
            to.remove(field);
        }
    }
}

fn update(
    view: &impl View,
    limits: Limits,
    revision: Revision,
    type_key: &TypeKey,
    mut object: Value,
    subresource: Subresource,
) -> Result<Applied> {
    meta::check_type(type_key, &mut object)?;
    let key = meta::object_key(type_key, &mut object)?;
    if key.name.is_empty() {
        return Err(StoreError::BadRequest("metadata.name is required for an update".into()));
    }
    let stored = view.get(type_key, &key).ok_or_else(|| not_found(type_key, &key))?;
    if let Some(rv) = meta::meta_str(&object, "resourceVersion") {
        check_resource_version(type_key, &stored, rv)?;
    }
    if let Some(uid) = meta::meta_str(&object, "uid") {
        check_uid(type_key, &stored, uid)?;
    }
    let old = stored.json();
    let mut new = match subresource {
        Subresource::Main => {
            let meta_map = meta::metadata_mut(&mut object)?;
            for field in [
                "uid",
                "creationTimestamp",
                "deletionTimestamp",
                "deletionGracePeriodSeconds",
                "generation",
                "resourceVersion",
            ] {
                keep_meta(old, meta_map, field);
            }
            if let Value::Object(map) = &mut object {
                match old.get("status") {
                    Some(status) => map.insert("status".into(), status.clone()),
                    None => map.remove("status"),
                };
            }
            object
        }
        Subresource::Status => {
            let mut new = old.clone();
            if let Value::Object(map) = &mut new {
                match object.get("status") {
                    Some(status) => map.insert("status".into(), status.clone()),
                    None => map.remove("status"),
                };
            }
            if is_deployment(type_key) {
                // The apps/v1 Deployment status strategy keeps only spec and labels from the stored
                // object, so the controller records its revision annotation with a status write,
                // which never bumps generation (specs/apps.md A.9).
                let annotations = object.get("metadata").and_then(|m| m.get("annotations")).cloned();
                let meta_map = meta::metadata_mut(&mut new)?;
                match annotations {
                    Some(a) => meta_map.insert("annotations".into(), a),
                    None => meta_map.remove("annotations"),
                };
            }
            new
        }
    };
    let terminating = meta::is_terminating(old);
    if terminating {
        // Neither list of finalizers (`metadata.finalizers`, a Namespace's `spec.finalizers`) may grow.
        for (field, old_list, new_list) in [
            ("metadata.finalizers", meta::finalizers(old), meta::finalizers(&new)),
            (
                "spec.finalizers",
                namespace::spec_finalizers(type_key, old),
                namespace::spec_finalizers(type_key, &new),
            ),
        ] {
            if new_list.iter().any(|f| !old_list.contains(f)) {
                return Err(meta::invalid(
                    type_key,
                    &key.name,
                    FieldError::forbidden(field, "no new finalizers can be added if the object is being deleted"),
                ));
            }
        }
    }
    meta::normalize_metadata(&mut new);
    admission(type_key, &mut new, Some(old))?;
    if subresource == Subresource::Main && meta::generation_changes(type_key, old, &new) {
        let next = meta::generation(old) + 1;
        meta::metadata_mut(&mut new)?.insert("generation".into(), Value::from(next));
    }
    if new == *old {
        // Nothing changed: no write, no new revision (as the API server skips no-op updates).
        return Ok(Applied {
            reply: Reply::Object(stored),
            change: None,
        });
    }
    stamp(&mut new, revision)?;
    meta::check_size(&key, &new, limits.max_object_bytes)?;
    let removed = terminating && !held_by_finalizers(type_key, &new) && meta::deletion_grace(&new).unwrap_or(0) == 0;
    let object = Arc::new(StoredObject::with_shared_type(
        view.shared_type(type_key),
        key,
        revision,
        new,
    ));
    Ok(Applied {
        reply: Reply::Object(object.clone()),
        change: Some(Change {
            revision,
            prev: Some(stored),
            object,
            removed,
        }),
    })
}

/// Whether finalizers hold `object` back from removal: its `metadata.finalizers`, or a Namespace's
/// `spec.finalizers`.
fn held_by_finalizers(type_key: &TypeKey, object: &Value) -> bool {
    !meta::finalizers(object).is_empty() || !namespace::spec_finalizers(type_key, object).is_empty()
}

/// The finalizers a delete leaves on an object, after the propagation policy (as Kubernetes' garbage
/// collection finalizers work: an explicit policy replaces `orphan`/`foregroundDeletion`).
fn propagation_finalizers(current: &[String], policy: Option<PropagationPolicy>) -> Vec<String> {
    let has = |f: &str| current.iter().any(|c| c == f);
    let (orphan, foreground) = match policy {
        Some(PropagationPolicy::Orphan) => (true, false),
        Some(PropagationPolicy::Foreground) => (false, true),
        Some(PropagationPolicy::Background) => (false, false),
        None => (has(ORPHAN_FINALIZER), has(FOREGROUND_FINALIZER)),
    };
    let mut out: Vec<String> = current
        .iter()
        .filter(|f| *f != ORPHAN_FINALIZER && *f != FOREGROUND_FINALIZER)
        .cloned()
        .collect();
    if orphan {
        out.push(ORPHAN_FINALIZER.into());
    }
    if foreground {
        out.push(FOREGROUND_FINALIZER.into());
    }
    out
}

/// The grace period a pod delete asks for: the request's, else the pod's, else 30 s; zero for a pod
/// never scheduled or already finished.
fn pod_grace(object: &Value, requested: Option<i64>) -> i64 {
    let spec = object.get("spec");
    let node = spec
        .and_then(|s| s.get("nodeName"))
        .and_then(Value::as_str)
        .unwrap_or_default();
    let phase = object
        .get("status")
        .and_then(|s| s.get("phase"))
        .and_then(Value::as_str)
        .unwrap_or_default();
    if node.is_empty() || phase == "Succeeded" || phase == "Failed" {
        return 0;
    }
    let grace = requested
        .or_else(|| {
            spec.and_then(|s| s.get("terminationGracePeriodSeconds"))
                .and_then(Value::as_i64)
        })
        .unwrap_or(DEFAULT_POD_GRACE_SECONDS);
    // Kubernetes treats a negative grace period as one second.
    if grace < 0 { 1 } else { grace }
}

fn delete(
    view: &impl View,
    limits: Limits,
    revision: Revision,
    type_key: &TypeKey,
    key: &ObjectKey,
    params: &DeleteParams,
) -> Result<Applied> {
    let stored = view.get(type_key, key).ok_or_else(|| not_found(type_key, key))?;
    if let Some(uid) = params.preconditions.uid.as_deref() {
        check_uid(type_key, &stored, uid)?;
    }
    if let Some(rv) = params.preconditions.resource_version.as_deref() {
        check_resource_version(type_key, &stored, rv)?;
    }
    let old = stored.json();
    let terminating = meta::is_terminating(old);
    let old_finalizers = meta::finalizers(old);
    let finalizers = propagation_finalizers(&old_finalizers, params.propagation_policy);
    let now = clock::now();
    let current_grace = meta::deletion_grace(old);
    let grace = if is_kind(type_key, "", "Pod") {
        pod_grace(old, params.grace_period_seconds)
    } else {
        0
    };

    // What to stamp: (deletionTimestamp, deletionGracePeriodSeconds), when it changes. A graceful pod
    // gets its grace period; an object held by finalizers gets zero.
    let held = !finalizers.is_empty() || !namespace::spec_finalizers(type_key, old).is_empty();
    let target_grace = if grace > 0 {
        Some(grace)
    } else if held {
        Some(0)
    } else {
        None
    };
    let mut deletion = None;
    if let Some(target) = target_grace {
        match current_grace {
            Some(current) if terminating && target >= current => {}
            // A shorter grace period moves the deadline earlier by the difference.
            Some(current) if terminating => {
                deletion = Some((meta::add_seconds(current_deadline(old, now), target - current), target));
            }
            _ if terminating => {}
            _ => deletion = Some((meta::add_seconds(now, target), target)),
        }
    }

    let remove_now = grace == 0 && !held;
    if !remove_now && deletion.is_none() && finalizers == old_finalizers {
        // Already being deleted this way: nothing to write.
        return Ok(Applied {
            reply: Reply::Delete(DeleteOutcome::Pending(stored)),
            change: None,
        });
    }
    let mut new = old.clone();
    let meta_map = meta::metadata_mut(&mut new)?;
    meta::set_finalizers(meta_map, &finalizers);
    if let Some((at, secs)) = deletion {
        meta_map.insert("deletionTimestamp".into(), meta::time_json(at));
        meta_map.insert("deletionGracePeriodSeconds".into(), Value::from(secs));
    }
    meta_map.insert("resourceVersion".into(), Value::String(revision.to_string()));
    if !remove_now {
        namespace::mark_terminating(type_key, &mut new);
        meta::check_size(key, &new, limits.max_object_bytes)?;
    }
    let object = Arc::new(StoredObject::with_shared_type(
        view.shared_type(type_key),
        key.clone(),
        revision,
        new,
    ));
    let outcome = if remove_now {
        DeleteOutcome::Deleted(object.clone())
    } else {
        DeleteOutcome::Pending(object.clone())
    };
    Ok(Applied {
        reply: Reply::Delete(outcome),
        change: Some(Change {
            revision,
            prev: Some(stored),
            object,
            removed: remove_now,
        }),
    })
}

/// The object's current deletion deadline, or `default` when it has none.
fn current_deadline(object: &Value, default: k8s_openapi::jiff::Timestamp) -> k8s_openapi::jiff::Timestamp {
    object
        .get("metadata")
        .and_then(|m| m.get("deletionTimestamp"))
        .and_then(meta::parse_time)
        .unwrap_or(default)
}

/// Whether `type_key` is apps/v1 Deployment, whose status writes may also change annotations.
fn is_deployment(type_key: &TypeKey) -> bool {
    type_key.group == "apps" && type_key.kind == "Deployment"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explicit_policies_replace_gc_finalizers_and_keep_others() {
        let cur = vec!["a/x".to_owned(), ORPHAN_FINALIZER.to_owned()];
        assert_eq!(
            propagation_finalizers(&cur, Some(PropagationPolicy::Foreground)),
            vec!["a/x".to_owned(), FOREGROUND_FINALIZER.to_owned()]
        );
        assert_eq!(
            propagation_finalizers(&cur, Some(PropagationPolicy::Background)),
            vec!["a/x".to_owned()]
        );
        assert_eq!(propagation_finalizers(&cur, None), cur);
    }

    #[test]
    fn pod_grace_is_zero_for_unscheduled_or_finished_pods() {
        let running = serde_json::json!({"spec": {"nodeName": "n1", "terminationGracePeriodSeconds": 5}});
        assert_eq!(pod_grace(&running, None), 5);
        assert_eq!(pod_grace(&running, Some(2)), 2);
        assert_eq!(pod_grace(&running, Some(-3)), 1);
        let default = serde_json::json!({"spec": {"nodeName": "n1"}});
        assert_eq!(pod_grace(&default, None), 30);
        let unscheduled = serde_json::json!({"spec": {}});
        assert_eq!(pod_grace(&unscheduled, Some(10)), 0);
        let done = serde_json::json!({"spec": {"nodeName": "n1"}, "status": {"phase": "Succeeded"}});
        assert_eq!(pod_grace(&done, None), 0);
    }
}
