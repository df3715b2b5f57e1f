//! Per-key exponential backoff.

use std::hash::Hash;
use std::time::Duration;

use parking_lot::Mutex;

use super::RateLimiter;
use crate::state::Map;

/// Per-key exponential backoff: the n-th retry of a key (n from 0) waits `base * 2^n`, at most
/// `max`. [`forget`](RateLimiter::forget) resets a key to `base`.
///
/// The default is client-go's: 5 ms doubling up to 1000 s.
#[doc(alias = "ItemExponentialFailureRateLimiter")]
pub struct ExponentialBackoff<K> {
    base: Duration,
    max: Duration,
    failures: Mutex<Map<K, u32>>,
}

impl<K> std::fmt::Debug for ExponentialBackoff<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExponentialBackoff")
            .field("base", &self.base)
            .field("max", &self.max)
            .finish()
    }
}

impl<K> Default for ExponentialBackoff<K> {
    fn default() -> Self {
        Self::new(Duration::from_millis(5), Duration::from_secs(1000))
    }
}

impl<K> ExponentialBackoff<K> {
    /// Backoff starting at `base`, doubling per retry, capped at `max`.
    pub fn new(base: Duration, max: Duration) -> Self {
        ExponentialBackoff {
            base,
            max,
            failures: Mutex::new(Map::default()),
        }
    }

    /// The delay of the retry that follows `failures` earlier ones.
    pub fn delay_after(&self, failures: u32) -> Duration {
        let factor = 1u32.checked_shl(failures).filter(|_| failures < 32);
        factor
            .and_then(|f| self.base.checked_mul(f))
            .map_or(self.max, |d| d.min(self.max))
    }
}

impl<K: Clone + Eq + Hash + Send + Sync + 'static> RateLimiter<K> for ExponentialBackoff<K> {
    fn when(&self, key: &K) -> Duration {
        let failures = {
            let mut map = self.failures.lock();
            let count = match map.get_mut(key) {
                Some(count) => count,
                None => map.entry(key.clone()).or_insert(0),
            };
            let before = *count;
            *count = count.saturating_add(1);
            before
        };
        self.delay_after(failures)
    }

    fn forget(&self, key: &K) {
        self.failures.lock().remove(key);
    }

    fn num_requeues(&self, key: &K) -> u32 {
        self.failures.lock().get(key).copied().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_base_and_stops_at_the_cap() {
        let limiter = ExponentialBackoff::default();
        let delays: Vec<_> = (0..4).map(|_| limiter.when(&"k")).collect();
        let ms = Duration::from_millis;
        assert_eq!(delays, [ms(5), ms(10), ms(20), ms(40)]);
        // 5 ms * 2^17 = 655 s; 2^18 passes the 1000 s cap; huge exponents do not overflow.
        assert_eq!(limiter.delay_after(17), ms(5 * (1 << 17)));
        assert_eq!(limiter.delay_after(18), Duration::from_secs(1000));
        assert_eq!(limiter.delay_after(40), Duration::from_secs(1000));
        assert_eq!(limiter.delay_after(u32::MAX), Duration::from_secs(1000));
    }

    #[test]
    fn forget_resets_the_sequence_of_one_key_only() {
        let limiter = ExponentialBackoff::new(Duration::from_nanos(1), Duration::from_secs(1));
        limiter.when(&1);
        limiter.when(&1);
        limiter.when(&2);
        assert_eq!(limiter.num_requeues(&1), 2);
        limiter.forget(&1);
        assert_eq!(limiter.num_requeues(&1), 0);
        assert_eq!(limiter.when(&1), Duration::from_nanos(1));
        assert_eq!(limiter.when(&2), Duration::from_nanos(2));
    }
}
