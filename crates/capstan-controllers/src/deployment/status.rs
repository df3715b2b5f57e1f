//! Deployment status and conditions (H.52–H.58), the paused condition (G.48), kubectl's "rollout
//! complete" test (D.41) and when to look at a stuck Deployment again (H.56).

use std::time::Duration;

use k8s_openapi::api::apps::v1::{Deployment, DeploymentCondition, DeploymentStatus, ReplicaSet};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::{SignedDuration, Timestamp};

use crate::Error;
use crate::deployment::fields::{
    is_paused, progress_deadline, replicas, rs_available, rs_ready, rs_status_replicas, sum_spec,
};
use crate::deployment::math::max_unavailable;
use crate::replicaset::REPLICA_FAILURE;
use crate::util::{add_secs, to_std};

/// Condition type `Available`.
pub const AVAILABLE: &str = "Available";
/// Condition type `Progressing`.
pub const PROGRESSING: &str = "Progressing";
/// Available=True reason.
pub const MINIMUM_REPLICAS_AVAILABLE: &str = "MinimumReplicasAvailable";
/// Available=False reason.
pub const MINIMUM_REPLICAS_UNAVAILABLE: &str = "MinimumReplicasUnavailable";
/// Progressing reason: the new RS was created.
pub const NEW_REPLICA_SET_CREATED: &str = "NewReplicaSetCreated";
/// Progressing reason: the new RS already existed.
pub const FOUND_NEW_REPLICA_SET: &str = "FoundNewReplicaSet";
/// Progressing reason: progress was made.
pub const REPLICA_SET_UPDATED: &str = "ReplicaSetUpdated";
/// Progressing reason: the rollout is complete.
pub const NEW_RS_AVAILABLE: &str = "NewReplicaSetAvailable";
/// Progressing reason: the deadline passed.
pub const PROGRESS_DEADLINE_EXCEEDED: &str = "ProgressDeadlineExceeded";
/// Progressing reason: creating the new RS failed.
pub const REPLICA_SET_CREATE_ERROR: &str = "ReplicaSetCreateError";
/// Progressing reason: the Deployment was paused.
pub const DEPLOYMENT_PAUSED: &str = "DeploymentPaused";
/// Progressing reason: the Deployment was resumed.
pub const DEPLOYMENT_RESUMED: &str = "DeploymentResumed";

/// A new condition with both times set to `now`.
pub fn new_condition(type_: &str, status: &str, reason: &str, message: String, now: Timestamp) -> DeploymentCondition {
    DeploymentCondition {
        type_: type_.to_owned(),
        status: status.to_owned(),
        reason: Some(reason.to_owned()),
        message: Some(message),
        last_update_time: Some(Time(now)),
        last_transition_time: Some(Time(now)),
    }
}

/// A condition of `status` by type.
pub fn get_condition<'a>(status: &'a DeploymentStatus, type_: &str) -> Option<&'a DeploymentCondition> {
    status.conditions.as_deref()?.iter().find(|c| c.type_ == type_)
}

/// Sets a condition (H.58): same status and reason is a no-op; same status with another reason keeps
/// `lastTransitionTime`; otherwise the condition is replaced.
pub fn set_condition(status: &mut DeploymentStatus, mut cond: DeploymentCondition) {
    let conds = status.conditions.get_or_insert_with(Vec::new);
    if let Some(current) = conds.iter().find(|c| c.type_ == cond.type_) {
        if current.status == cond.status && current.reason == cond.reason {
            return;
        }
        if current.status == cond.status {
            cond.last_transition_time = current.last_transition_time.clone();
        }
    }
    conds.retain(|c| c.type_ != cond.type_);
    conds.push(cond);
}

/// Removes a condition by type.
pub fn remove_condition(status: &mut DeploymentStatus, type_: &str) {
    if let Some(conds) = status.conditions.as_mut() {
        conds.retain(|c| c.type_ != type_);
        if conds.is_empty() {
            status.conditions = None;
        }
    }
}

/// The status fields of H.52 plus the Available condition of H.53; other conditions are carried over.
pub fn calculate_status(
    d: &Deployment,
    all: &[&ReplicaSet],
    new_rs: Option<&ReplicaSet>,
    now: Timestamp,
) -> Result<DeploymentStatus, Error> {
    let available: i32 = all.iter().map(|rs| rs_available(rs)).sum();
    let old = d.status.clone().unwrap_or_default();
    let mut status = DeploymentStatus {
        observed_generation: d.metadata.generation,
        replicas: Some(all.iter().map(|rs| rs_status_replicas(rs)).sum()),
        updated_replicas: Some(new_rs.map(rs_status_replicas).unwrap_or(0)),
        ready_replicas: Some(all.iter().map(|rs| rs_ready(rs)).sum()),
        available_replicas: Some(available),
        unavailable_replicas: Some((sum_spec(all.iter().copied()) - available).max(0)),
        collision_count: old.collision_count,
        conditions: old.conditions.clone(),
        terminating_replicas: old.terminating_replicas,
    };
    let cond = if available >= replicas(d) - max_unavailable(d)? {
        new_condition(
            AVAILABLE,
            "True",
            MINIMUM_REPLICAS_AVAILABLE,
            "Deployment has minimum availability.".into(),
            now,
        )
    } else {
        new_condition(
            AVAILABLE,
            "False",
            MINIMUM_REPLICAS_UNAVAILABLE,
            "Deployment does not have minimum availability.".into(),
            now,
        )
    };
    set_condition(&mut status, cond);
    Ok(status)
}

