//! capstan-store: the revisioned object store where desired and current state live.
//!
//! Controllers, the API server and the CLI all read and write through it. It owns the revision
//! counter: every write gets the next revision, objects carry it as `metadata.resourceVersion`,
//! updates are compare-and-swap on it, and watches resume from it.
//!
//! **Start with [`Api`]** (typed access to one kind, as a controller uses it) over a
//! [`MemoryStore`] (the engine: in memory, or durable when opened over a [`Journal`] with
//! [`MemoryStore::recover`]). The API server uses the [`Store`] trait directly, with JSON objects
//! and kinds known at run time.
//!
//! What the store guarantees (Kubernetes' and etcd's semantics):
//! - Admission from `capstan-core` (defaulting, validation, immutable fields) runs on every create
//!   and update; a rejected write changes nothing, and neither does a stale `resourceVersion`.
//! - `uid`, `creationTimestamp` and `generation` are the store's; `generation` bumps only when
//!   something outside `metadata` and `status` changes; status writes touch only `status`.
//! - Deleting an object with finalizers marks it (`deletionTimestamp`) and removes it once an update
//!   empties them; pods are deleted gracefully; propagation policies add the garbage collector's
//!   finalizers.
//! - Lists come back in key order (namespace, name), consistent at one revision, which they return.
//! - A watch from revision R sees every later change exactly once, in revision order, filtered by
//!   namespace and selectors; R older than the retained history, or a watcher too far behind, is
//!   answered `Gone` (relist, then watch from the list's revision).
//!
//! ```
//! use std::sync::Arc;
//! use capstan_core::k8s_openapi::api::core::v1::{Container, Pod, PodSpec};
//! use capstan_store::{Api, Event, MemoryStore, Store, WatchParams};
//! use futures::StreamExt;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), capstan_store::StoreError> {
//! let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
//! let pods: Api<Pod> = Api::namespaced(store, "default");
//!
//! // Follow changes from the current revision on.
//! let from_revision = pods.store().current_revision().await?;
//! let mut events = pods.watch(&WatchParams { from_revision, ..Default::default() }).await?;
//!
//! let mut pod = Pod::default();
//! pod.metadata.name = Some("web-1".into());
//! pod.spec = Some(PodSpec {
//!     containers: vec![Container { name: "web".into(), image: Some("nginx".into()), ..Default::default() }],
//!     ..Default::default()
//! });
//! let created = pods.create(&pod).await?;
//! assert_eq!(created.metadata.generation, Some(1));
//! assert!(created.metadata.uid.is_some());
//!
//! match events.next().await {
//!     Some(Ok(Event::Added(p))) => assert_eq!(p.metadata.name.as_deref(), Some("web-1")),
//!     other => panic!("expected Added, got {other:?}"),
//! }
//! # Ok(())
//! # }
//! ```
#![warn(missing_docs)]
// `StoreError` names the kind and key in its variants (as callers branch on them); results carry it by value.
#![allow(clippy::result_large_err)]

pub mod api;
pub mod clock;
pub mod durable;
pub mod error;
pub mod journal;
pub mod memory;
pub mod object;
pub mod params;
pub mod patch;
#[cfg(feature = "remote")]
pub mod remote;
pub mod store;

pub use api::{Api, Deleted, Event, ObjectList};
pub use durable::{DurableStore, RedbJournal};
pub use error::{Result, StoreError};
pub use journal::{Journal, Record, Recovered};
pub use memory::{MemoryStore, StoreOptions};
pub use object::{StoredObject, WatchEvent};
pub use params::{DeleteParams, ListParams, ListResult, Preconditions, PropagationPolicy, Subresource, WatchParams};
pub use store::{DeleteOutcome, Revision, Store, WatchStream};
