//! Tests of [`super`]: I.59–I.63, J.65–J.66.

use super::*;
use crate::nodeagent::behaviour::{
    CRASH_AFTER_ANNOTATION, FAIL_READINESS_AFTER_ANNOTATION, NEVER_READY_ANNOTATION, START_DELAY_ANNOTATION,
};
use crate::util::testing::{meta, ts};
use crate::util::{is_pod_ready, set_annotation};
use k8s_openapi::api::core::v1::{Container, PodSpec};

fn new_pod(name: &str) -> Pod {
    Pod {
        metadata: meta(name, &format!("uid-{name}")),
        spec: Some(PodSpec {
            containers: vec![Container {
                name: "app".into(),
                image: Some("nginx".into()),
                ..Default::default()
            }],
            ..Default::default()
        }),
        status: None,
    }
}

/// Applies one step to the pod, as the reconciler would.
fn apply(pod: &mut Pod, s: &PodStep) {
    if let Some(n) = &s.bind_to
        && let Some(spec) = pod.spec.as_mut()
    {
        spec.node_name = Some(n.clone());
    }
    if let Some(st) = &s.status {
        pod.status = Some(st.clone());
    }
}

/// Runs the agent on one pod from `t` until nothing is due before `until`; returns the last step.
fn run(pod: &mut Pod, mut t: Timestamp, until: Timestamp, cfg: &AgentConfig) -> PodStep {
    let mut last = PodStep::default();
    for _ in 0..200 {
        let s = step(pod, t, &ClusterView::from_pods([&*pod]), cfg);
        apply(pod, &s);
        last = s.clone();
        match s.next_at {
            Some(n) if n <= until && !s.delete_now => t = n.max(t),
            _ => break,
        }
    }
    last
}

fn container(pod: &Pod) -> ContainerStatus {
    pod.status
        .as_ref()
        .and_then(|s| s.container_statuses.clone())
        .unwrap_or_default()
        .first()
        .cloned()
        .unwrap_or_default()
}

fn cond_time(pod: &Pod, t: &str) -> Option<Timestamp> {
    pod_condition(pod, t)
        .and_then(|c| c.last_transition_time.as_ref())
        .map(|t| t.0)
}

#[test]
fn j66_pod_create_binds_and_reports_pending_container_creating() {
    let cfg = AgentConfig::default();
    let p = new_pod("a");
    let s = step(&p, ts(0), &ClusterView::default(), &cfg);
    assert_eq!(s.bind_to.as_deref(), Some("capstan-node-1"));
    let st = s.status.clone().unwrap_or_default();
    assert_eq!(st.phase.as_deref(), Some("Pending"));
    let mut bound = p.clone();
    apply(&mut bound, &s);
    assert_eq!(
        pod_condition(&bound, "PodScheduled").map(|c| c.status.as_str()),
        Some("True")
    );
    assert_eq!(
        pod_condition(&bound, "Ready").and_then(|c| c.reason.as_deref()),
        Some("ContainersNotReady")
    );
    let waiting = container(&bound).state.and_then(|s| s.waiting).and_then(|w| w.reason);
    assert_eq!(waiting.as_deref(), Some("ContainerCreating"));
    assert_eq!(s.next_at, Some(ts(1)), "default start delay is one second");
    assert_eq!(s.event.map(|e| e.reason), Some("Scheduled"));
}

#[test]
fn i60_j66_default_pod_is_running_and_ready_within_a_second() {
    let cfg = AgentConfig::default();
    let mut p = new_pod("a");
    run(&mut p, ts(0), ts(1), &cfg);
    let st = p.status.clone().unwrap_or_default();
    assert_eq!(st.phase.as_deref(), Some("Running"));
    assert_eq!(st.pod_ip.as_deref(), Some("10.244.0.2"));
    assert_eq!(st.host_ip.as_deref(), Some("10.0.0.10"));
    assert_eq!(st.start_time, Some(Time(ts(1))));
    assert!(is_pod_ready(&p));
    for t in ["Initialized", "ContainersReady", "Ready", "PodScheduled"] {
        assert_eq!(pod_condition(&p, t).map(|c| c.status.as_str()), Some("True"), "{t}");
    }
    assert_eq!(cond_time(&p, "Ready"), Some(ts(1)));
    let c = container(&p);
    assert!(c.ready && c.state.and_then(|s| s.running).is_some());
    let idle = step(&p, ts(100), &ClusterView::default(), &cfg);
    assert_eq!(idle, PodStep::default(), "nothing more to do");
}

