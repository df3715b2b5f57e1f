//! Rollouts with every built-in controller on a MemoryStore and a paused clock: RollingUpdate with
//! the E.44 bounds checked at every pod event, Recreate (F.46), pause (G.47–G.48), rollback (G.49),
//! cleanup (G.51), proportional scaling (D.39), the progress deadline (H.54) and minReadySeconds.

mod controllers_support;

use std::time::Duration;

use capstan_controllers::util::{annotation, is_pod_ready};
use controllers_support::*;
use k8s_openapi::api::apps::v1::Deployment;
use serde_json::{Value, json};

const MIN: Duration = Duration::from_secs(60);

fn image_of(p: &k8s_openapi::api::core::v1::Pod) -> String {
    p.spec
        .as_ref()
        .and_then(|s| s.containers.first())
        .and_then(|c| c.image.clone())
        .unwrap_or_default()
}

fn progressing_reason(d: &Deployment) -> Option<String> {
    d.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == "Progressing")?
        .reason
        .clone()
}

/// One rolling-update scenario: the strategy, the bounds it promises, and whether old and new pods
/// may coexist.
struct Rollout {
    replicas: i32,
    strategy: Value,
    max_total: usize,
    min_available: usize,
    exclusive: bool,
}

/// Rolls `web` from nginx:1 to nginx:2 under `case` and checks, at every pod event, the bounds;
/// at the end: all pods new and Ready, the old RS at 0, revisions 1 and 2 as Kubernetes numbers them.
async fn check(case: Rollout) {
    let c = Cluster::start().await;
    let extra = json!({"strategy": case.strategy});
    c.create_deployment(deployment("web", case.replicas, "nginx:1", extra))
        .await;
    c.wait_rolled_out("web", case.replicas).await;
    let watcher = BoundsWatcher::start_checked(&c.store, case.max_total, case.min_available, case.exclusive).await;
    c.patch_deployment(
        "web",
        json!({"spec": {"template": {"spec": {"containers": [{"name": "main", "image": "nginx:2"}]}}}}),
    )
    .await;
    let s = c
        .wait("rolled out to nginx:2", Duration::from_secs(300), |s| {
            s.rolled_out("web", case.replicas) && s.active_pods().iter().all(|p| image_of(p) == "nginx:2")
        })
        .await;
    let steps = watcher.assert_held();
    assert!(
        steps >= usize::try_from(case.replicas).unwrap_or(0) * 2,
        "observed {steps} steps"
    );
    let table: Vec<(i32, String)> = s.rs_table("web").into_iter().map(|(_, n, r)| (n, r)).collect();
    assert_eq!(table, [(0, "1".to_owned()), (case.replicas, "2".to_owned())]);
    let d = s.deployment("web").cloned().unwrap_or_default();
    assert_eq!(annotation(&d.metadata, "deployment.kubernetes.io/revision"), Some("2"));
    assert_eq!(progressing_reason(&d).as_deref(), Some("NewReplicaSetAvailable"));
    c.stop().await;
}

