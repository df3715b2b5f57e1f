//! Watch resumption against a scripted HTTP server: each connection gets the next scripted answer,
//! so broken connections, replayed events, bookmarks and `410 Gone` happen exactly when a test
//! says.

use std::sync::Arc;
use std::time::Duration;

use capstan_core::TypeKey;
use futures::StreamExt;
use parking_lot::Mutex;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::error::StoreError;
use crate::object::WatchEvent;
use crate::params::WatchParams;
use crate::remote::{KubeConfig, RemoteOptions, RemoteStore, ServerUrl};
use crate::store::Store;

/// One scripted answer.
struct Answer {
    status: u16,
    lines: Vec<String>,
    /// End with the final chunk (a clean end) or drop the socket mid-response.
    clean: bool,
}

fn pod_line(kind: &str, name: &str, rev: u64) -> String {
    format!(
        r#"{{"type":"{kind}","object":{{"apiVersion":"v1","kind":"Pod","metadata":{{"name":"{name}","namespace":"default","resourceVersion":"{rev}"}}}}}}"#
    )
}

fn bookmark(rev: u64) -> String {
    format!(
        r#"{{"type":"BOOKMARK","object":{{"kind":"Pod","apiVersion":"v1","metadata":{{"resourceVersion":"{rev}"}}}}}}"#
    )
}

const GONE: &str = r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"too old resource version: 9 (oldest retained: 20)","reason":"Expired","code":410}"#;

/// Serves `script`, one answer per connection, and records each request line.
async fn serve(script: Vec<Answer>) -> (ServerUrl, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let requests = Arc::new(Mutex::new(Vec::new()));
    let seen = requests.clone();
    tokio::spawn(async move {
        for answer in script {
            let (mut sock, _) = listener.accept().await.unwrap();
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") {
                if sock.read(&mut byte).await.unwrap() == 0 {
                    break;
                }
                head.push(byte[0]);
            }
            let text = String::from_utf8_lossy(&head).into_owned();
            seen.lock().push(text.lines().next().unwrap_or("").to_owned());
            let mut out = format!(
                "HTTP/1.1 {} X\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n",
                answer.status
            );
            for line in &answer.lines {
                let line = format!("{line}\n");
                out.push_str(&format!("{:x}\r\n{line}\r\n", line.len()));
            }
            if answer.clean {
                out.push_str("0\r\n\r\n");
            }
            sock.write_all(out.as_bytes()).await.unwrap();
            sock.flush().await.unwrap();
            if answer.clean {
                // Let the client read the end before the socket goes.
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            drop(sock);
        }
    });
    let url = ServerUrl {
        https: false,
        host: "127.0.0.1".into(),
        port,
        base_path: String::new(),
    };
    (url, requests)
}

fn store(server: ServerUrl) -> RemoteStore {
    let config = KubeConfig {
        server,
        ca_pem: None,
        insecure_skip_tls_verify: false,
        tls_server_name: None,
        token: Some("t".into()),
        namespace: "default".into(),
    };
    let options = RemoteOptions {
        watch_backoff: Duration::from_millis(10),
        ..RemoteOptions::default()
    };
    RemoteStore::new(&config, options).unwrap()
}

fn pods() -> TypeKey {
    TypeKey::new("", "v1", "Pod", "pods", true)
}

fn summary(event: &WatchEvent) -> String {
    match event {
        WatchEvent::Added(o) => format!("added {}@{}", o.key().name, o.revision()),
        WatchEvent::Modified(o) => format!("modified {}@{}", o.key().name, o.revision()),
        WatchEvent::Deleted(o) => format!("deleted {}@{}", o.key().name, o.revision()),
        WatchEvent::Bookmark(r) => format!("bookmark {r}"),
    }
}

#[tokio::test]
async fn a_broken_connection_resumes_from_the_last_revision_dropping_replayed_events() {
    let (url, requests) = serve(vec![
        Answer {
            status: 200,
            lines: vec![pod_line("ADDED", "a", 6), pod_line("MODIFIED", "a", 7)],
            clean: false,
        },
        Answer {
            status: 200,
            lines: vec![pod_line("MODIFIED", "a", 7), pod_line("ADDED", "b", 8), bookmark(9)],
            clean: true,
        },
        Answer {
            status: 410,
            lines: vec![GONE.into()],
            clean: true,
        },
    ])
    .await;
    let params = WatchParams {
        namespace: Some("default".into()),
        from_revision: 5,
        bookmarks: true,
        ..Default::default()
    };
    let mut events = store(url).watch(&pods(), &params).await.unwrap();
    let mut seen = Vec::new();
    let end = loop {
        match tokio::time::timeout(Duration::from_secs(10), events.next())
            .await
            .unwrap()
        {
            Some(Ok(e)) => seen.push(summary(&e)),
            Some(Err(e)) => break e,
            None => panic!("the stream ended without Gone after {seen:?}"),
        }
    };
    assert_eq!(seen, ["added a@6", "modified a@7", "added b@8", "bookmark 9"]);
    assert!(
        matches!(
            end,
            StoreError::Gone {
                requested: 9,
                oldest: 20
            }
        ),
        "{end:?}"
    );
    assert!(events.next().await.is_none(), "Gone ends the stream");
    let requests = requests.lock().clone();
    assert_eq!(requests.len(), 3);
    for (line, rv) in requests.iter().zip(["5", "7", "9"]) {
        assert!(
            line.starts_with("GET /api/v1/namespaces/default/pods?watch=1"),
            "{line}"
        );
        assert!(line.contains(&format!("resourceVersion={rv}&")), "{line}");
        assert!(line.contains("allowWatchBookmarks=true"), "{line}");
    }
}

#[tokio::test]
async fn an_error_event_with_410_ends_the_stream_with_gone_and_bookmarks_stay_internal_unless_asked() {
    let (url, _) = serve(vec![
        Answer {
            status: 200,
            lines: vec![bookmark(4), pod_line("DELETED", "a", 6)],
            clean: true,
        },
        Answer {
            status: 200,
            lines: vec![format!(r#"{{"type":"ERROR","object":{GONE}}}"#)],
            clean: true,
        },
    ])
    .await;
    let params = WatchParams {
        from_revision: 3,
        ..Default::default()
    };
    let mut events = store(url).watch(&pods(), &params).await.unwrap();
    let first = events.next().await.unwrap().unwrap();
    assert_eq!(summary(&first), "deleted a@6");
    assert!(matches!(events.next().await, Some(Err(StoreError::Gone { .. }))));
    assert!(events.next().await.is_none());
}

#[tokio::test]
async fn an_error_answer_to_the_first_request_is_the_watch_error() {
    let (url, _) = serve(vec![Answer {
        status: 410,
        lines: vec![GONE.into()],
        clean: true,
    }])
    .await;
    let params = WatchParams {
        from_revision: 9,
        ..Default::default()
    };
    match store(url).watch(&pods(), &params).await {
        Err(StoreError::Gone { requested, .. }) => assert_eq!(requested, 9),
        Err(other) => panic!("expected Gone, got {other:?}"),
        Ok(_) => panic!("expected Gone, got a stream"),
    }
}
