//! Parameters of list, watch, update and delete, mirroring Kubernetes' query parameters.

use std::sync::Arc;

use capstan_core::{FieldSelector, LabelSelector};

use crate::object::StoredObject;
use crate::store::Revision;

/// What to list.
#[derive(Clone, Debug, Default)]
pub struct ListParams {
    /// Only this namespace; `None` lists every namespace (and cluster-scoped kinds ignore it).
    pub namespace: Option<String>,
    /// Only objects whose labels match.
    pub label_selector: LabelSelector,
    /// Only objects whose fields match (`metadata.name`, `metadata.namespace`, `status.phase`,
    /// `spec.nodeName`, ...).
    pub field_selector: FieldSelector,
    /// At most this many items; the rest is reached with [`continue_token`](Self::continue_token).
    pub limit: Option<usize>,
    /// Resume a paged list from the token of the previous page.
    pub continue_token: Option<String>,
}

/// One page of a list, consistent at one revision.
#[derive(Clone, Debug)]
pub struct ListResult {
    /// The items, in key order (namespace, then name).
    pub items: Vec<Arc<StoredObject>>,
    /// The revision the list is consistent at: watch from here to follow changes.
    pub revision: Revision,
    /// Present when more items remain; pass it back in [`ListParams::continue_token`].
    pub continue_token: Option<String>,
    /// How many items remain after this page, when known.
    pub remaining: Option<u64>,
}

/// What to watch.
#[derive(Clone, Debug, Default)]
pub struct WatchParams {
    /// Only this namespace; `None` watches every namespace.
    pub namespace: Option<String>,
    /// Only objects whose labels match; a change that makes an object stop matching is a `Deleted`
    /// event for this watcher, and the reverse an `Added`.
    pub label_selector: LabelSelector,
    /// Only objects whose fields match, with the same enter/leave rule.
    pub field_selector: FieldSelector,
    /// Deliver every change with a revision greater than this. Older than the retained history: Gone.
    pub from_revision: Revision,
    /// Send periodic `Bookmark` events.
    pub bookmarks: bool,
}

/// Which part of an object an update writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Subresource {
    /// The object itself: metadata and spec; the stored `status` is kept.
    #[default]
    Main,
    /// The `status` subresource: only `status` changes; generation is never bumped.
    Status,
}

/// How dependents are treated when their owner is deleted (`propagationPolicy`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PropagationPolicy {
    /// Owner removed now; the garbage collector removes dependents afterwards.
    Background,
    /// Owner kept with the `foregroundDeletion` finalizer until blocking dependents are gone.
    Foreground,
    /// Owner kept with the `orphan` finalizer until dependents lose their owner reference.
    Orphan,
}

/// Conditions a delete must meet.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Preconditions {
    /// The object's uid must equal this.
    pub uid: Option<String>,
    /// The object's resourceVersion must equal this.
    pub resource_version: Option<String>,
}

/// How to delete.
#[derive(Clone, Debug, Default)]
pub struct DeleteParams {
    /// Preconditions on the stored object.
    pub preconditions: Preconditions,
    /// Propagation to dependents; `None` means the kind's default (Background).
    pub propagation_policy: Option<PropagationPolicy>,
    /// Grace period for pods; `None` uses the pod's `terminationGracePeriodSeconds`.
    pub grace_period_seconds: Option<i64>,
}
