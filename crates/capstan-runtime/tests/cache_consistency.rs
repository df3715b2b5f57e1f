//! Property: after any workload of creates, updates, deletes and broken watches, once the cache has
//! caught up with the store's revision it holds exactly the store's objects (same keys, same
//! resourceVersions), and its namespace lists, owner index and user index agree with the store.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use capstan_runtime::Manager;
use capstan_store::{ListParams, MemoryStore, Store};
use common::*;
use proptest::prelude::*;

#[derive(Clone, Debug)]
enum Op {
    Create { ns: usize, name: usize, size: i64 },
    Update { ns: usize, name: usize, size: i64 },
    Delete { ns: usize, name: usize },
    CreateChild { ns: usize, owner: usize, name: usize },
    BreakWatches,
    Pause(u64),
}

const NAMESPACES: [&str; 2] = ["blue", "green"];

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..2usize, 0..6usize, 0..4i64).prop_map(|(ns, name, size)| Op::Create { ns, name, size }),
        3 => (0..2usize, 0..6usize, 0..4i64).prop_map(|(ns, name, size)| Op::Update { ns, name, size }),
        2 => (0..2usize, 0..6usize).prop_map(|(ns, name)| Op::Delete { ns, name }),
        2 => (0..2usize, 0..6usize, 0..4usize).prop_map(|(ns, owner, name)| Op::CreateChild { ns, owner, name }),
        1 => Just(Op::BreakWatches),
        1 => (0..400u64).prop_map(Op::Pause),
    ]
}

async fn run_workload(ops: Vec<Op>) -> Result<(), TestCaseError> {
    let inner = Arc::new(MemoryStore::new());
    let faulty = FaultyStore::new(inner.clone());
    let direct: Arc<dyn Store> = inner.clone();
    let mgr = Manager::new(faulty.clone());
    let widget_cache = mgr.cache::<Widget>();
    let gadget_cache = mgr.cache::<Gadget>();
    mgr.index::<Widget>("size", |w: &Widget| vec![w.spec.size.to_string()]);
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let run = tokio::spawn(mgr.run(async move {
        let _ = rx.await;
    }));
    tokio::time::sleep(Duration::from_millis(1)).await;

    for op in ops {
        match op {
            Op::Create { ns, name, size } => {
                let _ = widgets(&direct, NAMESPACES[ns])
                    .create(&widget(NAMESPACES[ns], &format!("w{name}"), size))
                    .await;
            }
            Op::Update { ns, name, size } => {
                let _ = widgets(&direct, NAMESPACES[ns])
                    .patch(&format!("w{name}"), &serde_json::json!({"spec": {"size": size}}))
                    .await;
            }
            Op::Delete { ns, name } => {
                let _ = widgets(&direct, NAMESPACES[ns])
                    .delete(&format!("w{name}"), &Default::default())
                    .await;
            }
            Op::CreateChild { ns, owner, name } => {
                if let Ok(Some(w)) = widgets(&direct, NAMESPACES[ns]).get_opt(&format!("w{owner}")).await {
                    let _ = gadgets(&direct, NAMESPACES[ns])
                        .create(&gadget_of(&w, &format!("g{name}")))
                        .await;
                }
            }
            Op::BreakWatches => faulty.break_watches(),
            Op::Pause(ms) => tokio::time::sleep(Duration::from_millis(ms)).await,
        }
    }

    let target = direct
        .current_revision()
        .await
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    let mut waited = 0;
    while widget_cache.revision().max(gadget_cache.revision()) < target {
        tokio::time::sleep(Duration::from_millis(50)).await;
        waited += 1;
        prop_assert!(waited < 2_000, "cache never caught up with revision {target}");
    }
    // Both kinds have caught up once each has seen the store's latest revision for its own writes.
    tokio::time::sleep(Duration::from_secs(1)).await;

    let listed = widgets(&direct, "")
        .list(&ListParams::default())
        .await
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    let store_view: Vec<_> = listed
        .items
        .iter()
        .map(|w| {
            (
                w.metadata.namespace.clone(),
                w.metadata.name.clone(),
                w.metadata.resource_version.clone(),
            )
        })
        .collect();
    let cache_view: Vec<_> = widget_cache
        .list()
        .iter()
        .map(|w| {
            (
                w.metadata.namespace.clone(),
                w.metadata.name.clone(),
                w.metadata.resource_version.clone(),
            )
        })
        .collect();
    prop_assert_eq!(&cache_view, &store_view);

    for ns in NAMESPACES {
        let in_ns: Vec<_> = widget_cache
            .list_namespace(ns)
            .iter()
            .map(|w| w.metadata.name.clone())
            .collect();
        let expected: Vec<_> = listed
            .items
            .iter()
            .filter(|w| w.metadata.namespace.as_deref() == Some(ns))
            .map(|w| w.metadata.name.clone())
            .collect();
        prop_assert_eq!(in_ns, expected);
    }

    let mut by_size: BTreeMap<i64, usize> = BTreeMap::new();
    for w in &listed.items {
        *by_size.entry(w.spec.size).or_default() += 1;
    }
    for size in 0..4i64 {
        let indexed = widget_cache.by_index("size", &size.to_string()).unwrap_or_default();
        prop_assert_eq!(indexed.len(), by_size.get(&size).copied().unwrap_or(0));
        prop_assert!(indexed.iter().all(|w| w.spec.size == size));
    }

    let children = gadgets(&direct, "")
        .list(&ListParams::default())
        .await
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    prop_assert_eq!(gadget_cache.len(), children.items.len());
    for g in &children.items {
        let owner_uid = g
            .metadata
            .owner_references
            .as_ref()
            .and_then(|r| r.first())
            .map(|r| r.uid.clone())
            .unwrap_or_default();
        let owned = gadget_cache.owned_by(&owner_uid);
        prop_assert!(owned.iter().any(|o| o.metadata.uid == g.metadata.uid));
    }

    let _ = tx.send(());
    run.await
        .map_err(|e| TestCaseError::fail(e.to_string()))?
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn caches_agree_with_the_store_after_any_workload(ops in proptest::collection::vec(op(), 1..60)) {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .start_paused(true)
            .build()
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        rt.block_on(run_workload(ops))?;
    }
}
