//! Small readers of Deployment and ReplicaSet fields with the apps/v1 defaults applied (spec A.1–A.2),
//! and the orderings the controller sorts ReplicaSets by.

use std::cmp::Ordering;

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::PodTemplateSpec;

use crate::util::{DESIRED_REPLICAS_ANNOTATION, MAX_INT32, MAX_REPLICAS_ANNOTATION, annotation, created};

/// `spec.replicas` of a Deployment (1 when unset, A.1).
pub fn replicas(d: &Deployment) -> i32 {
    d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1)
}

/// Whether the strategy is RollingUpdate (the default when unset, A.1).
pub fn is_rolling_update(d: &Deployment) -> bool {
    strategy_type(d) == "RollingUpdate"
}

/// The strategy type, `RollingUpdate` when unset.
pub fn strategy_type(d: &Deployment) -> &str {
    d.spec
        .as_ref()
        .and_then(|s| s.strategy.as_ref())
        .and_then(|s| s.type_.as_deref())
        .unwrap_or("RollingUpdate")
}

/// `spec.minReadySeconds` (0 when unset).
pub fn min_ready_seconds(d: &Deployment) -> i32 {
    d.spec.as_ref().and_then(|s| s.min_ready_seconds).unwrap_or(0)
}

/// Whether `spec.paused` is set.
pub fn is_paused(d: &Deployment) -> bool {
    d.spec.as_ref().and_then(|s| s.paused).unwrap_or(false)
}

/// `spec.progressDeadlineSeconds` when a deadline applies: set and not MaxInt32 (H.54).
pub fn progress_deadline(d: &Deployment) -> Option<i32> {
    d.spec
        .as_ref()
        .and_then(|s| s.progress_deadline_seconds)
        .filter(|s| *s != MAX_INT32)
}

/// `spec.revisionHistoryLimit` when it limits anything: set and not MaxInt32 (G.51).
pub fn revision_history_limit(d: &Deployment) -> Option<i32> {
    d.spec
        .as_ref()
        .and_then(|s| s.revision_history_limit)
        .filter(|s| *s != MAX_INT32)
}

/// The Deployment's pod template, if any.
pub fn template(d: &Deployment) -> Option<&PodTemplateSpec> {
    d.spec.as_ref().map(|s| &s.template)
}

/// `spec.replicas` of a ReplicaSet (1 when unset, A.2).
pub fn rs_replicas(rs: &ReplicaSet) -> i32 {
    rs.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1)
}

/// `status.replicas` of a ReplicaSet.
pub fn rs_status_replicas(rs: &ReplicaSet) -> i32 {
    rs.status.as_ref().map(|s| s.replicas).unwrap_or(0)
}

/// `status.availableReplicas` of a ReplicaSet.
pub fn rs_available(rs: &ReplicaSet) -> i32 {
    rs.status.as_ref().and_then(|s| s.available_replicas).unwrap_or(0)
}

/// `status.readyReplicas` of a ReplicaSet.
pub fn rs_ready(rs: &ReplicaSet) -> i32 {
    rs.status.as_ref().and_then(|s| s.ready_replicas).unwrap_or(0)
}

/// The RS's pod template, if any.
pub fn rs_template(rs: &ReplicaSet) -> Option<&PodTemplateSpec> {
    rs.spec.as_ref().and_then(|s| s.template.as_ref())
}

/// The `desired-replicas` annotation, if present and an integer.
pub fn desired_replicas_annotation(rs: &ReplicaSet) -> Option<i32> {
    annotation(&rs.metadata, DESIRED_REPLICAS_ANNOTATION).and_then(|v| v.parse().ok())
}

/// The `max-replicas` annotation, if present and an integer.
pub fn max_replicas_annotation(rs: &ReplicaSet) -> Option<i32> {
    annotation(&rs.metadata, MAX_REPLICAS_ANNOTATION).and_then(|v| v.parse().ok())
}

/// Whether an RS is active: `spec.replicas > 0`.
pub fn is_active(rs: &ReplicaSet) -> bool {
    rs_replicas(rs) > 0
}

/// Oldest first: by creationTimestamp, then name.
pub fn by_creation(a: &ReplicaSet, b: &ReplicaSet) -> Ordering {
    created(&a.metadata)
        .cmp(&created(&b.metadata))
        .then_with(|| a.metadata.name.cmp(&b.metadata.name))
}

/// Sum of `spec.replicas`.
pub fn sum_spec<'a>(rss: impl IntoIterator<Item = &'a ReplicaSet>) -> i32 {
    rss.into_iter().map(rs_replicas).fold(0i32, i32::saturating_add)
}

/// Sum of `status.availableReplicas`.
pub fn sum_available<'a>(rss: impl IntoIterator<Item = &'a ReplicaSet>) -> i32 {
    rss.into_iter().map(rs_available).fold(0i32, i32::saturating_add)
}

#[cfg(test)]
pub(crate) mod testing {
    //! Builders for Deployment tests.

    use super::*;
    use crate::util::testing::{meta, ts};
    use k8s_openapi::api::apps::v1::{
        DeploymentSpec, DeploymentStrategy, ReplicaSetSpec, ReplicaSetStatus, RollingUpdateDeployment,
    };
    use k8s_openapi::api::core::v1::{Container, PodSpec};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta, Time};
    use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
    use std::collections::BTreeMap;

    /// A pod template with one container running `image`.
    pub fn tmpl(image: &str) -> PodTemplateSpec {
        PodTemplateSpec {
            metadata: Some(ObjectMeta {
                labels: Some(BTreeMap::from([("app".to_owned(), "web".to_owned())])),
                ..Default::default()
            }),
            spec: Some(PodSpec {
                containers: vec![Container {
                    name: "c".into(),
                    image: Some(image.into()),
                    ..Default::default()
                }],
                ..Default::default()
            }),
        }
    }

    /// A RollingUpdate Deployment `web` with the given replicas, surge and unavailable.
    pub fn deploy(replicas: i32, surge: IntOrString, unavailable: IntOrString) -> Deployment {
        let mut m = meta("web", "d-uid");
        m.generation = Some(1);
        Deployment {
            metadata: m,
            spec: Some(DeploymentSpec {
                replicas: Some(replicas),
                selector: LabelSelector {
                    match_labels: Some(BTreeMap::from([("app".to_owned(), "web".to_owned())])),
                    ..Default::default()
                },
                strategy: Some(DeploymentStrategy {
                    type_: Some("RollingUpdate".into()),
                    rolling_update: Some(RollingUpdateDeployment {
                        max_surge: Some(surge),
                        max_unavailable: Some(unavailable),
                    }),
                }),
                template: tmpl("nginx:1"),
                progress_deadline_seconds: Some(600),
                revision_history_limit: Some(10),
                ..Default::default()
            }),
            status: None,
        }
    }

    /// An RS `name` created at `created` seconds with spec and available replicas.
    pub fn rs(name: &str, created: i64, spec: i32, available: i32) -> ReplicaSet {
        let mut m = meta(name, &format!("uid-{name}"));
        m.creation_timestamp = Some(Time(ts(created)));
        ReplicaSet {
            metadata: m,
            spec: Some(ReplicaSetSpec {
                replicas: Some(spec),
                template: Some(tmpl(name)),
                ..Default::default()
            }),
            status: Some(ReplicaSetStatus {
                replicas: spec,
                ready_replicas: Some(available),
                available_replicas: Some(available),
                ..Default::default()
            }),
        }
    }
}
