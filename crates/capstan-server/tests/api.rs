//! The API over a MemoryStore, request by request through `ApiServer::handle`: status codes, list
//! paging, watch streams, patches, subresources and limits.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use capstan_server::{ApiServer, ServerConfig};
use capstan_store::{MemoryStore, Store};
use http::{Method, Request};
use http_body_util::{BodyExt, Full};
use serde_json::{Value, json};

const TOKEN: &str = "s3cret";

fn server_with(config: ServerConfig) -> (ApiServer, Arc<MemoryStore>) {
    let store = Arc::new(MemoryStore::new());
    let dyn_store: Arc<dyn Store> = store.clone();
    (ApiServer::new(dyn_store, config), store)
}

fn server() -> ApiServer {
    server_with(ServerConfig {
        token: Some(TOKEN.into()),
        ..ServerConfig::default()
    })
    .0
}

fn request(method: Method, path: &str, content_type: &str, body: &[u8], accept: &str) -> Request<Full<Bytes>> {
    Request::builder()
        .method(method)
        .uri(path)
        .header("authorization", format!("Bearer {TOKEN}"))
        .header("content-type", content_type)
        .header("accept", accept)
        .body(Full::new(Bytes::copy_from_slice(body)))
        .expect("request")
}

async fn call(s: &ApiServer, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
    let ct = if method == Method::PATCH {
        "application/merge-patch+json"
    } else {
        "application/json"
    };
    let bytes = body.map(|b| serde_json::to_vec(&b).expect("json")).unwrap_or_default();
    send(s, request(method, path, ct, &bytes, "application/json")).await
}

async fn send(s: &ApiServer, req: Request<Full<Bytes>>) -> (u16, Value) {
    let resp = s.handle(req).await;
    let code = resp.status().as_u16();
    let bytes = resp.into_body().collect().await.expect("body").to_bytes();
    (code, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

fn namespace(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
}

fn pod(name: &str, labels: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": labels},
        "spec": {"containers": [{"name": "c", "image": "nginx"}]}})
}

fn deployment(name: &str) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": name}},
          "template": {"metadata": {"labels": {"app": name}},
            "spec": {"containers": [{"name": "web", "image": "nginx:1", "env": [{"name": "A", "value": "1"}]}]}}}})
}

async fn with_default_ns(s: &ApiServer) {
    let (code, _) = call(s, Method::POST, "/api/v1/namespaces", Some(namespace("default"))).await;
    assert_eq!(code, 201);
}

#[tokio::test]
async fn requests_without_the_bearer_token_are_401_but_health_probes_are_open() {
    let s = server();
    let req = Request::builder()
        .uri("/api/v1/pods")
        .body(Full::new(Bytes::new()))
        .expect("req");
    let (code, status) = send(&s, req).await;
    assert_eq!(code, 401);
    assert_eq!(status["kind"], "Status");
    assert_eq!(status["reason"], "Unauthorized");
    let req = Request::builder()
        .uri("/readyz")
        .body(Full::new(Bytes::new()))
        .expect("req");
    assert_eq!(s.handle(req).await.status().as_u16(), 200);
}

#[tokio::test]
async fn malformed_requests_get_4xx_statuses_never_500() {
    let (s, _) = server_with(ServerConfig {
        token: Some(TOKEN.into()),
        body_limit: 1024,
        ..ServerConfig::default()
    });
    with_default_ns(&s).await;
    let big = vec![b' '; 2048];
    let (code, st) = send(
        &s,
        request(
            Method::POST,
            "/api/v1/namespaces/default/pods",
            "application/json",
            &big,
            "*/*",
        ),
    )
    .await;
    assert_eq!((code, st["reason"].as_str()), (413, Some("RequestEntityTooLarge")));
    let (code, _) = send(
        &s,
        request(
            Method::POST,
            "/api/v1/namespaces/default/pods",
            "application/vnd.kubernetes.protobuf",
            b"k8s\0",
            "*/*",
        ),
    )
    .await;
    assert_eq!(code, 415);
    let (code, _) = send(
        &s,
        request(
            Method::POST,
            "/api/v1/namespaces/default/pods",
            "application/json",
            b"{not json",
            "*/*",
        ),
    )
    .await;
    assert_eq!(code, 400);
    let (code, _) = call(&s, Method::DELETE, "/apis", None).await;
    assert_eq!(code, 405);
    let (code, _) = call(&s, Method::GET, "/api/v1/widgets", None).await;
    assert_eq!(code, 404);
    let (code, _) = call(&s, Method::GET, "/api/v1/pods?labelSelector=a%20in%20(", None).await;
    assert_eq!(code, 400);
    let mut p = pod("p", json!({}));
    p["metadata"]["namespace"] = json!("other");
    let (code, st) = call(&s, Method::POST, "/api/v1/namespaces/default/pods", Some(p)).await;
    assert_eq!(code, 400, "{st}");
    let (code, st) = call(
        &s,
        Method::POST,
        "/api/v1/namespaces/missing/pods",
        Some(pod("p", json!({}))),
    )
    .await;
    assert_eq!((code, st["details"]["kind"].as_str()), (404, Some("namespaces")));
}

