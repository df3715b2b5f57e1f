//! The kinds the server serves and the discovery documents kubectl reads to find them (`/api`,
//! `/apis`, `/api/v1`, `/apis/{group}/{version}`, `/version`): the stored kinds of a [`Registry`],
//! their subresources (`status`, `scale`, a pod's `eviction`), and the [`REVIEW_KINDS`] answered
//! without storage (`kubectl auth can-i`, `kubectl auth whoami`).

use capstan_core::TypeKey;
use serde_json::{Value, json};

/// Everything the server knows about one kind beyond its [`TypeKey`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResourceInfo {
    /// The kind.
    pub type_key: TypeKey,
    /// Short names kubectl accepts (`po`, `deploy`, ...).
    pub short_names: Vec<&'static str>,
    /// Categories (`all`).
    pub categories: Vec<&'static str>,
    /// Whether the kind has a `status` subresource.
    pub has_status: bool,
    /// Whether the kind has a `scale` subresource (autoscaling/v1 Scale).
    pub has_scale: bool,
    /// Whether the kind has an `eviction` subresource (policy/v1 Eviction; core Pods only).
    pub has_eviction: bool,
    /// For a custom kind: what its CustomResourceDefinition declares (`None` for built-ins).
    pub custom: Option<std::sync::Arc<crate::crd::CustomInfo>>,
}

impl ResourceInfo {
    /// The lower-case singular name, e.g. `deployment`.
    pub fn singular(&self) -> String {
        match &self.custom {
            Some(c) => c.singular.clone(),
            None => self.type_key.kind.to_lowercase(),
        }
    }

    /// Short names, the built-in ones or a CRD's `spec.names.shortNames`.
    pub fn all_short_names(&self) -> Vec<&str> {
        match &self.custom {
            Some(c) => c.short_names.iter().map(String::as_str).collect(),
            None => self.short_names.clone(),
        }
    }

    /// Categories, the built-in ones or a CRD's `spec.names.categories`.
    pub fn all_categories(&self) -> Vec<&str> {
        match &self.custom {
            Some(c) => c.categories.iter().map(String::as_str).collect(),
            None => self.categories.clone(),
        }
    }

    /// Describes a kind, choosing short names and subresources for the built-in ones.
    pub fn for_type(type_key: TypeKey) -> Self {
        let (short, cats, status, scale): (&[&'static str], &[&'static str], bool, bool) =
            match (type_key.group.as_str(), type_key.kind.as_str()) {
                ("", "Pod") => (&["po"], &["all"], true, false),
                ("", "Namespace") => (&["ns"], &[], true, false),
                ("", "Node") => (&["no"], &[], true, false),
                ("", "Event") => (&["ev"], &[], false, false),
                ("apps", "ReplicaSet") => (&["rs"], &["all"], true, true),
                ("apps", "Deployment") => (&["deploy"], &["all"], true, true),
                ("", "Service") => (&["svc"], &["all"], true, false),
                ("", "ConfigMap") => (&["cm"], &[], false, false),
                ("", "Secret") => (&[], &[], false, false),
                ("", "ServiceAccount") => (&["sa"], &[], false, false),
                ("apiextensions.k8s.io", "CustomResourceDefinition") => {
                    (&["crd", "crds"], &["api-extensions"], true, false)
                }
                _ => (&[], &[], true, false),
            };
        Self {
            short_names: short.to_vec(),
            categories: cats.to_vec(),
            has_status: status,
            has_scale: scale,
            has_eviction: type_key.group.is_empty() && type_key.kind == "Pod",
            type_key,
            custom: None,
        }
    }
}

/// The set of kinds the server serves, looked up by group, version and plural.
#[derive(Clone, Debug, Default)]
pub struct Registry {
    resources: Vec<ResourceInfo>,
}

impl Registry {
    /// A registry of the given kinds.
    pub fn new(types: impl IntoIterator<Item = TypeKey>) -> Self {
        Self {
            resources: types.into_iter().map(ResourceInfo::for_type).collect(),
        }
    }

    /// A registry of Capstan's built-in kinds.
    pub fn builtin() -> Self {
        Self::new(capstan_core::builtin_types())
    }

