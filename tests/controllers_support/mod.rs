//! Shared harness of the controller scenario tests: all four controllers on a MemoryStore, a
//! data-driven `check` helper, and a watcher that checks the rolling-update bounds at every event.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use capstan_controllers::util::{controller_ref, is_pod_active, is_pod_ready};
use capstan_controllers::{ControllersConfig, install};
use capstan_runtime::Manager;
use capstan_store::{Api, Event, ListParams, MemoryStore, Store, WatchParams};
use futures::StreamExt;
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::{Event as K8sEvent, Pod};
use serde_json::{Value, json};
use std::sync::Mutex;

pub const NS: &str = "default";

/// A running control plane: store, manager with every built-in controller.
pub struct Cluster {
    pub store: Arc<dyn Store>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<capstan_runtime::Result<()>>>,
}

impl Cluster {
    pub async fn start() -> Cluster {
        Self::start_with(ControllersConfig::default()).await
    }

    pub async fn start_with(cfg: ControllersConfig) -> Cluster {
        let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
        let manager = Manager::new(store.clone()).with_shutdown_timeout(Duration::from_secs(1));
        install(&manager, &cfg).await.expect("install");
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(manager.run(async {
            let _ = rx.await;
        }));
        Cluster {
            store,
            stop: Some(tx),
            task: Some(task),
        }
    }

