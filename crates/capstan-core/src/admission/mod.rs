//! Admission: defaulting, then validation, per kind, as the API server runs it on every write.
//!
//! [`admit`] takes a typed [`Object`]; [`admit_json`] takes the JSON a store or API server holds. Both
//! first fill Kubernetes' defaults ([`defaults`] lists them), then check every rule and report **all**
//! failures with their field paths in one [`Invalid`], so a user fixes a manifest in one round trip.
//!
//! What is checked:
//! - every kind: `metadata` ([`validate_metadata`]): a name (or `generateName` when the name is
//!   empty) that is a DNS-1123 subdomain (a DNS-1123 label for Namespaces), a namespace for namespaced
//!   kinds and none for cluster-scoped ones, label keys and values, annotation keys and total size
//!   (≤ 256 KiB), finalizer names; on update, name and namespace may not change;
//! - Deployment and ReplicaSet (specs/apps.md A.3–A.8): selector required, non-empty, well formed,
//!   matching the template labels and immutable on update; template restart policy `Always`, no
//!   `activeDeadlineSeconds`; counts ≥ 0; `progressDeadlineSeconds > minReadySeconds`; strategy type and
//!   rolling-update parameters;
//! - Pod and every pod template: at least one container, each with a DNS-1123 label name (unique) and
//!   an image; enumerated fields (restart, DNS and pull policies, port protocols) among their values;
//!   on Pod update, only images, `activeDeadlineSeconds` (lowered), tolerations (added) and `nodeName`
//!   (binding an unbound pod) may change;
//! - ConfigMap, Secret, Service and ServiceAccount (stored only, no controller acts on them): config
//!   keys, data size and `immutable`; a Secret's `stringData` folded into `data`; a Service's type,
//!   ports, selector and cluster IP (assigned, then immutable): [`core_kinds`];
//! - CustomResourceDefinition: name `<plural>.<group>`, names, scope, versions (one storage
//!   version), immutable group, plural and scope: [`crd`]. Custom objects themselves get metadata
//!   validation only (no schema validation, no pruning).
//!
//! [`validate_status`] checks status writes (A.10). `metadata.generation`, `uid`, `resourceVersion`
//! and `creationTimestamp` are the store's business and are not looked at here.
//!
//! ```
//! use capstan_core::{admit, parse_manifests};
//! let text = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: default}\n\
//!             spec:\n  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: db}}\n\
//!             \x20   spec: {containers: [{name: web, image: nginx}]}\n";
//! let mut objects = parse_manifests(text).unwrap();
//! let err = admit(&mut objects[0], None).unwrap_err();
//! assert_eq!(err.errors[0].field, "spec.template.metadata.labels");
//! ```

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::builtin::Object;
use crate::resource::TypeKey;
use crate::validation::{FieldError, FieldErrorType, Invalid};

mod apps;
pub mod core_kinds;
pub mod crd;
pub mod defaults;
pub mod names;
pub mod node_ports;
mod pod;
pub mod rbac;
mod secret_types;

/// Largest total size of an object's annotations (keys plus values), in bytes: 256 KiB.
pub const TOTAL_ANNOTATION_SIZE_LIMIT: usize = 256 * 1024;

/// Errors from dynamic (JSON) admission.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AdmissionError {
    /// The object failed validation.
    #[error(transparent)]
    Invalid(#[from] Invalid),
    /// The JSON does not decode as the kind it claims to be.
    #[error("cannot decode {kind}: {source}")]
    Decode {
        /// The kind.
        kind: String,
        /// The decoder's error.
        source: serde_json::Error,
    },
}

/// `parent.name`, or `name` at the root.
pub(crate) fn child(parent: &str, name: &str) -> String {
    if parent.is_empty() {
        name.to_owned()
    } else {
        format!("{parent}.{name}")
    }
}

/// `Unsupported value` at `path`, listing the supported values as Kubernetes does.
pub(crate) fn not_supported(path: &str, value: &str, allowed: &[&str]) -> FieldError {
    let list: Vec<String> = allowed.iter().map(|a| format!("{a:?}")).collect();
    FieldError::new(
        path,
        FieldErrorType::NotSupported,
        Some(value.to_owned()),
        format!("supported values: {}", list.join(", ")),
    )
}

/// The kind as Kubernetes prints it in errors: `Deployment.apps`, or `Pod` for the core group.
pub fn qualified_kind(type_key: &TypeKey) -> String {
    if type_key.group.is_empty() {
        type_key.kind.clone()
    } else {
        format!("{}.{}", type_key.kind, type_key.group)
    }
}

