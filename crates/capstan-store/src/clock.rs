//! Wall-clock timestamps read through tokio's clock, so paused-time tests and the simulator see
//! `creationTimestamp`, `deletionTimestamp` and condition times move with virtual time.
//!
//! The wall time is sampled once, at the first call; afterwards `now()` is that sample plus the tokio
//! time elapsed since, so two calls never go backwards and `tokio::time::advance` moves it.

use std::sync::OnceLock;
use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::{SignedDuration, Timestamp};

/// The wall time and tokio instant of the first reading.
static ORIGIN: OnceLock<(Timestamp, tokio::time::Instant)> = OnceLock::new();

fn origin() -> (Timestamp, tokio::time::Instant) {
    *ORIGIN.get_or_init(|| {
        let since_epoch = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        let wall = i64::try_from(since_epoch.as_secs())
            .ok()
            .and_then(|s| Timestamp::new(s, since_epoch.subsec_nanos() as i32).ok())
            .unwrap_or(Timestamp::UNIX_EPOCH);
        (wall, tokio::time::Instant::now())
    })
}

/// The current time as a timestamp, advancing with tokio's clock.
pub fn now() -> Timestamp {
    let (wall, start) = origin();
    let elapsed = tokio::time::Instant::now().saturating_duration_since(start);
    let elapsed = SignedDuration::try_from(elapsed).unwrap_or(SignedDuration::MAX);
    wall.checked_add(elapsed).unwrap_or(wall)
}

/// The current time as a Kubernetes `metav1.Time` (seconds precision on the wire).
pub fn now_time() -> Time {
    Time(now())
}

/// How long ago `t` was, or zero when it is in the future.
pub fn since(t: Timestamp) -> Duration {
    let d = now().duration_since(t);
    Duration::try_from(d).unwrap_or(Duration::ZERO)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn timestamps_move_with_paused_tokio_time() {
        let a = now();
        tokio::time::advance(Duration::from_secs(90)).await;
        let b = now();
        let d = b.duration_since(a).as_secs();
        assert!((90..=91).contains(&d), "moved {d}s");
        assert!(since(a) >= Duration::from_secs(90));
    }
}
