//! A rate-limited, deduplicating work-queue of keys: the queue every Capstan controller runs on.
//!
//! Controller authors rarely touch it directly (the runtime feeds it from watches and drives the
//! workers); read it when you write your own worker loop, tune retries, or test a controller's
//! queueing. Start with [`WorkQueue`]; then [`RateLimiter`] for retry delays and [`MetricsProvider`]
//! for metrics. The semantics are client-go's `workqueue` (dedup, one worker per key, dirty keys
//! requeued after `done`, delayed and rate-limited adds, shutdown with drain), plus priorities. The
//! crate knows nothing about objects: keys only. Time comes from `tokio::time` only, so tests can
//! pause the clock and advance it exactly.
//!
//! ```
//! use std::time::Duration;
//! use capstan_queue::WorkQueue;
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
//! let queue = WorkQueue::<String>::new("deployments");
//! queue.add("default/web".to_string());
//! queue.add("default/web".to_string()); // already waiting: deduplicated
//! queue.add_after("default/db".to_string(), Duration::from_secs(5));
//! assert_eq!(queue.len(), 1);
//!
//! let key = queue.get().await.unwrap();
//! assert_eq!(key, "default/web");
//! // Reconcile failed: retry later with per-key backoff (5 ms, 10 ms, ...).
//! queue.add_rate_limited(key.clone());
//! queue.done(&key);
//! assert_eq!(queue.num_requeues(&key), 1);
//!
//! let key = queue.get().await.unwrap(); // waits 5 ms on the paused clock
//! assert_eq!(key, "default/web");
//! queue.forget(&key); // success: reset its backoff
//! queue.done(&key);
//!
//! let key = queue.get().await.unwrap(); // waits until the 5 s delay of "default/db"
//! assert_eq!(key, "default/db");
//! queue.done(&key);
//! queue.shut_down();
//! assert_eq!(queue.get().await, None);
//! # }
//! ```
#![warn(missing_docs)]

mod clock;
mod delay;
mod keys;
mod limiter;
mod metrics;
mod queue;
mod ready;
mod state;

pub use limiter::{
    ExponentialBackoff, FastSlow, InvalidLimiter, MaxOf, RateLimiter, TokenBucket, default_rate_limiter,
};
pub use metrics::{MetricsProvider, PrometheusMetrics, QueueMetrics};
pub use queue::{WorkQueue, WorkQueueBuilder};
