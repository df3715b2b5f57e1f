//! [`Context`]: what a reconcile can use besides its request.

use std::sync::Arc;

use capstan_core::Resource;
use capstan_store::{Api, Store, clock};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;

use crate::error::{Error, Result};
use crate::events::EventRecorder;
use crate::expectations::Expectations;
use crate::informer::{Cache, InformerSet};

/// Everything a reconcile of primary kind `K` can reach: the caches (reads), the store client
/// (writes and fresh reads), the event recorder, the controller's expectations and the time.
///
/// One `Context` is built per controller and lent to every reconcile; it is cheap to clone.
///
/// # Cached reads versus store reads
///
/// [`cache`](Self::cache) and [`cache_of`](Self::cache_of) return [`Cache`]s: shared, indexed, fast,
/// and possibly a little behind the store. [`api`](Self::api) returns the store's
/// [`Api`]: always current, and the only way to write. The types differ so that a reader always
/// knows which one it holds.
pub struct Context<K> {
    cache: Cache<K>,
    shared: Arc<Shared>,
}

impl<K> Clone for Context<K> {
    fn clone(&self) -> Self {
        Self {
            cache: self.cache.clone(),
            shared: self.shared.clone(),
        }
    }
}

/// The parts of a context that do not depend on the primary kind.
pub(crate) struct Shared {
    pub(crate) controller: String,
    pub(crate) store: Arc<dyn Store>,
    pub(crate) informers: InformerSet,
    pub(crate) recorder: EventRecorder,
    pub(crate) expectations: Expectations,
}

impl<K: Resource> Context<K> {
    pub(crate) fn new(cache: Cache<K>, shared: Shared) -> Self {
        Self {
            cache,
            shared: Arc::new(shared),
        }
    }

    /// The cache of the primary kind.
    pub fn cache(&self) -> &Cache<K> {
        &self.cache
    }

    /// The cache of another kind this manager keeps an informer for: the kinds its controllers own
    /// or watch, or that [`Manager::cache`](crate::Manager::cache) registered. Informers never start
    /// on demand, so any other kind is [`Error::NoInformer`].
    pub fn cache_of<C: Resource>(&self) -> Result<Cache<C>> {
        self.shared
            .informers
            .get::<C>()
            .map(|i| i.cache.clone())
            .ok_or_else(|| Error::NoInformer(C::type_key().to_string()))
    }

    /// The store client for objects of kind `C` in `namespace` (ignored for cluster-scoped kinds).
    pub fn api<C: Resource>(&self, namespace: &str) -> Api<C> {
        if C::NAMESPACED {
            Api::namespaced(self.shared.store.clone(), namespace)
        } else {
            Api::all(self.shared.store.clone())
        }
    }

    /// The store client for objects of kind `C` in every namespace (or cluster-scoped).
    pub fn api_all<C: Resource>(&self) -> Api<C> {
        Api::all(self.shared.store.clone())
    }

    /// The store itself, for kinds known only at run time.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.shared.store
    }

    /// The event recorder, speaking for this controller.
    pub fn recorder(&self) -> &EventRecorder {
        &self.shared.recorder
    }

    /// This controller's expectations, fed by the events of the kinds it owns.
    pub fn expectations(&self) -> &Expectations {
        &self.shared.expectations
    }

    /// The controller's name (as in metrics and logs).
    pub fn controller_name(&self) -> &str {
        &self.shared.controller
    }

    /// The current wall time, read through tokio's clock (it follows paused and simulated time).
    pub fn now(&self) -> Timestamp {
        clock::now()
    }

    /// The current wall time as a Kubernetes `metav1.Time`, for status fields and conditions.
    pub fn now_time(&self) -> Time {
        clock::now_time()
    }
}
