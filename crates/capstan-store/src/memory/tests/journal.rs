//! The journal seam: group commit, durability before visibility, failure handling and recovery,
//! against an in-memory journal that records what it was given.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use capstan_core::{ObjectKey, TypeKey};
use futures::StreamExt;
use serde_json::{Value, json};

use super::*;
use crate::journal::{Record, Recovered};

/// A journal in memory: keeps every appended batch, optionally slow or failing.
#[derive(Default)]
struct FakeJournal {
    batches: Mutex<Vec<Vec<Record>>>,
    compacted: AtomicU64,
    fail: AtomicBool,
    delay_ms: AtomicU64,
}

#[async_trait::async_trait]
impl Journal for FakeJournal {
    async fn append(&self, records: Vec<Record>) -> Result<()> {
        let delay = self.delay_ms.load(Ordering::SeqCst);
        if delay > 0 {
            tokio::time::sleep(Duration::from_millis(delay)).await;
        }
        if self.fail.load(Ordering::SeqCst) {
            return Err(StoreError::Unavailable("disk on fire".into()));
        }
        self.batches.lock().push(records);
        Ok(())
    }

    async fn compact(&self, revision: Revision) -> Result<()> {
        self.compacted.fetch_max(revision, Ordering::SeqCst);
        Ok(())
    }

    fn commits(&self) -> u64 {
        self.batches.lock().len() as u64
    }
}

impl FakeJournal {
    /// Everything appended, in order.
    fn records(&self) -> Vec<Record> {
        self.batches.lock().iter().flatten().cloned().collect()
    }

    /// What a real journal would give back on reopen, keeping history after `history_start`.
    fn recovered(&self, history_start: Revision) -> Recovered {
        let records = self.records();
        let mut live: BTreeMap<(TypeKey, ObjectKey), Record> = BTreeMap::new();
        for r in &records {
            let id = (r.type_key.clone(), r.key.clone());
            if r.object.is_some() {
                live.insert(id, r.clone());
            } else {
                live.remove(&id);
            }
        }
        Recovered {
            revision: records.last().map_or(0, |r| r.revision),
            objects: live.into_values().collect(),
            history: records.into_iter().filter(|r| r.revision > history_start).collect(),
            history_start,
        }
    }
}

fn widgets() -> TypeKey {
    TypeKey::new("example.com", "v1", "Widget", "widgets", true)
}

fn widget(name: &str) -> Value {
    json!({"metadata": {"name": name, "namespace": "ns"}, "spec": {"size": 1}})
}

fn open(journal: &Arc<FakeJournal>, recovered: Recovered) -> MemoryStore {
    MemoryStore::recover(journal.clone(), recovered, StoreOptions::default()).unwrap()
}

/// Writes a small history: creates, an update, a delete.
async fn write_history(store: &MemoryStore) {
    for name in ["a", "b", "c"] {
        store.create(&widgets(), widget(name)).await.unwrap();
    }
    let mut b = store
        .get(&widgets(), &ObjectKey::new("ns", "b"))
        .await
        .unwrap()
        .json()
        .clone();
    b["spec"]["size"] = json!(2);
    store.update(&widgets(), b, Subresource::Main).await.unwrap();
    store
        .delete(&widgets(), &ObjectKey::new("ns", "a"), &DeleteParams::default())
        .await
        .unwrap();
}

async fn events(store: &MemoryStore, from: Revision, count: usize) -> Result<Vec<(Revision, String)>> {
    let params = WatchParams {
        from_revision: from,
        ..Default::default()
    };
    let mut stream = store.watch(&widgets(), &params).await?;
    let mut out = Vec::new();
    while out.len() < count {
        let event = tokio::time::timeout(Duration::from_secs(5), stream.next())
            .await
            .map_err(|_| StoreError::Timeout("no event".into()))?
            .ok_or_else(|| StoreError::Unavailable("ended".into()))??;
        let kind = match &event {
            WatchEvent::Added(_) => "Added",
            WatchEvent::Modified(_) => "Modified",
            WatchEvent::Deleted(_) => "Deleted",
            WatchEvent::Bookmark(_) => continue,
        };
        out.push((event.revision(), format!("{kind} {}", event_key(&event))));
    }
    Ok(out)
}

fn event_key(event: &WatchEvent) -> String {
    match event {
        WatchEvent::Added(o) | WatchEvent::Modified(o) | WatchEvent::Deleted(o) => o.key().to_string(),
        WatchEvent::Bookmark(r) => r.to_string(),
    }
}

