//! The `scale` subresource: an `autoscaling/v1 Scale` view of `spec.replicas`.

use capstan_core::FieldError;
use capstan_store::{StoreError, StoredObject, Subresource};
use http::Response;
use serde_json::{Value, json};

use super::patch::{apply_patch, read_patch};
use super::read::object_key;
use super::{dry_run, route_name, with_type};
use crate::body::{ApiRequest, Body, json_response};
use crate::router::ResourceRoute;
use crate::server::ApiServer;
use crate::status::ApiError;

/// The Scale view of a stored object.
pub fn scale_of(obj: &StoredObject) -> Value {
    let v = obj.json();
    let m = &v["metadata"];
    let selector = v["spec"]["selector"]["matchLabels"]
        .as_object()
        .map(|ls| {
            ls.iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
                .collect::<Vec<_>>()
                .join(",")
        })
        .unwrap_or_default();
    json!({
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            "name": m["name"], "namespace": m["namespace"], "uid": m["uid"],
            "resourceVersion": m["resourceVersion"], "creationTimestamp": m["creationTimestamp"],
        },
        "spec": {"replicas": v["spec"]["replicas"].as_i64().unwrap_or(1)},
        "status": {"replicas": v["status"]["replicas"].as_i64().unwrap_or(0), "selector": selector},
    })
}

async fn current(server: &ApiServer, rr: &ResourceRoute) -> Result<std::sync::Arc<StoredObject>, ApiError> {
    let t = &rr.info.type_key;
    server
        .store()
        .get(t, &object_key(rr))
        .await
        .map_err(|e| ApiError::from_store(&e, t, route_name(rr)))
}

/// GET …/scale.
pub async fn get(server: &ApiServer, rr: &ResourceRoute) -> Result<Response<Body>, ApiError> {
    Ok(json_response(200, &scale_of(&*current(server, rr).await?)))
}

/// Writes `scale.spec.replicas` into the object (CAS on the Scale's resourceVersion when given).
async fn write_replicas(
    server: &ApiServer,
    rr: &ResourceRoute,
    req: &ApiRequest,
    obj: &StoredObject,
    scale: &Value,
) -> Result<Response<Body>, ApiError> {
    let t = &rr.info.type_key;
    let replicas = match &scale["spec"]["replicas"] {
        Value::Null => 0,
        v => v
            .as_i64()
            .ok_or_else(|| ApiError::bad_request("spec.replicas must be an integer"))?,
    };
    if replicas < 0 {
        let inv = capstan_core::Invalid {
            qualified_kind: "Scale.autoscaling".into(),
            name: route_name(rr).to_owned(),
            errors: vec![FieldError::invalid(
                "spec.replicas",
                replicas.to_string(),
                "must be greater than or equal to 0",
            )],
        };
        return Err(ApiError::invalid(None, &inv));
    }
    let mut updated = with_type(rr, obj.json());
    updated["spec"]["replicas"] = json!(replicas);
    updated["metadata"]["resourceVersion"] = match scale["metadata"]["resourceVersion"].as_str() {
        Some(rv) if !rv.is_empty() => json!(rv),
        _ => json!(obj.revision().to_string()),
    };
    if dry_run(req)? {
        let mut s = scale_of(obj);
        s["spec"]["replicas"] = json!(replicas);
        return Ok(json_response(200, &s));
    }
    let stored = server
        .store()
        .update(t, updated, Subresource::Main)
        .await
        .map_err(|e| ApiError::from_store(&e, t, route_name(rr)))?;
    Ok(json_response(200, &scale_of(&stored)))
}

/// PUT …/scale.
pub async fn put(server: &ApiServer, rr: &ResourceRoute, req: &ApiRequest) -> Result<Response<Body>, ApiError> {
    let scale = req.object()?;
    let obj = current(server, rr).await?;
    write_replicas(server, rr, req, &obj, &scale).await
}

/// PATCH …/scale (kubectl scale sends a merge patch `{"spec":{"replicas":N}}`).
pub async fn patch(server: &ApiServer, rr: &ResourceRoute, req: &ApiRequest) -> Result<Response<Body>, ApiError> {
    let (kind, doc) = read_patch(req)?;
    for _ in 0..8 {
        let obj = current(server, rr).await?;
        let scale = apply_patch(kind, &scale_of(&obj), &doc)?;
        match write_replicas(server, rr, req, &obj, &scale).await {
            Err(e) if e.code == 409 && !doc["metadata"]["resourceVersion"].is_string() => continue,
            other => return other,
        }
    }
    Err(ApiError::from_store(
        &StoreError::Conflict {
            type_key: rr.info.type_key.clone(),
            key: object_key(rr),
            message: "the object kept changing".into(),
        },
        &rr.info.type_key,
        route_name(rr),
    ))
}
