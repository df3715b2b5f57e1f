//! Store benchmarks: write throughput of the memory and durable backends (1, 16, 64 concurrent
//! writers, the durable one against the memory one in the same run), fsyncs per 1,000 writes, the
//! journal alone (one record per commit vs 64), watch fan-out to 1,000 watchers, and memory per
//! stored Pod. One line per figure; `cargo bench --bench store`. Method in BENCHMARKS.md.

use std::sync::Arc;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use capstan_core::{ObjectKey, Resource, TypeKey};
use capstan_store::{DurableStore, Journal, MemoryStore, Record, RedbJournal, Store, StoreOptions, Subresource};
use capstan_store::{WatchEvent, WatchParams};
use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use serde_json::{Value, json};

const WATCHERS: usize = 1_000;
const FANOUT_UPDATES: usize = 10_000;
const FANOUT_PODS: usize = 100;
const MEMORY_PODS: usize = 100_000;

fn pods() -> TypeKey {
    Pod::type_key()
}

/// A Pod of about 1 KiB of JSON, like one a ReplicaSet creates.
fn pod(name: &str) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": "default",
            "labels": {"app": "web", "tier": "frontend", "pod-template-hash": "5d4f8c7b9"},
            "annotations": {"capstan.dev/bench": "x"},
            "ownerReferences": [{
                "apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-5d4f8c7b9",
                "uid": "0b0c5d0e-8a8f-4d36-9a57-1f1e8d4c2b11", "controller": true, "blockOwnerDeletion": true
            }]
        },
        "spec": {
            "containers": [{
                "name": "web",
                "image": "registry.example.com/team/web:1.27.3",
                "ports": [{"containerPort": 8080, "name": "http", "protocol": "TCP"}],
                "env": [{"name": "MODE", "value": "production"}, {"name": "LOG_LEVEL", "value": "info"}],
                "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": "256Mi"}},
                "readinessProbe": {"httpGet": {"path": "/healthz", "port": 8080}, "periodSeconds": 5}
            }],
            "nodeName": "node-7",
            "terminationGracePeriodSeconds": 30
        },
        "status": {"phase": "Running", "podIP": "10.0.3.17", "hostIP": "192.168.1.7"}
    })
}

fn now_micros() -> u64 {
    static START: OnceLock<Instant> = OnceLock::new();
    START.get_or_init(Instant::now).elapsed().as_micros() as u64
}

