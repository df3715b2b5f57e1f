//! Bad input is refused with a clear, typed error, and nothing is written: the revision does not move
//! and the stored object is unchanged.

use capstan_core::k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use capstan_core::k8s_openapi::api::core::v1::Pod;
use capstan_core::{Resource, TypeKey};
use capstan_store::{MemoryStore, Store, StoreError, Subresource};
use serde_json::{Value, json};

fn template(app: &str) -> Value {
    json!({
        "metadata": {"labels": {"app": app}},
        "spec": {"containers": [{"name": "c", "image": "nginx"}]}
    })
}

fn workload(kind: &str, name: &str, app: &str) -> Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": kind,
        "metadata": {"name": name, "namespace": "ns"},
        "spec": {"selector": {"matchLabels": {"app": app}}, "template": template(app)}
    })
}

fn pod(name: &str) -> Value {
    json!({
        "metadata": {"name": name, "namespace": "ns"},
        "spec": {"containers": [{"name": "c", "image": "nginx"}]}
    })
}

/// Runs `write` and checks it failed without writing anything; returns the error.
async fn refused<F, Fut>(store: &MemoryStore, write: F) -> StoreError
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = Result<(), StoreError>>,
{
    let before = store.current_revision().await.unwrap();
    let len = store.len();
    let err = write().await.expect_err("the write must be refused");
    assert_eq!(
        store.current_revision().await.unwrap(),
        before,
        "revision moved after {err}"
    );
    assert_eq!(store.len(), len, "object count changed after {err}");
    err
}

fn invalid_fields(err: &StoreError) -> Vec<String> {
    match err {
        StoreError::Invalid(invalid) => invalid.errors.iter().map(|e| e.field.clone()).collect(),
        other => panic!("expected Invalid, got {other}"),
    }
}

#[tokio::test]
async fn objects_failing_admission_are_invalid_with_every_field_path() {
    let store = MemoryStore::new();
    let dk = Deployment::type_key();
    let mut bad = workload("Deployment", "web", "a");
    bad["spec"]["replicas"] = json!(-1);
    bad["spec"]["template"]["metadata"]["labels"] = json!({"app": "b"});
    let err = refused(&store, || async { store.create(&dk, bad).await.map(|_| ()) }).await;
    let fields = invalid_fields(&err);
    assert!(fields.iter().any(|f| f == "spec.replicas"), "{fields:?}");
    assert!(
        fields.iter().any(|f| f.starts_with("spec.template.metadata.labels")),
        "{fields:?}"
    );
    assert_eq!(err.http_status(), 422);
    assert_eq!(err.reason(), "Invalid");
    assert!(err.to_string().contains("Deployment.apps \"web\" is invalid"), "{err}");
}

#[tokio::test]
async fn names_with_invalid_characters_are_invalid() {
    let store = MemoryStore::new();
    for name in ["Web", "web_1", "-web", "web.", "a/b"] {
        let err = refused(&store, || async {
            store.create(&Pod::type_key(), pod(name)).await.map(|_| ())
        })
        .await;
        let fields = invalid_fields(&err);
        assert!(fields.iter().any(|f| f == "metadata.name"), "{name}: {fields:?}");
    }
}

#[tokio::test]
async fn oversized_objects_are_too_large() {
    let store = MemoryStore::new();
    let mut big = pod("big");
    big["spec"]["containers"][0]["args"] = json!(["x".repeat(1_600_000)]);
    let err = refused(&store, || async {
        store.create(&Pod::type_key(), big).await.map(|_| ())
    })
    .await;
    assert!(
        matches!(err, StoreError::TooLarge { limit: 1_572_864, size, .. } if size > 1_600_000),
        "{err}"
    );
    // Growing a stored object past the limit is refused too.
    let small = store.create(&Pod::type_key(), pod("small")).await.unwrap();
    let mut grown = small.json().clone();
    grown["metadata"]["labels"] = json!({"a": "b"});
    grown["spec"]["containers"][0]["image"] = json!(format!("nginx{}", "y".repeat(1_600_000)));
    let err = refused(&store, || async {
        store
            .update(&Pod::type_key(), grown, Subresource::Main)
            .await
            .map(|_| ())
    })
    .await;
    assert!(matches!(err, StoreError::TooLarge { .. }), "{err}");
}

async fn selector_is_immutable(kind: &str, type_key: TypeKey) {
    let store = MemoryStore::new();
    let stored = store.create(&type_key, workload(kind, "web", "a")).await.unwrap();
    let mut changed = stored.json().clone();
    changed["spec"]["selector"] = json!({"matchLabels": {"app": "b"}});
    changed["spec"]["template"] = template("b");
    let err = refused(&store, || async {
        store.update(&type_key, changed, Subresource::Main).await.map(|_| ())
    })
    .await;
    let fields = invalid_fields(&err);
    assert!(
        fields.iter().any(|f| f.starts_with("spec.selector")),
        "{kind}: {fields:?}"
    );
    let now = store.get(&type_key, stored.key()).await.unwrap();
    assert_eq!(now.json(), stored.json());
}

#[tokio::test]
async fn replica_set_selector_is_immutable() {
    selector_is_immutable("ReplicaSet", ReplicaSet::type_key()).await;
}

#[tokio::test]
async fn deployment_selector_is_immutable() {
    selector_is_immutable("Deployment", Deployment::type_key()).await;
}

#[tokio::test]
async fn a_different_uid_is_a_conflict() {
    let store = MemoryStore::new();
    let stored = store.create(&Pod::type_key(), pod("p")).await.unwrap();
    let mut changed = stored.json().clone();
    changed["metadata"]["uid"] = json!("00000000-0000-4000-8000-000000000000");
    changed["metadata"]["labels"] = json!({"a": "b"});
    let err = refused(&store, || async {
        store
            .update(&Pod::type_key(), changed, Subresource::Main)
            .await
            .map(|_| ())
    })
    .await;
    assert!(matches!(err, StoreError::Conflict { .. }), "{err}");
    assert!(err.to_string().contains("UID"), "{err}");
}

#[tokio::test]
async fn renaming_through_an_update_finds_no_object() {
    let store = MemoryStore::new();
    let stored = store.create(&Pod::type_key(), pod("p")).await.unwrap();
    let mut renamed = stored.json().clone();
    renamed["metadata"]["name"] = json!("q");
    let err = refused(&store, || async {
        store
            .update(&Pod::type_key(), renamed, Subresource::Main)
            .await
            .map(|_| ())
    })
    .await;
    assert!(matches!(err, StoreError::NotFound { .. }), "{err}");
}

#[tokio::test]
async fn wrong_kind_and_malformed_objects_are_bad_requests() {
    let store = MemoryStore::new();
    let mut wrong = pod("p");
    wrong["kind"] = json!("Node");
    let err = refused(&store, || async {
        store.create(&Pod::type_key(), wrong).await.map(|_| ())
    })
    .await;
    assert!(matches!(err, StoreError::BadRequest(_)), "{err}");
    let err = refused(&store, || async {
        store.create(&Pod::type_key(), json!([1, 2])).await.map(|_| ())
    })
    .await;
    assert!(matches!(err, StoreError::BadRequest(_)), "{err}");
    let mut undecodable = pod("p");
    undecodable["spec"]["containers"] = json!("not a list");
    let err = refused(&store, || async {
        store.create(&Pod::type_key(), undecodable).await.map(|_| ())
    })
    .await;
    assert!(
        matches!(err, StoreError::BadRequest(_) | StoreError::Invalid(_)),
        "{err}"
    );
}
