//! The simulated kubelet as a stage table driven by `now` (J.65–J.66, I.59–I.63).
//!
//! [`step`] matches the first stage that applies to a pod and returns what to write and when to look
//! again. Stages, in order:
//!
//! | stage | applies when | effect |
//! |---|---|---|
//! | `pod-remove` | `deletionTimestamp` set and unscheduled or terminal | delete now (I.63) |
//! | `pod-stop` | `deletionTimestamp` set, containers not stopped | Ready/ContainersReady False, containers terminated; event `Killing` |
//! | `pod-delete` | stopped, and the termination delay or the deadline passed | delete now |
//! | `pod-create` | no `nodeName` | bind to the least-loaded node; Pending, PodScheduled True, containers waiting `ContainerCreating` |
//! | `pod-ready` | Pending, start delay passed | Running, podIP, hostIP, startTime, Initialized/ContainersReady/Ready, containers running |
//! | `pod-crash` | running, `crash-after` passed | container waiting `CrashLoopBackOff`, restartCount+1, lastState.terminated (I.62) |
//! | `pod-restart` | in back-off, back-off passed | container running again |
//! | `pod-unready` | ready, `fail-readiness-after` passed | container not ready, Ready False (I.61) |

use k8s_openapi::api::core::v1::{
    ContainerState, ContainerStateRunning, ContainerStateTerminated, ContainerStateWaiting, ContainerStatus, HostIP,
    Pod, PodCondition, PodIP, PodStatus,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::{SignedDuration, Timestamp};

use crate::nodeagent::behaviour::Behaviour;
use crate::nodeagent::nodes::{AgentConfig, ClusterView};
use crate::util::{PHASE_FAILED, PHASE_PENDING, PHASE_RUNNING, PHASE_SUCCEEDED, add, pod_condition, pod_phase};

/// First CrashLoopBackOff delay (I.62).
pub const INITIAL_BACKOFF_SECS: i64 = 10;
/// How soon a pod that no node can take (all cordoned) is looked at again.
pub const UNSCHEDULABLE_RETRY: SignedDuration = SignedDuration::from_secs(1);
/// Longest CrashLoopBackOff delay, `MaxContainerBackOff` (I.62).
pub const MAX_BACKOFF_SECS: i64 = 300;
/// A run at least this long resets the back-off (I.62).
pub const BACKOFF_RESET_SECS: i64 = 600;

/// An event the agent asks the caller to record on the pod.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AgentEvent {
    /// `Normal` or `Warning`.
    pub type_: &'static str,
    /// `Scheduled`, `Started`, `Killing`, `BackOff` or `Unhealthy`.
    pub reason: &'static str,
    /// Human-readable message.
    pub message: String,
}

/// What the agent does to one pod now.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PodStep {
    /// Bind the pod to this node (`spec.nodeName`, the binding subresource).
    pub bind_to: Option<String>,
    /// The pod's new status, to write through the status subresource.
    pub status: Option<PodStatus>,
    /// Remove the pod for good now (delete with grace period 0; finalizers still hold it).
    pub delete_now: bool,
    /// When the next stage is due (requeue after `next_at − now`); `None` when nothing is scheduled.
    pub next_at: Option<Timestamp>,
    /// An event to record.
    pub event: Option<AgentEvent>,
}

fn cond(type_: &str, ok: bool, reason: Option<&str>, at: Timestamp) -> PodCondition {
    PodCondition {
        type_: type_.to_owned(),
        status: if ok { "True" } else { "False" }.to_owned(),
        reason: reason.map(str::to_owned),
        last_transition_time: Some(Time(at)),
        ..PodCondition::default()
    }
}

/// Sets a pod condition, keeping `lastTransitionTime` when the status does not flip (I.60).
pub fn set_pod_condition(status: &mut PodStatus, new: PodCondition) {
    let conds = status.conditions.get_or_insert_with(Vec::new);
    match conds.iter_mut().find(|c| c.type_ == new.type_) {
        Some(c) if c.status == new.status => c.reason = new.reason,
        Some(c) => *c = new,
        None => conds.push(new),
    }
}

fn container_names(pod: &Pod) -> Vec<String> {
    pod.spec
        .as_ref()
        .map(|s| s.containers.iter().map(|c| c.name.clone()).collect())
        .unwrap_or_default()
}

