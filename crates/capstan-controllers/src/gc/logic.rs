//! Garbage-collector decisions (B.15–B.18) over object metadata.
//!
//! The collector keeps a graph of owners and dependents (from `ownerReferences`, by UID). These
//! functions decide, for one object, what to do:
//! - [`decide_dependent`]: an object with owners — keep it, delete it (owners gone, B.15), or drop the
//!   references to owners that are gone or are waiting for their dependents (B.17).
//! - [`foreground_plan`]: an owner being deleted in foreground — which dependents to delete and
//!   whether its `foregroundDeletion` finalizer can go (B.17).
//! - [`orphan_plan`]: an owner being deleted with `orphan` — the dependents' new ownerReferences and
//!   when the `orphan` finalizer can go (B.18).

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};

/// The finalizer of an owner deleted with `propagationPolicy: Foreground`.
pub const FOREGROUND_FINALIZER: &str = "foregroundDeletion";
/// The finalizer of an owner deleted with `propagationPolicy: Orphan`.
pub const ORPHAN_FINALIZER: &str = "orphan";

/// What the collector knows about the owner an ownerReference points to (looked up by kind,
/// namespace and name, then compared by UID).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OwnerState {
    /// No object with that UID exists.
    Absent,
    /// The owner exists and is not waiting for its dependents.
    Present,
    /// The owner has a `deletionTimestamp` and the `foregroundDeletion` finalizer.
    DeletingForeground,
}

/// A delete's `propagationPolicy`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Propagation {
    /// Delete the object now; the collector deletes its dependents afterwards (B.16).
    Background,
    /// Delete the dependents first; the object keeps `foregroundDeletion` until then (B.17).
    Foreground,
    /// Keep the dependents, removing their references to the object (B.18).
    Orphan,
}

impl Propagation {
    /// The policy as the API spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Propagation::Background => "Background",
            Propagation::Foreground => "Foreground",
            Propagation::Orphan => "Orphan",
        }
    }
}

/// The collector's decision for one dependent.
#[derive(Clone, Debug, PartialEq)]
pub enum GcAction {
    /// Leave the object alone.
    Keep,
    /// Delete it with this propagation policy.
    Delete(Propagation),
    /// Some owner still holds it: write these ownerReferences (refs to absent owners and to owners
    /// waiting for their dependents removed).
    SetOwnerRefs(Vec<OwnerReference>),
}

/// Whether the object lists `finalizer`.
pub fn has_finalizer(meta: &ObjectMeta, finalizer: &str) -> bool {
    meta.finalizers.iter().flatten().any(|f| f == finalizer)
}

/// The finalizers without `finalizer`, or `None` when it is not there.
pub fn without_finalizer(meta: &ObjectMeta, finalizer: &str) -> Option<Vec<String>> {
    has_finalizer(meta, finalizer).then(|| {
        meta.finalizers
            .iter()
            .flatten()
            .filter(|f| *f != finalizer)
            .cloned()
            .collect()
    })
}

/// The policy an object's own finalizers ask for when it is deleted by the collector: `orphan`,
/// then `foregroundDeletion`, else Background.
pub fn own_propagation(meta: &ObjectMeta) -> Propagation {
    if has_finalizer(meta, ORPHAN_FINALIZER) {
        Propagation::Orphan
    } else if has_finalizer(meta, FOREGROUND_FINALIZER) {
        Propagation::Foreground
    } else {
        Propagation::Background
    }
}

/// Decides what to do with an object that has ownerReferences (B.15, B.17).
///
/// `owner` reports each referenced owner's state; `has_dependents` says whether other objects list
/// this one as an owner. An object already being deleted is kept (its own deletion is under way).
/// With at least one present owner the object stays, minus references to absent or waiting owners.
/// Otherwise it is deleted: in foreground when an owner waits for it and it has dependents of its own,
/// else with the policy its own finalizers ask for.
pub fn decide_dependent(
    meta: &ObjectMeta,
    owner: impl Fn(&OwnerReference) -> OwnerState,
    has_dependents: bool,
) -> GcAction {
    let refs = meta.owner_references.as_deref().unwrap_or_default();
    if refs.is_empty() || meta.deletion_timestamp.is_some() {
        return GcAction::Keep;
    }
    let states: Vec<OwnerState> = refs.iter().map(&owner).collect();
    let solid = states.contains(&OwnerState::Present);
    let waiting = states.contains(&OwnerState::DeletingForeground);
    if solid {
        if states.iter().all(|s| *s == OwnerState::Present) {
            return GcAction::Keep;
        }
        let keep = refs
            .iter()
            .zip(&states)
            .filter(|(_, s)| **s == OwnerState::Present)
            .map(|(r, _)| r.clone());
        return GcAction::SetOwnerRefs(keep.collect());
    }
    if waiting && has_dependents {
        return GcAction::Delete(Propagation::Foreground);
    }
    GcAction::Delete(own_propagation(meta))
}