#[test]
fn start_delay_annotation_holds_the_pod_pending() {
    let cfg = AgentConfig::default();
    let mut p = new_pod("a");
    set_annotation(&mut p.metadata, START_DELAY_ANNOTATION, "5s");
    run(&mut p, ts(0), ts(4), &cfg);
    assert_eq!(
        p.status.as_ref().and_then(|s| s.phase.clone()).as_deref(),
        Some("Pending")
    );
    run(&mut p, ts(4), ts(5), &cfg);
    assert!(is_pod_ready(&p));
}

#[test]
fn i61_never_ready_pods_run_without_becoming_ready() {
    let cfg = AgentConfig::default();
    let mut p = new_pod("a");
    set_annotation(&mut p.metadata, NEVER_READY_ANNOTATION, "true");
    let last = run(&mut p, ts(0), ts(1000), &cfg);
    assert_eq!(
        p.status.as_ref().and_then(|s| s.phase.clone()).as_deref(),
        Some("Running")
    );
    assert!(!is_pod_ready(&p));
    assert!(!container(&p).ready);
    assert_eq!(last.next_at, None);
}

#[test]
fn i61_readiness_failure_turns_ready_false_without_restart() {
    let cfg = AgentConfig::default();
    let mut p = new_pod("a");
    set_annotation(&mut p.metadata, FAIL_READINESS_AFTER_ANNOTATION, "10s");
    run(&mut p, ts(0), ts(5), &cfg);
    assert!(is_pod_ready(&p));
    run(&mut p, ts(5), ts(11), &cfg);
    assert!(!is_pod_ready(&p));
    assert_eq!(cond_time(&p, "Ready"), Some(ts(11)), "flip at start (1s) + 10s");
    assert_eq!(container(&p).restart_count, 0);
    let again = step(&p, ts(50), &ClusterView::default(), &cfg);
    assert_eq!(
        again.status, None,
        "lastTransitionTime changes only when the status flips"
    );
}

#[test]
fn i62_crash_loop_backs_off_from_10s_doubling() {
    let cfg = AgentConfig::default();
    let mut p = new_pod("a");
    set_annotation(&mut p.metadata, CRASH_AFTER_ANNOTATION, "5s");
    // Running at 1s, crash at 6s.
    let s = run(&mut p, ts(0), ts(6), &cfg);
    let c = container(&p);
    assert_eq!(c.restart_count, 1);
    assert_eq!(
        c.state.and_then(|s| s.waiting).and_then(|w| w.reason).as_deref(),
        Some("CrashLoopBackOff")
    );
    let term = c.last_state.and_then(|s| s.terminated).unwrap_or_default();
    assert_eq!((term.exit_code, term.finished_at), (1, Some(Time(ts(6)))));
    assert!(!is_pod_ready(&p));
    assert_eq!(s.next_at, Some(ts(16)), "first back-off 10s");
    // Restart at 16s, crash at 21s, second back-off 20s: restart at 41s.
    let s = run(&mut p, ts(16), ts(21), &cfg);
    assert_eq!(container(&p).restart_count, 2);
    assert_eq!(s.next_at, Some(ts(41)));
    run(&mut p, ts(41), ts(41), &cfg);
    assert!(is_pod_ready(&p), "running and ready again after the back-off");
}

#[test]
fn i62_backoff_caps_at_five_minutes_and_resets_after_long_runs() {
    let short = SignedDuration::from_secs(5);
    let got: Vec<i64> = (1..=7).map(|n| backoff(n, short).as_secs()).collect();
    assert_eq!(got, vec![10, 20, 40, 80, 160, 300, 300]);
    assert_eq!(backoff(9, SignedDuration::from_secs(600)).as_secs(), 10);
}

