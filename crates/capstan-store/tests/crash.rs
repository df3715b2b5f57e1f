//! Crash test of the durable backend: a child process writes continuously and is SIGKILLed at random
//! moments; after each kill the store must reopen without repair, hold every write the child saw
//! acknowledged (at that revision or later), keep its revision counter, and accept writes again.
//!
//! The child is this test binary itself, re-executed with `CAPSTAN_CRASH_CHILD` set to the data
//! directory; it prints `ack <name> <revision>` for each acknowledged write, flushed at once.
//! Set `CAPSTAN_CRASH_SEED` to replay the kill timings of a failing run.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use capstan_core::k8s_openapi::api::coordination::v1::Lease;
use capstan_core::{ObjectKey, Resource, TypeKey};
use capstan_store::{DurableStore, Store, Subresource};
use serde_json::json;

const CHILD_ENV: &str = "CAPSTAN_CRASH_CHILD";
const TEST_NAME: &str = "acknowledged_writes_survive_sigkill";
const KILLS: usize = 24;
const WRITERS: usize = 8;

fn leases() -> TypeKey {
    Lease::type_key()
}

fn lease(name: &str, holder: &str, resource_version: Option<u64>) -> serde_json::Value {
    let mut object = json!({
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"holderIdentity": holder},
    });
    if let Some(rv) = resource_version {
        object["metadata"]["resourceVersion"] = json!(rv.to_string());
    }
    object
}

/// A small xorshift generator: the kill timings, replayable from the printed seed.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

#[test]
fn acknowledged_writes_survive_sigkill() {
    if let Ok(dir) = std::env::var(CHILD_ENV) {
        child(Path::new(&dir));
    }
    let seed = std::env::var("CAPSTAN_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(1)
                | 1
        });
    eprintln!("crash test seed: {seed} (CAPSTAN_CRASH_SEED={seed} replays the kill timings)");
    let mut rng = Rng(seed);
    let dir = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();

    // name -> the newest revision acknowledged for it, over every round.
    let mut acknowledged: HashMap<String, u64> = HashMap::new();
    let mut last_revision = 0;
    let started = Instant::now();
    for round in 0..KILLS {
        let mut child = Command::new(&exe)
            .args(["--exact", TEST_NAME, "--nocapture", "--test-threads=1"])
            .env(CHILD_ENV, dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (lines_tx, lines_rx) = mpsc::channel();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if lines_tx.send(line).is_err() {
                    break;
                }
            }
        });
        // Kill only once writes are flowing, at a random moment after the first acknowledgement.
        let first = lines_rx
            .iter()
            .find(|line| line.starts_with("ack "))
            .expect("the child exited before acknowledging a write");
        std::thread::sleep(Duration::from_millis(rng.below(120)));
        child.kill().unwrap(); // SIGKILL on unix
        child.wait().unwrap();
        reader.join().unwrap();

        let mut round_acks = 0;
        for line in std::iter::once(first).chain(lines_rx.try_iter()) {
            // A line cut by the kill has no revision and is skipped: it only weakens the check.
            let mut parts = line.split(' ');
            let (Some("ack"), Some(name), Some(Ok(revision)), None) = (
                parts.next(),
                parts.next(),
                parts.next().map(str::parse::<u64>),
                parts.next(),
            ) else {
                continue;
            };
            assert!(
                revision > last_revision,
                "round {round}: the child acknowledged revision {revision}, not after the revision {last_revision} the store had when it started"
            );
            let newest = acknowledged.entry(name.to_owned()).or_default();
            *newest = (*newest).max(revision);
            round_acks += 1;
        }
        assert!(round_acks > 0, "round {round}: no acknowledged write");
        last_revision = verify(dir.path(), round, &acknowledged, last_revision);
    }
    eprintln!(
        "crash test: {KILLS} kills, {} objects acknowledged, final revision {last_revision}, {:?}",
        acknowledged.len(),
        started.elapsed()
    );
}

/// Reopens the store after a kill and checks it; returns its revision after one more write.
fn verify(dir: &Path, round: usize, acknowledged: &HashMap<String, u64>, last_revision: u64) -> u64 {
    // A runtime per round: dropping it ends every task of the store, which closes the file.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let opened = Instant::now();
        let store = DurableStore::open(dir)
            .await
            .unwrap_or_else(|e| panic!("round {round}: the store does not reopen after SIGKILL: {e}"));
        let open_time = opened.elapsed();
        let revision = store.current_revision().await.unwrap();
        let newest_ack = acknowledged.values().copied().max().unwrap_or(0);
        assert!(
            revision >= newest_ack && revision >= last_revision,
            "round {round}: revision went back to {revision} (acknowledged up to {newest_ack}, before {last_revision})"
        );
        for (name, acked) in acknowledged {
            let stored = store
                .get(&leases(), &ObjectKey::new("default", name.as_str()))
                .await
                .unwrap_or_else(|e| panic!("round {round}: acknowledged write of {name} at {acked} is lost: {e}"));
            assert!(
                stored.revision() >= *acked,
                "round {round}: {name} is at revision {}, but revision {acked} was acknowledged",
                stored.revision()
            );
        }
        let written = store
            .create(&leases(), lease(&format!("parent-{round}"), "parent", None))
            .await
            .unwrap_or_else(|e| panic!("round {round}: the reopened store refuses writes: {e}"));
        assert!(
            written.revision() > revision,
            "round {round}: a new write did not get a new revision"
        );
        eprintln!(
            "round {round}: reopened at revision {revision} in {open_time:?}, {} objects checked",
            acknowledged.len()
        );
        written.revision()
    })
}

/// The child: writers that create leases and update them, printing each acknowledged write.
fn child(dir: &Path) -> ! {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let store = Arc::new(DurableStore::open(dir).await.unwrap());
        let revision = store.current_revision().await.unwrap();
        let mut tasks = Vec::new();
        for writer in 0..WRITERS {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                for n in 0u64.. {
                    let name = format!("r{revision}-w{writer}-{n}");
                    let created = store.create(&leases(), lease(&name, "a", None)).await.unwrap();
                    ack(&name, created.revision());
                    let updated = store
                        .update(
                            &leases(),
                            lease(&name, "b", Some(created.revision())),
                            Subresource::Main,
                        )
                        .await
                        .unwrap();
                    ack(&name, updated.revision());
                }
            }));
        }
        for task in tasks {
            task.await.unwrap();
        }
    });
    unreachable!("the writers never stop")
}

fn ack(name: &str, revision: u64) {
    let mut out = std::io::stdout().lock();
    // One write per line, so a kill cuts at most the last line.
    let line = format!("ack {name} {revision}\n");
    out.write_all(line.as_bytes()).unwrap();
    out.flush().unwrap();
}
