//! Deleting a Deployment with each propagation policy (B.15–B.18), every built-in controller running
//! on a MemoryStore with a paused clock.

mod controllers_support;

use std::time::Duration;

use capstan_controllers::util::controller_ref;
use capstan_store::{DeleteParams, PropagationPolicy};
use controllers_support::*;
use serde_json::json;

const WITHIN: Duration = Duration::from_secs(120);

async fn running_app(c: &Cluster) {
    c.create_deployment(deployment("web", 3, "nginx:1", json!({}))).await;
    c.wait_rolled_out("web", 3).await;
}

fn delete_with(policy: Option<PropagationPolicy>) -> DeleteParams {
    DeleteParams {
        propagation_policy: policy,
        ..DeleteParams::default()
    }
}

#[tokio::test(start_paused = true)]
async fn background_deletion_removes_the_owner_at_once_then_its_replicasets_and_pods() {
    let c = Cluster::start().await;
    running_app(&c).await;
    c.deployments().delete("web", &delete_with(None)).await.expect("delete");
    let s = c.snapshot().await;
    assert!(s.deployment("web").is_none(), "the owner disappears at once (B.16)");
    c.wait("replicasets and pods collected", WITHIN, |s| {
        s.rss.is_empty() && s.pods.is_empty()
    })
    .await;
    c.stop().await;
}

#[tokio::test(start_paused = true)]
async fn foreground_deletion_keeps_the_owner_until_its_dependents_are_gone() {
    let c = Cluster::start().await;
    running_app(&c).await;
    c.deployments()
        .delete("web", &delete_with(Some(PropagationPolicy::Foreground)))
        .await
        .expect("delete");
    let s = c.snapshot().await;
    let d = s.deployment("web").cloned().unwrap_or_default();
    assert!(d.metadata.deletion_timestamp.is_some());
    assert_eq!(d.metadata.finalizers, Some(vec!["foregroundDeletion".to_owned()]));
    // Poll until the owner is gone; at every observed moment, a removed owner means no dependents.
    let deadline = tokio::time::Instant::now() + WITHIN;
    loop {
        let s = c.snapshot().await;
        if s.deployment("web").is_none() {
            assert!(
                s.rss.is_empty() && s.pods.is_empty(),
                "owner removed before its dependents:\n{}",
                s.describe()
            );
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "timed out:\n{}", s.describe());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    c.stop().await;
}

#[tokio::test(start_paused = true)]
async fn orphan_deletion_keeps_the_replicaset_and_its_pods_running() {
    let c = Cluster::start().await;
    running_app(&c).await;
    c.deployments()
        .delete("web", &delete_with(Some(PropagationPolicy::Orphan)))
        .await
        .expect("delete");
    c.wait("owner removed", WITHIN, |s| s.deployment("web").is_none()).await;
    tokio::time::sleep(Duration::from_secs(30)).await;
    let s = c.snapshot().await;
    assert_eq!(s.rss.len(), 1, "{}", s.describe());
    assert_eq!(
        s.rss[0].metadata.owner_references, None,
        "the ownerRef to the Deployment is stripped"
    );
    assert_eq!(s.ready_pods(), 3, "the pods keep running");
    let rs_name = s.rss[0].metadata.name.clone();
    assert!(
        s.pods
            .iter()
            .all(|p| controller_ref(&p.metadata).map(|r| Some(r.name.clone())) == Some(rs_name.clone()))
    );
    c.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_pod_whose_owner_is_gone_is_collected_but_one_with_a_live_owner_is_kept() {
    let c = Cluster::start().await;
    running_app(&c).await;
    let s = c.snapshot().await;
    let rs = s.rss[0].clone();
    // A pod pointing (not as controller) at a replica set uid that never existed.
    let ghost: k8s_openapi::api::core::v1::Pod = serde_json::from_value(json!({
        "metadata": {"name": "ghost", "namespace": NS, "labels": {"app": "ghost"},
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "gone", "uid": "no-such-uid"}]},
        "spec": {"containers": [{"name": "main", "image": "busybox"}]}
    }))
    .expect("pod");
    c.pods().create(&ghost).await.expect("create");
    c.wait("ghost collected (B.15)", WITHIN, |s| {
        s.pods.iter().all(|p| p.metadata.name.as_deref() != Some("ghost"))
    })
    .await;
    let s = c.snapshot().await;
    assert_eq!(s.rss.len(), 1);
    assert_eq!(
        s.rss[0].metadata.uid, rs.metadata.uid,
        "owned objects with live owners stay"
    );
    assert_eq!(s.ready_pods(), 3);
    c.stop().await;
}
