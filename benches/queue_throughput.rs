//! Work-queue throughput: scenarios A–E against same-run channel baselines, the waiting-keys curve and
//! the memory per waiting key. Run with `cargo bench --bench queue_throughput` (add `-- --peer` for the
//! five scenario lines only, as `benches/peers/run` does).
//!
//! Rules, identical in `benches/peers/client-go/main.go`: an op is one key through add → get → done;
//! producers and workers are tasks on a multi-threaded tokio runtime with 2 worker threads, started
//! together; producers run for 2 s, then the queue drains, and the rate is keys done divided by the time
//! from the start to the last done. Producers pause (yield) while more than 10,000 keys are added but not
//! done, and yield every 64 adds so that workers share the two threads. Keys are `k-<n>` strings
//! formatted inside the producer loop.
//! - A: 1 producer, 1 worker, unique keys.
//! - B: 4 producers, 4 workers, unique keys.
//! - C: 4 producers, 4 workers, each cycling through the same 1,000 hot keys from its own offset
//!   (dedup keeps at most 1,000 keys queued, so the pause rule never applies): processed/s and adds/s.
//! - D: 4 producers calling `add_rate_limited` (exponential limiter, 1 ns base, 1 s cap), 4 workers
//!   doing get, forget, done.
//! - E: 1 producer, 4 workers, `add_after` with delays uniform in 0–1 ms (seed 42) for 100,000 keys on
//!   a fresh queue; the rate is 100,000 over the time until all are done. The pause rule applies here
//!   too, as the issue states it for every scenario (until this was fixed, E ran without it).
//!
//! Baselines in the same run carry the same keys without dedup through an unbounded
//! `tokio::sync::mpsc` channel (workers share the receiver behind a `tokio::sync::Mutex`) and an
//! unbounded `crossbeam-channel` (workers poll `try_recv` and yield when empty), with the same
//! producer/worker shapes: 1×1 for A, 4×4 for B/C/D, 1×4 with 100,000 keys for E.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use capstan_queue::{ExponentialBackoff, WorkQueue};
use rand::{Rng, SeedableRng, rngs::StdRng};
use tokio::sync::mpsc;

const PRODUCE_FOR: Duration = Duration::from_secs(2);
const MAX_OUTSTANDING: i64 = 10_000;
const YIELD_EVERY: u64 = 64;
const HOT_KEYS: u64 = 1_000;
const DELAYED_KEYS: u64 = 100_000;

/// Counts live heap bytes (when enabled) to measure memory per waiting key.
struct CountingAlloc;

static COUNTING: AtomicBool = AtomicBool::new(false);
static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTING.load(Relaxed) {
            let live = LIVE.fetch_add(layout.size(), Relaxed) + layout.size();
            PEAK.fetch_max(live, Relaxed);
        }
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if COUNTING.load(Relaxed) {
            LIVE.fetch_sub(layout.size(), Relaxed);
        }
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

#[derive(Clone, Copy, PartialEq)]
enum Keys {
    /// `k-<n>`, n unique across producers, for 2 s.
    Unique,
    /// 1,000 hot keys, each producer from its own offset, for 2 s.
    Hot,
    /// 100,000 unique keys, each added after a random delay in 0–1 ms.
    Delayed,
}

#[derive(Clone)]
enum Tx {
    Queue(WorkQueue<String>),
    RateLimited(WorkQueue<String>),
    Mpsc(mpsc::UnboundedSender<String>),
    Crossbeam(crossbeam_channel::Sender<String>),
}

impl Tx {
    fn send(&self, key: String, delay: Duration) {
        match self {
            Tx::Queue(q) if delay.is_zero() => q.add(key),
            Tx::Queue(q) => q.add_after(key, delay),
            Tx::RateLimited(q) => q.add_rate_limited(key),
            Tx::Mpsc(tx) => drop(tx.send(key)),
            Tx::Crossbeam(tx) => drop(tx.send(key)),
        }
    }
}

#[derive(Clone)]
enum Rx {
    Queue(WorkQueue<String>),
    Forgetting(WorkQueue<String>),
    Mpsc(Arc<tokio::sync::Mutex<mpsc::UnboundedReceiver<String>>>),
    Crossbeam(crossbeam_channel::Receiver<String>),
}

impl Rx {
    async fn next(&self) -> Option<String> {
        match self {
            Rx::Queue(q) | Rx::Forgetting(q) => q.get().await,
            Rx::Mpsc(rx) => rx.lock().await.recv().await,
            Rx::Crossbeam(rx) => loop {
                match rx.try_recv() {
                    Ok(key) => return Some(key),
                    Err(crossbeam_channel::TryRecvError::Empty) => tokio::task::yield_now().await,
                    Err(crossbeam_channel::TryRecvError::Disconnected) => return None,
                }
            },
        }
    }

    fn done(&self, key: &String) {
        match self {
            Rx::Queue(q) => q.done(key),
            Rx::Forgetting(q) => {
                q.forget(key);
                q.done(key);
            }
            Rx::Mpsc(_) | Rx::Crossbeam(_) => {}
        }
    }
}

