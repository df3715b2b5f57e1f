//! ReplicaSet status (C.26), its `ReplicaFailure` condition (C.27) and when to look again (C.28).

use std::time::Duration;

use k8s_openapi::api::apps::v1::{ReplicaSet, ReplicaSetCondition, ReplicaSetStatus};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;

use crate::replicaset::logic::spec_replicas;
use crate::util::{is_pod_active, is_pod_available, is_pod_ready};

/// The condition type a failed create or delete adds.
pub const REPLICA_FAILURE: &str = "ReplicaFailure";
/// Reason when a pod create failed.
pub const FAILED_CREATE: &str = "FailedCreate";
/// Reason when a pod delete failed.
pub const FAILED_DELETE: &str = "FailedDelete";

/// A create or delete failure from the last sync, for the `ReplicaFailure` condition (C.27).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ManageFailure {
    /// [`FAILED_CREATE`] or [`FAILED_DELETE`].
    pub reason: &'static str,
    /// The error message.
    pub message: String,
}

/// The RS's `minReadySeconds` (0 when unset).
pub fn min_ready_seconds(rs: &ReplicaSet) -> i32 {
    rs.spec.as_ref().and_then(|s| s.min_ready_seconds).unwrap_or(0)
}

/// The new status of `rs` given its claimed pods (C.26, C.27).
///
/// Counts only active pods. `failure` is `Some` when a create or delete of this sync failed; then a
/// `ReplicaFailure` condition is added unless one is present. `None` means the sync's creates and
/// deletes all succeeded (or there were none): any `ReplicaFailure` condition is removed. Other
/// conditions are kept.
pub fn replicaset_status(
    rs: &ReplicaSet,
    claimed: &[&Pod],
    failure: Option<&ManageFailure>,
    now: Timestamp,
) -> ReplicaSetStatus {
    let template_labels = rs
        .spec
        .as_ref()
        .and_then(|s| s.template.as_ref())
        .and_then(|t| t.metadata.as_ref())
        .and_then(|m| m.labels.clone())
        .unwrap_or_default();
    let min_ready = min_ready_seconds(rs);
    let (mut replicas, mut fully, mut ready, mut available) = (0, 0, 0, 0);
    for pod in claimed.iter().filter(|p| is_pod_active(p)) {
        replicas += 1;
        let labels = pod.metadata.labels.as_ref();
        if template_labels
            .iter()
            .all(|(k, v)| labels.and_then(|l| l.get(k)) == Some(v))
        {
            fully += 1;
        }
        if is_pod_ready(pod) {
            ready += 1;
            if is_pod_available(pod, min_ready, now) {
                available += 1;
            }
        }
    }
    let old = rs.status.clone().unwrap_or_default();
    let mut conditions = old.conditions.clone().unwrap_or_default();
    let has_failure = conditions.iter().any(|c| c.type_ == REPLICA_FAILURE);
    match failure {
        Some(f) if !has_failure => conditions.push(ReplicaSetCondition {
            type_: REPLICA_FAILURE.to_owned(),
            status: "True".to_owned(),
            reason: Some(f.reason.to_owned()),
            message: Some(f.message.clone()),
            last_transition_time: Some(Time(now)),
        }),
        Some(_) => {}
        None => conditions.retain(|c| c.type_ != REPLICA_FAILURE),
    }
    ReplicaSetStatus {
        replicas,
        fully_labeled_replicas: Some(fully),
        ready_replicas: Some(ready),
        available_replicas: Some(available),
        observed_generation: rs.metadata.generation,
        conditions: (!conditions.is_empty()).then_some(conditions),
        terminating_replicas: old.terminating_replicas,
    }
}

/// When to sync again so availability is noticed (C.28): if `minReadySeconds > 0` and every wanted
/// replica is ready but not all are available, after `minReadySeconds`.
pub fn requeue_for_availability(rs: &ReplicaSet, status: &ReplicaSetStatus) -> Option<Duration> {
    let min_ready = min_ready_seconds(rs);
    let want = spec_replicas(rs);
    let ready = status.ready_replicas.unwrap_or(0);
    let available = status.available_replicas.unwrap_or(0);
    (min_ready > 0 && ready == want && available != want)
        .then(|| Duration::from_secs(u64::try_from(min_ready).unwrap_or(0)))
}