    pub async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.expect("manager task").expect("manager run");
        }
    }

    pub fn deployments(&self) -> Api<Deployment> {
        Api::namespaced(self.store.clone(), NS)
    }
    pub fn rss(&self) -> Api<ReplicaSet> {
        Api::namespaced(self.store.clone(), NS)
    }
    pub fn pods(&self) -> Api<Pod> {
        Api::namespaced(self.store.clone(), NS)
    }

    pub async fn create_deployment(&self, d: Value) -> Deployment {
        let d: Deployment = serde_json::from_value(d).expect("deployment json");
        (*self.deployments().create(&d).await.expect("create deployment")).clone()
    }

    /// Merge-patches the Deployment `name`.
    pub async fn patch_deployment(&self, name: &str, patch: Value) {
        self.deployments().patch(name, &patch).await.expect("patch deployment");
    }

    pub async fn snapshot(&self) -> Snapshot {
        let lp = ListParams::default();
        Snapshot {
            deployments: items(self.deployments().list(&lp).await.expect("list")),
            rss: items(self.rss().list(&lp).await.expect("list")),
            pods: items(self.pods().list(&lp).await.expect("list")),
        }
    }

    pub async fn events(&self) -> Vec<K8sEvent> {
        let api: Api<K8sEvent> = Api::namespaced(self.store.clone(), NS);
        items(api.list(&ListParams::default()).await.expect("list events"))
    }

    /// Polls (every 200 ms of tokio time) until `cond` holds, or panics with the last snapshot.
    pub async fn wait(&self, what: &str, within: Duration, cond: impl Fn(&Snapshot) -> bool) -> Snapshot {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let snap = self.snapshot().await;
            if cond(&snap) {
                return snap;
            }
            if tokio::time::Instant::now() >= deadline {
                panic!("timed out waiting for: {what}\n{}", snap.describe());
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Waits until the Deployment `name` has finished rolling out with `replicas` ready pods.
    pub async fn wait_rolled_out(&self, name: &str, replicas: i32) -> Snapshot {
        self.wait(
            &format!("{name} rolled out with {replicas}"),
            Duration::from_secs(120),
            |s| s.rolled_out(name, replicas),
        )
        .await
    }
}

fn items<K: Clone>(list: capstan_store::ObjectList<K>) -> Vec<K> {
    list.items.iter().map(|o| (**o).clone()).collect()
}

/// Every Deployment, ReplicaSet and Pod of the test namespace at one moment.
#[derive(Clone, Debug)]
pub struct Snapshot {
    pub deployments: Vec<Deployment>,
    pub rss: Vec<ReplicaSet>,
    pub pods: Vec<Pod>,
}

impl Snapshot {
    pub fn deployment(&self, name: &str) -> Option<&Deployment> {
        self.deployments
            .iter()
            .find(|d| d.metadata.name.as_deref() == Some(name))
    }

    /// Pods that count: active (not terminating, not finished).
    pub fn active_pods(&self) -> Vec<&Pod> {
        self.pods.iter().filter(|p| is_pod_active(p)).collect()
    }

    pub fn ready_pods(&self) -> usize {
        self.active_pods().iter().filter(|p| is_pod_ready(p)).count()
    }

    /// RSs controlled by the Deployment `name`.
    pub fn rss_of(&self, name: &str) -> Vec<&ReplicaSet> {
        let uid = self.deployment(name).and_then(|d| d.metadata.uid.clone());
        self.rss
            .iter()
            .filter(|rs| controller_ref(&rs.metadata).map(|r| Some(r.uid.clone())) == Some(uid.clone()))
            .collect()
    }

    /// kubectl's rollout-complete test (D.41) plus: every active pod is Ready and has the template
    /// of the newest RS, and no old RS keeps replicas.
    pub fn rolled_out(&self, name: &str, replicas: i32) -> bool {
        let Some(d) = self.deployment(name) else { return false };
        let Some(st) = d.status.as_ref() else { return false };
        let spec_replicas = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
        st.observed_generation >= d.metadata.generation
            && spec_replicas == replicas
            && st.updated_replicas == Some(replicas)
            && st.replicas == Some(replicas)
            && st.available_replicas == Some(replicas)
            && self.active_pods().len() == usize::try_from(replicas).unwrap_or(0)
            && self.ready_pods() == usize::try_from(replicas).unwrap_or(0)
    }

    /// (name, spec.replicas, revision) of each RS of `name`, oldest revision first.
    pub fn rs_table(&self, name: &str) -> Vec<(String, i32, String)> {
        let mut out: Vec<(String, i32, String)> = self
            .rss_of(name)
            .iter()
            .map(|rs| {
                (
                    rs.metadata.name.clone().unwrap_or_default(),
                    rs.spec.as_ref().and_then(|s| s.replicas).unwrap_or(0),
                    rs.metadata
                        .annotations
                        .as_ref()
                        .and_then(|a| a.get("deployment.kubernetes.io/revision").cloned())
                        .unwrap_or_default(),
                )
            })
            .collect();
        out.sort_by_key(|(_, _, rev)| rev.parse::<i64>().unwrap_or(0));
        out
    }

    pub fn describe(&self) -> String {
        let mut s = String::new();
        for d in &self.deployments {
            s.push_str(&format!(
                "deployment {:?} gen={:?} status={}\n",
                d.metadata.name,
                d.metadata.generation,
                serde_json::to_string(&d.status).unwrap_or_default()
            ));
        }
        for rs in &self.rss {
            s.push_str(&format!(
                "rs {:?} spec={:?} status={} ann={:?}\n",
                rs.metadata.name,
                rs.spec.as_ref().and_then(|s| s.replicas),
                serde_json::to_string(&rs.status).unwrap_or_default(),
                rs.metadata.annotations
            ));
        }
        for p in &self.pods {
            s.push_str(&format!(
                "pod {:?} phase={:?} ready={} deleting={} owner={:?}\n",
                p.metadata.name,
                p.status.as_ref().and_then(|s| s.phase.clone()),
                is_pod_ready(p),
                p.metadata.deletion_timestamp.is_some(),
                controller_ref(&p.metadata).map(|r| r.name.clone())
            ));
        }
        s
    }
}

/// A Deployment manifest: `name` with label app=`name`, `replicas`, one container with `image`, and
/// `extra` merged into `spec`.
pub fn deployment(name: &str, replicas: i32, image: &str, extra: Value) -> Value {
    let mut d = json!({
        "metadata": {"name": name, "namespace": NS},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "main", "image": image}]}
            }
        }
    });
    merge(&mut d["spec"], extra);
    d
}