/// kubectl's rollout-complete test (D.41) applied to a status: updated, total and available all equal
/// `spec.replicas` and `observedGeneration ≥ generation`.
pub fn is_complete(d: &Deployment, status: &DeploymentStatus) -> bool {
    let want = replicas(d);
    status.updated_replicas.unwrap_or(0) == want
        && status.replicas.unwrap_or(0) == want
        && status.available_replicas.unwrap_or(0) == want
        && status.observed_generation.unwrap_or(0) >= d.metadata.generation.unwrap_or(0)
}

/// Whether kubectl would call the rollout failed: Progressing has reason `ProgressDeadlineExceeded` (D.41).
pub fn is_failed(status: &DeploymentStatus) -> bool {
    get_condition(status, PROGRESSING).is_some_and(|c| c.reason.as_deref() == Some(PROGRESS_DEADLINE_EXCEEDED))
}

/// Progress compared with the previous status (H.54): updated up, old replicas down, ready up or
/// available up.
pub fn is_progressing(old: &DeploymentStatus, new: &DeploymentStatus) -> bool {
    let g = |v: Option<i32>| v.unwrap_or(0);
    let old_old = g(old.replicas) - g(old.updated_replicas);
    let new_old = g(new.replicas) - g(new.updated_replicas);
    g(new.updated_replicas) > g(old.updated_replicas)
        || new_old < old_old
        || g(new.ready_replicas) > g(old.ready_replicas)
        || g(new.available_replicas) > g(old.available_replicas)
}

/// Whether the Progressing condition has timed out at `now` (H.54–H.55).
pub fn is_timed_out(d: &Deployment, status: &DeploymentStatus, now: Timestamp) -> bool {
    let Some(deadline) = progress_deadline(d) else {
        return false;
    };
    let Some(cond) = get_condition(status, PROGRESSING) else {
        return false;
    };
    match cond.reason.as_deref() {
        Some(NEW_RS_AVAILABLE) => false,
        Some(PROGRESS_DEADLINE_EXCEEDED) => true,
        _ => cond
            .last_update_time
            .as_ref()
            .is_some_and(|t| add_secs(t.0, i64::from(deadline)) < now),
    }
}

/// The `ReplicaFailure` condition to copy onto the Deployment (H.57): from the new RS first, otherwise
/// from any RS; `None` when no RS has one.
pub fn replica_failure(all: &[&ReplicaSet], new_rs: Option<&ReplicaSet>) -> Option<DeploymentCondition> {
    let find = |rs: &ReplicaSet| {
        rs.status
            .as_ref()?
            .conditions
            .as_deref()?
            .iter()
            .find(|c| c.type_ == REPLICA_FAILURE)
            .map(|c| DeploymentCondition {
                type_: REPLICA_FAILURE.to_owned(),
                status: c.status.clone(),
                reason: c.reason.clone(),
                message: c.message.clone(),
                last_update_time: c.last_transition_time.clone(),
                last_transition_time: c.last_transition_time.clone(),
            })
    };
    new_rs.and_then(find).or_else(|| all.iter().find_map(|rs| find(rs)))
}

/// The full status after a rollout sync (H.52–H.57): [`calculate_status`], then, when a deadline
/// applies and the rollout is not already complete, the Progressing checks in the order complete,
/// progressing, timed out; then the ReplicaFailure copy. Without a deadline, Progressing is removed.
pub fn rollout_status(
    d: &Deployment,
    all: &[&ReplicaSet],
    new_rs: Option<&ReplicaSet>,
    now: Timestamp,
) -> Result<DeploymentStatus, Error> {
    let mut status = calculate_status(d, all, new_rs, now)?;
    let old = d.status.clone().unwrap_or_default();
    let has_deadline = progress_deadline(d).is_some();
    if !has_deadline {
        remove_condition(&mut status, PROGRESSING);
    }
    let current = get_condition(&old, PROGRESSING).cloned();
    let already_complete = status.replicas == status.updated_replicas
        && current
            .as_ref()
            .is_some_and(|c| c.reason.as_deref() == Some(NEW_RS_AVAILABLE));
    let rs_name = new_rs.and_then(|r| r.metadata.name.clone());
    let subject = match &rs_name {
        Some(n) => format!("ReplicaSet \"{n}\""),
        None => format!("Deployment \"{}\"", d.metadata.name.clone().unwrap_or_default()),
    };
    if has_deadline && !already_complete {
        if is_complete(d, &status) {
            let msg = format!("{subject} has successfully progressed.");
            set_condition(
                &mut status,
                new_condition(PROGRESSING, "True", NEW_RS_AVAILABLE, msg, now),
            );
        } else if is_progressing(&old, &status) {
            let msg = format!("{subject} is progressing.");
            let mut cond = new_condition(PROGRESSING, "True", REPLICA_SET_UPDATED, msg, now);
            if let Some(c) = current.as_ref().filter(|c| c.status == "True") {
                cond.last_transition_time = c.last_transition_time.clone();
            }
            remove_condition(&mut status, PROGRESSING);
            set_condition(&mut status, cond);
        } else if is_timed_out(d, &status, now) {
            let msg = format!("{subject} has timed out progressing.");
            set_condition(
                &mut status,
                new_condition(PROGRESSING, "False", PROGRESS_DEADLINE_EXCEEDED, msg, now),
            );
        }
    }
    match replica_failure(all, new_rs) {
        Some(c) => set_condition(&mut status, c),
        None => remove_condition(&mut status, REPLICA_FAILURE),
    }
    Ok(status)
}

