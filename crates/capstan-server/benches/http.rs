//! List and watch over HTTP against the in-process store, in the same run (plain HTTP on loopback).
//!
//! `cargo bench -p capstan-server --bench http` prints: the time and bytes of listing 10,000 pods
//! over HTTP and straight from the store (and their ratio), and the delivery latency (p50/p99) of
//! events to 500 concurrent HTTP watches against the same watches opened on the store directly
//! (and their ratios). Each watch is read by a task of its own, as a client would; the store
//! watches and the HTTP watches run one after the other, never at the same time.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use capstan_core::TypeKey;
use capstan_server::{ApiServer, ServerConfig};
use capstan_store::{ListParams, MemoryStore, Store, WatchParams};
use futures::StreamExt;
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;
use serde_json::json;
use tokio::net::{TcpListener, TcpStream};

const PODS: usize = 10_000;
const WATCHES: usize = 500;
const EVENTS: usize = 20;

fn pods() -> TypeKey {
    TypeKey::new("", "v1", "Pod", "pods", true)
}

fn pod(i: usize) -> serde_json::Value {
    json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": format!("pod-{i:05}"), "namespace": "default", "labels": {"app": "bench"}},
        "spec": {"containers": [{"name": "c", "image": "nginx:1.25"}]}})
}

async fn get(addr: std::net::SocketAddr, path: &str) -> hyper::Response<hyper::body::Incoming> {
    let tcp = TcpStream::connect(addr).await.expect("connect");
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
        .await
        .expect("handshake");
    tokio::spawn(conn);
    let req = hyper::Request::get(path)
        .header("host", "localhost")
        .body(Empty::<Bytes>::new())
        .expect("request");
    sender.send_request(req).await.expect("send")
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Writes EVENTS updates of pod-00000, each after every watch has received the previous one, and
/// returns the delivery latencies (arrival minus the time the update was sent), sorted.
async fn fan_out(store: &Arc<dyn Store>, mut arrived: tokio::sync::mpsc::UnboundedReceiver<Instant>) -> Vec<Duration> {
    let key = capstan_core::ObjectKey::new("default", "pod-00000");
    let mut latencies = Vec::with_capacity(WATCHES * EVENTS);
    for e in 0..EVENTS {
        let mut p = store.get(&pods(), &key).await.expect("get").json().clone();
        p["metadata"]["labels"]["round"] = json!(e.to_string());
        let sent = Instant::now();
        store
            .update(&pods(), p, capstan_store::Subresource::Main)
            .await
            .expect("update");
        for _ in 0..WATCHES {
            let at = arrived.recv().await.expect("every watch delivers every event");
            latencies.push(at.duration_since(sent));
        }
    }
    latencies.sort();
    latencies
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let store = Arc::new(MemoryStore::new());
    let dyn_store: Arc<dyn Store> = store.clone();
    dyn_store
        .create(
            &TypeKey::new("", "v1", "Namespace", "namespaces", false),
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "default"}}),
        )
        .await
        .expect("namespace");
    for i in 0..PODS {
        dyn_store.create(&pods(), pod(i)).await.expect("create pod");
    }
    let server = Arc::new(ApiServer::new(Arc::clone(&dyn_store), ServerConfig::default()));
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);
    let serving = tokio::spawn(Arc::clone(&server).serve(listener, None, async move {
        let _ = stop_rx.wait_for(|s| *s).await;
    }));

    // List: 5 rounds each, best time.
    let params = ListParams {
        namespace: Some("default".into()),
        ..ListParams::default()
    };
    let mut direct = Duration::MAX;
    for _ in 0..5 {
        let t = Instant::now();
        let list = dyn_store.list(&pods(), &params).await.expect("list");
        assert_eq!(list.items.len(), PODS);
        direct = direct.min(t.elapsed());
    }
    let (mut over_http, mut bytes) = (Duration::MAX, 0usize);
    for _ in 0..5 {
        let t = Instant::now();
        let resp = get(addr, "/api/v1/namespaces/default/pods").await;
        let body = resp.into_body().collect().await.expect("body").to_bytes();
        over_http = over_http.min(t.elapsed());
        bytes = body.len();
    }
    println!(
        "list {PODS} pods: store {:.1} ms, HTTP {:.1} ms ({bytes} bytes, {:.0} bytes/pod), ratio {:.1}x",
        direct.as_secs_f64() * 1e3,
        over_http.as_secs_f64() * 1e3,
        bytes as f64 / PODS as f64,
        over_http.as_secs_f64() / direct.as_secs_f64()
    );

    // Watch: WATCHES watches on one pod, EVENTS updates; first all on the store, then all over
    // HTTP (never both at once). Each watch is read by a task of its own that stamps each event's
    // arrival; an update is written only once every watch has the previous one.
    let store_lat = {
        let (arrived_tx, arrived) = tokio::sync::mpsc::unbounded_channel();
        for _ in 0..WATCHES {
            let wp = WatchParams {
                namespace: Some("default".into()),
                field_selector: capstan_core::FieldSelector::parse("metadata.name=pod-00000").expect("selector"),
                from_revision: dyn_store.current_revision().await.expect("revision"),
                ..WatchParams::default()
            };
            let mut w = dyn_store.watch(&pods(), &wp).await.expect("watch");
            let arrived_tx = arrived_tx.clone();
            tokio::spawn(async move {
                for _ in 0..EVENTS {
                    loop {
                        match w.next().await {
                            Some(Ok(capstan_store::WatchEvent::Modified(_))) => break,
                            Some(Ok(_)) => continue,
                            other => panic!("store watch ended: {other:?}"),
                        }
                    }
                    let _ = arrived_tx.send(Instant::now());
                }
            });
        }
        drop(arrived_tx);
        fan_out(&dyn_store, arrived).await
    };
    let http_lat = {
        let rev = dyn_store.current_revision().await.expect("revision");
        let path = format!(
            "/api/v1/namespaces/default/pods?watch=1&resourceVersion={rev}&fieldSelector=metadata.name%3Dpod-00000"
        );
        let (arrived_tx, arrived) = tokio::sync::mpsc::unbounded_channel();
        for _ in 0..WATCHES {
            let mut body = get(addr, &path).await.into_body();
            let arrived_tx = arrived_tx.clone();
            tokio::spawn(async move {
                let mut buf: Vec<u8> = Vec::new();
                let mut seen = 0;
                while seen < EVENTS {
                    let frame = body.frame().await.expect("watch open").expect("frame");
                    let Ok(data) = frame.into_data() else { continue };
                    buf.extend_from_slice(&data);
                    while let Some(end) = buf.iter().position(|b| *b == b'\n') {
                        let line: Vec<u8> = buf.drain(..=end).collect();
                        let event: serde_json::Value = serde_json::from_slice(&line).expect("event");
                        if event["type"] == "MODIFIED" {
                            seen += 1;
                            let _ = arrived_tx.send(Instant::now());
                        }
                    }
                }
            });
        }
        drop(arrived_tx);
        fan_out(&dyn_store, arrived).await
    };
    let (store_p50, store_p99) = (percentile(&store_lat, 0.5), percentile(&store_lat, 0.99));
    let (http_p50, http_p99) = (percentile(&http_lat, 0.5), percentile(&http_lat, 0.99));
    println!(
        "{WATCHES} watches x {EVENTS} events: store p50 {:.2} ms p99 {:.2} ms; HTTP p50 {:.2} ms p99 {:.2} ms; \
         ratio HTTP/store p50 {:.1}x, p99 {:.1}x",
        store_p50.as_secs_f64() * 1e3,
        store_p99.as_secs_f64() * 1e3,
        http_p50.as_secs_f64() * 1e3,
        http_p99.as_secs_f64() * 1e3,
        http_p50.as_secs_f64() / store_p50.as_secs_f64().max(1e-9),
        http_p99.as_secs_f64() / store_p99.as_secs_f64().max(1e-9)
    );
    let _ = stop_tx.send(true);
    let _ = serving.await;
}
