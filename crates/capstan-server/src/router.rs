//! Path routing: turns a request path into a [`Route`].

use crate::discovery::{self, Registry, ResourceInfo, ReviewKind};

/// What a request path names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Route {
    /// `/healthz`, `/readyz`, `/livez` (and their sub-paths).
    Health,
    /// `/metrics` (Prometheus text, from the embedder's [`Observability`](crate::observe::Observability)).
    Metrics,
    /// `/version`.
    Version,
    /// `/api`.
    CoreVersions,
    /// `/apis`.
    Groups,
    /// `/apis/{group}`.
    Group(String),
    /// `/api/v1` or `/apis/{group}/{version}`.
    ResourceList {
        /// Group (`""` for core).
        group: String,
        /// Version.
        version: String,
    },
    /// `/openapi/v2`.
    OpenApiV2,
    /// `/openapi/v3`.
    OpenApiV3Root,
    /// `/openapi/v3/api/v1` or `/openapi/v3/apis/{group}/{version}`.
    OpenApiV3 {
        /// Group (`""` for core).
        group: String,
        /// Version.
        version: String,
    },
    /// A collection or an object of a served kind.
    Resource(ResourceRoute),
    /// The collection of a create-only review kind, e.g. `/apis/authorization.k8s.io/v1/selfsubjectaccessreviews`.
    Review(ReviewKind),
}

/// A collection, object or subresource path of a served kind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResourceRoute {
    /// The kind.
    pub info: ResourceInfo,
    /// The namespace from the path, if any.
    pub namespace: Option<String>,
    /// The object name, if the path names one.
    pub name: Option<String>,
    /// The subresource (`status`, `scale`, `eviction`, ...), if any.
    pub subresource: Option<String>,
}

/// Routes a path (without query). `None` means 404.
pub fn route(registry: &Registry, path: &str) -> Option<Route> {
    let segs: Vec<&str> = path.trim_matches('/').split('/').filter(|s| !s.is_empty()).collect();
    match segs.as_slice() {
        ["healthz" | "readyz" | "livez", ..] => Some(Route::Health),
        ["metrics"] => Some(Route::Metrics),
        ["version"] => Some(Route::Version),
        ["api"] => Some(Route::CoreVersions),
        ["apis"] => Some(Route::Groups),
        ["apis", group] => Some(Route::Group((*group).to_owned())),
        ["openapi", "v2"] => Some(Route::OpenApiV2),
        ["openapi", "v3"] => Some(Route::OpenApiV3Root),
        ["openapi", "v3", "api", version] => Some(Route::OpenApiV3 {
            group: String::new(),
            version: (*version).to_owned(),
        }),
        ["openapi", "v3", "apis", group, version] => Some(Route::OpenApiV3 {
            group: (*group).to_owned(),
            version: (*version).to_owned(),
        }),
        ["api", version] => Some(Route::ResourceList {
            group: String::new(),
            version: (*version).to_owned(),
        }),
        ["apis", group, version] => Some(Route::ResourceList {
            group: (*group).to_owned(),
            version: (*version).to_owned(),
        }),
        ["apis", group, version, plural] if discovery::find_review(group, version, plural).is_some() => {
            discovery::find_review(group, version, plural).map(Route::Review)
        }
        ["api", version, rest @ ..] => resource_route(registry, "", version, rest).map(Route::Resource),
        ["apis", group, version, rest @ ..] => resource_route(registry, group, version, rest).map(Route::Resource),
        _ => None,
    }
}

