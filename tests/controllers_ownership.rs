//! ReplicaSet and Deployment basics with every built-in controller running on a MemoryStore, on a
//! paused clock: create, self-healing, scaling, adoption and release (B.12), and never touching
//! another controller's pods.

mod controllers_support;

use std::time::Duration;

use capstan_controllers::util::{controller_ref, is_pod_ready};
use capstan_store::DeleteParams;
use controllers_support::*;
use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::Pod;
use serde_json::json;

const MIN: Duration = Duration::from_secs(60);

#[tokio::test(start_paused = true)]
async fn a_deployment_gets_three_ready_pods_on_three_nodes() {
    let c = Cluster::start().await;
    c.create_deployment(deployment("my-app", 3, "nginx:1", json!({}))).await;
    let s = c.wait_rolled_out("my-app", 3).await;
    let rss = s.rss_of("my-app");
    assert_eq!(rss.len(), 1);
    let rs_name = rss[0].metadata.name.clone().unwrap_or_default();
    assert!(rs_name.starts_with("my-app-"), "{rs_name}");
    let mut nodes: Vec<String> = s
        .pods
        .iter()
        .map(|p| p.spec.as_ref().and_then(|s| s.node_name.clone()).unwrap_or_default())
        .collect();
    nodes.sort();
    assert_eq!(
        nodes,
        ["capstan-node-1", "capstan-node-2", "capstan-node-3"],
        "spread evenly"
    );
    for p in &s.pods {
        assert!(
            p.metadata
                .name
                .as_deref()
                .unwrap_or_default()
                .starts_with(&format!("{rs_name}-"))
        );
        assert_eq!(
            controller_ref(&p.metadata).map(|r| r.name.clone()),
            Some(rs_name.clone())
        );
    }
    let events = c.events().await;
    let msg = format!("Scaled up replica set {rs_name} to 3");
    assert!(
        events.iter().any(|e| e.message.as_deref() == Some(msg.as_str())),
        "event {msg}"
    );
    let d = s.deployment("my-app").cloned().unwrap_or_default();
    let ann = d.metadata.annotations.unwrap_or_default();
    assert_eq!(
        ann.get("deployment.kubernetes.io/revision").map(String::as_str),
        Some("1")
    );
    // The revision annotation is written with a status write: the user's generation stays 1 (A.9).
    assert_eq!(d.metadata.generation, Some(1));
    c.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_pod_deleted_by_hand_is_replaced() {
    let c = Cluster::start().await;
    c.create_deployment(deployment("web", 3, "nginx:1", json!({}))).await;
    let s = c.wait_rolled_out("web", 3).await;
    let victim = s.pods[0].metadata.name.clone().unwrap_or_default();
    c.pods()
        .delete(&victim, &DeleteParams::default())
        .await
        .expect("delete");
    c.wait("the victim is gone and 3 pods are ready again", MIN, |s| {
        s.pods
            .iter()
            .all(|p| p.metadata.name.as_deref() != Some(victim.as_str()))
            && s.rolled_out("web", 3)
    })
    .await;
    c.stop().await;
}

#[tokio::test(start_paused = true)]
async fn scaling_up_and_down_converges() {
    let c = Cluster::start().await;
    c.create_deployment(deployment("web", 2, "nginx:1", json!({}))).await;
    c.wait_rolled_out("web", 2).await;
    for n in [5, 1, 0, 3] {
        c.patch_deployment("web", json!({"spec": {"replicas": n}})).await;
        let s = c.wait_rolled_out("web", n).await;
        assert_eq!(s.rss_of("web").len(), 1, "scaling creates no new RS");
    }
    let msgs: Vec<String> = c.events().await.into_iter().filter_map(|e| e.message).collect();
    assert!(
        msgs.iter()
            .any(|m| m.starts_with("Scaled down replica set web-") && m.ends_with(" to 1")),
        "{msgs:?}"
    );
    c.stop().await;
}

fn bare_rs(name: &str, replicas: i32, app: &str) -> ReplicaSet {
    serde_json::from_value(json!({
        "metadata": {"name": name, "namespace": NS},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": app}},
            "template": {
                "metadata": {"labels": {"app": app}},
                "spec": {"containers": [{"name": "main", "image": "busybox"}]}
            }
        }
    }))
    .expect("rs")
}