fn image_of(pod: &Pod, name: &str) -> String {
    pod.spec
        .as_ref()
        .and_then(|s| s.containers.iter().find(|c| c.name == name))
        .and_then(|c| c.image.clone())
        .unwrap_or_default()
}

fn running_since(status: &PodStatus) -> Option<Timestamp> {
    status
        .container_statuses
        .iter()
        .flatten()
        .filter_map(|c| c.state.as_ref()?.running.as_ref()?.started_at.as_ref().map(|t| t.0))
        .min()
}

fn set_readiness(status: &mut PodStatus, ready: bool, now: Timestamp) {
    let reason = (!ready).then_some("ContainersNotReady");
    set_pod_condition(status, cond("ContainersReady", ready, reason, now));
    set_pod_condition(status, cond("Ready", ready, reason, now));
}

fn with_containers(pod: &Pod, status: &mut PodStatus, f: impl Fn(&mut ContainerStatus)) {
    let names = container_names(pod);
    let list = status.container_statuses.get_or_insert_with(Vec::new);
    for name in names {
        if !list.iter().any(|c| c.name == name) {
            list.push(ContainerStatus {
                name: name.clone(),
                image: image_of(pod, &name),
                ..ContainerStatus::default()
            });
        }
    }
    list.iter_mut().for_each(f);
}

/// The CrashLoopBackOff delay before restart number `restart_count`, given how long the last run
/// lasted: 10 s doubling up to 300 s, back to 10 s after a run of 10 minutes (I.62).
pub fn backoff(restart_count: i32, last_run: SignedDuration) -> SignedDuration {
    if last_run >= SignedDuration::from_secs(BACKOFF_RESET_SECS) {
        return SignedDuration::from_secs(INITIAL_BACKOFF_SECS);
    }
    let doublings = u32::try_from(restart_count.saturating_sub(1).clamp(0, 16)).unwrap_or(0);
    SignedDuration::from_secs((INITIAL_BACKOFF_SECS << doublings).min(MAX_BACKOFF_SECS))
}

fn earliest(a: Option<Timestamp>, b: Option<Timestamp>) -> Option<Timestamp> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, None) => x,
        (None, y) => y,
    }
}

