//! Node ports of NodePort and LoadBalancer Services: assigned when unset, kept on update, checked.
//!
//! Kubernetes allocates each port from 30000–32767 with a cluster-wide allocator. Capstan has no
//! allocator across objects: a port is derived from the Service's namespace, name and port (stable,
//! spread over the range, distinct within the Service) and nothing listens on it. Two Services can
//! get the same node port, which Kubernetes would refuse.

use k8s_openapi::api::core::v1::{Service, ServiceSpec};

use super::child;
use crate::validation::FieldError;

/// The node port range Kubernetes uses by default.
pub const NODE_PORTS: std::ops::RangeInclusive<i32> = 30000..=32767;

/// Whether a Service type exposes node ports.
fn has_node_ports(spec: &ServiceSpec) -> bool {
    matches!(spec.type_.as_deref(), Some("NodePort" | "LoadBalancer"))
}

/// A stable node port for `port` of `namespace/name`.
fn derived(namespace: &str, name: &str, port: i32, protocol: &str) -> i32 {
    let mut hash: u32 = 0x811c_9dc5;
    let text = format!("{namespace}/{name}/{port}/{protocol}");
    for byte in text.bytes() {
        hash ^= u32::from(byte);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    let span = (NODE_PORTS.end() - NODE_PORTS.start() + 1) as u32;
    NODE_PORTS.start() + (hash % span) as i32
}

/// Fills the node ports of a NodePort or LoadBalancer Service (keeping `old`'s for the same port
/// and protocol) and its `externalTrafficPolicy` (`Cluster`).
pub fn default_node_ports(svc: &mut Service, old: Option<&Service>) {
    let namespace = svc.metadata.namespace.clone().unwrap_or_default();
    let name = svc.metadata.name.clone().unwrap_or_default();
    let Some(spec) = svc.spec.as_mut() else { return };
    if !has_node_ports(spec) {
        // A type change away from NodePort/LoadBalancer drops the node ports it had been given
        // (the ones an apply carries over unchanged), as Kubernetes does.
        if let Some(old_spec) = old.and_then(|o| o.spec.as_ref()).filter(|s| has_node_ports(s)) {
            let old_ports = old_spec.ports.as_deref().unwrap_or_default();
            for port in spec.ports.iter_mut().flatten() {
                if port.node_port.is_some() && old_ports.iter().any(|o| o.node_port == port.node_port) {
                    port.node_port = None;
                }
            }
            if spec.external_traffic_policy == old_spec.external_traffic_policy {
                spec.external_traffic_policy = None;
            }
        }
        return;
    }
    spec.external_traffic_policy.get_or_insert_with(|| "Cluster".into());
    let old_ports = old
        .and_then(|o| o.spec.as_ref())
        .and_then(|s| s.ports.clone())
        .unwrap_or_default();
    let mut taken: Vec<i32> = spec.ports.iter().flatten().filter_map(|p| p.node_port).collect();
    for port in spec.ports.iter_mut().flatten() {
        if port.node_port.is_some() {
            continue;
        }
        let protocol = port.protocol.clone().unwrap_or_else(|| "TCP".into());
        let kept = old_ports
            .iter()
            .find(|o| o.port == port.port && o.protocol.as_deref().unwrap_or("TCP") == protocol)
            .and_then(|o| o.node_port);
        let mut candidate = kept.unwrap_or_else(|| derived(&namespace, &name, port.port, &protocol));
        while taken.contains(&candidate) {
            candidate = if candidate == *NODE_PORTS.end() {
                *NODE_PORTS.start()
            } else {
                candidate + 1
            };
        }
        taken.push(candidate);
        port.node_port = Some(candidate);
    }
}

/// Checks node ports: inside the range, distinct, and only on NodePort or LoadBalancer Services.
pub fn validate_node_ports(spec: &ServiceSpec, errs: &mut Vec<FieldError>) {
    let mut seen = Vec::new();
    for (i, port) in spec.ports.iter().flatten().enumerate() {
        let Some(node_port) = port.node_port.filter(|p| *p != 0) else {
            continue;
        };
        let path = child(&format!("spec.ports[{i}]"), "nodePort");
        if !has_node_ports(spec) {
            errs.push(FieldError::forbidden(
                path,
                format!(
                    "may not be used when `type` is '{}'",
                    spec.type_.as_deref().unwrap_or("ClusterIP")
                ),
            ));
            continue;
        }
        if !NODE_PORTS.contains(&node_port) {
            errs.push(FieldError::invalid(
                path,
                node_port.to_string(),
                "provided port is not in the valid range. The range of valid ports is 30000-32767",
            ));
        } else if seen.contains(&node_port) {
            errs.push(FieldError::new(
                path,
                crate::validation::FieldErrorType::Duplicate,
                Some(node_port.to_string()),
                "",
            ));
        }
        seen.push(node_port);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::ServicePort;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    fn service(type_: &str, ports: &[(i32, Option<i32>)]) -> Service {
        Service {
            metadata: ObjectMeta {
                name: Some("web".into()),
                namespace: Some("default".into()),
                ..ObjectMeta::default()
            },
            spec: Some(ServiceSpec {
                type_: Some(type_.into()),
                ports: Some(
                    ports
                        .iter()
                        .map(|(port, node_port)| ServicePort {
                            port: *port,
                            node_port: *node_port,
                            protocol: Some("TCP".into()),
                            ..ServicePort::default()
                        })
                        .collect(),
                ),
                ..ServiceSpec::default()
            }),
            ..Service::default()
        }
    }

    fn node_ports(svc: &Service) -> Vec<i32> {
        svc.spec
            .as_ref()
            .and_then(|s| s.ports.as_ref())
            .map(|ps| ps.iter().filter_map(|p| p.node_port).collect())
            .unwrap_or_default()
    }

    #[test]
    fn node_port_services_get_distinct_stable_ports_in_range_and_keep_them() {
        let mut svc = service("NodePort", &[(80, None), (443, None), (8080, Some(31000))]);
        default_node_ports(&mut svc, None);
        let ports = node_ports(&svc);
        assert_eq!(ports.len(), 3);
        assert!(ports.iter().all(|p| NODE_PORTS.contains(p)), "{ports:?}");
        assert_eq!(ports[2], 31000);
        assert_ne!(ports[0], ports[1]);
        assert_eq!(
            svc.spec.as_ref().and_then(|s| s.external_traffic_policy.as_deref()),
            Some("Cluster")
        );
        let mut again = service("NodePort", &[(80, None), (443, None), (8080, Some(31000))]);
        default_node_ports(&mut again, None);
        assert_eq!(node_ports(&again), ports, "derived ports are stable");

        let mut updated = service("NodePort", &[(80, None)]);
        let mut old = service("NodePort", &[(80, Some(30123))]);
        default_node_ports(&mut old, None);
        default_node_ports(&mut updated, Some(&old));
        assert_eq!(node_ports(&updated), [30123], "an update keeps the port's node port");

        let mut cluster_ip = service("ClusterIP", &[(80, None)]);
        default_node_ports(&mut cluster_ip, None);
        assert!(node_ports(&cluster_ip).is_empty());

        // NodePort -> ClusterIP: the inherited node port goes.
        let mut back = service("ClusterIP", &[(80, Some(30123))]);
        default_node_ports(&mut back, Some(&old));
        assert!(node_ports(&back).is_empty());
    }

    #[test]
    fn node_ports_are_checked() {
        let fields = |svc: &Service| {
            let mut errs = Vec::new();
            validate_node_ports(svc.spec.as_ref().unwrap(), &mut errs);
            errs.into_iter().map(|e| e.field).collect::<Vec<_>>()
        };
        assert_eq!(
            fields(&service(
                "NodePort",
                &[(80, Some(80)), (81, Some(30001)), (82, Some(30001))]
            )),
            ["spec.ports[0].nodePort", "spec.ports[2].nodePort"]
        );
        assert_eq!(
            fields(&service("ClusterIP", &[(80, Some(30001))])),
            ["spec.ports[0].nodePort"]
        );
        assert!(fields(&service("LoadBalancer", &[(80, Some(32767))])).is_empty());
    }
}
