//! Validation of the RBAC kinds: Role, ClusterRole, RoleBinding and ClusterRoleBinding.
//!
//! Capstan stores them so that operator manifests (a ServiceAccount, its ClusterRole and the
//! binding between them, then a Deployment) apply as on Kubernetes; it does not enforce them (its
//! one bearer token is cluster-admin). The rules are Kubernetes':
//! - each policy rule has verbs, and either resources with API groups or non-resource URLs (these
//!   only in ClusterRoles), never both;
//! - a binding's `roleRef` names a Role (RoleBindings only) or a ClusterRole of
//!   `rbac.authorization.k8s.io`, and cannot change after creation;
//! - each subject is a `ServiceAccount` (API group `""`, with a namespace in a
//!   ClusterRoleBinding), a `User` or a `Group` (API group `rbac.authorization.k8s.io`), and has a name.

use k8s_openapi::api::rbac::v1::{PolicyRule, RoleRef, Subject};

use super::{child, not_supported};
use crate::validation::FieldError;

/// The API group of the RBAC kinds.
pub const RBAC_GROUP: &str = "rbac.authorization.k8s.io";

/// Validates the rules of a Role (`namespaced`) or ClusterRole.
pub fn validate_rules(rules: &[PolicyRule], namespaced: bool, errs: &mut Vec<FieldError>) {
    for (i, rule) in rules.iter().enumerate() {
        let path = format!("rules[{i}]");
        if rule.verbs.is_empty() {
            errs.push(FieldError::required(
                child(&path, "verbs"),
                "verbs must contain at least one value",
            ));
        }
        let urls = rule.non_resource_urls.as_deref().unwrap_or_default();
        let groups = rule.api_groups.as_deref().unwrap_or_default();
        let resources = rule.resources.as_deref().unwrap_or_default();
        if !urls.is_empty() {
            if namespaced {
                errs.push(FieldError::invalid(
                    child(&path, "nonResourceURLs"),
                    urls.join(","),
                    "namespaced rules cannot apply to non-resource URLs",
                ));
            } else if !groups.is_empty() || !resources.is_empty() {
                errs.push(FieldError::invalid(
                    child(&path, "nonResourceURLs"),
                    urls.join(","),
                    "rules cannot apply to both regular resources and non-resource URLs",
                ));
            }
            continue;
        }
        if groups.is_empty() {
            errs.push(FieldError::required(
                child(&path, "apiGroups"),
                "resource rules must supply at least one api group",
            ));
        }
        if resources.is_empty() {
            errs.push(FieldError::required(
                child(&path, "resources"),
                "resource rules must supply at least one resource",
            ));
        }
    }
}

