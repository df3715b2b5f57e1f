//! Cleanup of old ReplicaSets beyond `revisionHistoryLimit` (G.51).

use std::cmp::Ordering;

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};

use crate::deployment::fields::{by_creation, revision_history_limit, rs_replicas, rs_status_replicas};
use crate::deployment::revisions::revision;

/// Lowest revision first, ties by creationTimestamp (then name).
pub fn by_revision(a: &ReplicaSet, b: &ReplicaSet) -> Ordering {
    revision(&a.metadata)
        .cmp(&revision(&b.metadata))
        .then_with(|| by_creation(a, b))
}

/// The old RSs to delete (G.51). Of the old RSs without a `deletionTimestamp`, the `n − limit` with the
/// lowest revisions are considered; among those, an RS with `spec.replicas ≠ 0`, `status.replicas ≠ 0`
/// or `generation > status.observedGeneration` is kept. A limit of nil or MaxInt32 keeps everything.
/// Call it when the rollout is complete or in the paused sync.
pub fn replica_sets_to_delete<'a>(d: &Deployment, old: &[&'a ReplicaSet]) -> Vec<&'a ReplicaSet> {
    let Some(limit) = revision_history_limit(d) else {
        return Vec::new();
    };
    let mut cleanable: Vec<&'a ReplicaSet> = old
        .iter()
        .copied()
        .filter(|rs| rs.metadata.deletion_timestamp.is_none())
        .collect();
    let excess = cleanable
        .len()
        .saturating_sub(usize::try_from(limit.max(0)).unwrap_or(0));
    if excess == 0 {
        return Vec::new();
    }
    cleanable.sort_by(|a, b| by_revision(a, b));
    cleanable
        .into_iter()
        .take(excess)
        .filter(|rs| {
            let observed = rs.status.as_ref().and_then(|s| s.observed_generation).unwrap_or(0);
            rs_replicas(rs) == 0 && rs_status_replicas(rs) == 0 && rs.metadata.generation.unwrap_or(0) <= observed
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deployment::fields::testing::{deploy, rs};
    use crate::util::testing::ts;
    use crate::util::{REVISION_ANNOTATION, set_annotation};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
    use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

    fn old(name: &str, rev: i64, spec: i32) -> ReplicaSet {
        let mut r = rs(name, 10 - rev, spec, spec);
        set_annotation(&mut r.metadata, REVISION_ANNOTATION, &rev.to_string());
        r
    }

    fn with_limit(limit: Option<i32>) -> Deployment {
        let mut d = deploy(1, IntOrString::Int(1), IntOrString::Int(0));
        if let Some(s) = d.spec.as_mut() {
            s.revision_history_limit = limit;
        }
        d
    }

    fn names(v: Vec<&ReplicaSet>) -> Vec<String> {
        v.into_iter().filter_map(|r| r.metadata.name.clone()).collect()
    }

    #[test]
    fn g51_lowest_revisions_beyond_the_limit_are_deleted() {
        let (a, b, c) = (old("a", 1, 0), old("b", 3, 0), old("c", 2, 0));
        assert_eq!(
            names(replica_sets_to_delete(&with_limit(Some(1)), &[&b, &a, &c])),
            vec!["a", "c"]
        );
        assert_eq!(
            names(replica_sets_to_delete(&with_limit(Some(0)), &[&b, &a, &c])),
            vec!["a", "c", "b"]
        );
        assert!(replica_sets_to_delete(&with_limit(Some(3)), &[&a, &b, &c]).is_empty());
    }

    #[test]
    fn g51_nil_or_max_int32_keeps_everything() {
        let a = old("a", 1, 0);
        assert!(replica_sets_to_delete(&with_limit(None), &[&a]).is_empty());
        assert!(replica_sets_to_delete(&with_limit(Some(i32::MAX)), &[&a]).is_empty());
    }

    #[test]
    fn g51_busy_or_unobserved_rss_are_skipped_but_still_count() {
        let busy = old("busy", 1, 2);
        let mut unobserved = old("unobserved", 2, 0);
        unobserved.metadata.generation = Some(3);
        let newer = old("newer", 3, 0);
        // limit 1: excess 2 = busy and unobserved, both skipped; newer is within the limit.
        assert!(replica_sets_to_delete(&with_limit(Some(1)), &[&busy, &unobserved, &newer]).is_empty());
    }

    #[test]
    fn g51_rss_being_deleted_are_not_considered() {
        let mut dying = old("dying", 1, 0);
        dying.metadata.deletion_timestamp = Some(Time(ts(1)));
        let a = old("a", 2, 0);
        assert!(replica_sets_to_delete(&with_limit(Some(1)), &[&dying, &a]).is_empty());
    }
}