    /// Adds a kind (served after the ones already present).
    pub fn push(&mut self, info: ResourceInfo) {
        self.resources.push(info);
    }

    /// Every kind.
    pub fn resources(&self) -> &[ResourceInfo] {
        &self.resources
    }

    /// The kind served at `group/version/plural`.
    pub fn find(&self, group: &str, version: &str, plural: &str) -> Option<&ResourceInfo> {
        self.resources
            .iter()
            .find(|r| r.type_key.group == group && r.type_key.version == version && r.type_key.plural == plural)
    }

    /// The kind with this `apiVersion` and `kind`.
    pub fn find_kind(&self, api_version: &str, kind: &str) -> Option<&ResourceInfo> {
        self.resources
            .iter()
            .find(|r| r.type_key.kind == kind && r.type_key.api_version() == api_version)
    }

    /// Distinct `(group, version)` pairs of non-core groups, in first-seen order.
    pub fn group_versions(&self) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = Vec::new();
        for r in &self.resources {
            let gv = (r.type_key.group.clone(), r.type_key.version.clone());
            if !gv.0.is_empty() && !out.contains(&gv) {
                out.push(gv);
            }
        }
        out
    }

    /// Whether the registry serves any kind in `group/version` (`""` for core).
    pub fn serves(&self, group: &str, version: &str) -> bool {
        self.resources
            .iter()
            .any(|r| r.type_key.group == group && r.type_key.version == version)
    }
}

/// A create-only kind the server answers from the request alone and never stores, as Kubernetes'
/// review APIs are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReviewKind {
    /// API group.
    pub group: &'static str,
    /// Version.
    pub version: &'static str,
    /// Plural resource name (the path segment).
    pub plural: &'static str,
    /// Kind.
    pub kind: &'static str,
}

impl ReviewKind {
    /// `group/version`.
    pub fn api_version(&self) -> String {
        format!("{}/{}", self.group, self.version)
    }
}

/// The review kinds served: who am I (`kubectl auth whoami`), may I (`kubectl auth can-i`) and
/// what may I do (`kubectl auth can-i --list`).
pub const REVIEW_KINDS: [ReviewKind; 3] = [
    ReviewKind {
        group: "authentication.k8s.io",
        version: "v1",
        plural: "selfsubjectreviews",
        kind: "SelfSubjectReview",
    },
    ReviewKind {
        group: "authorization.k8s.io",
        version: "v1",
        plural: "selfsubjectaccessreviews",
        kind: "SelfSubjectAccessReview",
    },
    ReviewKind {
        group: "authorization.k8s.io",
        version: "v1",
        plural: "selfsubjectrulesreviews",
        kind: "SelfSubjectRulesReview",
    },
];

/// The review kind served at `group/version/plural`.
pub fn find_review(group: &str, version: &str, plural: &str) -> Option<ReviewKind> {
    REVIEW_KINDS
        .into_iter()
        .find(|r| r.group == group && r.version == version && r.plural == plural)
}

fn reviews_in(group: &str, version: &str) -> impl Iterator<Item = ReviewKind> {
    REVIEW_KINDS
        .into_iter()
        .filter(move |r| r.group == group && r.version == version)
}

/// The verbs of the eviction subresource and of the review kinds.
const CREATE_ONLY: [&str; 1] = ["create"];

const VERBS: [&str; 8] = [
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];

/// `/version`.
pub fn version() -> Value {
    json!({
        "major": "1",
        "minor": "32",
        "gitVersion": concat!("v1.32.0-capstan.", env!("CARGO_PKG_VERSION")),
        "gitCommit": "capstan",
        "gitTreeState": "clean",
        "buildDate": "2026-01-01T00:00:00Z",
        "goVersion": "none",
        "compiler": "rustc",
        "platform": "linux/amd64",
    })
}

/// `/api`: the core group's versions.
pub fn api_versions() -> Value {
    json!({
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1:6443"}],
    })
}

