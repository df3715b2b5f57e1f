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
//! use capstan_runtime::{Action, Context, Controller, Manager, ReconcileError, ReconcileRequest, Reconciler};
//! use k8s_openapi::api::core::v1::Pod;
//!
//! /// Counts the pods it is told about.
//! struct PodCounter;
//!
//! #[async_trait::async_trait]
//! impl Reconciler<Pod> for PodCounter {
//!     async fn reconcile(&self, req: ReconcileRequest, ctx: &Context<Pod>) -> Result<Action, ReconcileError> {
//!         let exists = ctx.cache().get(&req.key).is_some();
//!         tracing::info!(pod = %req.key, exists, "reconciled");
//!         Ok(Action::done())
//!     }
//! }
//!
//! # async fn demo(store: Arc<dyn capstan_store::Store>) -> capstan_runtime::Result<()> {
//! let mgr = Manager::new(store);
//! mgr.add(Controller::<Pod>::new().concurrency(2).reconcile(PodCounter));
//! mgr.run(tokio::time::sleep(std::time::Duration::from_secs(1))).await?;
//! # Ok(()) }
//! ```
#![warn(missing_docs)]

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
