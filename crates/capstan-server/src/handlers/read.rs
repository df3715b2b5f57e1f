//! GET: one object, a list (JSON or Table), or a watch.

use std::borrow::Cow;

use capstan_core::{FieldSelector, LabelSelector, ObjectKey, TypeKey};
use capstan_store::{ListParams, StoredObject};
use http::Response;
use serde_json::{Value, json};

use super::{route_name, with_type};
use crate::body::{ApiRequest, Body, json_response};
use crate::router::ResourceRoute;
use crate::server::ApiServer;
use crate::status::ApiError;
use crate::table::{self, IncludeObject};
use crate::watch;

/// The key of the object a route names.
pub(crate) fn object_key(rr: &ResourceRoute) -> ObjectKey {
    ObjectKey::new(rr.namespace.clone().unwrap_or_default(), route_name(rr))
}

/// Reads the object (or its status: the same document).
pub async fn get(server: &ApiServer, rr: &ResourceRoute, req: &ApiRequest) -> Result<Response<Body>, ApiError> {
    let t = &rr.info.type_key;
    let obj = server
        .store()
        .get(t, &object_key(rr))
        .await
        .map_err(|e| ApiError::from_store(&e, t, route_name(rr)))?;
    let v = with_type(rr, obj.json());
    if table::wants_table(req.header("accept").unwrap_or("")) {
        let rv = obj.revision().to_string();
        let t = table::table_for(&rr.info, &[&v], &rv, IncludeObject::parse(req.q("includeObject")));
        return Ok(json_response(200, &t));
    }
    Ok(json_response(200, &v))
}

/// Label and field selectors from the query.
pub(crate) fn selectors(req: &ApiRequest) -> Result<(LabelSelector, FieldSelector), ApiError> {
    let labels = match req.q("labelSelector") {
        Some(s) => LabelSelector::parse(s).map_err(|e| ApiError::bad_request(e.to_string()))?,
        None => LabelSelector::default(),
    };
    let fields = match req.q("fieldSelector") {
        Some(s) => FieldSelector::parse(s).map_err(|e| ApiError::bad_request(e.to_string()))?,
        None => FieldSelector::default(),
    };
    Ok((labels, fields))
}

/// The field labels a kind can be selected by besides `metadata.name` and `metadata.namespace`
/// (Kubernetes' field label conversions). Custom kinds have none, as in Kubernetes without
/// `selectableFields`.
fn extra_field_labels(t: &TypeKey) -> &'static [&'static str] {
    match (t.group.as_str(), t.kind.as_str()) {
        ("", "Pod") => &[
            "spec.nodeName",
            "spec.restartPolicy",
            "spec.schedulerName",
            "spec.serviceAccountName",
            "spec.hostNetwork",
            "status.phase",
            "status.podIP",
            "status.nominatedNodeName",
        ],
        ("", "Event") => &[
            "involvedObject.kind",
            "involvedObject.namespace",
            "involvedObject.name",
            "involvedObject.uid",
            "involvedObject.apiVersion",
            "involvedObject.resourceVersion",
            "involvedObject.fieldPath",
            "reason",
            "reportingComponent",
            "source",
            "type",
        ],
        ("", "Namespace") => &["status.phase"],
        ("", "Node") => &["spec.unschedulable"],
        ("apps", "ReplicaSet") => &["status.replicas"],
        ("", "Secret") => &["type"],
        ("", "Service") => &["spec.clusterIP", "spec.type"],
        _ => &[],
    }
}

/// Label and field selectors from the query, refusing field labels the kind cannot be selected by
/// (400, as Kubernetes: a misspelt field would otherwise silently match nothing).
pub(crate) fn kind_selectors(t: &TypeKey, req: &ApiRequest) -> Result<(LabelSelector, FieldSelector), ApiError> {
    let (labels, fields) = selectors(req)?;
    let extra = extra_field_labels(t);
    for r in &fields.requirements {
        let f = r.field.as_str();
        if f != "metadata.name" && f != "metadata.namespace" && !extra.contains(&f) {
            return Err(ApiError::bad_request(format!(
                "field label not supported: {f} (fields of {}: metadata.name, metadata.namespace{}{})",
                t.plural,
                if extra.is_empty() { "" } else { ", " },
                extra.join(", ")
            )));
        }
    }
    Ok((labels, fields))
}

/// Whether the query asks for a watch.
pub(crate) fn is_watch(req: &ApiRequest) -> bool {
    req.flag("watch")
}

/// Lists, or watches when `watch=1`.
pub async fn list_or_watch(
    server: &ApiServer,
    rr: &ResourceRoute,
    req: &ApiRequest,
) -> Result<Response<Body>, ApiError> {
    if is_watch(req) {
        return watch::watch(server, rr, req).await;
    }
    let t = &rr.info.type_key;
    let (label_selector, field_selector) = kind_selectors(t, req)?;
    let limit = match req.q("limit") {
        Some(l) => match l.parse::<i64>() {
            Ok(n) if n > 0 => Some(n as usize),
            Ok(_) => None,
            Err(_) => return Err(ApiError::bad_request(format!("invalid limit {l:?}"))),
        },
        None => None,
    };
    let params = ListParams {
        namespace: rr.namespace.clone(),
        label_selector,
        field_selector,
        limit,
        continue_token: req.q("continue").map(str::to_owned),
    };
    let result = server
        .store()
        .list(t, &params)
        .await
        .map_err(|e| ApiError::from_store(&e, t, ""))?;
    let rv = result.revision.to_string();
    if table::wants_table(req.header("accept").unwrap_or("")) {
        let items: Vec<Value> = result.items.iter().map(|o| with_type(rr, o.json())).collect();
        let refs: Vec<&Value> = items.iter().collect();
        let mut tbl = table::table_for(&rr.info, &refs, &rv, IncludeObject::parse(req.q("includeObject")));
        if let Some(c) = &result.continue_token {
            tbl["metadata"]["continue"] = json!(c);
        }
        return Ok(json_response(200, &tbl));
    }
    let mut meta = json!({"resourceVersion": rv});
    if let Some(c) = &result.continue_token {
        meta["continue"] = json!(c);
        if let Some(r) = result.remaining {
            meta["remainingItemCount"] = json!(r);
        }
    }
    // Items are serialized in place: borrowed when they already carry their type, as stored objects do.
    let items: Vec<Cow<'_, Value>> = result
        .items
        .iter()
        .map(|o| {
            let v = o.json();
            if v.get("apiVersion").is_some() && v.get("kind").is_some() {
                Cow::Borrowed(v)
            } else {
                Cow::Owned(with_type(rr, v))
            }
        })
        .collect();
    let doc = ListDocument {
        kind: format!("{}List", t.kind),
        api_version: t.api_version(),
        metadata: meta,
        items,
    };
    Ok(json_response(200, &doc))
}

/// A list response (`PodList`, ...), serialized without copying its items.
#[derive(serde::Serialize)]
struct ListDocument<'a> {
    kind: String,
    #[serde(rename = "apiVersion")]
    api_version: String,
    metadata: Value,
    items: Vec<Cow<'a, Value>>,
}

/// The JSON of a stored object with its type filled in.
pub(crate) fn stored_json(rr: &ResourceRoute, o: &StoredObject) -> Value {
    with_type(rr, o.json())
}
