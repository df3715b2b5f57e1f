//! Request handlers for resource paths: reads (get, list, watch), writes (create, update, delete),
//! patches, the scale and eviction subresources, and the review kinds.

pub mod containers;
pub mod eviction;
pub mod patch;
pub mod read;
pub mod review;
pub mod scale;
pub mod validate;
pub mod write;

use http::{Method, Response};
use serde_json::{Value, json};

use crate::body::{ApiRequest, Body, error_response};
use crate::router::ResourceRoute;
use crate::server::ApiServer;
use crate::status::ApiError;

/// Serves one request on a resource path.
pub async fn resource(server: &ApiServer, rr: &ResourceRoute, req: ApiRequest) -> Response<Body> {
    if let Err(e) = custom_preconditions(rr, &req) {
        return error_response(&e);
    }
    let result = match (&req.method, rr.name.is_some(), rr.subresource.as_deref()) {
        (&Method::POST, true, Some("eviction")) => eviction::evict(server, rr, &req).await,
        (m, _, Some("eviction")) => Err(ApiError::method_not_allowed(m.as_str())),
        (_, true, Some(sub)) if containers::is_container_subresource(&rr.info.type_key, sub) => {
            containers::refuse(server, rr, sub).await
        }
        (&Method::GET, false, _) => read::list_or_watch(server, rr, &req).await,
        (&Method::GET, true, Some("scale")) => scale::get(server, rr).await,
        (&Method::GET, true, _) => read::get(server, rr, &req).await,
        (&Method::POST, false, _) => write::create(server, rr, &req).await,
        (&Method::PUT, true, Some("scale")) => scale::put(server, rr, &req).await,
        (&Method::PUT, true, _) => write::update(server, rr, &req).await,
        (&Method::PATCH, true, Some("scale")) => scale::patch(server, rr, &req).await,
        (&Method::PATCH, true, _) => patch::patch(server, rr, &req).await,
        (&Method::DELETE, true, None) => write::delete(server, rr, &req).await,
        (&Method::DELETE, false, None) => write::delete_collection(server, rr, &req).await,
        (m, _, _) => Err(ApiError::method_not_allowed(m.as_str())),
    };
    if result.is_ok() && req.method != Method::GET && rr.info.type_key == crate::crd::crd_type() {
        // A CRD changed through the API: serve (or stop serving) its kinds before answering, so
        // the client's next request already sees them. The store watch would catch up anyway.
        if let Err(e) = server.sync_crds().await {
            tracing::warn!(error = %e, "CustomResourceDefinition sync after a write failed");
        }
    }
    result.unwrap_or_else(|e| error_response(&e))
}

/// What Kubernetes refuses up front on a custom kind: a strategic merge patch (415: custom objects
/// have no patch strategies; kubectl then sends a merge patch) and a create while its CRD is being
/// deleted (405).
fn custom_preconditions(rr: &ResourceRoute, req: &ApiRequest) -> Result<(), ApiError> {
    let Some(custom) = &rr.info.custom else {
        return Ok(());
    };
    if req.method == Method::PATCH {
        let ct = req.header("content-type").unwrap_or("");
        if crate::patch::PatchKind::from_content_type(ct) == Some(crate::patch::PatchKind::Strategic) {
            return Err(ApiError::unsupported_media_type(ct));
        }
    }
    if req.method == Method::POST && rr.name.is_none() && custom.terminating {
        return Err(ApiError::new(
            405,
            "MethodNotAllowed",
            format!(
                "create not allowed while custom resource definition is terminating ({})",
                custom.crd_name
            ),
        ));
    }
    Ok(())
}

