//! capstan-controllers: Capstan's built-in controllers — ReplicaSet, Deployment, the garbage
//! collector, the namespace controller and a simulated node agent — as ordinary plugins of
//! `capstan-runtime`.
//!
//! For whoever runs a Capstan control plane (`capstan up` calls [`install`]) and for anyone who
//! wants to see exactly what these controllers decide. Start with [`install`] and
//! [`ControllersConfig`]; the reconcilers are [`ReplicaSetReconciler`], [`DeploymentReconciler`],
//! [`GarbageCollector`], [`NamespaceReconciler`] and [`NodeAgentReconciler`]. They use nothing but
//! the runtime's public API, so they are also worked examples of writing a controller.
//!
//! Each reconciler is a thin loop around pure decision functions: read the caches, call the
//! functions in [`ownership`], [`replicaset`], [`deployment`], [`gc`], [`namespace`] or
//! [`nodeagent`], write what they return. The pure functions do no IO and every rule cites its item
//! in `specs/apps.md` (e.g. C.25), so they are tested on plain values.
//!
//! # Example
//!
//! Install the controllers on an in-memory store, apply a Deployment and wait for three Ready pods
//! (on a paused clock, so the simulated one-second start takes no real time):
//!
//! ```
//! use std::sync::Arc;
//! use std::time::Duration;
//! use capstan_controllers::{ControllersConfig, install};
//! use capstan_runtime::Manager;
//! use capstan_store::{Api, ListParams, MemoryStore, Store};
//! use k8s_openapi::api::apps::v1::Deployment;
//! use k8s_openapi::api::core::v1::Pod;
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
//! let manager = Manager::new(store.clone());
//! install(&manager, &ControllersConfig::default()).await?;
//! let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
//! let running = tokio::spawn(manager.run(async { let _ = stopped.await; }));
//!
//! let deployment: Deployment = serde_json::from_value(serde_json::json!({
//!     "metadata": {"name": "my-app", "namespace": "default"},
//!     "spec": {
//!         "replicas": 3,
//!         "selector": {"matchLabels": {"app": "my-app"}},
//!         "template": {
//!             "metadata": {"labels": {"app": "my-app"}},
//!             "spec": {"containers": [{"name": "nginx", "image": "nginx:latest"}]}
//!         }
//!     }
//! }))?;
//! Api::<Deployment>::namespaced(store.clone(), "default").create(&deployment).await?;
//!
//! let pods = Api::<Pod>::namespaced(store.clone(), "default");
//! let ready = |p: &Pod| capstan_controllers::util::is_pod_ready(p);
//! loop {
//!     let list = pods.list(&ListParams::default()).await?;
//!     if list.items.iter().filter(|p| ready(p)).count() == 3 { break; }
//!     tokio::time::sleep(Duration::from_millis(100)).await;
//! }
//! let _ = stop.send(());
//! running.await??;
//! # Ok(()) }
//! ```
#![warn(missing_docs)]

pub mod deployment;
pub mod error;
pub mod gc;
pub mod namespace;
pub mod nodeagent;
pub mod ownership;
pub mod replicaset;
pub mod util;
mod writes;

use std::time::Duration;

use capstan_core::{ObjectKey, Resource};
use capstan_runtime::{Cache, Controller, Manager, controller_owner_key};
use capstan_store::Api;
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::{Namespace, Node, Pod};
use k8s_openapi::jiff::SignedDuration;

pub use deployment::DeploymentReconciler;
pub use error::Error;
pub use gc::{GarbageCollector, GarbageSweeper};
pub use namespace::NamespaceReconciler;
pub use nodeagent::{AgentConfig, NodeAgentReconciler};
pub use replicaset::ReplicaSetReconciler;

/// Which built-in controllers to run, and how.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ControllersConfig {
    /// How many simulated nodes the node agent creates and runs pods on (default 3).
    pub nodes: usize,
    /// Run the simulated node agent (default true). Without it pods stay Pending, as on a cluster
    /// without kubelets.
    pub node_agent: bool,
    /// Run the garbage collector (default true).
    pub garbage_collector: bool,
    /// Workers per controller (default 4).
    pub workers: usize,
    /// Time from scheduling to Running and Ready for a pod without the `capstan.dev/start-delay`
    /// annotation (default 1 s).
    pub start_delay: Duration,
    /// Time from stopping a deleted pod's containers to removing it, never later than its grace
    /// period allows (default 1 s; `None` waits for the whole grace period).
    pub termination_delay: Option<Duration>,
}

impl Default for ControllersConfig {
    fn default() -> Self {
        Self {
            nodes: 3,
            node_agent: true,
            garbage_collector: true,
            workers: 4,
            start_delay: Duration::from_secs(1),
            termination_delay: Some(Duration::from_secs(1)),
        }
    }
}