/// One step of the simulated kubelet for `pod` at `now` (see the module's stage table).
pub fn step(pod: &Pod, now: Timestamp, cluster: &ClusterView, cfg: &AgentConfig) -> PodStep {
    let b = Behaviour::of(pod, cfg.default_start_delay);
    let node = pod
        .spec
        .as_ref()
        .and_then(|s| s.node_name.clone())
        .filter(|n| !n.is_empty());
    let phase = pod_phase(pod);
    let mut status = pod.status.clone().unwrap_or_default();
    let name = pod.metadata.name.clone().unwrap_or_default();

    if let Some(deadline) = pod.metadata.deletion_timestamp.as_ref().map(|t| t.0) {
        if node.is_none() || matches!(phase, PHASE_SUCCEEDED | PHASE_FAILED) {
            return PodStep {
                delete_now: true,
                ..PodStep::default()
            };
        }
        let stopped_at = status
            .container_statuses
            .iter()
            .flatten()
            .filter_map(|c| c.state.as_ref()?.terminated.as_ref()?.finished_at.as_ref().map(|t| t.0))
            .max();
        let all_stopped = status
            .container_statuses
            .iter()
            .flatten()
            .all(|c| c.state.as_ref().is_some_and(|s| s.terminated.is_some()));
        let ready_false = pod_condition(pod, "Ready").is_some_and(|c| c.status == "False");
        let remove_at = |stopped: Timestamp| match cfg.termination_delay {
            Some(d) => add(stopped, d).min(deadline),
            None => deadline,
        };
        if !(all_stopped && ready_false) {
            set_readiness(&mut status, false, now);
            with_containers(pod, &mut status, |c| {
                let started = c
                    .state
                    .as_ref()
                    .and_then(|s| s.running.as_ref())
                    .and_then(|r| r.started_at.clone());
                c.ready = false;
                c.started = Some(false);
                c.state = Some(ContainerState {
                    terminated: Some(ContainerStateTerminated {
                        exit_code: 0,
                        reason: Some("Completed".into()),
                        started_at: started,
                        finished_at: Some(Time(now)),
                        ..ContainerStateTerminated::default()
                    }),
                    ..ContainerState::default()
                });
            });
            let event = AgentEvent {
                type_: "Normal",
                reason: "Killing",
                message: format!("Stopping pod {name}"),
            };
            return PodStep {
                status: Some(status),
                next_at: Some(remove_at(now)),
                event: Some(event),
                ..PodStep::default()
            };
        }
        let at = remove_at(stopped_at.unwrap_or(now));
        return if now >= at {
            PodStep {
                delete_now: true,
                ..PodStep::default()
            }
        } else {
            PodStep {
                next_at: Some(at),
                ..PodStep::default()
            }
        };
    }

    if matches!(phase, PHASE_SUCCEEDED | PHASE_FAILED) {
        return PodStep::default();
    }

    let scheduled_at = pod_condition(pod, "PodScheduled")
        .filter(|c| c.status == "True")
        .and_then(|c| c.last_transition_time.as_ref())
        .map(|t| t.0);
    let (Some(node), Some(scheduled_at)) = (node.clone(), scheduled_at) else {
        // pod-create: bind (unless already bound) and report Pending.
        let target = match node {
            Some(n) => n,
            None => match cluster.least_loaded(cfg) {
                Some(n) => n.to_owned(),
                // Every node is cordoned (or there is none): stay Pending and look again, as a
                // scheduler retries unschedulable pods.
                None => {
                    return PodStep {
                        next_at: Some(add(now, UNSCHEDULABLE_RETRY)),
                        ..PodStep::default()
                    };
                }
            },
        };
        status.phase = Some(PHASE_PENDING.into());
        set_pod_condition(&mut status, cond("PodScheduled", true, None, now));
        set_pod_condition(&mut status, cond("Initialized", true, None, now));
        set_readiness(&mut status, false, now);
        with_containers(pod, &mut status, |c| {
            c.ready = false;
            c.started = Some(false);
            c.state = Some(ContainerState {
                waiting: Some(ContainerStateWaiting {
                    reason: Some("ContainerCreating".into()),
                    message: None,
                }),
                ..ContainerState::default()
            });
        });
        let event = AgentEvent {
            type_: "Normal",
            reason: "Scheduled",
            message: format!("Successfully assigned {name} to {target}"),
        };
        let bind_to = pod
            .spec
            .as_ref()
            .and_then(|s| s.node_name.clone())
            .is_none()
            .then(|| target.clone());
        return PodStep {
            bind_to,
            status: Some(status),
            next_at: Some(add(now, b.start_delay)),
            event: Some(event),
            ..PodStep::default()
        };
    };

    if phase == PHASE_PENDING || phase.is_empty() {
        let start_at = add(scheduled_at, b.start_delay);
        if now < start_at {
            return PodStep {
                next_at: Some(start_at),
                ..PodStep::default()
            };
        }
        // pod-ready.
        let index = cfg.nodes.iter().position(|n| *n == node).unwrap_or(0);
        let host_ip = cfg.host_ip(index);
        let pod_ip = status.pod_ip.clone().or_else(|| cluster.free_ip(cfg, &node));
        status.phase = Some(PHASE_RUNNING.into());
        status.host_ip = Some(host_ip.clone());
        status.host_ips = Some(vec![HostIP { ip: host_ip }]);
        status.pod_ips = pod_ip.clone().map(|ip| vec![PodIP { ip }]);
        status.pod_ip = pod_ip;
        status.start_time.get_or_insert(Time(now));
        set_pod_condition(&mut status, cond("Initialized", true, None, now));
        start_containers(pod, &mut status, &b, now);
        let event = AgentEvent {
            type_: "Normal",
            reason: "Started",
            message: "Started container".into(),
        };
        return PodStep {
            status: Some(status),
            next_at: next_running_stage(&b, now),
            event: Some(event),
            ..PodStep::default()
        };
    }

    running_stages(pod, status, &b, now)
}

fn start_containers(pod: &Pod, status: &mut PodStatus, b: &Behaviour, now: Timestamp) {
    let ready = !b.never_ready && b.fail_readiness_after.is_none_or(|d| d > SignedDuration::ZERO);
    with_containers(pod, status, |c| {
        c.ready = ready;
        c.started = Some(true);
        c.state = Some(ContainerState {
            running: Some(ContainerStateRunning {
                started_at: Some(Time(now)),
            }),
            ..ContainerState::default()
        });
    });
    set_readiness(status, ready, now);
}