fn resource_route(registry: &Registry, group: &str, version: &str, rest: &[&str]) -> Option<ResourceRoute> {
    let make = |plural: &str, ns: Option<&str>, name: Option<&str>, sub: Option<&str>| {
        let info = registry.find(group, version, plural)?;
        if ns.is_some() && !info.type_key.namespaced {
            return None;
        }
        if let Some(s) = sub {
            let ok = (s == "status" && info.has_status)
                || (s == "scale" && info.has_scale)
                || (s == "eviction" && info.has_eviction && name.is_some())
                || (crate::handlers::containers::is_container_subresource(&info.type_key, s) && name.is_some());
            if !ok {
                return None;
            }
        }
        Some(ResourceRoute {
            info: info.clone(),
            namespace: ns.map(str::to_owned),
            name: name.map(str::to_owned),
            subresource: sub.map(str::to_owned),
        })
    };
    match rest {
        ["namespaces", ns, plural, tail @ ..] if group_has_namespaced(registry, group, version, plural) => match tail {
            [] => make(plural, Some(ns), None, None),
            [name] => make(plural, Some(ns), Some(name), None),
            [name, sub] => make(plural, Some(ns), Some(name), Some(sub)),
            _ => None,
        },
        [plural] => make(plural, None, None, None),
        [plural, name] => make(plural, None, Some(name), None),
        [plural, name, sub] => make(plural, None, Some(name), Some(sub)),
        _ => None,
    }
}

fn group_has_namespaced(registry: &Registry, group: &str, version: &str, plural: &str) -> bool {
    registry
        .find(group, version, plural)
        .is_some_and(|r| r.type_key.namespaced)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(path: &str) -> Option<Route> {
        route(&Registry::builtin(), path)
    }

    fn res(path: &str) -> ResourceRoute {
        match r(path) {
            Some(Route::Resource(rr)) => rr,
            other => panic!("{path}: {other:?}"),
        }
    }

    #[test]
    fn namespaced_object_paths_carry_namespace_name_and_subresource() {
        let rr = res("/apis/apps/v1/namespaces/default/deployments/web/scale");
        assert_eq!(rr.info.type_key.kind, "Deployment");
        assert_eq!(rr.namespace.as_deref(), Some("default"));
        assert_eq!(rr.name.as_deref(), Some("web"));
        assert_eq!(rr.subresource.as_deref(), Some("scale"));
    }

    #[test]
    fn namespace_objects_and_namespaced_collections_are_told_apart() {
        let ns = res("/api/v1/namespaces/default");
        assert_eq!(ns.info.type_key.kind, "Namespace");
        assert_eq!(ns.name.as_deref(), Some("default"));
        let st = res("/api/v1/namespaces/default/status");
        assert_eq!(st.info.type_key.kind, "Namespace");
        assert_eq!(st.subresource.as_deref(), Some("status"));
        let pods = res("/api/v1/namespaces/default/pods");
        assert_eq!(pods.info.type_key.kind, "Pod");
        assert_eq!(pods.name, None);
        let all = res("/api/v1/pods");
        assert_eq!(all.namespace, None);
    }

    #[test]
    fn pod_evictions_and_review_collections_route() {
        let ev = res("/api/v1/namespaces/default/pods/web-1/eviction");
        assert_eq!(ev.info.type_key.kind, "Pod");
        assert_eq!(ev.name.as_deref(), Some("web-1"));
        assert_eq!(ev.subresource.as_deref(), Some("eviction"));
        match r("/apis/authorization.k8s.io/v1/selfsubjectaccessreviews") {
            Some(Route::Review(k)) => assert_eq!(k.kind, "SelfSubjectAccessReview"),
            other => panic!("{other:?}"),
        }
        match r("/apis/authentication.k8s.io/v1/selfsubjectreviews") {
            Some(Route::Review(k)) => assert_eq!(k.kind, "SelfSubjectReview"),
            other => panic!("{other:?}"),
        }
        assert_eq!(r("/apis/authorization.k8s.io/v1/subjectaccessreviews"), None);
    }

    #[test]
    fn unknown_kinds_subresources_and_scoped_cluster_kinds_do_not_route() {
        assert_eq!(r("/api/v1/widgets"), None);
        assert_eq!(r("/api/v1/namespaces/default/pods/p/scale"), None);
        assert_eq!(r("/api/v1/namespaces/default/nodes"), None);
        assert_eq!(r("/nope"), None);
        assert_eq!(r("/apis/apps/v1/namespaces/default/deployments/web/eviction"), None);
        assert_eq!(
            r("/api/v1/namespaces/default/replicationcontrollers/web/eviction"),
            None
        );
        assert_eq!(r("/version"), Some(Route::Version));
    }
}
