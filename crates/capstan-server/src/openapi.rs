//! OpenAPI documents, generated from the [`Registry`]: enough for kubectl to see that the server
//! validates fields itself (`fieldValidation` on every PATCH operation) and to find each kind's paths.
//!
//! Schemas are left out on purpose: without them kubectl computes strategic merge patches from its
//! own compiled types, which know every merge key, instead of from an incomplete schema. (kubectl 1.32
//! `apply` prefers a v3 schema it finds by `x-kubernetes-group-version-kind`; the JSON schemas
//! k8s-openapi's `schemars` feature generates carry no `x-kubernetes-patch-merge-key` /
//! `x-kubernetes-list-type`, so serving them would make apply replace lists such as `containers`
//! instead of merging them. `kubectl explain` therefore prints only the header.)

use serde_json::{Map, Value, json};

use crate::discovery::{Registry, ResourceInfo};

/// Query parameters every write operation accepts.
const WRITE_PARAMS: [&str; 4] = ["dryRun", "fieldManager", "fieldValidation", "pretty"];

fn gvk(r: &ResourceInfo) -> Value {
    json!({"group": r.type_key.group, "version": r.type_key.version, "kind": r.type_key.kind})
}

fn prefix(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("/api/{version}")
    } else {
        format!("/apis/{group}/{version}")
    }
}

/// The object path template of a kind, e.g. `/api/v1/namespaces/{namespace}/pods/{name}`.
fn object_path(r: &ResourceInfo) -> String {
    let t = &r.type_key;
    let base = prefix(&t.group, &t.version);
    if t.namespaced {
        format!("{base}/namespaces/{{namespace}}/{}/{{name}}", t.plural)
    } else {
        format!("{base}/{}/{{name}}", t.plural)
    }
}

fn operation(r: &ResourceInfo, verb: &str, v3: bool) -> Value {
    let params: Vec<Value> = WRITE_PARAMS
        .iter()
        .map(|p| {
            if v3 {
                json!({"name": p, "in": "query", "schema": {"type": "string", "uniqueItems": true}})
            } else {
                json!({"name": p, "in": "query", "type": "string", "uniqueItems": true})
            }
        })
        .collect();
    json!({
        "operationId": format!("{verb}{}", r.type_key.kind),
        "x-kubernetes-action": verb,
        "x-kubernetes-group-version-kind": gvk(r),
        "parameters": params,
        "responses": {"200": {"description": "OK"}},
    })
}

fn paths(registry: &Registry, group: Option<(&str, &str)>, v3: bool) -> Map<String, Value> {
    let mut paths = Map::new();
    for r in registry.resources() {
        if group.is_some_and(|(g, v)| r.type_key.group != g || r.type_key.version != v) {
            continue;
        }
        paths.insert(
            object_path(r),
            json!({
                "get": operation(r, "get", v3),
                "put": operation(r, "put", v3),
                "patch": operation(r, "patch", v3),
                "delete": operation(r, "delete", v3),
            }),
        );
    }
    paths
}

/// The media type of the protobuf OpenAPI v2 document (gnostic's `openapi_v2.Document`) in a
/// response. Clients ask for `...spec.v2@v1.0+protobuf`, but Go's media-type parser refuses the
/// `@`, so the answer names it with a dot, as kube-apiserver's does.
pub const V2_PROTOBUF: &str = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf";

/// Whether an `Accept` header asks for the protobuf OpenAPI v2 document, as kubectl does.
pub fn wants_v2_protobuf(accept: &str) -> bool {
    accept
        .split(',')
        .next()
        .is_some_and(|first| first.trim().starts_with("application/com.github.proto-openapi.spec.v2"))
}

