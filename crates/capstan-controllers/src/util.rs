//! Helpers shared by every controller: well-known annotation and label names, controller references,
//! pod readiness and availability, and time arithmetic that never panics.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Pod, PodCondition};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference, Time};
use k8s_openapi::jiff::{SignedDuration, Timestamp};

/// Label added to every ReplicaSet a Deployment owns, to its selector and to its pods (spec D.32).
pub const POD_TEMPLATE_HASH_LABEL: &str = "pod-template-hash";
/// The Deployment revision an RS carries (spec D.35).
pub const REVISION_ANNOTATION: &str = "deployment.kubernetes.io/revision";
/// Earlier revisions an RS carried, comma separated (spec D.35).
pub const REVISION_HISTORY_ANNOTATION: &str = "deployment.kubernetes.io/revision-history";
/// The Deployment's `spec.replicas` when it last scaled this RS (spec D.36).
pub const DESIRED_REPLICAS_ANNOTATION: &str = "deployment.kubernetes.io/desired-replicas";
/// The Deployment's `spec.replicas + maxSurge` when it last scaled this RS (spec D.36).
pub const MAX_REPLICAS_ANNOTATION: &str = "deployment.kubernetes.io/max-replicas";
/// The deprecated rollback request on a Deployment (spec G.49).
pub const ROLLBACK_TO_ANNOTATION: &str = "deprecated.deployment.rollback.to";
/// kubectl's client-side apply record; never copied from a Deployment to its RSs (spec D.34).
pub const LAST_APPLIED_ANNOTATION: &str = "kubectl.kubernetes.io/last-applied-configuration";
/// Pod annotation ranking pods for scale-down, lower first (spec C.25 rule 4).
pub const POD_DELETION_COST_ANNOTATION: &str = "controller.kubernetes.io/pod-deletion-cost";

/// Pod phase `Pending`.
pub const PHASE_PENDING: &str = "Pending";
/// Pod phase `Running`.
pub const PHASE_RUNNING: &str = "Running";
/// Pod phase `Succeeded`.
pub const PHASE_SUCCEEDED: &str = "Succeeded";
/// Pod phase `Failed`.
pub const PHASE_FAILED: &str = "Failed";
/// Pod phase `Unknown`.
pub const PHASE_UNKNOWN: &str = "Unknown";

/// The largest `int32`, Kubernetes' "unlimited" for `revisionHistoryLimit` and `progressDeadlineSeconds`.
pub const MAX_INT32: i32 = i32::MAX;

/// The owner reference with `controller: true`, if any (spec B.11).
pub fn controller_ref(meta: &ObjectMeta) -> Option<&OwnerReference> {
    meta.owner_references
        .as_deref()?
        .iter()
        .find(|r| r.controller == Some(true))
}

/// A ControllerRef as controllers write it: `controller: true`, `blockOwnerDeletion: true` (spec B.11).
pub fn new_controller_ref(api_version: &str, kind: &str, owner: &ObjectMeta) -> OwnerReference {
    OwnerReference {
        api_version: api_version.to_owned(),
        kind: kind.to_owned(),
        name: owner.name.clone().unwrap_or_default(),
        uid: owner.uid.clone().unwrap_or_default(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

/// An object's labels, or an empty map.
pub fn labels(meta: &ObjectMeta) -> BTreeMap<String, String> {
    meta.labels.clone().unwrap_or_default()
}

/// One annotation's value.
pub fn annotation<'a>(meta: &'a ObjectMeta, key: &str) -> Option<&'a str> {
    meta.annotations.as_ref()?.get(key).map(String::as_str)
}

/// Sets one annotation; returns whether the value changed.
pub fn set_annotation(meta: &mut ObjectMeta, key: &str, value: &str) -> bool {
    let map = meta.annotations.get_or_insert_with(BTreeMap::new);
    if map.get(key).map(String::as_str) == Some(value) {
        return false;
    }
    map.insert(key.to_owned(), value.to_owned());
    true
}

/// A pod's phase, or the empty string when unset.
pub fn pod_phase(pod: &Pod) -> &str {
    pod.status.as_ref().and_then(|s| s.phase.as_deref()).unwrap_or("")
}

/// Whether a pod counts for its controller: not Succeeded or Failed and no deletionTimestamp (spec C.20).
pub fn is_pod_active(pod: &Pod) -> bool {
    let phase = pod_phase(pod);
    phase != PHASE_SUCCEEDED && phase != PHASE_FAILED && pod.metadata.deletion_timestamp.is_none()
}

/// A pod condition by type.
pub fn pod_condition<'a>(pod: &'a Pod, type_: &str) -> Option<&'a PodCondition> {
    pod.status
        .as_ref()?
        .conditions
        .as_deref()?
        .iter()
        .find(|c| c.type_ == type_)
}

/// Whether the pod's `Ready` condition is `True`.
pub fn is_pod_ready(pod: &Pod) -> bool {
    pod_condition(pod, "Ready").is_some_and(|c| c.status == "True")
}

