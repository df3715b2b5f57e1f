//! [`EventRecorder`]: writes Kubernetes `core/v1` Events, what `kubectl describe` shows under
//! "Events", e.g. `Normal  ScalingReplicaSet  Scaled up replica set web-5d4f to 3`.
//!
//! # Guarantees and caveats
//!
//! * Recording is best effort, as in Kubernetes: a failure to write an Event is logged, never
//!   returned, so a reconcile never fails because of its own bookkeeping.
//! * Repeats are de-duplicated: the same involved object, type, reason and message within one
//!   recorder updates the existing Event's `count` and `lastTimestamp` instead of writing a new one
//!   (the last 4096 distinct events are remembered).
//! * Timestamps come from the store's clock ([`capstan_store::clock`]), which follows tokio time.

use std::collections::HashMap;
use std::sync::Arc;

use capstan_core::{ObjectKey, Resource};
use capstan_store::{Store, StoreError, Subresource, clock};
use k8s_openapi::api::core::v1::{Event, EventSource, ObjectReference};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use parking_lot::Mutex;

/// How many distinct events a recorder remembers for de-duplication.
const DEDUP_CAPACITY: usize = 4096;

/// The `type` of an Event.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EventType {
    /// Something expected happened (`Normal`).
    Normal,
    /// Something may need a person's attention (`Warning`).
    Warning,
}

impl EventType {
    /// The wire value: `Normal` or `Warning`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Normal => "Normal",
            Self::Warning => "Warning",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct DedupKey {
    kind: String,
    object: ObjectKey,
    uid: String,
    type_: EventType,
    reason: String,
    message: String,
}

/// Records Events about objects, on behalf of one component (a controller's name).
///
/// Cheap to clone; clones share the de-duplication memory. A reconciler gets one from
/// [`Context::recorder`](crate::Context::recorder), whose component is the controller's name.
///
/// ```no_run
/// # async fn f(recorder: capstan_runtime::EventRecorder, rs: k8s_openapi::api::apps::v1::ReplicaSet) {
/// recorder.normal(&rs, "SuccessfulCreate", "Created pod: web-x7k2p").await;
/// # }
/// ```
#[derive(Clone)]
pub struct EventRecorder {
    store: Arc<dyn Store>,
    component: Arc<str>,
    seen: Arc<Mutex<HashMap<DedupKey, ObjectKey>>>,
}

impl std::fmt::Debug for EventRecorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventRecorder")
            .field("component", &self.component)
            .finish()
    }
}

/// A reference to `object` as an Event's `involvedObject`.
pub fn object_reference<K: Resource>(object: &K) -> ObjectReference {
    let meta = object.meta();
    ObjectReference {
        api_version: Some(K::type_key().api_version()),
        kind: Some(K::KIND.to_owned()),
        name: meta.name.clone(),
        namespace: if K::NAMESPACED { meta.namespace.clone() } else { None },
        uid: meta.uid.clone(),
        resource_version: meta.resource_version.clone(),
        field_path: None,
    }
}

