//! New RS versus old RSs (D.31), the new RS itself (D.32–D.34), revisions and revision history
//! (D.35), replica annotations (D.36) and hash collisions (D.37).

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet, ReplicaSetSpec};
use k8s_openapi::api::core::v1::PodTemplateSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::Error;
use crate::deployment::fields::{
    by_creation, desired_replicas_annotation, max_replicas_annotation, min_ready_seconds, replicas, rs_template,
};
use crate::deployment::hash::{pod_template_hash, semantic_json};
use crate::deployment::math::{max_surge, new_rs_new_replicas};
use crate::util::{
    DESIRED_REPLICAS_ANNOTATION, LAST_APPLIED_ANNOTATION, MAX_REPLICAS_ANNOTATION, POD_TEMPLATE_HASH_LABEL,
    REVISION_ANNOTATION, REVISION_HISTORY_ANNOTATION, ROLLBACK_TO_ANNOTATION, annotation, controller_ref,
    new_controller_ref, set_annotation,
};

/// The longest `revision-history` annotation kept, in characters (D.35).
pub const MAX_REVISION_HISTORY_CHARS: usize = 2000;

/// Deployment annotations never copied to its RSs (D.34) and kept by a rollback (G.49).
pub const SKIPPED_ANNOTATIONS: [&str; 6] = [
    LAST_APPLIED_ANNOTATION,
    REVISION_ANNOTATION,
    REVISION_HISTORY_ANNOTATION,
    DESIRED_REPLICAS_ANNOTATION,
    MAX_REPLICAS_ANNOTATION,
    ROLLBACK_TO_ANNOTATION,
];

/// Whether an annotation key is on the skip-list of D.34.
pub fn is_skipped_annotation(key: &str) -> bool {
    SKIPPED_ANNOTATIONS.contains(&key)
}

/// `template` without the `pod-template-hash` label.
pub fn without_hash(template: &PodTemplateSpec) -> PodTemplateSpec {
    let mut t = template.clone();
    if let Some(labels) = t.metadata.as_mut().and_then(|m| m.labels.as_mut()) {
        labels.remove(POD_TEMPLATE_HASH_LABEL);
    }
    if let Some(m) = t.metadata.as_mut()
        && m.labels.as_ref().is_some_and(BTreeMap::is_empty)
    {
        m.labels = None;
    }
    t
}

/// Whether two templates are equal when the `pod-template-hash` label is ignored (D.31), compared
/// semantically as Kubernetes does ([`semantic_json`]: `resources: {}` equals no `resources`).
pub fn equal_ignore_hash(a: &PodTemplateSpec, b: &PodTemplateSpec) -> bool {
    let (a, b) = (without_hash(a), without_hash(b));
    match (semantic_json(&a), semantic_json(&b)) {
        (Ok(x), Ok(y)) => x == y,
        _ => a == b,
    }
}

/// The new RS (D.31): the oldest RS (by creationTimestamp, then name) whose template equals the
/// Deployment's, ignoring the hash label. `owned` are the RSs the Deployment claimed.
pub fn find_new_rs<'a>(d: &Deployment, owned: &[&'a ReplicaSet]) -> Option<&'a ReplicaSet> {
    let template = &d.spec.as_ref()?.template;
    let mut sorted = owned.to_vec();
    sorted.sort_by(|a, b| by_creation(a, b));
    sorted
        .into_iter()
        .find(|rs| rs_template(rs).is_some_and(|t| equal_ignore_hash(t, template)))
}

/// Splits the owned RSs into the new RS (D.31) and the old RSs (every other one), old sorted oldest first.
pub fn split_new_and_old<'a>(
    d: &Deployment,
    owned: &[&'a ReplicaSet],
) -> (Option<&'a ReplicaSet>, Vec<&'a ReplicaSet>) {
    let new_rs = find_new_rs(d, owned);
    let mut old: Vec<&ReplicaSet> = owned
        .iter()
        .copied()
        .filter(|rs| !new_rs.is_some_and(|n| std::ptr::eq(*rs, n)))
        .collect();
    old.sort_by(|a, b| by_creation(a, b));
    (new_rs, old)
}

