//! The `pod-template-hash` (spec D.32): FNV-32a over Capstan's own canonical encoding of the pod
//! template plus `status.collisionCount`, written in decimal and mapped into the alphabet Kubernetes
//! uses for generated names.
//!
//! # Canonical encoding
//! The template is converted to JSON (field names as on the wire, unset fields omitted), then written
//! with object keys sorted, no whitespace and numbers as serde_json prints them. The collision count, if
//! set, is appended as `#collisionCount=<decimal>`. The values are Capstan's own; they are stable across
//! runs and processes but are not Kubernetes' hashes.

use k8s_openapi::api::core::v1::PodTemplateSpec;
use serde_json::Value;

use crate::Error;

/// The characters a hash is written in (no vowels, so no words; no look-alikes).
pub const SAFE_ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

const FNV_OFFSET: u32 = 0x811c_9dc5;
const FNV_PRIME: u32 = 0x0100_0193;

/// FNV-32a of `bytes`, continuing from `state` (start with [`fnv32a_init`]).
pub fn fnv32a(mut state: u32, bytes: &[u8]) -> u32 {
    for b in bytes {
        state ^= u32::from(*b);
        state = state.wrapping_mul(FNV_PRIME);
    }
    state
}

/// The FNV-32a offset basis.
pub fn fnv32a_init() -> u32 {
    FNV_OFFSET
}

/// Maps each character of `s` into [`SAFE_ALPHABET`] by its byte value.
pub fn safe_encode(s: &str) -> String {
    s.bytes()
        .map(|b| char::from(SAFE_ALPHABET[usize::from(b) % SAFE_ALPHABET.len()]))
        .collect()
}

