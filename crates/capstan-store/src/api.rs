//! [`Api<K>`]: the typed handle users read and write one kind through.

use std::marker::PhantomData;
use std::sync::Arc;

use capstan_core::{ObjectKey, Resource};
use futures::{Stream, StreamExt};

use crate::error::{Result, StoreError};
use crate::object::WatchEvent;
use crate::params::{DeleteParams, ListParams, Subresource, WatchParams};
use crate::patch::merge_patch;
use crate::store::{DeleteOutcome, Revision, Store};

/// How often a merge patch is retried after conflicts before the conflict is returned.
const MAX_PATCH_ATTEMPTS: usize = 16;

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
        let json = self.encode(object)?;
        self.store.create(&K::type_key(), json).await?.typed()
    }

    /// Reads the object `name`.
    pub async fn get(&self, name: &str) -> Result<Arc<K>> {
        self.store.get(&K::type_key(), &self.key(name)?).await?.typed()
    }

    /// Reads the object `name`, or `None` when it does not exist.
    pub async fn get_opt(&self, name: &str) -> Result<Option<Arc<K>>> {
        match self.store.get(&K::type_key(), &self.key(name)?).await {
            Ok(object) => object.typed().map(Some),
            Err(StoreError::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Lists objects (this handle's namespace unless `params.namespace` says otherwise).
    pub async fn list(&self, params: &ListParams) -> Result<ObjectList<K>> {
        let scoped;
        let params = if params.namespace.is_none() && self.namespace.is_some() {
            scoped = ListParams {
                namespace: self.namespace.clone(),
                ..params.clone()
            };
            &scoped
        } else {
            params
        };
        let page = self.store.list(&K::type_key(), params).await?;
        Ok(ObjectList {
            items: page.items.iter().map(|o| o.typed()).collect::<Result<_>>()?,
            revision: page.revision,
            continue_token: page.continue_token,
        })
    }

    /// Replaces the object (CAS on its `resourceVersion` when set); the stored status is kept.
    pub async fn replace(&self, object: &K) -> Result<Arc<K>> {
        let json = self.encode(object)?;
        self.store
            .update(&K::type_key(), json, Subresource::Main)
            .await?
            .typed()
    }

    /// Replaces the object's status only (CAS on `resourceVersion` when set).
    pub async fn replace_status(&self, object: &K) -> Result<Arc<K>> {
        let json = self.encode(object)?;
        self.store
            .update(&K::type_key(), json, Subresource::Status)
            .await?
            .typed()
    }

    /// Applies a JSON merge patch (RFC 7386) to `name`, retrying on conflicts.
    ///
    /// The patch is applied to the latest stored object and written with a compare-and-swap; when
    /// another writer got in between, it is applied again to the newer object. A patch that sets
    /// `metadata.resourceVersion` itself is a precondition instead: it fails with `Conflict` when
    /// stale, without retrying.
    pub async fn patch(&self, name: &str, patch: &serde_json::Value) -> Result<Arc<K>> {
        self.patch_subresource(name, patch, Subresource::Main).await
    }

    /// Applies a JSON merge patch to the status of `name` (only `status` of the patch takes effect).
    pub async fn patch_status(&self, name: &str, patch: &serde_json::Value) -> Result<Arc<K>> {
        self.patch_subresource(name, patch, Subresource::Status).await
    }

    /// Deletes `name`.
    pub async fn delete(&self, name: &str, params: &DeleteParams) -> Result<Deleted<K>> {
        Ok(
            match self.store.delete(&K::type_key(), &self.key(name)?, params).await? {
                DeleteOutcome::Deleted(object) => Deleted::Gone(object.typed()?),
                DeleteOutcome::Pending(object) => Deleted::Pending(object.typed()?),
            },
        )
    }

    /// Watches changes after `params.from_revision` (this handle's namespace unless `params`
    /// names one). Objects are decoded once per revision and shared with every other typed reader.
    pub async fn watch(&self, params: &WatchParams) -> Result<impl Stream<Item = Result<Event<K>>> + Send + 'static> {
        let scoped;
        let params = if params.namespace.is_none() && self.namespace.is_some() {
            scoped = WatchParams {
                namespace: self.namespace.clone(),
                ..params.clone()
            };
            &scoped
        } else {
            params
        };
        let stream = self.store.watch(&K::type_key(), params).await?;
        Ok(stream.map(|event| {
            Ok(match event? {
                WatchEvent::Added(o) => Event::Added(o.typed()?),
                WatchEvent::Modified(o) => Event::Modified(o.typed()?),
                WatchEvent::Deleted(o) => Event::Deleted(o.typed()?),
                WatchEvent::Bookmark(revision) => Event::Bookmark(revision),
            })
        }))
    }

    /// The key of `name` in this handle's namespace.
    fn key(&self, name: &str) -> Result<ObjectKey> {
        if !K::NAMESPACED {
            return Ok(ObjectKey::cluster(name));
        }
        match &self.namespace {
            Some(ns) => Ok(ObjectKey::new(ns.clone(), name)),
            None => Err(StoreError::BadRequest(format!(
                "{} is namespaced: use Api::namespaced to read or write one object",
                K::KIND
            ))),
        }
    }

    /// `object` as JSON, with this handle's namespace filled in when it has none.
    fn encode(&self, object: &K) -> Result<serde_json::Value> {
        let mut json = serde_json::to_value(object)
            .map_err(|e| StoreError::BadRequest(format!("cannot encode {}: {e}", K::KIND)))?;
        if let (true, Some(ns), Some(meta)) = (
            K::NAMESPACED,
            &self.namespace,
            json.get_mut("metadata").and_then(|m| m.as_object_mut()),
        ) {
            let missing = meta.get("namespace").and_then(|n| n.as_str()).is_none_or(str::is_empty);
            if missing {
                meta.insert("namespace".into(), serde_json::Value::String(ns.clone()));
            }
        }
        Ok(json)
    }

    async fn patch_subresource(
        &self,
        name: &str,
        patch: &serde_json::Value,
        subresource: Subresource,
    ) -> Result<Arc<K>> {
        let type_key = K::type_key();
        let key = self.key(name)?;
        let precondition = patch
            .get("metadata")
            .and_then(|m| m.get("resourceVersion"))
            .and_then(|v| v.as_str())
            .map(str::to_owned);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let current = self.store.get(&type_key, &key).await?;
            let mut json = current.json().clone();
            merge_patch(&mut json, patch);
            let meta = json
                .get_mut("metadata")
                .and_then(|m| m.as_object_mut())
                .ok_or_else(|| StoreError::BadRequest("the patch removes metadata".into()))?;
            let name = meta.get("name").and_then(|n| n.as_str()).unwrap_or_default();
            let namespace = meta.get("namespace").and_then(|n| n.as_str()).unwrap_or_default();
            if name != key.name || (K::NAMESPACED && namespace != key.namespace) {
                return Err(StoreError::BadRequest(format!(
                    "the patch changes the object's name or namespace ({namespace}/{name}), which are immutable ({key})"
                )));
            }
            let rv = precondition.clone().unwrap_or_else(|| current.revision().to_string());
            meta.insert("resourceVersion".into(), serde_json::Value::String(rv));
            match self.store.update(&type_key, json, subresource).await {
                Err(StoreError::Conflict { .. }) if precondition.is_none() && attempt < MAX_PATCH_ATTEMPTS => {
                    tracing::debug!(%key, attempt, "patch conflicted; retrying on the latest object");
                }
                result => return result?.typed(),
            }
        }
    }
}
