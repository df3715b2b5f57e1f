//! Watches over HTTP that survive dropped connections.
//!
//! # Expected flow
//!
//! 1. `GET {collection}?watch=1&resourceVersion=R&allowWatchBookmarks=true&timeoutSeconds=T` on a
//!    connection of its own; a non-2xx answer is the error of [`Store::watch`](crate::Store::watch).
//! 2. Newline-delimited JSON events are decoded as they arrive; each object event moves the resume
//!    point to its revision, and so does every bookmark (bookmarks are always asked for, and handed
//!    on only when the caller asked for them).
//! 3. When the response ends (the server's `timeoutSeconds`, a proxy, a restart) or the connection
//!    breaks, the watch is opened again from the resume point: at once after a clean end, after a
//!    backoff (100 ms doubling to 30 s) after a failure. Events at or below the resume point are
//!    dropped, so the caller sees every change exactly once across reconnects.
//! 4. A `410 Gone` (answered to a reconnect, or as an `ERROR` event) is handed on as
//!    [`StoreError::Gone`] and ends the stream: the caller relists.
//!
//! A watch from revision 0 asks the server for the current objects first (`sendInitialEvents`),
//! and resumes only after their end marker; a connection lost before it ends the stream with Gone.
//!
//! The stream stops (and its connection closes) when it is dropped.

use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use capstan_core::{ObjectKey, TypeKey};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use serde_json::Value;
use tokio::sync::mpsc;

use super::client::Transport;
use super::status::{Subject, decode_error, from_status};
use super::{Paths, RemoteOptions, stored};
use crate::error::{Result, StoreError};
use crate::object::WatchEvent;
use crate::params::WatchParams;
use crate::store::{Revision, WatchStream};

/// The longest event line accepted (a bigger one breaks the connection, and the watch resumes).
const MAX_LINE: usize = 64 * 1024 * 1024;

/// One watch: what to ask for and where to send events.
pub(crate) struct Watch {
    pub(crate) transport: Arc<Transport>,
    pub(crate) type_key: Arc<TypeKey>,
    pub(crate) params: WatchParams,
    pub(crate) options: RemoteOptions,
}

/// Why one connection's events stopped.
enum End {
    /// The response ended cleanly: resume at once.
    Clean,
    /// The connection failed: resume after a backoff.
    Broken(String),
    /// An error was handed on, or the consumer left: stop.
    Stop,
}

/// Where the stream is.
struct Position {
    /// The resume point: every change up to it has been delivered.
    last: Revision,
    /// Still receiving the initial objects of a watch from revision 0.
    initial: bool,
    /// Whether the current connection delivered anything.
    delivered: bool,
}