#[tokio::test]
async fn creates_conflict_on_existing_names_and_updates_compare_and_swap() {
    let s = server();
    with_default_ns(&s).await;
    let path = "/apis/apps/v1/namespaces/default/deployments";
    let (code, created) = call(&s, Method::POST, path, Some(deployment("web"))).await;
    assert_eq!(code, 201);
    let (code, st) = call(&s, Method::POST, path, Some(deployment("web"))).await;
    assert_eq!((code, st["reason"].as_str()), (409, Some("AlreadyExists")));
    let mut stale = created.clone();
    stale["spec"]["replicas"] = json!(3);
    let (code, _) = call(&s, Method::PUT, &format!("{path}/web"), Some(stale.clone())).await;
    assert_eq!(code, 200);
    let (code, st) = call(&s, Method::PUT, &format!("{path}/web"), Some(stale)).await;
    assert_eq!((code, st["reason"].as_str()), (409, Some("Conflict")));
}

#[tokio::test]
async fn invalid_objects_are_422_with_every_field_as_a_cause() {
    let s = server();
    with_default_ns(&s).await;
    let mut d = deployment("web");
    d["spec"]["selector"]["matchLabels"] = json!({"app": "other"});
    d["spec"]["replicas"] = json!(-1);
    let (code, st) = call(
        &s,
        Method::POST,
        "/apis/apps/v1/namespaces/default/deployments",
        Some(d),
    )
    .await;
    assert_eq!(code, 422);
    let fields: Vec<&str> = st["details"]["causes"]
        .as_array()
        .expect("causes")
        .iter()
        .filter_map(|c| c["field"].as_str())
        .collect();
    assert!(fields.iter().any(|f| f.contains("replicas")), "{st}");
    assert!(
        fields.iter().any(|f| f.contains("selector") || f.contains("labels")),
        "{st}"
    );
}

#[tokio::test]
async fn lists_page_with_limit_and_continue_and_filter_by_labels() {
    let s = server();
    with_default_ns(&s).await;
    for (n, tier) in [("a", "web"), ("b", "db"), ("c", "web")] {
        let (code, _) = call(
            &s,
            Method::POST,
            "/api/v1/namespaces/default/pods",
            Some(pod(n, json!({"tier": tier}))),
        )
        .await;
        assert_eq!(code, 201);
    }
    let (_, page1) = call(&s, Method::GET, "/api/v1/namespaces/default/pods?limit=2", None).await;
    assert_eq!(page1["kind"], "PodList");
    assert_eq!(page1["items"].as_array().map(Vec::len), Some(2));
    let token = page1["metadata"]["continue"]
        .as_str()
        .expect("continue token")
        .to_owned();
    let (_, page2) = call(
        &s,
        Method::GET,
        &format!("/api/v1/namespaces/default/pods?limit=2&continue={token}"),
        None,
    )
    .await;
    assert_eq!(page2["items"][0]["metadata"]["name"], "c");
    let (_, web) = call(&s, Method::GET, "/api/v1/pods?labelSelector=tier%3Dweb", None).await;
    let names: Vec<&str> = web["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|i| i["metadata"]["name"].as_str())
        .collect();
    assert_eq!(names, ["a", "c"]);
    let req = request(
        Method::GET,
        "/api/v1/namespaces/default/pods",
        "application/json",
        b"",
        "application/json;as=Table;v=v1;g=meta.k8s.io",
    );
    let (_, table) = send(&s, req).await;
    assert_eq!(table["kind"], "Table");
    assert_eq!(table["rows"].as_array().map(Vec::len), Some(3));
}

async fn next_event(body: &mut capstan_server::body::Body, buf: &mut Vec<u8>) -> Value {
    loop {
        if let Some(pos) = buf.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = buf.drain(..=pos).collect();
            return serde_json::from_slice(&line).expect("event json");
        }
        let frame = tokio::time::timeout(Duration::from_secs(5), body.frame())
            .await
            .expect("an event in time")
            .expect("stream open")
            .expect("frame");
        if let Ok(data) = frame.into_data() {
            buf.extend_from_slice(&data);
        }
    }
}

