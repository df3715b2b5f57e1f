//! Tests of [`super`]: D.41, G.48, H.52–H.58.

use super::*;
use crate::deployment::fields::testing::{deploy, rs};
use k8s_openapi::api::apps::v1::{ReplicaSetCondition, ReplicaSetStatus};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use crate::util::testing::ts;

fn d3() -> Deployment {
    deploy(3, IntOrString::Int(1), IntOrString::Int(1))
}

fn reason(s: &DeploymentStatus, t: &str) -> Option<String> {
    get_condition(s, t).and_then(|c| c.reason.clone())
}

#[test]
fn h52_status_fields_sum_over_rss() {
    let mut d = d3();
    d.metadata.generation = Some(7);
    d.status = Some(DeploymentStatus {
        collision_count: Some(2),
        ..Default::default()
    });
    let old = rs("old", 0, 2, 1);
    let new = rs("new", 1, 2, 1);
    let s = calculate_status(&d, &[&old, &new], Some(&new), ts(0)).unwrap_or_default();
    assert_eq!(s.observed_generation, Some(7));
    assert_eq!(s.replicas, Some(4));
    assert_eq!(s.updated_replicas, Some(2));
    assert_eq!(s.ready_replicas, Some(2));
    assert_eq!(s.available_replicas, Some(2));
    assert_eq!(s.unavailable_replicas, Some(2));
    assert_eq!(s.collision_count, Some(2));
}

#[test]
fn h53_available_condition_against_replicas_minus_max_unavailable() {
    let d = d3();
    let ok = rs("a", 0, 3, 2);
    let s = calculate_status(&d, &[&ok], Some(&ok), ts(0)).unwrap_or_default();
    let c = get_condition(&s, AVAILABLE).cloned().unwrap_or_default();
    assert_eq!(
        (c.status.as_str(), c.reason.as_deref()),
        ("True", Some(MINIMUM_REPLICAS_AVAILABLE))
    );
    assert_eq!(c.message.as_deref(), Some("Deployment has minimum availability."));
    let low = rs("a", 0, 3, 1);
    let s = calculate_status(&d, &[&low], Some(&low), ts(0)).unwrap_or_default();
    let c = get_condition(&s, AVAILABLE).cloned().unwrap_or_default();
    assert_eq!(
        (c.status.as_str(), c.reason.as_deref()),
        ("False", Some(MINIMUM_REPLICAS_UNAVAILABLE))
    );
    assert_eq!(
        c.message.as_deref(),
        Some("Deployment does not have minimum availability.")
    );
}

#[test]
fn h58_same_status_and_reason_is_a_no_op_and_reason_change_keeps_transition_time() {
    let mut s = DeploymentStatus::default();
    set_condition(
        &mut s,
        new_condition(PROGRESSING, "True", FOUND_NEW_REPLICA_SET, "a".into(), ts(0)),
    );
    set_condition(
        &mut s,
        new_condition(PROGRESSING, "True", FOUND_NEW_REPLICA_SET, "b".into(), ts(5)),
    );
    let c = get_condition(&s, PROGRESSING).cloned().unwrap_or_default();
    assert_eq!(c.message.as_deref(), Some("a"));
    assert_eq!(c.last_update_time, Some(Time(ts(0))));
    set_condition(
        &mut s,
        new_condition(PROGRESSING, "True", REPLICA_SET_UPDATED, "c".into(), ts(9)),
    );
    let c = get_condition(&s, PROGRESSING).cloned().unwrap_or_default();
    assert_eq!(c.last_transition_time, Some(Time(ts(0))));
    assert_eq!(c.last_update_time, Some(Time(ts(9))));
    set_condition(
        &mut s,
        new_condition(PROGRESSING, "False", PROGRESS_DEADLINE_EXCEEDED, "d".into(), ts(20)),
    );
    let c = get_condition(&s, PROGRESSING).cloned().unwrap_or_default();
    assert_eq!(c.last_transition_time, Some(Time(ts(20))));
    assert_eq!(s.conditions.map(|c| c.len()), Some(1));
}

#[test]
fn h54_progress_refreshes_update_time_and_keeps_transition_time() {
    let mut d = d3();
    let mut old = DeploymentStatus {
        replicas: Some(3),
        updated_replicas: Some(1),
        ..Default::default()
    };
    set_condition(
        &mut old,
        new_condition(PROGRESSING, "True", FOUND_NEW_REPLICA_SET, "x".into(), ts(0)),
    );
    d.status = Some(old);
    let o = rs("old", 0, 1, 1);
    let n = rs("new", 1, 2, 1);
    let s = rollout_status(&d, &[&o, &n], Some(&n), ts(30)).unwrap_or_default();
    let c = get_condition(&s, PROGRESSING).cloned().unwrap_or_default();
    assert_eq!(c.reason.as_deref(), Some(REPLICA_SET_UPDATED));
    assert_eq!(c.message.as_deref(), Some("ReplicaSet \"new\" is progressing."));
    assert_eq!(c.last_transition_time, Some(Time(ts(0))));
    assert_eq!(c.last_update_time, Some(Time(ts(30))));
}

