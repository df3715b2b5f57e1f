//! The hand-out order of waiting keys: one FIFO per priority, highest priority first.
//!
//! Raising a waiting key's priority appends a new slot at the higher level and leaves the old slot in
//! place; each slot carries the sequence number it was pushed with, and the queue's entry for the key
//! remembers the sequence of its live slot, so a stale slot is recognised and skipped when popped.
//! This keeps every push and pop O(1) (plus O(levels) to find the highest non-empty level).

use std::collections::VecDeque;

/// One position in a FIFO: the key and the sequence number of this push.
pub(crate) struct Slot<K> {
    pub(crate) key: K,
    pub(crate) seq: u64,
}

struct Level<K> {
    priority: i32,
    slots: VecDeque<Slot<K>>,
}

/// FIFOs by priority, sorted from the highest priority to the lowest.
pub(crate) struct Ready<K> {
    levels: Vec<Level<K>>,
}

impl<K> Ready<K> {
    pub(crate) fn new() -> Self {
        Ready {
            levels: vec![Level {
                priority: 0,
                slots: VecDeque::new(),
            }],
        }
    }

    /// Appends `key` at the back of the FIFO of `priority`.
    pub(crate) fn push(&mut self, priority: i32, key: K, seq: u64) {
        let slot = Slot { key, seq };
        // Fast path: a queue that only ever uses one priority has exactly one level.
        if let [level] = self.levels.as_mut_slice()
            && level.priority == priority
        {
            level.slots.push_back(slot);
            return;
        }
        // Levels are sorted by descending priority.
        match self.levels.binary_search_by(|l| priority.cmp(&l.priority)) {
            Ok(i) => self.levels[i].slots.push_back(slot),
            Err(i) => {
                let mut slots = VecDeque::new();
                slots.push_back(slot);
                self.levels.insert(i, Level { priority, slots });
            }
        }
    }

    /// Removes the front slot of the highest non-empty level. May return stale slots.
    pub(crate) fn pop(&mut self) -> Option<Slot<K>> {
        let index = self.levels.iter().position(|l| !l.slots.is_empty())?;
        let level = &mut self.levels[index];
        let slot = level.slots.pop_front();
        // Drop empty levels so that many distinct priorities over time do not slow down `pop`;
        // keep the last one so that the common single-priority queue never reallocates.
        if level.slots.is_empty() && self.levels.len() > 1 {
            self.levels.remove(index);
        }
        slot
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(ready: &mut Ready<&'static str>) -> Vec<&'static str> {
        std::iter::from_fn(|| ready.pop().map(|s| s.key)).collect()
    }

    #[test]
    fn higher_priorities_pop_first_and_fifo_holds_within_a_priority() {
        let mut ready = Ready::new();
        ready.push(0, "a", 1);
        ready.push(5, "b", 2);
        ready.push(-1, "c", 3);
        ready.push(5, "d", 4);
        ready.push(0, "e", 5);
        assert_eq!(drain(&mut ready), ["b", "d", "a", "e", "c"]);
    }

    #[test]
    fn levels_are_reused_after_they_empty() {
        let mut ready = Ready::new();
        ready.push(3, "a", 1);
        assert_eq!(drain(&mut ready), ["a"]);
        ready.push(0, "b", 2);
        ready.push(3, "c", 3);
        assert_eq!(drain(&mut ready), ["c", "b"]);
        assert!(ready.pop().is_none());
    }
}
