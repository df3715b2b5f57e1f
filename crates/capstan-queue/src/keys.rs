//! The key index: every key the queue knows, stored once, in a slab addressed by `u32` ids.
//!
//! Each key lives in one [`Entry`] of the slab; the hash table maps a key to its id and stores only
//! the `u32` (the key's hash is kept in the entry, so growing the table never hashes a key again).
//! The ready FIFO and the delay heap hold ids, not keys: handing out the next key reads its entry
//! directly, without a hash lookup, and a key's bytes exist once however many places refer to it.
//! Callers hash the key before taking the queue's lock and pass the hash in.

use hashbrown::HashTable;
use tokio::time::Instant;

/// Where a key is in its life cycle.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Phase {
    /// Known only because of a pending delayed add.
    Idle,
    /// In the ready FIFO, waiting for a worker.
    Waiting,
    /// Held by a worker.
    Processing,
    /// Held by a worker and added again since: requeued at `done`.
    ProcessingDirty,
}

/// What the queue knows about one key.
pub(crate) struct Entry<K> {
    pub(crate) key: K,
    /// The key's hash, as computed by the queue's hasher.
    hash: u64,
    /// The sequence number of the key's live slot in the ready FIFO, when `Waiting`.
    pub(crate) seq: u64,
    /// The earliest pending delayed add, if any.
    pub(crate) delay: Option<Instant>,
    /// The priority the key waits with (or will wait with, once a dirty key is done).
    pub(crate) priority: i32,
    pub(crate) phase: Phase,
}

/// The slab of entries and the hash table from keys to their ids.
pub(crate) struct Keys<K> {
    table: HashTable<u32>,
    slots: Vec<Option<Entry<K>>>,
    /// Ids of empty slots, reused last-freed first (its cache lines are the warmest).
    free: Vec<u32>,
}

/// The outcome of [`Keys::find_or_insert`].
pub(crate) enum Found<K> {
    /// The key was known: its id, and the caller's copy of the key to drop after unlocking.
    Existing(u32, K),
    /// The key was not known: it now has an entry with this id.
    Inserted(u32),
}

impl<K: Eq> Keys<K> {
    pub(crate) fn new() -> Self {
        Keys {
            table: HashTable::new(),
            slots: Vec::new(),
            free: Vec::new(),
        }
    }

    /// The id of `key`, whose hash is `hash`.
    #[inline]
    pub(crate) fn find(&self, hash: u64, key: &K) -> Option<u32> {
        let slots = &self.slots;
        self.table.find(hash, |&id| is_key(slots, id, key)).copied()
    }

    #[inline]
    pub(crate) fn get(&self, id: u32) -> Option<&Entry<K>> {
        self.slots.get(id as usize)?.as_ref()
    }

    #[inline]
    pub(crate) fn get_mut(&mut self, id: u32) -> Option<&mut Entry<K>> {
        self.slots.get_mut(id as usize)?.as_mut()
    }

    /// The id of `key`, inserting an entry in `phase` (priority, seq and delay as given) if the key
    /// is not known.
    pub(crate) fn find_or_insert(
        &mut self,
        key: K,
        hash: u64,
        phase: Phase,
        priority: i32,
        seq: u64,
        delay: Option<Instant>,
    ) -> Found<K> {
        let slots = &self.slots;
        let vacant = match self
            .table
            .entry(hash, |&id| is_key(slots, id, &key), |&id| hash_of(slots, id))
        {
            hashbrown::hash_table::Entry::Occupied(occupied) => return Found::Existing(*occupied.get(), key),
            hashbrown::hash_table::Entry::Vacant(vacant) => vacant,
        };
        let entry = Entry {
            key,
            hash,
            seq,
            delay,
            priority,
            phase,
        };
        let id = match self.free.pop() {
            Some(id) => {
                self.slots[id as usize] = Some(entry);
                id
            }
            None => {
                // ok: 2^32 entries of at least 40 bytes each (160 GiB) cannot be allocated first.
                let id = u32::try_from(self.slots.len()).expect("more than 2^32 keys in one queue");
                self.slots.push(Some(entry));
                id
            }
        };
        vacant.insert(id);
        Found::Inserted(id)
    }

    /// Removes the entry `id` and returns its key (to be dropped after unlocking).
    pub(crate) fn remove(&mut self, id: u32) -> Option<K> {
        let entry = self.slots.get_mut(id as usize)?.take()?;
        if let Ok(found) = self.table.find_entry(entry.hash, |&other| other == id) {
            found.remove();
        }
        self.free.push(id);
        Some(entry.key)
    }

    /// Keeps only the entries for which `keep` returns true.
    pub(crate) fn retain(&mut self, mut keep: impl FnMut(&mut Entry<K>) -> bool) {
        let slots = &mut self.slots;
        let free = &mut self.free;
        self.table.retain(|&mut id| {
            let Some(slot) = slots.get_mut(id as usize) else {
                return false;
            };
            let kept = slot.as_mut().is_some_and(&mut keep);
            if !kept {
                *slot = None;
                free.push(id);
            }
            kept
        });
    }
}

#[inline]
fn is_key<K: Eq>(slots: &[Option<Entry<K>>], id: u32, key: &K) -> bool {
    slots
        .get(id as usize)
        .and_then(Option::as_ref)
        .is_some_and(|entry| entry.key == *key)
}

#[inline]
fn hash_of<K>(slots: &[Option<Entry<K>>], id: u32) -> u64 {
    slots
        .get(id as usize)
        .and_then(Option::as_ref)
        .map_or(0, |entry| entry.hash)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::BuildHasher;

    fn insert(keys: &mut Keys<String>, hasher: &foldhash::fast::RandomState, key: &str) -> u32 {
        match keys.find_or_insert(key.to_string(), hasher.hash_one(key), Phase::Waiting, 0, 0, None) {
            Found::Inserted(id) | Found::Existing(id, _) => id,
        }
    }

    #[test]
    fn a_key_has_one_id_and_freed_ids_are_reused() {
        let hasher = foldhash::fast::RandomState::default();
        let mut keys = Keys::new();
        let a = insert(&mut keys, &hasher, "a");
        let b = insert(&mut keys, &hasher, "b");
        assert_ne!(a, b);
        assert_eq!(insert(&mut keys, &hasher, "a"), a, "a known key keeps its id");
        assert_eq!(keys.remove(a).as_deref(), Some("a"));
        assert_eq!(keys.find(hasher.hash_one("a"), &"a".to_string()), None);
        let c = insert(&mut keys, &hasher, "c");
        assert_eq!(c, a, "the freed slot is reused");
        assert_eq!(keys.get(c).map(|e| e.key.as_str()), Some("c"));
        assert_eq!(keys.find(hasher.hash_one("b"), &"b".to_string()), Some(b));
    }

    #[test]
    fn many_keys_survive_table_growth_and_retain() {
        let hasher = foldhash::fast::RandomState::default();
        let mut keys = Keys::new();
        let ids: Vec<u32> = (0..10_000)
            .map(|n| insert(&mut keys, &hasher, &format!("k-{n}")))
            .collect();
        keys.retain(|entry| entry.key.ends_with('7'));
        for (n, id) in ids.iter().enumerate() {
            let key = format!("k-{n}");
            let expected = key.ends_with('7').then_some(*id);
            assert_eq!(keys.find(hasher.hash_one(&key), &key), expected, "{key}");
        }
    }
}
