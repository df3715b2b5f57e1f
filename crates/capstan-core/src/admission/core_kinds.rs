//! Defaults and validation of the stored-only core kinds: ConfigMap, Secret, Service and
//! ServiceAccount. No controller acts on them (Capstan runs no proxy or kubelet volumes); they are
//! stored so that ordinary application manifests, which carry them beside their Deployments, apply.
//!
//! - ConfigMap and Secret: keys of `data`/`binaryData` (`stringData` for Secrets) are config keys
//!   (`[-._a-zA-Z0-9]+`, at most 253 bytes, not `.` or `..`), a key may not be in both maps, the
//!   total is at most 1 MiB, and once `immutable: true` neither the data nor the flag may change.
//!   A Secret's `stringData` is merged into `data` and dropped, and its `type` defaults to `Opaque`
//!   and is immutable; a well-known type needs its keys (`secret_types`).
//! - Service: the name is a DNS-1035 label; `type` defaults to `ClusterIP`, `sessionAffinity` to
//!   `None`, each port's `protocol` to `TCP` and `targetPort` to its `port`; a cluster IP from
//!   10.96.0.0/12 is assigned (derived from namespace and name; not routed anywhere), kept on update
//!   and immutable; ports are required (except for `ExternalName` and headless), unique by name and by
//!   port/protocol, named when there are several, and in 1–65535.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{ConfigMap, Secret, Service, ServicePort, ServiceSpec};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::{child, names, not_supported};
use crate::validation::{FieldError, FieldErrorType};

/// The largest total size of a ConfigMap's or Secret's data, as Kubernetes allows.
const MAX_DATA_BYTES: usize = 1024 * 1024;

/// Service types Kubernetes knows.
const SERVICE_TYPES: [&str; 4] = ["ClusterIP", "NodePort", "LoadBalancer", "ExternalName"];

/// Port protocols Kubernetes knows.
const PROTOCOLS: [&str; 3] = ["TCP", "UDP", "SCTP"];

/// Why `key` is not a valid ConfigMap or Secret key, if it is not.
pub fn config_key_problem(key: &str) -> Option<String> {
    if key.is_empty() {
        return Some("a valid config key must consist of alphanumeric characters, '-', '_' or '.'".into());
    }
    if key.len() > 253 {
        return Some("must be no more than 253 characters".into());
    }
    if key == "." || key == ".." {
        return Some("must not be '.' or '..'".into());
    }
    if !key
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
    {
        return Some(
            "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or \
             'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')"
                .into(),
        );
    }
    None
}

/// Why `name` is not a DNS-1035 label (the rule for Service names), if it is not.
pub fn dns1035_label_problem(name: &str) -> Option<String> {
    if let Some(problem) = names::dns1123_label_problem(name) {
        return Some(problem.replace("RFC 1123", "RFC 1035"));
    }
    if !name.starts_with(|c: char| c.is_ascii_lowercase()) {
        return Some(
            "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic \
             character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for \
             validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"
                .into(),
        );
    }
    None
}

/// Checks the keys of one data map and adds their sizes to `total`.
fn check_keys<'a>(
    path: &str,
    keys: impl Iterator<Item = (&'a String, usize)>,
    seen: &mut BTreeSet<String>,
    total: &mut usize,
    errs: &mut Vec<FieldError>,
) {
    for (key, size) in keys {
        if let Some(why) = config_key_problem(key) {
            errs.push(FieldError::invalid(path, key.as_str(), why));
        }
        if !seen.insert(key.clone()) {
            errs.push(FieldError::new(
                path,
                FieldErrorType::Duplicate,
                Some(key.clone()),
                "duplicate of key present in another data field",
            ));
        }
        *total = total.saturating_add(size);
    }
}

fn check_total(total: usize, errs: &mut Vec<FieldError>) {
    if total > MAX_DATA_BYTES {
        errs.push(FieldError::new(
            "data",
            FieldErrorType::TooLong,
            None,
            format!("may not be more than {MAX_DATA_BYTES} bytes"),
        ));
    }
}

