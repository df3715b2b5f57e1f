//! The lock around a queue's state: a spin lock with bounded spinning, then yielding.
//!
//! Every critical section of the queue is a few hash-map and deque operations (tens of
//! nanoseconds). Measured on 2 cores (BENCHMARKS.md), `parking_lot::Mutex` gives up after a few spins
//! and calls `sched_yield`, which cost over a quarter of the time in the 4-producer, 4-worker
//! scenario; spinning a little longer before yielding keeps both cores doing queue work.

use std::hint::spin_loop;
use std::sync::atomic::{AtomicBool, Ordering};

/// Raw lock for `lock_api::Mutex`: test-and-test-and-set with exponential spinning, then
/// `std::thread::yield_now` (so a descheduled holder is not starved on an oversubscribed machine).
pub(crate) struct RawSpinLock {
    locked: AtomicBool,
}

/// A mutex over [`RawSpinLock`], with `parking_lot`'s guard API.
pub(crate) type SpinMutex<T> = parking_lot::lock_api::Mutex<RawSpinLock, T>;

// SAFETY: `lock` returns only after swapping `locked` from false to true with Acquire ordering, and
// `unlock` stores false with Release ordering, so at most one holder exists at a time and the
// holder's writes are visible to the next one.
unsafe impl parking_lot::lock_api::RawMutex for RawSpinLock {
    #[allow(clippy::declare_interior_mutable_const)] // required by lock_api: the initial value
    const INIT: Self = RawSpinLock {
        locked: AtomicBool::new(false),
    };

    type GuardMarker = parking_lot::lock_api::GuardSend;

    #[inline]
    fn lock(&self) {
        if self.try_lock() {
            return;
        }
        self.lock_contended();
    }

    #[inline]
    fn try_lock(&self) -> bool {
        self.locked
            .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
    }

    #[inline]
    unsafe fn unlock(&self) {
        self.locked.store(false, Ordering::Release);
    }
}

impl RawSpinLock {
    #[cold]
    fn lock_contended(&self) {
        let mut spins = 1u32;
        loop {
            // Wait while locked, reading only (no cache-line ping-pong), then try again.
            while self.locked.load(Ordering::Relaxed) {
                if spins <= 1 << 10 {
                    for _ in 0..spins {
                        spin_loop();
                    }
                    spins *= 2;
                } else {
                    std::thread::yield_now();
                }
            }
            if self
                .locked
                .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
            {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn spin_mutex_serialises_increments_from_many_threads() {
        let counter = Arc::new(SpinMutex::new(0u64));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let counter = counter.clone();
                std::thread::spawn(move || {
                    for _ in 0..20_000 {
                        *counter.lock() += 1;
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().expect("thread panicked");
        }
        assert_eq!(*counter.lock(), 80_000);
    }
}
