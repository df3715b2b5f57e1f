//! [`RemoteStore`]: the [`Store`] trait over the Kubernetes REST API, so that a
//! [`Manager`](https://docs.rs/capstan-runtime) or any store user can run in another process than
//! the API server (`capstan controller-manager --kubeconfig FILE`). Behind the `remote` feature.
//!
//! Every [`TypeKey`] maps onto Kubernetes paths: the core group under `/api/v1`, others under
//! `/apis/{group}/{version}`, namespaced kinds under `/namespaces/{ns}/{plural}`. Writes are
//! `POST` (create), `PUT` (update; `PUT .../status` for the status subresource) and `DELETE` with
//! `DeleteOptions`; lists carry `labelSelector`, `fieldSelector`, `limit` and `continue`; watches
//! resume by themselves after a dropped connection (see [`watch`](self::watch)). Failed requests
//! come back as the [`StoreError`] the in-process store would have returned (see
//! [`status`](self::status)), so callers cannot tell the backends apart by their errors.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use capstan_store::{Store, remote::RemoteStore};
//! let store: Arc<dyn Store> = Arc::new(RemoteStore::from_kubeconfig("capstan-data/kubeconfig.yaml")?);
//! println!("the server is at revision {}", store.current_revision().await?);
//! # Ok(()) }
//! ```
//!
//! # Caveats
//! - Authentication is by bearer token only (no client certificates, no exec plugins).
//! - `401`/`403` answers have no `StoreError` variant of their own and come back as `BadRequest`
//!   naming the code, except the `403` refusing a create in a terminating namespace
//!   (`NamespaceTerminating`).
//! - Requests that the server refuses with `429` are retried three times with a growing delay.

pub mod client;
pub mod config;
pub(crate) mod status;
pub mod watch;

#[cfg(test)]
#[path = "tests/watch.rs"]
mod watch_tests;

use std::sync::Arc;
use std::time::Duration;

use capstan_core::{ObjectKey, TypeKey};
use http::Method;
use serde_json::{Value, json};

pub use self::client::Timeouts;
use self::client::Transport;
pub use self::config::{ConfigError, KubeConfig, ServerUrl};
use self::status::{Subject, decode_error};
use crate::error::{Result, StoreError};
use crate::object::StoredObject;
use crate::params::{DeleteParams, ListParams, ListResult, PropagationPolicy, Subresource, WatchParams};
use crate::store::{DeleteOutcome, Revision, Store, WatchStream};

/// How a [`RemoteStore`] behaves.
#[derive(Clone, Copy, Debug)]
pub struct RemoteOptions {
    /// Connect and request time limits.
    pub timeouts: Timeouts,
    /// How long the server holds one watch connection (`timeoutSeconds`, whole seconds, at least
    /// 1) before the stream resumes on a new one (default 5 min, as client-go's minimum).
    pub watch_timeout: Duration,
    /// The first delay before re-opening a watch that failed (default 100 ms, doubling).
    pub watch_backoff: Duration,
    /// The longest delay between watch reconnect attempts (default 30 s).
    pub watch_backoff_max: Duration,
}

impl Default for RemoteOptions {
    fn default() -> Self {
        Self {
            timeouts: Timeouts::default(),
            watch_timeout: Duration::from_secs(300),
            watch_backoff: Duration::from_millis(100),
            watch_backoff_max: Duration::from_secs(30),
        }
    }
}

/// A [`Store`] that is a client of a Kubernetes-compatible API server (capstan-server, or a real
/// kube-apiserver for the kinds it serves).
#[derive(Debug)]
pub struct RemoteStore {
    transport: Arc<Transport>,
    options: RemoteOptions,
    namespace: String,
}

impl RemoteStore {
    /// A store for the current context of the kubeconfig at `path`, with default options.
    pub fn from_kubeconfig(path: impl AsRef<std::path::Path>) -> Result<Self, ConfigError> {
        Self::new(&KubeConfig::load(path)?, RemoteOptions::default())
    }

    /// A store for a parsed kubeconfig.
    pub fn new(config: &KubeConfig, options: RemoteOptions) -> Result<Self, ConfigError> {
        Ok(Self {
            transport: Arc::new(Transport::new(config, options.timeouts)?),
            options,
            namespace: config.namespace.clone(),
        })
    }

