//! Deleting a Namespace deletes its content: every built-in controller on a MemoryStore with a
//! paused clock; the namespace terminates, refuses new content, empties and disappears.

mod controllers_support;

use std::time::Duration;

use capstan_controllers::util::is_pod_ready;
use capstan_store::{Api, DeleteParams, Deleted, ListParams, StoreError};
use controllers_support::*;
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Event, Namespace, Pod};
use serde_json::json;

const TEAM: &str = "team-a";

async fn count<K: capstan_core::Resource + Clone>(c: &Cluster, ns: &str) -> usize {
    Api::<K>::namespaced(c.store.clone(), ns)
        .list(&ListParams::default())
        .await
        .expect("list")
        .items
        .len()
}

/// Deployments, ReplicaSets, Pods, Events and Leases left in `ns`.
async fn content(c: &Cluster, ns: &str) -> [usize; 5] {
    [
        count::<Deployment>(c, ns).await,
        count::<ReplicaSet>(c, ns).await,
        count::<Pod>(c, ns).await,
        count::<Event>(c, ns).await,
        count::<Lease>(c, ns).await,
    ]
}

fn in_namespace(mut manifest: serde_json::Value, ns: &str) -> serde_json::Value {
    manifest["metadata"]["namespace"] = json!(ns);
    manifest
}

fn condition_status(ns: &Namespace, type_: &str) -> Option<String> {
    ns.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == type_)
        .map(|c| c.status.clone())
}