/// Validates a RoleBinding (`namespaced`) or ClusterRoleBinding: its role reference (against
/// `old`'s on update) and subjects.
pub fn validate_binding(
    role_ref: &RoleRef,
    subjects: &[Subject],
    namespaced: bool,
    old: Option<&RoleRef>,
    errs: &mut Vec<FieldError>,
) {
    if role_ref.api_group != RBAC_GROUP {
        errs.push(not_supported("roleRef.apiGroup", &role_ref.api_group, &[RBAC_GROUP]));
    }
    let kinds: &[&str] = if namespaced {
        &["Role", "ClusterRole"]
    } else {
        &["ClusterRole"]
    };
    if !kinds.contains(&role_ref.kind.as_str()) {
        errs.push(not_supported("roleRef.kind", &role_ref.kind, kinds));
    }
    if role_ref.name.is_empty() {
        errs.push(FieldError::required("roleRef.name", ""));
    } else if role_ref.name.contains(['/', '%']) || role_ref.name == "." || role_ref.name == ".." {
        errs.push(FieldError::invalid(
            "roleRef.name",
            role_ref.name.as_str(),
            "may not contain '/' or '%', and may not be '.' or '..'",
        ));
    }
    if let Some(old) = old
        && old != role_ref
    {
        errs.push(FieldError::invalid(
            "roleRef",
            format!("{}/{}", role_ref.kind, role_ref.name),
            "cannot change roleRef",
        ));
    }
    for (i, subject) in subjects.iter().enumerate() {
        let path = format!("subjects[{i}]");
        if subject.name.is_empty() {
            errs.push(FieldError::required(child(&path, "name"), ""));
        }
        let group = subject.api_group.as_deref().unwrap_or_default();
        match subject.kind.as_str() {
            "ServiceAccount" => {
                if !group.is_empty() {
                    errs.push(not_supported(&child(&path, "apiGroup"), group, &[""]));
                }
                if !namespaced && subject.namespace.as_deref().is_none_or(str::is_empty) {
                    errs.push(FieldError::required(child(&path, "namespace"), ""));
                }
            }
            "User" | "Group" => {
                if group != RBAC_GROUP {
                    errs.push(not_supported(&child(&path, "apiGroup"), group, &[RBAC_GROUP]));
                }
            }
            other => errs.push(not_supported(
                &child(&path, "kind"),
                other,
                &["ServiceAccount", "User", "Group"],
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(verbs: &[&str], groups: &[&str], resources: &[&str], urls: &[&str]) -> PolicyRule {
        let list = |v: &[&str]| (!v.is_empty()).then(|| v.iter().map(|s| s.to_string()).collect());
        PolicyRule {
            verbs: verbs.iter().map(|s| s.to_string()).collect(),
            api_groups: list(groups),
            resources: list(resources),
            non_resource_urls: list(urls),
            ..PolicyRule::default()
        }
    }

    fn fields(errs: &[FieldError]) -> Vec<String> {
        errs.iter().map(|e| e.field.clone()).collect()
    }

    #[test]
    fn rules_need_verbs_and_either_resources_with_groups_or_cluster_wide_urls() {
        let mut errs = Vec::new();
        validate_rules(
            &[
                rule(&["get"], &[""], &["pods"], &[]),
                rule(&[], &["apps"], &["deployments"], &[]),
                rule(&["get"], &[], &[], &[]),
                rule(&["get"], &[], &[], &["/healthz"]),
            ],
            true,
            &mut errs,
        );
        assert_eq!(
            fields(&errs),
            [
                "rules[1].verbs",
                "rules[2].apiGroups",
                "rules[2].resources",
                "rules[3].nonResourceURLs"
            ]
        );
        let mut errs = Vec::new();
        validate_rules(
            &[
                rule(&["get"], &[], &[], &["/healthz"]),
                rule(&["get"], &[""], &["pods"], &["/metrics"]),
            ],
            false,
            &mut errs,
        );
        assert_eq!(fields(&errs), ["rules[1].nonResourceURLs"]);
    }

    fn role_ref(kind: &str, name: &str) -> RoleRef {
        RoleRef {
            api_group: RBAC_GROUP.into(),
            kind: kind.into(),
            name: name.into(),
        }
    }

    fn subject(kind: &str, group: Option<&str>, name: &str, ns: Option<&str>) -> Subject {
        Subject {
            kind: kind.into(),
            api_group: group.map(Into::into),
            name: name.into(),
            namespace: ns.map(Into::into),
        }
    }

    #[test]
    fn bindings_check_the_role_reference_and_every_subject() {
        let good = [
            subject("ServiceAccount", None, "robot", Some("default")),
            subject("User", Some(RBAC_GROUP), "alice", None),
            subject("Group", Some(RBAC_GROUP), "devs", None),
        ];
        let mut errs = Vec::new();
        validate_binding(&role_ref("Role", "reader"), &good, true, None, &mut errs);
        validate_binding(&role_ref("ClusterRole", "view"), &good, false, None, &mut errs);
        assert!(errs.is_empty(), "{errs:?}");

        let bad = [
            subject("ServiceAccount", None, "robot", None),
            subject("User", None, "", None),
            subject("Robot", None, "r2", None),
        ];
        let mut errs = Vec::new();
        validate_binding(&role_ref("Role", ""), &bad, false, None, &mut errs);
        assert_eq!(
            fields(&errs),
            [
                "roleRef.kind",
                "roleRef.name",
                "subjects[0].namespace",
                "subjects[1].name",
                "subjects[1].apiGroup",
                "subjects[2].kind"
            ]
        );
    }

    #[test]
    fn a_bindings_role_reference_cannot_change() {
        let mut errs = Vec::new();
        let old = role_ref("ClusterRole", "view");
        validate_binding(&role_ref("ClusterRole", "edit"), &[], true, Some(&old), &mut errs);
        assert_eq!(fields(&errs), ["roleRef"]);
        let mut errs = Vec::new();
        validate_binding(&old, &[], true, Some(&old), &mut errs);
        assert!(errs.is_empty());
    }
}
