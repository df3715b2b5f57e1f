//! Which pods a ReplicaSet deletes first when it scales down (spec C.25).
//!
//! Each pod gets a [`DeletionRank`] key; keys compare rule by rule, the first rule that differs
//! decides, and a final tie-break on name and UID makes the order total and deterministic.

use std::cmp::Reverse;
use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::jiff::Timestamp;

use crate::util::{
    PHASE_PENDING, PHASE_RUNNING, PHASE_UNKNOWN, POD_DELETION_COST_ANNOTATION, annotation, is_pod_active, is_pod_ready,
    pod_phase, ready_since,
};

/// The sort key of one pod for scale-down: smaller keys are deleted first.
///
/// Fields in rule order (C.25): 1. scheduled (unscheduled first); 2. phase (Pending, Unknown, Running);
/// 3. ready (not ready first); 4. `pod-deletion-cost` (lower first); 5. active siblings on the same node
/// (more first); 6. ready since (more recently first, only among ready pods); 7. max restart count
/// (higher first); 8. creation time (newer first); then name and UID.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct DeletionRank {
    /// Rule 1: whether `spec.nodeName` is set.
    pub scheduled: bool,
    /// Rule 2: Pending 0, Unknown 1, Running 2 (any other phase counts as Pending).
    pub phase: u8,
    /// Rule 3: whether the pod is Ready.
    pub ready: bool,
    /// Rule 4: the `controller.kubernetes.io/pod-deletion-cost` annotation (0 when missing or invalid).
    pub deletion_cost: i32,
    /// Rule 5: active sibling pods on the same node (reversed: more first).
    pub siblings_on_node: Reverse<usize>,
    /// Rule 6: when the pod became Ready, reversed; `None` for pods that are not Ready. A Ready pod
    /// without a transition time counts as the most recent.
    pub ready_since: Option<Reverse<Timestamp>>,
    /// Rule 7: the highest `restartCount` among its containers (reversed: more first).
    pub max_restarts: Reverse<i32>,
    /// Rule 8: creation time, reversed (newer first); a missing time counts as newest.
    pub created: Reverse<Timestamp>,
    /// Tie-break: name.
    pub name: String,
    /// Tie-break: UID.
    pub uid: String,
}

/// Counts the active pods among `related` on each node (for rule 5). `related` is every pod of the
/// same owner, usually all pods of the RSs of one Deployment, or of the RS itself.
pub fn active_pods_per_node<'a>(related: impl IntoIterator<Item = &'a Pod>) -> BTreeMap<String, usize> {
    let mut map = BTreeMap::new();
    for pod in related {
        if !is_pod_active(pod) {
            continue;
        }
        if let Some(node) = pod
            .spec
            .as_ref()
            .and_then(|s| s.node_name.as_deref())
            .filter(|n| !n.is_empty())
        {
            *map.entry(node.to_owned()).or_insert(0) += 1;
        }
    }
    map
}

/// The rank of one pod, given the per-node sibling counts from [`active_pods_per_node`].
pub fn deletion_rank(pod: &Pod, per_node: &BTreeMap<String, usize>) -> DeletionRank {
    let node = pod.spec.as_ref().and_then(|s| s.node_name.as_deref()).unwrap_or("");
    let phase = match pod_phase(pod) {
        PHASE_PENDING => 0,
        PHASE_UNKNOWN => 1,
        PHASE_RUNNING => 2,
        _ => 0,
    };
    let ready = is_pod_ready(pod);
    let deletion_cost = annotation(&pod.metadata, POD_DELETION_COST_ANNOTATION)
        .and_then(|v| v.trim().parse::<i32>().ok())
        .unwrap_or(0);
    let siblings = if node.is_empty() {
        0
    } else {
        per_node.get(node).copied().unwrap_or(0)
    };
    let max_restarts = pod
        .status
        .as_ref()
        .and_then(|s| s.container_statuses.as_ref())
        .and_then(|cs| cs.iter().map(|c| c.restart_count).max())
        .unwrap_or(0);
    DeletionRank {
        scheduled: !node.is_empty(),
        phase,
        ready,
        deletion_cost,
        siblings_on_node: Reverse(siblings),
        ready_since: ready.then(|| Reverse(ready_since(pod).unwrap_or(Timestamp::MAX))),
        max_restarts: Reverse(max_restarts),
        created: Reverse(
            pod.metadata
                .creation_timestamp
                .as_ref()
                .map(|t| t.0)
                .unwrap_or(Timestamp::MAX),
        ),
        name: pod.metadata.name.clone().unwrap_or_default(),
        uid: pod.metadata.uid.clone().unwrap_or_default(),
    }
}

