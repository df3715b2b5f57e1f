//! Tests of the redb journal on its own: what is committed comes back, and bad files are refused.

use capstan_core::{ObjectKey, TypeKey};
use serde_json::json;

use super::journal::FILE_NAME;
use super::*;
use crate::error::StoreError;
use crate::journal::{Journal, Record};

fn pods() -> TypeKey {
    TypeKey::new("", "v1", "Pod", "pods", true)
}

fn put(revision: u64, name: &str) -> Record {
    Record {
        revision,
        type_key: pods(),
        key: ObjectKey::new("default", name),
        object: Some(json!({"metadata": {"name": name, "resourceVersion": revision.to_string()}})),
    }
}

fn remove(revision: u64, name: &str) -> Record {
    Record {
        object: None,
        ..put(revision, name)
    }
}

fn unavailable_message(result: Result<(RedbJournal, crate::journal::Recovered), StoreError>) -> String {
    match result {
        Err(StoreError::Unavailable(message)) => message,
        Err(other) => panic!("expected Unavailable, got {other:?}"),
        Ok(_) => panic!("expected Unavailable, the journal opened"),
    }
}

#[tokio::test]
async fn a_new_journal_starts_empty_at_revision_zero() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("nested/data");
    let (journal, recovered) = RedbJournal::open(&data).unwrap();
    assert_eq!(recovered.revision, 0);
    assert!(recovered.objects.is_empty() && recovered.history.is_empty());
    assert_eq!(recovered.history_start, 0);
    assert_eq!(journal.commits(), 0);
    assert!(data.join(FILE_NAME).is_file());
}

#[tokio::test]
async fn committed_records_come_back_after_reopen() {
    let dir = tempfile::tempdir().unwrap();
    {
        let (journal, _) = RedbJournal::open(dir.path()).unwrap();
        journal.append(vec![put(1, "a"), put(2, "b")]).await.unwrap();
        journal
            .append(vec![put(3, "a"), remove(4, "b"), put(5, "c")])
            .await
            .unwrap();
        assert_eq!(journal.commits(), 2, "one commit per append, whatever its size");
    }
    let (_journal, recovered) = RedbJournal::open(dir.path()).unwrap();
    assert_eq!(recovered.revision, 5);
    let live: Vec<_> = recovered
        .objects
        .iter()
        .map(|r| (r.key.name.as_str(), r.revision))
        .collect();
    assert_eq!(live, vec![("a", 3), ("c", 5)]);
    assert_eq!(recovered.objects[0], put(3, "a"));
    assert_eq!(
        recovered.history,
        vec![put(1, "a"), put(2, "b"), put(3, "a"), remove(4, "b"), put(5, "c")]
    );
    assert_eq!(recovered.history_start, 0);
}

#[tokio::test]
async fn records_sharing_a_revision_keep_their_order() {
    let dir = tempfile::tempdir().unwrap();
    let (journal, _) = RedbJournal::open(dir.path()).unwrap();
    journal.append(vec![put(1, "z"), put(1, "a")]).await.unwrap();
    drop(journal);
    let (_journal, recovered) = RedbJournal::open(dir.path()).unwrap();
    assert_eq!(recovered.history, vec![put(1, "z"), put(1, "a")]);
}

#[tokio::test]
async fn compaction_drops_old_history_but_keeps_objects() {
    let dir = tempfile::tempdir().unwrap();
    {
        let (journal, _) = RedbJournal::open(dir.path()).unwrap();
        for revision in 1..=10 {
            journal
                .append(vec![put(revision, &format!("p{}", revision % 3))])
                .await
                .unwrap();
        }
        journal.compact(8).await.unwrap();
        journal.compact(4).await.unwrap(); // older than the last compaction: no effect
    }
    let (_journal, recovered) = RedbJournal::open(dir.path()).unwrap();
    assert_eq!(recovered.revision, 10);
    assert_eq!(recovered.history_start, 8);
    let revisions: Vec<_> = recovered.history.iter().map(|r| r.revision).collect();
    assert_eq!(revisions, vec![8, 9, 10]);
    let mut live: Vec<_> = recovered
        .objects
        .iter()
        .map(|r| (r.key.name.clone(), r.revision))
        .collect();
    live.sort();
    assert_eq!(live, vec![("p0".into(), 9), ("p1".into(), 10), ("p2".into(), 8)]);
}

#[tokio::test]
async fn a_revision_that_goes_back_is_refused_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let (journal, _) = RedbJournal::open(dir.path()).unwrap();
    journal.append(vec![put(5, "a")]).await.unwrap();
    for bad in [vec![put(5, "b")], vec![put(6, "b"), put(4, "c")], vec![put(3, "d")]] {
        assert!(matches!(journal.append(bad).await, Err(StoreError::Unavailable(_))));
    }
    assert_eq!(journal.commits(), 1);
    drop(journal);
    let (_journal, recovered) = RedbJournal::open(dir.path()).unwrap();
    assert_eq!(recovered.revision, 5);
    assert_eq!(recovered.history, vec![put(5, "a")]);
}

#[tokio::test]
async fn a_foreign_file_is_refused_with_its_path_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(FILE_NAME);
    let garbage: Vec<u8> = (0..20_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(&path, &garbage).unwrap();
    let message = unavailable_message(RedbJournal::open(dir.path()));
    assert!(message.contains(&path.display().to_string()), "{message}");
    assert_eq!(std::fs::read(&path).unwrap(), garbage);

    std::fs::write(&path, b"hello").unwrap();
    let message = unavailable_message(RedbJournal::open(dir.path()));
    assert!(message.contains(&path.display().to_string()), "{message}");
}

#[tokio::test]
async fn another_programs_redb_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(FILE_NAME);
    {
        let db = redb::Database::create(&path).unwrap();
        let txn = db.begin_write().unwrap();
        {
            let table: redb::TableDefinition<&str, &str> = redb::TableDefinition::new("settings");
            txn.open_table(table).unwrap().insert("k", "v").unwrap();
        }
        txn.commit().unwrap();
    }
    let message = unavailable_message(RedbJournal::open(dir.path()));
    assert!(
        message.contains("not a Capstan store") && message.contains(FILE_NAME),
        "{message}"
    );
}

#[tokio::test]
async fn a_data_directory_that_is_a_file_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("data");
    std::fs::write(&file, b"x").unwrap();
    let message = unavailable_message(RedbJournal::open(&file));
    assert!(message.contains(&file.display().to_string()), "{message}");
}

#[tokio::test]
async fn a_store_cannot_be_opened_twice_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let (first, _) = RedbJournal::open(dir.path()).unwrap();
    let message = unavailable_message(RedbJournal::open(dir.path()));
    assert!(message.contains("already open"), "{message}");
    drop(first);
    assert!(
        RedbJournal::open(dir.path()).is_ok(),
        "opens again once the first is closed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_commit_once_each_and_all_come_back() {
    let dir = tempfile::tempdir().unwrap();
    let (journal, _) = RedbJournal::open(dir.path()).unwrap();
    for batch in 0..20u64 {
        let records: Vec<_> = (0..16).map(|i| put(batch * 16 + i + 1, &format!("p{i}"))).collect();
        journal.append(records).await.unwrap();
    }
    assert_eq!(journal.commits(), 20);
    drop(journal);
    let (_journal, recovered) = RedbJournal::open(dir.path()).unwrap();
    assert_eq!(recovered.revision, 320);
    assert_eq!(recovered.objects.len(), 16);
    assert_eq!(recovered.history.len(), 320);
}
