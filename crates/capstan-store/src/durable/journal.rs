//! [`RedbJournal`]: the [`Journal`] on one redb file, `store.redb`, in the data directory.
//!
//! Tables:
//! - `capstan_objects`: object key (kind + namespace/name) → revision + JSON of the live object;
//! - `capstan_history`: (revision, position in its commit) → record (key + JSON, or a removal);
//! - `capstan_meta`: `format`, `revision` (the last committed revision) and `history_start` (the
//!   compacted revision: every record at or after it is retained).
//!
//! Each [`append`](Journal::append) is one redb write transaction with immediate durability
//! (redb fsyncs before `commit` returns) and quick repair on, so that a crash costs no full-file
//! repair on the next open. The blocking redb calls run on tokio's blocking pool.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use redb::{Database, DatabaseError, ReadableDatabase, ReadableTable, TableDefinition, TableHandle};

use crate::durable::codec;
use crate::error::{Result, StoreError};
use crate::journal::{Journal, Record, Recovered};
use crate::store::Revision;

/// The file inside the data directory.
pub const FILE_NAME: &str = "store.redb";

const OBJECTS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("capstan_objects");
const HISTORY: TableDefinition<(u64, u32), &[u8]> = TableDefinition::new("capstan_history");
const META: TableDefinition<&str, u64> = TableDefinition::new("capstan_meta");

const META_FORMAT: &str = "format";
const META_REVISION: &str = "revision";
const META_HISTORY_START: &str = "history_start";
/// The layout version this code writes and reads.
const FORMAT: u64 = 1;

/// A [`Journal`] on an embedded redb database: durable, crash-safe, one file.
///
/// Cheap to clone (the database is shared). Opening the same directory twice, from this or another
/// process, fails with `Unavailable` (redb locks the file).
#[derive(Clone)]
pub struct RedbJournal {
    inner: Arc<Inner>,
}

struct Inner {
    db: Database,
    path: PathBuf,
    commits: AtomicU64,
}

impl std::fmt::Debug for RedbJournal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedbJournal")
            .field("path", &self.inner.path)
            .field("commits", &self.commits())
            .finish()
    }
}

