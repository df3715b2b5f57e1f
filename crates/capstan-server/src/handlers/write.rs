//! Writes: POST (create), PUT (update, CAS on resourceVersion), DELETE and DELETE of a collection.

use capstan_core::{ObjectKey, admit_json};
use capstan_store::{DeleteOutcome, DeleteParams, ListParams, Preconditions, PropagationPolicy, Subresource};
use http::{HeaderValue, Response};
use serde_json::{Value, json};

use super::read::{kind_selectors, object_key, stored_json};
use super::validate::{self, FieldValidation};
use super::{dry_run, prepare, route_name};
use crate::body::{ApiRequest, Body, decode, json_response};
use crate::router::ResourceRoute;
use crate::server::ApiServer;
use crate::status::ApiError;

/// Adds `Warning` headers, as the API server does for dropped unknown fields.
pub(crate) fn with_warnings(mut resp: Response<Body>, warnings: &[String]) -> Response<Body> {
    for w in warnings {
        let text = format!("299 - {:?}", w);
        if let Ok(v) = HeaderValue::from_str(&text) {
            resp.headers_mut().append("warning", v);
        }
    }
    resp
}

/// Maps admission failures to API errors.
pub(crate) fn admission_error(rr: &ResourceRoute, e: capstan_core::AdmissionError) -> ApiError {
    match e {
        capstan_core::AdmissionError::Invalid(inv) => ApiError::invalid(Some(&rr.info.type_key), &inv),
        other => ApiError::bad_request(other.to_string()),
    }
}

/// Refuses writes into a namespace that does not exist (404) or is terminating (403).
pub(crate) async fn check_namespace(server: &ApiServer, rr: &ResourceRoute, name: &str) -> Result<(), ApiError> {
    let t = &rr.info.type_key;
    if !t.namespaced {
        return Ok(());
    }
    let Some(ns) = rr.namespace.as_deref() else {
        return Err(ApiError::bad_request(format!(
            "{} must be created in a namespace",
            t.plural
        )));
    };
    let registry = server.registry();
    let Some(ns_type) = registry.find("", "v1", "namespaces") else {
        return Ok(());
    };
    match server.store().get(&ns_type.type_key, &ObjectKey::cluster(ns)).await {
        Ok(obj) if obj.json()["metadata"]["deletionTimestamp"].is_string() => Err(ApiError::new(
            403,
            "Forbidden",
            format!(
                "{} \"{name}\" is forbidden: unable to create new content in namespace {ns} because it is being terminated",
                t.plural
            ),
        )),
        Ok(_) => Ok(()),
        Err(e) => Err(ApiError::from_store(&e, &ns_type.type_key, ns)),
    }
}

/// POST: creates an object.
pub async fn create(server: &ApiServer, rr: &ResourceRoute, req: &ApiRequest) -> Result<Response<Body>, ApiError> {
    let t = &rr.info.type_key;
    let mut obj = req.object()?;
    prepare(rr, &mut obj)?;
    let warnings = validate::check(FieldValidation::from_request(req)?, t, &obj)?;
    let name = obj["metadata"]["name"].as_str().unwrap_or("").to_owned();
    check_namespace(server, rr, &name).await?;
    if dry_run(req)? {
        if let (true, Some(prefix)) = (
            name.is_empty(),
            obj["metadata"]["generateName"].as_str().map(str::to_owned),
        ) {
            obj["metadata"]["name"] = json!(format!("{prefix}{}", crate::auth::generate_token()[..5].to_lowercase()));
        }
        admit_json(t, &mut obj, None).map_err(|e| admission_error(rr, e))?;
        return Ok(with_warnings(json_response(201, &obj), &warnings));
    }
    let requested_status = obj.get("status").cloned().unwrap_or(Value::Null);
    let created = server
        .store()
        .create(t, obj)
        .await
        .map_err(|e| ApiError::from_store(&e, t, &name))?;
    let created = super::carry_status(server, rr, requested_status, created).await?;
    tracing::debug!(kind = %t.kind, key = %created.key(), "created");
    Ok(with_warnings(json_response(201, &stored_json(rr, &created)), &warnings))
}

/// PUT: replaces an object or its status.
pub async fn update(server: &ApiServer, rr: &ResourceRoute, req: &ApiRequest) -> Result<Response<Body>, ApiError> {
    let t = &rr.info.type_key;
    let mut obj = req.object()?;
    prepare(rr, &mut obj)?;
    let warnings = validate::check(FieldValidation::from_request(req)?, t, &obj)?;
    let sub = if rr.subresource.as_deref() == Some("status") {
        Subresource::Status
    } else {
        Subresource::Main
    };
    if dry_run(req)? {
        let old = server
            .store()
            .get(t, &object_key(rr))
            .await
            .map_err(|e| ApiError::from_store(&e, t, route_name(rr)))?;
        admit_json(t, &mut obj, Some(old.json())).map_err(|e| admission_error(rr, e))?;
        return Ok(with_warnings(json_response(200, &obj), &warnings));
    }
    let requested_status = obj.get("status").cloned().unwrap_or(Value::Null);
    let updated = server
        .store()
        .update(t, obj, sub)
        .await
        .map_err(|e| ApiError::from_store(&e, t, route_name(rr)))?;
    let updated = super::carry_status(server, rr, requested_status, updated).await?;
    Ok(with_warnings(json_response(200, &stored_json(rr, &updated)), &warnings))
}

