//! What one ReplicaSet sync does to its pods: how many to create or delete (C.21), in which batches
//! (C.22), and what a created pod looks like (C.23).

use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::util::{is_pod_active, new_controller_ref};

/// The most pods one sync creates or deletes (`burstReplicas`, C.21).
pub const BURST_REPLICAS: usize = 500;
/// The size of the first slow-start batch (C.22).
pub const SLOW_START_INITIAL_BATCH_SIZE: usize = 1;

/// What a sync should do about the pod count.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplicaDiff {
    /// The count is right.
    InSync,
    /// Create this many pods (at most [`BURST_REPLICAS`]).
    Create(usize),
    /// Delete this many pods (at most [`BURST_REPLICAS`]).
    Delete(usize),
}

/// The active pods among the claimed ones (C.20): only these count and only these are ever deleted.
pub fn active_pods<'a>(claimed: impl IntoIterator<Item = &'a Pod>) -> Vec<&'a Pod> {
    claimed.into_iter().filter(|p| is_pod_active(p)).collect()
}

/// `diff = active − spec.replicas`, capped at [`BURST_REPLICAS`] each way (C.21). Negative
/// `spec_replicas` counts as 0.
pub fn replica_diff(active: usize, spec_replicas: i32) -> ReplicaDiff {
    let want = usize::try_from(spec_replicas).unwrap_or(0);
    if active < want {
        ReplicaDiff::Create((want - active).min(BURST_REPLICAS))
    } else if active > want {
        ReplicaDiff::Delete((active - want).min(BURST_REPLICAS))
    } else {
        ReplicaDiff::InSync
    }
}

/// The `spec.replicas` of a ReplicaSet (defaulted to 1 when unset, as admission does, A.2).
pub fn spec_replicas(rs: &ReplicaSet) -> i32 {
    rs.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1)
}

/// Slow-start batch sizes for `count` creates: 1, 2, 4, 8, … with the last batch trimmed so the sizes
/// add up to `count` (C.22). Run them in order; stop after the first batch that has a failure, and
/// count the pods of later batches as skipped (see [`skipped_after`]).
pub fn slow_start_batches(count: usize) -> Vec<usize> {
    let mut out = Vec::new();
    let mut remaining = count;
    let mut size = SLOW_START_INITIAL_BATCH_SIZE;
    while remaining > 0 {
        let batch = size.min(remaining);
        out.push(batch);
        remaining -= batch;
        size = size.saturating_mul(2);
    }
    out
}

/// How many creates were never attempted when batch `failed_batch` (0-based) of `batches` failed:
/// the sizes of all later batches (C.22). The caller lowers its expectations by this many.
pub fn skipped_after(batches: &[usize], failed_batch: usize) -> usize {
    batches.iter().skip(failed_batch.saturating_add(1)).sum()
}