#[test]
fn h54_complete_rollout_reports_new_replica_set_available() {
    let d = d3();
    let n = rs("new", 1, 3, 3);
    let s = rollout_status(&d, &[&n], Some(&n), ts(1)).unwrap_or_default();
    assert_eq!(reason(&s, PROGRESSING).as_deref(), Some(NEW_RS_AVAILABLE));
    let c = get_condition(&s, PROGRESSING).cloned().unwrap_or_default();
    assert_eq!(
        c.message.as_deref(),
        Some("ReplicaSet \"new\" has successfully progressed.")
    );
    assert!(is_complete(&d, &s));
}

#[test]
fn h54_h55_deadline_passes_strictly_after_last_update_plus_deadline() {
    let mut d = d3();
    let mut old = DeploymentStatus {
        replicas: Some(3),
        updated_replicas: Some(3),
        ..Default::default()
    };
    set_condition(
        &mut old,
        new_condition(PROGRESSING, "True", REPLICA_SET_UPDATED, "x".into(), ts(0)),
    );
    d.status = Some(old);
    let n = rs("new", 1, 3, 0);
    let at_deadline = rollout_status(&d, &[&n], Some(&n), ts(600)).unwrap_or_default();
    assert_eq!(reason(&at_deadline, PROGRESSING).as_deref(), Some(REPLICA_SET_UPDATED));
    let late = rollout_status(&d, &[&n], Some(&n), ts(601)).unwrap_or_default();
    let c = get_condition(&late, PROGRESSING).cloned().unwrap_or_default();
    assert_eq!(
        (c.status.as_str(), c.reason.as_deref()),
        ("False", Some(PROGRESS_DEADLINE_EXCEEDED))
    );
    assert_eq!(
        c.message.as_deref(),
        Some("ReplicaSet \"new\" has timed out progressing.")
    );
    assert!(is_failed(&late));
}

#[test]
fn h55_complete_condition_never_times_out() {
    let mut d = d3();
    let mut old = DeploymentStatus {
        replicas: Some(3),
        updated_replicas: Some(3),
        ..Default::default()
    };
    set_condition(
        &mut old,
        new_condition(PROGRESSING, "True", NEW_RS_AVAILABLE, "x".into(), ts(0)),
    );
    d.status = Some(old);
    let n = rs("new", 1, 3, 1);
    let s = rollout_status(&d, &[&n], Some(&n), ts(10_000)).unwrap_or_default();
    assert_eq!(reason(&s, PROGRESSING).as_deref(), Some(NEW_RS_AVAILABLE));
}

#[test]
fn h54_without_deadline_progressing_is_removed() {
    let mut d = d3();
    if let Some(s) = d.spec.as_mut() {
        s.progress_deadline_seconds = Some(i32::MAX);
    }
    let mut old = DeploymentStatus::default();
    set_condition(
        &mut old,
        new_condition(PROGRESSING, "True", FOUND_NEW_REPLICA_SET, "x".into(), ts(0)),
    );
    d.status = Some(old);
    let n = rs("new", 1, 3, 3);
    let s = rollout_status(&d, &[&n], Some(&n), ts(1)).unwrap_or_default();
    assert!(get_condition(&s, PROGRESSING).is_none());
    assert!(new_rs_created_condition(&d, "x", ts(0)).is_none());
}

#[test]
fn h54_created_found_and_create_error_conditions() {
    let d = d3();
    let c = new_rs_created_condition(&d, "web-abc", ts(0)).unwrap_or_default();
    assert_eq!(c.message.as_deref(), Some("Created new replica set \"web-abc\""));
    assert_eq!(c.reason.as_deref(), Some(NEW_REPLICA_SET_CREATED));
    let f = found_new_rs_condition(&d, "web-abc", ts(0)).unwrap_or_default();
    assert_eq!(f.message.as_deref(), Some("Found new replica set \"web-abc\""));
    let mut with = d.clone();
    with.status = Some(DeploymentStatus {
        conditions: Some(vec![c]),
        ..Default::default()
    });
    assert!(
        found_new_rs_condition(&with, "web-abc", ts(0)).is_none(),
        "only when no condition yet"
    );
    let e = rs_create_error_condition(&d, "quota", ts(0)).unwrap_or_default();
    assert_eq!(
        (e.status.as_str(), e.reason.as_deref()),
        ("False", Some(REPLICA_SET_CREATE_ERROR))
    );
}