/// Writes `v` canonically: object keys sorted, no whitespace.
pub fn canonical_json(v: &Value, out: &mut String) {
    match v {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String((*k).clone()).to_string());
                out.push(':');
                if let Some(inner) = map.get(*k) {
                    canonical_json(inner, out);
                }
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical_json(item, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

/// Container lists in a pod spec whose entries carry a `resources` struct.
const CONTAINER_LISTS: [&str; 3] = ["containers", "initContainers", "ephemeralContainers"];

/// Removes what Kubernetes' semantic equality does not see: empty lists anywhere (a nil and an empty
/// slice are equal) and a container's empty `resources` (a non-pointer struct in Kubernetes, so
/// `resources: {}` and no `resources` are the same value).
fn drop_semantically_empty(v: &mut Value) {
    match v {
        Value::Object(map) => {
            map.retain(|_, inner| !matches!(inner, Value::Array(a) if a.is_empty()));
            map.values_mut().for_each(drop_semantically_empty);
        }
        Value::Array(items) => items.iter_mut().for_each(drop_semantically_empty),
        _ => {}
    }
}

fn drop_empty_resources(spec: &mut Value) {
    for list in CONTAINER_LISTS {
        let Some(Value::Array(containers)) = spec.get_mut(list) else {
            continue;
        };
        for c in containers.iter_mut().filter_map(Value::as_object_mut) {
            let empty = match c.get("resources") {
                Some(Value::Object(r)) => r.values().all(|x| match x {
                    Value::Object(m) => m.is_empty(),
                    Value::Array(a) => a.is_empty(),
                    Value::Null => true,
                    _ => false,
                }),
                Some(Value::Null) => true,
                _ => false,
            };
            if empty {
                c.remove("resources");
            }
        }
    }
}

/// `template` as JSON with the differences Kubernetes' semantic equality ignores removed, so that a
/// template written by a Go client (`kubectl rollout undo` sends `resources: {}`) equals and hashes
/// like the same template written without them.
pub fn semantic_json(template: &PodTemplateSpec) -> Result<Value, Error> {
    let mut value = serde_json::to_value(template)?;
    if let Some(spec) = value.get_mut("spec") {
        drop_empty_resources(spec);
    }
    drop_semantically_empty(&mut value);
    Ok(value)
}

/// The `pod-template-hash` of `template` with `collision_count` (D.32), over [`semantic_json`].
pub fn pod_template_hash(template: &PodTemplateSpec, collision_count: Option<i32>) -> Result<String, Error> {
    let value = semantic_json(template)?;
    let mut text = String::new();
    canonical_json(&value, &mut text);
    let mut h = fnv32a(fnv32a_init(), text.as_bytes());
    if let Some(c) = collision_count {
        h = fnv32a(h, format!("#collisionCount={c}").as_bytes());
    }
    Ok(safe_encode(&h.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{Container, PodSpec};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    fn template(image: &str, labels: &[(&str, &str)]) -> PodTemplateSpec {
        PodTemplateSpec {
            metadata: Some(ObjectMeta {
                labels: Some(labels.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()),
                ..Default::default()
            }),
            spec: Some(PodSpec {
                containers: vec![Container {
                    name: "c".into(),
                    image: Some(image.into()),
                    ..Default::default()
                }],
                ..Default::default()
            }),
        }
    }

    #[test]
    fn fnv32a_matches_the_published_test_vectors() {
        // Vectors from the FNV reference (draft-eastlake-fnv): "" and "a" and "foobar".
        assert_eq!(fnv32a(fnv32a_init(), b""), 0x811c_9dc5);
        assert_eq!(fnv32a(fnv32a_init(), b"a"), 0xe40c_292c);
        assert_eq!(fnv32a(fnv32a_init(), b"foobar"), 0xbf9c_f968);
    }

    #[test]
    fn d32_hash_is_deterministic_and_in_the_safe_alphabet() {
        let t = template("nginx:1", &[("app", "web")]);
        let a = pod_template_hash(&t, None).unwrap_or_default();
        let b = pod_template_hash(&t.clone(), None).unwrap_or_default();
        assert_eq!(a, b);
        assert!(!a.is_empty() && a.len() <= 10);
        assert!(a.bytes().all(|c| SAFE_ALPHABET.contains(&c)), "{a}");
    }

    #[test]
    fn d32_hash_changes_with_the_template_and_the_collision_count() {
        let t = template("nginx:1", &[("app", "web")]);
        let base = pod_template_hash(&t, None).unwrap_or_default();
        let other = pod_template_hash(&template("nginx:2", &[("app", "web")]), None).unwrap_or_default();
        assert_ne!(base, other);
        let c1 = pod_template_hash(&t, Some(1)).unwrap_or_default();
        let c2 = pod_template_hash(&t, Some(2)).unwrap_or_default();
        assert_ne!(base, c1);
        assert_ne!(c1, c2);
    }

    #[test]
    fn canonical_encoding_ignores_key_order() {
        let a: Value = serde_json::json!({"b": 1, "a": {"y": [1, 2], "x": "s"}});
        let mut m = serde_json::Map::new();
        m.insert("a".into(), serde_json::json!({"x": "s", "y": [1, 2]}));
        m.insert("b".into(), serde_json::json!(1));
        let (mut s1, mut s2) = (String::new(), String::new());
        canonical_json(&a, &mut s1);
        canonical_json(&Value::Object(m), &mut s2);
        assert_eq!(s1, s2);
        assert_eq!(s1, r#"{"a":{"x":"s","y":[1,2]},"b":1}"#);
    }

    #[test]
    fn empty_resources_and_empty_lists_do_not_change_the_template() {
        let plain = template("nginx:1", &[("app", "web")]);
        let mut from_go = plain.clone();
        if let Some(spec) = from_go.spec.as_mut() {
            spec.containers[0].resources = Some(Default::default());
            spec.containers[0].env = Some(Vec::new());
            spec.volumes = Some(Vec::new());
        }
        assert_ne!(plain, from_go, "the structs differ");
        assert_eq!(semantic_json(&plain).ok(), semantic_json(&from_go).ok());
        assert_eq!(
            pod_template_hash(&plain, None).ok(),
            pod_template_hash(&from_go, None).ok()
        );
        let mut limited = plain.clone();
        if let Some(spec) = limited.spec.as_mut() {
            let cpu = k8s_openapi::apimachinery::pkg::api::resource::Quantity("1".into());
            spec.containers[0].resources = Some(k8s_openapi::api::core::v1::ResourceRequirements {
                limits: Some([("cpu".to_owned(), cpu)].into()),
                ..Default::default()
            });
        }
        assert_ne!(semantic_json(&plain).ok(), semantic_json(&limited).ok());
    }

    proptest! {
        #[test]
        fn d32_hash_depends_only_on_content(labels in prop::collection::btree_map("[a-z]{1,5}", "[a-z0-9]{0,5}", 0..5), image in "[a-z]{1,8}") {
            let pairs: Vec<(&str, &str)> = labels.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            let t = template(&image, &pairs);
            let mut reversed = t.clone();
            let rev: BTreeMap<String, String> = labels.clone().into_iter().rev().collect();
            if let Some(m) = reversed.metadata.as_mut() { m.labels = Some(rev); }
            prop_assert_eq!(pod_template_hash(&t, None).ok(), pod_template_hash(&reversed, None).ok());
            let changed = template(&format!("{image}x"), &pairs);
            prop_assert_ne!(pod_template_hash(&t, None).ok(), pod_template_hash(&changed, None).ok());
        }
    }
}