/// RFC 7386 merge of `patch` into `target`.
pub fn merge(target: &mut Value, patch: Value) {
    match (target, patch) {
        (Value::Object(t), Value::Object(p)) => {
            for (k, v) in p {
                if v.is_null() {
                    t.remove(&k);
                } else {
                    merge(t.entry(k).or_insert(Value::Null), v);
                }
            }
        }
        (t, p) => *t = p,
    }
}

/// The bounds of E.44, checked at every pod event while armed.
pub struct BoundsWatcher {
    pub violations: Arc<Mutex<Vec<String>>>,
    pub checks: Arc<Mutex<usize>>,
    task: tokio::task::JoinHandle<()>,
}

impl BoundsWatcher {
    /// Watches the pods of the namespace: at every event, active pods ≤ `max_total` and available
    /// (Ready, not terminating) ≥ `min_available`.
    pub async fn start(store: &Arc<dyn Store>, max_total: usize, min_available: usize) -> BoundsWatcher {
        Self::start_checked(store, max_total, min_available, false).await
    }

    /// As [`start`](Self::start); with `exclusive`, also checks that pods of two templates (two
    /// `pod-template-hash` values, terminating pods included) never exist at once (Recreate, F.46).
    pub async fn start_checked(
        store: &Arc<dyn Store>,
        max_total: usize,
        min_available: usize,
        exclusive: bool,
    ) -> BoundsWatcher {
        let api: Api<Pod> = Api::namespaced(store.clone(), NS);
        let list = api.list(&ListParams::default()).await.expect("list");
        let mut pods: BTreeMap<String, Pod> = list
            .items
            .iter()
            .map(|p| (p.metadata.name.clone().unwrap_or_default(), (**p).clone()))
            .collect();
        let params = WatchParams {
            from_revision: list.revision,
            ..WatchParams::default()
        };
        let mut stream = Box::pin(api.watch(&params).await.expect("watch"));
        let violations = Arc::new(Mutex::new(Vec::new()));
        let checks = Arc::new(Mutex::new(0usize));
        let (v, c) = (violations.clone(), checks.clone());
        let task = tokio::spawn(async move {
            while let Some(Ok(ev)) = stream.next().await {
                match ev {
                    Event::Added(p) | Event::Modified(p) => {
                        pods.insert(p.metadata.name.clone().unwrap_or_default(), (*p).clone());
                    }
                    Event::Deleted(p) => {
                        pods.remove(p.metadata.name.as_deref().unwrap_or_default());
                    }
                    Event::Bookmark(_) => continue,
                }
                let active: Vec<&Pod> = pods.values().filter(|p| is_pod_active(p)).collect();
                let available = active.iter().filter(|p| is_pod_ready(p)).count();
                *c.lock().unwrap() += 1;
                if active.len() > max_total {
                    v.lock()
                        .unwrap()
                        .push(format!("{} active pods > {max_total}", active.len()));
                }
                if available < min_available {
                    v.lock()
                        .unwrap()
                        .push(format!("{available} available pods < {min_available}"));
                }
                if exclusive {
                    let hashes: std::collections::BTreeSet<&str> = pods
                        .values()
                        .filter_map(|p| p.metadata.labels.as_ref()?.get("pod-template-hash"))
                        .map(String::as_str)
                        .collect();
                    if hashes.len() > 1 {
                        v.lock()
                            .unwrap()
                            .push(format!("pods of two templates at once: {hashes:?}"));
                    }
                }
            }
        });
        BoundsWatcher {
            violations,
            checks,
            task,
        }
    }

    /// Stops watching, asserts no bound was broken at any observed step, and returns how many steps
    /// (pod events) were checked.
    pub fn assert_held(self) -> usize {
        self.task.abort();
        let v = self.violations.lock().unwrap().clone();
        assert!(v.is_empty(), "bounds broken: {v:?}");
        // Callers that expect movement assert on the count.
        *self.checks.lock().unwrap()
    }
}
