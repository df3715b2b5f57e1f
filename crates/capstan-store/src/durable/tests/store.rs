//! Tests of [`DurableStore`]: what a closed store held comes back on reopen, and watches across a
//! restart are served exactly or answered `Gone`, never wrong.

use std::sync::Arc;

use capstan_core::k8s_openapi::api::coordination::v1::Lease;
use capstan_core::{ObjectKey, Resource, TypeKey};
use futures::StreamExt;
use serde_json::{Value, json};

use super::DurableStore;
use crate::error::StoreError;
use crate::memory::StoreOptions;
use crate::object::WatchEvent;
use crate::params::{DeleteParams, ListParams, Subresource, WatchParams};
use crate::store::{Revision, Store};

fn leases() -> TypeKey {
    Lease::type_key()
}

fn lease(name: &str, holder: &str) -> Value {
    json!({
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"holderIdentity": holder},
    })
}

/// A watch event reduced to what must match across a restart.
fn summary(event: &WatchEvent) -> (String, Revision, Option<Value>) {
    match event {
        WatchEvent::Added(o) => ("Added".into(), o.revision(), Some(o.json().clone())),
        WatchEvent::Modified(o) => ("Modified".into(), o.revision(), Some(o.json().clone())),
        WatchEvent::Deleted(o) => ("Deleted".into(), o.revision(), Some(o.json().clone())),
        WatchEvent::Bookmark(r) => ("Bookmark".into(), *r, None),
    }
}

/// The events of a watch from `from` up to `until`, or the error that ended it.
async fn watch_until(
    store: &DurableStore,
    from: Revision,
    until: Revision,
) -> Result<Vec<(String, Revision, Option<Value>)>, StoreError> {
    let params = WatchParams {
        from_revision: from,
        ..Default::default()
    };
    let mut stream = store.watch(&leases(), &params).await?;
    let mut events = Vec::new();
    while events.last().is_none_or(|(_, r, _): &(String, Revision, _)| *r < until) {
        match tokio::time::timeout(std::time::Duration::from_secs(5), stream.next()).await {
            Ok(Some(Ok(event))) => events.push(summary(&event)),
            Ok(Some(Err(e))) => return Err(e),
            Ok(None) => panic!("the watch ended without an error before revision {until}"),
            Err(_) => panic!("no event up to revision {until} within 5 s; got {events:?}"),
        }
    }
    Ok(events)
}