/// A custom kind without a `status` subresource takes `status` from main writes, as Kubernetes
/// does. The store keeps the stored status on main writes (the rule for kinds with the
/// subresource), so the requested status (`requested`, `Null` for none) follows `written` as a
/// status write, compare-and-swap on the revision just written.
pub(crate) async fn carry_status(
    server: &ApiServer,
    rr: &ResourceRoute,
    requested: Value,
    written: std::sync::Arc<capstan_store::StoredObject>,
) -> Result<std::sync::Arc<capstan_store::StoredObject>, ApiError> {
    if rr.info.custom.is_none() || rr.info.has_status {
        return Ok(written);
    }
    if written.json().get("status").unwrap_or(&Value::Null) == &requested {
        return Ok(written);
    }
    let mut body = written.json().clone();
    if let Value::Object(m) = &mut body {
        match requested {
            Value::Null => m.remove("status"),
            v => m.insert("status".into(), v),
        };
    }
    let t = &rr.info.type_key;
    server
        .store()
        .update(t, body, capstan_store::Subresource::Status)
        .await
        .map_err(|e| ApiError::from_store(&e, t, route_name(rr)))
}

/// The name from the route (present on object paths).
pub(crate) fn route_name(rr: &ResourceRoute) -> &str {
    rr.name.as_deref().unwrap_or("")
}

/// Whether the request is a dry run (`dryRun=All`). Other values are a 400.
pub(crate) fn dry_run(req: &ApiRequest) -> Result<bool, ApiError> {
    match req.q("dryRun") {
        None => Ok(false),
        Some("All") => Ok(true),
        Some(other) => Err(ApiError::bad_request(format!(
            "invalid dryRun value {other:?}: only \"All\" is supported"
        ))),
    }
}

/// Fills `apiVersion`, `kind` and the path's namespace into an incoming object, refusing mismatches.
pub(crate) fn prepare(rr: &ResourceRoute, obj: &mut Value) -> Result<(), ApiError> {
    let t = &rr.info.type_key;
    let Value::Object(map) = obj else {
        return Err(ApiError::bad_request("the request body must be a JSON object"));
    };
    let api_version = t.api_version();
    match map.get("apiVersion").and_then(Value::as_str) {
        Some(av) if av != api_version => {
            return Err(ApiError::bad_request(format!(
                "the API version in the data ({av}) does not match the expected API version ({api_version})"
            )));
        }
        _ => {}
    }
    match map.get("kind").and_then(Value::as_str) {
        Some(k) if k != t.kind => {
            return Err(ApiError::bad_request(format!(
                "the kind in the data ({k}) does not match the expected kind ({})",
                t.kind
            )));
        }
        _ => {}
    }
    map.insert("apiVersion".into(), json!(api_version));
    map.insert("kind".into(), json!(t.kind));
    let meta = map.entry("metadata").or_insert_with(|| json!({}));
    let Value::Object(meta) = meta else {
        return Err(ApiError::bad_request("metadata must be an object"));
    };
    if t.namespaced {
        if let Some(path_ns) = &rr.namespace {
            match meta.get("namespace").and_then(Value::as_str) {
                Some(ns) if !ns.is_empty() && ns != path_ns => {
                    return Err(ApiError::bad_request(
                        "the namespace of the provided object does not match the namespace sent on the request",
                    ));
                }
                _ => {
                    meta.insert("namespace".into(), json!(path_ns));
                }
            }
        }
    } else {
        meta.remove("namespace");
    }
    if let Some(name) = &rr.name {
        match meta.get("name").and_then(Value::as_str) {
            Some(n) if !n.is_empty() && n != name => {
                return Err(ApiError::bad_request(format!(
                    "the name of the object ({n}) does not match the name on the URL ({name})"
                )));
            }
            _ => {
                meta.insert("name".into(), json!(name));
            }
        }
    }
    Ok(())
}

/// The object's JSON, with `apiVersion` and `kind` filled in when the store left them out.
pub(crate) fn with_type(rr: &ResourceRoute, v: &Value) -> Value {
    let mut v = v.clone();
    if let Value::Object(m) = &mut v {
        m.entry("apiVersion")
            .or_insert_with(|| json!(rr.info.type_key.api_version()));
        m.entry("kind").or_insert_with(|| json!(rr.info.type_key.kind));
    }
    v
}
