//! `Api<K>` over a `MemoryStore`: typed create/get/list/replace/patch/delete/watch.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use capstan_core::LabelSelector;
use capstan_core::k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec};
use capstan_core::k8s_openapi::api::core::v1::{Container, Namespace, Pod, PodSpec, PodStatus, PodTemplateSpec};
use capstan_core::k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector as K8sSelector, ObjectMeta};
use capstan_store::{Api, DeleteParams, Deleted, Event, ListParams, MemoryStore, Store, StoreError, WatchParams};
use futures::StreamExt;
use serde_json::json;

fn store() -> Arc<dyn Store> {
    Arc::new(MemoryStore::new())
}

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn pod(name: &str, app: &str) -> Pod {
    Pod {
        metadata: ObjectMeta {
            name: Some(name.into()),
            labels: Some(labels(&[("app", app)])),
            ..Default::default()
        },
        spec: Some(PodSpec {
            containers: vec![Container {
                name: "c".into(),
                image: Some("nginx".into()),
                ..Default::default()
            }],
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn deployment(name: &str) -> Deployment {
    Deployment {
        metadata: ObjectMeta {
            name: Some(name.into()),
            ..Default::default()
        },
        spec: Some(DeploymentSpec {
            selector: K8sSelector {
                match_labels: Some(labels(&[("app", name)])),
                ..Default::default()
            },
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(labels(&[("app", name)])),
                    ..Default::default()
                }),
                spec: pod(name, name).spec,
            },
            ..Default::default()
        }),
        ..Default::default()
    }
}

#[tokio::test]
async fn api_fills_the_namespace_and_round_trips_typed_objects() {
    let pods: Api<Pod> = Api::namespaced(store(), "team");
    let created = pods.create(&pod("web", "web")).await.unwrap();
    assert_eq!(created.metadata.namespace.as_deref(), Some("team"));
    assert_eq!(created.metadata.resource_version.as_deref(), Some("1"));
    let read = pods.get("web").await.unwrap();
    assert_eq!(read.metadata.uid, created.metadata.uid);
    assert!(pods.get_opt("nope").await.unwrap().is_none());
    assert!(matches!(pods.get("nope").await, Err(StoreError::NotFound { .. })));
}

#[tokio::test]
async fn typed_reads_share_one_decoded_object() {
    let store = store();
    let pods: Api<Pod> = Api::namespaced(store.clone(), "team");
    pods.create(&pod("web", "web")).await.unwrap();
    let a = pods.get("web").await.unwrap();
    let b = pods.get("web").await.unwrap();
    assert!(Arc::ptr_eq(&a, &b), "decoded once per revision, then shared");
}

#[tokio::test]
async fn cluster_scoped_kinds_need_no_namespace() {
    let namespaces: Api<Namespace> = Api::all(store());
    let mut ns = Namespace::default();
    ns.metadata.name = Some("team".into());
    namespaces.create(&ns).await.unwrap();
    assert_eq!(
        namespaces.get("team").await.unwrap().metadata.name.as_deref(),
        Some("team")
    );
    let all_pods: Api<Pod> = Api::all(namespaces.store().clone());
    assert!(matches!(all_pods.get("x").await, Err(StoreError::BadRequest(_))));
}

#[tokio::test]
async fn list_scopes_to_the_handle_namespace_and_selectors() {
    let store = store();
    let team: Api<Pod> = Api::namespaced(store.clone(), "team");
    let other: Api<Pod> = Api::namespaced(store.clone(), "other");
    team.create(&pod("b", "web")).await.unwrap();
    team.create(&pod("a", "web")).await.unwrap();
    team.create(&pod("c", "db")).await.unwrap();
    other.create(&pod("a", "web")).await.unwrap();
    let list = team
        .list(&ListParams {
            label_selector: LabelSelector::parse("app=web").unwrap(),
            ..Default::default()
        })
        .await
        .unwrap();
    let names: Vec<_> = list.items.iter().filter_map(|p| p.metadata.name.clone()).collect();
    assert_eq!(names, ["a", "b"]);
    assert_eq!(list.revision, 4);
    let everywhere: Api<Pod> = Api::all(store);
    assert_eq!(everywhere.list(&ListParams::default()).await.unwrap().items.len(), 4);
}

#[tokio::test]
async fn replace_is_compare_and_swap_and_keeps_status() {
    let pods: Api<Pod> = Api::namespaced(store(), "team");
    let created = pods.create(&pod("web", "web")).await.unwrap();
    let mut with_status = (*created).clone();
    with_status.status = Some(PodStatus {
        phase: Some("Running".into()),
        ..Default::default()
    });
    let running = pods.replace_status(&with_status).await.unwrap();
    assert_eq!(
        running.status.as_ref().and_then(|s| s.phase.as_deref()),
        Some("Running")
    );

    // A stale replace conflicts.
    let mut stale = (*created).clone();
    stale.metadata.labels = Some(labels(&[("app", "v2")]));
    assert!(matches!(pods.replace(&stale).await, Err(StoreError::Conflict { .. })));
    // A fresh one succeeds and keeps the status it did not send.
    let mut fresh = (*running).clone();
    fresh.metadata.labels = Some(labels(&[("app", "v2")]));
    fresh.status = None;
    let replaced = pods.replace(&fresh).await.unwrap();
    assert_eq!(
        replaced.status.as_ref().and_then(|s| s.phase.as_deref()),
        Some("Running")
    );
    assert_eq!(replaced.metadata.labels, Some(labels(&[("app", "v2")])));
}

#[tokio::test]
async fn merge_patch_applies_to_the_latest_object() {
    let deployments: Api<Deployment> = Api::namespaced(store(), "team");
    deployments.create(&deployment("web")).await.unwrap();
    let patched = deployments
        .patch(
            "web",
            &json!({"spec": {"replicas": 5}, "metadata": {"labels": {"tier": "front"}}}),
        )
        .await
        .unwrap();
    assert_eq!(patched.spec.as_ref().and_then(|s| s.replicas), Some(5));
    assert_eq!(patched.metadata.generation, Some(2));
    assert_eq!(patched.metadata.labels, Some(labels(&[("tier", "front")])));
    let status = deployments
        .patch_status(
            "web",
            &json!({"status": {"observedGeneration": 2}, "spec": {"replicas": 9}}),
        )
        .await
        .unwrap();
    assert_eq!(status.status.as_ref().and_then(|s| s.observed_generation), Some(2));
    assert_eq!(
        status.spec.as_ref().and_then(|s| s.replicas),
        Some(5),
        "status patch ignores spec"
    );
    assert_eq!(status.metadata.generation, Some(2));
    // A patch carrying a stale resourceVersion is a precondition, not retried.
    let stale = deployments
        .patch(
            "web",
            &json!({"metadata": {"resourceVersion": "1"}, "spec": {"replicas": 1}}),
        )
        .await;
    assert!(matches!(stale, Err(StoreError::Conflict { .. })), "{stale:?}");
    let renamed = deployments.patch("web", &json!({"metadata": {"name": "other"}})).await;
    assert!(matches!(renamed, Err(StoreError::BadRequest(_))), "{renamed:?}");
}

#[tokio::test]
async fn concurrent_patches_all_land() {
    let deployments: Api<Deployment> = Api::namespaced(store(), "team");
    deployments.create(&deployment("web")).await.unwrap();
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let api = deployments.clone();
            tokio::spawn(async move {
                api.patch("web", &json!({"metadata": {"annotations": {format!("k{i}"): "v"}}}))
                    .await
                    .map(|_| ())
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    let web = deployments.get("web").await.unwrap();
    assert_eq!(web.metadata.annotations.as_ref().map(|a| a.len()), Some(8));
}

#[tokio::test]
async fn delete_reports_gone_or_pending() {
    let pods: Api<Pod> = Api::namespaced(store(), "team");
    pods.create(&pod("a", "web")).await.unwrap();
    let mut held = pod("b", "web");
    held.metadata.finalizers = Some(vec!["example.com/keep".into()]);
    pods.create(&held).await.unwrap();
    assert!(matches!(
        pods.delete("a", &DeleteParams::default()).await.unwrap(),
        Deleted::Gone(_)
    ));
    match pods.delete("b", &DeleteParams::default()).await.unwrap() {
        Deleted::Pending(p) => assert!(p.metadata.deletion_timestamp.is_some()),
        Deleted::Gone(_) => panic!("finalizers hold the pod"),
    }
}

#[tokio::test]
async fn typed_watch_sees_added_modified_deleted_in_order() {
    let pods: Api<Pod> = Api::namespaced(store(), "team");
    let mut events = pods.watch(&WatchParams::default()).await.unwrap();
    let created = pods.create(&pod("a", "web")).await.unwrap();
    let mut changed = (*created).clone();
    changed.metadata.labels = Some(labels(&[("app", "v2")]));
    pods.replace(&changed).await.unwrap();
    pods.delete("a", &DeleteParams::default()).await.unwrap();
    let mut seen = Vec::new();
    for _ in 0..3 {
        let event = tokio::time::timeout(Duration::from_secs(5), events.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        seen.push(match event {
            Event::Added(p) => ("Added", p.metadata.resource_version.clone()),
            Event::Modified(p) => ("Modified", p.metadata.resource_version.clone()),
            Event::Deleted(p) => ("Deleted", p.metadata.resource_version.clone()),
            Event::Bookmark(_) => ("Bookmark", None),
        });
    }
    let rv = |s: &str| Some(s.to_owned());
    assert_eq!(seen, [("Added", rv("1")), ("Modified", rv("2")), ("Deleted", rv("3"))]);
}
