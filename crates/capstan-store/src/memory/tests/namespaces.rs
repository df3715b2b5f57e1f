//! The Namespace lifecycle in the engine: a deleted Namespace terminates while its finalizers (either
//! list) hold it, disappears when both are empty, and refuses new content meanwhile.

use capstan_core::k8s_openapi::api::core::v1::Namespace;
use capstan_core::{ObjectKey, Resource, TypeKey};
use serde_json::{Value, json};

use super::super::MemoryStore;
use crate::error::StoreError;
use crate::params::{DeleteParams, ListParams, Subresource};
use crate::store::{DeleteOutcome, Store};

fn namespaces() -> TypeKey {
    Namespace::type_key()
}

fn leases() -> TypeKey {
    TypeKey::new("coordination.k8s.io", "v1", "Lease", "leases", true)
}

fn lease(ns: &str, name: &str) -> Value {
    json!({"metadata": {"name": name, "namespace": ns}, "spec": {"holderIdentity": "me"}})
}

async fn create_namespace(store: &impl Store, name: &str) -> Value {
    let created = store
        .create(&namespaces(), json!({"metadata": {"name": name}}))
        .await
        .unwrap();
    created.json().clone()
}

async fn delete_namespace(store: &impl Store, name: &str) -> DeleteOutcome {
    store
        .delete(&namespaces(), &ObjectKey::cluster(name), &DeleteParams::default())
        .await
        .unwrap()
}

/// Replaces the namespace's `spec.finalizers` with `finalizers` by a main update.
async fn set_spec_finalizers(store: &impl Store, name: &str, finalizers: Value) -> crate::error::Result<()> {
    let current = store.get(&namespaces(), &ObjectKey::cluster(name)).await?;
    let mut next = current.json().clone();
    next["spec"]["finalizers"] = finalizers;
    store.update(&namespaces(), next, Subresource::Main).await.map(|_| ())
}

#[tokio::test]
async fn a_new_namespace_is_active_and_carries_the_kubernetes_finalizer() {
    let store = MemoryStore::new();
    let ns = create_namespace(&store, "team-a").await;
    assert_eq!(ns["spec"]["finalizers"], json!(["kubernetes"]));
    assert_eq!(ns["status"]["phase"], "Active");
}

#[tokio::test]
async fn a_deleted_namespace_terminates_until_its_spec_finalizers_are_emptied() {
    let store = MemoryStore::new();
    create_namespace(&store, "team-a").await;
    let DeleteOutcome::Pending(held) = delete_namespace(&store, "team-a").await else {
        panic!("a namespace with the kubernetes finalizer must not disappear at once")
    };
    assert!(held.json()["metadata"]["deletionTimestamp"].is_string());
    assert_eq!(held.json()["metadata"]["deletionGracePeriodSeconds"], 0);
    assert_eq!(held.json()["status"]["phase"], "Terminating");
    // Deleting again changes nothing.
    let DeleteOutcome::Pending(again) = delete_namespace(&store, "team-a").await else {
        panic!("still terminating")
    };
    assert_eq!(again.revision(), held.revision());
    // No finalizer may be added while it terminates; an update keeps it terminating.
    let err = set_spec_finalizers(&store, "team-a", json!(["kubernetes", "example.com/more"]))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::Invalid(i) if i.errors[0].field == "spec.finalizers"),
        "{err}"
    );
    // Emptying spec.finalizers removes it.
    set_spec_finalizers(&store, "team-a", json!([])).await.unwrap();
    let err = store
        .get(&namespaces(), &ObjectKey::cluster("team-a"))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err}");
}

#[tokio::test]
async fn a_namespace_goes_only_when_both_finalizer_lists_are_empty() {
    let store = MemoryStore::new();
    store
        .create(
            &namespaces(),
            json!({"metadata": {"name": "team-b", "finalizers": ["example.com/audit"]}}),
        )
        .await
        .unwrap();
    delete_namespace(&store, "team-b").await;
    set_spec_finalizers(&store, "team-b", json!([])).await.unwrap();
    let held = store.get(&namespaces(), &ObjectKey::cluster("team-b")).await.unwrap();
    assert_eq!(held.json()["status"]["phase"], "Terminating");
    let mut done = held.json().clone();
    done["metadata"]["finalizers"] = json!([]);
    store.update(&namespaces(), done, Subresource::Main).await.unwrap();
    assert!(store.get(&namespaces(), &ObjectKey::cluster("team-b")).await.is_err());
}

#[tokio::test]
async fn a_namespace_without_finalizers_is_removed_at_once() {
    let store = MemoryStore::new();
    create_namespace(&store, "team-c").await;
    set_spec_finalizers(&store, "team-c", json!([])).await.unwrap();
    assert!(matches!(
        delete_namespace(&store, "team-c").await,
        DeleteOutcome::Deleted(_)
    ));
}

#[tokio::test]
async fn creates_into_a_terminating_namespace_are_refused_but_its_content_can_still_change() {
    let store = MemoryStore::new();
    create_namespace(&store, "team-a").await;
    store.create(&leases(), lease("team-a", "old")).await.unwrap();
    delete_namespace(&store, "team-a").await;
    let err = store.create(&leases(), lease("team-a", "new")).await.unwrap_err();
    match &err {
        StoreError::NamespaceTerminating { type_key, key } => {
            assert_eq!(type_key, &leases());
            assert_eq!(key, &ObjectKey::new("team-a", "new"));
        }
        other => panic!("expected NamespaceTerminating, got {other}"),
    }
    assert_eq!(err.http_status(), 403);
    // Existing content may still be updated and deleted (controllers finish their work).
    let mut old = store
        .get(&leases(), &ObjectKey::new("team-a", "old"))
        .await
        .unwrap()
        .json()
        .clone();
    old["spec"]["holderIdentity"] = json!("you");
    store.update(&leases(), old, Subresource::Main).await.unwrap();
    store
        .delete(&leases(), &ObjectKey::new("team-a", "old"), &DeleteParams::default())
        .await
        .unwrap();
    // Other namespaces, and namespaces with no Namespace object, are not affected.
    store.create(&leases(), lease("team-b", "x")).await.unwrap();
    // Once the namespace is gone, creating the namespace again makes it usable again.
    set_spec_finalizers(&store, "team-a", json!([])).await.unwrap();
    create_namespace(&store, "team-a").await;
    store.create(&leases(), lease("team-a", "new")).await.unwrap();
    let listed = store
        .list(
            &leases(),
            &ListParams {
                namespace: Some("team-a".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(listed.items.len(), 1);
}
