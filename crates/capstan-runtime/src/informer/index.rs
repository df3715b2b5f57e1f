//! Secondary indexes of a cache: from an index value (an owner's uid, a node name, ...) to the keys
//! of the objects that produce it.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use capstan_core::{ObjectKey, Resource};

/// An index function: the values under which an object is filed (none, one or several).
///
/// Also known as an indexer in client-go. It must be a pure function of the object.
pub type IndexFn<K> = Arc<dyn Fn(&K) -> Vec<String> + Send + Sync>;

/// The name of the built-in index from an owner's uid to the objects whose `ownerReferences` name it.
pub const OWNER_UID_INDEX: &str = "metadata.ownerReferences.uid";

/// The built-in owner index: every owner uid of the object.
pub(crate) fn owner_uids<K: Resource>(object: &K) -> Vec<String> {
    object
        .meta()
        .owner_references
        .iter()
        .flatten()
        .map(|r| r.uid.clone())
        .collect()
}

/// Index functions and their current contents.
pub(crate) struct Indexes<K> {
    fns: Vec<(String, IndexFn<K>)>,
    maps: HashMap<String, HashMap<String, BTreeSet<ObjectKey>>>,
}

impl<K: Resource> Indexes<K> {
    /// Empty indexes for these functions.
    pub(crate) fn new(fns: Vec<(String, IndexFn<K>)>) -> Self {
        let maps = fns.iter().map(|(n, _)| (n.clone(), HashMap::new())).collect();
        Self { fns, maps }
    }

    /// The same index functions, with no contents.
    pub(crate) fn empty_like(&self) -> Self {
        Self::new(self.fns.clone())
    }

    /// Adds an index function (replacing one of the same name) and files `objects` under it.
    pub(crate) fn add<'a>(&mut self, name: &str, f: IndexFn<K>, objects: impl Iterator<Item = (&'a ObjectKey, &'a K)>)
    where
        K: 'a,
    {
        self.fns.retain(|(n, _)| n != name);
        let mut map: HashMap<String, BTreeSet<ObjectKey>> = HashMap::new();
        for (key, obj) in objects {
            for value in f(obj) {
                map.entry(value).or_default().insert(key.clone());
            }
        }
        self.maps.insert(name.to_owned(), map);
        self.fns.push((name.to_owned(), f));
    }

    /// Files `object` under every index.
    pub(crate) fn insert(&mut self, key: &ObjectKey, object: &K) {
        for (name, f) in &self.fns {
            let map = self.maps.entry(name.clone()).or_default();
            for value in f(object) {
                map.entry(value).or_default().insert(key.clone());
            }
        }
    }

    /// Removes `object` (its state when it was filed) from every index.
    pub(crate) fn remove(&mut self, key: &ObjectKey, object: &K) {
        for (name, f) in &self.fns {
            let Some(map) = self.maps.get_mut(name) else { continue };
            for value in f(object) {
                if let Some(keys) = map.get_mut(&value) {
                    keys.remove(key);
                    if keys.is_empty() {
                        map.remove(&value);
                    }
                }
            }
        }
    }

    /// The keys filed under `value` in index `name`; `None` when there is no such index.
    pub(crate) fn lookup(&self, name: &str, value: &str) -> Option<Vec<ObjectKey>> {
        let map = self.maps.get(name)?;
        Some(map.get(value).map(|s| s.iter().cloned().collect()).unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::Pod;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;

    fn pod(name: &str, owner: Option<&str>) -> Pod {
        let mut p = Pod::default();
        p.metadata.name = Some(name.into());
        p.metadata.namespace = Some("ns".into());
        p.metadata.owner_references = owner.map(|uid| {
            vec![OwnerReference {
                uid: uid.into(),
                ..Default::default()
            }]
        });
        p
    }

    #[test]
    fn removing_an_object_unfiles_it_from_the_owner_index() {
        let mut idx = Indexes::<Pod>::new(vec![(
            OWNER_UID_INDEX.into(),
            Arc::new(owner_uids::<Pod>) as IndexFn<Pod>,
        )]);
        let a = pod("a", Some("u1"));
        let b = pod("b", Some("u1"));
        idx.insert(&a.object_key(), &a);
        idx.insert(&b.object_key(), &b);
        assert_eq!(idx.lookup(OWNER_UID_INDEX, "u1").unwrap().len(), 2);
        idx.remove(&a.object_key(), &a);
        assert_eq!(idx.lookup(OWNER_UID_INDEX, "u1").unwrap(), vec![b.object_key()]);
        assert!(idx.lookup(OWNER_UID_INDEX, "nobody").unwrap().is_empty());
        assert!(idx.lookup("no-such-index", "u1").is_none());
    }

    #[test]
    fn an_index_added_later_covers_existing_objects() {
        let mut idx = Indexes::<Pod>::new(vec![]);
        let a = pod("a", None);
        let objects = [(a.object_key(), a.clone())];
        idx.add(
            "name",
            Arc::new(|p: &Pod| p.metadata.name.clone().into_iter().collect()),
            objects.iter().map(|(k, o)| (k, o)),
        );
        assert_eq!(idx.lookup("name", "a").unwrap(), vec![a.object_key()]);
    }
}
