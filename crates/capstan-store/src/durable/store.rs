//! [`DurableStore`]: the memory engine recovered from, and committing to, a [`RedbJournal`].

use std::path::{Path, PathBuf};
use std::sync::Arc;

use capstan_core::{ObjectKey, TypeKey};

use crate::durable::RedbJournal;
use crate::error::{Result, StoreError};
use crate::journal::{Journal, Recovered};
use crate::memory::{MemoryStore, StoreOptions};
use crate::object::StoredObject;
use crate::params::{DeleteParams, ListParams, ListResult, Subresource, WatchParams};
use crate::store::{DeleteOutcome, Revision, Store, WatchStream};

/// The durable store: every write is committed to `store.redb` in a data directory before it is
/// acknowledged, and everything comes back on the next open (objects, revision counter, history).
///
/// Reads and watches are served from memory by the same engine as [`MemoryStore`]. Concurrent
/// writers share one durable commit (group commit). Only one `DurableStore` can hold a directory at
/// a time; the file is released when the store and every task using it are dropped.
///
/// ```
/// # tokio_test_main(async {
/// use capstan_store::{DurableStore, Store};
/// let dir = tempfile::tempdir().unwrap();
/// let store = DurableStore::open(dir.path()).await.unwrap();
/// assert_eq!(store.current_revision().await.unwrap(), 0);
/// # });
/// # fn tokio_test_main(f: impl std::future::Future<Output = ()>) {
/// #     tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap().block_on(f)
/// # }
/// ```
pub struct DurableStore {
    engine: MemoryStore,
    journal: RedbJournal,
    dir: PathBuf,
}

impl std::fmt::Debug for DurableStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DurableStore")
            .field("dir", &self.dir)
            .field("fsyncs", &self.fsync_count())
            .finish_non_exhaustive()
    }
}

impl DurableStore {
    /// Opens (or creates) the store in `dir` with default options.
    pub async fn open(dir: impl AsRef<Path>) -> Result<Self> {
        Self::open_with_options(dir, StoreOptions::default()).await
    }

    /// Opens (or creates) the store in `dir`. After a crash this recovers every acknowledged write
    /// without manual repair.
    pub async fn open_with_options(dir: impl AsRef<Path>, options: StoreOptions) -> Result<Self> {
        let dir = dir.as_ref().to_path_buf();
        let (journal, recovered) = open_journal(dir.clone()).await?;
        let engine = MemoryStore::recover(Arc::new(journal.clone()), recovered, options)?;
        Ok(Self { engine, journal, dir })
    }

    /// How many durable commits this store has made since it was opened: one per group of writes
    /// (plus one per history compaction). With quick repair on, redb flushes the file twice per
    /// commit (two-phase commit), so the `fsync` system calls are twice this figure.
    pub fn fsync_count(&self) -> u64 {
        self.journal.commits()
    }

    /// The data directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The engine serving reads, watches and writes (writes through it are journaled too).
    pub fn engine(&self) -> &MemoryStore {
        &self.engine
    }

    /// Closes the store: stops its committer and waits (up to ten seconds) until the file is released,
    /// so that the directory can be opened again at once. Dropping the store closes it too, but in
    /// the background.
    pub async fn close(self) {
        let Self { engine, journal, dir } = self;
        drop(engine);
        for _ in 0..10_000 {
            if journal.holders() <= 1 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        }
        if journal.holders() > 1 {
            tracing::warn!(dir = %dir.display(), "the store's committer is still running; the file stays open until it ends");
        }
    }
}

/// Opens the journal on the blocking pool: recovery reads the whole file.
async fn open_journal(dir: PathBuf) -> Result<(RedbJournal, Recovered)> {
    let shown = dir.display().to_string();
    tokio::task::spawn_blocking(move || RedbJournal::open(&dir))
        .await
        .map_err(|e| StoreError::Unavailable(format!("opening the store in {shown} failed: {e}")))?
}

#[async_trait::async_trait]
impl Store for DurableStore {
    async fn create(&self, type_key: &TypeKey, object: serde_json::Value) -> Result<Arc<StoredObject>> {
        self.engine.create(type_key, object).await
    }

    async fn get(&self, type_key: &TypeKey, key: &ObjectKey) -> Result<Arc<StoredObject>> {
        self.engine.get(type_key, key).await
    }

    async fn list(&self, type_key: &TypeKey, params: &ListParams) -> Result<ListResult> {
        self.engine.list(type_key, params).await
    }

    async fn update(
        &self,
        type_key: &TypeKey,
        object: serde_json::Value,
        subresource: Subresource,
    ) -> Result<Arc<StoredObject>> {
        self.engine.update(type_key, object, subresource).await
    }

    async fn delete(&self, type_key: &TypeKey, key: &ObjectKey, params: &DeleteParams) -> Result<DeleteOutcome> {
        self.engine.delete(type_key, key, params).await
    }

    async fn watch(&self, type_key: &TypeKey, params: &WatchParams) -> Result<WatchStream> {
        self.engine.watch(type_key, params).await
    }

    async fn current_revision(&self) -> Result<Revision> {
        self.engine.current_revision().await
    }
}