impl ControllersConfig {
    /// The node agent's configuration derived from this one.
    pub fn agent_config(&self) -> AgentConfig {
        let signed = |d: Duration| SignedDuration::try_from(d).unwrap_or(SignedDuration::MAX);
        AgentConfig {
            default_start_delay: signed(self.start_delay),
            termination_delay: self.termination_delay.map(signed),
            ..AgentConfig::with_nodes(self.nodes)
        }
    }
}

/// The names the controllers are registered under (metrics, logs, Event sources).
pub const CONTROLLER_NAMES: [&str; 8] = [
    "replicaset",
    "deployment",
    "garbagecollector-deployment",
    "garbagecollector-replicaset",
    "garbagecollector-pod",
    "garbagecollector-sweep",
    "namespace",
    "nodeagent",
];

/// Registers the built-in controllers on `manager` as `config` says, and (with the node agent)
/// creates the simulated Node objects in the manager's store; existing Nodes are kept.
///
/// Call it before [`Manager::run`]. Registered: the ReplicaSet controller (owns Pods), the
/// Deployment controller (owns ReplicaSets, watches deleted Pods for Recreate), one garbage
/// collector per kind (Deployment, ReplicaSet, Pod; each watches the other two), a periodic sweep
/// collecting every other kind (ConfigMaps, Services, custom resources: [`gc::sweep`]), the namespace
/// controller (empties terminating Namespaces), and the node agent (over Pods). Names:
/// [`CONTROLLER_NAMES`].
///
/// # Errors
/// [`Error::Store`] when a Node object cannot be created.
pub async fn install(manager: &Manager, config: &ControllersConfig) -> Result<(), Error> {
    let workers = config.workers.max(1);
    manager.add(
        Controller::<ReplicaSet>::new()
            .owns::<Pod>()
            .concurrency(workers)
            .reconcile(ReplicaSetReconciler::default()),
    );
    let rs_cache = manager.cache::<ReplicaSet>();
    let deployments = manager.cache::<Deployment>();
    manager.add(
        Controller::<Deployment>::new()
            .owns::<ReplicaSet>()
            .watches::<Pod>(move |pod| recreate_owner(&rs_cache, &deployments, pod))
            .concurrency(workers)
            .reconcile(DeploymentReconciler::default()),
    );
    if config.garbage_collector {
        add_gc::<Deployment>(manager);
        add_gc::<ReplicaSet>(manager);
        add_gc::<Pod>(manager);
        // Every other kind (ConfigMaps, Services, custom resources, ...), swept per namespace.
        manager.add(
            Controller::<Namespace>::new()
                .name("garbagecollector-sweep")
                .concurrency(1)
                .reconcile(GarbageSweeper),
        );
    }
    manager.add(
        Controller::<Namespace>::new()
            .concurrency(2)
            .reconcile(NamespaceReconciler::default()),
    );
    if config.node_agent {
        let agent = config.agent_config();
        let created = nodeagent::create_nodes(&Api::<Node>::all(manager.store().clone()), &agent).await?;
        tracing::info!(nodes = agent.nodes.len(), created, "simulated nodes ready");
        manager.add(
            Controller::<Pod>::new()
                .name("nodeagent")
                .concurrency(workers)
                .reconcile(NodeAgentReconciler::new(agent)),
        );
    }
    Ok(())
}

/// Registers the collector for kind `K`, woken also by changes to the other kinds it relates to.
fn add_gc<K: Resource>(manager: &Manager) {
    let own = manager.cache::<K>();
    let (a, b, c) = (own.clone(), own.clone(), own);
    let mut controller = Controller::<K>::new()
        .name(format!("garbagecollector-{}", K::KIND.to_lowercase()))
        .concurrency(2);
    if K::KIND != Deployment::KIND {
        controller = controller.watches::<Deployment>(move |o| gc::reconciler::related_keys(&a, o));
    }
    if K::KIND != ReplicaSet::KIND {
        controller = controller.watches::<ReplicaSet>(move |o| gc::reconciler::related_keys(&b, o));
    }
    if K::KIND != Pod::KIND {
        controller = controller.watches::<Pod>(move |o| gc::reconciler::related_keys(&c, o));
    }
    manager.add(controller.reconcile(GarbageCollector::<K>::default()));
}

/// A pod going away wakes its Recreate Deployment, which waits for every old pod to be gone (F.46).
fn recreate_owner(rs_cache: &Cache<ReplicaSet>, deployments: &Cache<Deployment>, pod: &Pod) -> Vec<ObjectKey> {
    let going = pod.metadata.deletion_timestamp.is_some() || !util::is_pod_active(pod);
    let key = going
        .then(|| controller_owner_key::<ReplicaSet, Pod>(pod))
        .flatten()
        .and_then(|k| rs_cache.get(&k))
        .and_then(|rs| controller_owner_key::<Deployment, ReplicaSet>(&*rs))
        .filter(|k| {
            deployments
                .get(k)
                .is_some_and(|d| !deployment::fields::is_rolling_update(&d))
        });
    key.into_iter().collect()
}
