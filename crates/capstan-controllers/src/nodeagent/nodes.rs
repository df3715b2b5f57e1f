//! The simulated nodes: their Node objects, addresses, and the view of which pods run where, used to
//! spread pods evenly and to hand out pod IPs from a per-node range.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::core::v1::{Node, NodeAddress, NodeCondition, NodeSpec, NodeStatus, NodeSystemInfo, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use k8s_openapi::jiff::{SignedDuration, Timestamp};

use crate::nodeagent::behaviour::DEFAULT_START_DELAY_MS;
use crate::util::{PHASE_FAILED, PHASE_SUCCEEDED, pod_phase};

/// The kubelet version the simulated nodes report (`kubectl get nodes` shows it as VERSION): the
/// Kubernetes version Capstan's API follows, marked as Capstan's.
pub const KUBELET_VERSION: &str = "v1.32.0-capstan";

/// What a simulated node says about itself in `status.nodeInfo`: honest values, no real machine
/// behind it (`kubectl get nodes -o wide` shows OS image, kernel and container runtime).
pub fn node_info(name: &str) -> NodeSystemInfo {
    NodeSystemInfo {
        architecture: go_arch(std::env::consts::ARCH).to_owned(),
        operating_system: std::env::consts::OS.to_owned(),
        os_image: "capstan simulated node".to_owned(),
        kernel_version: "simulated".to_owned(),
        container_runtime_version: concat!("capstan-sim://", env!("CARGO_PKG_VERSION")).to_owned(),
        kubelet_version: KUBELET_VERSION.to_owned(),
        kube_proxy_version: String::new(),
        machine_id: name.to_owned(),
        system_uuid: name.to_owned(),
        boot_id: String::new(),
        swap: None,
    }
}

/// A Rust target architecture under the name Kubernetes uses (Go's `GOARCH`): `amd64`, `arm64`, ...
fn go_arch(rust_arch: &str) -> &str {
    match rust_arch {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        "loongarch64" => "loong64",
        other => other,
    }
}

/// The agent's configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AgentConfig {
    /// Node names, in order; node `i` gets pod IPs `10.244.i.0/24` and host IP `10.0.0.(i+10)`.
    pub nodes: Vec<String>,
    /// Delay from scheduling to Running when the pod has no start-delay annotation.
    pub default_start_delay: SignedDuration,
    /// Delay from stopping a deleted pod's containers to removing it; the removal never happens later
    /// than the pod's `deletionTimestamp` (I.63). `None` removes it exactly at the deadline.
    pub termination_delay: Option<SignedDuration>,
}

impl AgentConfig {
    /// `n` nodes named `capstan-node-1` … `capstan-node-n` (at most 250), default timings.
    pub fn with_nodes(n: usize) -> AgentConfig {
        AgentConfig {
            nodes: (1..=n.min(250)).map(|i| format!("capstan-node-{i}")).collect(),
            default_start_delay: SignedDuration::from_millis(DEFAULT_START_DELAY_MS),
            termination_delay: Some(SignedDuration::from_secs(1)),
        }
    }

    /// The host IP of node `index`.
    pub fn host_ip(&self, index: usize) -> String {
        format!("10.0.0.{}", index + 10)
    }

    /// The pod CIDR of node `index`.
    pub fn pod_cidr(&self, index: usize) -> String {
        format!("10.244.{index}.0/24")
    }
}

impl Default for AgentConfig {
    /// Three nodes (the default).
    fn default() -> Self {
        AgentConfig::with_nodes(3)
    }
}