/// Sorts `candidates` so the pod to delete first comes first (C.25).
pub fn rank_for_deletion<'a>(candidates: &[&'a Pod], related: &[&Pod]) -> Vec<&'a Pod> {
    let per_node = active_pods_per_node(related.iter().copied());
    let mut keyed: Vec<(DeletionRank, &'a Pod)> =
        candidates.iter().map(|p| (deletion_rank(p, &per_node), *p)).collect();
    keyed.sort_by(|a, b| a.0.cmp(&b.0));
    keyed.into_iter().map(|(_, p)| p).collect()
}

/// The `count` pods to delete, chosen from the active `candidates` (C.20, C.25). Inactive pods are
/// never chosen. `related` is as for [`active_pods_per_node`].
pub fn pods_to_delete<'a>(candidates: &[&'a Pod], count: usize, related: &[&Pod]) -> Vec<&'a Pod> {
    let active: Vec<&'a Pod> = candidates.iter().copied().filter(|p| is_pod_active(p)).collect();
    let mut ranked = rank_for_deletion(&active, related);
    ranked.truncate(count);
    ranked
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::util::testing::{pod, ts};
    use k8s_openapi::api::core::v1::{ContainerStatus, PodSpec};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
    use proptest::prelude::*;

    fn on_node(mut p: Pod, node: &str) -> Pod {
        p.spec = Some(PodSpec {
            node_name: Some(node.into()),
            ..PodSpec::default()
        });
        p
    }

    fn first<'a>(a: &'a Pod, b: &'a Pod, related: &[&Pod]) -> String {
        rank_for_deletion(&[a, b], related)[0]
            .metadata
            .name
            .clone()
            .unwrap_or_default()
    }

    #[test]
    fn c25_rule1_unscheduled_before_scheduled() {
        let a = on_node(pod("a", "Pending", None), "n1");
        let b = pod("b", "Running", Some(ts(0)));
        assert_eq!(first(&a, &b, &[]), "b");
    }

    #[test]
    fn c25_rule2_pending_then_unknown_then_running() {
        let p = on_node(pod("p", "Pending", None), "n");
        let u = on_node(pod("u", "Unknown", None), "n");
        let r = on_node(pod("r", "Running", None), "n");
        let order: Vec<_> = rank_for_deletion(&[&r, &u, &p], &[])
            .iter()
            .map(|p| p.metadata.name.clone())
            .collect();
        assert_eq!(order, vec![Some("p".into()), Some("u".into()), Some("r".into())]);
    }

    #[test]
    fn c25_rule3_not_ready_before_ready() {
        let a = on_node(pod("a", "Running", Some(ts(0))), "n");
        let b = on_node(pod("b", "Running", None), "n");
        assert_eq!(first(&a, &b, &[]), "b");
    }

    #[test]
    fn c25_rule4_lower_deletion_cost_first_and_invalid_counts_as_zero() {
        let mut a = on_node(pod("a", "Running", None), "n");
        let mut b = on_node(pod("b", "Running", None), "n");
        a.metadata.annotations = Some([(POD_DELETION_COST_ANNOTATION.to_owned(), "10".to_owned())].into());
        b.metadata.annotations = Some([(POD_DELETION_COST_ANNOTATION.to_owned(), "-5".to_owned())].into());
        assert_eq!(first(&a, &b, &[]), "b");
        b.metadata.annotations = Some([(POD_DELETION_COST_ANNOTATION.to_owned(), "junk".to_owned())].into());
        assert_eq!(first(&a, &b, &[]), "b");
    }

    #[test]
    fn c25_rule5_more_siblings_on_the_same_node_first() {
        let a = on_node(pod("a", "Running", None), "n1");
        let b = on_node(pod("b", "Running", None), "n2");
        let c = on_node(pod("c", "Running", None), "n2");
        assert_eq!(first(&a, &b, &[&a, &b, &c]), "b");
    }

    #[test]
    fn c25_rule6_ready_for_a_shorter_time_first() {
        let a = on_node(pod("a", "Running", Some(ts(0))), "n");
        let b = on_node(pod("b", "Running", Some(ts(50))), "n");
        assert_eq!(first(&a, &b, &[]), "b");
    }

    #[test]
    fn c25_rule7_more_restarts_first() {
        let mut a = on_node(pod("a", "Running", None), "n");
        let b = on_node(pod("b", "Running", None), "n");
        if let Some(s) = a.status.as_mut() {
            s.container_statuses = Some(vec![ContainerStatus {
                restart_count: 3,
                ..Default::default()
            }]);
        }
        assert_eq!(first(&a, &b, &[]), "a");
    }

    #[test]
    fn c25_rule8_newer_first() {
        let a = on_node(pod("a", "Running", None), "n");
        let mut b = on_node(pod("b", "Running", None), "n");
        b.metadata.creation_timestamp = Some(Time(ts(-30)));
        assert_eq!(first(&a, &b, &[]), "a");
    }

    #[test]
    fn c20_inactive_pods_are_never_deleted() {
        let a = on_node(pod("a", "Succeeded", None), "n");
        let b = on_node(pod("b", "Running", Some(ts(0))), "n");
        let chosen = pods_to_delete(&[&a, &b], 2, &[]);
        assert_eq!(chosen.len(), 1);
        assert_eq!(chosen[0].metadata.name.as_deref(), Some("b"));
    }

    fn arb_pod() -> impl Strategy<Value = Pod> {
        (
            0usize..3,
            prop::sample::select(vec!["Pending", "Unknown", "Running"]),
            prop::option::of(0i64..3),
            -2i32..2,
            0i32..3,
            0i64..3,
            "[a-c]{1}",
        )
            .prop_map(|(node, phase, ready, cost, restarts, created, name)| {
                let mut p = pod(&name, phase, ready.map(ts));
                if node > 0 {
                    p = on_node(p, &format!("n{node}"));
                }
                p.metadata.annotations = Some([(POD_DELETION_COST_ANNOTATION.to_owned(), cost.to_string())].into());
                p.metadata.creation_timestamp = Some(Time(ts(created)));
                if let Some(s) = p.status.as_mut() {
                    s.container_statuses = Some(vec![ContainerStatus {
                        restart_count: restarts,
                        ..Default::default()
                    }]);
                }
                p
            })
    }

    proptest! {
        #[test]
        fn c25_ranking_is_a_total_order_consistent_with_each_rule(pods in prop::collection::vec(arb_pod(), 1..8)) {
            let refs: Vec<&Pod> = pods.iter().collect();
            let per_node = active_pods_per_node(refs.iter().copied());
            let ranked = rank_for_deletion(&refs, &refs);
            prop_assert_eq!(ranked.len(), pods.len());
            for w in ranked.windows(2) {
                let (a, b) = (deletion_rank(w[0], &per_node), deletion_rank(w[1], &per_node));
                prop_assert!(a <= b);
                // Rule by rule: the first differing rule orders a before b.
                if a.scheduled != b.scheduled { prop_assert!(!a.scheduled); continue; }
                if a.phase != b.phase { prop_assert!(a.phase < b.phase); continue; }
                if a.ready != b.ready { prop_assert!(!a.ready); continue; }
                if a.deletion_cost != b.deletion_cost { prop_assert!(a.deletion_cost < b.deletion_cost); continue; }
                if a.siblings_on_node != b.siblings_on_node {
                    prop_assert!(a.siblings_on_node.0 > b.siblings_on_node.0);
                    continue;
                }
                if a.ready_since != b.ready_since {
                    let ta = a.ready_since.map(|r| r.0);
                    let tb = b.ready_since.map(|r| r.0);
                    prop_assert!(ta > tb);
                    continue;
                }
                if a.max_restarts != b.max_restarts { prop_assert!(a.max_restarts.0 > b.max_restarts.0); continue; }
                if a.created != b.created { prop_assert!(a.created.0 > b.created.0); }
            }
            // Sorting a shuffled copy gives the same order: the order is total and deterministic.
            let mut rev = refs.clone();
            rev.reverse();
            let again = rank_for_deletion(&rev, &refs);
            let n1: Vec<_> = ranked.iter().map(|p| deletion_rank(p, &per_node)).collect();
            let n2: Vec<_> = again.iter().map(|p| deletion_rank(p, &per_node)).collect();
            prop_assert_eq!(n1, n2);
        }
    }
}
