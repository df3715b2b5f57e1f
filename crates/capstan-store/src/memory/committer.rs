//! Group commit: one task drains the queue of writes, prepares them in order against the committed
//! state plus the batch's earlier writes, makes all their records durable with one journal append,
//! then publishes them and answers every writer. Nothing is visible before it is durable.

use std::collections::HashMap;
use std::sync::Arc;

use capstan_core::{ObjectKey, TypeKey};
use tokio::sync::{mpsc, oneshot};

use super::state::{Change, State, View};
use super::write::{self, Reply};
use super::{Pending, Shared};
use crate::error::{Result, StoreError};
use crate::journal::{Journal, Record};
use crate::object::StoredObject;

/// The committed state seen through the writes already prepared in this batch.
struct Overlay<'a> {
    state: &'a State,
    writes: HashMap<TypeKey, HashMap<ObjectKey, Option<Arc<StoredObject>>>>,
}

impl View for Overlay<'_> {
    fn get(&self, type_key: &TypeKey, key: &ObjectKey) -> Option<Arc<StoredObject>> {
        match self.writes.get(type_key).and_then(|w| w.get(key)) {
            Some(written) => written.clone(),
            None => self.state.get(type_key, key),
        }
    }

    fn shared_type(&self, type_key: &TypeKey) -> Arc<TypeKey> {
        self.state.shared_type(type_key)
    }
}

impl Overlay<'_> {
    fn record(&mut self, change: &Change) {
        let value = (!change.removed).then(|| change.object.clone());
        self.writes
            .entry(change.type_key().clone())
            .or_default()
            .insert(change.key().clone(), value);
    }
}

/// The journal record of a change.
fn record(change: &Change) -> Record {
    Record {
        revision: change.revision,
        type_key: change.type_key().clone(),
        key: change.key().clone(),
        object: (!change.removed).then(|| change.object.json().clone()),
    }
}

/// Runs the committer until every store handle is gone.
pub(crate) async fn run(shared: Arc<Shared>, journal: Arc<dyn Journal>, mut queue: mpsc::UnboundedReceiver<Pending>) {
    let max_batch = shared.options.max_batch.max(1);
    let compact_every = (shared.options.history_limit / 4).max(1) as u64;
    let mut journal_compacted = shared.state.read().compacted;
    let mut batch = Vec::with_capacity(max_batch);
    while let Some(first) = queue.recv().await {
        batch.push(first);
        // Let writers just answered by the previous commit queue their next write, so that it
        // shares this commit instead of waiting a whole commit more.
        tokio::task::yield_now().await;
        while batch.len() < max_batch {
            match queue.try_recv() {
                Ok(next) => batch.push(next),
                Err(_) => break,
            }
        }
        commit(&shared, journal.as_ref(), &mut batch).await;
        let compacted = shared.state.read().compacted;
        if compacted >= journal_compacted + compact_every {
            match journal.compact(compacted).await {
                Ok(()) => journal_compacted = compacted,
                Err(e) => tracing::warn!(error = %e, compacted, "journal compaction failed; will retry"),
            }
        }
    }
    tracing::debug!("store committer stopped: no handle left");
}

/// Commits one batch and answers its writers.
async fn commit(shared: &Shared, journal: &dyn Journal, batch: &mut Vec<Pending>) {
    let mut replies: Vec<(oneshot::Sender<Result<Reply>>, Result<Reply>)> = Vec::with_capacity(batch.len());
    let mut changes = Vec::new();
    {
        let state = shared.state.read();
        let mut overlay = Overlay {
            state: &state,
            writes: HashMap::new(),
        };
        let mut revision = state.revision;
        for pending in batch.drain(..) {
            match write::apply(&overlay, shared.limits(), revision + 1, pending.op) {
                Ok(applied) => {
                    if let Some(change) = applied.change {
                        revision = change.revision;
                        overlay.record(&change);
                        changes.push(change);
                    }
                    replies.push((pending.reply, Ok(applied.reply)));
                }
                Err(e) => replies.push((pending.reply, Err(e))),
            }
        }
    }
    if !changes.is_empty() {
        let records = changes.iter().map(record).collect();
        if let Err(e) = journal.append(records).await {
            tracing::warn!(error = %e, writes = changes.len(), "journal commit failed; the batch is not applied");
            for (reply, result) in replies {
                let result = result.and_then(|_| {
                    Err(StoreError::Unavailable(format!(
                        "journal commit failed, nothing written: {e}"
                    )))
                });
                let _ = reply.send(result);
            }
            return;
        }
        let mut state = shared.state.write();
        for change in changes {
            state.publish(change, shared.options.history_limit);
        }
    }
    for (reply, result) in replies {
        // A writer that stopped waiting has nobody to tell; its write stands.
        let _ = reply.send(result);
    }
}
