//! The ReplicaSet controller's decisions: which pods count (C.20), how many to create or delete and in
//! which batches (C.21–C.22), what a new pod looks like (C.23), which pods go first (C.25), and the
//! status to write (C.26–C.28). Claiming is in [`crate::ownership`].

pub mod logic;
pub mod ranking;
pub mod reconciler;
pub mod status;

pub use logic::{
    BURST_REPLICAS, ReplicaDiff, SLOW_START_INITIAL_BATCH_SIZE, active_pods, pod_from_template, replica_diff,
    skipped_after, slow_start_batches, spec_replicas,
};
pub use ranking::{DeletionRank, active_pods_per_node, deletion_rank, pods_to_delete, rank_for_deletion};
pub use reconciler::ReplicaSetReconciler;
pub use status::{
    FAILED_CREATE, FAILED_DELETE, ManageFailure, REPLICA_FAILURE, min_ready_seconds, replicaset_status,
    requeue_for_availability, requeue_on_pod_ready,
};
