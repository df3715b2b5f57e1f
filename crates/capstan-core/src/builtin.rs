//! The built-in kinds: the real Kubernetes API types from `k8s-openapi`, given [`Resource`].
//!
//! [`Object`] is a sum of every built-in kind, used where a value's kind is only known at run time
//! (manifests, the API server's dispatch); [`builtin_types`] lists their [`TypeKey`]s.

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{ConfigMap, Event, Namespace, Node, Pod, Secret, Service, ServiceAccount};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Serialize;

use crate::resource::{Resource, TypeKey};

/// Gives a k8s-openapi type the [`Resource`] trait, reading identity from k8s-openapi's constants.
macro_rules! builtin {
    ($($ty:ty => $namespaced:expr),* $(,)?) => {
        $(
            impl Resource for $ty {
                const GROUP: &'static str = <$ty as k8s_openapi::Resource>::GROUP;
                const VERSION: &'static str = <$ty as k8s_openapi::Resource>::VERSION;
                const KIND: &'static str = <$ty as k8s_openapi::Resource>::KIND;
                const PLURAL: &'static str = <$ty as k8s_openapi::Resource>::URL_PATH_SEGMENT;
                const NAMESPACED: bool = $namespaced;
                fn meta(&self) -> &ObjectMeta { k8s_openapi::Metadata::metadata(self) }
                fn meta_mut(&mut self) -> &mut ObjectMeta { k8s_openapi::Metadata::metadata_mut(self) }
            }
        )*
    };
}

builtin! {
    Namespace => false,
    Node => false,
    Pod => true,
    Event => true,
    ReplicaSet => true,
    Deployment => true,
    Lease => true,
    ConfigMap => true,
    Secret => true,
    Service => true,
    ServiceAccount => true,
    Role => true,
    RoleBinding => true,
    ClusterRole => false,
    ClusterRoleBinding => false,
    CustomResourceDefinition => false,
}

/// One object of any built-in kind, typed.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
#[non_exhaustive]
pub enum Object {
    /// `v1 Namespace`
    Namespace(Namespace),
    /// `v1 Node`
    Node(Node),
    /// `v1 Pod`
    Pod(Pod),
    /// `v1 Event`
    Event(Event),
    /// `apps/v1 ReplicaSet`
    ReplicaSet(ReplicaSet),
    /// `apps/v1 Deployment`
    Deployment(Deployment),
    /// `coordination.k8s.io/v1 Lease`
    Lease(Lease),
    /// `v1 ConfigMap` (stored only: no controller reads it)
    ConfigMap(ConfigMap),
    /// `v1 Secret` (stored only)
    Secret(Secret),
    /// `v1 Service` (stored only: a cluster IP is assigned, nothing routes to it)
    Service(Service),
    /// `v1 ServiceAccount` (stored only)
    ServiceAccount(ServiceAccount),
    /// `rbac.authorization.k8s.io/v1 Role` (stored only: Capstan's one token is cluster-admin)
    Role(Role),
    /// `rbac.authorization.k8s.io/v1 RoleBinding` (stored only)
    RoleBinding(RoleBinding),
    /// `rbac.authorization.k8s.io/v1 ClusterRole` (stored only)
    ClusterRole(ClusterRole),
    /// `rbac.authorization.k8s.io/v1 ClusterRoleBinding` (stored only)
    ClusterRoleBinding(ClusterRoleBinding),
    /// `apiextensions.k8s.io/v1 CustomResourceDefinition`: declares a custom kind the API server
    /// then serves.
    CustomResourceDefinition(CustomResourceDefinition),
}

/// Applies `$body` to the typed value inside an [`Object`], whatever its kind.
macro_rules! each_kind {
    ($obj:expr, $v:ident => $body:expr) => {
        match $obj {
            Object::Namespace($v) => $body,
            Object::Node($v) => $body,
            Object::Pod($v) => $body,
            Object::Event($v) => $body,
            Object::ReplicaSet($v) => $body,
            Object::Deployment($v) => $body,
            Object::Lease($v) => $body,
            Object::ConfigMap($v) => $body,
            Object::Secret($v) => $body,
            Object::Service($v) => $body,
            Object::ServiceAccount($v) => $body,
            Object::Role($v) => $body,
            Object::RoleBinding($v) => $body,
            Object::ClusterRole($v) => $body,
            Object::ClusterRoleBinding($v) => $body,
            Object::CustomResourceDefinition($v) => $body,
        }
    };
}

/// Reports a typed value's [`TypeKey`] (a helper for [`each_kind`]).
fn type_key_of<K: Resource>(_: &K) -> TypeKey {
    K::type_key()
}

impl Object {
    /// The run-time identity of this object's kind.
    pub fn type_key(&self) -> TypeKey {
        each_kind!(self, v => type_key_of(v))
    }

    /// The object's metadata.
    pub fn meta(&self) -> &ObjectMeta {
        each_kind!(self, v => v.meta())
    }

    /// The object's metadata, mutably.
    pub fn meta_mut(&mut self) -> &mut ObjectMeta {
        each_kind!(self, v => v.meta_mut())
    }

    /// The object as JSON, with `apiVersion` and `kind` set.
    pub fn to_json(&self) -> Result<serde_json::Value, serde_json::Error> {
        each_kind!(self, v => serde_json::to_value(v))
    }

