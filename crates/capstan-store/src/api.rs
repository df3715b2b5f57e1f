//! [`Api<K>`]: the typed handle users read and write one kind through.

use std::marker::PhantomData;
use std::sync::Arc;

use capstan_core::Resource;
use futures::Stream;

use crate::error::Result;
use crate::params::{DeleteParams, ListParams, WatchParams};
use crate::store::{Revision, Store};

/// A typed list page.
#[derive(Clone, Debug)]
pub struct ObjectList<K> {
    /// Items in key order.
    pub items: Vec<Arc<K>>,
    /// The revision the list is consistent at.
    pub revision: Revision,
    /// Token for the next page, if any.
    pub continue_token: Option<String>,
}

/// A typed watch event.
#[derive(Clone, Debug)]
pub enum Event<K> {
    /// Added (or started matching).
    Added(Arc<K>),
    /// Modified.
    Modified(Arc<K>),
    /// Deleted (or stopped matching), with its last state.
    Deleted(Arc<K>),
    /// A resume point.
    Bookmark(Revision),
}

/// What a typed delete did.
#[derive(Clone, Debug)]
pub enum Deleted<K> {
    /// Removed; its last state.
    Gone(Arc<K>),
    /// Being deleted (finalizers or grace period); its new state.
    Pending(Arc<K>),
}

/// Typed access to one kind in a [`Store`], optionally scoped to a namespace.
pub struct Api<K> {
    store: Arc<dyn Store>,
    namespace: Option<String>,
    _kind: PhantomData<fn() -> K>,
}

impl<K> Clone for Api<K> {
    fn clone(&self) -> Self {
        Self {
            store: self.store.clone(),
            namespace: self.namespace.clone(),
            _kind: PhantomData,
        }
    }
}

impl<K: Resource> Api<K> {
    /// Objects of `K` in one namespace.
    pub fn namespaced(store: Arc<dyn Store>, namespace: &str) -> Self {
        Self {
            store,
            namespace: Some(namespace.to_owned()),
            _kind: PhantomData,
        }
    }

    /// Objects of `K` in every namespace (reads), or cluster-scoped objects.
    pub fn all(store: Arc<dyn Store>) -> Self {
        Self {
            store,
            namespace: None,
            _kind: PhantomData,
        }
    }

    /// The store behind this handle.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// Creates `object` (its namespace defaults to this handle's).
    pub async fn create(&self, object: &K) -> Result<Arc<K>> {
        let _ = object;
        todo!("store helper")
    }

    /// Reads the object `name`.
    pub async fn get(&self, name: &str) -> Result<Arc<K>> {
        let _ = name;
        todo!("store helper")
    }

    /// Reads the object `name`, or `None` when it does not exist.
    pub async fn get_opt(&self, name: &str) -> Result<Option<Arc<K>>> {
        let _ = name;
        todo!("store helper")
    }

    /// Lists objects (this handle's namespace unless `params.namespace` says otherwise).
    pub async fn list(&self, params: &ListParams) -> Result<ObjectList<K>> {
        let _ = params;
        todo!("store helper")
    }

    /// Replaces the object (CAS on its `resourceVersion` when set); the stored status is kept.
    pub async fn replace(&self, object: &K) -> Result<Arc<K>> {
        let _ = object;
        todo!("store helper")
    }

    /// Replaces the object's status only (CAS on `resourceVersion` when set).
    pub async fn replace_status(&self, object: &K) -> Result<Arc<K>> {
        let _ = object;
        todo!("store helper")
    }

    /// Applies a JSON merge patch (RFC 7386) to `name`, retrying on conflicts.
    pub async fn patch(&self, name: &str, patch: &serde_json::Value) -> Result<Arc<K>> {
        let _ = (name, patch);
        todo!("store helper")
    }

    /// Applies a JSON merge patch to the status of `name`.
    pub async fn patch_status(&self, name: &str, patch: &serde_json::Value) -> Result<Arc<K>> {
        let _ = (name, patch);
        todo!("store helper")
    }

    /// Deletes `name`.
    pub async fn delete(&self, name: &str, params: &DeleteParams) -> Result<Deleted<K>> {
        let _ = (name, params);
        todo!("store helper")
    }

    /// Watches changes after `params.from_revision`.
    pub async fn watch(&self, params: &WatchParams) -> Result<impl Stream<Item = Result<Event<K>>> + Send + 'static> {
        let _ = params;
        todo!("store helper");
        #[allow(unreachable_code)]
        Ok(futures::stream::empty())
    }
}