#[derive(Default)]
struct Counters {
    outstanding: AtomicI64,
    added: AtomicU64,
    done: AtomicU64,
    /// Keys taken by a worker and not yet done (for the hot-key drain check).
    in_hand: AtomicI64,
    stop: AtomicBool,
    /// Number of dones that ends the run, once known.
    total: AtomicU64,
    end: OnceLock<Instant>,
}

struct Outcome {
    done: u64,
    added: u64,
    secs: f64,
}

impl Outcome {
    fn rate(&self) -> f64 {
        self.done as f64 / self.secs
    }
}

async fn produce(tx: Tx, c: Arc<Counters>, keys: Keys, p: u64, producers: u64) {
    let mut rng = StdRng::seed_from_u64(42);
    let mut i = 0u64;
    loop {
        if keys == Keys::Delayed && i == DELAYED_KEYS {
            return;
        }
        if keys != Keys::Delayed && c.stop.load(Relaxed) {
            return;
        }
        if keys != Keys::Hot && c.outstanding.load(Relaxed) > MAX_OUTSTANDING {
            tokio::task::yield_now().await;
            continue;
        }
        let (key, delay) = match keys {
            Keys::Unique => (format!("k-{}", i * producers + p), Duration::ZERO),
            Keys::Hot => (
                format!("k-{}", (p * HOT_KEYS / producers + i) % HOT_KEYS),
                Duration::ZERO,
            ),
            Keys::Delayed => (format!("k-{i}"), Duration::from_nanos(rng.random_range(0..1_000_000))),
        };
        c.outstanding.fetch_add(1, Relaxed);
        tx.send(key, delay);
        c.added.fetch_add(1, Relaxed);
        i += 1;
        if i.is_multiple_of(YIELD_EVERY) {
            tokio::task::yield_now().await;
        }
    }
}

async fn work(rx: Rx, c: Arc<Counters>) {
    while let Some(key) = rx.next().await {
        c.in_hand.fetch_add(1, Relaxed);
        rx.done(&key);
        c.in_hand.fetch_sub(1, Relaxed);
        c.outstanding.fetch_sub(1, Relaxed);
        let done = c.done.fetch_add(1, Relaxed) + 1;
        if done == c.total.load(Relaxed) {
            let _ = c.end.set(Instant::now());
        }
    }
}

/// Runs one scenario shape; `close` ends the workers once everything is done.
async fn run(tx: Tx, rx: Rx, producers: u64, workers: u64, keys: Keys, queue: Option<WorkQueue<String>>) -> Outcome {
    let c = Arc::new(Counters {
        total: AtomicU64::new(u64::MAX),
        ..Counters::default()
    });
    if keys == Keys::Delayed {
        c.total.store(DELAYED_KEYS, Relaxed);
    }
    let start = Instant::now();
    let worker_tasks: Vec<_> = (0..workers)
        .map(|_| tokio::spawn(work(rx.clone(), c.clone())))
        .collect();
    let producer_tasks: Vec<_> = (0..producers)
        .map(|p| tokio::spawn(produce(tx.clone(), c.clone(), keys, p, producers)))
        .collect();
    drop(rx);
    if keys != Keys::Delayed {
        tokio::time::sleep(PRODUCE_FOR).await;
        c.stop.store(true, Relaxed);
    }
    for task in producer_tasks {
        let _ = task.await;
    }
    let end = if keys == Keys::Hot {
        // Dedup makes the number of dones unknown: wait until nothing waits or is in hand, twice.
        let mut quiet = 0;
        let mut last = u64::MAX;
        loop {
            let done = c.done.load(Relaxed);
            let idle = queue.as_ref().is_some_and(|q| q.is_empty()) && c.in_hand.load(Relaxed) == 0;
            quiet = if idle && done == last { quiet + 1 } else { 0 };
            if quiet == 2 {
                break Instant::now();
            }
            last = done;
            tokio::time::sleep(Duration::from_micros(500)).await;
        }
    } else {
        if keys == Keys::Unique {
            c.total.store(c.added.load(Relaxed), Relaxed);
        }
        loop {
            if let Some(end) = c.end.get() {
                break *end;
            }
            if c.done.load(Relaxed) >= c.total.load(Relaxed) {
                break Instant::now();
            }
            tokio::time::sleep(Duration::from_micros(200)).await;
        }
    };
    drop(tx);
    if let Some(q) = &queue {
        q.shut_down();
    }
    for task in worker_tasks {
        let _ = task.await;
    }
    Outcome {
        done: c.done.load(Relaxed),
        added: c.added.load(Relaxed),
        secs: (end - start).as_secs_f64(),
    }
}

