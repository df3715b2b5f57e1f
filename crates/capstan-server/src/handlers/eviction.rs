//! POST `.../pods/{name}/eviction`: the policy/v1 `Eviction` subresource `kubectl drain` uses.
//!
//! On Kubernetes an eviction is a delete that first asks the PodDisruptionBudgets covering the pod
//! whether it may go. Capstan serves no PodDisruptionBudgets, so every eviction of an existing pod is
//! allowed: the pod is deleted with the eviction's `deleteOptions` (grace period, preconditions,
//! dry run) and the answer is `201 Created` with a `Success` Status, as the API server gives.
//!
//! # Errors
//! - 400 when the body is not an `Eviction` or names another pod or namespace than the URL.
//! - 404 when the pod does not exist; 409 when a precondition in `deleteOptions` fails.

use capstan_store::DeleteOutcome;
use http::Response;
use serde_json::{Value, json};

use super::read::object_key;
use super::write::{delete_params_from, options_dry_run};
use super::{dry_run, route_name};
use crate::body::{ApiRequest, Body, json_response};
use crate::router::ResourceRoute;
use crate::server::ApiServer;
use crate::status::ApiError;

/// The API versions an `Eviction` body may carry.
const EVICTION_VERSIONS: [&str; 2] = ["policy/v1", "policy/v1beta1"];

/// Checks an `Eviction` body against the URL: kind, API version, name and namespace.
fn check_eviction(rr: &ResourceRoute, eviction: &Value) -> Result<(), ApiError> {
    if !eviction.is_object() {
        return Err(ApiError::bad_request("the request body must be an Eviction object"));
    }
    if let Some(kind) = eviction["kind"].as_str().filter(|k| *k != "Eviction") {
        return Err(ApiError::bad_request(format!(
            "the kind in the data ({kind}) does not match the expected kind (Eviction)"
        )));
    }
    if let Some(av) = eviction["apiVersion"]
        .as_str()
        .filter(|av| !EVICTION_VERSIONS.contains(av))
    {
        return Err(ApiError::bad_request(format!(
            "the API version in the data ({av}) does not match the expected API version (policy/v1)"
        )));
    }
    if eviction["metadata"]["name"].as_str().unwrap_or("") != route_name(rr) {
        return Err(ApiError::bad_request(
            "name in URL does not match name in Eviction object",
        ));
    }
    match (eviction["metadata"]["namespace"].as_str(), rr.namespace.as_deref()) {
        (Some(ns), Some(path_ns)) if !ns.is_empty() && ns != path_ns => Err(ApiError::bad_request(
            "the namespace of the provided object does not match the namespace sent on the request",
        )),
        _ => Ok(()),
    }
}

/// The `Status` an allowed eviction answers with.
fn success() -> Response<Body> {
    json_response(
        201,
        &json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}),
    )
}