#[test]
fn h56_stuck_deployment_requeues_one_second_after_the_deadline() {
    let d = d3();
    let mut s = DeploymentStatus {
        replicas: Some(3),
        updated_replicas: Some(1),
        ..Default::default()
    };
    set_condition(
        &mut s,
        new_condition(PROGRESSING, "True", REPLICA_SET_UPDATED, "x".into(), ts(0)),
    );
    assert_eq!(
        requeue_stuck(&d, &s, ts(100)),
        StuckRequeue::After(Duration::from_secs(501))
    );
    assert_eq!(
        requeue_stuck(&d, &s, ts(599)),
        StuckRequeue::After(Duration::from_secs(2))
    );
    assert_eq!(requeue_stuck(&d, &s, ts(600)), StuckRequeue::RateLimitedNow);
    let mut timed_out = s.clone();
    set_condition(
        &mut timed_out,
        new_condition(PROGRESSING, "False", PROGRESS_DEADLINE_EXCEEDED, "".into(), ts(0)),
    );
    assert_eq!(requeue_stuck(&d, &timed_out, ts(100)), StuckRequeue::None);
}

#[test]
fn h57_replica_failure_is_copied_from_the_new_rs_first_and_removed_when_gone() {
    let failing = |name: &str, msg: &str| {
        let mut r = rs(name, 0, 1, 0);
        r.status = Some(ReplicaSetStatus {
            conditions: Some(vec![ReplicaSetCondition {
                type_: REPLICA_FAILURE.into(),
                status: "True".into(),
                reason: Some("FailedCreate".into()),
                message: Some(msg.into()),
                last_transition_time: Some(Time(ts(0))),
            }]),
            ..Default::default()
        });
        r
    };
    let old = failing("old", "old failed");
    let new = failing("new", "new failed");
    let c = replica_failure(&[&old, &new], Some(&new)).unwrap_or_default();
    assert_eq!(c.message.as_deref(), Some("new failed"));
    let plain = rs("new", 1, 1, 1);
    let c = replica_failure(&[&old, &plain], Some(&plain)).unwrap_or_default();
    assert_eq!(c.message.as_deref(), Some("old failed"));
    let mut d = d3();
    let mut s = DeploymentStatus::default();
    set_condition(&mut s, c);
    d.status = Some(s);
    let after = rollout_status(&d, &[&plain], Some(&plain), ts(1)).unwrap_or_default();
    assert!(get_condition(&after, REPLICA_FAILURE).is_none());
}

#[test]
fn g48_pause_and_resume_set_unknown_progressing_but_never_overwrite_a_timeout() {
    let mut d = d3();
    if let Some(s) = d.spec.as_mut() {
        s.paused = Some(true);
    }
    let paused = paused_condition(&d, ts(0)).unwrap_or_default();
    let c = get_condition(&paused, PROGRESSING).cloned().unwrap_or_default();
    assert_eq!(
        (c.status.as_str(), c.reason.as_deref()),
        ("Unknown", Some(DEPLOYMENT_PAUSED))
    );
    assert_eq!(c.message.as_deref(), Some("Deployment is paused"));
    d.status = Some(paused);
    assert!(paused_condition(&d, ts(1)).is_none(), "already paused");
    if let Some(s) = d.spec.as_mut() {
        s.paused = Some(false);
    }
    let resumed = paused_condition(&d, ts(2)).unwrap_or_default();
    let c = get_condition(&resumed, PROGRESSING).cloned().unwrap_or_default();
    assert_eq!(
        (c.reason.as_deref(), c.message.as_deref()),
        (Some(DEPLOYMENT_RESUMED), Some("Deployment is resumed"))
    );
    assert_eq!(
        c.last_update_time,
        Some(Time(ts(2))),
        "resume resets the deadline clock"
    );
    let mut s = DeploymentStatus::default();
    set_condition(
        &mut s,
        new_condition(PROGRESSING, "False", PROGRESS_DEADLINE_EXCEEDED, "".into(), ts(0)),
    );
    d.status = Some(s);
    if let Some(sp) = d.spec.as_mut() {
        sp.paused = Some(true);
    }
    assert!(paused_condition(&d, ts(3)).is_none());
}

#[test]
fn d41_rollout_complete_needs_current_observed_generation() {
    let mut d = d3();
    d.metadata.generation = Some(2);
    let s = DeploymentStatus {
        observed_generation: Some(1),
        replicas: Some(3),
        updated_replicas: Some(3),
        available_replicas: Some(3),
        ..Default::default()
    };
    assert!(!is_complete(&d, &s));
    assert!(is_complete(
        &d,
        &DeploymentStatus {
            observed_generation: Some(2),
            ..s
        }
    ));
}