#[tokio::test]
async fn watch_from_zero_sends_current_state_then_changes() {
    let s = server();
    with_default_ns(&s).await;
    let path = "/apis/apps/v1/namespaces/default/deployments";
    call(&s, Method::POST, path, Some(deployment("web"))).await;
    let resp = s
        .handle(request(
            Method::GET,
            &format!("{path}?watch=1&resourceVersion=0"),
            "application/json",
            b"",
            "application/json",
        ))
        .await;
    assert_eq!(resp.status().as_u16(), 200);
    let mut body = resp.into_body();
    let mut buf = Vec::new();
    let first = next_event(&mut body, &mut buf).await;
    assert_eq!(first["type"], "ADDED");
    assert_eq!(first["object"]["metadata"]["name"], "web");
    let (code, _) = call(
        &s,
        Method::PATCH,
        &format!("{path}/web"),
        Some(json!({"spec": {"replicas": 5}})),
    )
    .await;
    assert_eq!(code, 200);
    let second = next_event(&mut body, &mut buf).await;
    assert_eq!(second["type"], "MODIFIED");
    assert_eq!(second["object"]["spec"]["replicas"], 5);
    let (code, _) = call(&s, Method::DELETE, &format!("{path}/web"), None).await;
    assert_eq!(code, 200);
    assert_eq!(next_event(&mut body, &mut buf).await["type"], "DELETED");
}

#[tokio::test]
async fn watching_from_a_compacted_revision_ends_with_a_410_expired_event() {
    let (s, store) = server_with(ServerConfig {
        token: Some(TOKEN.into()),
        ..ServerConfig::default()
    });
    with_default_ns(&s).await;
    for n in ["a", "b", "c"] {
        call(
            &s,
            Method::POST,
            "/api/v1/namespaces/default/pods",
            Some(pod(n, json!({}))),
        )
        .await;
    }
    let rev = store.current_revision().await.expect("revision");
    store.compact(rev).await.expect("compact");
    let resp = s
        .handle(request(
            Method::GET,
            "/api/v1/namespaces/default/pods?watch=true&resourceVersion=1",
            "application/json",
            b"",
            "application/json",
        ))
        .await;
    let mut body = resp.into_body();
    let ev = next_event(&mut body, &mut Vec::new()).await;
    assert_eq!(ev["type"], "ERROR");
    assert_eq!(ev["object"]["code"], 410);
    assert_eq!(ev["object"]["reason"], "Expired");
}

#[tokio::test]
async fn strategic_merge_patches_merge_containers_by_name_and_scale_reads_and_writes_replicas() {
    let s = server();
    with_default_ns(&s).await;
    let path = "/apis/apps/v1/namespaces/default/deployments";
    call(&s, Method::POST, path, Some(deployment("web"))).await;
    let patch = json!({"spec": {"template": {"spec": {"containers": [{"name": "web", "image": "nginx:2"}]}}}});
    let req = request(
        Method::PATCH,
        &format!("{path}/web"),
        "application/strategic-merge-patch+json",
        &serde_json::to_vec(&patch).expect("json"),
        "application/json",
    );
    let (code, d) = send(&s, req).await;
    assert_eq!(code, 200, "{d}");
    let c = &d["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(
        (c["image"].as_str(), c["env"][0]["name"].as_str()),
        (Some("nginx:2"), Some("A"))
    );
    let (code, scale) = call(&s, Method::GET, &format!("{path}/web/scale"), None).await;
    assert_eq!(
        (code, scale["kind"].as_str(), scale["spec"]["replicas"].as_i64()),
        (200, Some("Scale"), Some(2))
    );
    let (code, scale) = call(
        &s,
        Method::PATCH,
        &format!("{path}/web/scale"),
        Some(json!({"spec": {"replicas": 7}})),
    )
    .await;
    assert_eq!((code, scale["spec"]["replicas"].as_i64()), (200, Some(7)));
    let (_, d) = call(&s, Method::GET, &format!("{path}/web"), None).await;
    assert_eq!(d["spec"]["replicas"], 7);
    let (code, _) = call(
        &s,
        Method::PATCH,
        &format!("{path}/web/scale"),
        Some(json!({"spec": {"replicas": -1}})),
    )
    .await;
    assert_eq!(code, 422);
}

