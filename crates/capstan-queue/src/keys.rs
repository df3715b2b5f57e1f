//! The key index: every key the queue knows, stored once, in a slab addressed by `u32` ids.
//!
//! Each key lives in one [`Entry`] of the slab; the hash table maps a key to its id. The table is
//! open addressing with linear probing over 8-byte slots (32 bits of the key's hash and the id), so a
//! lookup reads one cache line of the table (rarely two) before the entry itself, and growing or
//! shrinking never hashes a key again. Removal shifts later slots back: no tombstones.
//! The ready FIFO and the delay heap hold ids, not keys: handing out the next key reads its entry
//! directly, without a hash lookup, and a key's bytes exist once however many places refer to it.
//! Callers hash the key before taking the queue's lock and pass the hash in.

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
    table: Table,
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
            table: Table::new(),
            slots: Vec::new(),
            free: Vec::new(),
        }
    }

    /// The id of `key`, whose hash is `hash`.
    #[inline]
    pub(crate) fn find(&self, hash: u64, key: &K) -> Option<u32> {
        let slots = &self.slots;
        self.table.find(hash, |id| is_key(slots, id, key)).map(|(_, id)| id)
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
        self.table.reserve_one();
        let slots = &self.slots;
        let pos = match self.table.find_or_vacant(hash, |id| is_key(slots, id, &key)) {
            Ok(id) => return Found::Existing(id, key),
            Err(pos) => pos,
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
        self.table.fill(pos, hash, id);
        Found::Inserted(id)
    }

    /// Removes the entry `id` and returns its key (to be dropped after unlocking).
    pub(crate) fn remove(&mut self, id: u32) -> Option<K> {
        let entry = self.slots.get_mut(id as usize)?.take()?;
        if let Some((pos, _)) = self.table.find(entry.hash, |other| other == id) {
            self.table.remove(pos);
        }
        self.free.push(id);
        Some(entry.key)
    }

    /// Keeps only the entries for which `keep` returns true.
    pub(crate) fn retain(&mut self, mut keep: impl FnMut(&mut Entry<K>) -> bool) {
        for id in 0..self.slots.len() {
            let Some(entry) = self.slots[id].as_mut() else {
                continue;
            };
            if !keep(entry) {
                // ok: `id` < `slots.len()`, which never exceeds u32::MAX + 1 (see `find_or_insert`).
                let id = u32::try_from(id).expect("ids fit in u32");
                self.remove(id);
            }
        }
    }
}

/// One slot of [`Table`]: the low 32 bits of a key's hash and the key's id; `id == EMPTY` if free.
#[derive(Clone, Copy)]
struct Slot {
    hash: u32,
    id: u32,
}

const EMPTY: u32 = u32::MAX;
const FREE: Slot = Slot { hash: 0, id: EMPTY };
const MIN_SLOTS: usize = 16;
/// The table never shrinks below this many slots (32 KiB): a queue that fills and drains by a few
/// dozen keys at a time must not resize on every burst.
const MIN_SHRINK_SLOTS: usize = 4096;

/// Open addressing with linear probing, at most 3/4 full. A key's home slot is its hash modulo the
/// (power of two) slot count.
struct Table {
    slots: Box<[Slot]>,
    len: usize,
}

impl Table {
    fn new() -> Self {
        Table {
            slots: Box::new([]),
            len: 0,
        }
    }

    #[inline]
    fn mask(&self) -> usize {
        self.slots.len().wrapping_sub(1)
    }

    /// The position and id of the first slot whose hash matches and whose id satisfies `is`.
    #[inline]
    fn find(&self, hash: u64, mut is: impl FnMut(u32) -> bool) -> Option<(usize, u32)> {
        if self.slots.is_empty() {
            return None;
        }
        let (mask, tag) = (self.mask(), hash as u32);
        let mut pos = hash as usize & mask;
        loop {
            let slot = self.slots[pos];
            if slot.id == EMPTY {
                return None;
            }
            if slot.hash == tag && is(slot.id) {
                return Some((pos, slot.id));
            }
            pos = (pos + 1) & mask;
        }
    }

