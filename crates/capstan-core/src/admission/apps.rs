//! apps/v1 validation: Deployment and ReplicaSet specs (specs/apps.md A.3–A.8) and their statuses
//! (A.10).

use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec, ReplicaSet};
use k8s_openapi::api::core::v1::PodTemplateSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector as K8sSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::pod::validate_pod_spec;
use super::{not_supported, validate_labels_and_annotations};
use crate::selector::LabelSelector;
use crate::validation::FieldError;

const NON_NEGATIVE: &str = "must be greater than or equal to 0";

fn non_negative(value: Option<i64>, path: &str, errs: &mut Vec<FieldError>) {
    if let Some(v) = value
        && v < 0
    {
        errs.push(FieldError::invalid(path, v.to_string(), NON_NEGATIVE));
    }
}

/// Checks the selector (required, non-empty, well-formed) and the template (labels matched by the
/// selector, restart policy Always, no active deadline, a valid pod spec). Shared by Deployment and
/// ReplicaSet, whose specs lay these fields out alike.
fn validate_selector_and_template(
    selector: &K8sSelector,
    template: Option<&PodTemplateSpec>,
    errs: &mut Vec<FieldError>,
) {
    let parsed = if selector.match_labels.is_none() && selector.match_expressions.is_none() {
        errs.push(FieldError::required("spec.selector", ""));
        None
    } else {
        match LabelSelector::from_k8s(selector) {
            Ok(s) if s.is_empty() => {
                errs.push(FieldError::invalid(
                    "spec.selector",
                    serde_json::to_string(selector).unwrap_or_default(),
                    "empty selector is invalid for deployment",
                ));
                None
            }
            Ok(s) => Some(s),
            Err(e) => {
                errs.push(FieldError::invalid(
                    "spec.selector",
                    serde_json::to_string(selector).unwrap_or_default(),
                    format!("{} (at {:?})", e.reason, e.token),
                ));
                None
            }
        }
    };
    let Some(template) = template else {
        errs.push(FieldError::required("spec.template", ""));
        return;
    };
    let labels = template
        .metadata
        .as_ref()
        .and_then(|m| m.labels.clone())
        .unwrap_or_default();
    if let Some(sel) = parsed
        && !sel.matches(&labels)
    {
        errs.push(FieldError::invalid(
            "spec.template.metadata.labels",
            format!("{labels:?}"),
            "`selector` does not match template `labels`",
        ));
    }
    if let Some(meta) = template.metadata.as_ref() {
        validate_labels_and_annotations(meta, "spec.template.metadata", errs);
    }
    let Some(spec) = template.spec.as_ref() else {
        errs.push(FieldError::required("spec.template.spec", ""));
        return;
    };
    if let Some(policy) = spec.restart_policy.as_deref()
        && policy != "Always"
    {
        errs.push(not_supported("spec.template.spec.restartPolicy", policy, &["Always"]));
    }
    if spec.active_deadline_seconds.is_some() {
        errs.push(FieldError::forbidden(
            "spec.template.spec.activeDeadlineSeconds",
            "activeDeadlineSeconds in ReplicaSet is not Supported",
        ));
    }
    validate_pod_spec(spec, "spec.template.spec", true, errs);
}

/// The number in an int-or-percent value (`5` → 5, `"25%"` → 25), if it is well formed.
fn int_or_percent(v: &IntOrString) -> Option<(i64, bool)> {
    match v {
        IntOrString::Int(i) => Some((i64::from(*i), false)),
        IntOrString::String(s) => {
            let digits = s.strip_suffix('%')?;
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            digits.parse().ok().map(|n| (n, true))
        }
    }
}

fn render(v: &IntOrString) -> String {
    match v {
        IntOrString::Int(i) => i.to_string(),
        IntOrString::String(s) => s.clone(),
    }
}