/// When a pod update turns a pod Ready, the owning RS should also be synced after
/// `minReadySeconds + 1s` (C.28); `None` when the pod did not just turn Ready or `minReadySeconds` is 0.
pub fn requeue_on_pod_ready(old: &Pod, new: &Pod, min_ready_seconds: i32) -> Option<Duration> {
    (min_ready_seconds > 0 && !is_pod_ready(old) && is_pod_ready(new))
        .then(|| Duration::from_secs(u64::try_from(min_ready_seconds).unwrap_or(0) + 1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::util::testing::{meta, pod, ts};
    use k8s_openapi::api::apps::v1::ReplicaSetSpec;
    use k8s_openapi::api::core::v1::PodTemplateSpec;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
    use std::collections::BTreeMap;

    fn rs(replicas: i32, min_ready: i32) -> ReplicaSet {
        let mut m = meta("web", "rs");
        m.generation = Some(4);
        ReplicaSet {
            metadata: m,
            spec: Some(ReplicaSetSpec {
                replicas: Some(replicas),
                min_ready_seconds: Some(min_ready),
                template: Some(PodTemplateSpec {
                    metadata: Some(ObjectMeta {
                        labels: Some(BTreeMap::from([("app".into(), "web".into()), ("v".into(), "1".into())])),
                        ..Default::default()
                    }),
                    spec: None,
                }),
                ..Default::default()
            }),
            status: None,
        }
    }

    fn labelled(mut p: Pod, v: &str) -> Pod {
        p.metadata.labels = Some(BTreeMap::from([("app".into(), "web".into()), ("v".into(), v.into())]));
        p
    }

    #[test]
    fn c26_status_counts_active_fully_labeled_ready_and_available() {
        let r = rs(4, 10);
        let pods = [
            labelled(pod("a", "Running", Some(ts(0))), "1"),
            labelled(pod("b", "Running", Some(ts(95))), "1"),
            labelled(pod("c", "Pending", None), "2"),
            labelled(pod("d", "Failed", None), "1"),
        ];
        let refs: Vec<&Pod> = pods.iter().collect();
        let s = replicaset_status(&r, &refs, None, ts(100));
        assert_eq!(s.replicas, 3);
        assert_eq!(s.fully_labeled_replicas, Some(2));
        assert_eq!(s.ready_replicas, Some(2));
        assert_eq!(s.available_replicas, Some(1), "b has been ready 5s < minReadySeconds");
        assert_eq!(s.observed_generation, Some(4));
    }

    #[test]
    fn c26_without_min_ready_seconds_available_equals_ready() {
        let r = rs(2, 0);
        let pods = [pod("a", "Running", Some(ts(100))), pod("b", "Running", None)];
        let refs: Vec<&Pod> = pods.iter().collect();
        let s = replicaset_status(&r, &refs, None, ts(100));
        assert_eq!((s.ready_replicas, s.available_replicas), (Some(1), Some(1)));
    }

    #[test]
    fn c27_failure_adds_replica_failure_once_and_success_removes_it() {
        let mut r = rs(1, 0);
        let f = ManageFailure {
            reason: FAILED_CREATE,
            message: "quota exceeded".into(),
        };
        let s = replicaset_status(&r, &[], Some(&f), ts(1));
        let conds = s.conditions.clone().unwrap_or_default();
        assert_eq!(conds.len(), 1);
        assert_eq!(conds[0].reason.as_deref(), Some(FAILED_CREATE));
        assert_eq!(conds[0].message.as_deref(), Some("quota exceeded"));
        r.status = Some(s);
        let f2 = ManageFailure {
            reason: FAILED_DELETE,
            message: "other".into(),
        };
        let again = replicaset_status(&r, &[], Some(&f2), ts(2));
        assert_eq!(
            again.conditions,
            r.status.as_ref().and_then(|s| s.conditions.clone()),
            "not re-added"
        );
        let ok = replicaset_status(&r, &[], None, ts(3));
        assert_eq!(ok.conditions, None);
    }

    #[test]
    fn c28_requeue_after_min_ready_when_ready_but_not_available() {
        let r = rs(2, 7);
        let status = ReplicaSetStatus {
            replicas: 2,
            ready_replicas: Some(2),
            available_replicas: Some(1),
            ..Default::default()
        };
        assert_eq!(requeue_for_availability(&r, &status), Some(Duration::from_secs(7)));
        let done = ReplicaSetStatus {
            available_replicas: Some(2),
            ..status.clone()
        };
        assert_eq!(requeue_for_availability(&r, &done), None);
        assert_eq!(requeue_for_availability(&rs(2, 0), &status), None);
    }

    #[test]
    fn c28_pod_turning_ready_requeues_after_min_ready_plus_one() {
        let before = pod("a", "Running", None);
        let after = pod("a", "Running", Some(ts(0)));
        assert_eq!(requeue_on_pod_ready(&before, &after, 5), Some(Duration::from_secs(6)));
        assert_eq!(requeue_on_pod_ready(&after, &after, 5), None);
        assert_eq!(requeue_on_pod_ready(&before, &after, 0), None);
    }
}