impl EventRecorder {
    /// A recorder writing Events to `store` with `source.component` = `component`.
    pub fn new(store: Arc<dyn Store>, component: impl Into<String>) -> Self {
        Self {
            store,
            component: Arc::from(component.into()),
            seen: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// The component this recorder speaks for.
    pub fn component(&self) -> &str {
        &self.component
    }

    /// Records a `Normal` event about `object`.
    pub async fn normal<K: Resource>(&self, object: &K, reason: &str, message: &str) {
        self.record(object, EventType::Normal, reason, message).await;
    }

    /// Records a `Warning` event about `object`.
    pub async fn warning<K: Resource>(&self, object: &K, reason: &str, message: &str) {
        self.record(object, EventType::Warning, reason, message).await;
    }

    /// Records an event about `object`; a repeat of an earlier one bumps its count. Failures are
    /// logged.
    pub async fn record<K: Resource>(&self, object: &K, type_: EventType, reason: &str, message: &str) {
        match self.try_record(object, type_, reason, message).await {
            Ok(()) => {}
            // Kubernetes refuses new content, events included, in a namespace being deleted: an
            // event about an object going away with its namespace is expected to be lost.
            Err(error @ StoreError::NamespaceTerminating { .. }) => {
                tracing::debug!(component = %self.component, kind = K::KIND, object = %object.object_key(),
                    reason, %error, "event not recorded: its namespace is terminating");
            }
            Err(error) => {
                tracing::warn!(component = %self.component, kind = K::KIND, object = %object.object_key(),
                    reason, %error, "could not record event");
            }
        }
    }

    async fn try_record<K: Resource>(
        &self,
        object: &K,
        type_: EventType,
        reason: &str,
        message: &str,
    ) -> Result<(), StoreError> {
        let dedup = DedupKey {
            kind: K::type_key().to_string(),
            object: object.object_key(),
            uid: object.meta().uid.clone().unwrap_or_default(),
            type_,
            reason: reason.to_owned(),
            message: message.to_owned(),
        };
        let previous = self.seen.lock().get(&dedup).cloned();
        if let Some(event_key) = previous
            && self.bump(&event_key).await?
        {
            return Ok(());
        }
        let created = self.create(object, type_, reason, message).await?;
        let mut seen = self.seen.lock();
        if seen.len() >= DEDUP_CAPACITY {
            seen.clear();
        }
        seen.insert(dedup, created);
        Ok(())
    }

    /// Adds one to the count of an existing event; `false` when it no longer exists.
    async fn bump(&self, event_key: &ObjectKey) -> Result<bool, StoreError> {
        let type_key = Event::type_key();
        for _ in 0..3 {
            let stored = match self.store.get(&type_key, event_key).await {
                Ok(s) => s,
                Err(StoreError::NotFound { .. }) => return Ok(false),
                Err(e) => return Err(e),
            };
            let mut event = (*stored.typed::<Event>()?).clone();
            event.count = Some(event.count.unwrap_or(1) + 1);
            event.last_timestamp = Some(clock::now_time());
            let json = serde_json::to_value(&event).map_err(|e| StoreError::BadRequest(e.to_string()))?;
            match self.store.update(&type_key, json, Subresource::Main).await {
                Ok(_) => return Ok(true),
                Err(StoreError::Conflict { .. }) => continue,
                Err(StoreError::NotFound { .. }) => return Ok(false),
                Err(e) => return Err(e),
            }
        }
        Ok(false)
    }

    async fn create<K: Resource>(
        &self,
        object: &K,
        type_: EventType,
        reason: &str,
        message: &str,
    ) -> Result<ObjectKey, StoreError> {
        let meta = object.meta();
        let namespace = match (&meta.namespace, K::NAMESPACED) {
            (Some(ns), true) if !ns.is_empty() => ns.clone(),
            _ => "default".to_owned(),
        };
        let now = clock::now_time();
        let event = Event {
            metadata: ObjectMeta {
                generate_name: Some(format!("{}.", meta.name.as_deref().unwrap_or("unnamed"))),
                namespace: Some(namespace),
                ..ObjectMeta::default()
            },
            involved_object: object_reference(object),
            type_: Some(type_.as_str().to_owned()),
            reason: Some(reason.to_owned()),
            message: Some(message.to_owned()),
            source: Some(EventSource {
                component: Some(self.component.to_string()),
                host: None,
            }),
            reporting_component: Some(self.component.to_string()),
            first_timestamp: Some(now.clone()),
            last_timestamp: Some(now),
            count: Some(1),
            ..Event::default()
        };
        let json = serde_json::to_value(&event).map_err(|e| StoreError::BadRequest(e.to_string()))?;
        let stored = self.store.create(&Event::type_key(), json).await?;
        Ok(stored.key().clone())
    }
}