/// `/apis`: every non-core group.
pub fn api_group_list(registry: &Registry) -> Value {
    let mut groups: Vec<Value> = Vec::new();
    let reviews = REVIEW_KINDS.iter().map(|r| (r.group.to_owned(), r.version.to_owned()));
    for (group, version) in registry.group_versions().into_iter().chain(reviews) {
        let gv = json!({"groupVersion": format!("{group}/{version}"), "version": version});
        if let Some(existing) = groups.iter_mut().find(|g| g["name"] == group.as_str()) {
            if let Some(v) = existing["versions"].as_array_mut()
                && !v.contains(&gv)
            {
                v.push(gv);
            }
        } else {
            groups.push(json!({"name": group, "versions": [gv.clone()], "preferredVersion": gv}));
        }
    }
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

/// `/apis/{group}`: one group.
pub fn api_group(registry: &Registry, group: &str) -> Option<Value> {
    let list = api_group_list(registry);
    let found = list["groups"].as_array()?.iter().find(|g| g["name"] == group)?.clone();
    let mut g = found;
    g["kind"] = json!("APIGroup");
    g["apiVersion"] = json!("v1");
    Some(g)
}

/// `/api/v1` or `/apis/{group}/{version}`: the resources of one group version.
pub fn api_resource_list(registry: &Registry, group: &str, version: &str) -> Option<Value> {
    let gv = if group.is_empty() {
        version.to_owned()
    } else {
        format!("{group}/{version}")
    };
    if !registry.serves(group, version) && reviews_in(group, version).next().is_none() {
        return None;
    }
    let mut resources = Vec::new();
    for r in registry
        .resources()
        .iter()
        .filter(|r| r.type_key.group == group && r.type_key.version == version)
    {
        let t = &r.type_key;
        let mut main = json!({
            "name": t.plural,
            "singularName": r.singular(),
            "namespaced": t.namespaced,
            "kind": t.kind,
            "verbs": VERBS,
        });
        if !r.all_short_names().is_empty() {
            main["shortNames"] = json!(r.all_short_names());
        }
        if !r.all_categories().is_empty() {
            main["categories"] = json!(r.all_categories());
        }
        resources.push(main);
        if r.has_status {
            resources.push(json!({
                "name": format!("{}/status", t.plural),
                "singularName": "",
                "namespaced": t.namespaced,
                "kind": t.kind,
                "verbs": ["get", "patch", "update"],
            }));
        }
        if r.has_scale {
            resources.push(json!({
                "name": format!("{}/scale", t.plural),
                "singularName": "",
                "namespaced": t.namespaced,
                "group": "autoscaling",
                "version": "v1",
                "kind": "Scale",
                "verbs": ["get", "patch", "update"],
            }));
        }
        if r.has_eviction {
            resources.push(json!({
                "name": format!("{}/eviction", t.plural),
                "singularName": "",
                "namespaced": t.namespaced,
                "group": "policy",
                "version": "v1",
                "kind": "Eviction",
                "verbs": CREATE_ONLY,
            }));
        }
    }
    for r in reviews_in(group, version) {
        resources.push(json!({
            "name": r.plural,
            "singularName": r.kind.to_lowercase(),
            "namespaced": false,
            "kind": r.kind,
            "verbs": CREATE_ONLY,
        }));
    }
    Some(json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": resources}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn core_v1_lists_pods_with_short_names_and_the_all_category() {
        let r = Registry::builtin();
        let list = api_resource_list(&r, "", "v1").unwrap();
        let pods = list["resources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["name"] == "pods")
            .unwrap();
        assert_eq!(pods["shortNames"], json!(["po"]));
        assert_eq!(pods["categories"], json!(["all"]));
        assert_eq!(pods["namespaced"], json!(true));
        assert_eq!(pods["singularName"], json!("pod"));
        let find = |name: &str| {
            list["resources"]
                .as_array()
                .unwrap()
                .iter()
                .find(|x| x["name"] == name)
                .cloned()
                .unwrap_or_else(|| panic!("{name} missing"))
        };
        assert_eq!(find("services")["shortNames"], json!(["svc"]));
        assert_eq!(find("services")["categories"], json!(["all"]));
        assert_eq!(find("configmaps")["shortNames"], json!(["cm"]));
        assert_eq!(find("serviceaccounts")["shortNames"], json!(["sa"]));
        assert_eq!(find("secrets")["namespaced"], json!(true));
    }

    #[test]
    fn apps_v1_deployments_have_a_scale_subresource_of_autoscaling_v1() {
        let r = Registry::builtin();
        let list = api_resource_list(&r, "apps", "v1").unwrap();
        let scale = list["resources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["name"] == "deployments/scale")
            .unwrap();
        assert_eq!(scale["group"], "autoscaling");
        assert_eq!(scale["kind"], "Scale");
    }

    #[test]
    fn pods_list_an_eviction_subresource_of_policy_v1_that_kubectl_drain_looks_for() {
        let list = api_resource_list(&Registry::builtin(), "", "v1").unwrap();
        let resources = list["resources"].as_array().unwrap();
        let ev = resources.iter().find(|x| x["name"] == "pods/eviction").unwrap();
        assert_eq!(
            (&ev["group"], &ev["version"], &ev["kind"]),
            (&json!("policy"), &json!("v1"), &json!("Eviction"))
        );
        assert_eq!(ev["verbs"], json!(["create"]));
        assert!(!resources.iter().any(|x| x["name"] == "namespaces/eviction"));
    }

    #[test]
    fn review_kinds_are_listed_as_create_only_cluster_resources_of_their_groups() {
        let r = Registry::builtin();
        let groups = api_group_list(&r);
        for g in ["authorization.k8s.io", "authentication.k8s.io"] {
            let group = groups["groups"].as_array().unwrap().iter().find(|x| x["name"] == g);
            assert_eq!(group.unwrap()["preferredVersion"]["groupVersion"], format!("{g}/v1"));
            assert_eq!(api_group(&r, g).unwrap()["kind"], "APIGroup");
        }
        let list = api_resource_list(&r, "authorization.k8s.io", "v1").unwrap();
        assert_eq!(
            list["resources"][0],
            json!({"name": "selfsubjectaccessreviews", "singularName": "selfsubjectaccessreview",
                "namespaced": false, "kind": "SelfSubjectAccessReview", "verbs": ["create"]})
        );
        assert_eq!(list["resources"][1]["kind"], "SelfSubjectRulesReview");
        let list = api_resource_list(&r, "authentication.k8s.io", "v1").unwrap();
        assert_eq!(list["resources"][0]["kind"], "SelfSubjectReview");
        assert!(api_resource_list(&r, "authorization.k8s.io", "v2").is_none());
    }

    #[test]
    fn unknown_group_versions_have_no_resource_list() {
        assert!(api_resource_list(&Registry::builtin(), "example.com", "v1").is_none());
        let groups = api_group_list(&Registry::builtin());
        assert!(groups["groups"].as_array().unwrap().iter().any(|g| g["name"] == "apps"));
    }
}

/// The media type of aggregated discovery documents (`apidiscovery.k8s.io/v2`).
pub const AGGREGATED_V2: &str = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";

/// Whether an `Accept` header asks for aggregated discovery v2.
pub fn wants_aggregated(accept: &str) -> bool {
    accept.split(',').any(|m| {
        m.contains("as=APIGroupDiscoveryList")
            && m.contains("g=apidiscovery.k8s.io")
            && m.contains("v=v2")
            && !m.contains("v=v2beta1")
    })
}

/// One version of a group and its resource documents.
type VersionResources = (String, Vec<Value>);

/// Files a resource document under its group and version, keeping first-seen order.
fn add_to_group(groups: &mut Vec<(String, Vec<VersionResources>)>, group: &str, version: &str, res: Value) {
    let gi = match groups.iter().position(|(g, _)| g == group) {
        Some(i) => i,
        None => {
            groups.push((group.to_owned(), Vec::new()));
            groups.len() - 1
        }
    };
    let versions = &mut groups[gi].1;
    match versions.iter_mut().find(|(v, _)| v == version) {
        Some((_, list)) => list.push(res),
        None => versions.push((version.to_owned(), vec![res])),
    }
}

/// Aggregated discovery for `/api` (`core`: the core group only) or `/apis` (every other group).
pub fn aggregated(registry: &Registry, core: bool) -> Value {
    let mut groups: Vec<(String, Vec<VersionResources>)> = Vec::new();
    for r in registry.resources() {
        let t = &r.type_key;
        if t.group.is_empty() != core {
            continue;
        }
        let kind_ref = |g: &str, v: &str, k: &str| json!({"group": g, "version": v, "kind": k});
        let mut subresources = Vec::new();
        if r.has_status {
            subresources.push(json!({"subresource": "status", "responseKind": kind_ref(&t.group, &t.version, &t.kind), "verbs": ["get", "patch", "update"]}));
        }
        if r.has_scale {
            subresources.push(json!({"subresource": "scale", "responseKind": kind_ref("autoscaling", "v1", "Scale"), "verbs": ["get", "patch", "update"]}));
        }
        if r.has_eviction {
            subresources.push(json!({"subresource": "eviction", "responseKind": kind_ref("policy", "v1", "Eviction"), "verbs": CREATE_ONLY}));
        }
        let mut res = json!({
            "resource": t.plural,
            "responseKind": kind_ref(&t.group, &t.version, &t.kind),
            "scope": if t.namespaced { "Namespaced" } else { "Cluster" },
            "singularResource": r.singular(),
            "verbs": VERBS,
            "subresources": subresources,
        });
        if !r.all_short_names().is_empty() {
            res["shortNames"] = json!(r.all_short_names());
        }
        if !r.all_categories().is_empty() {
            res["categories"] = json!(r.all_categories());
        }
        add_to_group(&mut groups, &t.group, &t.version, res);
    }
    if !core {
        for r in REVIEW_KINDS {
            let res = json!({
                "resource": r.plural,
                "responseKind": {"group": r.group, "version": r.version, "kind": r.kind},
                "scope": "Cluster",
                "singularResource": r.kind.to_lowercase(),
                "verbs": CREATE_ONLY,
            });
            add_to_group(&mut groups, r.group, r.version, res);
        }
    }
    let items: Vec<Value> = groups
        .into_iter()
        .map(|(g, versions)| {
            let versions: Vec<Value> = versions
                .into_iter()
                .map(|(v, resources)| json!({"version": v, "resources": resources, "freshness": "Current"}))
                .collect();
            json!({"metadata": {"name": g}, "versions": versions})
        })
        .collect();
    json!({"kind": "APIGroupDiscoveryList", "apiVersion": "apidiscovery.k8s.io/v2", "metadata": {}, "items": items})
}

#[cfg(test)]
mod aggregated_tests {
    use super::*;

    #[test]
    fn aggregated_discovery_lists_core_and_named_groups_separately() {
        let r = Registry::builtin();
        let core = aggregated(&r, true);
        assert_eq!(core["items"].as_array().map(Vec::len), Some(1));
        assert_eq!(core["items"][0]["metadata"]["name"], "");
        let apis = aggregated(&r, false);
        let apps = apis["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|g| g["metadata"]["name"] == "apps")
            .unwrap();
        let deploy = apps["versions"][0]["resources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["resource"] == "deployments")
            .unwrap();
        assert_eq!(deploy["scope"], "Namespaced");
        assert!(
            deploy["subresources"]
                .as_array()
                .unwrap()
                .iter()
                .any(|s| s["subresource"] == "scale")
        );
        assert!(wants_aggregated(
            "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json"
        ));
        let pods = core["items"][0]["versions"][0]["resources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["resource"] == "pods")
            .unwrap();
        let eviction = pods["subresources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["subresource"] == "eviction")
            .unwrap();
        assert_eq!(
            eviction["responseKind"],
            json!({"group": "policy", "version": "v1", "kind": "Eviction"})
        );
        for (group, resource) in [
            ("authorization.k8s.io", "selfsubjectaccessreviews"),
            ("authentication.k8s.io", "selfsubjectreviews"),
        ] {
            let g = apis["items"]
                .as_array()
                .unwrap()
                .iter()
                .find(|g| g["metadata"]["name"] == group)
                .unwrap();
            assert_eq!(g["versions"][0]["resources"][0]["resource"], resource);
            assert_eq!(g["versions"][0]["resources"][0]["verbs"], json!(["create"]));
        }
        assert!(!wants_aggregated("application/json"));
    }
}