#[tokio::test(start_paused = true)]
async fn a_deleted_namespace_refuses_new_content_empties_and_disappears_within_seconds() {
    let c = Cluster::start().await;
    let namespaces: Api<Namespace> = Api::all(c.store.clone());
    let team: Namespace = serde_json::from_value(json!({"metadata": {"name": TEAM}})).expect("namespace");
    namespaces.create(&team).await.expect("create namespace");
    let deployments: Api<Deployment> = Api::namespaced(c.store.clone(), TEAM);
    let web: Deployment =
        serde_json::from_value(in_namespace(deployment("web", 3, "nginx:1", json!({})), TEAM)).expect("deployment");
    deployments.create(&web).await.expect("create deployment");
    let lease: Lease =
        serde_json::from_value(json!({"metadata": {"name": "lock", "namespace": TEAM}, "spec": {}})).expect("lease");
    Api::<Lease>::namespaced(c.store.clone(), TEAM)
        .create(&lease)
        .await
        .expect("create lease");
    // The same app in another namespace must survive.
    c.create_deployment(deployment("web", 2, "nginx:1", json!({}))).await;

    let pods: Api<Pod> = Api::namespaced(c.store.clone(), TEAM);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let list = pods.list(&ListParams::default()).await.expect("list");
        if list.items.iter().filter(|p| is_pod_ready(p)).count() == 3 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "pods of {TEAM}/web never became ready"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    c.wait_rolled_out("web", 2).await;
    assert!(
        content(&c, TEAM).await[3] > 0,
        "the controllers recorded events in {TEAM}"
    );

    let started = tokio::time::Instant::now();
    match namespaces.delete(TEAM, &DeleteParams::default()).await.expect("delete") {
        Deleted::Pending(ns) => {
            assert!(ns.metadata.deletion_timestamp.is_some());
            assert_eq!(ns.status.as_ref().and_then(|s| s.phase.as_deref()), Some("Terminating"));
        }
        Deleted::Gone(_) => panic!("the namespace disappeared before its content"),
    }
    let late: Deployment =
        serde_json::from_value(in_namespace(deployment("late", 1, "nginx:1", json!({})), TEAM)).expect("deployment");
    match deployments.create(&late).await {
        Err(StoreError::NamespaceTerminating { key, .. }) => assert_eq!(key.namespace, TEAM),
        other => panic!("a create into a terminating namespace must be refused, got {other:?}"),
    }

    let mut saw_content_remaining = false;
    loop {
        match namespaces.get_opt(TEAM).await.expect("get namespace") {
            None => break,
            Some(ns) => {
                saw_content_remaining |= condition_status(&ns, "NamespaceContentRemaining").as_deref() == Some("True");
            }
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "namespace still there after 5 s; left: {:?} (deployments, replicasets, pods, events, leases)",
            content(&c, TEAM).await
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(content(&c, TEAM).await, [0; 5], "the namespace went before its content");
    assert!(
        saw_content_remaining,
        "while graceful pods were going, the namespace said NamespaceContentRemaining"
    );
    let s = c.snapshot().await;
    assert!(
        s.rolled_out("web", 2),
        "another namespace is untouched:\n{}",
        s.describe()
    );

    // The name can be used again at once.
    namespaces.create(&team).await.expect("create the namespace again");
    deployments.create(&late).await.expect("create into the new namespace");
    c.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_deleted_namespace_loses_its_custom_objects_and_config_maps_too() {
    let c = Cluster::start().await;
    let store = c.store.clone();
    let crd_type = capstan_core::builtin_type("apiextensions.k8s.io/v1", "CustomResourceDefinition").expect("crd kind");
    let crd = json!({
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "greetings.example.com"},
        "spec": {"group": "example.com", "scope": "Namespaced",
                 "names": {"plural": "greetings", "kind": "Greeting"},
                 "versions": [{"name": "v1", "served": true, "storage": true},
                              {"name": "v2", "served": true, "storage": false}]}
    });
    store.create(&crd_type, crd).await.expect("create crd");
    let namespaces: Api<Namespace> = Api::all(store.clone());
    let team: Namespace = serde_json::from_value(json!({"metadata": {"name": TEAM}})).expect("namespace");
    namespaces.create(&team).await.expect("create namespace");
    let greetings = |version: &str| capstan_core::TypeKey::new("example.com", version, "Greeting", "greetings", true);
    for (version, name) in [("v1", "hello"), ("v2", "hi")] {
        let greeting = json!({"apiVersion": format!("example.com/{version}"), "kind": "Greeting",
            "metadata": {"name": name, "namespace": TEAM}, "spec": {"message": "hello"}});
        store
            .create(&greetings(version), greeting)
            .await
            .expect("create greeting");
    }
    let config: k8s_openapi::api::core::v1::ConfigMap =
        serde_json::from_value(json!({"metadata": {"name": "settings", "namespace": TEAM}, "data": {"a": "1"}}))
            .expect("config map");
    Api::namespaced(store.clone(), TEAM)
        .create(&config)
        .await
        .expect("create config map");

    namespaces.delete(TEAM, &DeleteParams::default()).await.expect("delete");
    let started = tokio::time::Instant::now();
    while namespaces.get_opt(TEAM).await.expect("get namespace").is_some() {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "namespace still there after 5 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let in_team = ListParams {
        namespace: Some(TEAM.into()),
        ..ListParams::default()
    };
    for version in ["v1", "v2"] {
        let left = store.list(&greetings(version), &in_team).await.expect("list greetings");
        assert!(left.items.is_empty(), "greetings ({version}) outlived their namespace");
    }
    assert_eq!(count::<k8s_openapi::api::core::v1::ConfigMap>(&c, TEAM).await, 0);
    c.stop().await;
}

#[tokio::test(start_paused = true)]
async fn every_active_namespace_gets_a_default_service_account() {
    let c = Cluster::start().await;
    let namespaces: Api<Namespace> = Api::all(c.store.clone());
    let team: Namespace = serde_json::from_value(json!({"metadata": {"name": "team-b"}})).expect("namespace");
    namespaces.create(&team).await.expect("create namespace");
    let accounts: Api<k8s_openapi::api::core::v1::ServiceAccount> = Api::namespaced(c.store.clone(), "team-b");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while accounts.get_opt("default").await.expect("get").is_none() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no default service account in team-b"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    c.stop().await;
}