fn rss_bytes() -> u64 {
    // /proc/self/statm: size resident shared ... in pages; the page size is 4 KiB on x86-64/aarch64
    // Linux as configured here (checked against VmRSS below).
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

fn percentile(sorted: &[u32], p: f64) -> u32 {
    if sorted.is_empty() {
        return 0;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// Creates `total` pods from `writers` concurrent tasks; returns writes per second.
async fn write_throughput(store: Arc<dyn Store>, writers: usize, total: usize, prefix: &str) -> f64 {
    let per_writer = total / writers;
    let started = Instant::now();
    let tasks: Vec<_> = (0..writers)
        .map(|w| {
            let store = store.clone();
            let prefix = prefix.to_owned();
            tokio::spawn(async move {
                let pods = pods();
                for i in 0..per_writer {
                    store.create(&pods, pod(&format!("{prefix}-w{w}-{i}"))).await.unwrap();
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    (per_writer * writers) as f64 / started.elapsed().as_secs_f64()
}

async fn bench_writes() {
    for (writers, memory_total, durable_total) in [(1, 50_000, 3_000), (16, 50_000, 16_000), (64, 64_000, 32_000)] {
        let memory: Arc<dyn Store> = Arc::new(MemoryStore::new());
        let memory_rate = write_throughput(memory, writers, memory_total, "m").await;
        println!("store/writes/memory/{writers} writers: {memory_rate:.0} writes/s ({memory_total} creates)");

        let dir = tempfile::tempdir().unwrap();
        let durable = Arc::new(DurableStore::open(dir.path()).await.unwrap());
        let fsyncs_before = durable.fsync_count();
        let durable_rate = write_throughput(durable.clone(), writers, durable_total, "d").await;
        let fsyncs = durable.fsync_count() - fsyncs_before;
        println!("store/writes/durable/{writers} writers: {durable_rate:.0} writes/s ({durable_total} creates)");
        println!(
            "store/writes/durable/{writers} writers: {:.1} fsyncs per 1,000 writes",
            fsyncs as f64 * 1000.0 / durable_total as f64
        );
        println!(
            "store/writes/ratio durable/memory/{writers} writers: {:.3} (memory is {:.1}x faster)",
            durable_rate / memory_rate,
            memory_rate / durable_rate
        );
        Arc::into_inner(durable).unwrap().close().await;
    }
}

/// The journal alone: commits per second with one record per commit and with 64.
async fn bench_journal() {
    for per_commit in [1usize, 64] {
        let dir = tempfile::tempdir().unwrap();
        let (journal, _) = RedbJournal::open(dir.path()).unwrap();
        let commits = if per_commit == 1 { 1_000 } else { 300 };
        let mut revision = 0;
        let started = Instant::now();
        for _ in 0..commits {
            let records = (0..per_commit)
                .map(|i| {
                    revision += 1;
                    Record {
                        revision,
                        type_key: pods(),
                        key: ObjectKey::new("default", format!("p{i}")),
                        object: Some(pod(&format!("p{i}"))),
                    }
                })
                .collect();
            journal.append(records).await.unwrap();
        }
        let elapsed = started.elapsed().as_secs_f64();
        println!(
            "store/journal/{per_commit} per commit: {:.0} commits/s, {:.0} records/s",
            commits as f64 / elapsed,
            (commits * per_commit) as f64 / elapsed
        );
    }
}

/// 1,000 watchers of Pods while 10,000 updates are written, either as fast as one writer can or
/// paced at `rate` updates per second. Checks every watcher got every update.
async fn bench_fanout(rate: Option<u64>) {
    let store = Arc::new(MemoryStore::with_options(StoreOptions {
        watch_buffer: 16_384,
        history_limit: 20_000,
        ..Default::default()
    }));
    for i in 0..FANOUT_PODS {
        store.create(&pods(), pod(&format!("fan-{i}"))).await.unwrap();
    }
    let from = store.current_revision().await.unwrap();
    let mut watchers = Vec::with_capacity(WATCHERS);
    for _ in 0..WATCHERS {
        let params = WatchParams {
            from_revision: from,
            ..Default::default()
        };
        let mut stream = store.watch(&pods(), &params).await.unwrap();
        watchers.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(FANOUT_UPDATES);
            while latencies.len() < FANOUT_UPDATES {
                match stream.next().await {
                    Some(Ok(WatchEvent::Modified(object))) => {
                        let sent = object.json()["metadata"]["annotations"]["capstan.dev/sent"]
                            .as_str()
                            .and_then(|s| s.parse::<u64>().ok())
                            .unwrap_or(0);
                        latencies.push(now_micros().saturating_sub(sent) as u32);
                    }
                    Some(Ok(_)) => {}
                    Some(Err(e)) => panic!("a watcher was ended: {e}"),
                    None => panic!("a watch stream ended early"),
                }
            }
            latencies
        }));
    }
    let started = Instant::now();
    let mut ticker = rate.map(|r| tokio::time::interval(Duration::from_nanos(1_000_000_000 / r)));
    for n in 0..FANOUT_UPDATES {
        if let Some(ticker) = &mut ticker {
            ticker.tick().await;
        }
        let mut object = pod(&format!("fan-{}", n % FANOUT_PODS));
        object["metadata"]["annotations"]["capstan.dev/sent"] = json!(now_micros().to_string());
        store.update(&pods(), object, Subresource::Main).await.unwrap();
    }
    let writes_done = started.elapsed();
    let mut all = Vec::with_capacity(WATCHERS * FANOUT_UPDATES);
    for watcher in watchers {
        all.extend(watcher.await.unwrap());
    }
    let elapsed = started.elapsed();
    all.sort_unstable();
    let mode = match rate {
        Some(r) => format!("paced {r} updates/s"),
        None => "burst".to_owned(),
    };
    println!(
        "store/fanout/{mode}: {} of {} events delivered to {WATCHERS} watchers",
        all.len(),
        WATCHERS * FANOUT_UPDATES
    );
    println!(
        "store/fanout/{mode}: latency p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        percentile(&all, 0.50) as f64 / 1000.0,
        percentile(&all, 0.99) as f64 / 1000.0,
        percentile(&all, 1.0) as f64 / 1000.0
    );
    println!(
        "store/fanout/{mode}: {:.0} events/s delivered in total ({FANOUT_UPDATES} updates written in {:.0} ms, all delivered in {:.0} ms)",
        all.len() as f64 / elapsed.as_secs_f64(),
        writes_done.as_secs_f64() * 1000.0,
        elapsed.as_secs_f64() * 1000.0
    );
}

/// Resident memory per stored Pod at 100,000 Pods (history retention at its default).
async fn bench_memory() {
    let before = rss_bytes();
    let store = MemoryStore::new();
    for i in 0..MEMORY_PODS {
        store.create(&pods(), pod(&format!("mem-{i}"))).await.unwrap();
    }
    let after = rss_bytes();
    let json_bytes = serde_json::to_vec(&pod("mem-50000")).map(|v| v.len()).unwrap_or(0);
    println!(
        "store/memory/{MEMORY_PODS} pods: {:.0} bytes per stored Pod (RSS +{:.1} MiB; the Pod is {json_bytes} bytes as JSON; {} objects)",
        after.saturating_sub(before) as f64 / MEMORY_PODS as f64,
        after.saturating_sub(before) as f64 / (1024.0 * 1024.0),
        store.len()
    );
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    // `cargo bench --bench store -- fanout` runs only the groups whose name contains an argument.
    let filters: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with('-')).collect();
    let wanted = |group: &str| filters.is_empty() || filters.iter().any(|f| group.contains(f.as_str()));
    now_micros();
    runtime.block_on(async {
        // First, while the heap is fresh, so RSS growth is the store's.
        if wanted("memory") {
            bench_memory().await;
        }
        if wanted("writes") {
            bench_writes().await;
        }
        if wanted("journal") {
            bench_journal().await;
        }
        if wanted("fanout") {
            bench_fanout(None).await;
            bench_fanout(Some(2_000)).await;
        }
    });
}