fn bare_pod(name: &str, app: &str) -> Pod {
    serde_json::from_value(json!({
        "metadata": {"name": name, "namespace": NS, "labels": {"app": app}},
        "spec": {"containers": [{"name": "main", "image": "busybox"}]}
    }))
    .expect("pod")
}

#[tokio::test(start_paused = true)]
async fn a_replicaset_adopts_matching_orphans_and_releases_pods_that_stop_matching() {
    let c = Cluster::start().await;
    c.pods().create(&bare_pod("orphan-1", "cache")).await.expect("pod");
    c.pods().create(&bare_pod("orphan-2", "cache")).await.expect("pod");
    c.rss().create(&bare_rs("cache", 3, "cache")).await.expect("rs");
    let s = c
        .wait("3 pods owned by the RS, both orphans adopted", MIN, |s| {
            let owned = s
                .pods
                .iter()
                .filter(|p| controller_ref(&p.metadata).is_some_and(|r| r.name == "cache"))
                .count();
            owned == 3 && s.ready_pods() == 3
        })
        .await;
    assert_eq!(
        s.pods.len(),
        3,
        "the orphans were adopted rather than a third and fourth pod created"
    );
    let refs = s.pods[0].metadata.owner_references.clone().unwrap_or_default();
    assert_eq!(
        (refs[0].controller, refs[0].block_owner_deletion),
        (Some(true), Some(true))
    );

    // Relabel one pod: the RS releases it and creates a replacement.
    c.pods()
        .patch("orphan-1", &json!({"metadata": {"labels": {"app": "debug"}}}))
        .await
        .expect("relabel");
    c.wait("orphan-1 released, 3 matching pods again", MIN, |s| {
        let released = s.pods.iter().find(|p| p.metadata.name.as_deref() == Some("orphan-1"));
        let matching = s
            .active_pods()
            .iter()
            .filter(|p| controller_ref(&p.metadata).is_some_and(|r| r.name == "cache") && is_pod_ready(p))
            .count();
        released.is_some_and(|p| p.metadata.owner_references.is_none()) && matching == 3
    })
    .await;
    c.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_replicaset_never_touches_pods_another_controller_owns() {
    let c = Cluster::start().await;
    c.rss().create(&bare_rs("first", 2, "shared")).await.expect("rs");
    c.wait("first has 2 ready pods", MIN, |s| s.ready_pods() == 2).await;
    // A second RS with the same selector: it must create its own pods, not steal.
    c.rss().create(&bare_rs("second", 1, "shared")).await.expect("rs");
    let s = c
        .wait("second has its own pod", MIN, |s| {
            s.active_pods()
                .iter()
                .filter(|p| controller_ref(&p.metadata).is_some_and(|r| r.name == "second") && is_pod_ready(p))
                .count()
                == 1
        })
        .await;
    let by = |n: &str| {
        s.pods
            .iter()
            .filter(|p| controller_ref(&p.metadata).is_some_and(|r| r.name == n))
            .count()
    };
    assert_eq!((by("first"), by("second")), (2, 1));
    // Scale `second` to 0: only its own pod goes.
    c.rss()
        .patch("second", &json!({"spec": {"replicas": 0}}))
        .await
        .expect("scale");
    let s = c.wait("second has no pods", MIN, |s| s.active_pods().len() == 2).await;
    assert!(
        s.active_pods()
            .iter()
            .all(|p| controller_ref(&p.metadata).is_some_and(|r| r.name == "first"))
    );
    c.stop().await;
}