    /// The id matching like [`find`](Table::find), or else the free slot where it belongs. Needs
    /// [`reserve_one`](Table::reserve_one) first.
    #[inline]
    fn find_or_vacant(&self, hash: u64, mut is: impl FnMut(u32) -> bool) -> Result<u32, usize> {
        let (mask, tag) = (self.mask(), hash as u32);
        let mut pos = hash as usize & mask;
        loop {
            let slot = self.slots[pos];
            if slot.id == EMPTY {
                return Err(pos);
            }
            if slot.hash == tag && is(slot.id) {
                return Ok(slot.id);
            }
            pos = (pos + 1) & mask;
        }
    }

    /// Makes room for one more id (growing keeps the table at most 3/4 full, so probes end).
    #[inline]
    fn reserve_one(&mut self) {
        if (self.len + 1) * 4 > self.slots.len() * 3 {
            self.resize((self.slots.len() * 2).max(MIN_SLOTS));
        }
    }

    fn resize(&mut self, count: usize) {
        let old = std::mem::replace(&mut self.slots, vec![FREE; count].into_boxed_slice());
        let mask = self.mask();
        for slot in old.iter().filter(|s| s.id != EMPTY) {
            let mut pos = slot.hash as usize & mask;
            while self.slots[pos].id != EMPTY {
                pos = (pos + 1) & mask;
            }
            self.slots[pos] = *slot;
        }
    }

    /// Fills the free slot `pos` returned by [`find_or_vacant`](Table::find_or_vacant).
    #[inline]
    fn fill(&mut self, pos: usize, hash: u64, id: u32) {
        self.slots[pos] = Slot { hash: hash as u32, id };
        self.len += 1;
    }

    /// Empties slot `pos`, shifting back later slots of the run that may move (no tombstones), and
    /// halves a large table once it is 1/16 full.
    fn remove(&mut self, pos: usize) {
        let mask = self.mask();
        let mut hole = pos;
        let mut next = (pos + 1) & mask;
        loop {
            let slot = self.slots[next];
            if slot.id == EMPTY {
                break;
            }
            let home = slot.hash as usize & mask;
            // The slot may fill the hole if the hole lies on its probe path from its home.
            if next.wrapping_sub(home) & mask >= next.wrapping_sub(hole) & mask {
                self.slots[hole] = slot;
                hole = next;
            }
            next = (next + 1) & mask;
        }
        self.slots[hole] = FREE;
        self.len -= 1;
        if self.slots.len() > MIN_SHRINK_SLOTS && self.len * 16 < self.slots.len() {
            self.resize(self.slots.len() / 2);
        }
    }
}

#[inline]
fn is_key<K: Eq>(slots: &[Option<Entry<K>>], id: u32, key: &K) -> bool {
    slots
        .get(id as usize)
        .and_then(Option::as_ref)
        .is_some_and(|entry| entry.key == *key)
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

    proptest::proptest! {
        /// Inserts and removals with colliding hashes (runs that wrap around the table, shifts on
        /// removal, growth and shrinking) agree with a `HashMap` model.
        #[test]
        fn the_index_agrees_with_a_map_under_collisions(ops in proptest::collection::vec((proptest::bool::ANY, 0u16..300), 1..600)) {
            let hash = |key: u16| u64::from(key % 11) * 0x9E37_79B9 + u64::from(key % 3);
            let mut keys = Keys::new();
            let mut model = std::collections::HashMap::new();
            for (insert, key) in ops {
                if insert {
                    let id = match keys.find_or_insert(key, hash(key), Phase::Waiting, 0, 0, None) {
                        Found::Inserted(id) | Found::Existing(id, _) => id,
                    };
                    proptest::prop_assert_eq!(*model.entry(key).or_insert(id), id);
                } else if let Some(id) = model.remove(&key) {
                    proptest::prop_assert_eq!(keys.remove(id), Some(key));
                }
                proptest::prop_assert_eq!(keys.find(hash(key), &key), model.get(&key).copied());
            }
            for probe in 0..300u16 {
                proptest::prop_assert_eq!(keys.find(hash(probe), &probe), model.get(&probe).copied());
            }
        }
    }
}
