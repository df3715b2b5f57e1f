//! Unit tests of [`WorkQueue`]'s semantics, on a paused clock.

use std::future::Future;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use super::*;
use crate::{ExponentialBackoff, PrometheusMetrics};

/// Polls `get` once: `Some(Some(k))` a key, `Some(None)` shut down, `None` it would wait.
fn try_get<K: Clone + Eq + Hash + Send + Sync + 'static>(queue: &WorkQueue<K>) -> Option<Option<K>> {
    let mut future = std::pin::pin!(queue.get());
    match future.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(result) => Some(result),
        Poll::Pending => None,
    }
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[tokio::test(start_paused = true)]
async fn a_waiting_key_is_not_duplicated() {
    let q = WorkQueue::new("q");
    q.add("a");
    q.add("b");
    q.add("a");
    assert_eq!(q.len(), 2);
    assert_eq!(try_get(&q), Some(Some("a")));
    assert_eq!(try_get(&q), Some(Some("b")));
    assert_eq!(try_get(&q), None);
}

#[tokio::test(start_paused = true)]
async fn a_key_added_while_processing_comes_back_once_after_done() {
    let q = WorkQueue::new("q");
    q.add("a");
    assert_eq!(try_get(&q), Some(Some("a")));
    q.add("a");
    q.add("a");
    assert_eq!(q.len(), 0, "a dirty key does not wait while it is processed");
    assert_eq!(try_get(&q), None, "never handed to a second worker");
    q.done(&"a");
    assert_eq!(q.len(), 1);
    assert_eq!(try_get(&q), Some(Some("a")));
    q.done(&"a");
    assert_eq!(try_get(&q), None);
}

#[tokio::test(start_paused = true)]
async fn done_of_a_key_not_processing_is_ignored() {
    let q = WorkQueue::new("q");
    q.add(1);
    q.done(&1);
    q.done(&2);
    assert_eq!(q.len(), 1);
    assert_eq!(try_get(&q), Some(Some(1)));
}

#[tokio::test(start_paused = true)]
async fn priorities_go_first_and_a_raise_moves_a_waiting_key() {
    let q = WorkQueue::new("q");
    q.add("low");
    q.add("mid");
    q.add_with_priority("high", 10);
    q.add_with_priority("low", 5); // raised: now behind nothing at 5
    q.add_with_priority("high", 1); // lowering is ignored
    assert_eq!(q.len(), 3);
    let order: Vec<_> = std::iter::from_fn(|| try_get(&q).flatten()).collect();
    assert_eq!(order, ["high", "low", "mid"]);
}

#[tokio::test(start_paused = true)]
async fn a_dirty_key_keeps_its_highest_priority() {
    let q = WorkQueue::new("q");
    q.add("a");
    assert_eq!(try_get(&q), Some(Some("a")));
    q.add_with_priority("a", 3);
    q.add_with_priority("a", 1);
    q.add("b");
    q.done(&"a");
    assert_eq!(try_get(&q), Some(Some("a")));
}

#[tokio::test(start_paused = true)]
async fn delayed_keys_are_not_early_and_keep_the_earliest_deadline() {
    let q = WorkQueue::new("q");
    q.add_after("a", ms(100));
    q.add_after("a", ms(50));
    q.add_after("a", ms(80));
    q.add_after("b", ms(70));
    tokio::time::advance(ms(49)).await;
    assert_eq!(try_get(&q), None);
    tokio::time::advance(ms(1)).await;
    assert_eq!(try_get(&q), Some(Some("a")));
    q.done(&"a");
    tokio::time::advance(ms(19)).await;
    assert_eq!(try_get(&q), None);
    tokio::time::advance(ms(31)).await;
    assert_eq!(try_get(&q), Some(Some("b")));
    assert_eq!(
        try_get(&q),
        None,
        "the superseded 80 ms and 100 ms deadlines of a add nothing"
    );
}

#[tokio::test(start_paused = true)]
async fn a_blocked_get_wakes_when_a_delay_expires() {
    let q = WorkQueue::new("q");
    let start = Instant::now();
    q.add_after(7u32, ms(250));
    assert_eq!(q.get().await, Some(7));
    assert_eq!(start.elapsed(), ms(250));
}

#[tokio::test(start_paused = true)]
async fn a_get_that_blocks_after_a_delayed_add_wakes_at_its_deadline() {
    let q = WorkQueue::new("q");
    // Start the timer task and let it go idle with nothing delayed.
    q.add_after(1u32, ms(5));
    assert_eq!(q.get().await, Some(1));
    q.done(&1);
    tokio::task::yield_now().await;
    // No worker waits while this delayed add is recorded, so the timer is not woken for it...
    let start = Instant::now();
    q.add_after(2, ms(40));
    q.add_after(3, ms(30));
    // ...until a worker blocks: it must still be woken at the earliest deadline.
    let got = tokio::time::timeout(ms(1000), q.get()).await;
    assert_eq!(got.ok(), Some(Some(3)));
    assert_eq!(start.elapsed(), ms(30));
}