    /// The kubeconfig context's namespace (`default` when it names none).
    pub fn default_namespace(&self) -> &str {
        &self.namespace
    }

    /// The server's base URL.
    pub fn server(&self) -> String {
        self.transport.describe()
    }

    /// Sends a request, retrying `429 TooManyRequests`, and returns the JSON of a 2xx answer with
    /// its status code, or the decoded error.
    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        subject: Subject<'_>,
    ) -> Result<(u16, Value)> {
        let bytes = match body {
            Some(b) => Some(serde_json::to_vec(b).map_err(|e| StoreError::BadRequest(format!("cannot encode: {e}")))?),
            None => None,
        };
        let subject = Subject {
            sent: bytes.as_ref().map_or(0, Vec::len),
            ..subject
        };
        let mut delay = Duration::from_millis(100);
        for attempt in 1.. {
            let answer = self.transport.request(method.clone(), path, bytes.as_deref()).await?;
            let code = answer.status.as_u16();
            if answer.status.is_success() {
                let value = serde_json::from_slice(&answer.body)
                    .map_err(|e| protocol(format!("{method} {path}: undecodable answer: {e}")))?;
                return Ok((code, value));
            }
            if code == 429 && attempt <= 3 {
                tracing::debug!(%method, path, attempt, "server is busy (429); retrying");
                tokio::time::sleep(delay).await;
                delay *= 4;
                continue;
            }
            return Err(decode_error(code, &answer.body, &subject));
        }
        Err(protocol("retry loop ended".into()))
    }
}

/// An answer that does not follow the protocol (a server fault, from the caller's side).
fn protocol(message: String) -> StoreError {
    StoreError::Unavailable(format!("unexpected answer from the API server: {message}"))
}

/// Kubernetes REST paths of a kind.
pub(crate) struct Paths;

impl Paths {
    /// `/api/v1[/namespaces/{ns}]/{plural}` or `/apis/{group}/{version}[/namespaces/{ns}]/{plural}`.
    pub(crate) fn collection(t: &TypeKey, namespace: Option<&str>) -> String {
        let mut p = if t.group.is_empty() {
            format!("/api/{}", segment(&t.version))
        } else {
            format!("/apis/{}/{}", segment(&t.group), segment(&t.version))
        };
        if t.namespaced
            && let Some(ns) = namespace.filter(|ns| !ns.is_empty())
        {
            p.push_str("/namespaces/");
            p.push_str(&segment(ns));
        }
        p.push('/');
        p.push_str(&segment(&t.plural));
        p
    }

    /// The path of one object.
    pub(crate) fn object(t: &TypeKey, key: &ObjectKey) -> String {
        format!("{}/{}", Self::collection(t, Some(&key.namespace)), segment(&key.name))
    }
}

/// Percent-encodes a path segment (everything but RFC 3986's unreserved characters).
fn segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The key named by an object's metadata (namespace dropped for cluster-scoped kinds).
fn key_of(t: &TypeKey, json: &Value) -> ObjectKey {
    let meta = &json["metadata"];
    let name = meta["name"]
        .as_str()
        .filter(|n| !n.is_empty())
        .or_else(|| meta["generateName"].as_str())
        .unwrap_or_default();
    let namespace = if t.namespaced {
        meta["namespace"].as_str().unwrap_or_default()
    } else {
        ""
    };
    ObjectKey::new(namespace, name)
}

/// A stored object from the server's JSON, with `apiVersion` and `kind` filled in when missing (as
/// list items of a real kube-apiserver are).
pub(crate) fn stored(t: &Arc<TypeKey>, mut json: Value) -> Result<Arc<StoredObject>> {
    let Value::Object(map) = &mut json else {
        return Err(protocol(format!("a {} that is not a JSON object", t.kind)));
    };
    map.entry("apiVersion").or_insert_with(|| json!(t.api_version()));
    map.entry("kind").or_insert_with(|| json!(t.kind));
    let key = key_of(t, &json);
    let revision = json["metadata"]["resourceVersion"]
        .as_str()
        .and_then(|r| r.parse::<Revision>().ok())
        .ok_or_else(|| protocol(format!("{} {key} without a numeric resourceVersion", t.kind)))?;
    Ok(Arc::new(StoredObject::with_shared_type(t.clone(), key, revision, json)))
}

