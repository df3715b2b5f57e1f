//! PATCH: merge, JSON, strategic merge and apply patches, applied to the stored object and written
//! back with compare-and-swap, retried on conflicts the client did not ask for.

use capstan_core::admit_json;
use capstan_store::{StoreError, Subresource};
use http::Response;
use serde_json::{Value, json};

use super::read::{object_key, stored_json};
use super::validate::{self, FieldValidation};
use super::write::{admission_error, with_warnings};
use super::{dry_run, prepare, route_name};
use crate::body::{ApiRequest, Body, decode, json_response};
use crate::patch::{self, PatchKind};
use crate::router::ResourceRoute;
use crate::server::ApiServer;
use crate::status::ApiError;

/// How many times a patch is re-applied when the object changed under it.
const PATCH_RETRIES: usize = 8;

/// Reads the patch kind and document from a request.
pub(crate) fn read_patch(req: &ApiRequest) -> Result<(PatchKind, Value), ApiError> {
    let ct = req.header("content-type").unwrap_or("");
    let kind = PatchKind::from_content_type(ct).ok_or_else(|| ApiError::unsupported_media_type(ct))?;
    let doc = decode(&req.content_type(), &req.body)?;
    Ok((kind, doc))
}

/// Applies a patch document, mapping failures to 422.
pub(crate) fn apply_patch(kind: PatchKind, current: &Value, doc: &Value) -> Result<Value, ApiError> {
    patch::apply(kind, current, doc)
        .map_err(|e| ApiError::new(422, "Invalid", format!("the patch could not be applied: {e}")))
}

/// PATCH on an object or its status.
pub async fn patch(server: &ApiServer, rr: &ResourceRoute, req: &ApiRequest) -> Result<Response<Body>, ApiError> {
    let t = &rr.info.type_key;
    let (kind, doc) = read_patch(req)?;
    let mode = FieldValidation::from_request(req)?;
    let dry = dry_run(req)?;
    let sub = if rr.subresource.as_deref() == Some("status") {
        Subresource::Status
    } else {
        Subresource::Main
    };
    let explicit_rv = doc["metadata"]["resourceVersion"].is_string();
    for _ in 0..PATCH_RETRIES {
        let current = match server.store().get(t, &object_key(rr)).await {
            Ok(c) => c,
            Err(StoreError::NotFound { .. }) if kind == PatchKind::Apply && sub == Subresource::Main => {
                return create_from_apply(server, rr, doc, mode, dry).await;
            }
            Err(e) => return Err(ApiError::from_store(&e, t, route_name(rr))),
        };
        let mut patched = apply_patch(kind, &stored_json(rr, &current), &doc)?;
        prepare(rr, &mut patched)?;
        let warnings = validate::check(mode, t, &patched)?;
        if !explicit_rv {
            patched["metadata"]["resourceVersion"] = json!(current.revision().to_string());
        }
        if dry {
            admit_json(t, &mut patched, Some(current.json())).map_err(|e| admission_error(rr, e))?;
            return Ok(with_warnings(json_response(200, &patched), &warnings));
        }
        let requested_status = patched.get("status").cloned().unwrap_or(Value::Null);
        match server.store().update(t, patched, sub).await {
            Ok(updated) => {
                let updated = super::carry_status(server, rr, requested_status, updated).await?;
                return Ok(with_warnings(json_response(200, &stored_json(rr, &updated)), &warnings));
            }
            Err(StoreError::Conflict { .. }) if !explicit_rv => continue,
            Err(e) => return Err(ApiError::from_store(&e, t, route_name(rr))),
        }
    }
    Err(ApiError::new(
        409,
        "Conflict",
        format!("the object kept changing; gave up after {PATCH_RETRIES} attempts"),
    ))
}

async fn create_from_apply(
    server: &ApiServer,
    rr: &ResourceRoute,
    mut obj: Value,
    mode: FieldValidation,
    dry: bool,
) -> Result<Response<Body>, ApiError> {
    let t = &rr.info.type_key;
    prepare(rr, &mut obj)?;
    let warnings = validate::check(mode, t, &obj)?;
    super::write::check_namespace(server, rr, route_name(rr)).await?;
    if dry {
        admit_json(t, &mut obj, None).map_err(|e| admission_error(rr, e))?;
        return Ok(with_warnings(json_response(201, &obj), &warnings));
    }
    let requested_status = obj.get("status").cloned().unwrap_or(Value::Null);
    let created = server
        .store()
        .create(t, obj)
        .await
        .map_err(|e| ApiError::from_store(&e, t, route_name(rr)))?;
    let created = super::carry_status(server, rr, requested_status, created).await?;
    Ok(with_warnings(json_response(201, &stored_json(rr, &created)), &warnings))
}