#[tokio::test]
async fn dry_run_and_strict_field_validation_write_nothing() {
    let s = server();
    with_default_ns(&s).await;
    let path = "/apis/apps/v1/namespaces/default/deployments";
    let (code, _) = call(&s, Method::POST, &format!("{path}?dryRun=All"), Some(deployment("web"))).await;
    assert_eq!(code, 201);
    let (code, _) = call(&s, Method::GET, &format!("{path}/web"), None).await;
    assert_eq!(code, 404);
    let mut d = deployment("web");
    d["spec"]["replica"] = json!(1);
    let (code, st) = call(&s, Method::POST, &format!("{path}?fieldValidation=Strict"), Some(d)).await;
    assert_eq!(code, 400);
    assert!(
        st["message"]
            .as_str()
            .unwrap_or("")
            .contains("unknown field \"spec.replica\""),
        "{st}"
    );
}

#[tokio::test]
async fn an_overloaded_server_answers_429_with_retry_after() {
    let (s, _) = server_with(ServerConfig {
        token: Some(TOKEN.into()),
        max_in_flight: 0,
        ..ServerConfig::default()
    });
    let resp = s
        .handle(request(
            Method::GET,
            "/api/v1/pods",
            "application/json",
            b"",
            "application/json",
        ))
        .await;
    assert_eq!(resp.status().as_u16(), 429);
    assert!(resp.headers().contains_key("retry-after"));
}

#[tokio::test]
async fn send_initial_events_ends_the_initial_state_with_a_marked_bookmark() {
    let s = server();
    with_default_ns(&s).await;
    call(
        &s,
        Method::POST,
        "/api/v1/namespaces/default/pods",
        Some(pod("a", json!({}))),
    )
    .await;
    let path = "/api/v1/namespaces/default/pods?watch=1&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true";
    let resp = s
        .handle(request(Method::GET, path, "application/json", b"", "application/json"))
        .await;
    let mut body = resp.into_body();
    let mut buf = Vec::new();
    assert_eq!(next_event(&mut body, &mut buf).await["type"], "ADDED");
    let end = next_event(&mut body, &mut buf).await;
    assert_eq!(end["type"], "BOOKMARK");
    assert_eq!(
        end["object"]["metadata"]["annotations"]["k8s.io/initial-events-end"],
        "true"
    );
}

#[tokio::test]
async fn unsupported_field_labels_are_400_and_supported_ones_filter() {
    let s = server();
    with_default_ns(&s).await;
    let (code, _) = call(
        &s,
        Method::POST,
        "/api/v1/namespaces/default/pods",
        Some(pod("p", json!({}))),
    )
    .await;
    assert_eq!(code, 201);
    for path in [
        "/api/v1/namespaces/default/pods?fieldSelector=metadata.nmae%3Dp",
        "/api/v1/pods?fieldSelector=foo%3Dbar&watch=1",
        "/apis/apps/v1/deployments?fieldSelector=status.phase%3DRunning",
        "/api/v1/namespaces/default/configmaps?fieldSelector=data.a%3D1",
        "/api/v1/services?fieldSelector=spec.selector%3Dx",
    ] {
        let (code, st) = call(&s, Method::GET, path, None).await;
        assert_eq!(code, 400, "{path}: {st}");
        assert!(
            st["message"]
                .as_str()
                .unwrap_or("")
                .contains("field label not supported"),
            "{st}"
        );
    }
    let (code, list) = call(
        &s,
        Method::GET,
        "/api/v1/namespaces/default/pods?fieldSelector=metadata.name%3Dp,spec.nodeName%3D",
        None,
    )
    .await;
    assert_eq!(code, 200);
    assert_eq!(list["items"].as_array().map(Vec::len), Some(1));
    let (code, _) = call(
        &s,
        Method::GET,
        "/api/v1/events?fieldSelector=involvedObject.kind%3DDeployment,involvedObject.name%3Dweb",
        None,
    )
    .await;
    assert_eq!(code, 200, "kubectl describe's event selector is supported");
}

