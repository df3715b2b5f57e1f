//! The [`Resource`] trait, run-time type identity ([`TypeKey`]) and object identity ([`ObjectKey`]).
//!
//! Every kind Capstan stores implements [`Resource`]: the built-in Kubernetes kinds get it from
//! `k8s-openapi`'s own traits (see [`builtin`](crate::builtin)), and a user's own kind implements it
//! in a few lines.

use std::fmt;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::{Serialize, de::DeserializeOwned};

/// A kind of object that Capstan can store, watch and reconcile.
///
/// The associated constants give the kind's identity as the Kubernetes API spells it; the two
/// methods give access to the object's `metadata`.
///
/// # Implementing it for your own kind
///
/// ```
/// use capstan_core::{Resource, TypeKey};
/// use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
/// use serde::{Deserialize, Serialize};
///
/// /// A custom resource: `example.com/v1`, kind `Greeting`.
/// #[derive(Clone, Debug, Default, Serialize, Deserialize)]
/// struct Greeting {
///     metadata: ObjectMeta,
///     spec: GreetingSpec,
/// }
///
/// #[derive(Clone, Debug, Default, Serialize, Deserialize)]
/// struct GreetingSpec {
///     message: String,
/// }
///
/// impl Resource for Greeting {
///     const GROUP: &'static str = "example.com";
///     const VERSION: &'static str = "v1";
///     const KIND: &'static str = "Greeting";
///     const PLURAL: &'static str = "greetings";
///     const NAMESPACED: bool = true;
///     fn meta(&self) -> &ObjectMeta { &self.metadata }
///     fn meta_mut(&mut self) -> &mut ObjectMeta { &mut self.metadata }
/// }
///
/// let t = Greeting::type_key();
/// assert_eq!(t.api_version(), "example.com/v1");
/// assert_eq!(t.to_string(), "greetings.v1.example.com");
/// ```
pub trait Resource: Clone + Serialize + DeserializeOwned + Send + Sync + fmt::Debug + 'static {
    /// API group; empty for the core group (Pods, Namespaces, Events).
    const GROUP: &'static str;
    /// API version within the group, e.g. `v1`.
    const VERSION: &'static str;
    /// The kind, e.g. `Deployment`.
    const KIND: &'static str;
    /// The lower-case plural used in URL paths, e.g. `deployments`.
    const PLURAL: &'static str;
    /// Whether objects of this kind live in a namespace.
    const NAMESPACED: bool;

    /// The object's metadata.
    fn meta(&self) -> &ObjectMeta;
    /// The object's metadata, mutably.
    fn meta_mut(&mut self) -> &mut ObjectMeta;

    /// This kind's run-time identity.
    fn type_key() -> TypeKey {
        TypeKey::new(Self::GROUP, Self::VERSION, Self::KIND, Self::PLURAL, Self::NAMESPACED)
    }

    /// The key (namespace and name) of this object. An unnamed object has an empty name.
    fn object_key(&self) -> ObjectKey {
        let meta = self.meta();
        ObjectKey::new(
            if Self::NAMESPACED {
                meta.namespace.clone().unwrap_or_default()
            } else {
                String::new()
            },
            meta.name.clone().unwrap_or_default(),
        )
    }
}

/// The run-time identity of a kind: group, version, kind, plural and scope.
///
/// Also known as GVK (group-version-kind) or GVR (group-version-resource) in Kubernetes. Usable where
/// the kind is only known at run time: the API server, dynamic clients, the store's backends.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TypeKey {
    /// API group; empty for the core group.
    pub group: String,
    /// API version, e.g. `v1`.
    pub version: String,
    /// Kind, e.g. `Pod`.
    pub kind: String,
    /// Lower-case plural used in paths, e.g. `pods`.
    pub plural: String,
    /// Whether objects of this kind are namespaced.
    pub namespaced: bool,
}

impl TypeKey {
    /// Builds a type key from its parts.
    pub fn new(group: &str, version: &str, kind: &str, plural: &str, namespaced: bool) -> Self {
        Self {
            group: group.to_owned(),
            version: version.to_owned(),
            kind: kind.to_owned(),
            plural: plural.to_owned(),
            namespaced,
        }
    }

    /// The `apiVersion` field value: `group/version`, or just `version` for the core group.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }
}

impl fmt::Display for TypeKey {
    /// Formats as Kubernetes names a resource type: `deployments.v1.apps`, or `pods.v1` for core.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.group.is_empty() {
            write!(f, "{}.{}", self.plural, self.version)
        } else {
            write!(f, "{}.{}.{}", self.plural, self.version, self.group)
        }
    }
}

/// The identity of one object within a kind: namespace (empty for cluster-scoped kinds) and name.
///
/// Ordered by namespace, then name: the order in which lists are returned.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, serde::Deserialize)]
pub struct ObjectKey {
    /// Namespace; empty for cluster-scoped objects.
    pub namespace: String,
    /// Name.
    pub name: String,
}

impl ObjectKey {
    /// A key from a namespace (empty for cluster-scoped) and a name.
    pub fn new(namespace: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            namespace: namespace.into(),
            name: name.into(),
        }
    }

    /// A key for a cluster-scoped object.
    pub fn cluster(name: impl Into<String>) -> Self {
        Self::new(String::new(), name)
    }
}

impl fmt::Display for ObjectKey {
    /// `namespace/name`, or `name` for cluster-scoped objects (as `kubectl` and client-go print keys).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.namespace.is_empty() {
            f.write_str(&self.name)
        } else {
            write!(f, "{}/{}", self.namespace, self.name)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::apps::v1::Deployment;
    use k8s_openapi::api::core::v1::{Namespace, Pod};

    #[test]
    fn builtins_report_their_kubernetes_identity() {
        let d = Deployment::type_key();
        assert_eq!(
            (d.group.as_str(), d.version.as_str(), d.kind.as_str()),
            ("apps", "v1", "Deployment")
        );
        assert_eq!(d.plural, "deployments");
        assert!(d.namespaced);
        assert_eq!(d.api_version(), "apps/v1");
        assert_eq!(Pod::type_key().api_version(), "v1");
        assert_eq!(Pod::type_key().to_string(), "pods.v1");
        assert!(!Namespace::type_key().namespaced);
    }

    #[test]
    fn object_keys_order_by_namespace_then_name_and_print_like_kubectl() {
        let mut keys = [
            ObjectKey::new("b", "a"),
            ObjectKey::new("a", "z"),
            ObjectKey::cluster("m"),
        ];
        keys.sort();
        assert_eq!(keys[0], ObjectKey::cluster("m"));
        assert_eq!(keys[1].to_string(), "a/z");
        assert_eq!(keys[2].to_string(), "b/a");
    }

    #[test]
    fn cluster_scoped_objects_ignore_a_stray_namespace_in_their_key() {
        let mut ns = Namespace::default();
        ns.metadata.name = Some("team".into());
        ns.metadata.namespace = Some("oops".into());
        assert_eq!(ns.object_key(), ObjectKey::cluster("team"));
    }
}