/// Validates a ConfigMap (`old` on update).
pub fn validate_config_map(cm: &ConfigMap, old: Option<&ConfigMap>, errs: &mut Vec<FieldError>) {
    let mut seen = BTreeSet::new();
    let mut total = 0usize;
    if let Some(data) = &cm.data {
        check_keys(
            "data",
            data.iter().map(|(k, v)| (k, k.len() + v.len())),
            &mut seen,
            &mut total,
            errs,
        );
    }
    if let Some(data) = &cm.binary_data {
        check_keys(
            "binaryData",
            data.iter().map(|(k, v)| (k, k.len() + v.0.len())),
            &mut seen,
            &mut total,
            errs,
        );
    }
    check_total(total, errs);
    if let Some(old) = old
        && old.immutable == Some(true)
    {
        if cm.immutable != Some(true) {
            errs.push(FieldError::forbidden(
                "immutable",
                "field is immutable when `immutable` is set",
            ));
        }
        if cm.data != old.data || cm.binary_data != old.binary_data {
            errs.push(FieldError::forbidden(
                "data",
                "field is immutable when `immutable` is set",
            ));
        }
    }
}

/// Defaults a Secret: `stringData` merged into `data` (it wins on a shared key) and dropped; `type`
/// `Opaque` when unset.
pub fn default_secret(secret: &mut Secret) {
    if let Some(strings) = secret.string_data.take() {
        let data = secret.data.get_or_insert_with(BTreeMap::new);
        for (key, value) in strings {
            data.insert(key, ByteString(value.into_bytes()));
        }
    }
    if secret.type_.as_deref().is_none_or(str::is_empty) {
        secret.type_ = Some("Opaque".into());
    }
}

/// Validates a Secret (`old` on update).
pub fn validate_secret(secret: &Secret, old: Option<&Secret>, errs: &mut Vec<FieldError>) {
    let mut seen = BTreeSet::new();
    let mut total = 0usize;
    if let Some(data) = &secret.data {
        check_keys(
            "data",
            data.iter().map(|(k, v)| (k, k.len() + v.0.len())),
            &mut seen,
            &mut total,
            errs,
        );
    }
    check_total(total, errs);
    super::secret_types::validate_secret_type(secret, errs);
    let Some(old) = old else { return };
    if secret.type_ != old.type_ {
        errs.push(FieldError::invalid(
            "type",
            secret.type_.clone().unwrap_or_default(),
            "field is immutable",
        ));
    }
    if old.immutable == Some(true) {
        if secret.immutable != Some(true) {
            errs.push(FieldError::forbidden(
                "immutable",
                "field is immutable when `immutable` is set",
            ));
        }
        if secret.data != old.data {
            errs.push(FieldError::forbidden(
                "data",
                "field is immutable when `immutable` is set",
            ));
        }
    }
}