/// The Node objects for the configured nodes: Ready, with an InternalIP and a pod CIDR.
pub fn node_objects(cfg: &AgentConfig, now: Timestamp) -> Vec<Node> {
    cfg.nodes
        .iter()
        .enumerate()
        .map(|(i, name)| Node {
            metadata: ObjectMeta {
                name: Some(name.clone()),
                labels: Some(BTreeMap::from([
                    ("kubernetes.io/hostname".to_owned(), name.clone()),
                    ("type".to_owned(), "capstan-sim".to_owned()),
                ])),
                ..ObjectMeta::default()
            },
            spec: Some(NodeSpec {
                pod_cidr: Some(cfg.pod_cidr(i)),
                ..NodeSpec::default()
            }),
            status: Some(NodeStatus {
                addresses: Some(vec![
                    NodeAddress {
                        type_: "InternalIP".into(),
                        address: cfg.host_ip(i),
                    },
                    NodeAddress {
                        type_: "Hostname".into(),
                        address: name.clone(),
                    },
                ]),
                conditions: Some(vec![NodeCondition {
                    type_: "Ready".into(),
                    status: "True".into(),
                    reason: Some("KubeletReady".into()),
                    message: Some("capstan simulated kubelet is posting ready status".into()),
                    last_heartbeat_time: Some(Time(now)),
                    last_transition_time: Some(Time(now)),
                }]),
                node_info: Some(node_info(name)),
                ..NodeStatus::default()
            }),
        })
        .collect()
}

/// Which pods the nodes run now: counts of non-terminal pods and the pod IPs in use, per node.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClusterView {
    /// Non-terminal pods bound to each node.
    pub pods_per_node: BTreeMap<String, usize>,
    /// Pod IPs in use on each node.
    pub ips_per_node: BTreeMap<String, BTreeSet<String>>,
    /// Nodes cordoned (`spec.unschedulable: true`, as `kubectl cordon` and `drain` set it): no new
    /// pod is placed on them.
    pub unschedulable: BTreeSet<String>,
}

