//! Shared pieces of the runtime's integration tests: two small custom kinds, a store wrapper that
//! injects faults into the real in-memory store, and polling helpers on tokio time.
#![allow(dead_code)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use capstan_core::{ObjectKey, Resource, TypeKey};
use capstan_runtime::controller_reference;
use capstan_store::{
    Api, DeleteOutcome, DeleteParams, ListParams, ListResult, MemoryStore, Revision, Store, StoreError, StoredObject,
    Subresource, WatchParams, WatchStream,
};
use futures::StreamExt;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::{Deserialize, Serialize};

/// A custom primary kind.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Widget {
    #[serde(rename = "apiVersion", default)]
    pub api_version: String,
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub spec: WidgetSpec,
}

/// The desired state of a widget.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct WidgetSpec {
    #[serde(default)]
    pub size: i64,
}

impl Resource for Widget {
    const GROUP: &'static str = "test.capstan.dev";
    const VERSION: &'static str = "v1";
    const KIND: &'static str = "Widget";
    const PLURAL: &'static str = "widgets";
    const NAMESPACED: bool = true;
    fn meta(&self) -> &ObjectMeta {
        &self.metadata
    }
    fn meta_mut(&mut self) -> &mut ObjectMeta {
        &mut self.metadata
    }
}

/// A custom child kind.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Gadget {
    #[serde(rename = "apiVersion", default)]
    pub api_version: String,
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub spec: WidgetSpec,
}

impl Resource for Gadget {
    const GROUP: &'static str = "test.capstan.dev";
    const VERSION: &'static str = "v1";
    const KIND: &'static str = "Gadget";
    const PLURAL: &'static str = "gadgets";
    const NAMESPACED: bool = true;
    fn meta(&self) -> &ObjectMeta {
        &self.metadata
    }
    fn meta_mut(&mut self) -> &mut ObjectMeta {
        &mut self.metadata
    }
}

fn meta(ns: &str, name: &str) -> ObjectMeta {
    ObjectMeta {
        namespace: Some(ns.into()),
        name: Some(name.into()),
        ..ObjectMeta::default()
    }
}

/// A widget named `name` in `ns`.
pub fn widget(ns: &str, name: &str, size: i64) -> Widget {
    Widget {
        api_version: Widget::type_key().api_version(),
        kind: Widget::KIND.into(),
        metadata: meta(ns, name),
        spec: WidgetSpec { size },
    }
}

/// A gadget controlled by `owner`.
pub fn gadget_of(owner: &Widget, name: &str) -> Gadget {
    let mut m = meta(owner.metadata.namespace.as_deref().unwrap_or_default(), name);
    m.owner_references = controller_reference(owner).map(|r| vec![r]);
    Gadget {
        api_version: Gadget::type_key().api_version(),
        kind: Gadget::KIND.into(),
        metadata: m,
        spec: WidgetSpec { size: 0 },
    }
}

/// The key of an object.
pub fn key(ns: &str, name: &str) -> ObjectKey {
    ObjectKey::new(ns, name)
}

/// Polls `cond` every 10 ms of tokio time until it holds, or panics after `within`.
pub async fn eventually(within: Duration, what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + within;
    while !cond() {
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The real in-memory store with switchable faults: failing writes, and watches ended with `Gone`.
/// Several wrappers may share one inner store (one per simulated process).
pub struct FaultyStore {
    inner: Arc<MemoryStore>,
    fail_writes: AtomicBool,
    gone: tokio::sync::watch::Sender<u64>,
}

impl FaultyStore {
    pub fn new(inner: Arc<MemoryStore>) -> Arc<Self> {
        Arc::new(Self {
            inner,
            fail_writes: AtomicBool::new(false),
            gone: tokio::sync::watch::channel(0).0,
        })
    }

    /// From now on every write through this wrapper fails with `Unavailable` (a network partition).
    pub fn fail_writes(&self, fail: bool) {
        self.fail_writes.store(fail, Ordering::SeqCst);
    }

    /// Ends every open watch stream through this wrapper with `Gone`.
    pub fn break_watches(&self) {
        self.gone.send_modify(|g| *g += 1);
    }

    /// The injected failure, when writes are switched off.
    fn write_fault(&self) -> Option<StoreError> {
        self.fail_writes
            .load(Ordering::SeqCst)
            .then(|| StoreError::Unavailable("injected partition".into()))
    }
}

#[async_trait::async_trait]
impl Store for FaultyStore {
    async fn create(&self, t: &TypeKey, o: serde_json::Value) -> Result<Arc<StoredObject>, StoreError> {
        if let Some(e) = self.write_fault() {
            return Err(e);
        }
        self.inner.create(t, o).await
    }
    async fn get(&self, t: &TypeKey, k: &ObjectKey) -> Result<Arc<StoredObject>, StoreError> {
        self.inner.get(t, k).await
    }
    async fn list(&self, t: &TypeKey, p: &ListParams) -> Result<ListResult, StoreError> {
        self.inner.list(t, p).await
    }
    async fn update(&self, t: &TypeKey, o: serde_json::Value, s: Subresource) -> Result<Arc<StoredObject>, StoreError> {
        if let Some(e) = self.write_fault() {
            return Err(e);
        }
        self.inner.update(t, o, s).await
    }
    async fn delete(&self, t: &TypeKey, k: &ObjectKey, p: &DeleteParams) -> Result<DeleteOutcome, StoreError> {
        if let Some(e) = self.write_fault() {
            return Err(e);
        }
        self.inner.delete(t, k, p).await
    }
    async fn watch(&self, t: &TypeKey, p: &WatchParams) -> Result<WatchStream, StoreError> {
        let stream = self.inner.watch(t, p).await?;
        let mut rx = self.gone.subscribe();
        rx.mark_unchanged();
        Ok(Box::pin(futures::stream::unfold(
            (stream, rx, false),
            |(mut stream, mut rx, ended)| async move {
                if ended {
                    return None;
                }
                tokio::select! {
                    biased;
                    _ = rx.changed() => Some((Err(StoreError::Gone { requested: 0, oldest: 0 }), (stream, rx, true))),
                    item = stream.next() => item.map(|i| (i, (stream, rx, false))),
                }
            },
        )))
    }
    async fn current_revision(&self) -> Result<Revision, StoreError> {
        self.inner.current_revision().await
    }
}

/// A typed handle on widgets of `ns`.
pub fn widgets(store: &Arc<dyn Store>, ns: &str) -> Api<Widget> {
    Api::namespaced(store.clone(), ns)
}

/// A typed handle on gadgets of `ns`.
pub fn gadgets(store: &Arc<dyn Store>, ns: &str) -> Api<Gadget> {
    Api::namespaced(store.clone(), ns)
}
