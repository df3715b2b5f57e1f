//! The informer cache of one kind: a [`Cache`] for readers and a single writer (the reflector) that
//! applies list and watch results to it.
//!
//! Shaped like a channel: the reflector holds the only `CacheWriter`; every controller, reconciler
//! and index reader holds a cheap clone of [`Cache`]. Reads return `Arc<K>`: the very objects the
//! watch delivered, never copies.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use capstan_core::{LabelSelector, ObjectKey, Resource};
use capstan_store::Revision;
use parking_lot::RwLock;
use tokio::sync::watch;

use crate::error::{Error, Result};
use crate::informer::index::{IndexFn, Indexes, OWNER_UID_INDEX, owner_uids};

/// A change the writer applied, as handed to event handlers.
#[derive(Debug, Clone)]
pub(crate) enum Change<K> {
    /// A new object.
    Created(Arc<K>),
    /// An object changed (same uid, new resourceVersion).
    Updated {
        /// Its previous state in the cache.
        old: Arc<K>,
        /// Its new state.
        new: Arc<K>,
    },
    /// An object was removed; its last known state.
    Deleted(Arc<K>),
}

struct State<K> {
    objects: BTreeMap<ObjectKey, Arc<K>>,
    indexes: Indexes<K>,
    revision: Revision,
}

struct Inner<K> {
    state: RwLock<State<K>>,
    synced: watch::Sender<bool>,
}

/// Read access to the informer cache of kind `K`, shared by every controller of a manager.
///
/// Also known as a lister or an indexer (client-go), or a reflector store (kube-rs). The name says
/// what it is: a **cache**, filled by a list and a watch of the store and possibly a little behind
/// it. Writes never go through it; use the store's [`Api`](capstan_store::Api) (see
/// [`Context::api`](crate::Context::api)).
///
/// # Guarantees
///
/// * Readers never see a torn state: a relist replaces the whole contents at once, under one lock.
/// * Lists come back in key order (namespace, then name), like the store's.
/// * Objects are shared `Arc`s; a read copies no object.
///
/// # Indexes
///
/// Objects are ordered by namespace, so [`list_namespace`](Self::list_namespace) is a range scan.
/// Every cache keeps the owner index ([`owned_by`](Self::owned_by)); more indexes are registered with
/// [`Manager::index`](crate::Manager::index) and read with [`by_index`](Self::by_index).
#[doc(alias = "informer")]
#[doc(alias = "lister")]
pub struct Cache<K> {
    inner: Arc<Inner<K>>,
}

impl<K> Clone for Cache<K> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
        }
    }
}

/// The single writer of a [`Cache`].
pub(crate) struct CacheWriter<K> {
    inner: Arc<Inner<K>>,
}

/// A new empty cache with the built-in owner index: its reader and its writer.
pub(crate) fn cache<K: Resource>() -> (Cache<K>, CacheWriter<K>) {
    let owner: IndexFn<K> = Arc::new(owner_uids::<K>);
    let inner = Arc::new(Inner {
        state: RwLock::new(State {
            objects: BTreeMap::new(),
            indexes: Indexes::new(vec![(OWNER_UID_INDEX.to_owned(), owner)]),
            revision: 0,
        }),
        synced: watch::channel(false).0,
    });
    (Cache { inner: inner.clone() }, CacheWriter { inner })
}

/// Whether two states of one key are the same object at the same version (nothing to report).
fn same_version<K: Resource>(a: &K, b: &K) -> bool {
    a.meta().uid == b.meta().uid && a.meta().resource_version == b.meta().resource_version
}

impl<K: Resource> Cache<K> {
    /// The object with this key, if the cache holds it.
    pub fn get(&self, key: &ObjectKey) -> Option<Arc<K>> {
        self.inner.state.read().objects.get(key).cloned()
    }

    /// The object `name` in `namespace` (empty for cluster-scoped kinds), if the cache holds it.
    pub fn get_named(&self, namespace: &str, name: &str) -> Option<Arc<K>> {
        self.get(&ObjectKey::new(namespace, name))
    }

    /// Every object, in key order.
    pub fn list(&self) -> Vec<Arc<K>> {
        self.inner.state.read().objects.values().cloned().collect()
    }

    /// The objects of one namespace, in name order.
    pub fn list_namespace(&self, namespace: &str) -> Vec<Arc<K>> {
        let state = self.inner.state.read();
        state
            .objects
            .range(ObjectKey::new(namespace, "")..)
            .take_while(|(k, _)| k.namespace == namespace)
            .map(|(_, o)| o.clone())
            .collect()
    }

