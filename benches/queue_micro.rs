//! Criterion micro-benchmarks of the work-queue's single operations, for regressions:
//! `cargo bench --bench queue_micro`.

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use capstan_queue::{ExponentialBackoff, PrometheusMetrics, RateLimiter, WorkQueue};
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};

fn runtime() -> tokio::runtime::Runtime {
    match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => panic!("cannot build a tokio runtime: {error}"),
    }
}

fn keys(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("k-{i}")).collect()
}

fn add_get_done(c: &mut Criterion) {
    let rt = runtime();
    let mut group = c.benchmark_group("queue");
    group.bench_function("add+get+done (unique key)", |b| {
        let q = WorkQueue::<String>::new("micro");
        let mut n = 0u64;
        b.iter(|| {
            n += 1;
            q.add(format!("k-{n}"));
            let key = rt.block_on(q.get());
            if let Some(key) = key {
                q.done(&key);
            }
        });
    });
    group.bench_function("add (deduplicated)", |b| {
        let q = WorkQueue::<String>::new("micro");
        q.add("hot".to_string());
        b.iter(|| q.add(black_box("hot".to_string())));
    });
    group.bench_function("add 1000 then get+done 1000", |b| {
        b.iter_batched(
            || (WorkQueue::<String>::new("micro"), keys(1000)),
            |(q, keys)| {
                for key in keys {
                    q.add(key);
                }
                rt.block_on(async {
                    while !q.is_empty() {
                        if let Some(key) = q.get().await {
                            q.done(&key);
                        }
                    }
                });
            },
            BatchSize::SmallInput,
        );
    });
    group.bench_function("add_with_priority 1000 (4 levels) then drain", |b| {
        b.iter_batched(
            || (WorkQueue::<String>::new("micro"), keys(1000)),
            |(q, keys)| {
                for (i, key) in keys.into_iter().enumerate() {
                    q.add_with_priority(key, (i % 4) as i32);
                }
                rt.block_on(async {
                    while !q.is_empty() {
                        if let Some(key) = q.get().await {
                            q.done(&key);
                        }
                    }
                });
            },
            BatchSize::SmallInput,
        );
    });
    group.bench_function("add_after 1000 (1 ns) then drain", |b| {
        b.iter_batched(
            || (WorkQueue::<String>::new("micro"), keys(1000)),
            |(q, keys)| {
                rt.block_on(async {
                    for key in keys {
                        q.add_after(key, Duration::from_nanos(1));
                    }
                    for _ in 0..1000 {
                        if let Some(key) = q.get().await {
                            q.done(&key);
                        }
                    }
                });
            },
            BatchSize::SmallInput,
        );
    });
    group.bench_function("add+get+done with Prometheus metrics", |b| {
        let metrics = Arc::new(PrometheusMetrics::new());
        let q = rt.block_on(async { WorkQueue::<String>::builder("micro").metrics(metrics.clone()).build() });
        let mut n = 0u64;
        b.iter(|| {
            n += 1;
            q.add(format!("k-{n}"));
            let key = rt.block_on(q.get());
            if let Some(key) = key {
                q.done(&key);
            }
        });
    });
    group.finish();
}

fn limiters(c: &mut Criterion) {
    let limiter = ExponentialBackoff::<String>::default();
    let key = "k-1".to_string();
    c.bench_function("limiter/exponential when+forget", |b| {
        b.iter(|| {
            black_box(limiter.when(&key));
            limiter.forget(&key);
        });
    });
    let default = capstan_queue::default_rate_limiter::<String>();
    c.bench_function("limiter/default when+forget", |b| {
        b.iter(|| {
            black_box(default.when(&key));
            default.forget(&key);
        });
    });
}

criterion_group!(benches, add_get_done, limiters);
criterion_main!(benches);