#[tokio::test]
async fn logs_and_exec_of_simulated_pods_say_there_are_no_containers() {
    let s = server();
    with_default_ns(&s).await;
    let (code, _) = call(
        &s,
        Method::POST,
        "/api/v1/namespaces/default/pods",
        Some(pod("p", json!({}))),
    )
    .await;
    assert_eq!(code, 201);
    for (method, sub) in [
        (Method::GET, "log"),
        (Method::POST, "exec"),
        (Method::GET, "exec"),
        (Method::POST, "attach"),
    ] {
        let (code, st) = call(&s, method, &format!("/api/v1/namespaces/default/pods/p/{sub}"), None).await;
        assert_eq!(code, 400, "{sub}: {st}");
        assert!(
            st["message"].as_str().unwrap_or("").contains("runs no containers"),
            "{st}"
        );
    }
    let (code, _) = call(&s, Method::GET, "/api/v1/namespaces/default/pods/missing/log", None).await;
    assert_eq!(code, 404);
    let (code, _) = call(
        &s,
        Method::GET,
        "/apis/apps/v1/namespaces/default/deployments/d/log",
        None,
    )
    .await;
    assert_eq!(code, 404, "only pods have a log subresource");
}

#[tokio::test(start_paused = true)]
async fn watching_from_a_revision_the_store_has_not_reached_is_a_504_too_large_resource_version() {
    let s = server();
    with_default_ns(&s).await;
    let (code, st) = call(
        &s,
        Method::GET,
        "/api/v1/namespaces/default/pods?watch=1&resourceVersion=99999999",
        None,
    )
    .await;
    assert_eq!((code, st["reason"].as_str()), (504, Some("Timeout")), "{st}");
    assert_eq!(st["details"]["causes"][0]["reason"], "ResourceVersionTooLarge");
    let (_, ns) = call(&s, Method::GET, "/api/v1/namespaces/default", None).await;
    let current = ns["metadata"]["resourceVersion"].as_str().unwrap_or("0").to_owned();
    let resp = s
        .handle(request(
            Method::GET,
            &format!("/api/v1/namespaces/default/pods?watch=1&resourceVersion={current}"),
            "application/json",
            b"",
            "application/json",
        ))
        .await;
    assert_eq!(resp.status().as_u16(), 200, "the current revision is watchable");
}

#[tokio::test]
async fn boolean_query_flags_read_true_and_1_and_python_true_as_kubernetes_does() {
    // The Python client sends `watch=True&allowWatchBookmarks=True`; Kubernetes treats any value but
    // `false`/`0` as true, so bookmarks must come for every spelling and never for `false`.
    let store = Arc::new(MemoryStore::with_options(capstan_store::StoreOptions {
        bookmark_interval: Duration::from_millis(50),
        ..capstan_store::StoreOptions::default()
    }));
    let dyn_store: Arc<dyn Store> = store.clone();
    let s = ApiServer::new(
        dyn_store,
        ServerConfig {
            token: Some(TOKEN.into()),
            ..ServerConfig::default()
        },
    );
    with_default_ns(&s).await;
    let (_, list) = call(&s, Method::GET, "/api/v1/namespaces/default/pods", None).await;
    let rv = list["metadata"]["resourceVersion"]
        .as_str()
        .expect("list rv")
        .to_owned();
    for (watch, bookmarks) in [("1", "true"), ("True", "True"), ("true", "1"), ("t", "yes")] {
        let path = format!(
            "/api/v1/namespaces/default/pods?watch={watch}&allowWatchBookmarks={bookmarks}&resourceVersion={rv}"
        );
        let resp = s
            .handle(request(Method::GET, &path, "application/json", b"", "application/json"))
            .await;
        assert_eq!(resp.status().as_u16(), 200, "{path}");
        let mut body = resp.into_body();
        let mut buf = Vec::new();
        let ev = next_event(&mut body, &mut buf).await;
        assert_eq!(ev["type"], "BOOKMARK", "{path}");
        assert_eq!(ev["object"]["kind"], "Pod", "{path}");
    }
    // `watch=false` is a list, and `allowWatchBookmarks=false` gets no bookmark before a real event.
    let (code, listed) = call(&s, Method::GET, "/api/v1/namespaces/default/pods?watch=false", None).await;
    assert_eq!((code, listed["kind"].as_str()), (200, Some("PodList")));
    let path = format!("/api/v1/namespaces/default/pods?watch=true&allowWatchBookmarks=false&resourceVersion={rv}");
    let resp = s
        .handle(request(Method::GET, &path, "application/json", b"", "application/json"))
        .await;
    let mut body = resp.into_body();
    tokio::time::sleep(Duration::from_millis(200)).await;
    call(
        &s,
        Method::POST,
        "/api/v1/namespaces/default/pods",
        Some(pod("after", json!({}))),
    )
    .await;
    let mut buf = Vec::new();
    assert_eq!(next_event(&mut body, &mut buf).await["type"], "ADDED");
}