/// Writes a history with creates, an update and a delete; returns the final revision.
async fn write_some(store: &DurableStore) -> Revision {
    for name in ["a", "b", "c"] {
        store.create(&leases(), lease(name, "one")).await.unwrap();
    }
    let mut b = store
        .get(&leases(), &ObjectKey::new("default", "b"))
        .await
        .unwrap()
        .json()
        .clone();
    b["spec"]["holderIdentity"] = json!("two");
    store.update(&leases(), b, Subresource::Main).await.unwrap();
    store
        .delete(&leases(), &ObjectKey::new("default", "a"), &DeleteParams::default())
        .await
        .unwrap();
    store.current_revision().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reopening_after_a_clean_close_keeps_objects_revision_and_history() {
    let dir = tempfile::tempdir().unwrap();
    let store = DurableStore::open(dir.path()).await.unwrap();
    let revision = write_some(&store).await;
    let before_list = store.list(&leases(), &ListParams::default()).await.unwrap();
    let before_events = watch_until(&store, 0, revision).await.unwrap();
    assert_eq!(before_events.len(), 5);
    store.close().await;

    let store = DurableStore::open(dir.path()).await.unwrap();
    assert_eq!(store.current_revision().await.unwrap(), revision);
    let after_list = store.list(&leases(), &ListParams::default()).await.unwrap();
    assert_eq!(after_list.revision, before_list.revision);
    let json = |items: &[Arc<crate::object::StoredObject>]| items.iter().map(|o| o.json().clone()).collect::<Vec<_>>();
    assert_eq!(json(&after_list.items), json(&before_list.items));
    // A watch from before the restart sees exactly what it would have seen before, or is Gone.
    for from in 0..revision {
        match watch_until(&store, from, revision).await {
            Ok(events) => {
                let expected: Vec<_> = before_events.iter().filter(|(_, r, _)| *r > from).cloned().collect();
                assert_eq!(events, expected, "watch from {from} after the restart");
            }
            Err(StoreError::Gone { .. }) => {}
            Err(other) => panic!("watch from {from}: {other}"),
        }
    }
    // Writes continue the revision counter.
    let created = store.create(&leases(), lease("d", "one")).await.unwrap();
    assert_eq!(created.revision(), revision + 1);
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watch_from_compacted_history_is_gone_after_a_restart_and_later_ones_are_served() {
    let dir = tempfile::tempdir().unwrap();
    let options = StoreOptions {
        history_limit: 4,
        ..Default::default()
    };
    let store = DurableStore::open_with_options(dir.path(), options.clone())
        .await
        .unwrap();
    let mut object = store.create(&leases(), lease("x", "h0")).await.unwrap().json().clone();
    for i in 1..20 {
        object["spec"]["holderIdentity"] = json!(format!("h{i}"));
        object = store
            .update(&leases(), object, Subresource::Main)
            .await
            .unwrap()
            .json()
            .clone();
    }
    let revision = store.current_revision().await.unwrap();
    let recent = watch_until(&store, revision - 2, revision).await.unwrap();
    store.close().await;

    let store = DurableStore::open_with_options(dir.path(), options).await.unwrap();
    assert!(matches!(
        watch_until(&store, 1, revision).await,
        Err(StoreError::Gone { .. })
    ));
    match watch_until(&store, revision - 2, revision).await {
        Ok(events) => assert_eq!(events, recent),
        Err(StoreError::Gone { .. }) => {}
        Err(other) => panic!("{other}"),
    }
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writers_share_fsyncs_and_every_write_survives() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(DurableStore::open(dir.path()).await.unwrap());
    let tasks: Vec<_> = (0..16)
        .map(|w| {
            let store = store.clone();
            tokio::spawn(async move {
                for i in 0..10 {
                    store.create(&leases(), lease(&format!("w{w}-{i}"), "x")).await.unwrap();
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let fsyncs = store.fsync_count();
    assert!(fsyncs > 0 && fsyncs < 160, "160 writes took {fsyncs} fsyncs");
    let Some(store) = Arc::into_inner(store) else {
        panic!("a writer still holds the store")
    };
    store.close().await;
    let store = DurableStore::open(dir.path()).await.unwrap();
    assert_eq!(store.current_revision().await.unwrap(), 160);
    assert_eq!(
        store.list(&leases(), &ListParams::default()).await.unwrap().items.len(),
        160
    );
    store.close().await;
}

#[tokio::test]
async fn a_damaged_data_file_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(super::journal::FILE_NAME), vec![0x5a; 8192]).unwrap();
    match DurableStore::open(dir.path()).await {
        Err(StoreError::Unavailable(message)) => assert!(message.contains("store.redb"), "{message}"),
        other => panic!("expected Unavailable, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_terminating_namespace_stays_terminating_across_a_restart_until_its_finalizers_are_emptied() {
    use capstan_core::k8s_openapi::api::core::v1::Namespace;
    let namespaces = Namespace::type_key();
    let team = ObjectKey::cluster("team-a");
    let dir = tempfile::tempdir().unwrap();
    let store = DurableStore::open(dir.path()).await.unwrap();
    store
        .create(&namespaces, json!({"metadata": {"name": "team-a"}}))
        .await
        .unwrap();
    store
        .delete(&namespaces, &team, &DeleteParams::default())
        .await
        .unwrap();
    store.close().await;

    let store = DurableStore::open(dir.path()).await.unwrap();
    let held = store.get(&namespaces, &team).await.unwrap();
    assert_eq!(held.json()["status"]["phase"], "Terminating");
    assert_eq!(held.json()["spec"]["finalizers"], json!(["kubernetes"]));
    let mut in_team = lease("x", "one");
    in_team["metadata"]["namespace"] = json!("team-a");
    let err = store.create(&leases(), in_team).await.unwrap_err();
    assert!(matches!(err, StoreError::NamespaceTerminating { .. }), "{err}");
    let mut emptied = held.json().clone();
    emptied["spec"]["finalizers"] = json!([]);
    store.update(&namespaces, emptied, Subresource::Main).await.unwrap();
    store.close().await;

    let store = DurableStore::open(dir.path()).await.unwrap();
    let err = store.get(&namespaces, &team).await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err}");
    store.close().await;
}
