//! The queue's one reading of the clock: tokio's, so tests and the simulator can pause and advance time
//! and delayed keys become due exactly when virtual time says so.

use tokio::time::Instant;

/// Now, by tokio's clock (paused in tests with `start_paused`).
pub(crate) fn now() -> Instant {
    Instant::now()
}
