//! `RemoteStore` against a real `capstan up --in-memory --no-controllers` over HTTPS: the store
//! contract (create, get, list, update, status, delete, watch, errors) holds through the HTTP API,
//! and a watch resumes across dropped connections without losing or repeating an event.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use capstan_core::k8s_openapi::api::core::v1::{Container, Namespace, Pod, PodSpec, PodStatus};
use capstan_core::{LabelSelector, ObjectKey, Resource};
use capstan_store::remote::{KubeConfig, RemoteOptions, RemoteStore};
use capstan_store::{Api, DeleteParams, ListParams, Store, StoreError, Subresource, WatchEvent, WatchParams};
use futures::StreamExt;

use common::Running;

/// A running server and its kubeconfig.
struct Server {
    _process: Running,
    _dir: tempfile::TempDir,
    kubeconfig: PathBuf,
}

/// Starts `capstan up --in-memory --no-controllers` (HTTPS with a generated CA) and waits until a
/// remote store reaches it.
async fn start() -> Server {
    let dir = tempfile::tempdir().expect("tempdir");
    let process = common::up(dir.path(), &["--in-memory", "--no-controllers"]);
    let kubeconfig = dir.path().join("kubeconfig.yaml");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if kubeconfig.exists()
            && let Ok(store) = RemoteStore::from_kubeconfig(&kubeconfig)
            && store.current_revision().await.is_ok()
        {
            break;
        }
        assert!(Instant::now() < deadline, "capstan up did not come up");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Server {
        _process: process,
        _dir: dir,
        kubeconfig,
    }
}

fn remote(kubeconfig: &Path, options: RemoteOptions) -> Arc<dyn Store> {
    let config = KubeConfig::load(kubeconfig).expect("kubeconfig");
    Arc::new(RemoteStore::new(&config, options).expect("remote store"))
}

fn pod(name: &str, labels: &[(&str, &str)]) -> Pod {
    let mut p = Pod::default();
    p.metadata.name = Some(name.into());
    p.metadata.labels = Some(labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect());
    p.spec = Some(PodSpec {
        containers: vec![Container {
            name: "web".into(),
            image: Some("nginx".into()),
            ..Default::default()
        }],
        ..Default::default()
    });
    p
}

