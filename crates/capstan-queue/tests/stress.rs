//! Many real tasks on a multi-threaded runtime: no key is ever held by two workers at once, and
//! every add is followed by a hand-out of its key.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::SeqCst};
use std::time::Duration;

use capstan_queue::{ExponentialBackoff, WorkQueue};
use parking_lot::Mutex;

const KEYS: usize = 64;
const PRODUCERS: usize = 4;
const WORKERS: usize = 6;
const ADDS_PER_PRODUCER: usize = 20_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queue_never_hands_out_a_key_twice_and_loses_no_add() {
    let queue: WorkQueue<usize> = WorkQueue::builder("stress")
        .rate_limiter(ExponentialBackoff::new(
            Duration::from_micros(10),
            Duration::from_millis(2),
        ))
        .build();
    let clock = Arc::new(AtomicU64::new(1));
    // Per key: the clock value just before its latest add, and just after its latest hand-out.
    let last_add: Arc<Vec<AtomicU64>> = Arc::new((0..KEYS).map(|_| AtomicU64::new(0)).collect());
    let last_start: Arc<Vec<AtomicU64>> = Arc::new((0..KEYS).map(|_| AtomicU64::new(0)).collect());
    let in_flight = Arc::new(Mutex::new(HashSet::new()));
    let violations = Arc::new(AtomicUsize::new(0));

    let mut workers = Vec::new();
    for w in 0..WORKERS {
        let (queue, clock, last_start, in_flight, violations) = (
            queue.clone(),
            clock.clone(),
            last_start.clone(),
            in_flight.clone(),
            violations.clone(),
        );
        workers.push(tokio::spawn(async move {
            let mut handled = 0u64;
            while let Some(key) = queue.get().await {
                last_start[key].store(clock.fetch_add(1, SeqCst), SeqCst);
                if !in_flight.lock().insert(key) {
                    violations.fetch_add(1, SeqCst);
                }
                if handled % 7 == w as u64 {
                    tokio::task::yield_now().await;
                }
                in_flight.lock().remove(&key);
                if handled.is_multiple_of(3) {
                    queue.forget(&key);
                }
                queue.done(&key);
                handled += 1;
            }
            handled
        }));
    }
    let mut producers = Vec::new();
    for p in 0..PRODUCERS {
        let (queue, clock, last_add) = (queue.clone(), clock.clone(), last_add.clone());
        producers.push(tokio::spawn(async move {
            for i in 0..ADDS_PER_PRODUCER {
                let key = (i * 31 + p * 17) % KEYS;
                last_add[key].fetch_max(clock.fetch_add(1, SeqCst), SeqCst);
                match i % 5 {
                    0 => queue.add_after(key, Duration::from_micros((i % 300) as u64)),
                    1 => queue.add_rate_limited(key),
                    2 => queue.add_with_priority(key, (i % 4) as i32),
                    _ => queue.add(key),
                }
                if i % 64 == 0 {
                    tokio::task::yield_now().await;
                }
            }
        }));
    }
    for producer in producers {
        producer.await.expect("producer panicked");
    }
    // Let delayed and rate-limited adds fall due and the workers finish.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        tokio::time::sleep(Duration::from_millis(20)).await;
        let owed = (0..KEYS)
            .filter(|&k| last_start[k].load(SeqCst) < last_add[k].load(SeqCst))
            .count();
        if owed == 0 && queue.is_empty() && in_flight.lock().is_empty() {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{owed} keys were added but never handed out again"
        );
    }
    queue.shut_down_with_drain().await;
    let mut handled = 0;
    for worker in workers {
        handled += worker.await.expect("worker panicked");
    }
    assert_eq!(violations.load(SeqCst), 0, "a key was held by two workers at once");
    assert!(handled >= KEYS as u64, "handled {handled}");
}
