//! Watch streams: history replay from the start revision, then live changes from the kind's event
//! channel, filtered per watcher (namespace, labels, fields), with periodic bookmarks.
//!
//! The channel is a bounded ring shared by every watcher of a kind, so one write costs one send
//! whatever the number of watchers, and all of them share the event's object. A watcher more than
//! the ring's capacity behind is told `Gone` and ended: it must relist.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use capstan_core::{FieldSelector, LabelSelector};
use tokio::sync::broadcast::{self, error::RecvError};
use tokio::time::{Interval, MissedTickBehavior};

use super::Shared;
use super::state::Change;
use crate::error::{Result, StoreError};
use crate::object::{StoredObject, WatchEvent};
use crate::params::{ListParams, WatchParams};
use crate::store::Revision;

/// Which objects a list or watch wants.
#[derive(Clone, Debug, Default)]
pub(crate) struct Filter {
    namespace: Option<String>,
    labels: LabelSelector,
    fields: FieldSelector,
}

impl Filter {
    /// The filter of a watch (namespace ignored for cluster-scoped kinds).
    pub fn for_watch(params: &WatchParams, namespaced: bool) -> Self {
        Self {
            namespace: params.namespace.clone().filter(|ns| namespaced && !ns.is_empty()),
            labels: params.label_selector.clone(),
            fields: params.field_selector.clone(),
        }
    }

    /// The filter of a list.
    pub fn for_list(params: &ListParams, namespaced: bool) -> Self {
        Self {
            namespace: params.namespace.clone().filter(|ns| namespaced && !ns.is_empty()),
            labels: params.label_selector.clone(),
            fields: params.field_selector.clone(),
        }
    }

    /// The namespace asked for, if any.
    pub fn namespace(&self) -> Option<&str> {
        self.namespace.as_deref()
    }

    /// Whether the object passes the filter.
    pub fn matches(&self, object: &StoredObject) -> bool {
        if let Some(ns) = &self.namespace
            && object.key().namespace != *ns
        {
            return false;
        }
        (self.labels.is_empty() || self.labels.matches(object.labels()))
            && (self.fields.is_empty() || self.fields.matches_json(object.json()))
    }

    /// The event a watcher with this filter sees for `change`, if any: entering the filter is
    /// `Added`, leaving it `Deleted` (with the new state).
    pub fn event(&self, change: &Change) -> Option<WatchEvent> {
        let before = change.prev.as_deref().is_some_and(|p| self.matches(p));
        if change.removed {
            return before.then(|| WatchEvent::Deleted(change.object.clone()));
        }
        let after = self.matches(&change.object);
        match (before, after) {
            (true, true) => Some(WatchEvent::Modified(change.object.clone())),
            (false, true) => Some(WatchEvent::Added(change.object.clone())),
            (true, false) => Some(WatchEvent::Deleted(change.object.clone())),
            (false, false) => None,
        }
    }
}

/// One open watch.
pub(crate) struct Watcher {
    pub shared: Arc<Shared>,
    pub filter: Filter,
    /// Events decided at start (history replay or the initial state), delivered first.
    pub backlog: VecDeque<WatchEvent>,
    pub rx: broadcast::Receiver<Arc<Change>>,
    /// The last revision handled: later channel messages at or below it are skipped.
    pub last: Revision,
    /// The revision the watch started from.
    pub from: Revision,
    pub bookmarks: Option<Interval>,
    pub bookmark_due: bool,
    pub done: bool,
}

/// A bookmark ticker that first fires one period from now.
pub(crate) fn bookmark_interval(period: Duration) -> Interval {
    let period = period.max(Duration::from_millis(1));
    let mut interval = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    interval.set_missed_tick_behavior(MissedTickBehavior::Delay);
    interval
}

impl Watcher {
    /// The next event, `None` once the stream has ended.
    pub async fn next(&mut self) -> Option<Result<WatchEvent>> {
        if self.done {
            return None;
        }
        loop {
            if let Some(event) = self.backlog.pop_front() {
                return Some(Ok(event));
            }
            if self.bookmark_due
                && let Some(revision) = self.bookmark_revision()
            {
                self.bookmark_due = false;
                return Some(Ok(WatchEvent::Bookmark(revision)));
            }
            let tick = async {
                match &mut self.bookmarks {
                    Some(interval) => {
                        interval.tick().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                biased;
                received = self.rx.recv() => match received {
                    Ok(change) => {
                        if change.revision <= self.last {
                            continue;
                        }
                        self.last = change.revision;
                        if let Some(event) = self.filter.event(&change) {
                            return Some(Ok(event));
                        }
                    }
                    Err(RecvError::Lagged(missed)) => {
                        self.done = true;
                        let oldest = self.shared.state.read().compacted;
                        tracing::debug!(missed, last = self.last, "watcher fell behind; ending it with Gone");
                        return Some(Err(StoreError::Gone { requested: self.last, oldest }));
                    }
                    Err(RecvError::Closed) => {
                        self.done = true;
                        return None;
                    }
                },
                () = tick => self.bookmark_due = true,
            }
        }
    }

    /// The revision a bookmark may carry now: the store's revision, provided every change of this
    /// kind up to it has been handled (the channel is drained while no write is being published).
    fn bookmark_revision(&mut self) -> Option<Revision> {
        let state = self.shared.state.read();
        if !self.rx.is_empty() || state.revision < self.from {
            return None;
        }
        self.last = self.last.max(state.revision);
        Some(state.revision)
    }
}
