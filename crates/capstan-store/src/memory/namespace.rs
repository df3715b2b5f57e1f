//! The Namespace lifecycle rules the write path applies, as Kubernetes' namespace strategy and its
//! NamespaceLifecycle admission do:
//! - a Namespace's `spec.finalizers` hold its deletion exactly as `metadata.finalizers` hold any
//!   object's: a delete marks it (`deletionTimestamp`, `status.phase: Terminating`) and the update
//!   that empties the last of both lists removes it;
//! - no namespaced object can be created in a Namespace that is terminating
//!   ([`StoreError::NamespaceTerminating`]). A namespace that does not exist is not checked here (the
//!   API server refuses writes into it; in-process callers may use namespaces without objects).

use capstan_core::{ObjectKey, Resource, TypeKey};
use k8s_openapi::api::core::v1::Namespace;
use serde_json::Value;

use super::meta;
use super::state::View;
use crate::error::{Result, StoreError};

/// `status.phase` of a Namespace being deleted.
const TERMINATING: &str = "Terminating";

/// Whether `type_key` is core/v1 Namespace.
pub(crate) fn is_namespace(type_key: &TypeKey) -> bool {
    type_key.group.is_empty() && type_key.kind == "Namespace"
}

/// The finalizers that hold `object`'s deletion besides `metadata.finalizers`: a Namespace's
/// `spec.finalizers` (empty for every other kind).
pub(crate) fn spec_finalizers(type_key: &TypeKey, object: &Value) -> Vec<String> {
    if !is_namespace(type_key) {
        return Vec::new();
    }
    object
        .get("spec")
        .and_then(|s| s.get("finalizers"))
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(|f| f.as_str().map(str::to_owned)).collect())
        .unwrap_or_default()
}

/// Records on a Namespace that is being deleted (and stays, held by finalizers) that it is
/// terminating: `status.phase: Terminating`. Other kinds are left alone.
pub(crate) fn mark_terminating(type_key: &TypeKey, object: &mut Value) {
    if !is_namespace(type_key) {
        return;
    }
    let Value::Object(map) = object else { return };
    let status = map
        .entry("status")
        .or_insert_with(|| Value::Object(serde_json::Map::new()));
    if !status.is_object() {
        *status = Value::Object(serde_json::Map::new());
    }
    if let Value::Object(status) = status {
        status.insert("phase".into(), Value::String(TERMINATING.into()));
    }
}

/// Refuses the create of a namespaced object at `key` when its Namespace is terminating.
pub(crate) fn check_create_allowed(view: &impl View, type_key: &TypeKey, key: &ObjectKey) -> Result<()> {
    if !type_key.namespaced || key.namespace.is_empty() {
        return Ok(());
    }
    let namespace = view.get(&Namespace::type_key(), &ObjectKey::cluster(key.namespace.clone()));
    if namespace.is_some_and(|ns| meta::is_terminating(ns.json())) {
        return Err(StoreError::NamespaceTerminating {
            type_key: type_key.clone(),
            key: key.clone(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn namespaces() -> TypeKey {
        Namespace::type_key()
    }

    #[test]
    fn only_namespaces_have_spec_finalizers_that_hold_deletion() {
        let object = json!({"spec": {"finalizers": ["kubernetes", "example.com/x"]}});
        assert_eq!(
            spec_finalizers(&namespaces(), &object),
            vec!["kubernetes".to_owned(), "example.com/x".to_owned()]
        );
        let widgets = TypeKey::new("example.com", "v1", "Widget", "widgets", false);
        assert!(spec_finalizers(&widgets, &object).is_empty());
        assert!(spec_finalizers(&namespaces(), &json!({"spec": {}})).is_empty());
    }

    #[test]
    fn a_terminating_namespace_keeps_its_other_status_fields() {
        let mut ns = json!({"status": {"phase": "Active", "conditions": []}});
        mark_terminating(&namespaces(), &mut ns);
        assert_eq!(ns["status"], json!({"phase": "Terminating", "conditions": []}));
        let mut bare = json!({"metadata": {}});
        mark_terminating(&namespaces(), &mut bare);
        assert_eq!(bare["status"]["phase"], "Terminating");
        let mut pod = json!({"status": {"phase": "Running"}});
        mark_terminating(&TypeKey::new("", "v1", "Pod", "pods", true), &mut pod);
        assert_eq!(pod["status"]["phase"], "Running");
    }
}