#[test]
fn i63_graceful_delete_stops_containers_then_removes_the_pod() {
    let cfg = AgentConfig::default();
    let mut p = new_pod("a");
    run(&mut p, ts(0), ts(2), &cfg);
    p.metadata.deletion_timestamp = Some(Time(ts(32)));
    let s = step(&p, ts(3), &ClusterView::default(), &cfg);
    assert_eq!(s.event.as_ref().map(|e| e.reason), Some("Killing"));
    assert!(!s.delete_now);
    apply(&mut p, &s);
    assert!(!is_pod_ready(&p));
    assert!(container(&p).state.and_then(|s| s.terminated).is_some());
    assert_eq!(s.next_at, Some(ts(4)), "removed one second after stopping");
    assert!(!step(&p, ts(3), &ClusterView::default(), &cfg).delete_now);
    assert!(step(&p, ts(4), &ClusterView::default(), &cfg).delete_now);
}

#[test]
fn i63_removal_never_later_than_the_deadline_and_at_it_without_delay() {
    let mut cfg = AgentConfig::default();
    let mut p = new_pod("a");
    run(&mut p, ts(0), ts(2), &cfg);
    p.metadata.deletion_timestamp = Some(Time(ts(3)));
    cfg.termination_delay = Some(SignedDuration::from_secs(60));
    let s = step(&p, ts(2), &ClusterView::default(), &cfg);
    assert_eq!(s.next_at, Some(ts(3)));
    cfg.termination_delay = None;
    p.metadata.deletion_timestamp = Some(Time(ts(30)));
    let s = step(&p, ts(2), &ClusterView::default(), &cfg);
    assert_eq!(s.next_at, Some(ts(30)));
}

#[test]
fn i63_unscheduled_or_terminal_pods_are_removed_immediately() {
    let cfg = AgentConfig::default();
    let mut p = new_pod("a");
    p.metadata.deletion_timestamp = Some(Time(ts(30)));
    assert!(step(&p, ts(0), &ClusterView::default(), &cfg).delete_now);
    let mut done = new_pod("b");
    run(&mut done, ts(0), ts(2), &cfg);
    if let Some(s) = done.status.as_mut() {
        s.phase = Some("Succeeded".into());
    }
    done.metadata.deletion_timestamp = Some(Time(ts(30)));
    assert!(step(&done, ts(3), &ClusterView::default(), &cfg).delete_now);
}

#[test]
fn pods_are_spread_evenly_over_the_nodes() {
    let cfg = AgentConfig::default();
    let mut view = ClusterView::default();
    let mut counts = std::collections::BTreeMap::new();
    for i in 0..6 {
        let s = step(&new_pod(&format!("p{i}")), ts(0), &view, &cfg);
        let node = s.bind_to.unwrap_or_default();
        view.record_bind(&node);
        *counts.entry(node).or_insert(0) += 1;
    }
    assert_eq!(counts.values().copied().collect::<Vec<_>>(), vec![2, 2, 2]);
}

#[test]
fn a_pod_waits_pending_while_every_node_is_cordoned_and_is_looked_at_again() {
    let cfg = AgentConfig::with_nodes(2);
    let pod = new_pod("p");
    let all_cordoned = ClusterView {
        unschedulable: cfg.nodes.iter().cloned().collect(),
        ..ClusterView::default()
    };
    let t = ts(100);
    let s = step(&pod, t, &all_cordoned, &cfg);
    assert_eq!(s.bind_to, None);
    assert_eq!(s.status, None);
    assert_eq!(s.next_at, Some(add(t, UNSCHEDULABLE_RETRY)));
    let one_free = ClusterView {
        unschedulable: [cfg.nodes[0].clone()].into(),
        ..ClusterView::default()
    };
    assert_eq!(
        step(&pod, t, &one_free, &cfg).bind_to.as_deref(),
        Some(cfg.nodes[1].as_str())
    );
}
