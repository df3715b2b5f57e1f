//! [`MemoryStore`]: the store engine. Objects live in memory, shared (`Arc`) with every reader and
//! watcher; with a [`Journal`] behind it (see [`MemoryStore::recover`]) every write is made durable,
//! in batches (group commit), before anyone sees it.
//!
//! # How a write flows
//! 1. The write rules ([`write`]) turn the request into one change (or an error) against the
//!    committed state, without touching it: a rejected write changes nothing.
//! 2. Without a journal the writer then publishes at once. With a journal, writers queue their
//!    requests to one committer task, which prepares every queued request in order (each sees the
//!    earlier ones), makes all their records durable with a single `Journal::append`, and only then
//!    publishes and answers.
//! 3. Publishing updates the live objects, the revision, the retained history and the kind's event
//!    channel in one step under the write lock, so lists, gets and watches never see half a write.

mod committer;
mod list;
pub(crate) mod meta;
mod namespace;
mod recover;
mod state;
mod watch;
mod write;

#[cfg(test)]
#[path = "tests/journal.rs"]
mod journal_tests;
#[cfg(test)]
mod tests;

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use capstan_core::{ObjectKey, TypeKey};
use parking_lot::{Mutex, RwLock};
use tokio::sync::{broadcast, mpsc, oneshot};

use crate::error::{Result, StoreError};
use crate::journal::Journal;
use crate::object::{StoredObject, WatchEvent};
use crate::params::{DeleteParams, ListParams, ListResult, Subresource, WatchParams};
use crate::store::{DeleteOutcome, Revision, Store, WatchStream};
use state::{State, View};
use write::{Limits, Reply, WriteOp};

pub use write::{FOREGROUND_FINALIZER, ORPHAN_FINALIZER};

/// Tuning of a [`MemoryStore`].
#[derive(Clone, Debug)]
pub struct StoreOptions {
    /// How many of the latest changes (one per revision) are retained for watches and paged lists
    /// to resume from; older revisions are compacted and answered `Gone`. Default 10,000.
    pub history_limit: usize,
    /// How many events of one kind a watcher may fall behind before it is ended with `Gone`
    /// (rounded up to a power of two). Default 8,192.
    pub watch_buffer: usize,
    /// How often watchers that asked for bookmarks get one. Default one minute.
    pub bookmark_interval: Duration,
    /// Largest accepted object, as compact JSON. Default 1.5 MiB (etcd's request limit).
    pub max_object_bytes: usize,
    /// Most writes committed together by one journal append. Default 1,024.
    pub max_batch: usize,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            history_limit: 10_000,
            watch_buffer: 8_192,
            bookmark_interval: Duration::from_secs(60),
            max_object_bytes: 1_572_864,
            max_batch: 1_024,
        }
    }
}

/// What every handle, watcher and the committer share.
pub(crate) struct Shared {
    pub state: RwLock<State>,
    pub options: StoreOptions,
    /// Serializes writers when there is no journal (the committer serializes them otherwise).
    writer: Mutex<()>,
}

impl Shared {
    fn limits(&self) -> Limits {
        Limits {
            max_object_bytes: self.options.max_object_bytes,
        }
    }
}

/// A queued write, answered by the committer.
pub(crate) struct Pending {
    pub op: WriteOp,
    pub reply: oneshot::Sender<Result<Reply>>,
}

/// The in-memory store engine, and the core of the durable backend.
///
/// Implements [`Store`]; use it through [`Api`](crate::Api) for typed access. Every semantic of the
/// store (revisions, CAS, admission, finalizers, graceful pod deletion, watch) lives here, so tests,
/// the simulator and production behave alike.
///
/// ```
/// use capstan_store::{MemoryStore, StoreOptions};
/// let store = MemoryStore::with_options(StoreOptions { history_limit: 1_000, ..Default::default() });
/// assert!(store.is_empty());
/// ```
pub struct MemoryStore {
    shared: Arc<Shared>,
    durable: Option<Durable>,
}

/// The journal side of a store opened with [`MemoryStore::recover`].
struct Durable {
    journal: Arc<dyn Journal>,
    queue: mpsc::UnboundedSender<Pending>,
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.shared.state.read();
        f.debug_struct("MemoryStore")
            .field("revision", &state.revision)
            .field("compacted", &state.compacted)
            .field("durable", &self.durable.is_some())
            .finish()
    }
}

impl MemoryStore {
    /// An empty store with default options.
    pub fn new() -> Self {
        Self::with_options(StoreOptions::default())
    }

    /// An empty store.
    pub fn with_options(options: StoreOptions) -> Self {
        Self {
            shared: Arc::new(Shared {
                state: RwLock::new(State::default()),
                options,
                writer: Mutex::new(()),
            }),
            durable: None,
        }
    }

    /// The options the store runs with.
    pub fn options(&self) -> &StoreOptions {
        &self.shared.options
    }

    /// The oldest revision a watch or paged list can still start from.
    pub fn compacted_revision(&self) -> Revision {
        self.shared.state.read().compacted
    }