impl RedbJournal {
    /// Opens (creating if needed) the journal in `dir` and reads back everything committed.
    ///
    /// Blocking: call it from `spawn_blocking` inside a runtime (as `DurableStore::open` does).
    /// After a crash it opens without manual repair. A file that is not a Capstan store, or is
    /// damaged, is an `Unavailable` error naming the path; it is never modified.
    pub fn open(dir: &Path) -> Result<(RedbJournal, Recovered)> {
        std::fs::create_dir_all(dir)
            .map_err(|e| unavailable(format!("cannot create data directory {}: {e}", dir.display())))?;
        let path = dir.join(FILE_NAME);
        if path.exists() && !path.is_file() {
            return Err(unavailable(format!("{} exists and is not a file", path.display())));
        }
        let db = open_database(&path)?;
        let journal = RedbJournal {
            inner: Arc::new(Inner {
                db,
                path,
                commits: AtomicU64::new(0),
            }),
        };
        journal.initialise()?;
        let recovered = journal.recover()?;
        tracing::info!(
            path = %journal.inner.path.display(),
            revision = recovered.revision,
            objects = recovered.objects.len(),
            history = recovered.history.len(),
            history_start = recovered.history_start,
            "opened durable store"
        );
        Ok((journal, recovered))
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// How many handles share this journal's open file (it closes when the last one is dropped).
    pub(crate) fn holders(&self) -> usize {
        Arc::strong_count(&self.inner)
    }

    /// Checks the layout version, or stamps it on a new file; refuses redb files of other programs.
    fn initialise(&self) -> Result<()> {
        let inner = &self.inner;
        let read = inner.db.begin_read().map_err(|e| inner.err("cannot read", e))?;
        let mut foreign = Vec::new();
        let mut has_meta = false;
        for table in read.list_tables().map_err(|e| inner.err("cannot list tables of", e))? {
            match table.name() {
                "capstan_meta" => has_meta = true,
                "capstan_objects" | "capstan_history" => {}
                other => foreign.push(other.to_owned()),
            }
        }
        if !foreign.is_empty() {
            return Err(unavailable(format!(
                "{} is not a Capstan store (it has tables {foreign:?})",
                inner.path.display()
            )));
        }
        let format = if has_meta {
            let meta = read
                .open_table(META)
                .map_err(|e| inner.err("cannot open meta table of", e))?;
            meta.get(META_FORMAT)
                .map_err(|e| inner.err("cannot read format of", e))?
                .map(|v| v.value())
        } else {
            None
        };
        drop(read);
        match format {
            Some(FORMAT) => Ok(()),
            Some(other) => Err(unavailable(format!(
                "{} has store format {other}; this build reads format {FORMAT}",
                inner.path.display()
            ))),
            None if has_meta => Err(unavailable(format!(
                "{} has a meta table without a format: not a Capstan store, or damaged",
                inner.path.display()
            ))),
            None => {
                let mut txn = inner.db.begin_write().map_err(|e| inner.err("cannot write", e))?;
                txn.set_quick_repair(true);
                {
                    let mut meta = txn
                        .open_table(META)
                        .map_err(|e| inner.err("cannot create tables in", e))?;
                    txn.open_table(OBJECTS)
                        .map_err(|e| inner.err("cannot create tables in", e))?;
                    txn.open_table(HISTORY)
                        .map_err(|e| inner.err("cannot create tables in", e))?;
                    for (name, value) in [(META_FORMAT, FORMAT), (META_REVISION, 0), (META_HISTORY_START, 0)] {
                        meta.insert(name, value)
                            .map_err(|e| inner.err("cannot initialise", e))?;
                    }
                }
                txn.commit().map_err(|e| inner.err("cannot commit to", e))?;
                Ok(())
            }
        }
    }

    /// Reads every live object, the retained history and the counters.
    fn recover(&self) -> Result<Recovered> {
        let inner = &self.inner;
        let read = inner.db.begin_read().map_err(|e| inner.err("cannot read", e))?;
        let meta = read
            .open_table(META)
            .map_err(|e| inner.err("cannot open meta table of", e))?;
        let get = |name: &str| -> Result<u64> {
            Ok(meta
                .get(name)
                .map_err(|e| inner.err("cannot read meta of", e))?
                .map(|v| v.value())
                .unwrap_or(0))
        };
        let revision = get(META_REVISION)?;
        let history_start = get(META_HISTORY_START)?;

        let objects_table = read
            .open_table(OBJECTS)
            .map_err(|e| inner.err("cannot open objects of", e))?;
        let mut objects = Vec::new();
        for entry in objects_table
            .iter()
            .map_err(|e| inner.err("cannot scan objects of", e))?
        {
            let (k, v) = entry.map_err(|e| inner.err("cannot read an object of", e))?;
            let (type_key, key) = codec::decode_key(k.value()).map_err(|e| inner.corrupt("object key", e))?;
            let (object_revision, json) =
                codec::decode_object(v.value()).map_err(|e| inner.corrupt(&format!("object {type_key} {key}"), e))?;
            if object_revision > revision {
                return Err(unavailable(format!(
                    "{} is damaged: object {type_key} {key} has revision {object_revision} after the store's {revision}",
                    inner.path.display()
                )));
            }
            objects.push(Record {
                revision: object_revision,
                type_key,
                key,
                object: Some(json),
            });
        }
        objects.sort_by_key(|r| r.revision);

        let history_table = read
            .open_table(HISTORY)
            .map_err(|e| inner.err("cannot open history of", e))?;
        let mut history = Vec::new();
        for entry in history_table
            .iter()
            .map_err(|e| inner.err("cannot scan history of", e))?
        {
            let (k, v) = entry.map_err(|e| inner.err("cannot read history of", e))?;
            let (record_revision, _) = k.value();
            let record = codec::decode_record(record_revision, v.value())
                .map_err(|e| inner.corrupt(&format!("history record at revision {record_revision}"), e))?;
            if record_revision > revision {
                return Err(unavailable(format!(
                    "{} is damaged: history has revision {record_revision} after the store's {revision}",
                    inner.path.display()
                )));
            }
            history.push(record);
        }
        Ok(Recovered {
            revision,
            objects,
            history,
            history_start,
        })
    }

    /// Commits `records` durably: the blocking part of [`Journal::append`].
    fn append_blocking(&self, records: &[Record]) -> Result<()> {
        let inner = &self.inner;
        let mut txn = inner.db.begin_write().map_err(|e| inner.err("cannot write", e))?;
        txn.set_quick_repair(true);
        {
            let mut meta = txn.open_table(META).map_err(|e| inner.err("cannot open meta of", e))?;
            let mut last = meta
                .get(META_REVISION)
                .map_err(|e| inner.err("cannot read meta of", e))?
                .map(|v| v.value())
                .unwrap_or(0);
            let mut objects = txn
                .open_table(OBJECTS)
                .map_err(|e| inner.err("cannot open objects of", e))?;
            let mut history = txn
                .open_table(HISTORY)
                .map_err(|e| inner.err("cannot open history of", e))?;
            for (position, record) in records.iter().enumerate() {
                if record.revision < last || (record.revision == last && position == 0) {
                    // Dropping the transaction aborts it: nothing of this batch is written.
                    return Err(unavailable(format!(
                        "refusing to journal revision {} at or before committed revision {last} in {}",
                        record.revision,
                        inner.path.display()
                    )));
                }
                last = record.revision;
                let key = codec::encode_key(&record.type_key, &record.key);
                match &record.object {
                    Some(json) => {
                        let value =
                            codec::encode_object(record.revision, json).map_err(|e| unavailable(e.to_string()))?;
                        objects
                            .insert(key.as_slice(), value.as_slice())
                            .map_err(|e| inner.err("cannot write an object to", e))?;
                    }
                    None => {
                        objects
                            .remove(key.as_slice())
                            .map_err(|e| inner.err("cannot remove an object from", e))?;
                    }
                }
                let value = codec::encode_record(record).map_err(|e| unavailable(e.to_string()))?;
                let position = u32::try_from(position).unwrap_or(u32::MAX);
                history
                    .insert((record.revision, position), value.as_slice())
                    .map_err(|e| inner.err("cannot write history to", e))?;
            }
            meta.insert(META_REVISION, last)
                .map_err(|e| inner.err("cannot write meta to", e))?;
        }
        txn.commit().map_err(|e| inner.err("cannot commit to", e))?;
        inner.commits.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Drops history before `revision`: the blocking part of [`Journal::compact`].
    fn compact_blocking(&self, revision: Revision) -> Result<()> {
        let inner = &self.inner;
        let mut txn = inner.db.begin_write().map_err(|e| inner.err("cannot write", e))?;
        txn.set_quick_repair(true);
        {
            let mut meta = txn.open_table(META).map_err(|e| inner.err("cannot open meta of", e))?;
            let start = meta
                .get(META_HISTORY_START)
                .map_err(|e| inner.err("cannot read meta of", e))?
                .map(|v| v.value())
                .unwrap_or(0);
            if revision <= start {
                return Ok(());
            }
            let mut history = txn
                .open_table(HISTORY)
                .map_err(|e| inner.err("cannot open history of", e))?;
            history
                .retain_in(..(revision, 0), |_, _| false)
                .map_err(|e| inner.err("cannot compact history of", e))?;
            meta.insert(META_HISTORY_START, revision)
                .map_err(|e| inner.err("cannot write meta to", e))?;
        }
        txn.commit().map_err(|e| inner.err("cannot commit to", e))?;
        inner.commits.fetch_add(1, Ordering::Relaxed);
        tracing::debug!(revision, path = %inner.path.display(), "compacted history");
        Ok(())
    }

    /// Runs blocking redb work on tokio's blocking pool (or inline outside a runtime).
    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(RedbJournal) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let journal = self.clone();
        match tokio::runtime::Handle::try_current() {
            Ok(handle) => handle
                .spawn_blocking(move || f(journal))
                .await
                .map_err(|e| unavailable(format!("journal task of {} failed: {e}", self.inner.path.display())))?,
            Err(_) => f(journal),
        }
    }
}

#[async_trait::async_trait]
impl Journal for RedbJournal {
    async fn append(&self, records: Vec<Record>) -> Result<()> {
        if records.is_empty() {
            return Ok(());
        }
        self.blocking(move |journal| journal.append_blocking(&records)).await
    }

