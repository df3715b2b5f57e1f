//! The [`Store`] trait: the one interface every backend implements.

use std::pin::Pin;
use std::sync::Arc;

use capstan_core::{ObjectKey, TypeKey};
use futures::Stream;

use crate::error::Result;
use crate::object::{StoredObject, WatchEvent};
use crate::params::{DeleteParams, ListParams, ListResult, Subresource, WatchParams};

/// A store revision: one global counter, bumped by every write (as etcd's).
pub type Revision = u64;

/// A watch stream: events in strictly increasing revision order. It ends after yielding an error
/// (`Gone` when the watcher fell behind or the start revision was compacted).
pub type WatchStream = Pin<Box<dyn Stream<Item = Result<WatchEvent>> + Send>>;

/// What a delete did.
#[derive(Clone, Debug)]
pub enum DeleteOutcome {
    /// The object is gone; this is its last state.
    Deleted(Arc<StoredObject>),
    /// The object is being deleted (finalizers or a grace period hold it); this is its new state,
    /// with `metadata.deletionTimestamp` set.
    Pending(Arc<StoredObject>),
}

/// A revisioned object store with watch streams.
///
/// Objects cross this trait as JSON (`serde_json::Value`) so that any kind, including ones known only
/// at run time, can be stored; typed access is [`StoredObject::typed`]. Every write runs admission
/// from `capstan-core` first, and a rejected write changes nothing.
#[async_trait::async_trait]
pub trait Store: Send + Sync + 'static {
    /// Creates an object. Sets `uid`, `creationTimestamp`, `generation` 1 and `resourceVersion`;
    /// fills `metadata.name` from `generateName` when the name is empty.
    async fn create(&self, type_key: &TypeKey, object: serde_json::Value) -> Result<Arc<StoredObject>>;

    /// Reads one object.
    async fn get(&self, type_key: &TypeKey, key: &ObjectKey) -> Result<Arc<StoredObject>>;

    /// Lists objects in key order, consistent at one revision.
    async fn list(&self, type_key: &TypeKey, params: &ListParams) -> Result<ListResult>;

    /// Replaces an object, or its status. When `metadata.resourceVersion` is set it must equal the
    /// stored one (compare-and-swap), else `Conflict`.
    async fn update(
        &self,
        type_key: &TypeKey,
        object: serde_json::Value,
        subresource: Subresource,
    ) -> Result<Arc<StoredObject>>;

    /// Deletes an object, honouring preconditions, finalizers, pod grace periods and propagation.
    async fn delete(&self, type_key: &TypeKey, key: &ObjectKey, params: &DeleteParams) -> Result<DeleteOutcome>;

    /// Watches changes after `params.from_revision`.
    async fn watch(&self, type_key: &TypeKey, params: &WatchParams) -> Result<WatchStream>;

    /// The latest revision written.
    async fn current_revision(&self) -> Result<Revision>;
}
