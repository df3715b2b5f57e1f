//! The reflector: keeps one kind's cache in step with the store by a list, then a watch.
//!
//! # Expected flow
//!
//! 1. List every object of the kind; the list is consistent at revision R.
//! 2. Replace the cache with the list (atomically) and hand handlers only the differences from what
//!    the cache held before (nothing on the very first list but creations).
//! 3. Watch from R with bookmarks; apply each event to the cache, then hand it to the handlers.
//! 4. When the watch stream breaks or ends, watch again from the last revision seen.
//!
//! # Recovery
//!
//! When the store answers `Gone` (the revision was compacted, or this watcher fell too far behind),
//! the reflector relists (step 1) after a backoff, and the diff in step 2 makes the relist report
//! exactly the changes the broken watch missed: no lost work, no storm of duplicate events. Failed
//! lists and watches back off exponentially (200 ms doubling to 30 s), reset once a watch delivers.

use std::sync::Arc;
use std::time::Duration;

use capstan_core::Resource;
use capstan_store::{ListParams, Revision, Store, StoreError, WatchEvent, WatchParams, WatchStream};
use futures::StreamExt;

use crate::informer::{Informer, Origin};

/// Exponential backoff for list and watch retries.
#[derive(Debug)]
pub(crate) struct Backoff {
    next: Duration,
    initial: Duration,
    max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self::new(Duration::from_millis(200), Duration::from_secs(30))
    }
}

impl Backoff {
    /// A backoff from `initial` doubling up to `max`.
    pub(crate) fn new(initial: Duration, max: Duration) -> Self {
        Self {
            next: initial,
            initial,
            max,
        }
    }

    /// The delay to wait now; the following one is twice as long (up to the maximum).
    pub(crate) fn next_delay(&mut self) -> Duration {
        let d = self.next;
        self.next = (self.next * 2).min(self.max);
        d
    }

    /// Back to the initial delay.
    pub(crate) fn reset(&mut self) {
        self.next = self.initial;
    }
}

/// Why a watch stream stopped.
enum WatchEnd {
    /// The store said Gone: relist.
    Gone,
    /// The stream failed or ended: watch again from the last revision.
    Broken(Option<StoreError>),
}

/// Lists every object of `K`, following continue tokens; returns the objects and the list revision.
async fn list_all<K: Resource>(store: &dyn Store) -> Result<(Vec<Arc<K>>, Revision), StoreError> {
    let type_key = K::type_key();
    let mut params = ListParams::default();
    let mut items = Vec::new();
    let mut revision = None;
    loop {
        let page = store.list(&type_key, &params).await?;
        revision.get_or_insert(page.revision);
        for stored in &page.items {
            match stored.typed::<K>() {
                Ok(obj) => items.push(obj),
                Err(e) => {
                    tracing::warn!(kind = K::KIND, key = %stored.key(), error = %e, "skipping undecodable object")
                }
            }
        }
        match page.continue_token {
            Some(token) => params.continue_token = Some(token),
            None => break,
        }
    }
    Ok((items, revision.unwrap_or_default()))
}

/// Follows one watch stream into the cache until it stops; `from` tracks the last revision seen.
async fn follow<K: Resource>(
    informer: &Informer<K>,
    mut stream: WatchStream,
    from: &mut Revision,
    backoff: &mut Backoff,
) -> WatchEnd {
    while let Some(item) = stream.next().await {
        let event = match item {
            Ok(event) => event,
            Err(StoreError::Gone { .. }) => return WatchEnd::Gone,
            Err(e) => return WatchEnd::Broken(Some(e)),
        };
        backoff.reset();
        let revision = event.revision();
        *from = (*from).max(revision);
        let change = match &event {
            WatchEvent::Added(stored) | WatchEvent::Modified(stored) => match stored.typed::<K>() {
                Ok(obj) => informer.writer.apply(obj, revision),
                Err(e) => {
                    tracing::warn!(kind = K::KIND, key = %stored.key(), error = %e, "skipping undecodable object");
                    None
                }
            },
            WatchEvent::Deleted(stored) => match stored.typed::<K>() {
                Ok(obj) => informer.writer.delete(obj, revision),
                Err(e) => {
                    tracing::warn!(kind = K::KIND, key = %stored.key(), error = %e, "skipping undecodable object");
                    None
                }
            },
            WatchEvent::Bookmark(r) => {
                informer.writer.advance(*r);
                None
            }
        };
        if let Some(change) = change {
            informer.dispatch(std::slice::from_ref(&change), Origin::Watch);
        }
    }
    WatchEnd::Broken(None)
}

/// Runs the reflector of `K` forever (the manager aborts it on shutdown).
pub(crate) async fn run<K: Resource>(informer: Arc<Informer<K>>, store: Arc<dyn Store>) {
    let type_key = K::type_key();
    let mut backoff = Backoff::default();
    loop {
        let (objects, revision) = match list_all::<K>(&*store).await {
            Ok(listed) => listed,
            Err(e) => {
                let delay = backoff.next_delay();
                tracing::warn!(kind = K::KIND, error = %e, ?delay, "list failed; retrying");
                tokio::time::sleep(delay).await;
                continue;
            }
        };
        let changes = informer.writer.replace(objects, revision);
        tracing::debug!(kind = K::KIND, revision, changes = changes.len(), "listed");
        informer.dispatch(&changes, Origin::List);
        let mut from = revision;
        loop {
            let params = WatchParams {
                from_revision: from,
                bookmarks: true,
                ..WatchParams::default()
            };
            let end = match store.watch(&type_key, &params).await {
                Ok(stream) => follow(&*informer, stream, &mut from, &mut backoff).await,
                Err(StoreError::Gone { .. }) => WatchEnd::Gone,
                Err(e) => WatchEnd::Broken(Some(e)),
            };
            let delay = backoff.next_delay();
            match end {
                WatchEnd::Gone => {
                    tracing::info!(kind = K::KIND, from, ?delay, "watch expired (Gone); relisting");
                    tokio::time::sleep(delay).await;
                    break;
                }
                WatchEnd::Broken(e) => {
                    tracing::debug!(kind = K::KIND, from, ?delay, error = ?e, "watch ended; watching again");
                    tokio::time::sleep(delay).await;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_its_cap_and_resets() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_millis(350));
        let seq: Vec<_> = (0..4).map(|_| b.next_delay().as_millis()).collect();
        assert_eq!(seq, vec![100, 200, 350, 350]);
        b.reset();
        assert_eq!(b.next_delay().as_millis(), 100);
    }
}
