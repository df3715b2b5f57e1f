//! Pod validation: the pod spec (shared with the templates of Deployments and ReplicaSets), and the
//! rules for updating a Pod.

use std::collections::HashSet;

use k8s_openapi::api::core::v1::{Container, Pod, PodSpec};

use super::names;
use super::{child, not_supported};
use crate::validation::FieldError;

const RESTART_POLICIES: &[&str] = &["Always", "OnFailure", "Never"];
const DNS_POLICIES: &[&str] = &["ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"];
const PULL_POLICIES: &[&str] = &["Always", "IfNotPresent", "Never"];
const PROTOCOLS: &[&str] = &["TCP", "UDP", "SCTP"];
const MESSAGE_POLICIES: &[&str] = &["File", "FallbackToLogsOnError"];

/// Validates a pod spec found at `path` (`spec` for a Pod, `spec.template.spec` for a template).
/// `restart_policy_checked` skips the restart-policy check when the caller applies a stricter one.
pub(crate) fn validate_pod_spec(spec: &PodSpec, path: &str, restart_policy_checked: bool, errs: &mut Vec<FieldError>) {
    if spec.containers.is_empty() {
        errs.push(FieldError::required(
            child(path, "containers"),
            "must have at least one container",
        ));
    }
    let mut seen = HashSet::new();
    for (i, c) in spec.containers.iter().enumerate() {
        validate_container(c, &format!("{}[{i}]", child(path, "containers")), &mut seen, errs);
    }
    for (i, c) in spec.init_containers.iter().flatten().enumerate() {
        validate_container(c, &format!("{}[{i}]", child(path, "initContainers")), &mut seen, errs);
    }
    if !restart_policy_checked {
        check_enum(
            spec.restart_policy.as_deref(),
            RESTART_POLICIES,
            &child(path, "restartPolicy"),
            errs,
        );
    }
    check_enum(
        spec.dns_policy.as_deref(),
        DNS_POLICIES,
        &child(path, "dnsPolicy"),
        errs,
    );
    if let Some(g) = spec.termination_grace_period_seconds
        && g < 0
    {
        errs.push(FieldError::invalid(
            child(path, "terminationGracePeriodSeconds"),
            g.to_string(),
            "must be greater than or equal to 0",
        ));
    }
    if let Some(a) = spec.active_deadline_seconds
        && a < 1
    {
        errs.push(FieldError::invalid(
            child(path, "activeDeadlineSeconds"),
            a.to_string(),
            "must be between 1 and 2147483647, inclusive",
        ));
    }
    if let Some(node) = spec.node_name.as_deref()
        && !node.is_empty()
        && let Some(why) = names::dns1123_subdomain_problem(node)
    {
        errs.push(FieldError::invalid(child(path, "nodeName"), node, why));
    }
}

/// Checks an optional enumerated string: unset is fine (defaulting fills it), anything else must be
/// one of `allowed`.
fn check_enum(value: Option<&str>, allowed: &[&str], path: &str, errs: &mut Vec<FieldError>) {
    if let Some(v) = value
        && !allowed.contains(&v)
    {
        errs.push(not_supported(path, v, allowed));
    }
}

fn validate_container(c: &Container, path: &str, seen: &mut HashSet<String>, errs: &mut Vec<FieldError>) {
    let name_path = child(path, "name");
    if c.name.is_empty() {
        errs.push(FieldError::required(name_path, ""));
    } else {
        if let Some(why) = names::dns1123_label_problem(&c.name) {
            errs.push(FieldError::invalid(name_path.clone(), &c.name, why));
        }
        if !seen.insert(c.name.clone()) {
            errs.push(FieldError::new(
                name_path,
                crate::validation::FieldErrorType::Duplicate,
                Some(c.name.clone()),
                "",
            ));
        }
    }
    if c.image.as_deref().unwrap_or("").trim().is_empty() {
        errs.push(FieldError::required(child(path, "image"), ""));
    }
    check_enum(
        c.image_pull_policy.as_deref(),
        PULL_POLICIES,
        &child(path, "imagePullPolicy"),
        errs,
    );
    check_enum(
        c.termination_message_policy.as_deref(),
        MESSAGE_POLICIES,
        &child(path, "terminationMessagePolicy"),
        errs,
    );
    for (i, p) in c.ports.iter().flatten().enumerate() {
        let port_path = format!("{}[{i}]", child(path, "ports"));
        if !(1..=65535).contains(&p.container_port) {
            errs.push(FieldError::invalid(
                child(&port_path, "containerPort"),
                p.container_port.to_string(),
                "must be between 1 and 65535, inclusive",
            ));
        }
        check_enum(p.protocol.as_deref(), PROTOCOLS, &child(&port_path, "protocol"), errs);
    }
}

