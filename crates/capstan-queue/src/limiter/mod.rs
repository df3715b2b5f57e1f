//! Rate limiters: how long `add_rate_limited` waits before a key is added.
//!
//! Each limiter family has its own module with the same shape (type, constructor, `RateLimiter`
//! impl, tests). The families are those of client-go's `workqueue` package:
//!
//! | limiter | delay for a key's n-th rate-limited add (n from 0) |
//! |---|---|
//! | [`ExponentialBackoff`] | `base * 2^n`, capped (default 5 ms doubling to 1000 s), per key |
//! | [`TokenBucket`] | zero while tokens remain (default burst 100), then one token per `1/qps` (10/s), overall |
//! | [`FastSlow`] | `fast` for the first `max_fast_attempts` adds, then `slow`, per key |
//! | [`MaxOf`] | the longest delay of its limiters |
//!
//! [`default_rate_limiter`] is `MaxOf(ExponentialBackoff::default(), TokenBucket::default())`, as
//! Kubernetes' `DefaultControllerRateLimiter`.

mod bucket;
mod exponential;
mod fast_slow;
mod max_of;

pub use bucket::TokenBucket;
pub use exponential::ExponentialBackoff;
pub use fast_slow::FastSlow;
pub use max_of::MaxOf;

use std::hash::Hash;
use std::sync::Arc;
use std::time::Duration;

/// Decides how long a key waits before a rate-limited add, and remembers failures per key.
///
/// The queue calls [`when`](RateLimiter::when) on every `add_rate_limited` (a retry after a failure)
/// and [`forget`](RateLimiter::forget) when the caller reports success through `WorkQueue::forget`.
#[doc(alias = "TypedRateLimiter")]
pub trait RateLimiter<K>: Send + Sync + 'static {
    /// The delay before `key` is added this time; counts one more retry of `key`.
    fn when(&self, key: &K) -> Duration;

    /// Stops tracking `key`: its next delay starts again from the first one.
    fn forget(&self, key: &K);

    /// How many times `key` was rate-limited since it was last forgotten.
    fn num_requeues(&self, key: &K) -> u32;
}

impl<K, R: RateLimiter<K> + ?Sized> RateLimiter<K> for Box<R> {
    fn when(&self, key: &K) -> Duration {
        (**self).when(key)
    }

    fn forget(&self, key: &K) {
        (**self).forget(key)
    }

    fn num_requeues(&self, key: &K) -> u32 {
        (**self).num_requeues(key)
    }
}

impl<K, R: RateLimiter<K> + ?Sized> RateLimiter<K> for Arc<R> {
    fn when(&self, key: &K) -> Duration {
        (**self).when(key)
    }

    fn forget(&self, key: &K) {
        (**self).forget(key)
    }

    fn num_requeues(&self, key: &K) -> u32 {
        (**self).num_requeues(key)
    }
}

/// A limiter's parameters were out of range.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum InvalidLimiter {
    /// A token bucket's refill rate must be a finite number above zero.
    #[error("token bucket rate must be finite and above zero, got {0}")]
    Rate(f64),
    /// A token bucket's burst must be at least one.
    #[error("token bucket burst must be at least 1")]
    Burst,
}

/// Kubernetes' default controller rate limiter: the longer of per-key exponential backoff (5 ms
/// doubling to 1000 s) and an overall token bucket (10 per second, burst 100).
#[doc(alias = "DefaultControllerRateLimiter")]
pub fn default_rate_limiter<K>() -> MaxOf<K>
where
    K: Clone + Eq + Hash + Send + Sync + 'static,
{
    MaxOf::new()
        .with(ExponentialBackoff::default())
        .with(TokenBucket::default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn default_limiter_follows_backoff_until_the_bucket_runs_dry() {
        let limiter = default_rate_limiter::<&str>();
        assert_eq!(limiter.when(&"a"), Duration::from_millis(5));
        assert_eq!(limiter.when(&"a"), Duration::from_millis(10));
        assert_eq!(limiter.num_requeues(&"a"), 2);
        // 98 more tokens remain in the burst, then the bucket's delay (100 ms per token) dominates.
        for i in 0..98 {
            let key: &'static str = i.to_string().leak();
            assert_eq!(limiter.when(&key), Duration::from_millis(5));
        }
        assert_eq!(limiter.when(&"b"), Duration::from_millis(100));
        limiter.forget(&"a");
        assert_eq!(limiter.num_requeues(&"a"), 0);
    }

    #[test]
    fn boxed_and_shared_limiters_delegate() {
        let shared: Arc<dyn RateLimiter<u32>> = Arc::new(ExponentialBackoff::new(
            Duration::from_millis(1),
            Duration::from_secs(1),
        ));
        let boxed: Box<dyn RateLimiter<u32>> = Box::new(shared.clone());
        assert_eq!(boxed.when(&1), Duration::from_millis(1));
        assert_eq!(shared.when(&1), Duration::from_millis(2));
        assert_eq!(boxed.num_requeues(&1), 2);
        boxed.forget(&1);
        assert_eq!(shared.num_requeues(&1), 0);
    }
}
