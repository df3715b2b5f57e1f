//! Capstan: build Kubernetes-style controllers, run them on an embedded control plane, and test them
//! hard.
//!
//! This facade re-exports the workspace's crates under short names, so an application depends on one
//! crate. Each part is usable on its own:
//!
//! * [`core`]: the object model: [`core::Resource`], keys, built-in kinds from `k8s-openapi`,
//!   manifests, label and field selectors, admission (Kubernetes defaults and validation).
//! * [`queue`]: [`queue::WorkQueue`], the rate-limited, deduplicating work-queue controllers run on.
//! * [`store`]: the revisioned object [`store::Store`] with watch streams; [`store::MemoryStore`] and
//!   the durable [`store::DurableStore`]; typed access through [`store::Api`].
//! * [`runtime`]: [`runtime::Reconciler`], [`runtime::Controller`], informer caches and the
//!   [`runtime::Manager`] with leader election, metrics and events.
//! * [`controllers`]: the built-in Deployment, ReplicaSet, garbage-collector and simulated node-agent
//!   controllers, written with nothing but the runtime's public API.
//!
//! ```
//! use capstan::core::{parse_manifests, Object};
//! let objects = parse_manifests("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: demo\n").unwrap();
//! assert!(matches!(objects[0], Object::Namespace(_)));
//! ```

pub use capstan_controllers as controllers;
pub use capstan_core as core;
pub use capstan_queue as queue;
pub use capstan_runtime as runtime;
pub use capstan_store as store;