    async fn compact(&self, revision: Revision) -> Result<()> {
        self.blocking(move |journal| journal.compact_blocking(revision)).await
    }

    fn commits(&self) -> u64 {
        self.inner.commits.load(Ordering::Relaxed)
    }
}

impl Inner {
    /// A redb failure, with what we were doing and the file.
    fn err(&self, doing: &str, e: impl Into<redb::Error>) -> StoreError {
        let e: redb::Error = e.into();
        tracing::error!(path = %self.path.display(), error = %e, "{doing} durable store");
        unavailable(format!("{doing} {}: {e}", self.path.display()))
    }

    /// A stored value that does not decode.
    fn corrupt(&self, what: &str, e: codec::CodecError) -> StoreError {
        unavailable(format!(
            "{} is damaged or not a Capstan store: {what}: {e}",
            self.path.display()
        ))
    }
}

/// Opens or creates the redb file, turning every failure (and any panic of redb on a foreign file)
/// into an error that names the path.
fn open_database(path: &Path) -> Result<Database> {
    let display = path.display().to_string();
    let result = catch_unwind(AssertUnwindSafe(|| {
        let mut builder = Database::builder();
        let name = display.clone();
        // redb runs its repair pass on a file it has just created too; only an existing file's repair
        // means an earlier process did not close the store cleanly.
        let existed = std::fs::metadata(path).is_ok_and(|m| m.len() > 0);
        builder.set_repair_callback(move |session| {
            if existed {
                tracing::warn!(path = %name, progress = session.progress(), "repairing durable store after a crash");
            } else {
                tracing::debug!(path = %name, "initialising a new durable store");
            }
        });
        builder.create(path)
    }));
    match result {
        Ok(Ok(db)) => Ok(db),
        Ok(Err(DatabaseError::DatabaseAlreadyOpen)) => Err(unavailable(format!(
            "{display} is already open (another store in this or another process holds it)"
        ))),
        Ok(Err(DatabaseError::UpgradeRequired(v))) => Err(unavailable(format!(
            "{display} uses redb file format {v}, which this build cannot read"
        ))),
        Ok(Err(e)) => Err(unavailable(format!(
            "cannot open {display} (not a Capstan store, or damaged): {e}"
        ))),
        Err(_) => Err(unavailable(format!(
            "cannot open {display}: the file is not a redb database or is damaged"
        ))),
    }
}

fn unavailable(message: String) -> StoreError {
    StoreError::Unavailable(message)
}