/// POST: evicts the pod the route names, honouring the eviction's `deleteOptions`.
pub async fn evict(server: &ApiServer, rr: &ResourceRoute, req: &ApiRequest) -> Result<Response<Body>, ApiError> {
    let t = &rr.info.type_key;
    let eviction = req.object()?;
    check_eviction(rr, &eviction)?;
    let opts = &eviction["deleteOptions"];
    let params = delete_params_from(opts, None)?;
    let key = object_key(rr);
    let pod = server
        .store()
        .get(t, &key)
        .await
        .map_err(|e| ApiError::from_store(&e, t, route_name(rr)))?;
    if dry_run(req)? || options_dry_run(opts) {
        return Ok(success());
    }
    let outcome = server
        .store()
        .delete(t, &key, &params)
        .await
        .map_err(|e| ApiError::from_store(&e, t, route_name(rr)))?;
    let pending = matches!(outcome, DeleteOutcome::Pending(_));
    tracing::info!(pod = %pod.key(), grace = ?params.grace_period_seconds, pending, "evicted");
    Ok(success())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use bytes::Bytes;
    use capstan_store::{MemoryStore, Store};
    use http::{Method, Request};
    use http_body_util::{BodyExt, Full};
    use serde_json::{Value, json};

    use crate::proto::test_wire::{bytes_field, envelope, int_field};
    use crate::{ApiServer, ServerConfig};

    const PROTOBUF: &str = "application/vnd.kubernetes.protobuf";

    fn server() -> ApiServer {
        let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
        ApiServer::new(store, ServerConfig::default())
    }

    async fn call(s: &ApiServer, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let bytes = body.map(|b| serde_json::to_vec(&b).unwrap()).unwrap_or_default();
        send(s, method, path, "application/json", bytes).await
    }

    async fn send(s: &ApiServer, method: Method, path: &str, content_type: &str, body: Vec<u8>) -> (u16, Value) {
        let req = Request::builder()
            .method(method)
            .uri(path)
            .header("content-type", content_type)
            .body(Full::new(Bytes::from(body)))
            .unwrap();
        let resp = s.handle(req).await;
        let code = resp.status().as_u16();
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        (code, serde_json::from_slice(&body).unwrap_or(Value::Null))
    }

    async fn with_pod(name: &str, grace: i64) -> ApiServer {
        let s = server();
        let ns = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "default"}});
        assert_eq!(call(&s, Method::POST, "/api/v1/namespaces", Some(ns)).await.0, 201);
        let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"nodeName": "n1", "terminationGracePeriodSeconds": grace,
                "containers": [{"name": "c", "image": "nginx"}]}});
        let (code, body) = call(&s, Method::POST, "/api/v1/namespaces/default/pods", Some(pod)).await;
        assert_eq!(code, 201, "{body}");
        s
    }

    fn eviction(name: &str, delete_options: Value) -> Value {
        json!({"apiVersion": "policy/v1", "kind": "Eviction",
            "metadata": {"name": name, "namespace": "default"}, "deleteOptions": delete_options})
    }

    const POD: &str = "/api/v1/namespaces/default/pods/web-1";
    const EVICT: &str = "/api/v1/namespaces/default/pods/web-1/eviction";

    #[tokio::test]
    async fn an_eviction_with_a_zero_grace_period_deletes_the_pod_and_answers_201_success() {
        let s = with_pod("web-1", 30).await;
        let ev = eviction("web-1", json!({"gracePeriodSeconds": 0}));
        let (code, status) = call(&s, Method::POST, EVICT, Some(ev)).await;
        assert_eq!(code, 201, "{status}");
        assert_eq!(status["kind"], "Status");
        assert_eq!(status["status"], "Success");
        assert_eq!(call(&s, Method::GET, POD, None).await.0, 404);
    }

    /// A protobuf `DeleteOptions` message with a grace period of `grace` seconds.
    fn proto_delete_options(grace: u64) -> Vec<u8> {
        let mut opts = Vec::new();
        int_field(1, grace, &mut opts);
        opts
    }

    #[tokio::test]
    async fn a_protobuf_eviction_as_kubectl_drain_sends_it_deletes_the_pod() {
        let s = with_pod("web-1", 30).await;
        let mut meta = Vec::new();
        bytes_field(1, b"web-1", &mut meta);
        bytes_field(3, b"default", &mut meta);
        let mut ev = Vec::new();
        bytes_field(1, &meta, &mut ev);
        bytes_field(2, &proto_delete_options(0), &mut ev);
        let body = envelope("policy/v1", "Eviction", &ev);
        let (code, status) = send(&s, Method::POST, EVICT, PROTOBUF, body).await;
        assert_eq!(code, 201, "{status}");
        assert_eq!(call(&s, Method::GET, POD, None).await.0, 404);
    }

    #[tokio::test]
    async fn a_protobuf_delete_options_body_on_delete_is_honoured() {
        let s = with_pod("web-1", 30).await;
        let body = envelope("meta.k8s.io/v1", "DeleteOptions", &proto_delete_options(5));
        let (code, pod) = send(&s, Method::DELETE, POD, PROTOBUF, body).await;
        assert!(code == 200 || code == 202, "{code} {pod}");
        assert_eq!(pod["metadata"]["deletionGracePeriodSeconds"], 5, "{pod}");
    }

    #[tokio::test]
    async fn an_eviction_without_options_starts_the_pods_own_grace_period() {
        let s = with_pod("web-1", 30).await;
        let (code, _) = call(&s, Method::POST, EVICT, Some(eviction("web-1", Value::Null))).await;
        assert_eq!(code, 201);
        let (code, pod) = call(&s, Method::GET, POD, None).await;
        assert_eq!(code, 200);
        assert!(pod["metadata"]["deletionTimestamp"].is_string(), "{pod}");
        assert_eq!(pod["metadata"]["deletionGracePeriodSeconds"], 30);
    }

    #[tokio::test]
    async fn a_dry_run_eviction_leaves_the_pod_alone() {
        let s = with_pod("web-1", 30).await;
        let ev = eviction("web-1", json!({"gracePeriodSeconds": 0, "dryRun": ["All"]}));
        assert_eq!(call(&s, Method::POST, EVICT, Some(ev)).await.0, 201);
        let (code, pod) = call(&s, Method::GET, POD, None).await;
        assert_eq!(code, 200);
        assert!(pod["metadata"]["deletionTimestamp"].is_null(), "{pod}");
    }

    #[tokio::test]
    async fn evicting_a_missing_pod_is_404_and_naming_another_pod_is_400() {
        let s = with_pod("web-1", 30).await;
        let missing = "/api/v1/namespaces/default/pods/web-2/eviction";
        let (code, status) = call(&s, Method::POST, missing, Some(eviction("web-2", Value::Null))).await;
        assert_eq!((code, status["reason"].as_str()), (404, Some("NotFound")));
        let (code, status) = call(&s, Method::POST, EVICT, Some(eviction("web-2", Value::Null))).await;
        assert_eq!(code, 400, "{status}");
        assert!(status["message"].as_str().unwrap().contains("does not match"));
        let mut other_ns = eviction("web-1", Value::Null);
        other_ns["metadata"]["namespace"] = json!("kube-system");
        assert_eq!(call(&s, Method::POST, EVICT, Some(other_ns)).await.0, 400);
        let wrong_kind = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web-1"}});
        assert_eq!(call(&s, Method::POST, EVICT, Some(wrong_kind)).await.0, 400);
        assert_eq!(call(&s, Method::GET, POD, None).await.0, 200);
    }

    #[tokio::test]
    async fn a_failed_uid_precondition_is_a_conflict_and_other_methods_are_refused() {
        let s = with_pod("web-1", 30).await;
        let ev = eviction("web-1", json!({"preconditions": {"uid": "not-the-uid"}}));
        assert_eq!(call(&s, Method::POST, EVICT, Some(ev)).await.0, 409);
        assert_eq!(call(&s, Method::GET, EVICT, None).await.0, 405);
        let (code, _) = call(&s, Method::PUT, EVICT, Some(eviction("web-1", Value::Null))).await;
        assert_eq!(code, 405);
        assert_eq!(call(&s, Method::GET, POD, None).await.0, 200);
    }
}