impl Watch {
    /// Opens the watch: the first connection's errors are returned here, later ones go down the
    /// stream or are retried.
    pub(crate) async fn start(self) -> Result<WatchStream> {
        let first = self.connect(self.params.from_revision).await?;
        let (tx, rx) = mpsc::channel::<Result<WatchEvent>>(256);
        tokio::spawn(self.run(first, tx));
        Ok(Box::pin(futures::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|event| (event, rx))
        })))
    }

    fn subject(&self, revision: Revision) -> Subject<'_> {
        Subject {
            type_key: &self.type_key,
            key: ObjectKey::new(self.params.namespace.clone().unwrap_or_default(), ""),
            revision,
            sent: 0,
        }
    }

    /// The watch request for resume point `from`.
    fn path(&self, from: Revision) -> String {
        let mut q = form_urlencoded::Serializer::new(String::new());
        q.append_pair("watch", "1");
        q.append_pair("allowWatchBookmarks", "true");
        if from == 0 {
            q.append_pair("sendInitialEvents", "true");
            q.append_pair("resourceVersionMatch", "NotOlderThan");
        } else {
            q.append_pair("resourceVersion", &from.to_string());
        }
        let timeout = self.options.watch_timeout.as_secs().max(1);
        q.append_pair("timeoutSeconds", &timeout.to_string());
        if !self.params.label_selector.is_empty() {
            q.append_pair("labelSelector", &self.params.label_selector.to_string());
        }
        if !self.params.field_selector.requirements.is_empty() {
            q.append_pair("fieldSelector", &self.params.field_selector.to_string());
        }
        format!(
            "{}?{}",
            Paths::collection(&self.type_key, self.params.namespace.as_deref()),
            q.finish()
        )
    }

    async fn connect(&self, from: Revision) -> Result<Incoming> {
        let resp = self.transport.open(&self.path(from)).await?;
        let status = resp.status();
        if status.is_success() {
            return Ok(resp.into_body());
        }
        let body = match resp.into_body().collect().await {
            Ok(b) => b.to_bytes(),
            Err(e) => return Err(StoreError::Unavailable(format!("reading a watch error answer: {e}"))),
        };
        Err(decode_error(status.as_u16(), &body, &self.subject(from)))
    }

    /// Follows connections until the consumer leaves or an error ends the stream.
    async fn run(self, mut body: Incoming, tx: mpsc::Sender<Result<WatchEvent>>) {
        let mut pos = Position {
            last: self.params.from_revision,
            initial: self.params.from_revision == 0,
            delivered: false,
        };
        let mut delay = Duration::ZERO;
        loop {
            pos.delivered = false;
            match self.follow(body, &mut pos, &tx).await {
                End::Stop => return,
                End::Clean => {
                    tracing::debug!(kind = %self.type_key, last = pos.last, "watch ended; resuming");
                    delay = Duration::ZERO;
                }
                End::Broken(why) => {
                    tracing::debug!(kind = %self.type_key, last = pos.last, %why, "watch broke; resuming");
                    if pos.delivered {
                        delay = Duration::ZERO;
                    }
                }
            }
            if pos.initial {
                let _ = tx
                    .send(Err(StoreError::Gone {
                        requested: 0,
                        oldest: 0,
                    }))
                    .await;
                return;
            }
            body = loop {
                let retry = delay;
                delay = (delay * 2).clamp(self.options.watch_backoff, self.options.watch_backoff_max);
                let attempt = async {
                    tokio::time::sleep(retry).await;
                    self.connect(pos.last).await
                };
                let result = tokio::select! {
                    biased;
                    _ = tx.closed() => return,
                    r = attempt => r,
                };
                match result {
                    Ok(b) => break b,
                    Err(e @ (StoreError::Unavailable(_) | StoreError::Timeout(_))) => {
                        tracing::warn!(kind = %self.type_key, last = pos.last, error = %e, next = ?delay, "watch reconnect failed; retrying");
                    }
                    Err(e) => {
                        let _ = tx.send(Err(e)).await;
                        return;
                    }
                }
            };
        }
    }

    /// Hands on one connection's events.
    async fn follow(&self, mut body: Incoming, pos: &mut Position, tx: &mpsc::Sender<Result<WatchEvent>>) -> End {
        let mut buf = BytesMut::new();
        loop {
            let frame = tokio::select! {
                biased;
                _ = tx.closed() => return End::Stop,
                f = body.frame() => f,
            };
            let data = match frame {
                None => return End::Clean,
                Some(Err(e)) => return End::Broken(e.to_string()),
                Some(Ok(frame)) => match frame.into_data() {
                    Ok(d) => d,
                    Err(_) => continue,
                },
            };
            buf.extend_from_slice(&data);
            while let Some(at) = buf.iter().position(|b| *b == b'\n') {
                let line = buf.split_to(at + 1);
                if line.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                match self.event(&line, pos) {
                    Ok(None) => {}
                    Ok(Some(event)) => {
                        // An error is the stream's last item.
                        let last = event.is_err();
                        if tx.send(event).await.is_err() || last {
                            return End::Stop;
                        }
                    }
                    Err(end) => return end,
                }
            }
            if buf.len() > MAX_LINE {
                return End::Broken(format!("an event line over {MAX_LINE} bytes"));
            }
        }
    }

    /// One event line: `Ok(Some)` to hand on, `Ok(None)` to drop, `Err` to end this connection.
    fn event(&self, line: &[u8], pos: &mut Position) -> Result<Option<Result<WatchEvent>>, End> {
        let v: Value = serde_json::from_slice(line).map_err(|e| End::Broken(format!("undecodable event: {e}")))?;
        let object = v.get("object").cloned().unwrap_or(Value::Null);
        let kind = v["type"].as_str().unwrap_or("");
        match kind {
            "ADDED" | "MODIFIED" | "DELETED" => {
                let o = stored(&self.type_key, object).map_err(|e| End::Broken(e.to_string()))?;
                let rev = o.revision();
                if !pos.initial {
                    if rev <= pos.last {
                        tracing::debug!(kind = %self.type_key, rev, last = pos.last, "dropping an event already delivered");
                        return Ok(None);
                    }
                    pos.last = rev;
                }
                pos.delivered = true;
                Ok(Some(Ok(match kind {
                    "ADDED" => WatchEvent::Added(o),
                    "MODIFIED" => WatchEvent::Modified(o),
                    _ => WatchEvent::Deleted(o),
                })))
            }
            "BOOKMARK" => {
                let meta = &object["metadata"];
                let Some(rev) = meta["resourceVersion"]
                    .as_str()
                    .and_then(|r| r.parse::<Revision>().ok())
                else {
                    return Ok(None);
                };
                if meta["annotations"]["k8s.io/initial-events-end"] == "true" {
                    pos.initial = false;
                }
                if pos.initial || rev <= pos.last {
                    return Ok(None);
                }
                pos.last = rev;
                pos.delivered = true;
                Ok(self.params.bookmarks.then_some(Ok(WatchEvent::Bookmark(rev))))
            }
            "ERROR" => match from_status(500, &object, line, &self.subject(pos.last)) {
                e @ (StoreError::Unavailable(_) | StoreError::Timeout(_)) => Err(End::Broken(e.to_string())),
                e => Ok(Some(Err(e))),
            },
            other => Err(End::Broken(format!("unknown watch event type {other:?}"))),
        }
    }
}