/// Checks one of `maxSurge` / `maxUnavailable`; returns its raw number when valid.
fn validate_int_or_percent(v: Option<&IntOrString>, path: &str, errs: &mut Vec<FieldError>) -> Option<(i64, bool)> {
    let v = v?;
    match int_or_percent(v) {
        None => {
            errs.push(FieldError::invalid(
                path,
                render(v),
                "a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%')",
            ));
            None
        }
        Some((n, _)) if n < 0 => {
            errs.push(FieldError::invalid(path, render(v), NON_NEGATIVE));
            None
        }
        ok => ok,
    }
}

fn validate_strategy(spec: &DeploymentSpec, errs: &mut Vec<FieldError>) {
    let Some(strategy) = spec.strategy.as_ref() else {
        return;
    };
    match strategy.type_.as_deref().unwrap_or("") {
        "Recreate" => {
            if strategy.rolling_update.is_some() {
                errs.push(FieldError::forbidden(
                    "spec.strategy.rollingUpdate",
                    "may not be specified when strategy `type` is 'Recreate'",
                ));
            }
        }
        "RollingUpdate" => {
            let Some(ru) = strategy.rolling_update.as_ref() else {
                return;
            };
            let surge_path = "spec.strategy.rollingUpdate.maxSurge";
            let unavailable_path = "spec.strategy.rollingUpdate.maxUnavailable";
            let surge = validate_int_or_percent(ru.max_surge.as_ref(), surge_path, errs);
            let unavailable = validate_int_or_percent(ru.max_unavailable.as_ref(), unavailable_path, errs);
            if let Some((n, true)) = unavailable
                && n > 100
            {
                errs.push(FieldError::invalid(
                    unavailable_path,
                    format!("{n}%"),
                    "must not be greater than 100%",
                ));
            }
            if let (Some((0, _)), Some((0, _))) = (surge, unavailable) {
                errs.push(FieldError::invalid(
                    unavailable_path,
                    ru.max_unavailable.as_ref().map(render).unwrap_or_default(),
                    "may not be 0 when `maxSurge` is 0",
                ));
            }
        }
        other => errs.push(not_supported(
            "spec.strategy.type",
            other,
            &["Recreate", "RollingUpdate"],
        )),
    }
}

fn selector_immutable(new: &K8sSelector, old: &K8sSelector, errs: &mut Vec<FieldError>) {
    if new != old {
        errs.push(FieldError::invalid(
            "spec.selector",
            serde_json::to_string(new).unwrap_or_default(),
            "field is immutable",
        ));
    }
}

/// Validates a Deployment's spec; `old` is the stored Deployment on update.
pub(crate) fn validate_deployment(d: &Deployment, old: Option<&Deployment>, errs: &mut Vec<FieldError>) {
    let Some(spec) = d.spec.as_ref() else {
        errs.push(FieldError::required("spec", ""));
        return;
    };
    non_negative(spec.replicas.map(i64::from), "spec.replicas", errs);
    validate_selector_and_template(&spec.selector, Some(&spec.template), errs);
    validate_strategy(spec, errs);
    let min_ready = spec.min_ready_seconds.unwrap_or(0);
    non_negative(Some(i64::from(min_ready)), "spec.minReadySeconds", errs);
    non_negative(
        spec.revision_history_limit.map(i64::from),
        "spec.revisionHistoryLimit",
        errs,
    );
    if let Some(pds) = spec.progress_deadline_seconds {
        non_negative(Some(i64::from(pds)), "spec.progressDeadlineSeconds", errs);
        if pds <= min_ready {
            errs.push(FieldError::invalid(
                "spec.progressDeadlineSeconds",
                pds.to_string(),
                "must be greater than minReadySeconds",
            ));
        }
    }
    if let Some(old_spec) = old.and_then(|o| o.spec.as_ref()) {
        selector_immutable(&spec.selector, &old_spec.selector, errs);
    }
}

