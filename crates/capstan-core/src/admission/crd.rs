//! `apiextensions.k8s.io/v1 CustomResourceDefinition`: defaulting and validation.
//!
//! A CRD declares a custom kind the API server then serves. The rules follow Kubernetes'
//! (`apiextensions-apiserver` validation), trimmed to what Capstan serves: names, scope, versions.
//! Schemas are stored as given and not checked (Capstan does not validate custom objects against
//! them).

use std::collections::HashSet;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;

use super::{names, not_supported};
use crate::validation::{FieldError, FieldErrorType};

/// The scopes a CRD may declare.
pub const SCOPES: [&str; 2] = ["Namespaced", "Cluster"];

/// Fills a CRD's defaults: `spec.names.singular` (the lower-case kind) and `spec.names.listKind`
/// (the kind + `List`) when unset or empty.
pub fn default_crd(crd: &mut CustomResourceDefinition) {
    let names = &mut crd.spec.names;
    // Only a well-formed kind gives defaults: a bad one is reported as itself, not through them.
    if !is_kind_name(&names.kind) {
        return;
    }
    if names.singular.as_deref().is_none_or(str::is_empty) && !names.kind.is_empty() {
        names.singular = Some(names.kind.to_lowercase());
    }
    if names.list_kind.as_deref().is_none_or(str::is_empty) && !names.kind.is_empty() {
        names.list_kind = Some(format!("{}List", names.kind));
    }
}

/// A lower-case DNS-1123 label check for a CRD name field, pushing an error at `path`.
fn check_label(path: &str, value: &str, errs: &mut Vec<FieldError>) {
    if let Some(why) = names::dns1123_label_problem(value) {
        errs.push(FieldError::invalid(path, value, why));
    }
}

/// Validates a CRD (`old` on update) and appends every failure to `errs`.
pub fn validate_crd(
    crd: &CustomResourceDefinition,
    old: Option<&CustomResourceDefinition>,
    errs: &mut Vec<FieldError>,
) {
    let spec = &crd.spec;
    let n = &spec.names;
    let name = crd.metadata.name.as_deref().unwrap_or("");
    if !name.is_empty() && name != format!("{}.{}", n.plural, spec.group) {
        errs.push(FieldError::invalid(
            "metadata.name",
            name,
            "must be spec.names.plural+\".\"+spec.group",
        ));
    }
    if spec.group.is_empty() {
        errs.push(FieldError::required("spec.group", ""));
    } else if let Some(why) = names::dns1123_subdomain_problem(&spec.group) {
        errs.push(FieldError::invalid("spec.group", &spec.group, why));
    } else if !spec.group.contains('.') {
        errs.push(FieldError::invalid(
            "spec.group",
            &spec.group,
            "should be a domain with at least one dot",
        ));
    }
    if n.plural.is_empty() {
        errs.push(FieldError::required("spec.names.plural", ""));
    } else {
        check_label("spec.names.plural", &n.plural, errs);
    }
    if let Some(s) = n.singular.as_deref().filter(|s| !s.is_empty()) {
        check_label("spec.names.singular", s, errs);
    }
    if n.kind.is_empty() {
        errs.push(FieldError::required("spec.names.kind", ""));
    }
    for (field, value) in [
        ("spec.names.kind", Some(n.kind.as_str())),
        ("spec.names.listKind", n.list_kind.as_deref()),
    ] {
        if let Some(value) = value.filter(|v| !v.is_empty())
            && !is_kind_name(value)
        {
            errs.push(FieldError::invalid(
                field,
                value,
                "may have mixed case, but should otherwise match: [a-z]([-a-z0-9]*[a-z0-9])?",
            ));
        }
    }
    if n.list_kind.as_deref().is_some_and(|l| !l.is_empty() && l == n.kind) {
        errs.push(FieldError::invalid(
            "spec.names.listKind",
            &n.kind,
            "kind and listKind may not be the same",
        ));
    }
    for (i, s) in n.short_names.iter().flatten().enumerate() {
        check_label(&format!("spec.names.shortNames[{i}]"), s, errs);
    }
    for (i, c) in n.categories.iter().flatten().enumerate() {
        check_label(&format!("spec.names.categories[{i}]"), c, errs);
    }
    if !SCOPES.contains(&spec.scope.as_str()) {
        errs.push(not_supported("spec.scope", &spec.scope, &SCOPES));
    }
    validate_versions(crd, errs);
    if let Some(old) = old {
        let o = &old.spec;
        for (field, new_value, old_value) in [
            ("spec.group", &spec.group, &o.group),
            ("spec.names.plural", &n.plural, &o.names.plural),
            ("spec.scope", &spec.scope, &o.scope),
        ] {
            if new_value != old_value {
                errs.push(FieldError::invalid(field, new_value, "field is immutable"));
            }
        }
    }
}

