//! Reopening a store from a journal: live objects, revision and history come back, and a committer
//! task starts so that every later write goes through the journal first.

use std::collections::HashMap;
use std::sync::Arc;

use capstan_core::{ObjectKey, TypeKey};
use parking_lot::{Mutex, RwLock};
use serde_json::Value;
use tokio::sync::mpsc;

use super::state::{Change, State};
use super::{Durable, MemoryStore, Shared, StoreOptions, committer};
use crate::error::{Result, StoreError};
use crate::journal::{Journal, Recovered};
use crate::object::StoredObject;

impl MemoryStore {
    /// Opens a store over `journal` from what the journal `recovered`: the seam for durable backends.
    ///
    /// Loads the live objects, the revision counter and the retained history (so watches from
    /// before a restart resume, or are answered `Gone` where the history cannot tell exactly what
    /// changed). Afterwards every write is made durable with [`Journal::append`] before it is
    /// acknowledged or shown to any reader or watcher; concurrent writers share one append (group
    /// commit). [`compact`](Self::compact) and automatic history compaction call
    /// [`Journal::compact`].
    ///
    /// Must be called inside a tokio runtime: it spawns the committer task, which runs until the
    /// store is dropped.
    pub fn recover(journal: Arc<dyn Journal>, recovered: Recovered, options: StoreOptions) -> Result<MemoryStore> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| {
            StoreError::Unavailable("MemoryStore::recover must be called inside a tokio runtime".into())
        })?;
        let state = rebuild(recovered, options.history_limit);
        tracing::info!(
            revision = state.revision,
            compacted = state.compacted,
            objects = state.types.values().map(|t| t.objects.len()).sum::<usize>(),
            "store recovered from its journal"
        );
        let shared = Arc::new(Shared {
            state: RwLock::new(state),
            options,
            writer: Mutex::new(()),
        });
        let (queue, rx) = mpsc::unbounded_channel();
        runtime.spawn(committer::run(shared.clone(), journal.clone(), rx));
        Ok(MemoryStore {
            shared,
            durable: Some(Durable { journal, queue }),
        })
    }
}

/// `object` stamped with `revision` as its resourceVersion.
fn stamped(object: &Value, revision: u64) -> Value {
    let mut object = object.clone();
    if let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.insert("resourceVersion".into(), Value::String(revision.to_string()));
    }
    object
}

/// Rebuilds the committed state from recovered records.
fn rebuild(recovered: Recovered, history_limit: usize) -> State {
    let mut state = State::default();
    let mut kinds: HashMap<TypeKey, Arc<TypeKey>> = HashMap::new();
    let mut shared = |tk: &TypeKey| kinds.entry(tk.clone()).or_insert_with(|| Arc::new(tk.clone())).clone();
    let mut revision = recovered.revision;
    for record in recovered.objects {
        let Some(json) = record.object else { continue };
        revision = revision.max(record.revision);
        let tk = shared(&record.type_key);
        let object = StoredObject::with_shared_type(tk.clone(), record.key.clone(), record.revision, json);
        state.type_state(&tk).objects.insert(record.key, Arc::new(object));
    }

    // Replay history. The state before the first retained change of a key is unknown when history
    // does not reach back to revision 0; a watch from before such a change could not be told what
    // the object looked like, so history is treated as compacted up to the last such change.
    let mut history = recovered.history;
    history.sort_by_key(|r| r.revision);
    history.dedup_by_key(|r| r.revision);
    let mut compacted = recovered.history_start;
    let mut seen: HashMap<(TypeKey, ObjectKey), Option<Arc<StoredObject>>> = HashMap::new();
    let mut changes = Vec::new();
    for record in history.into_iter().filter(|r| r.revision > recovered.history_start) {
        revision = revision.max(record.revision);
        let id = (record.type_key.clone(), record.key.clone());
        let prev = match seen.get(&id) {
            Some(prev) => prev.clone(),
            None if recovered.history_start == 0 => None,
            None => {
                compacted = compacted.max(record.revision);
                None
            }
        };
        let tk = shared(&record.type_key);
        let (object, removed) = match (&record.object, &prev) {
            (Some(json), _) => (json.clone(), false),
            (None, Some(prev)) => (stamped(prev.json(), record.revision), true),
            (None, None) => {
                // A removal of an object the history never showed: nothing to tell a watcher.
                compacted = compacted.max(record.revision);
                seen.insert(id, None);
                continue;
            }
        };
        let object = Arc::new(StoredObject::with_shared_type(tk, record.key, record.revision, object));
        seen.insert(id, (!removed).then(|| object.clone()));
        changes.push(Change {
            revision: record.revision,
            prev,
            object,
            removed,
        });
    }
    // History must cover every revision after `compacted` without a gap.
    let base = compacted;
    let mut expected = base + 1;
    for change in changes.iter().filter(|c| c.revision > base) {
        if change.revision != expected {
            compacted = change.revision - 1;
        }
        expected = change.revision + 1;
    }
    if expected <= revision {
        compacted = revision;
    }
    state.history = changes
        .into_iter()
        .filter(|c| c.revision > compacted)
        .map(Arc::new)
        .collect();
    while state.history.len() > history_limit {
        if let Some(old) = state.history.pop_front() {
            compacted = old.revision;
        }
    }
    state.revision = revision;
    state.compacted = compacted.min(revision);
    state
}