    /// Reads an object of a built-in kind from JSON, choosing the kind by `apiVersion` and `kind`.
    /// Returns `Ok(None)` when the pair names no built-in kind.
    pub fn from_json(
        api_version: &str,
        kind: &str,
        value: serde_json::Value,
    ) -> Result<Option<Self>, serde_json::Error> {
        let Some(t) = builtin_type(api_version, kind) else {
            return Ok(None);
        };
        let obj = match t.kind.as_str() {
            "Namespace" => Object::Namespace(serde_json::from_value(value)?),
            "Node" => Object::Node(serde_json::from_value(value)?),
            "Pod" => Object::Pod(serde_json::from_value(value)?),
            "Event" => Object::Event(serde_json::from_value(value)?),
            "ReplicaSet" => Object::ReplicaSet(serde_json::from_value(value)?),
            "Deployment" => Object::Deployment(serde_json::from_value(value)?),
            "Lease" => Object::Lease(serde_json::from_value(value)?),
            "ConfigMap" => Object::ConfigMap(serde_json::from_value(value)?),
            "Secret" => Object::Secret(serde_json::from_value(value)?),
            "Service" => Object::Service(serde_json::from_value(value)?),
            "ServiceAccount" => Object::ServiceAccount(serde_json::from_value(value)?),
            "Role" => Object::Role(serde_json::from_value(value)?),
            "RoleBinding" => Object::RoleBinding(serde_json::from_value(value)?),
            "ClusterRole" => Object::ClusterRole(serde_json::from_value(value)?),
            "ClusterRoleBinding" => Object::ClusterRoleBinding(serde_json::from_value(value)?),
            "CustomResourceDefinition" => Object::CustomResourceDefinition(serde_json::from_value(value)?),
            _ => return Ok(None),
        };
        Ok(Some(obj))
    }
}

/// The type keys of every built-in kind, in a stable order.
pub fn builtin_types() -> Vec<TypeKey> {
    vec![
        Namespace::type_key(),
        Node::type_key(),
        Pod::type_key(),
        Event::type_key(),
        ReplicaSet::type_key(),
        Deployment::type_key(),
        Lease::type_key(),
        ConfigMap::type_key(),
        Secret::type_key(),
        Service::type_key(),
        ServiceAccount::type_key(),
        Role::type_key(),
        RoleBinding::type_key(),
        ClusterRole::type_key(),
        ClusterRoleBinding::type_key(),
        CustomResourceDefinition::type_key(),
    ]
}

/// The built-in kind with this `apiVersion` and `kind`, if there is one.
pub fn builtin_type(api_version: &str, kind: &str) -> Option<TypeKey> {
    builtin_types()
        .into_iter()
        .find(|t| t.kind == kind && t.api_version() == api_version)
}

/// One kind a CustomResourceDefinition defines: one per version it lists.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CustomKind {
    /// The kind at this version (namespaced as the CRD's scope says).
    pub type_key: TypeKey,
    /// This is the CRD's storage version.
    pub storage: bool,
    /// This version is served.
    pub served: bool,
}

/// The kinds a CustomResourceDefinition, given as stored JSON, defines: one per version, in the
/// CRD's order. A CRD missing its group, kind or plural defines none.
pub fn custom_kinds(crd: &serde_json::Value) -> Vec<CustomKind> {
    let spec = &crd["spec"];
    let (Some(group), Some(kind), Some(plural)) = (
        spec["group"].as_str(),
        spec["names"]["kind"].as_str(),
        spec["names"]["plural"].as_str(),
    ) else {
        return Vec::new();
    };
    let namespaced = spec["scope"].as_str() == Some("Namespaced");
    spec["versions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| {
            Some(CustomKind {
                type_key: TypeKey::new(group, v["name"].as_str()?, kind, plural, namespaced),
                storage: v["storage"].as_bool().unwrap_or(false),
                served: v["served"].as_bool().unwrap_or(false),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objects_round_trip_through_json_by_api_version_and_kind() {
        let json = serde_json::json!({
            "apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-a"}
        });
        let obj = Object::from_json("v1", "Namespace", json.clone()).unwrap().unwrap();
        assert_eq!(obj.type_key(), Namespace::type_key());
        assert_eq!(obj.meta().name.as_deref(), Some("team-a"));
        assert_eq!(obj.to_json().unwrap(), json);
    }

    #[test]
    fn unknown_kinds_and_wrong_versions_are_not_builtins() {
        assert!(builtin_type("apps/v1", "Deployment").is_some());
        assert!(builtin_type("v1", "Deployment").is_none());
        assert!(builtin_type("example.com/v1", "Greeting").is_none());
        let crd = builtin_type("apiextensions.k8s.io/v1", "CustomResourceDefinition").unwrap();
        assert_eq!(crd.plural, "customresourcedefinitions");
        assert!(!crd.namespaced);
        assert!(
            Object::from_json("apps/v1beta1", "Deployment", serde_json::json!({}))
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn a_crd_defines_one_kind_per_version_with_its_scope() {
        let crd = serde_json::json!({"spec": {"group": "example.com", "scope": "Cluster",
            "names": {"kind": "Greeting", "plural": "greetings"},
            "versions": [{"name": "v1", "served": true, "storage": false},
                         {"name": "v2", "served": false, "storage": true}]}});
        let kinds = custom_kinds(&crd);
        assert_eq!(kinds.len(), 2);
        assert!(
            kinds
                .iter()
                .all(|k| !k.type_key.namespaced && k.type_key.plural == "greetings")
        );
        assert_eq!((kinds[0].served, kinds[0].storage), (true, false));
        assert_eq!((kinds[1].type_key.version.as_str(), kinds[1].storage), ("v2", true));
        assert!(custom_kinds(&serde_json::json!({"spec": {}})).is_empty());
    }
}
