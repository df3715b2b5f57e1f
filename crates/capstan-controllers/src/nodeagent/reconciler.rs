//! The simulated kubelet as a [`Reconciler`] over Pods: each sync runs one [`step`] of the stage
//! table for one pod and writes what it decided.
//!
//! # Expected flow of one sync
//! 1. The pod is gone: done.
//! 2. For a pod still to be placed, build the [`ClusterView`] from a store read (the cache may lag
//!    the agent's own placements); run [`step`] at `now`.
//! 3. Bind (`spec.nodeName`, by update, which admission allows only for an unbound pod), then write
//!    the status through the status subresource (compare-and-swap on the pod's resourceVersion).
//! 4. Remove a stopped, deleted pod for good with a grace-0 delete (finalizers still hold it).
//! 5. Record the stage's Event, and requeue at the next stage's time (`next_at`).
//!
//! Binding and IP assignment read the cluster view and write under one lock, so two workers never
//! pick the same pod IP.

use capstan_runtime::{Action, Context, ReconcileError, ReconcileRequest, Reconciler};
use capstan_store::{DeleteParams, ListParams, Preconditions, StoreError};
use k8s_openapi::api::core::v1::{Node, Pod};
use serde_json::json;
use tokio::sync::Mutex;

use crate::nodeagent::{AgentConfig, ClusterView, node_objects, step};
use crate::util::PHASE_PENDING;
use crate::writes::{is_benign, until};

/// The node agent reconciler: simulates kubelets for the nodes of its [`AgentConfig`].
#[derive(Debug)]
pub struct NodeAgentReconciler {
    cfg: AgentConfig,
    placement: Mutex<()>,
}

impl NodeAgentReconciler {
    /// An agent for the nodes and timings of `cfg`.
    pub fn new(cfg: AgentConfig) -> Self {
        Self {
            cfg,
            placement: Mutex::new(()),
        }
    }

    /// The agent's configuration.
    pub fn config(&self) -> &AgentConfig {
        &self.cfg
    }
}

/// Creates the Node objects of `cfg` in the store (existing ones are left as they are).
pub async fn create_nodes(api: &capstan_store::Api<Node>, cfg: &AgentConfig) -> Result<usize, StoreError> {
    let mut created = 0;
    for node in node_objects(cfg, capstan_store::clock::now()) {
        match api.create(&node).await {
            Ok(_) => created += 1,
            Err(StoreError::AlreadyExists { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(created)
}

#[capstan_runtime::async_trait]
impl Reconciler<Pod> for NodeAgentReconciler {
    async fn reconcile(&self, req: ReconcileRequest, ctx: &Context<Pod>) -> Result<Action, ReconcileError> {
        let Some(pod) = ctx.cache().get(&req.key) else {
            return Ok(Action::done());
        };
        let unplaced = pod
            .spec
            .as_ref()
            .and_then(|s| s.node_name.as_deref())
            .is_none_or(str::is_empty)
            || (pod.status.as_ref().and_then(|s| s.pod_ip.as_ref()).is_none()
                && pod
                    .status
                    .as_ref()
                    .and_then(|s| s.phase.as_deref())
                    .is_none_or(|p| p == PHASE_PENDING));
        // Placement decisions read the whole cluster: serialize them so two pods never get one IP.
        let _guard = if unplaced {
            Some(self.placement.lock().await)
        } else {
            None
        };
        let now = ctx.now();
        // The cache may not show this agent's own latest placements yet: place from a store read.
        let view = if unplaced {
            let all = ctx.api_all::<Pod>().list(&ListParams::default()).await?;
            let nodes = ctx.api_all::<Node>().list(&ListParams::default()).await?;
            ClusterView::from_pods(all.items.iter().map(|p| &**p)).with_nodes(nodes.items.iter().map(|n| &**n))
        } else {
            ClusterView::default()
        };
        let decided = step(&pod, now, &view, &self.cfg);
        let api = ctx.api::<Pod>(&req.key.namespace);
        let name = req.key.name.as_str();
        let mut current = pod.clone();
        if let Some(node) = &decided.bind_to {
            match api.patch(name, &json!({"spec": {"nodeName": node}})).await {
                Ok(p) => current = p,
                Err(e) if is_benign(&e) => return Ok(Action::done()),
                Err(e) => return Err(e.into()),
            }
        }
        if let Some(status) = decided.status {
            let mut updated = (*current).clone();
            updated.status = Some(status);
            match api.replace_status(&updated).await {
                Ok(p) => current = p,
                Err(StoreError::NotFound { .. }) => return Ok(Action::done()),
                Err(e) => return Err(e.into()),
            }
        }
        if decided.delete_now {
            let params = DeleteParams {
                grace_period_seconds: Some(0),
                preconditions: Preconditions {
                    uid: current.metadata.uid.clone(),
                    resource_version: None,
                },
                ..DeleteParams::default()
            };
            match api.delete(name, &params).await {
                Ok(_) => {}
                Err(e) if is_benign(&e) => {}
                Err(e) => return Err(e.into()),
            }
        }
        if let Some(event) = decided.event {
            ctx.recorder()
                .record(&*current, event_type(event.type_), event.reason, &event.message)
                .await;
        }
        Ok(match decided.next_at {
            Some(at) => Action::requeue_after(until(at, now)),
            None => Action::done(),
        })
    }
}

fn event_type(t: &str) -> capstan_runtime::EventType {
    if t == "Warning" {
        capstan_runtime::EventType::Warning
    } else {
        capstan_runtime::EventType::Normal
    }
}
