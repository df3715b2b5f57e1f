//! Rollback: the controller-side `deprecated.deployment.rollback.to` annotation (G.49) and what
//! `kubectl rollout undo` applies client-side (G.50).

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::PodTemplateSpec;

use crate::deployment::fields::{is_paused, rs_template};
use crate::deployment::revisions::{equal_ignore_hash, is_skipped_annotation, last_revision, revision, without_hash};
use crate::util::{ROLLBACK_TO_ANNOTATION, annotation};

/// Event reason: the rollback happened.
pub const DEPLOYMENT_ROLLBACK: &str = "DeploymentRollback";
/// Event reason: the target revision has the current template.
pub const ROLLBACK_TEMPLATE_UNCHANGED: &str = "DeploymentRollbackTemplateUnchanged";
/// Event reason: no RS has the target revision.
pub const ROLLBACK_REVISION_NOT_FOUND: &str = "DeploymentRollbackRevisionNotFound";

/// The event a rollback sync emits (G.49).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RollbackEvent {
    /// `Normal` or `Warning`.
    pub type_: &'static str,
    /// One of the reasons above.
    pub reason: &'static str,
    /// Human-readable message.
    pub message: String,
}

/// The outcome of a rollback sync: the Deployment to write with a spec update (annotation removed,
/// template and annotations replaced when rolled back) and the event to emit. No RS changes (G.49).
#[derive(Clone, Debug, PartialEq)]
pub struct Rollback {
    /// The updated Deployment.
    pub deployment: Deployment,
    /// The event.
    pub event: RollbackEvent,
}

/// The requested revision, if the annotation is present and a valid integer (invalid values are
/// ignored, as Kubernetes does).
pub fn rollback_to(d: &Deployment) -> Option<i64> {
    annotation(&d.metadata, ROLLBACK_TO_ANNOTATION)?.trim().parse().ok()
}