async fn capstan(scenario: char) -> Outcome {
    match scenario {
        'A' | 'B' | 'C' | 'E' => {
            let q = WorkQueue::new("bench");
            let (p, w, keys) = match scenario {
                'A' => (1, 1, Keys::Unique),
                'B' => (4, 4, Keys::Unique),
                'C' => (4, 4, Keys::Hot),
                _ => (1, 4, Keys::Delayed),
            };
            run(Tx::Queue(q.clone()), Rx::Queue(q.clone()), p, w, keys, Some(q)).await
        }
        _ => {
            let limiter = ExponentialBackoff::new(Duration::from_nanos(1), Duration::from_secs(1));
            let q = WorkQueue::builder("bench").rate_limiter(limiter).build();
            run(
                Tx::RateLimited(q.clone()),
                Rx::Forgetting(q.clone()),
                4,
                4,
                Keys::Unique,
                Some(q),
            )
            .await
        }
    }
}

async fn baseline(channel: &str, producers: u64, workers: u64, keys: Keys) -> Outcome {
    if channel == "mpsc" {
        let (tx, rx) = mpsc::unbounded_channel();
        run(
            Tx::Mpsc(tx),
            Rx::Mpsc(Arc::new(tokio::sync::Mutex::new(rx))),
            producers,
            workers,
            keys,
            None,
        )
        .await
    } else {
        let (tx, rx) = crossbeam_channel::unbounded();
        run(Tx::Crossbeam(tx), Rx::Crossbeam(rx), producers, workers, keys, None).await
    }
}

/// Steady-state single-task add → get → done with `waiting` keys always queued.
async fn curve_point(waiting: u64, ops: u64) -> f64 {
    let q = WorkQueue::<String>::new("curve");
    for n in 0..waiting {
        q.add(format!("k-{n}"));
    }
    let start = Instant::now();
    for n in waiting..waiting + ops {
        q.add(format!("k-{n}"));
        if let Some(key) = q.get().await {
            q.done(&key);
        }
    }
    ops as f64 / start.elapsed().as_secs_f64()
}

/// Peak heap bytes per waiting key with `n` keys waiting, and the part that is the key strings.
fn memory_per_key(n: u64) -> (f64, f64) {
    let q = WorkQueue::<String>::new("memory");
    let mut key_bytes = 0usize;
    LIVE.store(0, Relaxed);
    PEAK.store(0, Relaxed);
    COUNTING.store(true, Relaxed);
    for i in 0..n {
        let key = format!("k-{i}");
        key_bytes += key.capacity(); // the queue keeps one copy of each key
        q.add(key);
    }
    COUNTING.store(false, Relaxed);
    let peak = PEAK.load(Relaxed) as f64;
    drop(q);
    (peak / n as f64, key_bytes as f64 / n as f64)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let peer = args.iter().any(|a| a == "--peer");
    // `--only AB` runs just those scenarios (for profiling).
    let only: Option<String> = args
        .iter()
        .position(|a| a == "--only")
        .and_then(|i| args.get(i + 1).cloned());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build();
    let Ok(runtime) = runtime else {
        eprintln!("cannot build the tokio runtime");
        std::process::exit(1);
    };
    // `--curve N` runs just the waiting-keys point N (for profiling).
    let curve_only: Option<u64> = args
        .iter()
        .position(|a| a == "--curve")
        .and_then(|i| args.get(i + 1)?.parse().ok());
    runtime.block_on(async {
        if let Some(waiting) = curve_only {
            println!("curve waiting={waiting} {:.0}", curve_point(waiting, 1_000_000).await);
            return;
        }
        let mut rates = Vec::new();
        for scenario in ['A', 'B', 'C', 'D', 'E'] {
            if only.as_ref().is_some_and(|o| !o.contains(scenario)) {
                continue;
            }
            let outcome = capstan(scenario).await;
            println!("{scenario} {:.0}", outcome.rate());
            if scenario == 'C' {
                println!("C-adds {:.0}", outcome.added as f64 / outcome.secs);
            }
            if scenario == 'E' && !peer {
                println!("E-ms {:.1}", outcome.secs * 1e3);
            }
            rates.push((scenario, outcome.rate()));
        }
        if peer || only.is_some() {
            return;
        }
        let mut base = std::collections::HashMap::new();
        for (shape, p, w, keys) in [
            ("1x1", 1, 1, Keys::Unique),
            ("4x4", 4, 4, Keys::Unique),
            ("1x4-100k", 1, 4, Keys::Delayed),
        ] {
            for channel in ["mpsc", "crossbeam"] {
                let rate = baseline(channel, p, w, keys).await.rate();
                println!("{channel}-{shape} {rate:.0}");
                base.insert((channel, shape), rate);
            }
        }
        for (scenario, rate) in rates {
            let shape = match scenario {
                'A' => "1x1",
                'E' => "1x4-100k",
                _ => "4x4",
            };
            println!(
                "ratio {scenario} vs_mpsc={:.2} vs_crossbeam={:.2} (shape {shape})",
                rate / base[&("mpsc", shape)],
                rate / base[&("crossbeam", shape)]
            );
        }
        for waiting in [10, 100, 1_000, 10_000, 100_000, 1_000_000] {
            println!("curve waiting={waiting} {:.0}", curve_point(waiting, 1_000_000).await);
        }
        let (total, keys) = memory_per_key(1_000_000);
        println!("memory waiting=1000000 bytes_per_key={total:.1} of_which_key_strings={keys:.1}");
    });
}
