//! Unit tests of the engine through the `Store` trait.

use std::time::Duration;

use capstan_core::{LabelSelector, ObjectKey, TypeKey};
use futures::StreamExt;
use serde_json::{Value, json};

use super::*;
use crate::params::{Preconditions, PropagationPolicy};

fn pods() -> TypeKey {
    TypeKey::new("", "v1", "Pod", "pods", true)
}

fn deployments() -> TypeKey {
    TypeKey::new("apps", "v1", "Deployment", "deployments", true)
}

fn widgets() -> TypeKey {
    TypeKey::new("example.com", "v1", "Widget", "widgets", true)
}

fn widget(name: &str, labels: Value) -> Value {
    json!({"metadata": {"name": name, "namespace": "ns", "labels": labels}, "spec": {"size": 1}})
}

fn pod(name: &str, node: Option<&str>) -> Value {
    let mut spec = json!({"containers": [{"name": "c", "image": "nginx"}]});
    if let Some(node) = node {
        spec["nodeName"] = json!(node);
    }
    json!({"metadata": {"name": name, "namespace": "ns"}, "spec": spec})
}

fn deployment(name: &str, app: &str) -> Value {
    json!({
        "metadata": {"name": name, "namespace": "ns"},
        "spec": {
            "selector": {"matchLabels": {"app": app}},
            "template": {
                "metadata": {"labels": {"app": app}},
                "spec": {"containers": [{"name": "c", "image": "nginx"}]}
            }
        }
    })
}

fn key(name: &str) -> ObjectKey {
    ObjectKey::new("ns", name)
}

async fn next_event(stream: &mut WatchStream) -> WatchEvent {
    match tokio::time::timeout(Duration::from_secs(5), stream.next()).await {
        Ok(Some(Ok(event))) => event,
        other => panic!("expected an event, got {other:?}"),
    }
}

#[tokio::test]
async fn create_sets_identity_generation_and_revision() {
    let store = MemoryStore::new();
    let a = store.create(&widgets(), widget("a", json!({}))).await.unwrap();
    let b = store.create(&widgets(), widget("b", json!({}))).await.unwrap();
    assert_eq!((a.revision(), b.revision()), (1, 2));
    assert_eq!(a.meta_str("resourceVersion"), Some("1"));
    assert_eq!(a.json()["metadata"]["generation"], 1);
    assert!(a.meta_str("creationTimestamp").is_some());
    assert_ne!(a.meta_str("uid"), b.meta_str("uid"));
    assert_eq!(a.json()["apiVersion"], "example.com/v1");
    let err = store.create(&widgets(), widget("a", json!({}))).await.unwrap_err();
    assert!(matches!(err, StoreError::AlreadyExists { .. }), "{err}");
    assert_eq!(store.current_revision().await.unwrap(), 2);
}

#[tokio::test]
async fn generate_name_appends_five_characters() {
    let store = MemoryStore::new();
    let obj = json!({"metadata": {"generateName": "web-", "namespace": "ns"}});
    let a = store.create(&widgets(), obj.clone()).await.unwrap();
    let b = store.create(&widgets(), obj).await.unwrap();
    assert!(
        a.key().name.starts_with("web-") && a.key().name.len() == 9,
        "{}",
        a.key()
    );
    assert_ne!(a.key(), b.key());
}

#[tokio::test]
async fn namespaced_kind_without_namespace_is_a_bad_request() {
    let store = MemoryStore::new();
    let err = store
        .create(&widgets(), json!({"metadata": {"name": "a"}}))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::BadRequest(_)), "{err}");
    assert_eq!(store.current_revision().await.unwrap(), 0);
}

#[tokio::test]
async fn stale_resource_version_conflicts_and_changes_nothing() {
    let store = MemoryStore::new();
    let a = store.create(&widgets(), widget("a", json!({}))).await.unwrap();
    let mut v1 = a.json().clone();
    v1["spec"]["size"] = json!(2);
    let b = store.update(&widgets(), v1.clone(), Subresource::Main).await.unwrap();
    assert_eq!(b.json()["metadata"]["generation"], 2);
    v1["spec"]["size"] = json!(3);
    let err = store.update(&widgets(), v1, Subresource::Main).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict { .. }), "{err}");
    let now = store.get(&widgets(), &key("a")).await.unwrap();
    assert_eq!(now.revision(), b.revision());
    assert_eq!(now.json()["spec"]["size"], 2);
}

#[tokio::test]
async fn status_writes_touch_only_status_and_never_bump_generation() {
    let store = MemoryStore::new();
    let a = store.create(&widgets(), widget("a", json!({}))).await.unwrap();
    let mut s = a.json().clone();
    s["status"] = json!({"ready": true});
    s["spec"]["size"] = json!(9);
    s["metadata"]["labels"] = json!({"sneaky": "yes"});
    let b = store.update(&widgets(), s, Subresource::Status).await.unwrap();
    assert_eq!(b.json()["status"], json!({"ready": true}));
    assert_eq!(b.json()["spec"]["size"], 1);
    assert!(b.json()["metadata"].get("labels").is_none(), "labels unchanged (empty)");
    assert_eq!(b.json()["metadata"]["generation"], 1);
    // A main update keeps the stored status whatever it sends.
    let mut m = b.json().clone();
    m["status"] = json!({"ready": false});
    m["metadata"]["labels"] = json!({"x": "y"});
    let c = store.update(&widgets(), m, Subresource::Main).await.unwrap();
    assert_eq!(c.json()["status"], json!({"ready": true}));
    assert_eq!(
        c.json()["metadata"]["generation"],
        1,
        "labels alone do not bump generation"
    );
}