#[tokio::test(start_paused = true)]
async fn a_blocked_get_wakes_on_add_from_another_task() {
    let q = WorkQueue::new("q");
    let worker = tokio::spawn({
        let q = q.clone();
        async move { q.get().await }
    });
    tokio::task::yield_now().await;
    q.add("x");
    assert_eq!(worker.await.ok(), Some(Some("x")));
}

#[tokio::test(start_paused = true)]
async fn rate_limited_adds_follow_the_backoff_and_forget_resets_it() {
    let q = WorkQueue::builder("q")
        .rate_limiter(ExponentialBackoff::new(ms(5), ms(1000)))
        .build();
    let start = Instant::now();
    let mut seen = Vec::new();
    for _ in 0..3 {
        q.add_rate_limited("k");
        let key = q.get().await;
        seen.push(start.elapsed());
        q.done(&"k");
        assert_eq!(key, Some("k"));
    }
    assert_eq!(seen, [ms(5), ms(15), ms(35)]);
    assert_eq!(q.num_requeues(&"k"), 3);
    q.forget(&"k");
    assert_eq!(q.num_requeues(&"k"), 0);
    q.add_rate_limited("k");
    assert_eq!(q.get().await, Some("k"));
    assert_eq!(start.elapsed(), ms(40));
}

#[tokio::test(start_paused = true)]
async fn shut_down_stops_hand_outs_and_ignores_adds() {
    let q = WorkQueue::new("q");
    q.add(1);
    let waiting = tokio::spawn({
        let q = q.clone();
        async move {
            let first = q.get().await;
            (first, q.get().await)
        }
    });
    tokio::task::yield_now().await;
    q.shut_down();
    assert_eq!(waiting.await.ok(), Some((Some(1), None)));
    q.add(2);
    q.add_after(3, ms(1));
    assert!(q.is_shutting_down());
    assert_eq!(q.len(), 0);
    assert_eq!(q.get().await, None);
}

#[tokio::test(start_paused = true)]
async fn shut_down_with_drain_waits_for_every_key_in_processing() {
    let q = WorkQueue::new("q");
    q.add("a");
    q.add("b");
    q.add("c");
    let a = q.get().await;
    let b = q.get().await;
    let drain = tokio::spawn({
        let q = q.clone();
        async move { q.shut_down_with_drain().await }
    });
    tokio::time::sleep(ms(10)).await;
    assert!(!drain.is_finished());
    assert_eq!(q.get().await, None, "nothing new is handed out while draining");
    q.done(&"a");
    tokio::time::sleep(ms(10)).await;
    assert!(!drain.is_finished());
    q.done(&"b");
    assert!(drain.await.is_ok());
    assert_eq!((a, b), (Some("a"), Some("b")));
}

#[tokio::test(start_paused = true)]
async fn a_cancelled_get_passes_its_wake_up_on() {
    let q = WorkQueue::new("q");
    let mut first = Box::pin(q.get());
    let mut cx = Context::from_waker(Waker::noop());
    assert!(first.as_mut().poll(&mut cx).is_pending());
    let second = tokio::spawn({
        let q = q.clone();
        async move { q.get().await }
    });
    tokio::task::yield_now().await;
    q.add(5); // wakes `first`, the oldest waiter
    drop(first); // which gives up without taking the key
    assert_eq!(second.await.ok(), Some(Some(5)));
}

#[tokio::test(start_paused = true)]
async fn metrics_count_adds_depth_latency_work_and_retries() {
    let metrics = Arc::new(PrometheusMetrics::new());
    let q = WorkQueue::builder("jobs").metrics(metrics.clone()).build();
    q.add("a");
    q.add("a");
    q.add("b");
    tokio::time::advance(ms(3)).await;
    let a = q.get().await;
    tokio::time::advance(ms(2000)).await;
    tokio::time::sleep(ms(1)).await; // lets the timer task run its 500 ms report
    q.add_rate_limited("c");
    let text = metrics.render();
    assert!(text.contains(r#"workqueue_adds_total{name="jobs"} 2"#), "{text}");
    assert!(text.contains(r#"workqueue_depth{name="jobs"} 1"#), "{text}");
    assert!(text.contains(r#"workqueue_retries_total{name="jobs"} 1"#), "{text}");
    assert!(
        text.contains(r#"workqueue_queue_duration_seconds_bucket{name="jobs",le="0.01"} 1"#),
        "{text}"
    );
    assert!(
        text.contains(r#"workqueue_longest_running_processor_seconds{name="jobs"} 2"#),
        "{text}"
    );
    q.done(&"a");
    assert_eq!(a, Some("a"));
    let text = metrics.render();
    assert!(
        text.contains(r#"workqueue_work_duration_seconds_bucket{name="jobs",le="10"} 1"#),
        "{text}"
    );
}

#[test]
fn a_queue_works_without_a_runtime_for_immediate_adds() {
    let q = WorkQueue::new("q");
    q.add(1);
    q.add_after(2, Duration::ZERO);
    assert_eq!(try_get(&q), Some(Some(1)));
    assert_eq!(try_get(&q), Some(Some(2)));
}