    /// The objects whose labels match `selector`, in one namespace or (with `None`) in all.
    pub fn list_selected(&self, namespace: Option<&str>, selector: &LabelSelector) -> Vec<Arc<K>> {
        let candidates = match namespace {
            Some(ns) => self.list_namespace(ns),
            None => self.list(),
        };
        let empty = BTreeMap::new();
        candidates
            .into_iter()
            .filter(|o| selector.matches(o.meta().labels.as_ref().unwrap_or(&empty)))
            .collect()
    }

    /// The objects with an owner reference to the owner with this uid (controller or not), in key
    /// order.
    pub fn owned_by(&self, owner_uid: &str) -> Vec<Arc<K>> {
        self.by_index(OWNER_UID_INDEX, owner_uid).unwrap_or_default()
    }

    /// The objects filed under `value` in the index `index`, in key order.
    pub fn by_index(&self, index: &str, value: &str) -> Result<Vec<Arc<K>>> {
        let state = self.inner.state.read();
        let keys = state.indexes.lookup(index, value).ok_or_else(|| Error::UnknownIndex {
            kind: K::KIND.to_owned(),
            index: index.to_owned(),
        })?;
        Ok(keys.iter().filter_map(|k| state.objects.get(k).cloned()).collect())
    }

    /// How many objects the cache holds.
    pub fn len(&self) -> usize {
        self.inner.state.read().objects.len()
    }

    /// Whether the cache holds no object.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The store revision the cache has caught up with (0 before the first list).
    pub fn revision(&self) -> Revision {
        self.inner.state.read().revision
    }

    /// Whether the first list has been loaded.
    pub fn is_synced(&self) -> bool {
        *self.inner.synced.borrow()
    }

    /// Waits until the first list has been loaded.
    pub async fn wait_synced(&self) {
        let mut rx = self.inner.synced.subscribe();
        // The sender lives in `self.inner`, so the channel cannot close while we wait.
        let _ = rx.wait_for(|s| *s).await;
    }
}

impl<K: Resource> CacheWriter<K> {
    /// Registers an index (replacing one of the same name) and files the current objects under it.
    pub(crate) fn add_index(&self, name: &str, f: IndexFn<K>) {
        let mut guard = self.inner.state.write();
        let state = &mut *guard;
        state
            .indexes
            .add(name, f, state.objects.iter().map(|(k, o)| (k, o.as_ref())));
    }

    /// Replaces the whole contents with a fresh list at `revision`, atomically, and returns what
    /// changed: objects new to the cache, objects with another resourceVersion (or another uid: a
    /// delete and a create), and objects that vanished. Objects at the same uid and resourceVersion
    /// produce nothing, so a relist after a broken watch reports only what the watch missed.
    pub(crate) fn replace(&self, objects: Vec<Arc<K>>, revision: Revision) -> Vec<Change<K>> {
        let mut fresh: BTreeMap<ObjectKey, Arc<K>> = BTreeMap::new();
        for o in objects {
            fresh.insert(o.object_key(), o);
        }
        let mut changes = Vec::new();
        let mut guard = self.inner.state.write();
        let mut indexes = guard.indexes.empty_like();
        let mut old: HashMap<ObjectKey, Arc<K>> = std::mem::take(&mut guard.objects).into_iter().collect();
        for (key, new) in &fresh {
            indexes.insert(key, new);
            match old.remove(key) {
                None => changes.push(Change::Created(new.clone())),
                Some(prev) if same_version(&*prev, &**new) => {}
                Some(prev) if prev.meta().uid != new.meta().uid => {
                    changes.push(Change::Deleted(prev));
                    changes.push(Change::Created(new.clone()));
                }
                Some(prev) => changes.push(Change::Updated {
                    old: prev,
                    new: new.clone(),
                }),
            }
        }
        let mut gone: Vec<_> = old.into_iter().collect();
        gone.sort_by(|a, b| a.0.cmp(&b.0));
        changes.extend(gone.into_iter().map(|(_, o)| Change::Deleted(o)));
        guard.objects = fresh;
        guard.indexes = indexes;
        guard.revision = revision;
        drop(guard);
        self.inner.synced.send_replace(true);
        changes
    }

    /// Applies an added or modified object seen by the watch at `revision`.
    pub(crate) fn apply(&self, object: Arc<K>, revision: Revision) -> Option<Change<K>> {
        let key = object.object_key();
        let mut guard = self.inner.state.write();
        let state = &mut *guard;
        state.revision = state.revision.max(revision);
        let prev = state.objects.get(&key).cloned();
        if let Some(p) = &prev {
            if same_version(&**p, &*object) {
                return None;
            }
            state.indexes.remove(&key, p);
        }
        state.indexes.insert(&key, &object);
        state.objects.insert(key, object.clone());
        Some(match prev {
            Some(old) if old.meta().uid == object.meta().uid => Change::Updated { old, new: object },
            _ => Change::Created(object),
        })
    }

