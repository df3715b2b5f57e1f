//! Claiming (spec B.12–B.14): which candidate objects a controller owns, adopts, releases or ignores.
//!
//! Both controllers use it: the ReplicaSet claims Pods, the Deployment claims ReplicaSets (B.13).
//! [`claim`] is pure; it returns the objects to patch, already patched, so a reconciler only writes them.
//!
//! # Expected flow
//! 1. List every candidate in the owner's namespace (from the cache).
//! 2. Call [`claim`] with the owner's metadata and its parsed selector.
//! 3. If [`Claim::adopt`] is non-empty, re-read the owner from the store and check that its UID is the
//!    same and that it has no `deletionTimestamp` (B.12) before writing any adoption.
//! 4. Write each adoption and release; an adopted object that was written counts as owned.

use capstan_core::{LabelSelector, Resource};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};

use crate::util::controller_ref;

/// The outcome of claiming a list of candidates for one owner.
#[derive(Debug)]
pub struct Claim<'a, K> {
    /// Objects the owner already controls and whose labels still match: count and manage these.
    pub owned: Vec<&'a K>,
    /// Orphans that match, with the ControllerRef added (B.12, B.14): write these, then count them.
    pub adopt: Vec<K>,
    /// Objects the owner controls that no longer match, with our ownerRef removed: write these.
    pub release: Vec<K>,
    /// How many candidates were skipped (another controller's, or not matching, or not adoptable).
    pub ignored: usize,
}

impl<K> Claim<'_, K> {
    /// Whether any adoption was decided, so the owner must be re-read from the store first (B.12).
    pub fn needs_owner_recheck(&self) -> bool {
        !self.adopt.is_empty()
    }
}

/// Claims `candidates` for the owner described by `owner` (its metadata) and `owner_ref` (the
/// ControllerRef to write on adoption, see [`crate::util::new_controller_ref`]).
///
/// Rules (B.12): an object controlled by another UID is ignored; ours and matching is owned; ours and
/// not matching is released unless the owner is being deleted; a matching orphan is adopted unless the
/// owner or the orphan has a `deletionTimestamp`. Adoption keeps foreign non-controller ownerRefs and
/// turns an existing `controller: false` reference to the owner into the ControllerRef (B.14).
pub fn claim<'a, K: Resource>(
    owner: &ObjectMeta,
    owner_ref: &OwnerReference,
    selector: &LabelSelector,
    candidates: &'a [K],
) -> Claim<'a, K> {
    let owner_uid = owner.uid.as_deref().unwrap_or_default();
    let owner_deleting = owner.deletion_timestamp.is_some();
    let mut out = Claim {
        owned: Vec::new(),
        adopt: Vec::new(),
        release: Vec::new(),
        ignored: 0,
    };
    for obj in candidates {
        let meta = obj.meta();
        let matches = selector.matches(&meta.labels.clone().unwrap_or_default());
        match controller_ref(meta) {
            Some(r) if r.uid != owner_uid => out.ignored += 1,
            Some(_) if matches => out.owned.push(obj),
            Some(_) if owner_deleting => out.ignored += 1,
            Some(_) => {
                let mut released = obj.clone();
                remove_owner_ref(released.meta_mut(), owner_uid);
                out.release.push(released);
            }
            None if matches && !owner_deleting && meta.deletion_timestamp.is_none() => {
                let mut adopted = obj.clone();
                add_controller_ref(adopted.meta_mut(), owner_ref);
                out.adopt.push(adopted);
            }
            None => out.ignored += 1,
        }
    }
    out
}

/// Removes every ownerRef with this UID; returns whether any was removed.
pub fn remove_owner_ref(meta: &mut ObjectMeta, owner_uid: &str) -> bool {
    let Some(refs) = meta.owner_references.as_mut() else {
        return false;
    };
    let before = refs.len();
    refs.retain(|r| r.uid != owner_uid);
    let removed = refs.len() != before;
    if refs.is_empty() {
        meta.owner_references = None;
    }
    removed
}

