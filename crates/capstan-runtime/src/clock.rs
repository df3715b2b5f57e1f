//! The runtime's one reading of the monotonic clock.
//!
//! Every deadline, expiry and duration in the runtime (lease expiry, expectation timeouts,
//! reconcile times) is measured on **tokio's** clock, never the standard library's `Instant`, so
//! that paused-time tests and `capstan-testing`'s simulator control it. Code reads it through
//! [`now`], which keeps that choice in one place instead of depending on which `Instant` a file
//! happens to import.

use tokio::time::Instant;

/// The current instant on tokio's clock (frozen and advanced by hand under paused time).
pub(crate) fn now() -> Instant {
    Instant::now()
}
