//! Per-key fast-then-slow delays.

use std::hash::Hash;
use std::time::Duration;

use parking_lot::Mutex;

use super::RateLimiter;
use crate::state::Map;

/// Per-key two-speed delays: the first `max_fast_attempts` retries of a key wait `fast`, the later
/// ones wait `slow`. [`forget`](RateLimiter::forget) returns a key to the fast delays.
#[doc(alias = "ItemFastSlowRateLimiter")]
pub struct FastSlow<K> {
    fast: Duration,
    slow: Duration,
    max_fast_attempts: u32,
    attempts: Mutex<Map<K, u32>>,
}

impl<K> std::fmt::Debug for FastSlow<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FastSlow")
            .field("fast", &self.fast)
            .field("slow", &self.slow)
            .field("max_fast_attempts", &self.max_fast_attempts)
            .finish()
    }
}

impl<K> FastSlow<K> {
    /// `fast` for the first `max_fast_attempts` retries of a key, `slow` after.
    pub fn new(fast: Duration, slow: Duration, max_fast_attempts: u32) -> Self {
        FastSlow {
            fast,
            slow,
            max_fast_attempts,
            attempts: Mutex::new(Map::default()),
        }
    }
}

impl<K: Clone + Eq + Hash + Send + Sync + 'static> RateLimiter<K> for FastSlow<K> {
    fn when(&self, key: &K) -> Duration {
        let attempts = {
            let mut map = self.attempts.lock();
            let count = map.entry(key.clone()).or_insert(0);
            *count = count.saturating_add(1);
            *count
        };
        if attempts <= self.max_fast_attempts {
            self.fast
        } else {
            self.slow
        }
    }

    fn forget(&self, key: &K) {
        self.attempts.lock().remove(key);
    }

    fn num_requeues(&self, key: &K) -> u32 {
        self.attempts.lock().get(key).copied().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_delays_come_first_then_slow_ones_until_forgotten() {
        let limiter = FastSlow::new(Duration::from_millis(5), Duration::from_secs(10), 2);
        let delays: Vec<_> = (0..4).map(|_| limiter.when(&"k")).collect();
        let (fast, slow) = (Duration::from_millis(5), Duration::from_secs(10));
        assert_eq!(delays, [fast, fast, slow, slow]);
        assert_eq!(limiter.num_requeues(&"k"), 4);
        limiter.forget(&"k");
        assert_eq!(limiter.when(&"k"), fast);
        assert_eq!(limiter.when(&"other"), fast);
    }
}
