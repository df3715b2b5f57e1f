//! CustomResourceDefinitions over a MemoryStore, request by request through `ApiServer::handle`:
//! a CRD is established and its kind served, custom objects are written and read with Kubernetes'
//! semantics, and deleting the CRD deletes its objects and stops serving the kind.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use capstan_core::{ObjectKey, TypeKey};
use capstan_server::{ApiServer, ServerConfig};
use capstan_store::{ListParams, MemoryStore, Store};
use http::{Method, Request};
use http_body_util::{BodyExt, Full};
use serde_json::{Value, json};

/// A server over a fresh store holding the `default` namespace.
async fn server() -> (Arc<ApiServer>, Arc<MemoryStore>) {
    let store = Arc::new(MemoryStore::new());
    let ns = TypeKey::new("", "v1", "Namespace", "namespaces", false);
    store
        .create(
            &ns,
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "default"}}),
        )
        .await
        .expect("default namespace");
    let dyn_store: Arc<dyn Store> = store.clone();
    (Arc::new(ApiServer::new(dyn_store, ServerConfig::default())), store)
}

async fn send(s: &ApiServer, method: Method, path: &str, ct: &str, accept: &str, body: Option<Value>) -> (u16, Value) {
    let bytes = body.map(|b| serde_json::to_vec(&b).expect("json")).unwrap_or_default();
    let req = Request::builder()
        .method(method)
        .uri(path)
        .header("content-type", ct)
        .header("accept", accept)
        .body(Full::new(Bytes::from(bytes)))
        .expect("request");
    let resp = s.handle(req).await;
    let code = resp.status().as_u16();
    let bytes = resp.into_body().collect().await.expect("body").to_bytes();
    (code, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

async fn call(s: &ApiServer, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
    let ct = if method == Method::PATCH {
        "application/merge-patch+json"
    } else {
        "application/json"
    };
    send(s, method, path, ct, "application/json", body).await
}

fn greeting_crd(with_status: bool) -> Value {
    let mut version = json!({"name": "v1", "served": true, "storage": true,
        "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}},
        "additionalPrinterColumns": [{"name": "Message", "type": "string", "jsonPath": ".spec.message"}]});
    if with_status {
        version["subresources"] = json!({"status": {}});
    }
    json!({
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "greetings.demo.capstan.dev"},
        "spec": {"group": "demo.capstan.dev", "scope": "Namespaced",
            "names": {"plural": "greetings", "kind": "Greeting", "shortNames": ["gr"], "categories": ["all"]},
            "versions": [version]},
    })
}

fn greeting(name: &str, message: &str) -> Value {
    json!({"apiVersion": "demo.capstan.dev/v1", "kind": "Greeting",
        "metadata": {"name": name, "namespace": "default"}, "spec": {"message": message}})
}

const CRDS: &str = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions";
const GREETINGS: &str = "/apis/demo.capstan.dev/v1/namespaces/default/greetings";

async fn established(s: &ApiServer) -> Value {
    let (code, crd) = call(s, Method::GET, &format!("{CRDS}/greetings.demo.capstan.dev"), None).await;
    assert_eq!(code, 200, "{crd}");
    crd
}

fn condition<'a>(crd: &'a Value, kind: &str) -> &'a Value {
    crd["status"]["conditions"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["type"] == kind))
        .map_or(&Value::Null, |c| &c["status"])
}

