//! The namespace controller: deleting a Namespace deletes everything in it.
//!
//! A new Namespace carries the `kubernetes` finalizer in `spec.finalizers` (admission adds it), so a
//! delete only marks it `Terminating`; the store then refuses new content in it. The
//! [`NamespaceReconciler`] deletes every namespaced object in it, kind by kind, waits for what
//! goes gracefully (pods, finalizers), reports progress in the Kubernetes deletion conditions, and
//! finally removes its finalizer, upon which the store removes the Namespace. Decisions live in
//! [`logic`]; the IO in [`reconciler`].

pub mod logic;
pub mod reconciler;

pub use logic::{Leftovers, conditions, deletion_order, needs_emptying, without_namespace_finalizer};
pub use reconciler::{NamespaceReconciler, RECHECK};