    /// Removes an object the watch reported deleted at `revision`.
    pub(crate) fn delete(&self, object: Arc<K>, revision: Revision) -> Option<Change<K>> {
        let key = object.object_key();
        let mut guard = self.inner.state.write();
        let state = &mut *guard;
        state.revision = state.revision.max(revision);
        let prev = state.objects.remove(&key)?;
        state.indexes.remove(&key, &prev);
        Some(Change::Deleted(object))
    }

    /// Records that the store has reached `revision` with nothing to report (a bookmark).
    pub(crate) fn advance(&self, revision: Revision) {
        let mut state = self.inner.state.write();
        state.revision = state.revision.max(revision);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::Pod;

    fn pod(ns: &str, name: &str, uid: &str, rv: u64) -> Arc<Pod> {
        let mut p = Pod::default();
        p.metadata.namespace = Some(ns.into());
        p.metadata.name = Some(name.into());
        p.metadata.uid = Some(uid.into());
        p.metadata.resource_version = Some(rv.to_string());
        Arc::new(p)
    }

    fn names(changes: &[Change<Pod>]) -> Vec<String> {
        changes
            .iter()
            .map(|c| match c {
                Change::Created(o) => format!("+{}", o.object_key()),
                Change::Updated { new, .. } => format!("~{}", new.object_key()),
                Change::Deleted(o) => format!("-{}", o.object_key()),
            })
            .collect()
    }

    #[test]
    fn relist_reports_only_what_changed() {
        let (cache, writer) = cache::<Pod>();
        writer.replace(
            vec![
                pod("a", "same", "1", 1),
                pod("a", "changed", "2", 2),
                pod("a", "gone", "3", 3),
            ],
            3,
        );
        let changes = writer.replace(
            vec![
                pod("a", "same", "1", 1),
                pod("a", "changed", "2", 5),
                pod("a", "new", "4", 6),
                pod("b", "recreated", "9", 7),
            ],
            7,
        );
        assert_eq!(names(&changes), vec!["~a/changed", "+a/new", "+b/recreated", "-a/gone"]);
        assert_eq!(cache.len(), 4);
        assert_eq!(cache.revision(), 7);
    }

    #[test]
    fn a_new_uid_under_an_old_name_is_a_delete_and_a_create() {
        let (_cache, writer) = cache::<Pod>();
        writer.replace(vec![pod("a", "x", "1", 1)], 1);
        let changes = writer.replace(vec![pod("a", "x", "2", 2)], 2);
        assert_eq!(names(&changes), vec!["-a/x", "+a/x"]);
    }

    #[test]
    fn watch_events_at_a_version_already_held_are_dropped() {
        let (cache, writer) = cache::<Pod>();
        assert!(writer.apply(pod("a", "x", "1", 1), 1).is_some());
        assert!(writer.apply(pod("a", "x", "1", 1), 1).is_none());
        assert!(matches!(
            writer.apply(pod("a", "x", "1", 2), 2),
            Some(Change::Updated { .. })
        ));
        assert!(writer.delete(pod("a", "x", "1", 3), 3).is_some());
        assert!(writer.delete(pod("a", "x", "1", 3), 3).is_none());
        assert!(cache.is_empty());
        assert_eq!(cache.revision(), 3);
    }

    #[test]
    fn namespace_lists_are_range_scans_in_name_order() {
        let (cache, writer) = cache::<Pod>();
        writer.replace(
            vec![
                pod("b", "z", "1", 1),
                pod("a", "y", "2", 1),
                pod("b", "a", "3", 1),
                pod("c", "q", "4", 1),
            ],
            1,
        );
        let b: Vec<_> = cache.list_namespace("b").iter().map(|p| p.object_key().name).collect();
        assert_eq!(b, vec!["a", "z"]);
        assert!(cache.list_namespace("nope").is_empty());
        assert_eq!(cache.list().len(), 4);
    }

    #[tokio::test]
    async fn wait_synced_returns_once_the_first_list_is_in() {
        let (cache, writer) = cache::<Pod>();
        assert!(!cache.is_synced());
        let waiter = tokio::spawn({
            let cache = cache.clone();
            async move { cache.wait_synced().await }
        });
        writer.replace(vec![], 1);
        waiter.await.unwrap();
        assert!(cache.is_synced());
    }

    #[test]
    fn unknown_indexes_are_an_error_not_an_empty_answer() {
        let (cache, _writer) = cache::<Pod>();
        assert!(matches!(cache.by_index("typo", "x"), Err(Error::UnknownIndex { .. })));
        assert!(cache.owned_by("u").is_empty());
    }
}
