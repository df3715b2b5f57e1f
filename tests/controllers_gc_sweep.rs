//! Garbage collection of the kinds the typed collectors do not follow: a custom resource (defined
//! by a CustomResourceDefinition in the store) owning a ConfigMap and a Deployment, deleted in
//! background, foreground and orphan mode; every built-in controller on a MemoryStore, paused clock.

mod controllers_support;

use std::sync::Arc;
use std::time::Duration;

use capstan_core::{ObjectKey, TypeKey};
use capstan_store::{DeleteParams, ListParams, PropagationPolicy, Store, StoreError};
use controllers_support::*;
use serde_json::{Value, json};

fn greetings() -> TypeKey {
    TypeKey::new("example.com", "v1", "Greeting", "greetings", true)
}

fn config_maps() -> TypeKey {
    capstan_core::builtin_type("v1", "ConfigMap").expect("config map kind")
}

fn deployments() -> TypeKey {
    capstan_core::builtin_type("apps/v1", "Deployment").expect("deployment kind")
}

async fn define_greetings(store: &Arc<dyn Store>) {
    // The sweep runs per Namespace object, as `capstan up` has them.
    let ns_type = capstan_core::builtin_type("v1", "Namespace").expect("namespace kind");
    store
        .create(
            &ns_type,
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "default"}}),
        )
        .await
        .expect("create namespace");
    let crd_type = capstan_core::builtin_type("apiextensions.k8s.io/v1", "CustomResourceDefinition").expect("crd");
    let crd = json!({
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "greetings.example.com"},
        "spec": {"group": "example.com", "scope": "Namespaced",
                 "names": {"plural": "greetings", "kind": "Greeting"},
                 "versions": [{"name": "v1", "served": true, "storage": true}]}
    });
    store.create(&crd_type, crd).await.expect("create crd");
}

/// A Greeting and, owned by it, a ConfigMap and a Deployment; returns the greeting's owner reference.
async fn greeting_with_children(store: &Arc<dyn Store>, name: &str) -> Value {
    let greeting = store
        .create(
            &greetings(),
            json!({"apiVersion": "example.com/v1", "kind": "Greeting",
                   "metadata": {"name": name, "namespace": "default"}, "spec": {"message": "hi"}}),
        )
        .await
        .expect("create greeting");
    let owner = json!([{"apiVersion": "example.com/v1", "kind": "Greeting", "name": name,
        "uid": greeting.meta_str("uid").expect("uid"), "controller": true, "blockOwnerDeletion": true}]);
    store
        .create(
            &config_maps(),
            json!({"apiVersion": "v1", "kind": "ConfigMap",
                   "metadata": {"name": format!("{name}-text"), "namespace": "default", "ownerReferences": owner},
                   "data": {"text": "hi"}}),
        )
        .await
        .expect("create config map");
    let mut app = deployment(&format!("{name}-app"), 1, "nginx:1", json!({}));
    app["metadata"]["ownerReferences"] = owner.clone();
    store.create(&deployments(), app).await.expect("create deployment");
    owner
}

async fn exists(store: &Arc<dyn Store>, t: &TypeKey, name: &str) -> bool {
    match store.get(t, &ObjectKey::new("default", name)).await {
        Ok(_) => true,
        Err(StoreError::NotFound { .. }) => false,
        Err(e) => panic!("get {name}: {e}"),
    }
}

