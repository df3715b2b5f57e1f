//! Leader election with two managers on one store: only the leader reconciles, a killed leader is
//! replaced within the lease duration, and a leader cut off from the store stops its controllers
//! before the other can take over. Nothing is ever reconciled by both at once.

mod common;

use std::sync::Arc;
use std::time::Duration;

use capstan_runtime::{
    Action, Context, Controller, Error, LeaderElectionConfig, Manager, ReconcileError, ReconcileRequest, Reconciler,
};
use capstan_store::{MemoryStore, Store};
use common::*;
use parking_lot::Mutex;
use tokio::time::Instant;

/// One reconcile: which manager ran it, when it started and (if it finished) when it ended.
#[derive(Clone, Debug)]
struct Span {
    manager: &'static str,
    start: Instant,
    end: Option<Instant>,
}

type Spans = Arc<Mutex<Vec<Span>>>;

/// Reconciles for 300 ms, then asks to run again in 500 ms: a controller that is always busy.
struct Busy {
    manager: &'static str,
    spans: Spans,
}

#[async_trait::async_trait]
impl Reconciler<Widget> for Busy {
    async fn reconcile(&self, _req: ReconcileRequest, _ctx: &Context<Widget>) -> Result<Action, ReconcileError> {
        let i = {
            let mut spans = self.spans.lock();
            spans.push(Span {
                manager: self.manager,
                start: Instant::now(),
                end: None,
            });
            spans.len() - 1
        };
        tokio::time::sleep(Duration::from_millis(300)).await;
        self.spans.lock()[i].end = Some(Instant::now());
        Ok(Action::requeue_after(Duration::from_millis(500)))
    }
}

fn manager(name: &'static str, store: Arc<dyn Store>, spans: &Spans) -> Manager {
    let mgr = Manager::new(store).with_leader_election(LeaderElectionConfig::new("widget-controller", name));
    mgr.add(Controller::<Widget>::new().concurrency(2).reconcile(Busy {
        manager: name,
        spans: spans.clone(),
    }));
    mgr
}

/// Asserts that no span of one manager overlaps a span of the other; an unfinished span lasts
/// until `open_until`.
fn assert_no_overlap(spans: &[Span], open_until: Instant) {
    for x in spans.iter().filter(|s| s.manager == "a") {
        for y in spans.iter().filter(|s| s.manager == "b") {
            let (xe, ye) = (x.end.unwrap_or(open_until), y.end.unwrap_or(open_until));
            assert!(xe <= y.start || ye <= x.start, "a {x:?} overlaps b {y:?}");
        }
    }
}

async fn setup() -> (Arc<MemoryStore>, Spans) {
    let inner = Arc::new(MemoryStore::new());
    let direct: Arc<dyn Store> = inner.clone();
    for name in ["one", "two", "three"] {
        widgets(&direct, "ns").create(&widget("ns", name, 1)).await.unwrap();
    }
    (inner, Spans::default())
}

#[tokio::test(start_paused = true)]
async fn a_killed_leader_is_replaced_within_the_lease_duration() {
    let (inner, spans) = setup().await;
    let a = manager("a", FaultyStore::new(inner.clone()), &spans);
    let b = manager("b", FaultyStore::new(inner.clone()), &spans);
    let (a_health, b_health) = (a.health(), b.health());
    let a_task = tokio::spawn(a.run(std::future::pending()));
    tokio::time::sleep(Duration::from_secs(1)).await;
    let b_task = tokio::spawn(b.run(std::future::pending()));
    tokio::time::sleep(Duration::from_secs(20)).await;
    assert!(a_health.is_leader() && !b_health.is_leader());
    assert!(b_health.is_ready(), "the standby keeps warm caches");
    assert!(spans.lock().iter().any(|s| s.manager == "a"));
    assert!(
        spans.lock().iter().all(|s| s.manager == "a"),
        "only the leader reconciles"
    );

    let killed = Instant::now();
    a_task.abort(); // a crash: no lease release, in-flight reconciles vanish
    eventually(Duration::from_secs(60), "b takes over", || {
        spans.lock().iter().any(|s| s.manager == "b")
    })
    .await;
    let first_b = spans
        .lock()
        .iter()
        .filter(|s| s.manager == "b")
        .map(|s| s.start)
        .min()
        .unwrap();
    let waited = first_b - killed;
    // b sees the last renewal at most one retry period late, and retries every 2 s after expiry.
    assert!(waited <= Duration::from_secs(15 + 2 * 2), "took over after {waited:?}");
    assert!(
        waited >= Duration::from_secs(15 - 2),
        "took over before the lease expired: {waited:?}"
    );
    assert!(b_health.is_leader());
    assert_no_overlap(&spans.lock(), killed);
    b_task.abort();
}