/// The Progressing condition to set when the new RS was just created (H.54), if a deadline applies.
pub fn new_rs_created_condition(d: &Deployment, rs_name: &str, now: Timestamp) -> Option<DeploymentCondition> {
    progress_deadline(d)?;
    let msg = format!("Created new replica set \"{rs_name}\"");
    Some(new_condition(PROGRESSING, "True", NEW_REPLICA_SET_CREATED, msg, now))
}

/// The Progressing condition to set when the new RS already exists and there is no Progressing
/// condition yet (H.54); `None` otherwise.
pub fn found_new_rs_condition(d: &Deployment, rs_name: &str, now: Timestamp) -> Option<DeploymentCondition> {
    progress_deadline(d)?;
    let has = d.status.as_ref().and_then(|s| get_condition(s, PROGRESSING)).is_some();
    let msg = format!("Found new replica set \"{rs_name}\"");
    (!has).then(|| new_condition(PROGRESSING, "True", FOUND_NEW_REPLICA_SET, msg, now))
}

/// The Progressing condition to set when creating the new RS failed (H.54), if a deadline applies.
pub fn rs_create_error_condition(d: &Deployment, error: &str, now: Timestamp) -> Option<DeploymentCondition> {
    progress_deadline(d)?;
    Some(new_condition(
        PROGRESSING,
        "False",
        REPLICA_SET_CREATE_ERROR,
        error.to_owned(),
        now,
    ))
}

/// The paused/resumed Progressing condition (G.48), applied to a copy of the current status; `None`
/// when nothing changes. Applies only with a deadline, and never overwrites ProgressDeadlineExceeded.
pub fn paused_condition(d: &Deployment, now: Timestamp) -> Option<DeploymentStatus> {
    progress_deadline(d)?;
    let mut status = d.status.clone().unwrap_or_default();
    let cond = get_condition(&status, PROGRESSING);
    if cond.is_some_and(|c| c.reason.as_deref() == Some(PROGRESS_DEADLINE_EXCEEDED)) {
        return None;
    }
    let paused_now = cond.is_some_and(|c| c.reason.as_deref() == Some(DEPLOYMENT_PAUSED));
    let new = match (is_paused(d), paused_now) {
        (true, false) => new_condition(
            PROGRESSING,
            "Unknown",
            DEPLOYMENT_PAUSED,
            "Deployment is paused".into(),
            now,
        ),
        (false, true) => new_condition(
            PROGRESSING,
            "Unknown",
            DEPLOYMENT_RESUMED,
            "Deployment is resumed".into(),
            now,
        ),
        _ => return None,
    };
    set_condition(&mut status, new);
    Some(status)
}

/// When to look at a Deployment again because its rollout may time out (H.56).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StuckRequeue {
    /// No deadline, no Progressing condition, complete, or already timed out.
    None,
    /// Less than a second remains: requeue at once, rate limited.
    RateLimitedNow,
    /// Requeue after `lastUpdateTime + deadline − now + 1s`.
    After(Duration),
}

/// The requeue for a possibly stuck Deployment, given its new status (H.56).
pub fn requeue_stuck(d: &Deployment, status: &DeploymentStatus, now: Timestamp) -> StuckRequeue {
    let (Some(deadline), Some(cond)) = (progress_deadline(d), get_condition(status, PROGRESSING)) else {
        return StuckRequeue::None;
    };
    if is_complete(d, status) || cond.reason.as_deref() == Some(PROGRESS_DEADLINE_EXCEEDED) {
        return StuckRequeue::None;
    }
    let Some(updated) = cond.last_update_time.as_ref() else {
        return StuckRequeue::None;
    };
    let after = add_secs(updated.0, i64::from(deadline)).duration_since(now);
    if after < SignedDuration::from_secs(1) {
        StuckRequeue::RateLimitedNow
    } else {
        StuckRequeue::After(to_std(after) + Duration::from_secs(1))
    }
}

#[cfg(test)]
#[path = "status_tests.rs"]
mod tests;