/// `/openapi/v2` as protobuf: a Swagger 2.0 document that defines no types.
///
/// kubectl reads it to validate kinds its OpenAPI v3 lookup does not know (its client-side
/// fallback); with no definition for the kind it skips that validation and reports the real
/// problem, e.g. `no matches for kind "Foo" in version "example.com/v1"`. Served kinds are
/// validated by the server (`fieldValidation`), not through this document.
pub fn v2_protobuf() -> Vec<u8> {
    fn field(number: u8, bytes: &[u8], out: &mut Vec<u8>) {
        out.push(number << 3 | 2); // length-delimited
        let mut len = bytes.len();
        while len >= 0x80 {
            out.push((len as u8 & 0x7f) | 0x80);
            len >>= 7;
        }
        out.push(len as u8);
        out.extend_from_slice(bytes);
    }
    let mut info = Vec::new();
    field(1, b"Capstan", &mut info); // Info.title
    field(2, b"v1.32.0", &mut info); // Info.version
    let mut doc = Vec::new();
    field(1, b"2.0", &mut doc); // Document.swagger
    field(2, &info, &mut doc); // Document.info
    field(8, &[], &mut doc); // Document.paths (none)
    doc
}

/// `/openapi/v2` (Swagger 2.0, JSON).
pub fn v2(registry: &Registry) -> Value {
    json!({
        "swagger": "2.0",
        "info": {"title": "Capstan", "version": "v1.32.0"},
        "paths": paths(registry, None, false),
        "definitions": {},
    })
}

/// `/openapi/v3`: the index of group-version documents.
pub fn v3_root(registry: &Registry) -> Value {
    let mut out = Map::new();
    let mut gvs = vec![(String::new(), "v1".to_owned())];
    gvs.extend(registry.group_versions());
    for (g, v) in gvs {
        let key = prefix(&g, &v).trim_start_matches('/').to_owned();
        let hash = format!(
            "{:016X}",
            fnv(&serde_json::to_vec(&v3(registry, &g, &v)).unwrap_or_default())
        );
        out.insert(
            key.clone(),
            json!({"serverRelativeURL": format!("/openapi/v3/{key}?hash={hash}")}),
        );
    }
    json!({"paths": out})
}

/// `/openapi/v3/api/v1` or `/openapi/v3/apis/{group}/{version}`.
pub fn v3(registry: &Registry, group: &str, version: &str) -> Option<Value> {
    if !registry.serves(group, version) {
        return None;
    }
    Some(json!({
        "openapi": "3.0.0",
        "info": {"title": "Capstan", "version": "v1.32.0"},
        "paths": paths(registry, Some((group, version)), true),
        "components": {"schemas": {}},
    }))
}

/// FNV-1a, for the content hashes in the v3 index.
fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_protobuf_v2_document_is_an_empty_swagger_2_document() {
        assert!(super::wants_v2_protobuf(
            "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"
        ));
        assert!(!super::wants_v2_protobuf("application/json"));
        let doc = super::v2_protobuf();
        // swagger "2.0", info {title, version}, empty paths: field tags 1, 2 and 8, length-delimited.
        assert_eq!(&doc[..5], &[0x0a, 3, b'2', b'.', b'0']);
        assert_eq!(doc[5], 0x12);
        assert_eq!(&doc[doc.len() - 2..], &[0x42, 0]);
    }

    use super::*;

    #[test]
    fn every_patch_operation_declares_field_validation_and_its_kind() {
        let doc = v3(&Registry::builtin(), "apps", "v1").unwrap();
        let p = &doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"];
        assert_eq!(p["x-kubernetes-group-version-kind"]["kind"], "Deployment");
        assert!(
            p["parameters"]
                .as_array()
                .unwrap()
                .iter()
                .any(|x| x["name"] == "fieldValidation")
        );
        let root = v3_root(&Registry::builtin());
        assert!(
            root["paths"]["apis/apps/v1"]["serverRelativeURL"]
                .as_str()
                .unwrap()
                .starts_with("/openapi/v3/apis/apps/v1?hash=")
        );
        assert!(v3(&Registry::builtin(), "nope", "v1").is_none());
    }
}