#[tokio::test(start_paused = true)]
async fn a_leader_that_cannot_renew_stops_before_the_other_takes_over() {
    let (inner, spans) = setup().await;
    let a_store = FaultyStore::new(inner.clone());
    let a = manager("a", a_store.clone(), &spans);
    let b = manager("b", FaultyStore::new(inner.clone()), &spans);
    let a_health = a.health();
    let a_task = tokio::spawn(a.run(std::future::pending()));
    tokio::time::sleep(Duration::from_secs(1)).await;
    let b_task = tokio::spawn(b.run(std::future::pending()));
    tokio::time::sleep(Duration::from_secs(10)).await;
    assert!(spans.lock().iter().all(|s| s.manager == "a"));

    let cut = Instant::now();
    a_store.fail_writes(true); // a can still read, but can no longer renew its lease
    let result = a_task.await.unwrap();
    let stepped_down = Instant::now();
    assert!(matches!(result, Err(Error::LeadershipLost(_))), "{result:?}");
    assert!(
        stepped_down - cut <= Duration::from_secs(10 + 2 + 3),
        "stepped down after {:?}",
        stepped_down - cut
    );
    assert!(!a_health.is_live() && !a_health.is_leader());

    eventually(Duration::from_secs(60), "b takes over", || {
        spans.lock().iter().any(|s| s.manager == "b")
    })
    .await;
    let spans = spans.lock().clone();
    let last_a = spans
        .iter()
        .filter(|s| s.manager == "a")
        .map(|s| s.end.unwrap_or(stepped_down))
        .max()
        .unwrap();
    let first_b = spans
        .iter()
        .filter(|s| s.manager == "b")
        .map(|s| s.start)
        .min()
        .unwrap();
    assert!(last_a <= stepped_down, "a reconciled after stepping down");
    assert!(stepped_down < first_b, "b started while a still ran");
    assert_no_overlap(&spans, stepped_down);
    b_task.abort();
}

#[tokio::test(start_paused = true)]
async fn a_clean_shutdown_releases_the_lease_for_an_immediate_takeover() {
    let (inner, spans) = setup().await;
    let a = manager("a", FaultyStore::new(inner.clone()), &spans);
    let b = manager("b", FaultyStore::new(inner.clone()), &spans);
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let a_task = tokio::spawn(a.run(async move {
        let _ = rx.await;
    }));
    tokio::time::sleep(Duration::from_secs(1)).await;
    let b_task = tokio::spawn(b.run(std::future::pending()));
    tokio::time::sleep(Duration::from_secs(5)).await;
    let _ = tx.send(());
    a_task.await.unwrap().unwrap();
    let released = Instant::now();
    eventually(Duration::from_secs(60), "b takes over", || {
        spans.lock().iter().any(|s| s.manager == "b")
    })
    .await;
    let first_b = spans
        .lock()
        .iter()
        .filter(|s| s.manager == "b")
        .map(|s| s.start)
        .min()
        .unwrap();
    assert!(
        first_b - released <= Duration::from_secs(3),
        "took {:?}",
        first_b - released
    );
    assert_no_overlap(&spans.lock(), released);
    b_task.abort();
}