#[tokio::test]
async fn every_acknowledged_write_was_appended_first() {
    let journal = Arc::new(FakeJournal::default());
    let store = open(&journal, Recovered::default());
    write_history(&store).await;
    let records = journal.records();
    let revs: Vec<_> = records.iter().map(|r| r.revision).collect();
    assert_eq!(revs, [1, 2, 3, 4, 5]);
    assert!(records[4].object.is_none(), "a removal is journaled as None");
    assert_eq!(records[3].object.as_ref().unwrap()["spec"]["size"], 2);
    assert_eq!(records[3].object.as_ref().unwrap()["metadata"]["resourceVersion"], "4");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writers_share_one_append() {
    let journal = Arc::new(FakeJournal::default());
    journal.delay_ms.store(20, Ordering::SeqCst);
    let store = Arc::new(open(&journal, Recovered::default()));
    let writers: Vec<_> = (0..64)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move { store.create(&widgets(), widget(&format!("w{i}"))).await.map(|_| ()) })
        })
        .collect();
    for w in writers {
        w.await.unwrap().unwrap();
    }
    assert_eq!(journal.records().len(), 64);
    assert!(journal.commits() < 16, "{} appends for 64 writes", journal.commits());
    let revs: Vec<_> = journal.records().iter().map(|r| r.revision).collect();
    assert_eq!(
        revs,
        (1..=64).collect::<Vec<_>>(),
        "revisions are contiguous, in append order"
    );
}

#[tokio::test]
async fn a_batch_sees_its_own_earlier_writes() {
    let journal = Arc::new(FakeJournal::default());
    journal.delay_ms.store(20, Ordering::SeqCst);
    let store = Arc::new(open(&journal, Recovered::default()));
    // Keep the committer busy so the next writes queue up into one batch.
    let busy = {
        let store = store.clone();
        tokio::spawn(async move { store.create(&widgets(), widget("busy")).await })
    };
    tokio::task::yield_now().await;
    let kind = widgets();
    let (a, again) = tokio::join!(store.create(&kind, widget("same")), store.create(&kind, widget("same")));
    busy.await.unwrap().unwrap();
    let outcomes = [a.is_ok(), again.is_ok()];
    assert_eq!(outcomes.iter().filter(|ok| **ok).count(), 1, "exactly one create wins");
    assert_eq!(journal.records().len(), 2);
}

#[tokio::test]
async fn a_failed_append_writes_nothing() {
    let journal = Arc::new(FakeJournal::default());
    let store = open(&journal, Recovered::default());
    store.create(&widgets(), widget("a")).await.unwrap();
    journal.fail.store(true, Ordering::SeqCst);
    let err = store.create(&widgets(), widget("b")).await.unwrap_err();
    assert!(matches!(err, StoreError::Unavailable(_)), "{err}");
    assert_eq!(store.current_revision().await.unwrap(), 1);
    assert!(store.get(&widgets(), &ObjectKey::new("ns", "b")).await.is_err());
    journal.fail.store(false, Ordering::SeqCst);
    let b = store.create(&widgets(), widget("b")).await.unwrap();
    assert_eq!(b.revision(), 2, "the failed write used no revision");
}

#[tokio::test]
async fn recovery_restores_objects_revision_and_watchable_history() {
    let journal = Arc::new(FakeJournal::default());
    let first = open(&journal, Recovered::default());
    write_history(&first).await;
    let before = events(&first, 0, 5).await.unwrap();
    drop(first);

    let reopened = open(&journal, journal.recovered(0));
    assert_eq!(reopened.current_revision().await.unwrap(), 5);
    let names: Vec<_> = reopened
        .list(&widgets(), &ListParams::default())
        .await
        .unwrap()
        .items
        .iter()
        .map(|o| (o.key().name.clone(), o.revision()))
        .collect();
    assert_eq!(names, [("b".to_owned(), 4), ("c".to_owned(), 3)]);
    assert_eq!(events(&reopened, 0, 5).await.unwrap(), before);
    let next = reopened.create(&widgets(), widget("d")).await.unwrap();
    assert_eq!(next.revision(), 6, "the revision counter continues");
}

#[tokio::test]
async fn recovery_with_partial_history_answers_gone_where_it_cannot_be_exact() {
    let journal = Arc::new(FakeJournal::default());
    let first = open(&journal, Recovered::default());
    write_history(&first).await;
    drop(first);
    // History kept after revision 2: b's update (4) and a's removal (5) follow unknown states.
    let reopened = open(&journal, journal.recovered(2));
    assert_eq!(reopened.compacted_revision(), 5);
    assert!(matches!(events(&reopened, 3, 1).await, Err(StoreError::Gone { .. })));
    reopened.create(&widgets(), widget("e")).await.unwrap();
    assert_eq!(events(&reopened, 5, 1).await.unwrap(), [(6, "Added ns/e".to_owned())]);
}

#[tokio::test]
async fn compaction_reaches_the_journal() {
    let journal = Arc::new(FakeJournal::default());
    let store = open(&journal, Recovered::default());
    write_history(&store).await;
    store.compact(3).await.unwrap();
    assert_eq!(journal.compacted.load(Ordering::SeqCst), 3);
    assert!(matches!(events(&store, 2, 1).await, Err(StoreError::Gone { .. })));
    assert_eq!(events(&store, 3, 1).await.unwrap(), [(4, "Modified ns/b".to_owned())]);
}

#[test]
fn recover_outside_a_runtime_is_unavailable() {
    let journal = Arc::new(FakeJournal::default());
    let err = MemoryStore::recover(journal, Recovered::default(), StoreOptions::default()).unwrap_err();
    assert!(matches!(err, StoreError::Unavailable(_)), "{err}");
}