/// Checks label keys and values and annotation keys and total size of the metadata at `path`.
pub(crate) fn validate_labels_and_annotations(meta: &ObjectMeta, path: &str, errs: &mut Vec<FieldError>) {
    let labels_path = child(path, "labels");
    for (k, v) in meta.labels.iter().flatten() {
        if let Some(why) = names::qualified_name_problem(k) {
            errs.push(FieldError::invalid(&labels_path, k, why));
        }
        if let Some(why) = names::label_value_problem(v) {
            errs.push(FieldError::invalid(&labels_path, v, why));
        }
    }
    let annotations_path = child(path, "annotations");
    let mut total = 0usize;
    for (k, v) in meta.annotations.iter().flatten() {
        if let Some(why) = names::qualified_name_problem(&k.to_ascii_lowercase()) {
            errs.push(FieldError::invalid(&annotations_path, k, why));
        }
        total = total.saturating_add(k.len()).saturating_add(v.len());
    }
    if total > TOTAL_ANNOTATION_SIZE_LIMIT {
        errs.push(FieldError::new(
            annotations_path,
            FieldErrorType::TooLong,
            None,
            format!("may not be more than {TOTAL_ANNOTATION_SIZE_LIMIT} bytes"),
        ));
    }
}

/// How a kind's names are checked.
#[derive(Clone, Copy)]
enum NameRule {
    Subdomain,
    Label,
    /// DNS-1035 label: a DNS-1123 label that starts with a letter (Service names).
    Label1035,
}

impl NameRule {
    fn problem(self, name: &str) -> Option<String> {
        match self {
            NameRule::Subdomain => names::dns1123_subdomain_problem(name),
            NameRule::Label => names::dns1123_label_problem(name),
            NameRule::Label1035 => core_kinds::dns1035_label_problem(name),
        }
    }
}

fn validate_meta_with(meta: &ObjectMeta, namespaced: bool, rule: NameRule) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let name = meta.name.as_deref().unwrap_or("");
    let generate = meta.generate_name.as_deref().unwrap_or("");
    if !name.is_empty() {
        if let Some(why) = rule.problem(name) {
            errs.push(FieldError::invalid("metadata.name", name, why));
        }
    } else if generate.is_empty() {
        errs.push(FieldError::required(
            "metadata.name",
            "name or generateName is required",
        ));
    } else {
        // The server appends a random suffix, so only the prefix without its trailing dash must be a
        // valid name (if anything is left of it).
        let prefix = generate.strip_suffix('-').unwrap_or(generate);
        if !prefix.is_empty()
            && let Some(why) = rule.problem(prefix)
        {
            errs.push(FieldError::invalid("metadata.generateName", generate, why));
        }
    }
    let ns = meta.namespace.as_deref().unwrap_or("");
    if namespaced {
        if ns.is_empty() {
            errs.push(FieldError::required("metadata.namespace", ""));
        } else if let Some(why) = names::dns1123_label_problem(ns) {
            errs.push(FieldError::invalid("metadata.namespace", ns, why));
        }
    } else if !ns.is_empty() {
        errs.push(FieldError::forbidden("metadata.namespace", "not allowed on this type"));
    }
    validate_labels_and_annotations(meta, "metadata", &mut errs);
    for (i, f) in meta.finalizers.iter().flatten().enumerate() {
        if let Some(why) = names::qualified_name_problem(f) {
            errs.push(FieldError::invalid(format!("metadata.finalizers[{i}]"), f, why));
        }
    }
    errs
}

/// Validates metadata common to every kind (name, namespace, labels, annotations, finalizers).
///
/// Names must be DNS-1123 subdomains; use [`validate_metadata_for`] for kinds with other rules
/// (Namespaces take DNS-1123 labels). A namespaced object must carry its namespace: set it (from
/// the request path, or `default`) before admission.
pub fn validate_metadata(meta: &ObjectMeta, namespaced: bool) -> Vec<FieldError> {
    validate_meta_with(meta, namespaced, NameRule::Subdomain)
}

/// Like [`validate_metadata`], with the name rule of the given kind (DNS-1123 label for a core/v1
/// Namespace, DNS-1035 label for a core/v1 Service, subdomain for everything else).
pub fn validate_metadata_for(type_key: &TypeKey, meta: &ObjectMeta) -> Vec<FieldError> {
    let rule = match (type_key.group.is_empty(), type_key.kind.as_str()) {
        (true, "Namespace") => NameRule::Label,
        (true, "Service") => NameRule::Label1035,
        _ => NameRule::Subdomain,
    };
    validate_meta_with(meta, type_key.namespaced, rule)
}

