//! The garbage collector for every other kind: a periodic sweep per namespace.
//!
//! The typed collectors ([`super::reconciler`]) follow Deployments, ReplicaSets and Pods through
//! their caches. Everything else — ConfigMaps, Secrets, Services, ServiceAccounts and the objects of
//! CustomResourceDefinitions, as dependents or as owners — is handled here, from the store, every
//! [`SWEEP_PERIOD`]: a user's custom controller that sets owner references on its children gets
//! Kubernetes' garbage collection for them, as it would on a cluster.
//!
//! # One sweep of namespace N
//! 1. List every object of N of every namespaced kind (built-in and CustomResourceDefinition kinds,
//!    each stored version), and every cluster-scoped object (owners may be cluster-scoped).
//! 2. [`plan`] decides, for each object with ownerReferences that the typed collectors do not fully
//!    own (its kind, or one of its owners' kinds, is not Deployment/ReplicaSet/Pod):
//!    - an owner deleted with `orphan`: drop the reference to it;
//!    - every owner absent or being deleted in foreground: delete the object (B.15–B.17);
//!    - some owners absent: drop the references to them;
//!    - an owner of a kind no one defines: treated as present (it cannot be told absent).
//! 3. An object of a non-typed kind being deleted with `foregroundDeletion` or `orphan` loses that
//!    finalizer once no dependent refers to it any more.
//!
//! Writes are guarded by uid preconditions or resourceVersions; a conflict waits for the next sweep.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use capstan_core::{Resource, TypeKey, builtin_types};
use capstan_runtime::{Action, Context, ReconcileError, ReconcileRequest, Reconciler};
use capstan_store::{
    DeleteParams, ListParams, Preconditions, PropagationPolicy, Store, StoreError, StoredObject, Subresource,
};
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use serde_json::{Value, json};

use crate::gc::logic::{FOREGROUND_FINALIZER, ORPHAN_FINALIZER};
use crate::writes::is_benign;

/// How often each namespace is swept.
pub const SWEEP_PERIOD: Duration = Duration::from_secs(2);

/// Whether the typed collectors handle objects of this group and kind.
fn is_typed(group: &str, kind: &str) -> bool {
    matches!((group, kind), ("apps", "Deployment" | "ReplicaSet") | ("", "Pod"))
}

/// The group of an `apiVersion` (`""` for core).
fn group_of(api_version: &str) -> &str {
    api_version.rsplit_once('/').map_or("", |(g, _)| g)
}

/// One object of the sweep, with its kind.
#[derive(Clone, Debug)]
pub struct Swept {
    /// The object's kind.
    pub type_key: TypeKey,
    /// The object.
    pub object: Value,
}