/// An object's `deployment.kubernetes.io/revision`; missing or unparsable counts as 0 (D.35).
pub fn revision(meta: &ObjectMeta) -> i64 {
    annotation(meta, REVISION_ANNOTATION)
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// The highest revision among `rss` (0 if none).
pub fn max_revision(rss: &[&ReplicaSet]) -> i64 {
    rss.iter().map(|rs| revision(&rs.metadata)).max().unwrap_or(0)
}

/// The revision before the highest one: what "rollback to revision 0" targets (G.49).
pub fn last_revision(rss: &[&ReplicaSet]) -> i64 {
    let (mut max, mut second) = (0i64, 0i64);
    for rs in rss {
        let v = revision(&rs.metadata);
        if v >= max {
            second = max;
            max = v;
        } else if v > second {
            second = v;
        }
    }
    second
}

/// Copies the Deployment's annotations onto the RS, except the skip-list (D.34); returns whether
/// anything changed.
pub fn copy_deployment_annotations(d: &Deployment, rs: &mut ReplicaSet) -> bool {
    let mut changed = false;
    for (k, v) in d.metadata.annotations.iter().flatten() {
        if !is_skipped_annotation(k) {
            changed |= set_annotation(&mut rs.metadata, k, v);
        }
    }
    changed
}

/// Appends `old` to a comma-separated revision history, dropping the oldest entries so the result
/// stays within [`MAX_REVISION_HISTORY_CHARS`] (D.35).
pub fn append_revision_history(history: Option<&str>, old: &str) -> String {
    let mut entries: Vec<&str> = history.unwrap_or("").split(',').filter(|e| !e.is_empty()).collect();
    entries.push(old);
    while entries.len() > 1 && entries.join(",").len() > MAX_REVISION_HISTORY_CHARS {
        entries.remove(0);
    }
    entries.join(",")
}

/// Sets the replica annotations of D.36; returns whether either changed.
pub fn set_replicas_annotations(rs: &mut ReplicaSet, desired: i32, max: i32) -> bool {
    let a = set_annotation(&mut rs.metadata, DESIRED_REPLICAS_ANNOTATION, &desired.to_string());
    let b = set_annotation(&mut rs.metadata, MAX_REPLICAS_ANNOTATION, &max.to_string());
    a | b
}

/// Whether the replica annotations of D.36 differ from `desired` and `max`.
pub fn replicas_annotations_need_update(rs: &ReplicaSet, desired: i32, max: i32) -> bool {
    desired_replicas_annotation(rs) != Some(desired) || max_replicas_annotation(rs) != Some(max)
}

/// Brings the new RS's annotations up to date (D.34, D.35): copies the Deployment's annotations,
/// raises the revision to `new_revision` (never lowers it), and when the RS already had a revision
/// appends that to the revision history. When `exists` is false (the RS is about to be created) the
/// replica annotations are set too. Returns whether anything changed.
pub fn set_new_rs_annotations(
    d: &Deployment,
    rs: &mut ReplicaSet,
    new_revision: i64,
    exists: bool,
) -> Result<bool, Error> {
    let mut changed = copy_deployment_annotations(d, rs);
    let old_raw = annotation(&rs.metadata, REVISION_ANNOTATION).map(str::to_owned);
    let old = old_raw.as_deref().and_then(|v| v.parse::<i64>().ok()).unwrap_or(0);
    if old < new_revision {
        changed |= set_annotation(&mut rs.metadata, REVISION_ANNOTATION, &new_revision.to_string());
        if let Some(previous) = old_raw.filter(|v| !v.is_empty()) {
            let history = append_revision_history(annotation(&rs.metadata, REVISION_HISTORY_ANNOTATION), &previous);
            changed |= set_annotation(&mut rs.metadata, REVISION_HISTORY_ANNOTATION, &history);
        }
    }
    if !exists {
        let want = replicas(d);
        changed |= set_replicas_annotations(rs, want, want.saturating_add(max_surge(d)?));
    }
    Ok(changed)
}

/// Sets the Deployment's revision annotation to the new RS's (D.35); returns whether it changed.
pub fn set_deployment_revision(d: &mut Deployment, revision: &str) -> bool {
    set_annotation(&mut d.metadata, REVISION_ANNOTATION, revision)
}

/// The new RS to create for `d` (D.32–D.35): named `<deploy>-<hash>`, the hash label on its labels,
/// selector and template, a ControllerRef to the Deployment, `minReadySeconds` copied, revision
/// `max(old revisions) + 1`, and `replicas` from [`new_rs_new_replicas`] (Recreate: `replicas`).
pub fn new_replica_set(d: &Deployment, old: &[&ReplicaSet]) -> Result<ReplicaSet, Error> {
    let name = d.metadata.name.clone().unwrap_or_default();
    let missing = |field| Error::MissingField {
        kind: "Deployment",
        name: name.clone(),
        field,
    };
    let spec = d.spec.as_ref().ok_or_else(|| missing("spec"))?;
    let collision = d.status.as_ref().and_then(|s| s.collision_count);
    let hash = pod_template_hash(&spec.template, collision)?;
    let mut template = spec.template.clone();
    template
        .metadata
        .get_or_insert_with(ObjectMeta::default)
        .labels
        .get_or_insert_with(BTreeMap::new)
        .insert(POD_TEMPLATE_HASH_LABEL.to_owned(), hash.clone());
    let mut selector = spec.selector.clone();
    selector
        .match_labels
        .get_or_insert_with(BTreeMap::new)
        .insert(POD_TEMPLATE_HASH_LABEL.to_owned(), hash.clone());
    let labels = template.metadata.as_ref().and_then(|m| m.labels.clone());
    let mut rs = ReplicaSet {
        metadata: ObjectMeta {
            name: Some(format!("{name}-{hash}")),
            namespace: d.metadata.namespace.clone(),
            labels,
            owner_references: Some(vec![new_controller_ref("apps/v1", "Deployment", &d.metadata)]),
            ..ObjectMeta::default()
        },
        spec: Some(ReplicaSetSpec {
            replicas: Some(0),
            min_ready_seconds: Some(min_ready_seconds(d)),
            selector,
            template: Some(template),
        }),
        status: None,
    };
    let mut all: Vec<&ReplicaSet> = old.to_vec();
    let zero = rs.clone();
    all.push(&zero);
    let size = new_rs_new_replicas(d, &all, &zero)?;
    if let Some(s) = rs.spec.as_mut() {
        s.replicas = Some(size);
    }
    set_new_rs_annotations(d, &mut rs, max_revision(old) + 1, false)?;
    Ok(rs)
}

/// The existing new RS brought in line (D.34–D.36): annotations re-copied, revision raised to
/// `max(old revisions) + 1`, `minReadySeconds` matched. `None` when nothing changed.
pub fn sync_existing_new_rs(d: &Deployment, rs: &ReplicaSet, old: &[&ReplicaSet]) -> Result<Option<ReplicaSet>, Error> {
    let mut copy = rs.clone();
    let mut changed = set_new_rs_annotations(d, &mut copy, max_revision(old) + 1, true)?;
    let want = min_ready_seconds(d);
    if let Some(s) = copy.spec.as_mut()
        && s.min_ready_seconds.unwrap_or(0) != want
    {
        s.min_ready_seconds = Some(want);
        changed = true;
    }
    Ok(changed.then_some(copy))
}

/// `rs` scaled to `size` with its replica annotations refreshed (D.36); `None` when neither changed.
pub fn scaled_replica_set(d: &Deployment, rs: &ReplicaSet, size: i32) -> Result<Option<ReplicaSet>, Error> {
    let want = replicas(d);
    let max = want.saturating_add(max_surge(d)?);
    let size_changed = rs.spec.as_ref().and_then(|s| s.replicas) != Some(size);
    if !size_changed && !replicas_annotations_need_update(rs, want, max) {
        return Ok(None);
    }
    let mut copy = rs.clone();
    copy.spec.get_or_insert_with(ReplicaSetSpec::default).replicas = Some(size);
    set_replicas_annotations(&mut copy, want, max);
    Ok(Some(copy))
}

/// What to do when creating the new RS failed with AlreadyExists (D.37).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Collision {
    /// The existing RS is ours and has an equal template: use it as the new RS.
    AdoptExisting,
    /// A real collision: write this `status.collisionCount`, return an error and requeue.
    BumpCollisionCount(i32),
}

/// Decides a hash collision against the RS that already has the new RS's name (D.37).
pub fn on_already_exists(d: &Deployment, existing: &ReplicaSet) -> Collision {
    let ours = controller_ref(&existing.metadata).is_some_and(|r| Some(&r.uid) == d.metadata.uid.as_ref());
    let same = match (d.spec.as_ref(), rs_template(existing)) {
        (Some(s), Some(t)) => equal_ignore_hash(&s.template, t),
        _ => false,
    };
    if ours && same {
        Collision::AdoptExisting
    } else {
        let current = d.status.as_ref().and_then(|s| s.collision_count).unwrap_or(0);
        Collision::BumpCollisionCount(current.saturating_add(1))
    }
}

#[cfg(test)]
#[path = "revisions_tests.rs"]
mod tests;