#[tokio::test]
async fn a_created_crd_is_established_and_its_kind_is_discovered() {
    let (s, _) = server().await;
    assert_eq!(call(&s, Method::GET, GREETINGS, None).await.0, 404);
    let (code, body) = call(&s, Method::POST, CRDS, Some(greeting_crd(true))).await;
    assert_eq!(code, 201, "{body}");
    let crd = established(&s).await;
    assert_eq!(condition(&crd, "Established"), "True");
    assert_eq!(condition(&crd, "NamesAccepted"), "True");
    assert_eq!(crd["status"]["acceptedNames"]["kind"], "Greeting");
    assert_eq!(crd["status"]["storedVersions"], json!(["v1"]));
    assert_eq!(crd["spec"]["names"]["singular"], "greeting");
    assert_eq!(crd["spec"]["names"]["listKind"], "GreetingList");
    assert!(
        crd["metadata"]["finalizers"]
            .as_array()
            .is_some_and(|f| f.iter().any(|x| x == "customresourcecleanup.apiextensions.k8s.io"))
    );
    let (code, list) = call(&s, Method::GET, "/apis/demo.capstan.dev/v1", None).await;
    assert_eq!(code, 200);
    let res = &list["resources"];
    assert_eq!(res[0]["name"], "greetings");
    assert_eq!(res[0]["shortNames"], json!(["gr"]));
    assert_eq!(res[0]["categories"], json!(["all"]));
    assert_eq!(res[1]["name"], "greetings/status");
    let (_, groups) = call(&s, Method::GET, "/apis", None).await;
    assert!(
        groups["groups"]
            .as_array()
            .unwrap()
            .iter()
            .any(|g| g["name"] == "demo.capstan.dev")
    );
    let (code, agg) = send(
        &s,
        Method::GET,
        "/apis",
        "application/json",
        "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList",
        None,
    )
    .await;
    assert_eq!(code, 200);
    let group = agg["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["metadata"]["name"] == "demo.capstan.dev");
    assert_eq!(
        group.unwrap()["versions"][0]["resources"][0]["singularResource"],
        "greeting"
    );
    let (code, oa) = call(&s, Method::GET, "/openapi/v3/apis/demo.capstan.dev/v1", None).await;
    assert_eq!(code, 200);
    assert!(oa["paths"]["/apis/demo.capstan.dev/v1/namespaces/{namespace}/greetings/{name}"]["patch"].is_object());
}

#[tokio::test]
async fn custom_objects_are_written_patched_and_listed_as_tables() {
    let (s, _) = server().await;
    call(&s, Method::POST, CRDS, Some(greeting_crd(true))).await;
    let (code, created) = call(&s, Method::POST, GREETINGS, Some(greeting("hello", "hi"))).await;
    assert_eq!(code, 201, "{created}");
    assert_eq!(created["metadata"]["generation"], 1);
    let mismatched = json!({"apiVersion": "demo.capstan.dev/v2", "kind": "Greeting", "metadata": {"name": "x"}});
    assert_eq!(call(&s, Method::POST, GREETINGS, Some(mismatched)).await.0, 400);
    let (code, body) = send(
        &s,
        Method::PATCH,
        &format!("{GREETINGS}/hello"),
        "application/strategic-merge-patch+json",
        "application/json",
        Some(json!({"spec": {"message": "x"}})),
    )
    .await;
    assert_eq!(code, 415, "{body}");
    let (code, patched) = call(
        &s,
        Method::PATCH,
        &format!("{GREETINGS}/hello?fieldValidation=Strict"),
        Some(json!({"spec": {"message": "hey", "extra": 1}, "status": {"seen": true}})),
    )
    .await;
    assert_eq!(code, 200, "{patched}");
    assert_eq!(patched["spec"]["message"], "hey");
    assert_eq!(patched["metadata"]["generation"], 2);
    assert_eq!(patched["status"], Value::Null, "a main write keeps the stored status");
    let (code, st) = call(
        &s,
        Method::PATCH,
        &format!("{GREETINGS}/hello/status"),
        Some(json!({"spec": {"message": "ignored"}, "status": {"seen": true}})),
    )
    .await;
    assert_eq!(code, 200, "{st}");
    assert_eq!(st["status"]["seen"], true);
    assert_eq!(st["spec"]["message"], "hey", "a status write keeps the spec");
    assert_eq!(st["metadata"]["generation"], 2);
    let (code, tbl) = send(
        &s,
        Method::GET,
        GREETINGS,
        "application/json",
        "application/json;as=Table;v=v1;g=meta.k8s.io",
        None,
    )
    .await;
    assert_eq!(code, 200);
    let names: Vec<&str> = tbl["columnDefinitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Name", "Message", "Age"]);
    assert_eq!(tbl["rows"][0]["cells"][0], "hello");
    assert_eq!(tbl["rows"][0]["cells"][1], "hey");
}