impl ClusterView {
    /// Builds the view from every pod the agent sees.
    pub fn from_pods<'a>(pods: impl IntoIterator<Item = &'a Pod>) -> ClusterView {
        let mut view = ClusterView::default();
        for pod in pods {
            let Some(node) = pod
                .spec
                .as_ref()
                .and_then(|s| s.node_name.clone())
                .filter(|n| !n.is_empty())
            else {
                continue;
            };
            if matches!(pod_phase(pod), PHASE_SUCCEEDED | PHASE_FAILED) {
                continue;
            }
            *view.pods_per_node.entry(node.clone()).or_insert(0) += 1;
            if let Some(ip) = pod.status.as_ref().and_then(|s| s.pod_ip.clone()) {
                view.ips_per_node.entry(node).or_default().insert(ip);
            }
        }
        view
    }

    /// Marks the cordoned nodes among `nodes` (those with `spec.unschedulable: true`).
    pub fn with_nodes<'a>(mut self, nodes: impl IntoIterator<Item = &'a Node>) -> ClusterView {
        for node in nodes {
            let cordoned = node.spec.as_ref().and_then(|s| s.unschedulable).unwrap_or(false);
            if cordoned && let Some(name) = &node.metadata.name {
                self.unschedulable.insert(name.clone());
            }
        }
        self
    }

    /// The schedulable node with the fewest pods (ties: configuration order), or `None` when no
    /// node is schedulable.
    pub fn least_loaded<'c>(&self, cfg: &'c AgentConfig) -> Option<&'c str> {
        cfg.nodes
            .iter()
            .enumerate()
            .filter(|(_, n)| !self.unschedulable.contains(*n))
            .min_by_key(|(i, n)| (self.pods_per_node.get(*n).copied().unwrap_or(0), *i))
            .map(|(_, n)| n.as_str())
    }

    /// The lowest free pod IP in node `node`'s range (`.2`–`.254`), or `None` when the node is unknown
    /// or its range is full.
    pub fn free_ip(&self, cfg: &AgentConfig, node: &str) -> Option<String> {
        let index = cfg.nodes.iter().position(|n| n == node)?;
        let used = self.ips_per_node.get(node);
        (2..=254)
            .map(|k| format!("10.244.{index}.{k}"))
            .find(|ip| !used.is_some_and(|u| u.contains(ip)))
    }

    /// Records that a pod was bound to `node` (so the next decision in the same pass sees it).
    pub fn record_bind(&mut self, node: &str) {
        *self.pods_per_node.entry(node.to_owned()).or_insert(0) += 1;
    }

    /// Records that `ip` is in use on `node`.
    pub fn record_ip(&mut self, node: &str, ip: &str) {
        self.ips_per_node
            .entry(node.to_owned())
            .or_default()
            .insert(ip.to_owned());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::util::testing::{pod, ts};
    use k8s_openapi::api::core::v1::PodSpec;

    fn on(node: &str, ip: Option<&str>, phase: &str) -> Pod {
        let mut p = pod("p", phase, None);
        p.spec = Some(PodSpec {
            node_name: Some(node.into()),
            ..PodSpec::default()
        });
        if let Some(s) = p.status.as_mut() {
            s.pod_ip = ip.map(str::to_owned);
        }
        p
    }

    #[test]
    fn j66_nodes_are_ready_with_addresses_and_cidrs() {
        let cfg = AgentConfig::default();
        let nodes = node_objects(&cfg, ts(0));
        assert_eq!(nodes.len(), 3);
        let st: NodeStatus = nodes[1].status.clone().unwrap_or_default();
        assert_eq!(st.addresses.unwrap_or_default()[0].address, "10.0.0.11");
        assert_eq!(st.conditions.unwrap_or_default()[0].status, "True");
        assert_eq!(
            nodes[1].spec.as_ref().and_then(|s| s.pod_cidr.clone()).as_deref(),
            Some("10.244.1.0/24")
        );
    }

    #[test]
    fn nodes_report_a_kubelet_version_and_honest_system_info() {
        let nodes = node_objects(&AgentConfig::default(), ts(0));
        let info = nodes[0]
            .status
            .as_ref()
            .and_then(|s| s.node_info.clone())
            .unwrap_or_default();
        assert_eq!(info.kubelet_version, "v1.32.0-capstan");
        assert_eq!(info.os_image, "capstan simulated node");
        assert!(info.container_runtime_version.starts_with("capstan-sim://"));
        assert!(!info.kernel_version.is_empty() && !info.architecture.is_empty());
        assert!(!info.operating_system.is_empty());
        assert_eq!(info.machine_id, "capstan-node-1");
        assert_eq!(
            (go_arch("x86_64"), go_arch("aarch64"), go_arch("s390x")),
            ("amd64", "arm64", "s390x")
        );
    }

    #[test]
    fn pods_spread_to_the_least_loaded_node_in_order() {
        let cfg = AgentConfig::default();
        let pods = [
            on("capstan-node-1", None, "Running"),
            on("capstan-node-2", None, "Running"),
        ];
        let mut view = ClusterView::from_pods(&pods);
        assert_eq!(view.least_loaded(&cfg), Some("capstan-node-3"));
        view.record_bind("capstan-node-3");
        assert_eq!(view.least_loaded(&cfg), Some("capstan-node-1"));
        let finished = [on("capstan-node-1", None, "Succeeded")];
        assert_eq!(
            ClusterView::from_pods(&finished).least_loaded(&cfg),
            Some("capstan-node-1")
        );
        assert_eq!(ClusterView::default().least_loaded(&AgentConfig::with_nodes(0)), None);
    }

    #[test]
    fn cordoned_nodes_get_no_new_pods() {
        let cfg = AgentConfig::with_nodes(3);
        let mut nodes = node_objects(&cfg, Timestamp::UNIX_EPOCH);
        for node in &mut nodes[..2] {
            node.spec.get_or_insert_with(Default::default).unschedulable = Some(true);
        }
        let view = ClusterView::default().with_nodes(&nodes);
        assert_eq!(view.least_loaded(&cfg), Some("capstan-node-3"));
        nodes[2].spec.get_or_insert_with(Default::default).unschedulable = Some(true);
        assert_eq!(ClusterView::default().with_nodes(&nodes).least_loaded(&cfg), None);
    }

    #[test]
    fn pod_ips_come_from_the_node_range_and_are_not_reused() {
        let cfg = AgentConfig::default();
        let pods = [on("capstan-node-2", Some("10.244.1.2"), "Running")];
        let mut view = ClusterView::from_pods(&pods);
        assert_eq!(view.free_ip(&cfg, "capstan-node-2").as_deref(), Some("10.244.1.3"));
        view.record_ip("capstan-node-2", "10.244.1.3");
        assert_eq!(view.free_ip(&cfg, "capstan-node-2").as_deref(), Some("10.244.1.4"));
        assert_eq!(view.free_ip(&cfg, "capstan-node-1").as_deref(), Some("10.244.0.2"));
        assert_eq!(view.free_ip(&cfg, "elsewhere"), None);
    }
}