    /// How many objects of every kind are stored.
    pub fn len(&self) -> usize {
        self.shared.state.read().types.values().map(|t| t.objects.len()).sum()
    }

    /// Whether the store holds no object.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Drops history up to and including `revision` (capped at the current revision): watches and
    /// paged lists from before it become `Gone`. Compacts the journal too, if there is one.
    pub async fn compact(&self, revision: Revision) -> Result<()> {
        let revision = {
            let mut state = self.shared.state.write();
            state.compact_to(revision);
            state.compacted
        };
        if let Some(durable) = &self.durable {
            durable.journal.compact(revision).await?;
        }
        Ok(())
    }

    async fn write(&self, op: WriteOp) -> Result<Reply> {
        match &self.durable {
            None => self.write_now(op),
            Some(durable) => {
                let (reply, answer) = oneshot::channel();
                durable
                    .queue
                    .send(Pending { op, reply })
                    .map_err(|_| StoreError::Unavailable("the store's committer has stopped".into()))?;
                answer
                    .await
                    .map_err(|_| StoreError::Unavailable("the store's committer has stopped".into()))?
            }
        }
    }

    /// The journal-less write path: prepare under the read lock (readers go on), publish under the
    /// write lock. Writers are serialized so nothing changes in between.
    fn write_now(&self, op: WriteOp) -> Result<Reply> {
        let shared = &self.shared;
        let _writer = shared.writer.lock();
        let applied = {
            let state = shared.state.read();
            write::apply(&*state, shared.limits(), state.revision + 1, op)?
        };
        if let Some(change) = applied.change {
            shared.state.write().publish(change, shared.options.history_limit);
        }
        Ok(applied.reply)
    }

    fn start_watch(&self, type_key: &TypeKey, params: &WatchParams) -> Result<watch::Watcher> {
        let filter = watch::Filter::for_watch(params, type_key.namespaced);
        let from = params.from_revision;
        let mut state = self.shared.state.write();
        if from < state.compacted {
            return Err(StoreError::Gone {
                requested: from,
                oldest: state.compacted,
            });
        }
        let backlog: VecDeque<WatchEvent> = state
            .history_after(from)
            .filter(|c| c.type_key() == type_key)
            .filter_map(|c| filter.event(c))
            .collect();
        let revision = state.revision;
        let shared_type = state.shared_type(type_key);
        let capacity = self.shared.options.watch_buffer.max(1);
        let rx = state
            .type_state(&shared_type)
            .events
            .get_or_insert_with(|| broadcast::channel(capacity).0)
            .subscribe();
        drop(state);
        Ok(watch::Watcher {
            shared: self.shared.clone(),
            filter,
            backlog,
            rx,
            last: revision.max(from),
            from,
            bookmarks: params
                .bookmarks
                .then(|| watch::bookmark_interval(self.shared.options.bookmark_interval)),
            bookmark_due: false,
            done: false,
        })
    }
}

fn expect_object(reply: Reply) -> Result<Arc<StoredObject>> {
    match reply {
        Reply::Object(o) => Ok(o),
        Reply::Delete(_) => Err(StoreError::Unavailable("internal: a write answered as a delete".into())),
    }
}

#[async_trait::async_trait]
impl Store for MemoryStore {
    async fn create(&self, type_key: &TypeKey, object: serde_json::Value) -> Result<Arc<StoredObject>> {
        let op = WriteOp::Create {
            type_key: type_key.clone(),
            object,
        };
        expect_object(self.write(op).await?)
    }

    async fn get(&self, type_key: &TypeKey, key: &ObjectKey) -> Result<Arc<StoredObject>> {
        self.shared
            .state
            .read()
            .get(type_key, key)
            .ok_or_else(|| StoreError::NotFound {
                type_key: type_key.clone(),
                key: key.clone(),
            })
    }

    async fn list(&self, type_key: &TypeKey, params: &ListParams) -> Result<ListResult> {
        list::list(&self.shared.state.read(), type_key, params)
    }

    async fn update(
        &self,
        type_key: &TypeKey,
        object: serde_json::Value,
        subresource: Subresource,
    ) -> Result<Arc<StoredObject>> {
        let op = WriteOp::Update {
            type_key: type_key.clone(),
            object,
            subresource,
        };
        expect_object(self.write(op).await?)
    }

    async fn delete(&self, type_key: &TypeKey, key: &ObjectKey, params: &DeleteParams) -> Result<DeleteOutcome> {
        let op = WriteOp::Delete {
            type_key: type_key.clone(),
            key: key.clone(),
            params: params.clone(),
        };
        match self.write(op).await? {
            Reply::Delete(outcome) => Ok(outcome),
            Reply::Object(_) => Err(StoreError::Unavailable("internal: a delete answered as a write".into())),
        }
    }

    async fn watch(&self, type_key: &TypeKey, params: &WatchParams) -> Result<WatchStream> {
        let watcher = self.start_watch(type_key, params)?;
        Ok(Box::pin(futures::stream::unfold(watcher, |mut w| async move {
            w.next().await.map(|item| (item, w))
        })))
    }

    async fn current_revision(&self) -> Result<Revision> {
        Ok(self.shared.state.read().revision)
    }
}
