//! The Deployment controller's decisions: the pod-template hash (D.32), replica arithmetic (D.33,
//! D.38–D.40), revisions and the new RS (D.31–D.37), the rolling update (E.42–E.45), Recreate (F.46),
//! rollback (G.49–G.50), cleanup (G.51) and status with its conditions (H.52–H.58).
//!
//! Claiming RSs is [`crate::ownership::claim`] (the Deployment claims RSs only, B.13).

pub(crate) mod actions;
pub mod cleanup;
pub mod fields;
pub mod hash;
pub mod math;
pub mod reconciler;
pub mod recreate;
pub mod revisions;
pub mod rollback;
pub mod rolling;
pub mod status;
pub mod sync;

pub use reconciler::DeploymentReconciler;