#[tokio::test]
async fn no_op_update_writes_nothing() {
    let store = MemoryStore::new();
    let a = store.create(&widgets(), widget("a", json!({}))).await.unwrap();
    let same = store
        .update(&widgets(), a.json().clone(), Subresource::Main)
        .await
        .unwrap();
    assert_eq!(same.revision(), a.revision());
    assert_eq!(store.current_revision().await.unwrap(), 1);
}

#[tokio::test]
async fn uid_and_creation_timestamp_are_kept_and_a_wrong_uid_conflicts() {
    let store = MemoryStore::new();
    let a = store.create(&widgets(), widget("a", json!({}))).await.unwrap();
    let mut v = a.json().clone();
    v["metadata"]["creationTimestamp"] = json!("2000-01-01T00:00:00Z");
    v["metadata"].as_object_mut().unwrap().remove("uid");
    v["spec"]["size"] = json!(5);
    let b = store.update(&widgets(), v, Subresource::Main).await.unwrap();
    assert_eq!(b.meta_str("uid"), a.meta_str("uid"));
    assert_eq!(b.meta_str("creationTimestamp"), a.meta_str("creationTimestamp"));
    let mut w = b.json().clone();
    w["metadata"]["uid"] = json!("not-the-uid");
    let err = store.update(&widgets(), w, Subresource::Main).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict { .. }), "{err}");
    assert_eq!(store.current_revision().await.unwrap(), b.revision());
}

#[tokio::test]
async fn oversized_objects_are_refused() {
    let store = MemoryStore::with_options(StoreOptions {
        max_object_bytes: 1_000,
        ..Default::default()
    });
    let mut big = widget("a", json!({}));
    big["spec"]["blob"] = json!("x".repeat(2_000));
    let err = store.create(&widgets(), big).await.unwrap_err();
    assert!(
        matches!(err, StoreError::TooLarge { size, limit: 1_000, .. } if size > 2_000),
        "{err}"
    );
    assert_eq!(err.http_status(), 413);
    assert!(store.is_empty());
}

#[tokio::test]
async fn deployment_selector_is_immutable() {
    let store = MemoryStore::new();
    let d = store.create(&deployments(), deployment("web", "a")).await.unwrap();
    let mut changed = d.json().clone();
    changed["spec"]["selector"] = json!({"matchLabels": {"app": "b"}});
    changed["spec"]["template"]["metadata"]["labels"] = json!({"app": "b"});
    let err = store
        .update(&deployments(), changed, Subresource::Main)
        .await
        .unwrap_err();
    let StoreError::Invalid(invalid) = &err else {
        panic!("expected Invalid, got {err}")
    };
    assert!(
        invalid.errors.iter().any(|e| e.field.starts_with("spec.selector")),
        "{err}"
    );
    assert_eq!(store.current_revision().await.unwrap(), d.revision());
}

#[tokio::test]
async fn deployment_annotations_bump_generation() {
    let store = MemoryStore::new();
    let d = store.create(&deployments(), deployment("web", "a")).await.unwrap();
    let mut v = d.json().clone();
    v["metadata"]["annotations"] = json!({"note": "x"});
    let d2 = store.update(&deployments(), v, Subresource::Main).await.unwrap();
    assert_eq!(d2.json()["metadata"]["generation"], 2);
}

#[tokio::test]
async fn deployment_status_writes_may_set_annotations_without_bumping_generation() {
    let store = MemoryStore::new();
    let d = store.create(&deployments(), deployment("web", "a")).await.unwrap();
    let mut v = d.json().clone();
    v["metadata"]["annotations"] = json!({"deployment.kubernetes.io/revision": "1"});
    v["metadata"]["labels"] = json!({"sneaky": "label"});
    v["status"] = json!({"observedGeneration": 1});
    let d2 = store.update(&deployments(), v, Subresource::Status).await.unwrap();
    assert_eq!(d2.json()["metadata"]["generation"], 1);
    assert_eq!(
        d2.json()["metadata"]["annotations"]["deployment.kubernetes.io/revision"],
        "1"
    );
    assert_eq!(
        d2.json()["metadata"]["labels"],
        d.json()["metadata"]["labels"],
        "labels stay"
    );
    assert_eq!(d2.json()["status"]["observedGeneration"], 1);
}