async fn namespace(store: &Arc<dyn Store>, name: &str) {
    let mut ns = Namespace::default();
    ns.metadata.name = Some(name.into());
    Api::<Namespace>::all(store.clone())
        .create(&ns)
        .await
        .expect("create namespace");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_store_contract_holds_through_the_http_api() {
    let server = start().await;
    let store = remote(&server.kubeconfig, RemoteOptions::default());
    namespace(&store, "remote").await;
    let pods: Api<Pod> = Api::namespaced(store.clone(), "remote");

    let before = store.current_revision().await.unwrap();
    let created = pods.create(&pod("web-1", &[("app", "web")])).await.unwrap();
    let rv: u64 = created.metadata.resource_version.as_deref().unwrap().parse().unwrap();
    assert!(rv > before, "a write moves the revision past {before}: {rv}");
    assert_eq!(created.metadata.generation, Some(1));
    assert!(created.metadata.uid.is_some());
    assert!(store.current_revision().await.unwrap() >= rv);

    match pods.create(&pod("web-1", &[])).await {
        Err(StoreError::AlreadyExists { key, type_key }) => {
            assert_eq!(key, ObjectKey::new("remote", "web-1"));
            assert_eq!(type_key, Pod::type_key());
        }
        other => panic!("expected AlreadyExists, got {other:?}"),
    }
    pods.create(&pod("web-2", &[("app", "web")])).await.unwrap();
    pods.create(&pod("db-1", &[("app", "db")])).await.unwrap();

    let got = pods.get("web-1").await.unwrap();
    assert_eq!(got.metadata.uid, created.metadata.uid);
    match pods.get("nope").await {
        Err(StoreError::NotFound { key, .. }) => assert_eq!(key, ObjectKey::new("remote", "nope")),
        other => panic!("expected NotFound, got {other:?}"),
    }

    // Lists: selectors, key order, paging.
    let web = ListParams {
        label_selector: LabelSelector::parse("app in (web)").unwrap(),
        ..Default::default()
    };
    let names: Vec<_> = pods
        .list(&web)
        .await
        .unwrap()
        .items
        .iter()
        .map(|p| p.metadata.name.clone().unwrap())
        .collect();
    assert_eq!(names, ["web-1", "web-2"]);
    let first = pods
        .list(&ListParams {
            limit: Some(2),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(first.items.len(), 2);
    let token = first.continue_token.clone().expect("a continue token");
    let rest = pods
        .list(&ListParams {
            limit: Some(2),
            continue_token: Some(token),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(rest.items.len(), 1);
    assert_eq!(rest.continue_token, None);
    let everywhere = store.list(&Pod::type_key(), &ListParams::default()).await.unwrap();
    assert_eq!(everywhere.items.len(), 3);

    // Updates: CAS on resourceVersion, status subresource keeps generation.
    let mut changed = (*got).clone();
    changed
        .metadata
        .labels
        .get_or_insert_with(BTreeMap::new)
        .insert("tier".into(), "front".into());
    let updated = pods.replace(&changed).await.unwrap();
    assert_eq!(updated.metadata.labels.as_ref().unwrap()["tier"], "front");
    match pods.replace(&changed).await {
        Err(StoreError::Conflict { key, .. }) => assert_eq!(key.name, "web-1"),
        other => panic!("a stale resourceVersion must conflict, got {other:?}"),
    }
    let mut with_status = (*updated).clone();
    with_status.status = Some(PodStatus {
        phase: Some("Running".into()),
        ..Default::default()
    });
    let json = serde_json::to_value(&with_status).unwrap();
    let stored = store.update(&Pod::type_key(), json, Subresource::Status).await.unwrap();
    assert_eq!(stored.json()["status"]["phase"], "Running");
    assert_eq!(
        stored.json()["metadata"]["generation"],
        updated.metadata.generation.unwrap()
    );

    // Invalid objects come back with every failed field.
    let mut bad = pod("Bad_Name", &[]);
    bad.spec.as_mut().unwrap().containers.clear();
    match pods.create(&bad).await {
        Err(StoreError::Invalid(inv)) => {
            assert!(inv.errors.len() >= 2, "{inv}");
            assert!(inv.errors.iter().any(|e| e.field == "metadata.name"), "{inv}");
        }
        other => panic!("expected Invalid, got {other:?}"),
    }

    // Deletes: preconditions, then removal.
    let wrong_uid = DeleteParams {
        preconditions: capstan_store::Preconditions {
            uid: Some("not-the-uid".into()),
            resource_version: None,
        },
        ..Default::default()
    };
    assert!(matches!(
        pods.delete("web-2", &wrong_uid).await,
        Err(StoreError::Conflict { .. })
    ));
    let now = DeleteParams {
        grace_period_seconds: Some(0),
        ..Default::default()
    };
    assert!(matches!(
        pods.delete("web-2", &now).await,
        Ok(capstan_store::Deleted::Gone(_))
    ));
    assert!(matches!(pods.get("web-2").await, Err(StoreError::NotFound { .. })));
    assert!(matches!(
        pods.delete("web-2", &now).await,
        Err(StoreError::NotFound { .. })
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watch_resumes_after_dropped_connections_without_losing_or_repeating_events() {
    let server = start().await;
    // The server ends every watch connection after one second: the stream must resume each time.
    let store = remote(
        &server.kubeconfig,
        RemoteOptions {
            watch_timeout: Duration::from_secs(1),
            ..RemoteOptions::default()
        },
    );
    namespace(&store, "watched").await;
    let pods: Api<Pod> = Api::namespaced(store.clone(), "watched");
    let from = store.current_revision().await.unwrap();
    let mut events = store
        .watch(
            &Pod::type_key(),
            &WatchParams {
                namespace: Some("watched".into()),
                from_revision: from,
                ..Default::default()
            },
        )
        .await
        .unwrap();

    // About four seconds of writes: creates, label changes and deletes, across several reconnects.
    let writer = {
        let pods = pods.clone();
        tokio::spawn(async move {
            let mut written = Vec::new();
            for i in 0..40 {
                let name = format!("p-{}", i % 10);
                let rev = match pods.get_opt(&name).await.unwrap() {
                    None => pods.create(&pod(&name, &[("round", "0")])).await.unwrap(),
                    Some(_) if i % 7 == 3 => {
                        let gone = pods
                            .delete(
                                &name,
                                &DeleteParams {
                                    grace_period_seconds: Some(0),
                                    ..Default::default()
                                },
                            )
                            .await
                            .unwrap();
                        match gone {
                            capstan_store::Deleted::Gone(p) | capstan_store::Deleted::Pending(p) => p,
                        }
                    }
                    Some(current) => {
                        let mut next = (*current).clone();
                        next.metadata.labels = Some([("round".to_string(), i.to_string())].into());
                        pods.replace(&next).await.unwrap()
                    }
                };
                written.push((name, rev.metadata.resource_version.clone().unwrap()));
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            written
        })
    };
    let written = writer.await.unwrap();
    let mut seen = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while seen.len() < written.len() {
        let next = tokio::time::timeout_at(deadline, events.next())
            .await
            .unwrap_or_else(|_| panic!("only {} of {} events arrived", seen.len(), written.len()));
        match next {
            Some(Ok(WatchEvent::Bookmark(_))) => {}
            Some(Ok(e @ (WatchEvent::Added(_) | WatchEvent::Modified(_) | WatchEvent::Deleted(_)))) => {
                let (WatchEvent::Added(o) | WatchEvent::Modified(o) | WatchEvent::Deleted(o)) = &e else {
                    unreachable!()
                };
                seen.push((o.key().name.clone(), o.revision().to_string()));
            }
            other => panic!("the watch ended: {other:?}"),
        }
    }
    let revisions: Vec<u64> = seen.iter().map(|(_, r)| r.parse().unwrap()).collect();
    assert!(
        revisions.windows(2).all(|w| w[0] < w[1]),
        "revisions in order: {revisions:?}"
    );
    assert_eq!(seen, written, "every write seen once, in order, at its revision");
    // Nothing more (no duplicate replayed by a reconnect) over two more reconnects.
    let extra = tokio::time::timeout(Duration::from_millis(2500), async {
        loop {
            match events.next().await {
                Some(Ok(WatchEvent::Bookmark(_))) => {}
                other => return other,
            }
        }
    })
    .await;
    assert!(extra.is_err(), "an event arrived after all writes: {extra:?}");
}