/// Makes `owner_ref` the object's ControllerRef: an existing reference with the same UID is upgraded to
/// `controller: true, blockOwnerDeletion: true`; other references are kept (B.14).
pub fn add_controller_ref(meta: &mut ObjectMeta, owner_ref: &OwnerReference) {
    let refs = meta.owner_references.get_or_insert_with(Vec::new);
    if let Some(existing) = refs.iter_mut().find(|r| r.uid == owner_ref.uid) {
        existing.controller = Some(true);
        existing.block_owner_deletion = Some(true);
    } else {
        let mut r = owner_ref.clone();
        r.controller = Some(true);
        r.block_owner_deletion = Some(true);
        refs.push(r);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::util::new_controller_ref;
    use crate::util::testing::{meta, pod, ts};
    use k8s_openapi::api::core::v1::Pod;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector as K8sSelector, Time};
    use std::collections::BTreeMap;

    fn selector() -> LabelSelector {
        let sel = K8sSelector {
            match_labels: Some(BTreeMap::from([("app".to_owned(), "web".to_owned())])),
            ..K8sSelector::default()
        };
        LabelSelector::from_k8s(&sel).unwrap_or_default()
    }

    fn labelled(name: &str, app: &str, owner: Option<OwnerReference>) -> Pod {
        let mut p = pod(name, "Running", None);
        p.metadata.labels = Some(BTreeMap::from([("app".to_owned(), app.to_owned())]));
        p.metadata.owner_references = owner.map(|o| vec![o]);
        p
    }

    fn owner() -> (ObjectMeta, OwnerReference) {
        let m = meta("rs", "owner-uid");
        let r = new_controller_ref("apps/v1", "ReplicaSet", &m);
        (m, r)
    }

    #[test]
    fn b12_other_controllers_objects_are_ignored_even_when_matching() {
        let (m, r) = owner();
        let foreign = new_controller_ref("apps/v1", "ReplicaSet", &meta("other", "other-uid"));
        let pods = vec![labelled("a", "web", Some(foreign))];
        let c = claim(&m, &r, &selector(), &pods);
        assert!(c.owned.is_empty() && c.adopt.is_empty() && c.release.is_empty());
        assert_eq!(c.ignored, 1);
    }

    #[test]
    fn b12_ours_and_matching_is_owned_ours_not_matching_is_released() {
        let (m, r) = owner();
        let pods = vec![
            labelled("a", "web", Some(r.clone())),
            labelled("b", "db", Some(r.clone())),
        ];
        let c = claim(&m, &r, &selector(), &pods);
        assert_eq!(c.owned.len(), 1);
        assert_eq!(c.release.len(), 1);
        assert!(
            c.release[0].metadata.owner_references.is_none(),
            "our ref is removed on release"
        );
    }

    #[test]
    fn b12_owner_being_deleted_neither_releases_nor_adopts() {
        let (mut m, r) = owner();
        m.deletion_timestamp = Some(Time(ts(5)));
        let pods = vec![labelled("a", "db", Some(r.clone())), labelled("b", "web", None)];
        let c = claim(&m, &r, &selector(), &pods);
        assert!(c.release.is_empty() && c.adopt.is_empty());
        assert_eq!(c.ignored, 2);
    }

    #[test]
    fn b12_matching_orphans_are_adopted_unless_deleting() {
        let (m, r) = owner();
        let mut dying = labelled("b", "web", None);
        dying.metadata.deletion_timestamp = Some(Time(ts(1)));
        let pods = vec![labelled("a", "web", None), dying, labelled("c", "db", None)];
        let c = claim(&m, &r, &selector(), &pods);
        assert_eq!(c.adopt.len(), 1);
        assert!(c.needs_owner_recheck());
        let refs = c.adopt[0].metadata.owner_references.clone().unwrap_or_default();
        assert_eq!(refs, vec![r]);
        assert_eq!(c.ignored, 2);
    }

    #[test]
    fn b14_adoption_upgrades_a_non_controller_ref_and_keeps_foreign_refs() {
        let (m, r) = owner();
        let mut weak = r.clone();
        weak.controller = Some(false);
        let foreign = OwnerReference {
            api_version: "v1".into(),
            kind: "ConfigMap".into(),
            name: "cm".into(),
            uid: "cm-uid".into(),
            ..OwnerReference::default()
        };
        let mut p = labelled("a", "web", None);
        p.metadata.owner_references = Some(vec![foreign.clone(), weak]);
        let pods = vec![p, labelled("b", "web", Some(foreign.clone()))];
        let c = claim(&m, &r, &selector(), &pods);
        assert_eq!(c.adopt.len(), 2);
        let first = c.adopt[0].metadata.owner_references.clone().unwrap_or_default();
        assert_eq!(first.len(), 2, "no duplicate reference to the owner");
        assert_eq!(first[1].controller, Some(true));
        let second = c.adopt[1].metadata.owner_references.clone().unwrap_or_default();
        assert_eq!(second, vec![foreign, r]);
    }
}