/// On update, name and namespace may not change.
fn validate_meta_update(new: &ObjectMeta, old: &ObjectMeta, errs: &mut Vec<FieldError>) {
    for (field, n, o) in [
        ("metadata.name", &new.name, &old.name),
        ("metadata.namespace", &new.namespace, &old.namespace),
    ] {
        if n.as_deref().unwrap_or("") != o.as_deref().unwrap_or("") {
            errs.push(FieldError::invalid(
                field,
                n.clone().unwrap_or_default(),
                "field is immutable",
            ));
        }
    }
}

fn finish(type_key: &TypeKey, meta: &ObjectMeta, errors: Vec<FieldError>) -> Result<(), Invalid> {
    if errors.is_empty() {
        return Ok(());
    }
    let err = Invalid {
        qualified_kind: qualified_kind(type_key),
        name: meta.name.clone().unwrap_or_default(),
        errors,
    };
    tracing::debug!(error = %err, "admission rejected an object");
    Err(err)
}

/// Validates a typed object without defaulting it (`old` on update). [`admit`] is defaulting plus
/// this.
pub fn validate(new: &Object, old: Option<&Object>) -> Result<(), Invalid> {
    let type_key = new.type_key();
    let mut errs = validate_metadata_for(&type_key, new.meta());
    let old = old.filter(|o| o.type_key() == type_key);
    if let Some(o) = old {
        validate_meta_update(new.meta(), o.meta(), &mut errs);
    }
    match (new, old) {
        (Object::Deployment(d), Some(Object::Deployment(o))) => apps::validate_deployment(d, Some(o), &mut errs),
        (Object::Deployment(d), _) => apps::validate_deployment(d, None, &mut errs),
        (Object::ReplicaSet(rs), Some(Object::ReplicaSet(o))) => apps::validate_replica_set(rs, Some(o), &mut errs),
        (Object::ReplicaSet(rs), _) => apps::validate_replica_set(rs, None, &mut errs),
        (Object::Pod(p), Some(Object::Pod(o))) => pod::validate_pod(p, Some(o), &mut errs),
        (Object::Pod(p), _) => pod::validate_pod(p, None, &mut errs),
        (Object::ConfigMap(c), Some(Object::ConfigMap(o))) => core_kinds::validate_config_map(c, Some(o), &mut errs),
        (Object::ConfigMap(c), _) => core_kinds::validate_config_map(c, None, &mut errs),
        (Object::Secret(s), Some(Object::Secret(o))) => core_kinds::validate_secret(s, Some(o), &mut errs),
        (Object::Secret(s), _) => core_kinds::validate_secret(s, None, &mut errs),
        (Object::Service(s), Some(Object::Service(o))) => core_kinds::validate_service(s, Some(o), &mut errs),
        (Object::Service(s), _) => core_kinds::validate_service(s, None, &mut errs),
        (Object::Role(r), _) => rbac::validate_rules(r.rules.as_deref().unwrap_or_default(), true, &mut errs),
        (Object::ClusterRole(r), _) => rbac::validate_rules(r.rules.as_deref().unwrap_or_default(), false, &mut errs),
        (Object::RoleBinding(b), old) => {
            let old_ref = match old {
                Some(Object::RoleBinding(o)) => Some(&o.role_ref),
                _ => None,
            };
            rbac::validate_binding(
                &b.role_ref,
                b.subjects.as_deref().unwrap_or_default(),
                true,
                old_ref,
                &mut errs,
            );
        }
        (Object::ClusterRoleBinding(b), old) => {
            let old_ref = match old {
                Some(Object::ClusterRoleBinding(o)) => Some(&o.role_ref),
                _ => None,
            };
            rbac::validate_binding(
                &b.role_ref,
                b.subjects.as_deref().unwrap_or_default(),
                false,
                old_ref,
                &mut errs,
            );
        }
        (Object::CustomResourceDefinition(c), Some(Object::CustomResourceDefinition(o))) => {
            crd::validate_crd(c, Some(o), &mut errs);
        }
        (Object::CustomResourceDefinition(c), _) => crd::validate_crd(c, None, &mut errs),
        _ => {}
    }
    finish(&type_key, new.meta(), errs)
}

