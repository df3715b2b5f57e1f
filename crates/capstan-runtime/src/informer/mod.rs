//! Informers: one reflector and one shared [`Cache`] per kind per manager, plus the event handlers
//! that turn cache changes into work-queue keys.
//!
//! Informers are never started implicitly. The manager creates one for each kind a registered
//! controller reconciles, owns or watches (or that [`Manager::cache`](crate::Manager::cache) asked
//! for) and starts them all when it runs.

pub mod cache;
pub mod index;
pub(crate) mod reflector;

use std::any::Any;
use std::collections::HashMap;
use std::sync::Arc;

use capstan_core::{Resource, TypeKey};
use capstan_store::Store;
use futures::future::BoxFuture;
use parking_lot::{Mutex, RwLock};

pub use cache::Cache;
pub(crate) use cache::{CacheWriter, Change};
pub use index::{IndexFn, OWNER_UID_INDEX};

/// Where a change came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Origin {
    /// A (re)list: possibly one of many changes arriving at once.
    List,
    /// A watch event: one fresh change.
    Watch,
}

/// A function called with each change the reflector applied to the cache.
pub(crate) type Handler<K> = Arc<dyn Fn(&Change<K>, Origin) + Send + Sync>;

/// The informer of one kind: its cache, the cache's writer, and the handlers to notify.
pub(crate) struct Informer<K> {
    pub(crate) cache: Cache<K>,
    pub(crate) writer: CacheWriter<K>,
    handlers: RwLock<Vec<Handler<K>>>,
}

impl<K: Resource> Informer<K> {
    fn new() -> Self {
        let (cache, writer) = cache::cache::<K>();
        Self {
            cache,
            writer,
            handlers: RwLock::new(Vec::new()),
        }
    }

    /// Adds a handler; it sees every change from the next one on (register before running).
    pub(crate) fn add_handler(&self, handler: Handler<K>) {
        self.handlers.write().push(handler);
    }

    /// Hands changes to every handler, in order. The cache already shows them.
    pub(crate) fn dispatch(&self, changes: &[Change<K>], origin: Origin) {
        if changes.is_empty() {
            return;
        }
        let handlers = self.handlers.read().clone();
        for change in changes {
            for h in &handlers {
                h(change, origin);
            }
        }
    }
}

/// What the manager needs from an informer of any kind.
pub(crate) trait AnyInformer: Send + Sync {
    /// The kind, for logs and health reports.
    fn type_key(&self) -> TypeKey;
    /// Whether the first list is in.
    fn is_synced(&self) -> bool;
    /// Waits for the first list.
    fn wait_synced(&self) -> BoxFuture<'static, ()>;
    /// The reflector loop (runs until aborted).
    fn run(self: Arc<Self>, store: Arc<dyn Store>) -> BoxFuture<'static, ()>;
    /// Downcasting support.
    fn as_any(self: Arc<Self>) -> Arc<dyn Any + Send + Sync>;
}

impl<K: Resource> AnyInformer for Informer<K> {
    fn type_key(&self) -> TypeKey {
        K::type_key()
    }

    fn is_synced(&self) -> bool {
        self.cache.is_synced()
    }

    fn wait_synced(&self) -> BoxFuture<'static, ()> {
        let cache = self.cache.clone();
        Box::pin(async move { cache.wait_synced().await })
    }

    fn run(self: Arc<Self>, store: Arc<dyn Store>) -> BoxFuture<'static, ()> {
        Box::pin(reflector::run(self, store))
    }

    fn as_any(self: Arc<Self>) -> Arc<dyn Any + Send + Sync> {
        self
    }
}

/// The informers of one manager, one per kind.
#[derive(Default, Clone)]
pub(crate) struct InformerSet {
    map: Arc<Mutex<HashMap<TypeKey, Arc<dyn AnyInformer>>>>,
}

impl InformerSet {
    /// The informer of `K`, created (not started) if this is the first request for it.
    pub(crate) fn get_or_create<K: Resource>(&self) -> Arc<Informer<K>> {
        let mut map = self.map.lock();
        let entry = map
            .entry(K::type_key())
            .or_insert_with(|| Arc::new(Informer::<K>::new()) as Arc<dyn AnyInformer>);
        match entry.clone().as_any().downcast::<Informer<K>>() {
            Ok(informer) => informer,
            Err(_) => {
                // Two Rust types claim one TypeKey: give the later one its own informer.
                tracing::error!(kind = K::KIND, "two Rust types share one kind; replacing the informer");
                let informer = Arc::new(Informer::<K>::new());
                *entry = informer.clone();
                informer
            }
        }
    }

    /// The informer of `K`, if one was created.
    pub(crate) fn get<K: Resource>(&self) -> Option<Arc<Informer<K>>> {
        let entry = self.map.lock().get(&K::type_key()).cloned()?;
        entry.as_any().downcast::<Informer<K>>().ok()
    }

    /// Every informer, in kind order.
    pub(crate) fn all(&self) -> Vec<Arc<dyn AnyInformer>> {
        let map = self.map.lock();
        let mut all: Vec<_> = map.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        all.sort_by(|a, b| a.0.cmp(&b.0));
        all.into_iter().map(|(_, v)| v).collect()
    }
}
