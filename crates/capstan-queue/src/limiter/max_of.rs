//! The longest delay of several limiters.

use std::time::Duration;

use super::RateLimiter;

/// Combines limiters: a key waits the longest of their delays, and its retry count is the largest of
/// their counts. Every limiter sees every `when` and `forget`.
#[doc(alias = "MaxOfRateLimiter")]
pub struct MaxOf<K> {
    limiters: Vec<Box<dyn RateLimiter<K>>>,
}

impl<K> std::fmt::Debug for MaxOf<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MaxOf").field("limiters", &self.limiters.len()).finish()
    }
}

impl<K> Default for MaxOf<K> {
    fn default() -> Self {
        MaxOf { limiters: Vec::new() }
    }
}

impl<K> MaxOf<K> {
    /// No limiters yet: a delay of zero until some are added with [`with`](MaxOf::with).
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one more limiter.
    pub fn with(mut self, limiter: impl RateLimiter<K>) -> Self {
        self.limiters.push(Box::new(limiter));
        self
    }
}

impl<K: 'static> RateLimiter<K> for MaxOf<K> {
    fn when(&self, key: &K) -> Duration {
        // Every limiter must count this retry, so no short-circuit.
        self.limiters
            .iter()
            .map(|l| l.when(key))
            .fold(Duration::ZERO, Duration::max)
    }

    fn forget(&self, key: &K) {
        for limiter in &self.limiters {
            limiter.forget(key);
        }
    }

    fn num_requeues(&self, key: &K) -> u32 {
        self.limiters.iter().map(|l| l.num_requeues(key)).max().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ExponentialBackoff, FastSlow};

    #[test]
    fn max_of_returns_the_longest_delay_and_the_largest_count() {
        let limiter = MaxOf::new()
            .with(ExponentialBackoff::new(
                Duration::from_millis(1),
                Duration::from_secs(1),
            ))
            .with(FastSlow::new(Duration::from_millis(3), Duration::from_millis(50), 1));
        let ms = Duration::from_millis;
        let delays: Vec<_> = (0..4).map(|_| limiter.when(&"k")).collect();
        // exponential: 1, 2, 4, 8; fast-slow: 3, 50, 50, 50.
        assert_eq!(delays, [ms(3), ms(50), ms(50), ms(50)]);
        assert_eq!(limiter.num_requeues(&"k"), 4);
        limiter.forget(&"k");
        assert_eq!(limiter.num_requeues(&"k"), 0);
        assert_eq!(limiter.when(&"k"), ms(3));
    }

    #[test]
    fn an_empty_max_of_never_delays() {
        let limiter = MaxOf::<u8>::new();
        assert_eq!(limiter.when(&1), Duration::ZERO);
        assert_eq!(limiter.num_requeues(&1), 0);
    }
}