/// Validates a ReplicaSet's spec; `old` is the stored ReplicaSet on update.
pub(crate) fn validate_replica_set(rs: &ReplicaSet, old: Option<&ReplicaSet>, errs: &mut Vec<FieldError>) {
    let Some(spec) = rs.spec.as_ref() else {
        errs.push(FieldError::required("spec", ""));
        return;
    };
    non_negative(spec.replicas.map(i64::from), "spec.replicas", errs);
    non_negative(spec.min_ready_seconds.map(i64::from), "spec.minReadySeconds", errs);
    validate_selector_and_template(&spec.selector, spec.template.as_ref(), errs);
    if let Some(old_spec) = old.and_then(|o| o.spec.as_ref()) {
        selector_immutable(&spec.selector, &old_spec.selector, errs);
    }
}

/// Counts that a status reports: every one ≥ 0, and the partial counts within their wholes.
struct Counts {
    replicas: Option<i32>,
    parts: Vec<(&'static str, Option<i32>)>,
    ready: Option<i32>,
    available: Option<i32>,
}

fn validate_counts(c: &Counts, errs: &mut Vec<FieldError>) {
    non_negative(c.replicas.map(i64::from), "status.replicas", errs);
    for (name, v) in &c.parts {
        non_negative(v.map(i64::from), &format!("status.{name}"), errs);
    }
    let replicas = c.replicas.unwrap_or(0);
    for (name, v) in &c.parts {
        let bounded = matches!(
            *name,
            "updatedReplicas" | "readyReplicas" | "availableReplicas" | "fullyLabeledReplicas"
        );
        if bounded
            && let Some(v) = v
            && *v > replicas
        {
            errs.push(FieldError::invalid(
                format!("status.{name}"),
                v.to_string(),
                "cannot be greater than status.replicas",
            ));
        }
    }
    if c.available.unwrap_or(0) > c.ready.unwrap_or(0) {
        errs.push(FieldError::invalid(
            "status.availableReplicas",
            c.available.unwrap_or(0).to_string(),
            "cannot be greater than readyReplicas",
        ));
    }
}

/// Validates a Deployment's status (A.10); `old` is the stored Deployment.
pub(crate) fn validate_deployment_status(d: &Deployment, old: Option<&Deployment>, errs: &mut Vec<FieldError>) {
    let Some(s) = d.status.as_ref() else {
        return;
    };
    let counts = Counts {
        replicas: s.replicas,
        parts: vec![
            ("updatedReplicas", s.updated_replicas),
            ("readyReplicas", s.ready_replicas),
            ("availableReplicas", s.available_replicas),
            ("unavailableReplicas", s.unavailable_replicas),
            ("terminatingReplicas", s.terminating_replicas),
        ],
        ready: s.ready_replicas,
        available: s.available_replicas,
    };
    validate_counts(&counts, errs);
    non_negative(s.collision_count.map(i64::from), "status.collisionCount", errs);
    non_negative(s.observed_generation, "status.observedGeneration", errs);
    let old_count = old.and_then(|o| o.status.as_ref()).and_then(|st| st.collision_count);
    if let Some(old_count) = old_count
        && s.collision_count.unwrap_or(0) < old_count
    {
        errs.push(FieldError::invalid(
            "status.collisionCount",
            s.collision_count
                .map(|c| c.to_string())
                .unwrap_or_else(|| "null".into()),
            "cannot be decremented",
        ));
    }
}

/// Validates a ReplicaSet's status (A.10).
pub(crate) fn validate_replica_set_status(rs: &ReplicaSet, errs: &mut Vec<FieldError>) {
    let Some(s) = rs.status.as_ref() else {
        return;
    };
    let counts = Counts {
        replicas: Some(s.replicas),
        parts: vec![
            ("fullyLabeledReplicas", s.fully_labeled_replicas),
            ("readyReplicas", s.ready_replicas),
            ("availableReplicas", s.available_replicas),
            ("terminatingReplicas", s.terminating_replicas),
        ],
        ready: s.ready_replicas,
        available: s.available_replicas,
    };
    validate_counts(&counts, errs);
    non_negative(s.observed_generation, "status.observedGeneration", errs);
}