fn validate_versions(crd: &CustomResourceDefinition, errs: &mut Vec<FieldError>) {
    let versions = &crd.spec.versions;
    if versions.is_empty() {
        errs.push(FieldError::required("spec.versions", "must have at least one version"));
        return;
    }
    let storage = versions.iter().filter(|v| v.storage).count();
    if storage != 1 {
        errs.push(FieldError::invalid(
            "spec.versions",
            format!("{storage} storage versions"),
            "must have exactly one version marked as storage version",
        ));
    }
    let mut seen = HashSet::new();
    for (i, v) in versions.iter().enumerate() {
        let path = format!("spec.versions[{i}].name");
        if v.name.is_empty() {
            errs.push(FieldError::required(path, ""));
            continue;
        }
        check_label(&path, &v.name, errs);
        if !seen.insert(v.name.as_str()) {
            errs.push(FieldError::new(
                path,
                FieldErrorType::Duplicate,
                Some(v.name.clone()),
                "",
            ));
        }
    }
}

/// The name of a CRD's storage version, if exactly one version is marked `storage: true`.
pub fn storage_version(crd: &CustomResourceDefinition) -> Option<&str> {
    let mut storage = crd.spec.versions.iter().filter(|v| v.storage);
    match (storage.next(), storage.next()) {
        (Some(v), None) => Some(v.name.as_str()),
        _ => None,
    }
}

