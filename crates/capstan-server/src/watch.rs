//! Watch over HTTP: newline-delimited JSON events (`{"type": "ADDED", "object": {...}}`) streamed in
//! a chunked response until `timeoutSeconds` passes, the client leaves, or the store ends the stream.

use std::borrow::Cow;
use std::convert::Infallible;
use std::time::Duration;

use bytes::Bytes;
use capstan_store::{ListParams, StoreError, StoredObject, WatchEvent, WatchParams};
use futures::StreamExt;
use http::{HeaderValue, Response, header};
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::body::{ApiRequest, Body};
use crate::handlers::read::{kind_selectors, stored_json};
use crate::router::ResourceRoute;
use crate::server::ApiServer;
use crate::status::ApiError;
use crate::table::{self, IncludeObject};

/// The longest watch the server holds open when the client names no timeout.
pub const DEFAULT_WATCH_TIMEOUT: Duration = Duration::from_secs(1800);

/// One watch event on the wire.
#[derive(serde::Serialize)]
struct Line<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    object: Cow<'a, Value>,
}

fn encode_line(line: &Line<'_>) -> Bytes {
    let mut bytes = serde_json::to_vec(line).unwrap_or_default();
    bytes.push(b'\n');
    Bytes::from(bytes)
}

/// How one watch renders its events.
#[derive(Clone, Debug)]
struct Render {
    rr: ResourceRoute,
    table: Option<IncludeObject>,
}

impl Render {
    /// One event line for a stored object: serialized straight from the stored JSON when it already
    /// carries its type (no copy per watcher), or as a one-row Table.
    fn object_line(&self, kind: &str, o: &StoredObject) -> Bytes {
        match self.table {
            Some(include) => {
                let v = stored_json(&self.rr, o);
                let rv = v["metadata"]["resourceVersion"].as_str().unwrap_or("").to_owned();
                self.line(kind, table::table_for(&self.rr.info, &[&v], &rv, include))
            }
            None => {
                let v = o.json();
                let object = if v.get("apiVersion").is_some() && v.get("kind").is_some() {
                    Cow::Borrowed(v)
                } else {
                    Cow::Owned(stored_json(&self.rr, o))
                };
                encode_line(&Line { kind, object })
            }
        }
    }

    fn line(&self, kind: &str, object: Value) -> Bytes {
        encode_line(&Line {
            kind,
            object: Cow::Owned(object),
        })
    }

    fn event(&self, ev: &WatchEvent) -> Bytes {
        match ev {
            WatchEvent::Added(o) => self.object_line("ADDED", o),
            WatchEvent::Modified(o) => self.object_line("MODIFIED", o),
            WatchEvent::Deleted(o) => self.object_line("DELETED", o),
            WatchEvent::Bookmark(rev) => {
                let t = &self.rr.info.type_key;
                let obj = match self.table {
                    Some(_) => json!({"kind": "Table", "apiVersion": "meta.k8s.io/v1",
                        "metadata": {"resourceVersion": rev.to_string()}, "columnDefinitions": [], "rows": []}),
                    None => json!({"kind": t.kind, "apiVersion": t.api_version(),
                        "metadata": {"resourceVersion": rev.to_string()}}),
                };
                self.line("BOOKMARK", obj)
            }
        }
    }

    /// The bookmark that closes the initial events of a `sendInitialEvents=true` watch.
    fn initial_events_end(&self, rev: u64) -> Bytes {
        let t = &self.rr.info.type_key;
        self.line(
            "BOOKMARK",
            json!({"kind": t.kind, "apiVersion": t.api_version(), "metadata": {"resourceVersion": rev.to_string(),
                "annotations": {"k8s.io/initial-events-end": "true"}}}),
        )
    }

    fn error(&self, err: &StoreError) -> Bytes {
        let api = ApiError::from_store(err, &self.rr.info.type_key, "");
        self.line("ERROR", api.to_status())
    }
}

/// How long a watch from a revision the store has not reached yet waits for it, as Kubernetes' watch
/// cache does, before answering "Too large resource version".
pub const FUTURE_REVISION_WAIT: Duration = Duration::from_secs(3);