/// `DeleteOptions` for a delete.
fn delete_options(params: &DeleteParams) -> Value {
    let mut opts = json!({"kind": "DeleteOptions", "apiVersion": "v1"});
    if let Some(p) = params.propagation_policy {
        opts["propagationPolicy"] = json!(match p {
            PropagationPolicy::Background => "Background",
            PropagationPolicy::Foreground => "Foreground",
            PropagationPolicy::Orphan => "Orphan",
        });
    }
    if let Some(g) = params.grace_period_seconds {
        opts["gracePeriodSeconds"] = json!(g);
    }
    let pre = &params.preconditions;
    if pre.uid.is_some() || pre.resource_version.is_some() {
        let mut p = json!({});
        if let Some(uid) = &pre.uid {
            p["uid"] = json!(uid);
        }
        if let Some(rv) = &pre.resource_version {
            p["resourceVersion"] = json!(rv);
        }
        opts["preconditions"] = p;
    }
    opts
}

#[async_trait::async_trait]
impl Store for RemoteStore {
    async fn create(&self, type_key: &TypeKey, object: Value) -> Result<Arc<StoredObject>> {
        let key = key_of(type_key, &object);
        let path = Paths::collection(type_key, Some(&key.namespace));
        let subject = Subject {
            type_key,
            key,
            revision: 0,
            sent: 0,
        };
        let (_, json) = self.call(Method::POST, &path, Some(&object), subject).await?;
        stored(&Arc::new(type_key.clone()), json)
    }

    async fn get(&self, type_key: &TypeKey, key: &ObjectKey) -> Result<Arc<StoredObject>> {
        let subject = Subject {
            type_key,
            key: key.clone(),
            revision: 0,
            sent: 0,
        };
        let (_, json) = self
            .call(Method::GET, &Paths::object(type_key, key), None, subject)
            .await?;
        stored(&Arc::new(type_key.clone()), json)
    }

    async fn list(&self, type_key: &TypeKey, params: &ListParams) -> Result<ListResult> {
        let query = {
            let mut q = form_urlencoded::Serializer::new(String::new());
            if !params.label_selector.is_empty() {
                q.append_pair("labelSelector", &params.label_selector.to_string());
            }
            if !params.field_selector.requirements.is_empty() {
                q.append_pair("fieldSelector", &params.field_selector.to_string());
            }
            if let Some(limit) = params.limit {
                q.append_pair("limit", &limit.to_string());
            }
            if let Some(c) = &params.continue_token {
                q.append_pair("continue", c);
            }
            q.finish()
        };
        let mut path = Paths::collection(type_key, params.namespace.as_deref());
        if !query.is_empty() {
            path = format!("{path}?{query}");
        }
        let subject = Subject {
            type_key,
            key: ObjectKey::new(params.namespace.clone().unwrap_or_default(), ""),
            revision: 0,
            sent: 0,
        };
        let (_, mut doc) = self.call(Method::GET, &path, None, subject).await?;
        let meta = &doc["metadata"];
        let revision = meta["resourceVersion"]
            .as_str()
            .and_then(|r| r.parse::<Revision>().ok())
            .ok_or_else(|| protocol(format!("a {} list without a numeric resourceVersion", type_key.kind)))?;
        let continue_token = meta["continue"].as_str().filter(|c| !c.is_empty()).map(str::to_owned);
        let remaining = meta["remainingItemCount"].as_u64();
        let shared = Arc::new(type_key.clone());
        let items = match doc.get_mut("items").map(Value::take) {
            Some(Value::Array(items)) => items
                .into_iter()
                .map(|item| stored(&shared, item))
                .collect::<Result<Vec<_>>>()?,
            Some(Value::Null) | None => Vec::new(),
            Some(_) => {
                return Err(protocol(format!(
                    "a {} list whose items are not an array",
                    type_key.kind
                )));
            }
        };
        Ok(ListResult {
            items,
            revision,
            continue_token,
            remaining,
        })
    }

    async fn update(&self, type_key: &TypeKey, object: Value, subresource: Subresource) -> Result<Arc<StoredObject>> {
        let key = key_of(type_key, &object);
        let mut path = Paths::object(type_key, &key);
        if subresource == Subresource::Status {
            path.push_str("/status");
        }
        let subject = Subject {
            type_key,
            key,
            revision: 0,
            sent: 0,
        };
        let (_, json) = self.call(Method::PUT, &path, Some(&object), subject).await?;
        stored(&Arc::new(type_key.clone()), json)
    }

