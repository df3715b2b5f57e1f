//! The namespace controller's decisions, on plain values: whether a Namespace needs emptying, in
//! which order kinds are deleted, what a pass left behind ([`Leftovers`]), the status conditions
//! Kubernetes reports for it, and the Namespace without its `kubernetes` finalizer.

use std::collections::BTreeMap;

use capstan_core::TypeKey;
use capstan_core::admission::defaults::NAMESPACE_FINALIZER;
use k8s_openapi::api::core::v1::{Namespace, NamespaceCondition};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

/// Condition: discovering the kinds to delete failed.
pub const DISCOVERY_FAILURE: &str = "NamespaceDeletionDiscoveryFailure";
/// Condition: parsing the kinds' group versions failed.
pub const GROUP_VERSION_PARSING_FAILURE: &str = "NamespaceDeletionGroupVersionParsingFailure";
/// Condition: deleting some content failed.
pub const CONTENT_FAILURE: &str = "NamespaceDeletionContentFailure";
/// Condition: some content is still there.
pub const CONTENT_REMAINING: &str = "NamespaceContentRemaining";
/// Condition: some remaining content waits for its finalizers.
pub const FINALIZERS_REMAINING: &str = "NamespaceFinalizersRemaining";

/// Whether the namespace controller has work on `ns`: it is being deleted and still carries the
/// `kubernetes` finalizer in `spec.finalizers`.
pub fn needs_emptying(ns: &Namespace) -> bool {
    ns.metadata.deletion_timestamp.is_some()
        && ns
            .spec
            .as_ref()
            .and_then(|s| s.finalizers.as_ref())
            .is_some_and(|f| f.iter().any(|f| f == NAMESPACE_FINALIZER))
}

/// `ns` with `kubernetes` removed from `spec.finalizers` (other finalizers kept, in order).
pub fn without_namespace_finalizer(ns: &Namespace) -> Namespace {
    let mut out = ns.clone();
    if let Some(finalizers) = out.spec.as_mut().and_then(|s| s.finalizers.as_mut()) {
        finalizers.retain(|f| f != NAMESPACE_FINALIZER);
    }
    out
}

/// The namespaced kinds among `kinds`, in deletion order: owners before what they own (Deployments,
/// then ReplicaSets), then the rest in the given order; duplicates dropped. Deleting owners first
/// keeps their controllers from replacing dependents the namespace controller just deleted.
pub fn deletion_order(kinds: impl IntoIterator<Item = TypeKey>) -> Vec<TypeKey> {
    let rank = |t: &TypeKey| match (t.group.as_str(), t.kind.as_str()) {
        ("apps", "Deployment") => 0,
        ("apps", "ReplicaSet") => 1,
        _ => 2,
    };
    let mut out: Vec<TypeKey> = Vec::new();
    for t in kinds {
        if t.namespaced && !out.contains(&t) {
            out.push(t);
        }
    }
    // A stable sort keeps the given order within each rank.
    out.sort_by_key(rank);
    out
}

/// What one deletion pass over a namespace left behind.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Leftovers {
    /// Objects still there per resource (`pods.`, `deployments.apps`, as Kubernetes names them).
    pub remaining: BTreeMap<String, usize>,
    /// How many remaining objects carry each finalizer.
    pub finalizers: BTreeMap<String, usize>,
    /// Deletes that failed (not counting "already gone" or "changed meanwhile").
    pub failures: Vec<String>,
}

impl Leftovers {
    /// Whether the namespace is empty and nothing failed: its finalizer can go.
    pub fn is_clear(&self) -> bool {
        self.remaining.is_empty() && self.failures.is_empty()
    }

    /// Counts one object of `type_key` still present, with its `finalizers`.
    pub fn record_remaining(&mut self, type_key: &TypeKey, finalizers: &[String]) {
        *self.remaining.entry(resource_name(type_key)).or_insert(0) += 1;
        for f in finalizers {
            *self.finalizers.entry(f.clone()).or_insert(0) += 1;
        }
    }
}

/// A kind as the namespace controller's messages name it: `plural.group` (`pods.` for core kinds,
/// as Kubernetes prints them).
pub fn resource_name(type_key: &TypeKey) -> String {
    format!("{}.{}", type_key.plural, type_key.group)
}

fn condition(type_: &str, on: bool, reason: &str, message: String) -> NamespaceCondition {
    NamespaceCondition {
        type_: type_.to_owned(),
        status: if on { "True" } else { "False" }.to_owned(),
        reason: Some(reason.to_owned()),
        message: Some(message),
        last_transition_time: None,
    }
}