/// The annotations a rollback leaves on the Deployment: its own skip-listed keys plus the target RS's
/// other annotations (G.49, and kubectl's G.50).
pub fn rolled_back_annotations(d: &Deployment, target: &ReplicaSet) -> BTreeMap<String, String> {
    let mut out: BTreeMap<String, String> = d
        .metadata
        .annotations
        .iter()
        .flatten()
        .filter(|(k, _)| is_skipped_annotation(k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    for (k, v) in target.metadata.annotations.iter().flatten() {
        if !is_skipped_annotation(k) {
            out.insert(k.clone(), v.clone());
        }
    }
    out
}

/// G.49: the rollback sync for a Deployment carrying `deprecated.deployment.rollback.to`; `None` when
/// there is no valid annotation. Revision 0 means the last revision (the second-highest).
pub fn rollback(d: &Deployment, all: &[&ReplicaSet]) -> Option<Rollback> {
    let requested = rollback_to(d)?;
    let name = d.metadata.name.clone().unwrap_or_default();
    let to = if requested == 0 { last_revision(all) } else { requested };
    let mut out = d.clone();
    if let Some(a) = out.metadata.annotations.as_mut() {
        a.remove(ROLLBACK_TO_ANNOTATION);
    }
    let warn = |reason, message| RollbackEvent {
        type_: "Warning",
        reason,
        message,
    };
    let target = (to != 0)
        .then(|| all.iter().find(|rs| revision(&rs.metadata) == to))
        .flatten();
    let event = match (target, rs_template_pair(d, target)) {
        (None, _) if to == 0 => warn(ROLLBACK_REVISION_NOT_FOUND, "Unable to find last revision.".into()),
        (None, _) => warn(
            ROLLBACK_REVISION_NOT_FOUND,
            "Unable to find the revision to rollback to.".into(),
        ),
        (Some(_), None) => warn(
            ROLLBACK_TEMPLATE_UNCHANGED,
            format!("The rollback revision contains the same template as current deployment \"{name}\""),
        ),
        (Some(rs), Some(template)) => {
            if let Some(spec) = out.spec.as_mut() {
                spec.template = template;
            }
            out.metadata.annotations = Some(rolled_back_annotations(d, rs));
            if let Some(a) = out.metadata.annotations.as_mut() {
                a.remove(ROLLBACK_TO_ANNOTATION);
            }
            RollbackEvent {
                type_: "Normal",
                reason: DEPLOYMENT_ROLLBACK,
                message: format!("Rolled back deployment \"{name}\" to revision {to}"),
            }
        }
    };
    Some(Rollback { deployment: out, event })
}

/// The target RS's template without the hash label, if it differs from the Deployment's.
fn rs_template_pair(d: &Deployment, target: Option<&&ReplicaSet>) -> Option<PodTemplateSpec> {
    let t = rs_template(target?)?;
    let current = &d.spec.as_ref()?.template;
    (!equal_ignore_hash(t, current)).then(|| without_hash(t))
}

/// Why `kubectl rollout undo` refuses (G.50).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum UndoError {
    /// The Deployment is paused.
    #[error("you cannot rollback a paused deployment; resume it first with 'kubectl rollout resume' and try again")]
    Paused,
    /// No RS has the requested revision.
    #[error("unable to find specified revision {0} in history")]
    RevisionNotFound(i64),
    /// Revision 0 requested and there is no previous revision.
    #[error("no rollout history found for deployment {0:?}")]
    NoHistory(String),
}

/// What `kubectl rollout undo` does (G.50).
#[derive(Clone, Debug, PartialEq)]
pub enum Undo {
    /// Patch the Deployment's template and annotations to these; the normal rollout does the rest.
    Patch {
        /// The revision rolled back to.
        revision: i64,
        /// The target RS's template without the `pod-template-hash` label.
        template: Box<PodTemplateSpec>,
        /// The Deployment's annotations after the patch.
        annotations: BTreeMap<String, String>,
    },
    /// The current template already matches that revision: "skipped rollback".
    Skipped {
        /// The revision that already matches.
        revision: i64,
    },
}

impl Undo {
    /// The JSON patch (RFC 6902) kubectl sends for [`Undo::Patch`]; `None` for [`Undo::Skipped`].
    pub fn json_patch(&self) -> Option<serde_json::Value> {
        match self {
            Undo::Patch {
                template, annotations, ..
            } => Some(serde_json::json!([
                {"op": "replace", "path": "/spec/template", "value": template},
                {"op": "replace", "path": "/metadata/annotations", "value": annotations},
            ])),
            Undo::Skipped { .. } => None,
        }
    }
}

/// `kubectl rollout undo --to-revision=N` (0 = the previous revision) against the Deployment's RSs.
pub fn undo(d: &Deployment, owned: &[&ReplicaSet], to_revision: i64) -> Result<Undo, UndoError> {
    if is_paused(d) {
        return Err(UndoError::Paused);
    }
    let target = if to_revision > 0 {
        owned
            .iter()
            .copied()
            .find(|rs| revision(&rs.metadata) == to_revision)
            .ok_or(UndoError::RevisionNotFound(to_revision))?
    } else {
        let mut by_rev: Vec<&ReplicaSet> = owned.to_vec();
        by_rev.sort_by_key(|rs| std::cmp::Reverse(revision(&rs.metadata)));
        by_rev
            .get(1)
            .copied()
            .ok_or_else(|| UndoError::NoHistory(d.metadata.name.clone().unwrap_or_default()))?
    };
    let rev = revision(&target.metadata);
    match rs_template_pair(d, Some(&target)) {
        None => Ok(Undo::Skipped { revision: rev }),
        Some(template) => Ok(Undo::Patch {
            revision: rev,
            template: Box::new(template),
            annotations: rolled_back_annotations(d, target),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deployment::fields::testing::{deploy, rs, tmpl};
    use crate::util::{LAST_APPLIED_ANNOTATION, POD_TEMPLATE_HASH_LABEL, REVISION_ANNOTATION, set_annotation};
    use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

    fn rev_rs(name: &str, rev: i64, image: &str) -> ReplicaSet {
        let mut r = rs(name, rev, 0, 0);
        set_annotation(&mut r.metadata, REVISION_ANNOTATION, &rev.to_string());
        set_annotation(&mut r.metadata, "note", name);
        let mut t = tmpl(image);
        if let Some(l) = t.metadata.as_mut().and_then(|m| m.labels.as_mut()) {
            l.insert(POD_TEMPLATE_HASH_LABEL.into(), format!("h{rev}"));
        }
        if let Some(s) = r.spec.as_mut() {
            s.template = Some(t);
        }
        r
    }

    fn deployment(image: &str, to: Option<&str>) -> Deployment {
        let mut d = deploy(2, IntOrString::Int(1), IntOrString::Int(0));
        if let Some(s) = d.spec.as_mut() {
            s.template = tmpl(image);
        }
        set_annotation(&mut d.metadata, REVISION_ANNOTATION, "3");
        set_annotation(&mut d.metadata, LAST_APPLIED_ANNOTATION, "{}");
        set_annotation(&mut d.metadata, "note", "current");
        if let Some(to) = to {
            set_annotation(&mut d.metadata, ROLLBACK_TO_ANNOTATION, to);
        }
        d
    }

    fn history() -> (ReplicaSet, ReplicaSet, ReplicaSet) {
        (
            rev_rs("r1", 1, "nginx:1"),
            rev_rs("r2", 2, "nginx:2"),
            rev_rs("r3", 3, "nginx:3"),
        )
    }

    #[test]
    fn g49_revision_zero_rolls_back_to_the_second_highest() {
        let (a, b, c) = history();
        let d = deployment("nginx:3", Some("0"));
        let Some(r) = rollback(&d, &[&a, &b, &c]) else {
            panic!("the annotation asks for a rollback");
        };
        assert_eq!(r.event.reason, DEPLOYMENT_ROLLBACK);
        assert_eq!(r.event.message, "Rolled back deployment \"web\" to revision 2");
        let t = r
            .deployment
            .spec
            .as_ref()
            .map(|s| s.template.clone())
            .unwrap_or_default();
        assert_eq!(t, tmpl("nginx:2"), "template copied without the hash label");
        let ann = r.deployment.metadata.annotations.clone().unwrap_or_default();
        assert_eq!(ann.get("note").map(String::as_str), Some("r2"));
        assert_eq!(
            ann.get(REVISION_ANNOTATION).map(String::as_str),
            Some("3"),
            "skip-list keys are the Deployment's"
        );
        assert!(ann.contains_key(LAST_APPLIED_ANNOTATION));
        assert!(!ann.contains_key(ROLLBACK_TO_ANNOTATION), "the annotation is removed");
    }

    #[test]
    fn g49_same_template_and_missing_revision_only_clear_the_annotation() {
        let (a, b, c) = history();
        let same = deployment("nginx:1", Some("1"));
        let r = rollback(&same, &[&a, &b, &c])
            .map(|r| (r.event.reason, r.deployment))
            .unwrap_or(("", same.clone()));
        assert_eq!(r.0, ROLLBACK_TEMPLATE_UNCHANGED);
        assert_eq!(r.1.spec, same.spec);
        assert!(annotation(&r.1.metadata, ROLLBACK_TO_ANNOTATION).is_none());
        let missing = deployment("nginx:3", Some("9"));
        let r = rollback(&missing, &[&a, &b, &c]).map(|r| r.event.reason);
        assert_eq!(r, Some(ROLLBACK_REVISION_NOT_FOUND));
        let alone = deployment("nginx:3", Some("0"));
        let r = rollback(&alone, &[&c]).map(|r| r.event.message);
        assert_eq!(r.as_deref(), Some("Unable to find last revision."));
        assert!(
            rollback(&deployment("nginx:3", Some("x")), &[&a]).is_none(),
            "invalid value is ignored"
        );
        assert!(rollback(&deployment("nginx:3", None), &[&a]).is_none());
    }

    #[test]
    fn g50_undo_patches_template_and_annotations_like_the_controller_rollback() {
        let (a, b, c) = history();
        let d = deployment("nginx:3", None);
        let u = undo(&d, &[&a, &b, &c], 0);
        let Ok(Undo::Patch {
            revision,
            template,
            annotations,
        }) = u
        else {
            panic!("expected a patch, got {u:?}");
        };
        assert_eq!(revision, 2);
        assert_eq!(*template, tmpl("nginx:2"));
        let via_controller = rollback(&deployment("nginx:3", Some("2")), &[&a, &b, &c]).map(|r| r.deployment);
        assert_eq!(via_controller.and_then(|d| d.metadata.annotations), Some(annotations));
        let patch = undo(&d, &[&a, &b, &c], 1)
            .ok()
            .and_then(|u| u.json_patch())
            .unwrap_or_default();
        assert_eq!(patch[0]["path"], "/spec/template");
        assert_eq!(patch[0]["value"]["spec"]["containers"][0]["image"], "nginx:1");
    }

    #[test]
    fn g50_undo_refuses_while_paused_and_reports_missing_revisions() {
        let (a, b, c) = history();
        let mut d = deployment("nginx:3", None);
        assert_eq!(undo(&d, &[&a, &b, &c], 3), Ok(Undo::Skipped { revision: 3 }));
        assert_eq!(undo(&d, &[&a, &b, &c], 7), Err(UndoError::RevisionNotFound(7)));
        assert_eq!(undo(&d, &[&c], 0), Err(UndoError::NoHistory("web".into())));
        if let Some(s) = d.spec.as_mut() {
            s.paused = Some(true);
        }
        assert_eq!(undo(&d, &[&a, &b, &c], 0), Err(UndoError::Paused));
    }
}