/// A new pod for `rs` (C.23): `generateName: "<rs-name>-"`, the RS's namespace, labels, annotations,
/// finalizers and spec copied from the template, and a ControllerRef to the RS (B.11). Returns `None`
/// when the RS has no template.
pub fn pod_from_template(rs: &ReplicaSet) -> Option<Pod> {
    let template = rs.spec.as_ref()?.template.as_ref()?;
    let tmeta = template.metadata.clone().unwrap_or_default();
    let name = rs.metadata.name.clone().unwrap_or_default();
    Some(Pod {
        metadata: ObjectMeta {
            generate_name: Some(format!("{name}-")),
            namespace: rs.metadata.namespace.clone(),
            labels: tmeta.labels,
            annotations: tmeta.annotations,
            finalizers: tmeta.finalizers,
            owner_references: Some(vec![new_controller_ref("apps/v1", "ReplicaSet", &rs.metadata)]),
            ..ObjectMeta::default()
        },
        spec: template.spec.clone(),
        status: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::util::testing::{meta, pod, ts};
    use k8s_openapi::api::apps::v1::ReplicaSetSpec;
    use k8s_openapi::api::core::v1::{Container, PodSpec, PodTemplateSpec};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, Time};
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    #[test]
    fn c20_only_active_pods_count() {
        let mut deleting = pod("c", "Running", None);
        deleting.metadata.deletion_timestamp = Some(Time(ts(1)));
        let pods = [
            pod("a", "Running", None),
            pod("b", "Failed", None),
            deleting,
            pod("d", "Pending", None),
        ];
        let names: Vec<_> = active_pods(&pods).iter().map(|p| p.metadata.name.clone()).collect();
        assert_eq!(names, vec![Some("a".into()), Some("d".into())]);
    }

    #[test]
    fn c21_diff_creates_or_deletes_capped_at_burst() {
        assert_eq!(replica_diff(3, 3), ReplicaDiff::InSync);
        assert_eq!(replica_diff(1, 3), ReplicaDiff::Create(2));
        assert_eq!(replica_diff(5, 3), ReplicaDiff::Delete(2));
        assert_eq!(replica_diff(0, 10_000), ReplicaDiff::Create(BURST_REPLICAS));
        assert_eq!(replica_diff(2_000, 0), ReplicaDiff::Delete(BURST_REPLICAS));
        assert_eq!(replica_diff(2, -1), ReplicaDiff::Delete(2));
    }

    #[test]
    fn c22_slow_start_doubles_from_one() {
        assert_eq!(slow_start_batches(0), Vec::<usize>::new());
        assert_eq!(slow_start_batches(1), vec![1]);
        assert_eq!(slow_start_batches(10), vec![1, 2, 4, 3]);
        assert_eq!(slow_start_batches(15), vec![1, 2, 4, 8]);
        assert_eq!(
            skipped_after(&slow_start_batches(10), 1),
            7,
            "batches 4 and 3 never run"
        );
        assert_eq!(skipped_after(&[1, 2], 1), 0);
    }

    #[test]
    fn c23_pods_copy_the_template_and_point_at_the_rs() {
        let labels = BTreeMap::from([("app".to_owned(), "web".to_owned())]);
        let rs = ReplicaSet {
            metadata: meta("web-abc", "rs-uid"),
            spec: Some(ReplicaSetSpec {
                replicas: Some(2),
                selector: LabelSelector {
                    match_labels: Some(labels.clone()),
                    ..Default::default()
                },
                template: Some(PodTemplateSpec {
                    metadata: Some(ObjectMeta {
                        labels: Some(labels.clone()),
                        annotations: Some(BTreeMap::from([("a".to_owned(), "b".to_owned())])),
                        finalizers: Some(vec!["example.com/f".into()]),
                        ..Default::default()
                    }),
                    spec: Some(PodSpec {
                        containers: vec![Container {
                            name: "c".into(),
                            ..Default::default()
                        }],
                        ..Default::default()
                    }),
                }),
                min_ready_seconds: None,
            }),
            status: None,
        };
        let p = pod_from_template(&rs).unwrap_or_default();
        assert_eq!(p.metadata.generate_name.as_deref(), Some("web-abc-"));
        assert_eq!(p.metadata.name, None);
        assert_eq!(p.metadata.namespace.as_deref(), Some("ns"));
        assert_eq!(p.metadata.labels, Some(labels));
        assert_eq!(p.metadata.finalizers, Some(vec!["example.com/f".to_owned()]));
        assert_eq!(p.metadata.annotations.as_ref().map(|a| a.len()), Some(1));
        assert_eq!(p.spec.as_ref().map(|s| s.containers[0].name.as_str()), Some("c"));
        let refs = p.metadata.owner_references.unwrap_or_default();
        assert_eq!(refs.len(), 1);
        assert_eq!((refs[0].kind.as_str(), refs[0].uid.as_str()), ("ReplicaSet", "rs-uid"));
        assert_eq!(
            (refs[0].controller, refs[0].block_owner_deletion),
            (Some(true), Some(true))
        );
    }

    proptest! {
        #[test]
        fn c22_batches_sum_to_count_and_never_more_than_double(count in 0usize..5_000) {
            let b = slow_start_batches(count);
            prop_assert_eq!(b.iter().sum::<usize>(), count);
            for (i, size) in b.iter().enumerate() {
                prop_assert!(*size <= 1usize << i);
                if i + 1 < b.len() { prop_assert_eq!(*size, 1usize << i); }
            }
        }
    }
}
