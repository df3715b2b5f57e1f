//! The committed state: live objects per kind in key order, the revision, the retained history of
//! changes and each kind's event channel. Only a writer holding the write lock changes it, and it
//! publishes a change (state, history, event) in one step, so readers never see half a write.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;

use capstan_core::{ObjectKey, TypeKey};
use tokio::sync::broadcast;

use crate::object::StoredObject;
use crate::store::Revision;

/// One committed write: the object's state before and after.
#[derive(Debug)]
pub(crate) struct Change {
    /// The write's revision.
    pub revision: Revision,
    /// The object before the write (`None` for a create).
    pub prev: Option<Arc<StoredObject>>,
    /// The object after the write; for a removal, its last state stamped with this revision.
    pub object: Arc<StoredObject>,
    /// Whether the write removed the object.
    pub removed: bool,
}

impl Change {
    /// The change's kind.
    pub fn type_key(&self) -> &TypeKey {
        self.object.type_key()
    }

    /// The changed object's key.
    pub fn key(&self) -> &ObjectKey {
        self.object.key()
    }
}

/// Reads objects as a write sees them (the committed state, or the state plus earlier writes of the
/// same batch).
pub(crate) trait View {
    /// The object at `key`, if it exists.
    fn get(&self, type_key: &TypeKey, key: &ObjectKey) -> Option<Arc<StoredObject>>;

    /// The shared form of `type_key` (one allocation per kind).
    fn shared_type(&self, type_key: &TypeKey) -> Arc<TypeKey>;
}

/// The objects and event channel of one kind.
#[derive(Debug)]
pub(crate) struct TypeState {
    /// The kind, shared by its objects.
    pub type_key: Arc<TypeKey>,
    /// Live objects in key order.
    pub objects: BTreeMap<ObjectKey, Arc<StoredObject>>,
    /// Open while someone watches this kind.
    pub events: Option<broadcast::Sender<Arc<Change>>>,
}

/// The whole committed state of a store.
#[derive(Debug, Default)]
pub(crate) struct State {
    /// The latest committed revision.
    pub revision: Revision,
    /// History covers every revision after this one: watches and paged lists from older revisions
    /// are Gone.
    pub compacted: Revision,
    /// Per kind.
    pub types: HashMap<TypeKey, TypeState>,
    /// Retained changes in revision order (revisions after `compacted`).
    pub history: VecDeque<Arc<Change>>,
}

impl View for State {
    fn get(&self, type_key: &TypeKey, key: &ObjectKey) -> Option<Arc<StoredObject>> {
        self.types.get(type_key)?.objects.get(key).cloned()
    }

    fn shared_type(&self, type_key: &TypeKey) -> Arc<TypeKey> {
        match self.types.get(type_key) {
            Some(t) => t.type_key.clone(),
            None => Arc::new(type_key.clone()),
        }
    }
}

impl State {
    /// The state of a kind, created on first use.
    pub fn type_state(&mut self, type_key: &Arc<TypeKey>) -> &mut TypeState {
        self.types.entry(TypeKey::clone(type_key)).or_insert_with(|| TypeState {
            type_key: type_key.clone(),
            objects: BTreeMap::new(),
            events: None,
        })
    }

    /// Applies one committed change: live objects, revision, history, then the event to watchers
    /// of its kind. History beyond `history_limit` changes is compacted away.
    pub fn publish(&mut self, change: Change, history_limit: usize) {
        let change = Arc::new(change);
        let revision = change.revision;
        let ts = self.type_state(change.object.shared_type_key());
        if change.removed {
            ts.objects.remove(change.key());
        } else {
            ts.objects.insert(change.key().clone(), change.object.clone());
        }
        if let Some(tx) = &ts.events {
            if tx.receiver_count() == 0 {
                // Nobody watches any more: free the channel's buffer.
                ts.events = None;
            } else {
                // Fails only without receivers, checked above.
                let _ = tx.send(change.clone());
            }
        }
        self.revision = revision;
        self.history.push_back(change);
        while self.history.len() > history_limit {
            if let Some(old) = self.history.pop_front() {
                self.compacted = old.revision;
            }
        }
    }

    /// Drops history up to and including `revision` (capped at the current revision).
    pub fn compact_to(&mut self, revision: Revision) {
        let revision = revision.min(self.revision);
        if revision <= self.compacted {
            return;
        }
        while self.history.front().is_some_and(|c| c.revision <= revision) {
            self.history.pop_front();
        }
        self.compacted = revision;
    }

    /// Retained changes with a revision greater than `revision`, oldest first.
    pub fn history_after(&self, revision: Revision) -> impl Iterator<Item = &Arc<Change>> {
        let start = self.history.partition_point(|c| c.revision <= revision);
        self.history.range(start..)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn change(rev: Revision, name: &str, removed: bool) -> Change {
        let tk = Arc::new(TypeKey::new("", "v1", "ConfigMap", "configmaps", true));
        let obj = StoredObject::with_shared_type(tk, ObjectKey::new("ns", name), rev, json!({}));
        Change {
            revision: rev,
            prev: None,
            object: Arc::new(obj),
            removed,
        }
    }

    #[test]
    fn history_beyond_the_limit_is_compacted_in_order() {
        let mut st = State::default();
        for rev in 1..=5 {
            st.publish(change(rev, &format!("o{rev}"), false), 3);
        }
        assert_eq!(st.revision, 5);
        assert_eq!(st.compacted, 2);
        let revs: Vec<_> = st.history_after(0).map(|c| c.revision).collect();
        assert_eq!(revs, vec![3, 4, 5]);
        let revs: Vec<_> = st.history_after(4).map(|c| c.revision).collect();
        assert_eq!(revs, vec![5]);
    }

    #[test]
    fn removal_takes_the_object_out_of_the_live_set() {
        let mut st = State::default();
        st.publish(change(1, "a", false), 10);
        let tk = TypeKey::new("", "v1", "ConfigMap", "configmaps", true);
        assert!(st.get(&tk, &ObjectKey::new("ns", "a")).is_some());
        st.publish(change(2, "a", true), 10);
        assert!(st.get(&tk, &ObjectKey::new("ns", "a")).is_none());
        st.compact_to(100);
        assert_eq!(st.compacted, 2);
        assert_eq!(st.history_after(0).count(), 0);
    }
}