/// One dependent of an owner, for [`foreground_plan`].
#[derive(Clone, Copy, Debug)]
pub struct Dependent<'a> {
    /// The dependent's metadata.
    pub meta: &'a ObjectMeta,
    /// Whether the dependent has dependents of its own.
    pub has_dependents: bool,
}

/// What to do for an owner that is being deleted in foreground (B.17).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ForegroundPlan {
    /// Indexes (into the dependents given) to delete, with their policy: dependents with dependents
    /// of their own are deleted in foreground too.
    pub delete: Vec<(usize, Propagation)>,
    /// How many dependents still block the owner (`blockOwnerDeletion: true`).
    pub blocking: usize,
    /// Whether the `foregroundDeletion` finalizer can be removed now (no blocking dependent left).
    pub remove_finalizer: bool,
}

/// Plans the foreground deletion of `owner` given its current dependents (B.17). Dependents already
/// being deleted are not deleted again but still block until they are gone.
pub fn foreground_plan(owner: &ObjectMeta, dependents: &[Dependent<'_>]) -> ForegroundPlan {
    let uid = owner.uid.as_deref().unwrap_or_default();
    let mut delete = Vec::new();
    let mut blocking = 0;
    for (i, dep) in dependents.iter().enumerate() {
        let refs = dep.meta.owner_references.as_deref().unwrap_or_default();
        let Some(r) = refs.iter().find(|r| r.uid == uid) else {
            continue;
        };
        if r.block_owner_deletion == Some(true) {
            blocking += 1;
        }
        if dep.meta.deletion_timestamp.is_none() {
            let policy = if dep.has_dependents {
                Propagation::Foreground
            } else {
                own_propagation(dep.meta)
            };
            delete.push((i, policy));
        }
    }
    ForegroundPlan {
        delete,
        blocking,
        remove_finalizer: blocking == 0 && has_finalizer(owner, FOREGROUND_FINALIZER),
    }
}

/// Plans the orphaning of `owner`'s dependents (B.18): for each dependent that references the owner,
/// its index and its ownerReferences without the owner. When every such dependent has been written,
/// drop the `orphan` finalizer with [`without_finalizer`]; the store then removes the owner.
pub fn orphan_plan(owner: &ObjectMeta, dependents: &[&ObjectMeta]) -> Vec<(usize, Vec<OwnerReference>)> {
    let uid = owner.uid.as_deref().unwrap_or_default();
    dependents
        .iter()
        .enumerate()
        .filter_map(|(i, meta)| {
            let refs = meta.owner_references.as_deref().unwrap_or_default();
            refs.iter()
                .any(|r| r.uid == uid)
                .then(|| (i, refs.iter().filter(|r| r.uid != uid).cloned().collect()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::util::new_controller_ref;
    use crate::util::testing::{meta, ts};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    fn owned_by(name: &str, owners: &[&ObjectMeta]) -> ObjectMeta {
        let mut m = meta(name, &format!("uid-{name}"));
        m.owner_references = Some(
            owners
                .iter()
                .map(|o| new_controller_ref("apps/v1", "ReplicaSet", o))
                .collect(),
        );
        m
    }

    fn state_of(present: &[&str], waiting: &[&str]) -> impl Fn(&OwnerReference) -> OwnerState {
        let present: Vec<String> = present.iter().map(|s| (*s).to_owned()).collect();
        let waiting: Vec<String> = waiting.iter().map(|s| (*s).to_owned()).collect();
        move |r: &OwnerReference| {
            if waiting.contains(&r.uid) {
                OwnerState::DeletingForeground
            } else if present.contains(&r.uid) {
                OwnerState::Present
            } else {
                OwnerState::Absent
            }
        }
    }

    #[test]
    fn b15_dependent_whose_owners_are_all_gone_is_deleted() {
        let (a, b) = (meta("a", "ua"), meta("b", "ub"));
        let pod = owned_by("p", &[&a, &b]);
        assert_eq!(
            decide_dependent(&pod, state_of(&[], &[]), false),
            GcAction::Delete(Propagation::Background)
        );
        assert_eq!(
            decide_dependent(&pod, state_of(&["ua", "ub"], &[]), false),
            GcAction::Keep
        );
    }

    #[test]
    fn b15_a_remaining_owner_keeps_the_dependent_and_dangling_refs_are_dropped() {
        let (a, b) = (meta("a", "ua"), meta("b", "ub"));
        let pod = owned_by("p", &[&a, &b]);
        let GcAction::SetOwnerRefs(refs) = decide_dependent(&pod, state_of(&["ub"], &[]), false) else {
            panic!("expected the dangling reference to be removed");
        };
        assert_eq!(refs.iter().map(|r| r.uid.as_str()).collect::<Vec<_>>(), vec!["ub"]);
    }

    #[test]
    fn b15_objects_without_owners_or_already_deleting_are_kept() {
        assert_eq!(
            decide_dependent(&meta("x", "ux"), state_of(&[], &[]), false),
            GcAction::Keep
        );
        let mut pod = owned_by("p", &[&meta("a", "ua")]);
        pod.deletion_timestamp = Some(Time(ts(1)));
        assert_eq!(decide_dependent(&pod, state_of(&[], &[]), false), GcAction::Keep);
    }

    #[test]
    fn b17_dependent_of_a_waiting_owner_with_children_is_deleted_in_foreground() {
        let d = meta("d", "ud");
        let rs = owned_by("rs", &[&d]);
        assert_eq!(
            decide_dependent(&rs, state_of(&[], &["ud"]), true),
            GcAction::Delete(Propagation::Foreground)
        );
        assert_eq!(
            decide_dependent(&rs, state_of(&[], &["ud"]), false),
            GcAction::Delete(Propagation::Background)
        );
    }

    #[test]
    fn b17_owner_finalizer_goes_only_when_no_blocking_dependent_is_left() {
        let mut d = meta("d", "ud");
        d.deletion_timestamp = Some(Time(ts(0)));
        d.finalizers = Some(vec![FOREGROUND_FINALIZER.into()]);
        let rs1 = owned_by("rs1", &[&d]);
        let mut rs2 = owned_by("rs2", &[&d]);
        rs2.deletion_timestamp = Some(Time(ts(1)));
        let mut loose = owned_by("loose", &[&d]);
        if let Some(r) = loose.owner_references.as_mut() {
            r[0].block_owner_deletion = Some(false);
        }
        let deps = [
            Dependent {
                meta: &rs1,
                has_dependents: true,
            },
            Dependent {
                meta: &rs2,
                has_dependents: true,
            },
            Dependent {
                meta: &loose,
                has_dependents: false,
            },
        ];
        let plan = foreground_plan(&d, &deps);
        assert_eq!(
            plan.delete,
            vec![(0, Propagation::Foreground), (2, Propagation::Background)]
        );
        assert_eq!(plan.blocking, 2);
        assert!(!plan.remove_finalizer);
        let done = foreground_plan(
            &d,
            &[Dependent {
                meta: &loose,
                has_dependents: false,
            }],
        );
        assert!(
            done.remove_finalizer,
            "a non-blocking dependent does not hold the owner"
        );
        assert!(foreground_plan(&d, &[]).remove_finalizer);
    }

    #[test]
    fn b18_orphaning_removes_only_the_owners_reference() {
        let mut d = meta("d", "ud");
        d.finalizers = Some(vec![ORPHAN_FINALIZER.into(), "example.com/keep".into()]);
        let other = meta("o", "uo");
        let both = owned_by("both", &[&d, &other]);
        let unrelated = owned_by("un", &[&other]);
        let plan = orphan_plan(&d, &[&unrelated, &both]);
        assert_eq!(plan.len(), 1);
        assert_eq!(plan[0].0, 1);
        assert_eq!(plan[0].1.iter().map(|r| r.uid.as_str()).collect::<Vec<_>>(), vec!["uo"]);
        assert_eq!(
            without_finalizer(&d, ORPHAN_FINALIZER),
            Some(vec!["example.com/keep".to_owned()])
        );
        assert_eq!(without_finalizer(&other, ORPHAN_FINALIZER), None);
    }

    #[test]
    fn b18_dependents_own_finalizers_pick_their_policy() {
        let mut m = owned_by("rs", &[&meta("d", "ud")]);
        m.finalizers = Some(vec![ORPHAN_FINALIZER.into()]);
        assert_eq!(
            decide_dependent(&m, state_of(&[], &[]), true),
            GcAction::Delete(Propagation::Orphan)
        );
        assert_eq!(Propagation::Orphan.as_str(), "Orphan");
    }
}