/// What a Pod update may change, as the error message states it.
const POD_UPDATE_RULE: &str = "pod updates may not change fields other than `spec.containers[*].image`, \
`spec.initContainers[*].image`, `spec.activeDeadlineSeconds`, `spec.tolerations` (only additions to existing \
tolerations) or `spec.nodeName` (only binding an unbound pod)";

/// Validates a Pod: its spec, and on update the fields Kubernetes keeps immutable.
///
/// On update a pod's spec may change only in: container and init-container images;
/// `activeDeadlineSeconds` (set when unset, or lowered, never removed); tolerations (additions only);
/// and `nodeName` when the old pod had none (binding: Capstan's node agent binds by update, having no
/// `binding` subresource). The number, order and names of containers are immutable.
pub(crate) fn validate_pod(pod: &Pod, old: Option<&Pod>, errs: &mut Vec<FieldError>) {
    let Some(spec) = pod.spec.as_ref() else {
        errs.push(FieldError::required("spec", ""));
        return;
    };
    validate_pod_spec(spec, "spec", false, errs);
    let Some(old_spec) = old.and_then(|o| o.spec.as_ref()) else {
        return;
    };
    let names = |cs: &[Container]| cs.iter().map(|c| c.name.clone()).collect::<Vec<_>>();
    if names(&spec.containers) != names(&old_spec.containers) {
        errs.push(FieldError::forbidden(
            "spec.containers",
            "pod updates may not add, remove, rename or reorder containers",
        ));
        return;
    }
    let init = |s: &PodSpec| s.init_containers.as_deref().map(names).unwrap_or_default();
    if init(spec) != init(old_spec) {
        errs.push(FieldError::forbidden(
            "spec.initContainers",
            "pod updates may not add, remove, rename or reorder init containers",
        ));
        return;
    }
    match (old_spec.active_deadline_seconds, spec.active_deadline_seconds) {
        (Some(_), None) => errs.push(FieldError::invalid(
            "spec.activeDeadlineSeconds",
            "null",
            "must not update from a positive integer to nil value",
        )),
        (Some(o), Some(n)) if n > o => errs.push(FieldError::invalid(
            "spec.activeDeadlineSeconds",
            n.to_string(),
            "must be less than or equal to previous value",
        )),
        _ => {}
    }
    let old_tolerations = old_spec.tolerations.as_deref().unwrap_or_default();
    let new_tolerations = spec.tolerations.as_deref().unwrap_or_default();
    if old_tolerations.iter().any(|t| !new_tolerations.contains(t)) {
        errs.push(FieldError::forbidden(
            "spec.tolerations",
            "existing toleration can not be modified except its tolerationSeconds",
        ));
    }
    // Mask what may change, then the rest must be equal.
    let mut masked = spec.clone();
    for (m, o) in masked.containers.iter_mut().zip(&old_spec.containers) {
        m.image.clone_from(&o.image);
    }
    for (m, o) in masked
        .init_containers
        .iter_mut()
        .flatten()
        .zip(old_spec.init_containers.iter().flatten())
    {
        m.image.clone_from(&o.image);
    }
    masked.active_deadline_seconds = old_spec.active_deadline_seconds;
    masked.tolerations.clone_from(&old_spec.tolerations);
    if old_spec.node_name.as_deref().unwrap_or("").is_empty() {
        masked.node_name.clone_from(&old_spec.node_name);
    }
    if &masked != old_spec {
        errs.push(FieldError::forbidden("spec", POD_UPDATE_RULE));
    }
}