/// The `DeleteOptions` a request body carries (JSON, YAML or protobuf), or `null` without a body.
pub(crate) fn delete_options(req: &ApiRequest) -> Result<Value, ApiError> {
    if req.body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Null);
    }
    decode(&req.content_type(), &req.body)
}

/// Reads `DeleteOptions` (`opts`, `null` for none), with the query parameters of a DELETE request
/// (`req`) as fallback.
pub(crate) fn delete_params_from(opts: &Value, req: Option<&ApiRequest>) -> Result<DeleteParams, ApiError> {
    let query = |k: &str| req.and_then(|r| r.q(k));
    let policy = opts["propagationPolicy"]
        .as_str()
        .map(str::to_owned)
        .or_else(|| query("propagationPolicy").map(str::to_owned));
    let propagation_policy = match policy.as_deref() {
        None => None,
        Some("Background") => Some(PropagationPolicy::Background),
        Some("Foreground") => Some(PropagationPolicy::Foreground),
        Some("Orphan") => Some(PropagationPolicy::Orphan),
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "propagationPolicy must be Background, Foreground or Orphan, not {other:?}"
            )));
        }
    };
    let propagation_policy = match (propagation_policy, opts["orphanDependents"].as_bool()) {
        (None, Some(true)) => Some(PropagationPolicy::Orphan),
        (p, _) => p,
    };
    let grace_period_seconds = match (opts["gracePeriodSeconds"].as_i64(), query("gracePeriodSeconds")) {
        (Some(g), _) => Some(g),
        (None, Some(s)) => Some(
            s.parse()
                .map_err(|_| ApiError::bad_request(format!("invalid gracePeriodSeconds {s:?}")))?,
        ),
        (None, None) => None,
    };
    let pre = &opts["preconditions"];
    Ok(DeleteParams {
        preconditions: Preconditions {
            uid: pre["uid"].as_str().map(str::to_owned),
            resource_version: pre["resourceVersion"].as_str().map(str::to_owned),
        },
        propagation_policy,
        grace_period_seconds,
    })
}

/// The namespaces Kubernetes never lets anyone delete.
pub const IMMORTAL_NAMESPACES: [&str; 3] = ["default", "kube-system", "kube-public"];

/// DELETE: deletes one object.
pub async fn delete(server: &ApiServer, rr: &ResourceRoute, req: &ApiRequest) -> Result<Response<Body>, ApiError> {
    let t = &rr.info.type_key;
    if t.group.is_empty() && t.kind == "Namespace" && IMMORTAL_NAMESPACES.contains(&route_name(rr)) {
        return Err(ApiError::new(
            403,
            "Forbidden",
            format!(
                "namespaces \"{}\" is forbidden: this namespace may not be deleted",
                route_name(rr)
            ),
        )
        .with_name(route_name(rr)));
    }
    let opts = delete_options(req)?;
    let params = delete_params_from(&opts, Some(req))?;
    let dry = dry_run(req)? || options_dry_run(&opts);
    if dry {
        let obj = server
            .store()
            .get(t, &object_key(rr))
            .await
            .map_err(|e| ApiError::from_store(&e, t, route_name(rr)))?;
        return Ok(json_response(200, &stored_json(rr, &obj)));
    }
    let outcome = server
        .store()
        .delete(t, &object_key(rr), &params)
        .await
        .map_err(|e| ApiError::from_store(&e, t, route_name(rr)))?;
    Ok(match outcome {
        DeleteOutcome::Deleted(o) => json_response(200, &stored_json(rr, &o)),
        DeleteOutcome::Pending(o) => json_response(202, &stored_json(rr, &o)),
    })
}

/// DELETE on a collection: deletes every object the selectors match.
pub async fn delete_collection(
    server: &ApiServer,
    rr: &ResourceRoute,
    req: &ApiRequest,
) -> Result<Response<Body>, ApiError> {
    let t = &rr.info.type_key;
    let opts = delete_options(req)?;
    let params = delete_params_from(&opts, Some(req))?;
    let (label_selector, field_selector) = kind_selectors(t, req)?;
    let list = server
        .store()
        .list(
            t,
            &ListParams {
                namespace: rr.namespace.clone(),
                label_selector,
                field_selector,
                limit: None,
                continue_token: None,
            },
        )
        .await
        .map_err(|e| ApiError::from_store(&e, t, ""))?;
    let dry = dry_run(req)? || options_dry_run(&opts);
    let mut items = Vec::new();
    for o in &list.items {
        if dry {
            items.push(stored_json(rr, o));
            continue;
        }
        match server.store().delete(t, o.key(), &params).await {
            Ok(DeleteOutcome::Deleted(d) | DeleteOutcome::Pending(d)) => items.push(stored_json(rr, &d)),
            Err(capstan_store::StoreError::NotFound { .. }) => {}
            Err(e) => return Err(ApiError::from_store(&e, t, &o.key().name)),
        }
    }
    Ok(json_response(
        200,
        &json!({"kind": format!("{}List", t.kind), "apiVersion": t.api_version(),
            "metadata": {"resourceVersion": list.revision.to_string()}, "items": items}),
    ))
}

/// Whether `DeleteOptions` say `dryRun: ["All"]`.
pub(crate) fn options_dry_run(opts: &Value) -> bool {
    opts["dryRun"].as_array().is_some_and(|a| a.iter().any(|x| x == "All"))
}