async fn eventually(what: &str, mut check: impl AsyncFnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !check().await {
        assert!(tokio::time::Instant::now() < deadline, "{what} (within 10 s)");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn delete_with(policy: PropagationPolicy) -> DeleteParams {
    DeleteParams {
        propagation_policy: Some(policy),
        ..DeleteParams::default()
    }
}

#[tokio::test(start_paused = true)]
async fn children_of_a_deleted_custom_resource_are_collected_as_kubernetes_would() {
    let c = Cluster::start().await;
    let store = c.store.clone();
    define_greetings(&store).await;

    // Background: the owner goes at once, its children within a sweep.
    greeting_with_children(&store, "bg").await;
    c.wait_rolled_out("bg-app", 1).await;
    store
        .delete(
            &greetings(),
            &ObjectKey::new("default", "bg"),
            &delete_with(PropagationPolicy::Background),
        )
        .await
        .expect("delete");
    eventually("background: children collected", async || {
        !exists(&store, &config_maps(), "bg-text").await && !exists(&store, &deployments(), "bg-app").await
    })
    .await;
    eventually("background: the deployment's pods follow", async || {
        c.pods()
            .list(&ListParams::default())
            .await
            .expect("pods")
            .items
            .is_empty()
    })
    .await;

    // Foreground: the owner waits, with its finalizer, until its children are gone.
    greeting_with_children(&store, "fg").await;
    store
        .delete(
            &greetings(),
            &ObjectKey::new("default", "fg"),
            &delete_with(PropagationPolicy::Foreground),
        )
        .await
        .expect("delete");
    assert!(
        exists(&store, &greetings(), "fg").await,
        "a foreground owner waits for its children"
    );
    eventually("foreground: children then owner collected", async || {
        !exists(&store, &config_maps(), "fg-text").await
            && !exists(&store, &deployments(), "fg-app").await
            && !exists(&store, &greetings(), "fg").await
    })
    .await;

    // Orphan: the children stay, without the reference.
    greeting_with_children(&store, "or").await;
    store
        .delete(
            &greetings(),
            &ObjectKey::new("default", "or"),
            &delete_with(PropagationPolicy::Orphan),
        )
        .await
        .expect("delete");
    eventually("orphan: the owner goes", async || {
        !exists(&store, &greetings(), "or").await
    })
    .await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    let text = store
        .get(&config_maps(), &ObjectKey::new("default", "or-text"))
        .await
        .expect("an orphaned child stays");
    assert!(text.json()["metadata"]["ownerReferences"].is_null(), "{}", text.json());
    assert!(exists(&store, &deployments(), "or-app").await);
    c.stop().await;
}

/// A ConfigMap owned by the Deployment `owner`.
async fn config_map_owned_by(store: &Arc<dyn Store>, owner: &str, name: &str) {
    let d = store
        .get(&deployments(), &ObjectKey::new("default", owner))
        .await
        .expect("owner");
    let refs = json!([{"apiVersion": "apps/v1", "kind": "Deployment", "name": owner,
        "uid": d.meta_str("uid").expect("uid"), "controller": false, "blockOwnerDeletion": true}]);
    store
        .create(
            &config_maps(),
            json!({"apiVersion": "v1", "kind": "ConfigMap",
                   "metadata": {"name": name, "namespace": "default", "ownerReferences": refs}}),
        )
        .await
        .expect("create config map");
}

#[tokio::test(start_paused = true)]
async fn a_deployments_config_maps_are_released_by_orphan_and_waited_for_by_foreground() {
    let c = Cluster::start().await;
    let store = c.store.clone();
    define_greetings(&store).await;
    for name in ["kept", "waited"] {
        store
            .create(&deployments(), deployment(name, 1, "nginx:1", json!({})))
            .await
            .expect("create deployment");
        config_map_owned_by(&store, name, &format!("{name}-settings")).await;
    }

    store
        .delete(
            &deployments(),
            &ObjectKey::new("default", "kept"),
            &delete_with(PropagationPolicy::Orphan),
        )
        .await
        .expect("delete");
    eventually("orphan: the deployment goes", async || {
        !exists(&store, &deployments(), "kept").await
    })
    .await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    let settings = store
        .get(&config_maps(), &ObjectKey::new("default", "kept-settings"))
        .await
        .expect("an orphaned config map stays");
    assert!(
        settings.json()["metadata"]["ownerReferences"].is_null(),
        "{}",
        settings.json()
    );

    store
        .delete(
            &deployments(),
            &ObjectKey::new("default", "waited"),
            &delete_with(PropagationPolicy::Foreground),
        )
        .await
        .expect("delete");
    eventually("foreground: the config map, then the deployment, go", async || {
        let owner = exists(&store, &deployments(), "waited").await;
        let dependent = exists(&store, &config_maps(), "waited-settings").await;
        assert!(owner || !dependent, "the owner went before its dependent");
        !owner && !dependent
    })
    .await;
    c.stop().await;
}