/// Waits up to [`FUTURE_REVISION_WAIT`] for the store to reach `requested`; then 504 Timeout with the
/// `ResourceVersionTooLarge` cause clients relist on, instead of a watch that stays silent.
async fn wait_for_revision(server: &ApiServer, t: &capstan_core::TypeKey, requested: u64) -> Result<(), ApiError> {
    let deadline = tokio::time::Instant::now() + FUTURE_REVISION_WAIT;
    loop {
        let current = server
            .store()
            .current_revision()
            .await
            .map_err(|e| ApiError::from_store(&e, t, ""))?;
        if requested <= current {
            return Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            let mut e = ApiError::new(
                504,
                "Timeout",
                format!("Too large resource version: {requested}, current: {current}"),
            );
            e.causes.push(crate::status::Cause {
                reason: "ResourceVersionTooLarge".into(),
                message: "Too large resource version".into(),
                field: String::new(),
            });
            return Err(e);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Starts a watch and returns the streaming response.
pub async fn watch(server: &ApiServer, rr: &ResourceRoute, req: &ApiRequest) -> Result<Response<Body>, ApiError> {
    let t = rr.info.type_key.clone();
    let (label_selector, field_selector) = kind_selectors(&t, req)?;
    let timeout = match req.q("timeoutSeconds") {
        Some(s) => Duration::from_secs(
            s.parse::<u64>()
                .map_err(|_| ApiError::bad_request(format!("invalid timeoutSeconds {s:?}")))?,
        ),
        None => DEFAULT_WATCH_TIMEOUT,
    };
    let render = Render {
        rr: rr.clone(),
        table: table::wants_table(req.header("accept").unwrap_or(""))
            .then(|| IncludeObject::parse(req.q("includeObject"))),
    };
    let send_initial = req.flag("sendInitialEvents");
    let requested = match req.q("resourceVersion") {
        None | Some("0") => None,
        Some(s) => Some(
            s.parse::<u64>()
                .map_err(|_| ApiError::bad_request(format!("invalid resourceVersion {s:?}")))?,
        ),
    };
    if let Some(r) = requested {
        wait_for_revision(server, &t, r).await?;
    }
    let mut initial: Vec<Bytes> = Vec::new();
    let from = match requested {
        Some(r) if !send_initial => r,
        _ => {
            let params = ListParams {
                namespace: rr.namespace.clone(),
                label_selector: label_selector.clone(),
                field_selector: field_selector.clone(),
                limit: None,
                continue_token: None,
            };
            let list = server
                .store()
                .list(&t, &params)
                .await
                .map_err(|e| ApiError::from_store(&e, &t, ""))?;
            initial.extend(list.items.iter().map(|o| render.event(&WatchEvent::Added(o.clone()))));
            if send_initial {
                initial.push(render.initial_events_end(list.revision));
            }
            list.revision
        }
    };
    let params = WatchParams {
        namespace: rr.namespace.clone(),
        label_selector,
        field_selector,
        from_revision: from,
        bookmarks: req.flag("allowWatchBookmarks"),
    };
    let (tx, rx) = mpsc::channel::<Bytes>(256);
    let stream = server.store().watch(&t, &params).await;
    tokio::spawn(async move {
        for line in initial {
            if tx.send(line).await.is_err() {
                return;
            }
        }
        let mut events = match stream {
            Ok(s) => s,
            Err(e) => {
                let _ = tx.send(render.error(&e)).await;
                return;
            }
        };
        let deadline = tokio::time::sleep(timeout);
        tokio::pin!(deadline);
        loop {
            tokio::select! {
                biased;
                _ = tx.closed() => return,
                _ = &mut deadline => return,
                next = events.next() => match next {
                    Some(Ok(ev)) => {
                        if tx.send(render.event(&ev)).await.is_err() {
                            return;
                        }
                    }
                    Some(Err(e)) => {
                        let _ = tx.send(render.error(&e)).await;
                        return;
                    }
                    None => return,
                },
            }
        }
    });
    let frames = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|b| (Ok::<_, Infallible>(Frame::data(b)), rx))
    });
    let mut resp = Response::new(StreamBody::new(frames).boxed_unsync());
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache, private"));
    Ok(resp)
}
