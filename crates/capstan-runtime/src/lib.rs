//! capstan-runtime: the framework for writing controllers on Capstan.
//!
//! Depend on it to write a controller: a loop that drives objects in the store towards their desired
//! state. The built-in Deployment and ReplicaSet controllers use nothing but this crate's public API.
//! Start with the [`Reconciler`] trait (its module explains level-based reconciliation and what each
//! result does), then [`Controller`] to register it and [`Manager`] to run it.
//!
//! # A tour
//!
//! * [`Reconciler`] + [`Action`]: the one trait you implement; it gets a key, not an object.
//! * [`Context`]: what a reconcile reaches: [`Cache`]s (informer caches, read-only, maybe slightly
//!   behind), the store's [`Api`](capstan_store::Api) (writes and fresh reads), an
//!   [`EventRecorder`], [`Expectations`], the time.
//! * [`Controller`]: the builder: `owns`, `watches`, `with_predicate`, `concurrency`, `reconcile`.
//! * [`Manager`]: one informer per kind, shared; graceful shutdown; [leader election](leader);
//!   [`metrics`](MetricsRegistry) and [`health`](Health) as data for `capstan-server` to serve.
//!
//! Every part can be used alone: an [`EventRecorder`] or [`Expectations`] works without a manager.
//!
//! # Example
//!
//! ```
//! use std::sync::Arc;
//! use std::sync::atomic::{AtomicUsize, Ordering};
//! use capstan_runtime::{Action, Context, Controller, Manager, ReconcileError, ReconcileRequest, Reconciler};
//! use capstan_store::{Api, MemoryStore, Store};
//! use k8s_openapi::api::core::v1::Namespace;
//!
//! /// Counts the namespaces it is told about.
//! struct NamespaceCounter(Arc<AtomicUsize>);
//!
//! #[capstan_runtime::async_trait]
//! impl Reconciler<Namespace> for NamespaceCounter {
//!     async fn reconcile(&self, req: ReconcileRequest, ctx: &Context<Namespace>) -> Result<Action, ReconcileError> {
//!         if ctx.cache().get(&req.key).is_some() {
//!             self.0.fetch_add(1, Ordering::SeqCst);
//!         }
//!         Ok(Action::done())
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
//! let mut ns = Namespace::default();
//! ns.metadata.name = Some("team-a".into());
//! Api::<Namespace>::all(store.clone()).create(&ns).await?;
//!
//! let seen = Arc::new(AtomicUsize::new(0));
//! let mgr = Manager::new(store);
//! mgr.add(Controller::<Namespace>::new().concurrency(2).reconcile(NamespaceCounter(seen.clone())));
//! // Run for one (paused-clock) second, then shut down gracefully.
//! mgr.run(tokio::time::sleep(std::time::Duration::from_secs(1))).await?;
//! assert_eq!(seen.load(Ordering::SeqCst), 1);
//! # Ok(()) }
//! ```
#![warn(missing_docs)]

mod clock;
pub mod context;
pub mod controller;
pub mod error;
pub mod events;
pub mod expectations;
pub mod informer;
pub mod leader;
pub mod manager;
pub mod metrics;
pub mod reconciler;
pub mod source;

pub use context::Context;
pub use controller::{Controller, ControllerSpec};
pub use error::{Error, ReconcileError, Result};
pub use events::{EventRecorder, EventType};
pub use expectations::Expectations;
pub use informer::{Cache, OWNER_UID_INDEX};
pub use leader::LeaderElectionConfig;
pub use manager::{Health, HealthReport, Manager};
pub use metrics::{MetricsRegistry, ReconcileResult};
pub use reconciler::{Action, ReconcileRequest, Reconciler};
pub use source::{Predicate, controller_owner_key, controller_reference, predicate};

/// Re-export of the `#[async_trait]` attribute that [`Reconciler`] implementations need, so a
/// controller crate does not have to depend on `async-trait` itself.
pub use async_trait::async_trait;
/// Re-export of `serde`, for custom kinds in crates that do not depend on it directly (derive with
/// `#[serde(crate = "capstan_runtime::serde")]`).
pub use serde;