#[tokio::test(start_paused = true)]
async fn rolling_update_with_defaults_keeps_both_bounds() {
    // 4 replicas, 25%/25%: surge 1 (rounded up), unavailable 1 (rounded down).
    check(Rollout {
        replicas: 4,
        strategy: json!({"type": "RollingUpdate"}),
        max_total: 5,
        min_available: 3,
        exclusive: false,
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn rolling_update_with_max_surge_zero_never_adds_a_pod() {
    check(Rollout {
        replicas: 3,
        strategy: json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 1}}),
        max_total: 3,
        min_available: 2,
        exclusive: false,
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn rolling_update_with_max_unavailable_zero_never_loses_a_pod() {
    check(Rollout {
        replicas: 3,
        strategy: json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}),
        max_total: 4,
        min_available: 3,
        exclusive: false,
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn recreate_removes_every_old_pod_before_creating_new_ones() {
    check(Rollout {
        replicas: 3,
        strategy: json!({"type": "Recreate"}),
        max_total: 3,
        min_available: 0,
        exclusive: true,
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn paused_deployments_scale_but_do_not_roll_out_until_resumed() {
    let c = Cluster::start().await;
    c.create_deployment(deployment("web", 2, "nginx:1", json!({}))).await;
    c.wait_rolled_out("web", 2).await;
    c.patch_deployment("web", json!({"spec": {"paused": true}})).await;
    c.patch_deployment(
        "web",
        json!({"spec": {"replicas": 4, "template": {"spec": {"containers": [{"name": "main", "image": "nginx:2"}]}}}}),
    )
    .await;
    let s = c
        .wait("scaled to 4 while paused", MIN, |s| {
            s.ready_pods() == 4
                && s.deployment("web")
                    .is_some_and(|d| d.status.as_ref().and_then(|st| st.observed_generation) == d.metadata.generation)
        })
        .await;
    tokio::time::sleep(Duration::from_secs(30)).await;
    let s2 = c.snapshot().await;
    for snap in [&s, &s2] {
        assert_eq!(snap.rss_of("web").len(), 1, "no new RS while paused");
        assert!(snap.active_pods().iter().all(|p| image_of(p) == "nginx:1"));
    }
    let d = s2.deployment("web").cloned().unwrap_or_default();
    assert_eq!(annotation(&d.metadata, "deployment.kubernetes.io/revision"), Some("1"));
    assert_eq!(d.status.as_ref().and_then(|st| st.updated_replicas), Some(0));
    assert_eq!(progressing_reason(&d).as_deref(), Some("DeploymentPaused"));

    c.patch_deployment("web", json!({"spec": {"paused": false}})).await;
    let s = c
        .wait("rolled out after resume", Duration::from_secs(300), |s| {
            s.rolled_out("web", 4) && s.active_pods().iter().all(|p| image_of(p) == "nginx:2")
        })
        .await;
    let d = s.deployment("web").cloned().unwrap_or_default();
    assert_eq!(annotation(&d.metadata, "deployment.kubernetes.io/revision"), Some("2"));
    c.stop().await;
}

#[tokio::test(start_paused = true)]
async fn rollback_to_the_previous_revision_promotes_it_to_a_new_revision() {
    let c = Cluster::start().await;
    c.create_deployment(deployment("web", 2, "nginx:1", json!({}))).await;
    c.wait_rolled_out("web", 2).await;
    let set_image = |i: &str| json!({"spec": {"template": {"spec": {"containers": [{"name": "main", "image": i}]}}}});
    c.patch_deployment("web", set_image("nginx:2")).await;
    c.wait("rev 2 out", Duration::from_secs(300), |s| {
        s.rolled_out("web", 2) && s.active_pods().iter().all(|p| image_of(p) == "nginx:2")
    })
    .await;
    c.patch_deployment(
        "web",
        json!({"metadata": {"annotations": {"deprecated.deployment.rollback.to": "0"}}}),
    )
    .await;
    let s = c
        .wait("rolled back to nginx:1", Duration::from_secs(300), |s| {
            s.rolled_out("web", 2) && s.active_pods().iter().all(|p| image_of(p) == "nginx:1")
        })
        .await;
    let table: Vec<(i32, String)> = s.rs_table("web").into_iter().map(|(_, n, r)| (n, r)).collect();
    assert_eq!(
        table,
        [(0, "2".to_owned()), (2, "3".to_owned())],
        "revision 1 came back as revision 3"
    );
    let (first, _, _) = s.rs_table("web")[1].clone();
    let rs = s
        .rss
        .iter()
        .find(|r| r.metadata.name.as_deref() == Some(first.as_str()))
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        annotation(&rs.metadata, "deployment.kubernetes.io/revision-history"),
        Some("1")
    );
    let d = s.deployment("web").cloned().unwrap_or_default();
    assert_eq!(annotation(&d.metadata, "deployment.kubernetes.io/revision"), Some("3"));
    assert_eq!(annotation(&d.metadata, "deprecated.deployment.rollback.to"), None);
    let events = c.events().await;
    assert!(events.iter().any(|e| e.reason.as_deref() == Some("DeploymentRollback")
        && e.message.as_deref() == Some("Rolled back deployment \"web\" to revision 1")));
    c.stop().await;
}

#[tokio::test(start_paused = true)]
async fn old_replica_sets_beyond_the_history_limit_are_deleted() {
    let c = Cluster::start().await;
    c.create_deployment(deployment("web", 1, "nginx:1", json!({"revisionHistoryLimit": 1})))
        .await;
    c.wait_rolled_out("web", 1).await;
    for (i, image) in ["nginx:2", "nginx:3", "nginx:4"].into_iter().enumerate() {
        c.patch_deployment(
            "web",
            json!({"spec": {"template": {"spec": {"containers": [{"name": "main", "image": image}]}}}}),
        )
        .await;
        let rev = (i + 2).to_string();
        c.wait(
            &format!("{image} out, history trimmed"),
            Duration::from_secs(300),
            |s| {
                let table = s.rs_table("web");
                s.rolled_out("web", 1)
                    && s.active_pods().iter().all(|p| image_of(p) == image)
                    && table.len() == 2
                    && table.last().is_some_and(|(_, _, r)| *r == rev)
            },
        )
        .await;
    }
    c.stop().await;
}

#[tokio::test(start_paused = true)]
async fn scaling_mid_rollout_spreads_new_replicas_proportionally() {
    let c = Cluster::start().await;
    let strategy =
        json!({"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 3, "maxUnavailable": 2}}});
    c.create_deployment(deployment("web", 10, "nginx:1", strategy)).await;
    c.wait_rolled_out("web", 10).await;
    // The new template never becomes ready, so the rollout stalls half-way.
    c.patch_deployment(
        "web",
        json!({"spec": {"template": {
            "metadata": {"annotations": {"capstan.dev/never-ready": "true"}},
            "spec": {"containers": [{"name": "main", "image": "nginx:bad"}]}}}}),
    )
    .await;
    c.wait("stalled at old 8, new 5", MIN, |s| {
        s.rs_table("web").iter().map(|(_, n, _)| *n).collect::<Vec<_>>() == [8, 5]
    })
    .await;
    c.patch_deployment("web", json!({"spec": {"replicas": 15}})).await;
    // allowed = 15 + 3 = 18, 5 to add: old 8·18/13 ≈ 11 (+3), new 5·18/13 ≈ 7 (+2) (D.39).
    let s = c
        .wait("scaled proportionally", MIN, |s| {
            s.rs_table("web").iter().map(|(_, n, _)| *n).collect::<Vec<_>>() == [11, 7]
        })
        .await;
    for rs in s.rss_of("web") {
        assert_eq!(
            annotation(&rs.metadata, "deployment.kubernetes.io/desired-replicas"),
            Some("15")
        );
        assert_eq!(
            annotation(&rs.metadata, "deployment.kubernetes.io/max-replicas"),
            Some("18")
        );
    }
    c.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_rollout_whose_pods_never_become_ready_exceeds_its_progress_deadline() {
    let c = Cluster::start().await;
    c.create_deployment(deployment("web", 2, "nginx:1", json!({"progressDeadlineSeconds": 30})))
        .await;
    c.wait_rolled_out("web", 2).await;
    let start = tokio::time::Instant::now();
    c.patch_deployment(
        "web",
        json!({"spec": {"template": {
            "metadata": {"annotations": {"capstan.dev/never-ready": "true"}},
            "spec": {"containers": [{"name": "main", "image": "nginx:bad"}]}}}}),
    )
    .await;
    let s = c
        .wait("ProgressDeadlineExceeded", Duration::from_secs(120), |s| {
            s.deployment("web").and_then(progressing_reason).as_deref() == Some("ProgressDeadlineExceeded")
        })
        .await;
    assert!(
        start.elapsed() >= Duration::from_secs(30),
        "not before the deadline: {:?}",
        start.elapsed()
    );
    let d = s.deployment("web").cloned().unwrap_or_default();
    let cond = d.status.and_then(|st| st.conditions).unwrap_or_default();
    let p = cond
        .iter()
        .find(|c| c.type_ == "Progressing")
        .cloned()
        .unwrap_or_default();
    assert_eq!(p.status, "False");
    assert!(p.message.unwrap_or_default().ends_with("has timed out progressing."));
    assert!(s.ready_pods() >= 1, "old pods keep serving");
    c.stop().await;
}

#[tokio::test(start_paused = true)]
async fn pods_count_as_available_only_after_min_ready_seconds() {
    let c = Cluster::start().await;
    c.create_deployment(deployment("web", 2, "nginx:1", json!({"minReadySeconds": 10})))
        .await;
    let s = c.wait("2 pods ready", MIN, |s| s.ready_pods() == 2).await;
    let ready_at = tokio::time::Instant::now();
    let available = |s: &Snapshot| {
        s.deployment("web")
            .and_then(|d| d.status.as_ref()?.available_replicas)
            .unwrap_or(0)
    };
    assert_eq!(available(&s), 0, "ready is not yet available");
    c.wait("2 available", MIN, |s| available(s) == 2).await;
    let waited = ready_at.elapsed();
    assert!(waited >= Duration::from_secs(9), "available after {waited:?}");
    assert!(waited <= Duration::from_secs(14), "available after {waited:?}");
    assert!(c.snapshot().await.pods.iter().all(is_pod_ready));
    c.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_selector_that_does_not_match_the_template_is_rejected() {
    let c = Cluster::start().await;
    let mut d = deployment("web", 1, "nginx:1", json!({}));
    d["spec"]["selector"] = json!({"matchLabels": {"app": "other"}});
    let d: Deployment = serde_json::from_value(d).expect("json");
    let err = c.deployments().create(&d).await.expect_err("must be rejected");
    assert_eq!(err.http_status(), 422);
    assert!(err.to_string().contains("does not match template"), "{err}");
    assert!(c.snapshot().await.deployments.is_empty(), "nothing was written");
    c.stop().await;
}