#[tokio::test]
async fn finalizers_hold_a_deleted_object_until_emptied() {
    let store = MemoryStore::new();
    let mut w = widget("a", json!({}));
    w["metadata"]["finalizers"] = json!(["example.com/cleanup"]);
    store.create(&widgets(), w).await.unwrap();
    let pending = store
        .delete(&widgets(), &key("a"), &DeleteParams::default())
        .await
        .unwrap();
    let DeleteOutcome::Pending(held) = pending else {
        panic!("expected Pending")
    };
    assert!(held.json()["metadata"]["deletionTimestamp"].is_string());
    assert_eq!(held.json()["metadata"]["deletionGracePeriodSeconds"], 0);
    // No new finalizers on an object being deleted, and the timestamp cannot be cleared.
    let mut add = held.json().clone();
    add["metadata"]["finalizers"] = json!(["example.com/cleanup", "other"]);
    let err = store.update(&widgets(), add, Subresource::Main).await.unwrap_err();
    assert!(matches!(err, StoreError::Invalid(_)), "{err}");
    let mut clear = held.json().clone();
    clear["metadata"].as_object_mut().unwrap().remove("deletionTimestamp");
    clear["spec"]["size"] = json!(4);
    let still = store.update(&widgets(), clear, Subresource::Main).await.unwrap();
    assert!(still.json()["metadata"]["deletionTimestamp"].is_string());
    // Emptying the finalizers removes it.
    let mut done = still.json().clone();
    done["metadata"]["finalizers"] = json!([]);
    store.update(&widgets(), done, Subresource::Main).await.unwrap();
    let err = store.get(&widgets(), &key("a")).await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }));
}

#[tokio::test]
async fn delete_preconditions_are_checked() {
    let store = MemoryStore::new();
    let a = store.create(&widgets(), widget("a", json!({}))).await.unwrap();
    let params = DeleteParams {
        preconditions: Preconditions {
            uid: Some("wrong".into()),
            resource_version: None,
        },
        ..Default::default()
    };
    assert!(matches!(
        store.delete(&widgets(), &key("a"), &params).await,
        Err(StoreError::Conflict { .. })
    ));
    let params = DeleteParams {
        preconditions: Preconditions {
            uid: a.meta_str("uid").map(str::to_owned),
            resource_version: Some("1".into()),
        },
        ..Default::default()
    };
    let gone = store.delete(&widgets(), &key("a"), &params).await.unwrap();
    let DeleteOutcome::Deleted(last) = gone else {
        panic!("expected Deleted")
    };
    assert_eq!(last.revision(), 2);
    assert_eq!(last.meta_str("resourceVersion"), Some("2"));
}

#[tokio::test]
async fn propagation_policies_add_gc_finalizers() {
    let store = MemoryStore::new();
    store.create(&widgets(), widget("a", json!({}))).await.unwrap();
    let params = DeleteParams {
        propagation_policy: Some(PropagationPolicy::Foreground),
        ..Default::default()
    };
    let DeleteOutcome::Pending(held) = store.delete(&widgets(), &key("a"), &params).await.unwrap() else {
        panic!("foreground deletion is two-phase")
    };
    assert_eq!(held.json()["metadata"]["finalizers"], json!([FOREGROUND_FINALIZER]));
    let params = DeleteParams {
        propagation_policy: Some(PropagationPolicy::Orphan),
        ..Default::default()
    };
    let DeleteOutcome::Pending(held) = store.delete(&widgets(), &key("a"), &params).await.unwrap() else {
        panic!("orphan deletion is two-phase")
    };
    assert_eq!(held.json()["metadata"]["finalizers"], json!([ORPHAN_FINALIZER]));
}

#[tokio::test(start_paused = true)]
async fn scheduled_pods_are_deleted_gracefully() {
    let store = MemoryStore::new();
    store.create(&pods(), pod("p", Some("node-1"))).await.unwrap();
    store.create(&pods(), pod("q", None)).await.unwrap();
    let DeleteOutcome::Pending(p) = store
        .delete(&pods(), &key("p"), &DeleteParams::default())
        .await
        .unwrap()
    else {
        panic!("a scheduled pod is deleted gracefully")
    };
    assert_eq!(p.json()["metadata"]["deletionGracePeriodSeconds"], 30);
    let short = DeleteParams {
        grace_period_seconds: Some(5),
        ..Default::default()
    };
    let DeleteOutcome::Pending(p2) = store.delete(&pods(), &key("p"), &short).await.unwrap() else {
        panic!("still graceful")
    };
    assert_eq!(p2.json()["metadata"]["deletionGracePeriodSeconds"], 5);
    // A longer grace period changes nothing.
    let DeleteOutcome::Pending(p3) = store
        .delete(&pods(), &key("p"), &DeleteParams::default())
        .await
        .unwrap()
    else {
        panic!("still graceful")
    };
    assert_eq!(p3.revision(), p2.revision());
    let now = DeleteParams {
        grace_period_seconds: Some(0),
        ..Default::default()
    };
    assert!(matches!(
        store.delete(&pods(), &key("p"), &now).await.unwrap(),
        DeleteOutcome::Deleted(_)
    ));
    assert!(matches!(
        store
            .delete(&pods(), &key("q"), &DeleteParams::default())
            .await
            .unwrap(),
        DeleteOutcome::Deleted(_)
    ));
}

mod lists_and_watches;
mod namespaces;
