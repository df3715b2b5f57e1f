//! [`Expectations`]: read-your-writes for controllers that create or delete children from a cache.
//!
//! # The problem
//!
//! A ReplicaSet controller sees 2 Pods in its cache and wants 3, so it creates one. If it is woken
//! again before the watch has brought the new Pod into the cache, it still sees 2 and creates a
//! fourth. The cache is not wrong, only late.
//!
//! # Expected flow
//!
//! 1. Before writing, the reconciler records what it is about to do:
//!    `ctx.expectations().expect_creations(&req.key, 1)`.
//! 2. It creates the Pod (with a controller owner reference to the ReplicaSet).
//! 3. When the informer sees the new Pod, the runtime lowers the count for the owner's key
//!    (for every kind the controller [`owns`](crate::Controller::owns)).
//! 4. At the start of each reconcile, the reconciler checks
//!    [`satisfied`](Expectations::satisfied); while it is `false` it must not act on the children's
//!    count (it may still update status), and returns [`Action::done`](crate::Action::done): the
//!    awaited event itself wakes it again.
//!
//! # Guarantees and caveats
//!
//! * Expectations expire after 5 minutes (as in Kubernetes) of tokio time, so a lost event or a
//!   failed write only delays the controller, it never wedges it.
//! * If a create fails, lower the count yourself with
//!   [`creation_observed`](Expectations::creation_observed): no event will.
//! * A deletion is observed when a child first gets a `deletionTimestamp` or, if it never had
//!   one, when it is removed. The counts are per owner key, across all owned kinds.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use capstan_core::ObjectKey;
use parking_lot::Mutex;
use tokio::time::Instant;

/// How long expectations are trusted before they count as satisfied anyway (Kubernetes'
/// `ExpectationsTimeout`).
pub const EXPECTATIONS_TIMEOUT: Duration = Duration::from_secs(5 * 60);

#[derive(Debug, Clone, Copy)]
struct Expected {
    creations: i64,
    deletions: i64,
    set_at: Instant,
}

/// Outstanding creations and deletions per controller key. Cheap to clone; clones share state.
///
/// Also known as `ControllerExpectations` in the Kubernetes controller manager.
#[derive(Clone, Debug)]
pub struct Expectations {
    inner: Arc<Mutex<HashMap<ObjectKey, Expected>>>,
    timeout: Duration,
}

impl Default for Expectations {
    fn default() -> Self {
        Self::new()
    }
}

impl Expectations {
    /// Empty expectations with the 5-minute timeout.
    pub fn new() -> Self {
        Self::with_timeout(EXPECTATIONS_TIMEOUT)
    }

    /// Empty expectations with another timeout.
    pub fn with_timeout(timeout: Duration) -> Self {
        Self {
            inner: Arc::new(Mutex::new(HashMap::new())),
            timeout,
        }
    }

    fn set(&self, key: &ObjectKey, creations: i64, deletions: i64) {
        self.inner.lock().insert(
            key.clone(),
            Expected {
                creations,
                deletions,
                set_at: crate::clock::now(),
            },
        );
    }

    /// Records that `count` children of `key` are about to be created (replacing earlier
    /// expectations of `key`).
    pub fn expect_creations(&self, key: &ObjectKey, count: usize) {
        self.set(key, count as i64, 0);
    }

    /// Records that `count` children of `key` are about to be deleted (replacing earlier
    /// expectations of `key`).
    pub fn expect_deletions(&self, key: &ObjectKey, count: usize) {
        self.set(key, 0, count as i64);
    }

    /// Lowers the outstanding creations of `key` by one (called by the runtime when an owned child
    /// appears, or by a reconciler whose create failed).
    pub fn creation_observed(&self, key: &ObjectKey) {
        if let Some(e) = self.inner.lock().get_mut(key) {
            e.creations -= 1;
        }
    }

    /// Lowers the outstanding deletions of `key` by one.
    pub fn deletion_observed(&self, key: &ObjectKey) {
        if let Some(e) = self.inner.lock().get_mut(key) {
            e.deletions -= 1;
        }
    }

    /// Whether the cache can be trusted for `key`'s children: no expectations, all of them
    /// observed, or set longer ago than the timeout.
    pub fn satisfied(&self, key: &ObjectKey) -> bool {
        match self.inner.lock().get(key) {
            None => true,
            Some(e) => (e.creations <= 0 && e.deletions <= 0) || e.set_at.elapsed() > self.timeout,
        }
    }

    /// The outstanding (creations, deletions) of `key`, if any are recorded.
    pub fn pending(&self, key: &ObjectKey) -> Option<(i64, i64)> {
        self.inner
            .lock()
            .get(key)
            .map(|e| (e.creations.max(0), e.deletions.max(0)))
    }

    /// Drops every expectation of `key` (when the owner itself is gone).
    pub fn forget(&self, key: &ObjectKey) {
        self.inner.lock().remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn expectations_are_satisfied_once_every_creation_is_observed() {
        let e = Expectations::new();
        let k = ObjectKey::new("ns", "rs");
        assert!(e.satisfied(&k));
        e.expect_creations(&k, 2);
        assert!(!e.satisfied(&k));
        e.creation_observed(&k);
        assert_eq!(e.pending(&k), Some((1, 0)));
        assert!(!e.satisfied(&k));
        e.creation_observed(&k);
        assert!(e.satisfied(&k));
    }

    #[tokio::test(start_paused = true)]
    async fn unmet_expectations_expire_after_five_minutes() {
        let e = Expectations::new();
        let k = ObjectKey::new("ns", "rs");
        e.expect_deletions(&k, 1);
        tokio::time::advance(Duration::from_secs(299)).await;
        assert!(!e.satisfied(&k));
        tokio::time::advance(Duration::from_secs(2)).await;
        assert!(e.satisfied(&k));
        e.forget(&k);
        assert_eq!(e.pending(&k), None);
    }

    #[test]
    fn observations_without_expectations_change_nothing() {
        let e = Expectations::new();
        let k = ObjectKey::new("ns", "rs");
        e.creation_observed(&k);
        e.deletion_observed(&k);
        assert!(e.satisfied(&k));
        assert_eq!(e.pending(&k), None);
    }
}
