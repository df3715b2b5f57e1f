//! Stored objects and watch events. Objects are shared (`Arc`) between readers and watchers; the typed
//! form of an object is decoded at most once per revision and then shared too.

use std::any::Any;
use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

use capstan_core::{ObjectKey, Resource, TypeKey};

use crate::error::{Result, StoreError};
use crate::store::Revision;

/// One revision of one object, as stored: its JSON (with `metadata.resourceVersion` set to
/// [`revision`](Self::revision)) and a lazily decoded typed form.
#[derive(Debug)]
pub struct StoredObject {
    type_key: Arc<TypeKey>,
    key: ObjectKey,
    revision: Revision,
    json: serde_json::Value,
    typed: OnceLock<Arc<dyn Any + Send + Sync>>,
    labels: OnceLock<BTreeMap<String, String>>,
}

impl StoredObject {
    /// Wraps a JSON object written at `revision`. The caller (a backend) has already set metadata.
    pub fn new(type_key: TypeKey, key: ObjectKey, revision: Revision, json: serde_json::Value) -> Self {
        Self::with_shared_type(Arc::new(type_key), key, revision, json)
    }

    /// Like [`new`](Self::new), sharing the kind with other objects of the same kind.
    pub fn with_shared_type(
        type_key: Arc<TypeKey>,
        key: ObjectKey,
        revision: Revision,
        json: serde_json::Value,
    ) -> Self {
        Self {
            type_key,
            key,
            revision,
            json,
            typed: OnceLock::new(),
            labels: OnceLock::new(),
        }
    }

    /// The kind, shared.
    pub(crate) fn shared_type_key(&self) -> &Arc<TypeKey> {
        &self.type_key
    }

    /// The kind.
    pub fn type_key(&self) -> &TypeKey {
        &self.type_key
    }

    /// Namespace and name.
    pub fn key(&self) -> &ObjectKey {
        &self.key
    }

    /// The revision of this object's last write (its `metadata.resourceVersion`).
    pub fn revision(&self) -> Revision {
        self.revision
    }

    /// The object as JSON.
    pub fn json(&self) -> &serde_json::Value {
        &self.json
    }

    /// `metadata.labels`, read from the JSON once and then shared (selectors match against it).
    pub fn labels(&self) -> &BTreeMap<String, String> {
        self.labels.get_or_init(|| {
            self.json
                .get("metadata")
                .and_then(|m| m.get("labels"))
                .and_then(|l| l.as_object())
                .map(|l| {
                    l.iter()
                        .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_owned())))
                        .collect()
                })
                .unwrap_or_default()
        })
    }

    /// A `metadata` string field (`uid`, `name`, `creationTimestamp`, ...), when present.
    pub fn meta_str(&self, field: &str) -> Option<&str> {
        self.json.get("metadata")?.get(field)?.as_str()
    }

    /// The object decoded as `K`. Decoded once per stored revision and shared by every caller.
    pub fn typed<K: Resource>(&self) -> Result<Arc<K>> {
        if let Some(any) = self.typed.get()
            && let Ok(k) = Arc::clone(any).downcast::<K>()
        {
            return Ok(k);
        }
        let decoded: K = serde_json::from_value(self.json.clone()).map_err(|e| {
            StoreError::BadRequest(format!(
                "cannot decode {} {} as {}: {e}",
                self.type_key,
                self.key,
                K::KIND
            ))
        })?;
        let arc = Arc::new(decoded);
        let _ = self.typed.set(arc.clone() as Arc<dyn Any + Send + Sync>);
        Ok(arc)
    }
}

/// One event of a watch stream.
#[derive(Debug, Clone)]
pub enum WatchEvent {
    /// The object now exists (or, for a filtered watch, now matches).
    Added(Arc<StoredObject>),
    /// The object changed and still matches.
    Modified(Arc<StoredObject>),
    /// The object was removed (or stopped matching); carries its last state.
    Deleted(Arc<StoredObject>),
    /// Nothing to report up to this revision: a resume point.
    Bookmark(Revision),
}

impl WatchEvent {
    /// The revision this event happened at.
    pub fn revision(&self) -> Revision {
        match self {
            Self::Added(o) | Self::Modified(o) | Self::Deleted(o) => o.revision(),
            Self::Bookmark(r) => *r,
        }
    }
}