/// When the pod last became Ready, if it is Ready.
pub fn ready_since(pod: &Pod) -> Option<Timestamp> {
    pod_condition(pod, "Ready")
        .filter(|c| c.status == "True")
        .and_then(|c| c.last_transition_time.as_ref())
        .map(|t| t.0)
}

/// Whether a pod is available: Ready, and Ready for longer than `min_ready_seconds`
/// (`Ready.lastTransitionTime + minReadySeconds < now`); with 0 seconds, available equals ready (spec C.26).
pub fn is_pod_available(pod: &Pod, min_ready_seconds: i32, now: Timestamp) -> bool {
    if !is_pod_ready(pod) {
        return false;
    }
    if min_ready_seconds <= 0 {
        return true;
    }
    match ready_since(pod) {
        Some(since) => add_secs(since, i64::from(min_ready_seconds)) < now,
        None => false,
    }
}

/// `t + secs`, saturating at the representable range instead of panicking.
pub fn add_secs(t: Timestamp, secs: i64) -> Timestamp {
    add(t, SignedDuration::from_secs(secs))
}

/// `t + d`, saturating at the representable range instead of panicking.
pub fn add(t: Timestamp, d: SignedDuration) -> Timestamp {
    t.checked_add(d).unwrap_or(if d.is_negative() {
        Timestamp::MIN
    } else {
        Timestamp::MAX
    })
}

/// A non-negative `std` duration from a signed one (negative becomes zero).
pub fn to_std(d: SignedDuration) -> std::time::Duration {
    std::time::Duration::try_from(d).unwrap_or(std::time::Duration::ZERO)
}

/// `metav1.Time` from a timestamp.
pub fn time(t: Timestamp) -> Time {
    Time(t)
}

/// The creation timestamp, or the Unix epoch when unset.
pub fn created(meta: &ObjectMeta) -> Timestamp {
    meta.creation_timestamp
        .as_ref()
        .map(|t| t.0)
        .unwrap_or(Timestamp::UNIX_EPOCH)
}

#[cfg(test)]
pub(crate) mod testing {
    //! Builders for tests.

    use super::*;
    use k8s_openapi::api::core::v1::PodStatus;

    /// A timestamp `secs` after a fixed origin.
    pub fn ts(secs: i64) -> Timestamp {
        add_secs(
            Timestamp::from_second(1_700_000_000).unwrap_or(Timestamp::UNIX_EPOCH),
            secs,
        )
    }

    /// Metadata with a name, uid and namespace `ns`.
    pub fn meta(name: &str, uid: &str) -> ObjectMeta {
        ObjectMeta {
            name: Some(name.into()),
            namespace: Some("ns".into()),
            uid: Some(uid.into()),
            creation_timestamp: Some(Time(ts(0))),
            ..ObjectMeta::default()
        }
    }

    /// A pod with a phase and optional Ready-since time.
    pub fn pod(name: &str, phase: &str, ready_since: Option<Timestamp>) -> Pod {
        let mut conditions = Vec::new();
        if let Some(t) = ready_since {
            conditions.push(PodCondition {
                type_: "Ready".into(),
                status: "True".into(),
                last_transition_time: Some(Time(t)),
                ..PodCondition::default()
            });
        }
        Pod {
            metadata: meta(name, &format!("uid-{name}")),
            spec: None,
            status: Some(PodStatus {
                phase: Some(phase.into()),
                conditions: Some(conditions),
                ..PodStatus::default()
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::testing::*;
    use super::*;

    #[test]
    fn c20_terminal_or_deleting_pods_are_not_active() {
        assert!(is_pod_active(&pod("a", PHASE_RUNNING, None)));
        assert!(is_pod_active(&pod("a", PHASE_PENDING, None)));
        assert!(!is_pod_active(&pod("a", PHASE_SUCCEEDED, None)));
        assert!(!is_pod_active(&pod("a", PHASE_FAILED, None)));
        let mut p = pod("a", PHASE_RUNNING, None);
        p.metadata.deletion_timestamp = Some(Time(ts(1)));
        assert!(!is_pod_active(&p));
    }

    #[test]
    fn c26_availability_is_measured_from_ready_transition_strictly() {
        let p = pod("a", PHASE_RUNNING, Some(ts(0)));
        assert!(is_pod_available(&p, 0, ts(0)));
        assert!(
            !is_pod_available(&p, 10, ts(10)),
            "exactly minReadySeconds is not enough"
        );
        assert!(is_pod_available(&p, 10, ts(11)));
        assert!(!is_pod_available(&pod("b", PHASE_RUNNING, None), 0, ts(100)));
    }

    #[test]
    fn b11_controller_refs_block_owner_deletion() {
        let r = new_controller_ref("apps/v1", "ReplicaSet", &meta("rs", "u1"));
        assert_eq!(r.controller, Some(true));
        assert_eq!(r.block_owner_deletion, Some(true));
        assert_eq!((r.name.as_str(), r.uid.as_str()), ("rs", "u1"));
    }

    #[test]
    fn time_arithmetic_saturates_instead_of_panicking() {
        assert_eq!(add_secs(Timestamp::MAX, 10), Timestamp::MAX);
        assert_eq!(add_secs(Timestamp::MIN, -10), Timestamp::MIN);
    }
}
