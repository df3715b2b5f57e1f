//! An overall token bucket.

use std::time::Duration;

use parking_lot::Mutex;
use tokio::time::Instant;

use super::{InvalidLimiter, RateLimiter};

/// An overall token bucket shared by all keys: `burst` tokens, refilled at `qps` per second. Each
/// `when` takes a token; when none is left it reserves the next one and returns the wait until it
/// is refilled, so that delays grow by `1/qps` per call while the bucket is empty (as
/// `golang.org/x/time/rate`'s reservations, which client-go uses). It does not track keys:
/// `forget` does nothing and `num_requeues` is 0.
#[doc(alias = "BucketRateLimiter")]
#[derive(Debug)]
pub struct TokenBucket {
    qps: f64,
    burst: f64,
    state: Mutex<Bucket>,
}

#[derive(Debug)]
struct Bucket {
    /// Tokens at `at`; negative when future tokens are reserved.
    tokens: f64,
    /// When `tokens` was last brought up to date; `None` before the first `when`.
    at: Option<Instant>,
}

impl Default for TokenBucket {
    /// client-go's default: 10 per second, burst 100.
    fn default() -> Self {
        TokenBucket {
            qps: 10.0,
            burst: 100.0,
            state: Mutex::new(Bucket {
                tokens: 100.0,
                at: None,
            }),
        }
    }
}

impl TokenBucket {
    /// A bucket of `burst` tokens refilled at `qps` tokens per second.
    pub fn new(qps: f64, burst: u32) -> Result<Self, InvalidLimiter> {
        if !(qps.is_finite() && qps > 0.0) {
            return Err(InvalidLimiter::Rate(qps));
        }
        if burst == 0 {
            return Err(InvalidLimiter::Burst);
        }
        let burst = f64::from(burst);
        Ok(TokenBucket {
            qps,
            burst,
            state: Mutex::new(Bucket {
                tokens: burst,
                at: None,
            }),
        })
    }

    fn take(&self) -> Duration {
        let now = crate::clock::now();
        let mut bucket = self.state.lock();
        if let Some(at) = bucket.at {
            let refilled = now.saturating_duration_since(at).as_secs_f64() * self.qps;
            bucket.tokens = (bucket.tokens + refilled).min(self.burst);
        }
        bucket.at = Some(now);
        bucket.tokens -= 1.0;
        if bucket.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::try_from_secs_f64(-bucket.tokens / self.qps).unwrap_or(Duration::MAX)
        }
    }
}

impl<K> RateLimiter<K> for TokenBucket {
    fn when(&self, _key: &K) -> Duration {
        self.take()
    }

    fn forget(&self, _key: &K) {}

    fn num_requeues(&self, _key: &K) -> u32 {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn burst_is_free_then_each_token_costs_one_over_qps() {
        let bucket = TokenBucket::new(10.0, 3).expect("valid parameters");
        let when = |b: &TokenBucket| RateLimiter::<()>::when(b, &());
        assert_eq!([when(&bucket), when(&bucket), when(&bucket)], [Duration::ZERO; 3]);
        assert_eq!(when(&bucket), Duration::from_millis(100));
        assert_eq!(when(&bucket), Duration::from_millis(200));
        tokio::time::advance(Duration::from_secs(1)).await;
        // 1 s refills 10 tokens: 2 repay the reservations, the bucket caps at 3.
        assert_eq!([when(&bucket), when(&bucket), when(&bucket)], [Duration::ZERO; 3]);
        assert_eq!(when(&bucket), Duration::from_millis(100));
    }

    #[test]
    fn invalid_parameters_are_rejected() {
        assert_eq!(TokenBucket::new(0.0, 1).err(), Some(InvalidLimiter::Rate(0.0)));
        assert!(matches!(TokenBucket::new(f64::NAN, 1), Err(InvalidLimiter::Rate(_))));
        assert_eq!(TokenBucket::new(1.0, 0).err(), Some(InvalidLimiter::Burst));
    }
}