/// What the sweep writes.
#[derive(Clone, Debug, PartialEq)]
pub enum SweepAction {
    /// Delete `objects[index]` with this propagation.
    Delete {
        /// Index into the planned objects.
        index: usize,
        /// Foreground when an owner waits for its dependents and this one has dependents too.
        propagation: PropagationPolicy,
    },
    /// Write these ownerReferences on `objects[index]` (dropping the others).
    SetOwnerRefs {
        /// Index into the planned objects.
        index: usize,
        /// The references to keep.
        refs: Vec<Value>,
    },
    /// Remove `finalizer` from `objects[index]`.
    RemoveFinalizer {
        /// Index into the planned objects.
        index: usize,
        /// The finalizer to remove.
        finalizer: &'static str,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Owner {
    Present,
    Absent,
    Foreground,
    Orphaning,
}

fn finalizers(o: &Value) -> Vec<&str> {
    o["metadata"]["finalizers"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect()
}

fn is_deleting(o: &Value) -> bool {
    o["metadata"]["deletionTimestamp"].is_string()
}

fn uid(o: &Value) -> Option<&str> {
    o["metadata"]["uid"].as_str()
}

fn owner_refs(o: &Value) -> &[Value] {
    o["metadata"]["ownerReferences"].as_array().map_or(&[], Vec::as_slice)
}

/// Decides the sweep's writes over `objects`. `known` holds the `(group, kind)` of every kind that
/// is defined (built-in or by a CustomResourceDefinition): an owner of another kind cannot be
/// told absent.
pub fn plan(objects: &[Swept], known: &BTreeSet<(String, String)>) -> Vec<SweepAction> {
    let by_uid: BTreeMap<&str, usize> = objects
        .iter()
        .enumerate()
        .filter_map(|(i, s)| Some((uid(&s.object)?, i)))
        .collect();
    let mut dependents: BTreeMap<&str, usize> = BTreeMap::new();
    for s in objects {
        for r in owner_refs(&s.object) {
            if let Some(u) = r["uid"].as_str() {
                *dependents.entry(u).or_default() += 1;
            }
        }
    }
    let mut actions = Vec::new();
    for (index, s) in objects.iter().enumerate() {
        let refs = owner_refs(&s.object);
        if refs.is_empty() || is_deleting(&s.object) {
            continue;
        }
        let handled = !is_typed(&s.type_key.group, &s.type_key.kind)
            || refs.iter().any(|r| {
                !is_typed(
                    group_of(r["apiVersion"].as_str().unwrap_or_default()),
                    r["kind"].as_str().unwrap_or_default(),
                )
            });
        if !handled {
            continue;
        }
        let states: Vec<Owner> = refs
            .iter()
            .map(|r| {
                let group = group_of(r["apiVersion"].as_str().unwrap_or_default()).to_owned();
                let kind = r["kind"].as_str().unwrap_or_default().to_owned();
                match r["uid"].as_str().and_then(|u| by_uid.get(u)) {
                    Some(&i) => {
                        let owner = &objects[i].object;
                        let fins = finalizers(owner);
                        if !is_deleting(owner) {
                            Owner::Present
                        } else if fins.contains(&ORPHAN_FINALIZER) {
                            Owner::Orphaning
                        } else if fins.contains(&FOREGROUND_FINALIZER) {
                            Owner::Foreground
                        } else {
                            Owner::Present
                        }
                    }
                    None if known.contains(&(group, kind)) => Owner::Absent,
                    None => Owner::Present,
                }
            })
            .collect();
        if states.contains(&Owner::Orphaning) {
            let keep = refs
                .iter()
                .zip(&states)
                .filter(|(_, st)| **st != Owner::Orphaning)
                .map(|(r, _)| r.clone())
                .collect();
            actions.push(SweepAction::SetOwnerRefs { index, refs: keep });
        } else if states.iter().all(|st| matches!(st, Owner::Absent | Owner::Foreground)) {
            let waits = states.contains(&Owner::Foreground);
            let has_own = uid(&s.object).is_some_and(|u| dependents.contains_key(u));
            let propagation = if waits && has_own {
                PropagationPolicy::Foreground
            } else {
                PropagationPolicy::Background
            };
            actions.push(SweepAction::Delete { index, propagation });
        } else if states.contains(&Owner::Absent) {
            let keep = refs
                .iter()
                .zip(&states)
                .filter(|(_, st)| **st != Owner::Absent)
                .map(|(r, _)| r.clone())
                .collect();
            actions.push(SweepAction::SetOwnerRefs { index, refs: keep });
        }
    }
    for (index, s) in objects.iter().enumerate() {
        if !is_deleting(&s.object) || is_typed(&s.type_key.group, &s.type_key.kind) {
            continue;
        }
        let waited_on = uid(&s.object).is_some_and(|u| dependents.contains_key(u));
        for finalizer in [ORPHAN_FINALIZER, FOREGROUND_FINALIZER] {
            if !waited_on && finalizers(&s.object).contains(&finalizer) {
                actions.push(SweepAction::RemoveFinalizer { index, finalizer });
            }
        }
    }
    actions
}

/// The periodic collector for the kinds the typed collectors do not follow (see the module doc).
#[derive(Clone, Debug, Default)]
pub struct GarbageSweeper;

impl GarbageSweeper {
    /// Lists what one sweep of namespace `ns` looks at.
    async fn gather(store: &dyn Store, ns: &str) -> Result<(Vec<Swept>, BTreeSet<(String, String)>), StoreError> {
        let crds = store
            .list(&CustomResourceDefinition::type_key(), &ListParams::default())
            .await?;
        let kinds: Vec<TypeKey> = builtin_types()
            .into_iter()
            .chain(
                crds.items
                    .iter()
                    .flat_map(|c| capstan_core::custom_kinds(c.json()))
                    .map(|k| k.type_key),
            )
            .collect();
        let known = kinds.iter().map(|t| (t.group.clone(), t.kind.clone())).collect();
        let mut swept = Vec::new();
        for kind in kinds {
            let params = ListParams {
                namespace: kind.namespaced.then(|| ns.to_owned()),
                ..ListParams::default()
            };
            let listed = store.list(&kind, &params).await?;
            swept.extend(listed.items.iter().map(|o: &Arc<StoredObject>| Swept {
                type_key: kind.clone(),
                object: o.json().clone(),
            }));
        }
        Ok((swept, known))
    }

    /// Carries out one action; conflicts and objects already gone wait for the next sweep.
    async fn apply(store: &dyn Store, objects: &[Swept], action: &SweepAction) -> Result<(), StoreError> {
        let result = match action {
            SweepAction::Delete { index, propagation } => {
                let s = &objects[*index];
                let key = object_key(&s.object);
                tracing::info!(kind = %s.type_key.kind, object = %key, "garbage collector: deleting (owners gone)");
                let params = DeleteParams {
                    preconditions: Preconditions {
                        uid: uid(&s.object).map(str::to_owned),
                        resource_version: None,
                    },
                    propagation_policy: Some(*propagation),
                    grace_period_seconds: None,
                };
                store.delete(&s.type_key, &key, &params).await.map(|_| ())
            }
            SweepAction::SetOwnerRefs { index, refs } => {
                let s = &objects[*index];
                let mut object = s.object.clone();
                object["metadata"]["ownerReferences"] = if refs.is_empty() { Value::Null } else { json!(refs) };
                strip_nulls(&mut object["metadata"]);
                store.update(&s.type_key, object, Subresource::Main).await.map(|_| ())
            }
            SweepAction::RemoveFinalizer { index, finalizer } => {
                let s = &objects[*index];
                let mut object = s.object.clone();
                let rest: Vec<&str> = finalizers(&s.object).into_iter().filter(|f| f != finalizer).collect();
                object["metadata"]["finalizers"] = if rest.is_empty() { Value::Null } else { json!(rest) };
                strip_nulls(&mut object["metadata"]);
                store.update(&s.type_key, object, Subresource::Main).await.map(|_| ())
            }
        };
        match result {
            Err(e) if is_benign(&e) => Ok(()),
            other => other,
        }
    }
}

/// The objects of the kinds the typed collectors do not follow, in namespace `ns`, that name `uid`
/// as an owner: what a Deployment, ReplicaSet or Pod being deleted in foreground or with `orphan`
/// must also wait for or release.
pub(crate) async fn untyped_dependents(store: &dyn Store, ns: &str, uid: &str) -> Result<Vec<Swept>, StoreError> {
    let (objects, _) = GarbageSweeper::gather(store, ns).await?;
    Ok(objects
        .into_iter()
        .filter(|s| !is_typed(&s.type_key.group, &s.type_key.kind))
        .filter(|s| owner_refs(&s.object).iter().any(|r| r["uid"].as_str() == Some(uid)))
        .collect())
}

/// Removes the references to owner `uid` from `dependents` (guarded by their resourceVersions).
pub(crate) async fn release(store: &dyn Store, dependents: &[Swept], uid: &str) -> Result<(), StoreError> {
    for (index, s) in dependents.iter().enumerate() {
        let refs = owner_refs(&s.object)
            .iter()
            .filter(|r| r["uid"].as_str() != Some(uid))
            .cloned()
            .collect();
        GarbageSweeper::apply(store, dependents, &SweepAction::SetOwnerRefs { index, refs }).await?;
    }
    Ok(())
}

/// Deletes the `dependents` that are not being deleted yet (Background).
pub(crate) async fn delete_dependents(store: &dyn Store, dependents: &[Swept]) -> Result<(), StoreError> {
    for (index, s) in dependents.iter().enumerate() {
        if !is_deleting(&s.object) {
            let action = SweepAction::Delete {
                index,
                propagation: PropagationPolicy::Background,
            };
            GarbageSweeper::apply(store, dependents, &action).await?;
        }
    }
    Ok(())
}

fn object_key(o: &Value) -> capstan_core::ObjectKey {
    capstan_core::ObjectKey::new(
        o["metadata"]["namespace"].as_str().unwrap_or_default(),
        o["metadata"]["name"].as_str().unwrap_or_default(),
    )
}

/// Removes `null` members of a JSON object (a field set to null means "absent" in an update).
fn strip_nulls(v: &mut Value) {
    if let Value::Object(m) = v {
        m.retain(|_, v| !v.is_null());
    }
}

#[capstan_runtime::async_trait]
impl Reconciler<Namespace> for GarbageSweeper {
    async fn reconcile(&self, req: ReconcileRequest, ctx: &Context<Namespace>) -> Result<Action, ReconcileError> {
        let Some(ns) = ctx.cache().get(&req.key) else {
            return Ok(Action::done());
        };
        if ns.metadata.deletion_timestamp.is_some() {
            // The namespace controller empties it.
            return Ok(Action::done());
        }
        let store = ctx.store().as_ref();
        let (objects, known) = Self::gather(store, &req.key.name).await?;
        for action in plan(&objects, &known) {
            Self::apply(store, &objects, &action).await?;
        }
        Ok(Action::requeue_after(SWEEP_PERIOD))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(group: &str, kind: &str, name: &str, uid: &str, owners: Value) -> Swept {
        let api_version = if group.is_empty() {
            "v1".to_owned()
        } else {
            format!("{group}/v1")
        };
        Swept {
            type_key: TypeKey::new(group, "v1", kind, &format!("{}s", kind.to_lowercase()), true),
            object: json!({"apiVersion": api_version, "kind": kind,
                "metadata": {"name": name, "namespace": "default", "uid": uid, "ownerReferences": owners}}),
        }
    }

    fn owner(group: &str, kind: &str, uid: &str) -> Value {
        let api_version = if group.is_empty() {
            "v1".to_owned()
        } else {
            format!("{group}/v1")
        };
        json!({"apiVersion": api_version, "kind": kind, "name": "o", "uid": uid})
    }

    fn known() -> BTreeSet<(String, String)> {
        [
            ("", "ConfigMap"),
            ("apps", "Deployment"),
            ("example.com", "Greeting"),
            ("", "Pod"),
        ]
        .iter()
        .map(|(g, k)| (g.to_string(), k.to_string()))
        .collect()
    }

    #[test]
    fn a_child_of_a_deleted_custom_owner_is_deleted_and_one_with_a_live_owner_kept() {
        let objects = vec![
            obj("example.com", "Greeting", "alive", "g1", json!([])),
            obj(
                "",
                "ConfigMap",
                "kept",
                "c1",
                json!([owner("example.com", "Greeting", "g1")]),
            ),
            obj(
                "",
                "ConfigMap",
                "orphaned",
                "c2",
                json!([owner("example.com", "Greeting", "gone")]),
            ),
            obj(
                "apps",
                "Deployment",
                "typed-child",
                "d1",
                json!([owner("example.com", "Greeting", "gone")]),
            ),
        ];
        let actions = plan(&objects, &known());
        assert_eq!(
            actions,
            [
                SweepAction::Delete {
                    index: 2,
                    propagation: PropagationPolicy::Background
                },
                SweepAction::Delete {
                    index: 3,
                    propagation: PropagationPolicy::Background
                },
            ]
        );
    }

    #[test]
    fn typed_pairs_are_left_to_the_typed_collectors_and_unknown_owner_kinds_count_as_present() {
        let objects = vec![
            obj("", "Pod", "p", "p1", json!([owner("apps", "ReplicaSet", "gone")])),
            obj(
                "",
                "ConfigMap",
                "c",
                "c1",
                json!([owner("unknown.io", "Thing", "gone")]),
            ),
        ];
        assert!(plan(&objects, &known()).is_empty());
    }

    #[test]
    fn references_to_absent_owners_are_dropped_when_another_owner_lives() {
        let objects = vec![
            obj("example.com", "Greeting", "alive", "g1", json!([])),
            obj(
                "",
                "ConfigMap",
                "c",
                "c1",
                json!([
                    owner("example.com", "Greeting", "g1"),
                    owner("example.com", "Greeting", "gone")
                ]),
            ),
        ];
        assert_eq!(
            plan(&objects, &known()),
            [SweepAction::SetOwnerRefs {
                index: 1,
                refs: vec![owner("example.com", "Greeting", "g1")]
            }]
        );
    }

    #[test]
    fn foreground_owners_lose_dependents_first_then_their_finalizer() {
        let mut greeting = obj("example.com", "Greeting", "g", "g1", json!([]));
        greeting.object["metadata"]["deletionTimestamp"] = json!("2026-01-01T00:00:00Z");
        greeting.object["metadata"]["finalizers"] = json!([FOREGROUND_FINALIZER]);
        let child = obj(
            "",
            "ConfigMap",
            "c",
            "c1",
            json!([owner("example.com", "Greeting", "g1")]),
        );
        let actions = plan(&[greeting.clone(), child], &known());
        assert_eq!(
            actions,
            [SweepAction::Delete {
                index: 1,
                propagation: PropagationPolicy::Background
            }]
        );
        assert_eq!(
            plan(&[greeting], &known()),
            [SweepAction::RemoveFinalizer {
                index: 0,
                finalizer: FOREGROUND_FINALIZER
            }]
        );
    }

    #[test]
    fn orphaning_owners_release_their_dependents_then_their_finalizer() {
        let mut greeting = obj("example.com", "Greeting", "g", "g1", json!([]));
        greeting.object["metadata"]["deletionTimestamp"] = json!("2026-01-01T00:00:00Z");
        greeting.object["metadata"]["finalizers"] = json!([ORPHAN_FINALIZER]);
        let child = obj(
            "",
            "ConfigMap",
            "c",
            "c1",
            json!([owner("example.com", "Greeting", "g1")]),
        );
        assert_eq!(
            plan(&[greeting.clone(), child], &known()),
            [SweepAction::SetOwnerRefs { index: 1, refs: vec![] }]
        );
        assert_eq!(
            plan(&[greeting], &known()),
            [SweepAction::RemoveFinalizer {
                index: 0,
                finalizer: ORPHAN_FINALIZER
            }]
        );
    }
}