fn counts(map: &BTreeMap<String, usize>, word: &str) -> String {
    map.iter()
        .map(|(name, n)| format!("{name} {word} {n} resource instances"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The deletion conditions Kubernetes' namespace controller reports for `leftovers`, keeping each
/// condition's `lastTransitionTime` from `old` when its status did not change (else `now`).
pub fn conditions(leftovers: &Leftovers, old: &[NamespaceCondition], now: &Time) -> Vec<NamespaceCondition> {
    let failed = !leftovers.failures.is_empty();
    let remains = !leftovers.remaining.is_empty();
    let finalizing = !leftovers.finalizers.is_empty();
    let fresh = [
        condition(
            DISCOVERY_FAILURE,
            false,
            "ResourcesDiscovered",
            "All resources successfully discovered".into(),
        ),
        condition(
            GROUP_VERSION_PARSING_FAILURE,
            false,
            "ParsedGroupVersions",
            "All legacy kube types successfully parsed".into(),
        ),
        if failed {
            condition(
                CONTENT_FAILURE,
                true,
                "ContentDeletionFailed",
                format!(
                    "Failed to delete all resource types, {} remaining: {}",
                    leftovers.failures.len(),
                    leftovers.failures.join(", ")
                ),
            )
        } else {
            condition(
                CONTENT_FAILURE,
                false,
                "ContentDeleted",
                "All content successfully deleted, may be waiting on finalization".into(),
            )
        },
        if remains {
            condition(
                CONTENT_REMAINING,
                true,
                "SomeResourcesRemain",
                format!("Some resources are remaining: {}", counts(&leftovers.remaining, "has")),
            )
        } else {
            condition(
                CONTENT_REMAINING,
                false,
                "ContentRemoved",
                "All content successfully removed".into(),
            )
        },
        if finalizing {
            condition(
                FINALIZERS_REMAINING,
                true,
                "SomeFinalizersRemain",
                format!(
                    "Some content in the namespace has finalizers remaining: {}",
                    counts(&leftovers.finalizers, "in")
                ),
            )
        } else {
            condition(
                FINALIZERS_REMAINING,
                false,
                "ContentHasNoFinalizers",
                "All content-preserving finalizers finished".into(),
            )
        },
    ];
    fresh
        .into_iter()
        .map(|mut c| {
            let before = old.iter().find(|o| o.type_ == c.type_);
            c.last_transition_time = match before {
                Some(b) if b.status == c.status => b.last_transition_time.clone(),
                _ => Some(now.clone()),
            };
            c
        })
        .collect()
}

/// Whether `new` says something `old` does not (times aside): the status needs writing.
pub fn conditions_changed(old: &[NamespaceCondition], new: &[NamespaceCondition]) -> bool {
    let strip = |cs: &[NamespaceCondition]| -> Vec<NamespaceCondition> {
        cs.iter()
            .map(|c| NamespaceCondition {
                last_transition_time: None,
                ..c.clone()
            })
            .collect()
    };
    strip(old) != strip(new)
}

#[cfg(test)]
mod tests {
    use super::*;
    use capstan_core::Resource;
    use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
    use k8s_openapi::api::core::v1::{Event, NamespaceSpec, Node, Pod};
    use k8s_openapi::jiff::Timestamp;

    fn ns(finalizers: &[&str], deleting: bool) -> Namespace {
        let mut ns = Namespace {
            spec: Some(NamespaceSpec {
                finalizers: Some(finalizers.iter().map(|f| (*f).to_owned()).collect()),
            }),
            ..Namespace::default()
        };
        if deleting {
            ns.metadata.deletion_timestamp = Some(Time(Timestamp::UNIX_EPOCH));
        }
        ns
    }

    #[test]
    fn only_a_deleted_namespace_with_the_kubernetes_finalizer_needs_emptying() {
        assert!(needs_emptying(&ns(&["kubernetes"], true)));
        assert!(!needs_emptying(&ns(&["kubernetes"], false)));
        assert!(!needs_emptying(&ns(&["example.com/x"], true)));
        assert!(!needs_emptying(&Namespace::default()));
    }

    #[test]
    fn removing_the_finalizer_keeps_the_others_in_order() {
        let out = without_namespace_finalizer(&ns(&["a.io/x", "kubernetes", "b.io/y"], true));
        let kept = out.spec.and_then(|s| s.finalizers).unwrap_or_default();
        assert_eq!(kept, vec!["a.io/x".to_owned(), "b.io/y".to_owned()]);
    }

    #[test]
    fn owners_are_deleted_first_and_cluster_scoped_kinds_never() {
        let order = deletion_order([
            Pod::type_key(),
            Node::type_key(),
            Event::type_key(),
            ReplicaSet::type_key(),
            Deployment::type_key(),
            Pod::type_key(),
        ]);
        let kinds: Vec<&str> = order.iter().map(|t| t.kind.as_str()).collect();
        assert_eq!(kinds, ["Deployment", "ReplicaSet", "Pod", "Event"]);
    }

    #[test]
    fn conditions_name_what_remains_and_keep_transition_times_while_unchanged() {
        let t0 = Time(Timestamp::UNIX_EPOCH);
        let t1 = Time(Timestamp::from_second(60).unwrap_or(Timestamp::UNIX_EPOCH));
        let mut left = Leftovers::default();
        left.record_remaining(&Pod::type_key(), &[]);
        left.record_remaining(&Pod::type_key(), &["foregroundDeletion".into()]);
        assert!(!left.is_clear());
        let first = conditions(&left, &[], &t0);
        let remaining = first
            .iter()
            .find(|c| c.type_ == CONTENT_REMAINING)
            .cloned()
            .unwrap_or_default();
        assert_eq!(remaining.status, "True");
        assert_eq!(
            remaining.message.as_deref(),
            Some("Some resources are remaining: pods. has 2 resource instances")
        );
        let fin = first
            .iter()
            .find(|c| c.type_ == FINALIZERS_REMAINING)
            .cloned()
            .unwrap_or_default();
        assert_eq!(
            fin.message.as_deref(),
            Some("Some content in the namespace has finalizers remaining: foregroundDeletion in 1 resource instances")
        );
        let again = conditions(&left, &first, &t1);
        assert!(!conditions_changed(&first, &again));
        assert!(again.iter().all(|c| c.last_transition_time == Some(t0.clone())));
        let cleared = conditions(&Leftovers::default(), &first, &t1);
        assert!(conditions_changed(&first, &cleared));
        let remaining = cleared
            .iter()
            .find(|c| c.type_ == CONTENT_REMAINING)
            .cloned()
            .unwrap_or_default();
        assert_eq!(
            (remaining.status.as_str(), remaining.last_transition_time),
            ("False", Some(t1))
        );
    }
}