/// Defaults then validates a typed built-in object. `old` is the stored object on update (for
/// immutable-field checks), `None` on create; a create also gets the create-only defaults
/// ([`defaults::default_object_on_create`]: a Namespace's `kubernetes` finalizer).
///
/// On error `new` has still been defaulted; nothing else is changed.
pub fn admit(new: &mut Object, old: Option<&Object>) -> Result<(), Invalid> {
    defaults::default_object(new);
    if let Object::CustomResourceDefinition(c) = new {
        crd::default_crd(c);
    }
    if old.is_none() {
        defaults::default_object_on_create(new);
    }
    if let Object::Service(svc) = new {
        // A Service keeps its allocated cluster IP across updates that omit it.
        let old_svc = match old {
            Some(Object::Service(o)) => Some(o),
            _ => None,
        };
        core_kinds::default_service(svc, old_svc);
        node_ports::default_node_ports(svc, old_svc);
    }
    validate(new, old)
}

/// Validates a status write (specs/apps.md A.10) for Deployments and ReplicaSets: counts ≥ 0,
/// `updatedReplicas`, `readyReplicas`, `availableReplicas` (and `fullyLabeledReplicas`) ≤ `replicas`,
/// `availableReplicas ≤ readyReplicas`, and a Deployment's `collisionCount` never decreasing from
/// `old`'s. Other kinds pass.
pub fn validate_status(new: &Object, old: Option<&Object>) -> Result<(), Invalid> {
    let mut errs = Vec::new();
    match (new, old) {
        (Object::Deployment(d), Some(Object::Deployment(o))) => {
            apps::validate_deployment_status(d, Some(o), &mut errs);
        }
        (Object::Deployment(d), _) => apps::validate_deployment_status(d, None, &mut errs),
        (Object::ReplicaSet(rs), _) => apps::validate_replica_set_status(rs, &mut errs),
        _ => {}
    }
    finish(&new.type_key(), new.meta(), errs)
}

fn decode(type_key: &TypeKey, value: &serde_json::Value) -> Result<Object, AdmissionError> {
    let decode_err = |source| AdmissionError::Decode {
        kind: qualified_kind(type_key),
        source,
    };
    match Object::from_json(&type_key.api_version(), &type_key.kind, value.clone()) {
        Ok(Some(obj)) => Ok(obj),
        Ok(None) => Err(decode_err(serde::de::Error::custom("not a built-in kind"))),
        Err(e) => Err(decode_err(e)),
    }
}

/// Defaults then validates an object given as JSON. For built-in kinds it decodes, admits and
/// re-encodes in place; for other kinds it validates metadata only.
///
/// # Errors
/// - [`AdmissionError::Decode`] when `new` (or `old`) is not a valid object of a built-in kind: a
///   field of the wrong type, or an `apiVersion`/`kind` that contradicts `type_key`. For other kinds,
///   when `metadata` is not a valid `ObjectMeta`. `new` is left unchanged.
/// - [`AdmissionError::Invalid`] with every failed field. `new` has been defaulted in place.
///
/// Re-encoding drops fields the typed object does not know (as the API server prunes them) and
/// always writes `apiVersion` and `kind`.
pub fn admit_json(
    type_key: &TypeKey,
    new: &mut serde_json::Value,
    old: Option<&serde_json::Value>,
) -> Result<(), AdmissionError> {
    if crate::builtin::builtin_type(&type_key.api_version(), &type_key.kind).is_some() {
        let mut obj = decode(type_key, new)?;
        let old_obj = old.map(|o| decode(type_key, o)).transpose()?;
        let result = admit(&mut obj, old_obj.as_ref());
        *new = obj.to_json().map_err(|source| AdmissionError::Decode {
            kind: qualified_kind(type_key),
            source,
        })?;
        return result.map_err(AdmissionError::from);
    }
    let meta_of = |v: &serde_json::Value| -> Result<ObjectMeta, AdmissionError> {
        let m = v.get("metadata").cloned().unwrap_or(serde_json::Value::Null);
        if m.is_null() {
            return Ok(ObjectMeta::default());
        }
        serde_json::from_value(m).map_err(|source| AdmissionError::Decode {
            kind: qualified_kind(type_key),
            source,
        })
    };
    let meta = meta_of(new)?;
    let mut errs = validate_metadata_for(type_key, &meta);
    if let Some(o) = old {
        validate_meta_update(&meta, &meta_of(o)?, &mut errs);
    }
    finish(type_key, &meta, errs).map_err(AdmissionError::from)
}

#[cfg(test)]
mod tests;
