//! The Recreate strategy (F.46): every old pod is gone before the new RS gets any.

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::Pod;

use crate::deployment::fields::{is_active, is_rolling_update, replicas, rs_replicas, rs_status_replicas};
use crate::deployment::math::ScaleTo;
use crate::util::{PHASE_FAILED, PHASE_SUCCEEDED, pod_phase};

/// What one Recreate sync does next (F.46).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RecreateStep {
    /// Scale these active old RSs to 0, write status and stop.
    ScaleDownOld(Vec<ScaleTo>),
    /// Old pods remain (counted by RS status or seen in non-terminal phases, terminating included):
    /// write status and wait; the last old pod's deletion requeues the Deployment.
    WaitForOldPods,
    /// Create the new RS (at `spec.replicas`, see [`crate::deployment::revisions::new_replica_set`]).
    CreateNewRs,
    /// Scale the existing new RS to this size.
    ScaleUpNew(i32),
    /// Nothing to do but write status (and clean up once complete).
    Idle,
}

/// The next Recreate step. `old_pods` are the pods owned by the old RSs (including terminating ones).
pub fn recreate_step(
    d: &Deployment,
    new_rs: Option<&ReplicaSet>,
    old: &[&ReplicaSet],
    old_pods: &[&Pod],
) -> RecreateStep {
    let down: Vec<ScaleTo> = old
        .iter()
        .filter(|rs| is_active(rs))
        .map(|rs| ScaleTo {
            name: rs.metadata.name.clone().unwrap_or_default(),
            from: rs_replicas(rs),
            to: 0,
        })
        .collect();
    if !down.is_empty() {
        return RecreateStep::ScaleDownOld(down);
    }
    if old_pods_running(old, old_pods) {
        return RecreateStep::WaitForOldPods;
    }
    let want = replicas(d);
    match new_rs {
        None => RecreateStep::CreateNewRs,
        Some(rs) if rs_replicas(rs) != want => RecreateStep::ScaleUpNew(want),
        Some(_) => RecreateStep::Idle,
    }
}

/// Whether old pods remain (F.46): old RS `status.replicas` add up to more than 0, or some old pod is
/// in a phase other than Succeeded or Failed (a terminating pod still counts, I.64).
pub fn old_pods_running(old: &[&ReplicaSet], old_pods: &[&Pod]) -> bool {
    old.iter().map(|rs| rs_status_replicas(rs)).sum::<i32>() > 0
        || old_pods
            .iter()
            .any(|p| !matches!(pod_phase(p), PHASE_SUCCEEDED | PHASE_FAILED))
}

/// Whether a pod deletion should requeue a Recreate Deployment: it left no pods behind (F.46).
pub fn requeue_on_last_pod_deleted(d: &Deployment, remaining_pods: usize) -> bool {
    !is_rolling_update(d) && remaining_pods == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deployment::fields::testing::{deploy, rs};
    use crate::util::testing::{pod, ts};
    use k8s_openapi::api::apps::v1::DeploymentStrategy;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
    use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

    fn recreate(replicas: i32) -> Deployment {
        let mut d = deploy(replicas, IntOrString::Int(0), IntOrString::Int(1));
        if let Some(s) = d.spec.as_mut() {
            s.strategy = Some(DeploymentStrategy {
                type_: Some("Recreate".into()),
                rolling_update: None,
            });
        }
        d
    }

    #[test]
    fn f46_active_old_rss_are_scaled_to_zero_first() {
        let d = recreate(3);
        let old = rs("old", 0, 3, 3);
        let idle = rs("older", 0, 0, 0);
        let step = recreate_step(&d, None, &[&old, &idle], &[]);
        assert_eq!(
            step,
            RecreateStep::ScaleDownOld(vec![ScaleTo {
                name: "old".into(),
                from: 3,
                to: 0
            }])
        );
    }

    #[test]
    fn f46_waits_while_old_rs_status_or_old_pods_remain_including_terminating() {
        let d = recreate(3);
        let mut old = rs("old", 0, 0, 0);
        if let Some(s) = old.status.as_mut() {
            s.replicas = 1;
        }
        assert_eq!(recreate_step(&d, None, &[&old], &[]), RecreateStep::WaitForOldPods);
        let gone = rs("old", 0, 0, 0);
        let mut terminating = pod("p", "Running", None);
        terminating.metadata.deletion_timestamp = Some(Time(ts(30)));
        assert_eq!(
            recreate_step(&d, None, &[&gone], &[&terminating]),
            RecreateStep::WaitForOldPods
        );
        let finished = pod("q", "Succeeded", None);
        assert_eq!(
            recreate_step(&d, None, &[&gone], &[&finished]),
            RecreateStep::CreateNewRs
        );
    }

    #[test]
    fn f46_new_rs_is_scaled_straight_to_replicas() {
        let d = recreate(5);
        let new = rs("new", 1, 0, 0);
        assert_eq!(recreate_step(&d, Some(&new), &[], &[]), RecreateStep::ScaleUpNew(5));
        let full = rs("new", 1, 5, 2);
        assert_eq!(recreate_step(&d, Some(&full), &[], &[]), RecreateStep::Idle);
    }

    #[test]
    fn f46_last_pod_deletion_requeues_only_recreate() {
        assert!(requeue_on_last_pod_deleted(&recreate(1), 0));
        assert!(!requeue_on_last_pod_deleted(&recreate(1), 1));
        assert!(!requeue_on_last_pod_deleted(
            &deploy(1, IntOrString::Int(1), IntOrString::Int(0)),
            0
        ));
    }
}