/// The cluster IP Capstan gives a Service: stable for a namespace and name, inside 10.96.0.0/12,
/// never the network address, 10.96.0.1 (the `kubernetes` Service's address in Kubernetes) or the
/// broadcast address. Nothing routes to it.
pub fn cluster_ip_for(namespace: &str, name: &str) -> String {
    // FNV-1a: stable across releases and platforms, unlike the std hasher.
    let mut hash: u32 = 0x811c_9dc5;
    for byte in namespace.bytes().chain([b'/']).chain(name.bytes()) {
        hash ^= u32::from(byte);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    // 2^20 addresses in 10.96.0.0/12; skip the first two and the last.
    let offset = 2 + hash % ((1 << 20) - 3);
    let ip = (10u32 << 24) | (96 << 16) | offset;
    std::net::Ipv4Addr::from(ip).to_string()
}

/// Defaults a Service (`old` on update, whose allocated cluster IP is kept).
pub fn default_service(svc: &mut Service, old: Option<&Service>) {
    let namespace = svc.metadata.namespace.clone().unwrap_or_default();
    let name = svc.metadata.name.clone().unwrap_or_default();
    let spec = svc.spec.get_or_insert_with(ServiceSpec::default);
    if spec.type_.as_deref().is_none_or(str::is_empty) {
        spec.type_ = Some("ClusterIP".into());
    }
    let external_name = spec.type_.as_deref() == Some("ExternalName");
    if spec.session_affinity.as_deref().is_none_or(str::is_empty) {
        spec.session_affinity = Some("None".into());
    }
    for port in spec.ports.iter_mut().flatten() {
        if port.protocol.as_deref().is_none_or(str::is_empty) {
            port.protocol = Some("TCP".into());
        }
        if port.target_port.is_none() {
            port.target_port = Some(IntOrString::Int(port.port));
        }
    }
    if external_name {
        return;
    }
    let old_ip = old
        .and_then(|o| o.spec.as_ref())
        .and_then(|s| s.cluster_ip.clone())
        .filter(|ip| !ip.is_empty());
    if spec.cluster_ip.as_deref().is_none_or(str::is_empty) {
        spec.cluster_ip = Some(old_ip.unwrap_or_else(|| cluster_ip_for(&namespace, &name)));
    }
    if spec.cluster_ips.as_ref().is_none_or(Vec::is_empty)
        && let Some(ip) = &spec.cluster_ip
    {
        spec.cluster_ips = Some(vec![ip.clone()]);
    }
    if spec.cluster_ip.as_deref() != Some("None") {
        spec.ip_families.get_or_insert_with(|| vec!["IPv4".into()]);
        spec.ip_family_policy.get_or_insert_with(|| "SingleStack".into());
    }
    spec.internal_traffic_policy.get_or_insert_with(|| "Cluster".into());
}

fn validate_port(path: &str, port: &ServicePort, several: bool, errs: &mut Vec<FieldError>) {
    match port.name.as_deref() {
        None | Some("") if several => errs.push(FieldError::required(child(path, "name"), "")),
        Some(name) if !name.is_empty() => {
            if let Some(why) = names::dns1123_label_problem(name) {
                errs.push(FieldError::invalid(child(path, "name"), name, why));
            }
        }
        _ => {}
    }
    if !(1..=65535).contains(&port.port) {
        errs.push(FieldError::invalid(
            child(path, "port"),
            port.port.to_string(),
            "must be between 1 and 65535, inclusive",
        ));
    }
    let protocol = port.protocol.as_deref().unwrap_or("TCP");
    if !PROTOCOLS.contains(&protocol) {
        errs.push(not_supported(&child(path, "protocol"), protocol, &PROTOCOLS));
    }
    match &port.target_port {
        Some(IntOrString::Int(n)) if !(1..=65535).contains(n) => errs.push(FieldError::invalid(
            child(path, "targetPort"),
            n.to_string(),
            "must be between 1 and 65535, inclusive",
        )),
        Some(IntOrString::String(s)) if names::dns1123_label_problem(s).is_some() || s.len() > 15 => {
            errs.push(FieldError::invalid(
                child(path, "targetPort"),
                s.as_str(),
                "must be a port number or an IANA_SVC_NAME (at most 15 characters, lower case alphanumerics or '-')",
            ))
        }
        _ => {}
    }
}

/// Validates a Service (`old` on update).
pub fn validate_service(svc: &Service, old: Option<&Service>, errs: &mut Vec<FieldError>) {
    let Some(spec) = &svc.spec else {
        errs.push(FieldError::required("spec", ""));
        return;
    };
    let service_type = spec.type_.as_deref().unwrap_or("ClusterIP");
    if !SERVICE_TYPES.contains(&service_type) {
        errs.push(not_supported("spec.type", service_type, &SERVICE_TYPES));
    }
    let ports = spec.ports.as_deref().unwrap_or_default();
    if service_type == "ExternalName" {
        match spec.external_name.as_deref() {
            None | Some("") => errs.push(FieldError::required("spec.externalName", "")),
            Some(name) => {
                if let Some(why) = names::dns1123_subdomain_problem(name) {
                    errs.push(FieldError::invalid("spec.externalName", name, why));
                }
            }
        }
    } else if ports.is_empty() && spec.cluster_ip.as_deref() != Some("None") {
        // A headless Service (`clusterIP: None`) may have no ports, as on Kubernetes.
        errs.push(FieldError::required("spec.ports", ""));
    }
    super::node_ports::validate_node_ports(spec, errs);
    let mut names_seen = BTreeSet::new();
    let mut ports_seen = BTreeSet::new();
    for (i, port) in ports.iter().enumerate() {
        let path = format!("spec.ports[{i}]");
        validate_port(&path, port, ports.len() > 1, errs);
        if let Some(name) = port.name.as_deref().filter(|n| !n.is_empty())
            && !names_seen.insert(name)
        {
            errs.push(FieldError::new(
                child(&path, "name"),
                FieldErrorType::Duplicate,
                Some(name.to_owned()),
                "",
            ));
        }
        let protocol = port.protocol.as_deref().unwrap_or("TCP");
        if !ports_seen.insert((port.port, protocol)) {
            errs.push(FieldError::new(
                &path,
                FieldErrorType::Duplicate,
                Some(format!("{}/{protocol}", port.port)),
                "",
            ));
        }
    }
    for (key, value) in spec.selector.iter().flatten() {
        if let Some(why) = names::qualified_name_problem(key) {
            errs.push(FieldError::invalid("spec.selector", key.as_str(), why));
        }
        if let Some(why) = names::label_value_problem(value) {
            errs.push(FieldError::invalid("spec.selector", value.as_str(), why));
        }
    }
    if let Some(ip) = spec.cluster_ip.as_deref()
        && !ip.is_empty()
        && ip != "None"
        && ip.parse::<std::net::IpAddr>().is_err()
    {
        errs.push(FieldError::invalid(
            "spec.clusterIP",
            ip,
            "must be a valid IP address or 'None'",
        ));
    }
    let old_ip = old.and_then(|o| o.spec.as_ref()).and_then(|s| s.cluster_ip.as_deref());
    if let Some(old_ip) = old_ip.filter(|ip| !ip.is_empty())
        && service_type != "ExternalName"
        && spec.cluster_ip.as_deref() != Some(old_ip)
    {
        errs.push(FieldError::invalid(
            "spec.clusterIP",
            spec.cluster_ip.clone().unwrap_or_default(),
            "field is immutable",
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    fn service(ports: Vec<ServicePort>) -> Service {
        Service {
            metadata: ObjectMeta {
                name: Some("web".into()),
                namespace: Some("default".into()),
                ..ObjectMeta::default()
            },
            spec: Some(ServiceSpec {
                selector: Some([("app".to_string(), "web".to_string())].into()),
                ports: Some(ports),
                ..ServiceSpec::default()
            }),
            ..Service::default()
        }
    }

    fn port(name: Option<&str>, port: i32) -> ServicePort {
        ServicePort {
            name: name.map(Into::into),
            port,
            ..ServicePort::default()
        }
    }

    fn fields(errs: &[FieldError]) -> Vec<String> {
        errs.iter().map(|e| e.field.clone()).collect()
    }

    #[test]
    fn a_service_gets_kubernetes_defaults_and_a_stable_cluster_ip_in_the_service_range() {
        let mut svc = service(vec![port(None, 80)]);
        default_service(&mut svc, None);
        let spec = svc.spec.as_ref().unwrap();
        assert_eq!(spec.type_.as_deref(), Some("ClusterIP"));
        assert_eq!(spec.session_affinity.as_deref(), Some("None"));
        let p = &spec.ports.as_ref().unwrap()[0];
        assert_eq!(p.protocol.as_deref(), Some("TCP"));
        assert_eq!(p.target_port, Some(IntOrString::Int(80)));
        let ip: std::net::Ipv4Addr = spec.cluster_ip.as_deref().unwrap().parse().unwrap();
        assert_eq!(ip.octets()[0], 10);
        assert!((96..112).contains(&ip.octets()[1]), "{ip}");
        assert_ne!(ip.to_string(), "10.96.0.1");
        assert_eq!(spec.cluster_ips, Some(vec![ip.to_string()]));
        assert_eq!(cluster_ip_for("default", "web"), ip.to_string());
        assert_ne!(cluster_ip_for("default", "web"), cluster_ip_for("default", "db"));
        let mut errs = Vec::new();
        validate_service(&svc, None, &mut errs);
        assert!(errs.is_empty(), "{errs:?}");
    }

    #[test]
    fn an_update_keeps_the_cluster_ip_and_may_not_change_it() {
        let mut old = service(vec![port(None, 80)]);
        old.spec.as_mut().unwrap().cluster_ip = Some("10.96.7.7".into());
        default_service(&mut old, None);
        let mut new = service(vec![port(None, 8080)]);
        default_service(&mut new, Some(&old));
        assert_eq!(new.spec.as_ref().unwrap().cluster_ip.as_deref(), Some("10.96.7.7"));
        let mut errs = Vec::new();
        validate_service(&new, Some(&old), &mut errs);
        assert!(errs.is_empty(), "{errs:?}");
        new.spec.as_mut().unwrap().cluster_ip = Some("10.96.8.8".into());
        validate_service(&new, Some(&old), &mut errs);
        assert_eq!(fields(&errs), ["spec.clusterIP"]);
    }

    #[test]
    fn service_ports_are_required_named_when_several_unique_and_in_range() {
        let mut errs = Vec::new();
        validate_service(&service(vec![]), None, &mut errs);
        assert_eq!(fields(&errs), ["spec.ports"]);
        let mut headless = service(vec![]);
        headless.spec.as_mut().unwrap().cluster_ip = Some("None".into());
        default_service(&mut headless, None);
        let mut errs = Vec::new();
        validate_service(&headless, None, &mut errs);
        assert!(errs.is_empty(), "a headless service needs no ports: {errs:?}");

        let mut svc = service(vec![port(None, 80), port(Some("b"), 0), port(Some("b"), 443)]);
        default_service(&mut svc, None);
        let mut errs = Vec::new();
        validate_service(&svc, None, &mut errs);
        assert_eq!(
            fields(&errs),
            // The defaulted targetPort copies the bad port, and is reported too (as in Kubernetes).
            [
                "spec.ports[0].name",
                "spec.ports[1].port",
                "spec.ports[1].targetPort",
                "spec.ports[2].name"
            ]
        );

        let mut svc = service(vec![port(Some("a"), 80), port(Some("b"), 80)]);
        svc.spec.as_mut().unwrap().type_ = Some("Magic".into());
        let mut errs = Vec::new();
        validate_service(&svc, None, &mut errs);
        assert_eq!(fields(&errs), ["spec.type", "spec.ports[1]"]);
    }

    #[test]
    fn an_external_name_service_needs_a_name_and_no_ports_or_ip() {
        let mut svc = service(vec![]);
        svc.spec.as_mut().unwrap().type_ = Some("ExternalName".into());
        default_service(&mut svc, None);
        assert_eq!(svc.spec.as_ref().unwrap().cluster_ip, None);
        let mut errs = Vec::new();
        validate_service(&svc, None, &mut errs);
        assert_eq!(fields(&errs), ["spec.externalName"]);
        svc.spec.as_mut().unwrap().external_name = Some("db.example.com".into());
        let mut errs = Vec::new();
        validate_service(&svc, None, &mut errs);
        assert!(errs.is_empty(), "{errs:?}");
    }

    #[test]
    fn service_names_are_dns_1035_labels() {
        assert!(dns1035_label_problem("web").is_none());
        assert!(dns1035_label_problem("1web").is_some());
        assert!(dns1035_label_problem("Web").is_some());
        assert!(dns1035_label_problem("web.app").is_some());
    }

    #[test]
    fn secret_string_data_moves_into_data_and_the_type_defaults_to_opaque() {
        let mut secret = Secret {
            data: Some([("a".to_string(), ByteString(b"old".to_vec()))].into()),
            string_data: Some([("a".to_string(), "new".to_string()), ("b".to_string(), "x".to_string())].into()),
            ..Secret::default()
        };
        default_secret(&mut secret);
        assert_eq!(secret.string_data, None);
        assert_eq!(secret.type_.as_deref(), Some("Opaque"));
        let data = secret.data.as_ref().unwrap();
        assert_eq!(data["a"].0, b"new");
        assert_eq!(data["b"].0, b"x");
    }

    #[test]
    fn config_keys_are_checked_and_immutable_data_stays() {
        let mut cm = ConfigMap {
            data: Some(
                [
                    ("ok.key".to_string(), "v".to_string()),
                    ("bad key".to_string(), "v".to_string()),
                ]
                .into(),
            ),
            binary_data: Some([("ok.key".to_string(), ByteString(vec![1]))].into()),
            ..ConfigMap::default()
        };
        let mut errs = Vec::new();
        validate_config_map(&cm, None, &mut errs);
        assert_eq!(fields(&errs), ["data", "binaryData"]);

        cm.binary_data = None;
        cm.data = Some([("k".to_string(), "v".to_string())].into());
        cm.immutable = Some(true);
        let old = cm.clone();
        cm.data = Some([("k".to_string(), "changed".to_string())].into());
        let mut errs = Vec::new();
        validate_config_map(&cm, Some(&old), &mut errs);
        assert_eq!(fields(&errs), ["data"]);
    }

    #[test]
    fn a_secret_type_may_not_change_and_oversized_data_is_refused() {
        let mut old = Secret::default();
        default_secret(&mut old);
        let mut new = old.clone();
        new.type_ = Some("example.com/other".into());
        new.data = Some([("big".to_string(), ByteString(vec![0; MAX_DATA_BYTES + 1]))].into());
        let mut errs = Vec::new();
        validate_secret(&new, Some(&old), &mut errs);
        assert_eq!(fields(&errs), ["data", "type"]);
    }
}