fn next_running_stage(b: &Behaviour, started: Timestamp) -> Option<Timestamp> {
    let unready = b
        .fail_readiness_after
        .filter(|_| !b.never_ready)
        .map(|d| add(started, d));
    earliest(unready, b.crash_after.map(|d| add(started, d)))
}

fn running_stages(pod: &Pod, mut status: PodStatus, b: &Behaviour, now: Timestamp) -> PodStep {
    let name = pod.metadata.name.clone().unwrap_or_default();
    if let Some(started) = running_since(&status) {
        if let Some(crash) = b.crash_after.map(|d| add(started, d)).filter(|t| now >= *t) {
            // pod-crash.
            let mut restarts = 0;
            with_containers(pod, &mut status, |c| {
                c.restart_count += 1;
                c.ready = false;
                c.started = Some(false);
                c.last_state = Some(ContainerState {
                    terminated: Some(ContainerStateTerminated {
                        exit_code: 1,
                        reason: Some("Error".into()),
                        started_at: Some(Time(started)),
                        finished_at: Some(Time(crash)),
                        ..ContainerStateTerminated::default()
                    }),
                    ..ContainerState::default()
                });
                c.state = Some(ContainerState {
                    waiting: Some(ContainerStateWaiting {
                        reason: Some("CrashLoopBackOff".into()),
                        message: Some(format!(
                            "back-off restarting failed container {} in pod {}",
                            c.name, name
                        )),
                    }),
                    ..ContainerState::default()
                });
            });
            if let Some(c) = status.container_statuses.as_ref().and_then(|cs| cs.first()) {
                restarts = c.restart_count;
            }
            set_readiness(&mut status, false, now);
            let delay = backoff(restarts, crash.duration_since(started));
            let event = AgentEvent {
                type_: "Warning",
                reason: "BackOff",
                message: "Back-off restarting failed container".into(),
            };
            return PodStep {
                status: Some(status),
                next_at: Some(add(crash, delay)),
                event: Some(event),
                ..PodStep::default()
            };
        }
        if let Some(fail_at) = b.fail_readiness_after.map(|d| add(started, d))
            && now >= fail_at
            && pod_condition(pod, "Ready").is_some_and(|c| c.status == "True")
        {
            // pod-unready.
            with_containers(pod, &mut status, |c| c.ready = false);
            set_readiness(&mut status, false, now);
            let event = AgentEvent {
                type_: "Warning",
                reason: "Unhealthy",
                message: "Readiness probe failed".into(),
            };
            let next = b.crash_after.map(|d| add(started, d));
            return PodStep {
                status: Some(status),
                next_at: next,
                event: Some(event),
                ..PodStep::default()
            };
        }
        let ready = pod_condition(pod, "Ready").is_some_and(|c| c.status == "True");
        let unready_at = b.fail_readiness_after.filter(|_| ready).map(|d| add(started, d));
        let crash_at = b.crash_after.map(|d| add(started, d));
        let pending = [unready_at, crash_at].into_iter().flatten().filter(|t| *t > now).min();
        return PodStep {
            next_at: pending,
            ..PodStep::default()
        };
    }
    // In back-off: restart when due.
    let last = status
        .container_statuses
        .iter()
        .flatten()
        .filter_map(|c| {
            let t = c.last_state.as_ref()?.terminated.as_ref()?;
            Some((c.restart_count, t.started_at.as_ref()?.0, t.finished_at.as_ref()?.0))
        })
        .max_by_key(|(_, _, finished)| *finished);
    let Some((restarts, run_start, finished)) = last else {
        return PodStep::default();
    };
    let due = add(finished, backoff(restarts, finished.duration_since(run_start)));
    if now < due {
        return PodStep {
            next_at: Some(due),
            ..PodStep::default()
        };
    }
    start_containers(pod, &mut status, b, now);
    let event = AgentEvent {
        type_: "Normal",
        reason: "Started",
        message: "Started container".into(),
    };
    PodStep {
        status: Some(status),
        next_at: next_running_stage(b, now),
        event: Some(event),
        ..PodStep::default()
    }
}

#[cfg(test)]
#[path = "logic_tests.rs"]
mod tests;