/// Whether `kind` is a DNS-1035 label once lower-cased (Kubernetes' rule for CRD kinds).
fn is_kind_name(kind: &str) -> bool {
    super::core_kinds::dns1035_label_problem(&kind.to_ascii_lowercase()).is_none()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn crd(patch: impl FnOnce(&mut serde_json::Value)) -> CustomResourceDefinition {
        let mut v = json!({
            "apiVersion": "apiextensions.k8s.io/v1",
            "kind": "CustomResourceDefinition",
            "metadata": {"name": "greetings.demo.capstan.dev"},
            "spec": {
                "group": "demo.capstan.dev",
                "scope": "Namespaced",
                "names": {"plural": "greetings", "kind": "Greeting", "shortNames": ["gr"]},
                "versions": [{"name": "v1", "served": true, "storage": true}],
            },
        });
        patch(&mut v);
        serde_json::from_value(v).unwrap()
    }

    fn errors(c: &CustomResourceDefinition, old: Option<&CustomResourceDefinition>) -> Vec<String> {
        let mut errs = Vec::new();
        validate_crd(c, old, &mut errs);
        errs.iter().map(|e| e.field.clone()).collect()
    }

    #[test]
    fn a_well_formed_crd_is_valid_and_gets_singular_and_list_kind_defaults() {
        let mut c = crd(|_| {});
        assert!(errors(&c, None).is_empty());
        default_crd(&mut c);
        assert_eq!(c.spec.names.singular.as_deref(), Some("greeting"));
        assert_eq!(c.spec.names.list_kind.as_deref(), Some("GreetingList"));
        assert_eq!(storage_version(&c), Some("v1"));
    }

    #[test]
    fn the_name_must_be_plural_dot_group() {
        let c = crd(|v| v["metadata"]["name"] = json!("greeting.demo.capstan.dev"));
        assert_eq!(errors(&c, None), ["metadata.name"]);
    }

    #[test]
    fn the_group_is_required_and_must_contain_a_dot() {
        let c = crd(|v| {
            v["spec"]["group"] = json!("");
            v["metadata"]["name"] = json!("greetings.");
        });
        assert!(errors(&c, None).contains(&"spec.group".to_owned()));
        let c = crd(|v| {
            v["spec"]["group"] = json!("demo");
            v["metadata"]["name"] = json!("greetings.demo");
        });
        assert_eq!(errors(&c, None), ["spec.group"]);
    }

    #[test]
    fn plural_and_kind_are_required() {
        let c = crd(|v| {
            v["spec"]["names"]["plural"] = json!("");
            v["spec"]["names"]["kind"] = json!("");
            v["metadata"]["name"] = json!(".demo.capstan.dev");
        });
        let e = errors(&c, None);
        assert!(e.contains(&"spec.names.plural".to_owned()), "{e:?}");
        assert!(e.contains(&"spec.names.kind".to_owned()), "{e:?}");
    }

    #[test]
    fn plural_and_singular_must_be_lowercase_dns_labels() {
        let c = crd(|v| {
            v["spec"]["names"]["plural"] = json!("Greetings");
            v["spec"]["names"]["singular"] = json!("a_greeting");
            v["metadata"]["name"] = json!("Greetings.demo.capstan.dev");
        });
        let e = errors(&c, None);
        assert!(e.contains(&"spec.names.plural".to_owned()), "{e:?}");
        assert!(e.contains(&"spec.names.singular".to_owned()), "{e:?}");
    }

    #[test]
    fn the_scope_is_namespaced_or_cluster() {
        let c = crd(|v| v["spec"]["scope"] = json!("Global"));
        assert_eq!(errors(&c, None), ["spec.scope"]);
        let c = crd(|v| v["spec"]["scope"] = json!("Cluster"));
        assert!(errors(&c, None).is_empty());
    }

    #[test]
    fn at_least_one_version_is_required() {
        let c = crd(|v| v["spec"]["versions"] = json!([]));
        assert_eq!(errors(&c, None), ["spec.versions"]);
    }

    #[test]
    fn exactly_one_version_is_the_storage_version() {
        let none = crd(|v| v["spec"]["versions"][0]["storage"] = json!(false));
        assert_eq!(errors(&none, None), ["spec.versions"]);
        let two = crd(|v| {
            v["spec"]["versions"] = json!([
                {"name": "v1", "served": true, "storage": true},
                {"name": "v2", "served": true, "storage": true},
            ])
        });
        assert_eq!(errors(&two, None), ["spec.versions"]);
        assert_eq!(storage_version(&two), None);
    }

    #[test]
    fn version_names_are_unique_dns_labels() {
        let c = crd(|v| {
            v["spec"]["versions"] = json!([
                {"name": "v1", "served": true, "storage": true},
                {"name": "v1", "served": true, "storage": false},
                {"name": "V_2", "served": true, "storage": false},
            ])
        });
        assert_eq!(errors(&c, None), ["spec.versions[1].name", "spec.versions[2].name"]);
    }

    #[test]
    fn group_plural_and_scope_are_immutable() {
        let old = crd(|_| {});
        let new = crd(|v| {
            v["spec"]["group"] = json!("other.capstan.dev");
            v["spec"]["names"]["plural"] = json!("hellos");
            v["spec"]["scope"] = json!("Cluster");
            v["metadata"]["name"] = json!("hellos.other.capstan.dev");
        });
        assert_eq!(
            errors(&new, Some(&old)),
            ["spec.group", "spec.names.plural", "spec.scope"]
        );
        let kind_changed = crd(|v| v["spec"]["names"]["kind"] = json!("Hello"));
        assert!(errors(&kind_changed, Some(&old)).is_empty());
    }

    #[test]
    fn kind_and_list_kind_are_mixed_case_dns_labels_and_a_bad_kind_gives_no_defaults() {
        let mut c = crd(|v| {
            v["spec"]["names"]["kind"] = json!("Pod Thing");
            v["spec"]["names"]["listKind"] = json!("Pod_List");
        });
        default_crd(&mut c);
        let e = errors(&c, None);
        assert!(e.contains(&"spec.names.kind".to_owned()), "{e:?}");
        assert!(e.contains(&"spec.names.listKind".to_owned()), "{e:?}");
        assert!(
            !e.contains(&"spec.names.singular".to_owned()),
            "no error about a defaulted field: {e:?}"
        );
        let c = crd(|v| v["spec"]["names"]["kind"] = json!("GreetingV2"));
        assert!(errors(&c, None).is_empty());
    }
}
