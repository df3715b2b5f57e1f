//! A watch that ends with `Gone` makes the reflector relist; the relist must report exactly what the
//! broken watch missed: no change lost, no object reconciled again for nothing.

mod common;

use std::sync::Arc;
use std::time::Duration;

use capstan_runtime::{Action, Context, Controller, Manager, ReconcileError, ReconcileRequest, Reconciler};
use capstan_store::{ListParams, MemoryStore, Store};
use common::*;
use parking_lot::Mutex;

/// Per reconcile: the key and the widget size the cache showed.
type Seen = Arc<Mutex<Vec<(String, Option<i64>)>>>;

/// Records, per reconcile, the key and the widget size the cache showed (None: gone).
struct Observe(Seen);

#[async_trait::async_trait]
impl Reconciler<Widget> for Observe {
    async fn reconcile(&self, req: ReconcileRequest, ctx: &Context<Widget>) -> Result<Action, ReconcileError> {
        let size = ctx.cache().get(&req.key).map(|w| w.spec.size);
        self.0.lock().push((req.key.to_string(), size));
        Ok(Action::done())
    }
}

fn seen(log: &Seen, key: &str) -> Vec<Option<i64>> {
    log.lock().iter().filter(|(k, _)| k == key).map(|(_, s)| *s).collect()
}

#[tokio::test(start_paused = true)]
async fn a_relist_after_gone_neither_loses_nor_duplicates_work() {
    let inner = Arc::new(MemoryStore::new());
    let faulty = FaultyStore::new(inner.clone());
    let direct: Arc<dyn Store> = inner.clone();
    for name in ["a", "b", "c", "d"] {
        widgets(&direct, "ns").create(&widget("ns", name, 1)).await.unwrap();
    }
    let log = Arc::new(Mutex::new(Vec::new()));
    let mgr = Manager::new(faulty.clone());
    mgr.add(
        Controller::<Widget>::new()
            .concurrency(2)
            .reconcile(Observe(log.clone())),
    );
    let cache = mgr.cache::<Widget>();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let run = tokio::spawn(mgr.run(async move {
        let _ = rx.await;
    }));
    eventually(Duration::from_secs(5), "initial reconciles", || log.lock().len() == 4).await;

    // The watch breaks; meanwhile the world changes behind the manager's back.
    faulty.break_watches();
    let api = widgets(&direct, "ns");
    api.patch("b", &serde_json::json!({"spec": {"size": 2}})).await.unwrap();
    api.delete("a", &Default::default()).await.unwrap();
    api.create(&widget("ns", "e", 5)).await.unwrap();

    eventually(Duration::from_secs(10), "relist caught up", || {
        cache.get(&key("ns", "e")).is_some() && cache.get(&key("ns", "a")).is_none()
    })
    .await;
    tokio::time::sleep(Duration::from_secs(30)).await;

    assert_eq!(seen(&log, "ns/a"), vec![Some(1), None], "the deletion was seen");
    assert_eq!(
        seen(&log, "ns/b"),
        vec![Some(1), Some(2)],
        "the missed update was seen once"
    );
    assert_eq!(
        seen(&log, "ns/c"),
        vec![Some(1)],
        "unchanged objects are not reconciled again"
    );
    assert_eq!(seen(&log, "ns/d"), vec![Some(1)]);
    assert_eq!(seen(&log, "ns/e"), vec![Some(5)], "the missed creation was seen once");

    // And the cache agrees with the store, object for object.
    let listed = api.list(&ListParams::default()).await.unwrap();
    let store_view: Vec<_> = listed
        .items
        .iter()
        .map(|w| (w.metadata.name.clone(), w.metadata.resource_version.clone()))
        .collect();
    let cache_view: Vec<_> = cache
        .list()
        .iter()
        .map(|w| (w.metadata.name.clone(), w.metadata.resource_version.clone()))
        .collect();
    assert_eq!(cache_view, store_view);

    // A second break with no change in between produces no reconcile at all.
    let before = log.lock().len();
    faulty.break_watches();
    tokio::time::sleep(Duration::from_secs(30)).await;
    assert_eq!(log.lock().len(), before);

    let _ = tx.send(());
    run.await.unwrap().unwrap();
}