#[tokio::test]
async fn without_a_status_subresource_main_writes_carry_the_status_and_no_status_path_is_served() {
    let (s, _) = server().await;
    call(&s, Method::POST, CRDS, Some(greeting_crd(false))).await;
    let mut g = greeting("hello", "hi");
    g["status"] = json!({"phase": "new"});
    let (code, created) = call(&s, Method::POST, GREETINGS, Some(g)).await;
    assert_eq!(code, 201, "{created}");
    assert_eq!(created["status"]["phase"], "new");
    let status_path = format!("{GREETINGS}/hello/status");
    assert_eq!(call(&s, Method::GET, &status_path, None).await.0, 404);
    let patch = json!({"status": {"phase": "done"}});
    let (code, patched) = call(&s, Method::PATCH, &format!("{GREETINGS}/hello"), Some(patch)).await;
    assert_eq!(code, 200, "{patched}");
    assert_eq!(patched["status"]["phase"], "done");
    let (_, got) = call(&s, Method::GET, &format!("{GREETINGS}/hello"), None).await;
    assert_eq!(got["status"]["phase"], "done");
    assert_eq!(got["spec"]["message"], "hi");
}

#[tokio::test]
async fn a_crd_with_a_bad_name_is_refused_naming_the_field() {
    let (s, _) = server().await;
    let mut crd = greeting_crd(true);
    crd["metadata"]["name"] = json!("greeting.demo.capstan.dev");
    let (code, body) = call(&s, Method::POST, CRDS, Some(crd)).await;
    assert_eq!(code, 422, "{body}");
    assert_eq!(body["details"]["causes"][0]["field"], "metadata.name");
}

#[tokio::test]
async fn deleting_a_crd_deletes_its_objects_and_stops_serving_the_kind() {
    let (s, store) = server().await;
    call(&s, Method::POST, CRDS, Some(greeting_crd(true))).await;
    for n in ["a", "b"] {
        assert_eq!(call(&s, Method::POST, GREETINGS, Some(greeting(n, "hi"))).await.0, 201);
    }
    let (code, body) = call(&s, Method::DELETE, &format!("{CRDS}/greetings.demo.capstan.dev"), None).await;
    assert!(code == 200 || code == 202, "{code} {body}");
    assert_eq!(
        call(&s, Method::GET, &format!("{CRDS}/greetings.demo.capstan.dev"), None)
            .await
            .0,
        404
    );
    assert_eq!(call(&s, Method::GET, GREETINGS, None).await.0, 404);
    let t = TypeKey::new("demo.capstan.dev", "v1", "Greeting", "greetings", true);
    assert!(store.list(&t, &ListParams::default()).await.unwrap().items.is_empty());
}

#[tokio::test]
async fn a_crd_written_to_the_store_in_process_is_served_by_the_watching_server() {
    let (s, store) = server().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(Arc::clone(&s).serve(listener, None, async {
        let _ = stop_rx.await;
    }));
    let crd_type = TypeKey::new(
        "apiextensions.k8s.io",
        "v1",
        "CustomResourceDefinition",
        "customresourcedefinitions",
        false,
    );
    store.create(&crd_type, greeting_crd(true)).await.unwrap();
    let mut served = false;
    for _ in 0..100 {
        if call(&s, Method::GET, GREETINGS, None).await.0 == 200 {
            served = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(served, "the watching server never served the kind");
    let crd = store
        .get(&crd_type, &ObjectKey::cluster("greetings.demo.capstan.dev"))
        .await
        .unwrap();
    let mut established = condition(crd.json(), "Established") == "True";
    for _ in 0..100 {
        if established {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        let crd = established_json(&store, &crd_type).await;
        established = condition(&crd, "Established") == "True";
    }
    assert!(established);
    let _ = stop_tx.send(());
    let _ = serving.await;
}

async fn established_json(store: &MemoryStore, t: &TypeKey) -> Value {
    store
        .get(t, &ObjectKey::cluster("greetings.demo.capstan.dev"))
        .await
        .unwrap()
        .json()
        .clone()
}

#[tokio::test]
async fn the_namespaces_kubernetes_needs_cannot_be_deleted() {
    let (s, _) = server().await;
    for ns in ["kube-system", "kube-public", "team-a"] {
        let body = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}});
        call(&s, Method::POST, "/api/v1/namespaces", Some(body)).await;
    }
    for ns in ["default", "kube-system", "kube-public"] {
        let (code, body) = call(&s, Method::DELETE, &format!("/api/v1/namespaces/{ns}"), None).await;
        assert_eq!(code, 403, "{body}");
        assert_eq!(
            body["message"],
            format!("namespaces \"{ns}\" is forbidden: this namespace may not be deleted")
        );
    }
    assert!(matches!(
        call(&s, Method::DELETE, "/api/v1/namespaces/team-a", None).await.0,
        200 | 202
    ));
}