    async fn delete(&self, type_key: &TypeKey, key: &ObjectKey, params: &DeleteParams) -> Result<DeleteOutcome> {
        let subject = Subject {
            type_key,
            key: key.clone(),
            revision: 0,
            sent: 0,
        };
        let (code, json) = self
            .call(
                Method::DELETE,
                &Paths::object(type_key, key),
                Some(&delete_options(params)),
                subject,
            )
            .await?;
        let shared = Arc::new(type_key.clone());
        // A real API server may answer a finished delete with a success `Status` instead of the object.
        let object = if json["kind"] == "Status" && type_key.kind != "Status" {
            Arc::new(StoredObject::with_shared_type(
                shared,
                key.clone(),
                0,
                json!({"apiVersion": type_key.api_version(), "kind": type_key.kind,
                    "metadata": {"name": key.name, "namespace": key.namespace, "uid": json["details"]["uid"]}}),
            ))
        } else {
            stored(&shared, json)?
        };
        // capstan-server answers 202 Accepted while finalizers or a grace period hold the object.
        Ok(if code == 202 {
            DeleteOutcome::Pending(object)
        } else {
            DeleteOutcome::Deleted(object)
        })
    }

    async fn watch(&self, type_key: &TypeKey, params: &WatchParams) -> Result<WatchStream> {
        watch::Watch {
            transport: self.transport.clone(),
            type_key: Arc::new(type_key.clone()),
            params: params.clone(),
            options: self.options,
        }
        .start()
        .await
    }

    /// A one-item list of namespaces: its `resourceVersion` is the server's current revision.
    async fn current_revision(&self) -> Result<Revision> {
        let namespaces = TypeKey::new("", "v1", "Namespace", "namespaces", false);
        let page = self
            .list(
                &namespaces,
                &ListParams {
                    limit: Some(1),
                    ..ListParams::default()
                },
            )
            .await?;
        Ok(page.revision)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_follow_the_kubernetes_layout_for_core_and_named_groups() {
        let pods = TypeKey::new("", "v1", "Pod", "pods", true);
        let deploys = TypeKey::new("apps", "v1", "Deployment", "deployments", true);
        let nodes = TypeKey::new("", "v1", "Node", "nodes", false);
        assert_eq!(Paths::collection(&pods, None), "/api/v1/pods");
        assert_eq!(Paths::collection(&pods, Some("")), "/api/v1/pods");
        assert_eq!(
            Paths::collection(&pods, Some("team-a")),
            "/api/v1/namespaces/team-a/pods"
        );
        assert_eq!(
            Paths::object(&deploys, &ObjectKey::new("default", "web")),
            "/apis/apps/v1/namespaces/default/deployments/web"
        );
        assert_eq!(
            Paths::object(&nodes, &ObjectKey::new("ignored", "n1")),
            "/api/v1/nodes/n1"
        );
        assert_eq!(segment("a b/c"), "a%20b%2Fc");
    }

    #[test]
    fn stored_objects_take_key_and_revision_from_metadata() {
        let t = Arc::new(TypeKey::new("", "v1", "Node", "nodes", false));
        let o = stored(
            &t,
            json!({"metadata": {"name": "n1", "namespace": "x", "resourceVersion": "42"}}),
        )
        .unwrap();
        assert_eq!(o.key(), &ObjectKey::cluster("n1"));
        assert_eq!(o.revision(), 42);
        assert_eq!(o.json()["kind"], "Node");
        assert_eq!(o.json()["apiVersion"], "v1");
        assert!(stored(&t, json!({"metadata": {"name": "n1"}})).is_err());
    }

    #[test]
    fn delete_options_carry_policy_grace_and_preconditions() {
        let params = DeleteParams {
            preconditions: crate::params::Preconditions {
                uid: Some("u".into()),
                resource_version: None,
            },
            propagation_policy: Some(PropagationPolicy::Foreground),
            grace_period_seconds: Some(0),
        };
        let o = delete_options(&params);
        assert_eq!(o["propagationPolicy"], "Foreground");
        assert_eq!(o["gracePeriodSeconds"], 0);
        assert_eq!(o["preconditions"], json!({"uid": "u"}));
        assert_eq!(delete_options(&DeleteParams::default()).get("preconditions"), None);
    }
}
