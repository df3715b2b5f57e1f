//! Small helpers over an object's JSON: metadata access, server-set identity (uid, generated names),
//! timestamps, encoded size and the generation rule.

use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};

use capstan_core::{FieldError, Invalid, ObjectKey, TypeKey};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use serde_json::{Map, Value};

use crate::error::{Result, StoreError};

/// Characters Kubernetes uses for `generateName` suffixes (no vowels, no look-alikes).
const NAME_ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

/// Length of a `generateName` suffix.
const NAME_SUFFIX_LEN: usize = 5;

/// Longest prefix kept from `generateName` (names are at most 63 characters with the suffix).
const MAX_PREFIX_LEN: usize = 58;

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// 64 random bits from the standard library's randomly keyed hasher and a counter: no dependency,
/// unpredictable enough for uids and name suffixes (not for cryptography).
pub(crate) fn random_u64() -> u64 {
    let mut hasher = std::hash::RandomState::new().build_hasher();
    hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    hasher.finish()
}

/// A random version-4 UUID string, as Kubernetes uses for `metadata.uid`.
pub(crate) fn new_uid() -> String {
    let hi = random_u64();
    let lo = random_u64();
    let bytes: u128 = ((hi as u128) << 64) | lo as u128;
    // Version 4 in bits 76..80, variant 0b10 in bits 62..64.
    let bytes = (bytes & !(0xF << 76)) | (0x4 << 76);
    let bytes = (bytes & !(0x3 << 62)) | (0x2 << 62);
    let h = format!("{bytes:032x}");
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// `prefix` plus five random characters, as Kubernetes fills `metadata.name` from `generateName`.
pub(crate) fn generate_name(prefix: &str) -> String {
    let mut prefix: String = prefix.chars().take(MAX_PREFIX_LEN).collect();
    let mut bits = random_u64();
    for _ in 0..NAME_SUFFIX_LEN {
        let i = (bits % NAME_ALPHABET.len() as u64) as usize;
        bits /= NAME_ALPHABET.len() as u64;
        prefix.push(NAME_ALPHABET[i] as char);
    }
    prefix
}

/// A timestamp as the JSON Kubernetes writes (`2024-05-01T12:00:00Z`).
pub(crate) fn time_json(t: Timestamp) -> Value {
    serde_json::to_value(Time(t)).unwrap_or(Value::Null)
}

/// Parses a timestamp written by [`time_json`].
pub(crate) fn parse_time(v: &Value) -> Option<Timestamp> {
    v.as_str()?.parse().ok()
}

/// `t` plus `seconds`.
pub(crate) fn add_seconds(t: Timestamp, seconds: i64) -> Timestamp {
    t.checked_add(SignedDuration::from_secs(seconds)).unwrap_or(t)
}

/// The object's `metadata`, created empty when absent. Fails when the object is not a JSON object.
pub(crate) fn metadata_mut(object: &mut Value) -> Result<&mut Map<String, Value>> {
    let Value::Object(map) = object else {
        return Err(StoreError::BadRequest("object must be a JSON object".into()));
    };
    let meta = map.entry("metadata").or_insert_with(|| Value::Object(Map::new()));
    if meta.is_null() {
        *meta = Value::Object(Map::new());
    }
    meta.as_object_mut()
        .ok_or_else(|| StoreError::BadRequest("metadata must be a JSON object".into()))
}

/// A string field of `metadata`, `None` when absent or empty.
pub(crate) fn meta_str<'a>(object: &'a Value, field: &str) -> Option<&'a str> {
    object.get("metadata")?.get(field)?.as_str().filter(|s| !s.is_empty())
}

/// Drops empty or null `metadata` fields, as Kubernetes' encoding of `ObjectMeta` omits them: an
/// empty `finalizers` list and an absent one are the same object (so writing one over the other is
/// a no-op).
pub(crate) fn normalize_metadata(object: &mut Value) {
    if let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.retain(|_, v| match v {
            Value::Null => false,
            Value::Array(a) => !a.is_empty(),
            Value::Object(o) => !o.is_empty(),
            Value::String(s) => !s.is_empty(),
            _ => true,
        });
    }
}

/// `metadata.finalizers` as strings (empty when absent).
pub(crate) fn finalizers(object: &Value) -> Vec<String> {
    object
        .get("metadata")
        .and_then(|m| m.get("finalizers"))
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(|f| f.as_str().map(str::to_owned)).collect())
        .unwrap_or_default()
}

/// Sets `metadata.finalizers` (removes the field when empty, as Kubernetes omits empty lists).
pub(crate) fn set_finalizers(meta: &mut Map<String, Value>, finalizers: &[String]) {
    if finalizers.is_empty() {
        meta.remove("finalizers");
    } else {
        meta.insert(
            "finalizers".into(),
            Value::Array(finalizers.iter().cloned().map(Value::String).collect()),
        );
    }
}

/// Whether the object is being deleted (`metadata.deletionTimestamp` set).
pub(crate) fn is_terminating(object: &Value) -> bool {
    object
        .get("metadata")
        .and_then(|m| m.get("deletionTimestamp"))
        .is_some_and(|t| !t.is_null())
}

/// `metadata.deletionGracePeriodSeconds`, when set.
pub(crate) fn deletion_grace(object: &Value) -> Option<i64> {
    object.get("metadata")?.get("deletionGracePeriodSeconds")?.as_i64()
}

/// `metadata.generation` (0 when absent).
pub(crate) fn generation(object: &Value) -> i64 {
    object
        .get("metadata")
        .and_then(|m| m.get("generation"))
        .and_then(Value::as_i64)
        .unwrap_or(0)
}

/// Checks `apiVersion`/`kind` against the type (filling them when absent).
pub(crate) fn check_type(type_key: &TypeKey, object: &mut Value) -> Result<()> {
    let Value::Object(map) = object else {
        return Err(StoreError::BadRequest("object must be a JSON object".into()));
    };
    let api_version = type_key.api_version();
    for (field, want) in [("apiVersion", api_version.as_str()), ("kind", type_key.kind.as_str())] {
        match map.get(field).and_then(Value::as_str) {
            None | Some("") => {
                map.insert(field.into(), Value::String(want.to_owned()));
            }
            Some(have) if have == want => {}
            Some(have) => {
                return Err(StoreError::BadRequest(format!(
                    "{field} {have:?} does not match the resource {type_key} ({want:?})"
                )));
            }
        }
    }
    Ok(())
}

/// The key of `object`: its namespace (required for namespaced kinds, dropped for cluster-scoped
/// ones) and name (may be empty).
pub(crate) fn object_key(type_key: &TypeKey, object: &mut Value) -> Result<ObjectKey> {
    let meta = metadata_mut(object)?;
    let name = meta.get("name").and_then(Value::as_str).unwrap_or_default().to_owned();
    let namespace = if type_key.namespaced {
        match meta.get("namespace").and_then(Value::as_str) {
            Some(ns) if !ns.is_empty() => ns.to_owned(),
            _ => {
                return Err(StoreError::BadRequest(format!(
                    "{type_key} is namespaced: metadata.namespace is required"
                )));
            }
        }
    } else {
        meta.remove("namespace");
        String::new()
    };
    Ok(ObjectKey::new(namespace, name))
}

/// Whether a change from `old` to `new` bumps `metadata.generation`: any field outside `metadata`
/// and `status` changed (for Deployments also `metadata.annotations`, as the apps strategy does).
pub(crate) fn generation_changes(type_key: &TypeKey, old: &Value, new: &Value) -> bool {
    const IGNORED: [&str; 4] = ["metadata", "status", "apiVersion", "kind"];
    let (Some(o), Some(n)) = (old.as_object(), new.as_object()) else {
        return old != new;
    };
    let differs = |k: &String| !IGNORED.contains(&k.as_str()) && o.get(k) != n.get(k);
    if o.keys().any(differs) || n.keys().any(differs) {
        return true;
    }
    if type_key.group == "apps" && type_key.kind == "Deployment" {
        let annotations = |v: &Value| v.get("metadata").and_then(|m| m.get("annotations")).cloned();
        let empty = |a: Option<Value>| a.filter(|a| a.as_object().is_some_and(|m| !m.is_empty()));
        return empty(annotations(old)) != empty(annotations(new));
    }
    false
}

/// The kind as Kubernetes prints it in errors: `Deployment.apps`, or `Pod` for the core group.
pub(crate) fn qualified_kind(type_key: &TypeKey) -> String {
    if type_key.group.is_empty() {
        type_key.kind.clone()
    } else {
        format!("{}.{}", type_key.kind, type_key.group)
    }
}

/// An `Invalid` error with one field error.
pub(crate) fn invalid(type_key: &TypeKey, name: &str, error: FieldError) -> StoreError {
    StoreError::Invalid(Invalid {
        qualified_kind: qualified_kind(type_key),
        name: name.to_owned(),
        errors: vec![error],
    })
}

/// Counts bytes written, to measure an object's encoded size without allocating.
struct ByteCount(usize);

impl std::io::Write for ByteCount {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len();
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The object's size as compact JSON.
pub(crate) fn encoded_size(object: &Value) -> usize {
    let mut count = ByteCount(0);
    // Writing a `Value` to an infallible sink cannot fail.
    let _ = serde_json::to_writer(&mut count, object);
    count.0
}

/// Fails with `TooLarge` when the object's encoded size is over `limit`.
pub(crate) fn check_size(key: &ObjectKey, object: &Value, limit: usize) -> Result<()> {
    let size = encoded_size(object);
    if size > limit {
        return Err(StoreError::TooLarge {
            key: key.clone(),
            size,
            limit,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn uids_are_distinct_version_4_uuids() {
        let a = new_uid();
        let b = new_uid();
        assert_ne!(a, b);
        assert_eq!(a.len(), 36);
        assert_eq!(&a[14..15], "4", "{a}");
        assert!(matches!(&a[19..20], "8" | "9" | "a" | "b"), "{a}");
    }

    #[test]
    fn generated_names_use_the_kubernetes_alphabet() {
        let n = generate_name("web-");
        assert_eq!(n.len(), 9);
        assert!(n.starts_with("web-"));
        assert!(n[4..].bytes().all(|c| NAME_ALPHABET.contains(&c)), "{n}");
        assert_eq!(generate_name(&"x".repeat(80)).len(), 63);
    }

    #[test]
    fn generation_ignores_metadata_and_status_but_not_spec() {
        let pod = TypeKey::new("", "v1", "Pod", "pods", true);
        let a = json!({"metadata": {"labels": {"a": "1"}}, "spec": {"x": 1}, "status": {"p": 1}});
        let b = json!({"metadata": {"labels": {"a": "2"}}, "spec": {"x": 1}, "status": {"p": 2}});
        let c = json!({"metadata": {}, "spec": {"x": 2}});
        let d = json!({"metadata": {}, "spec": {"x": 1}, "data": 1});
        assert!(!generation_changes(&pod, &a, &b));
        assert!(generation_changes(&pod, &a, &c));
        assert!(generation_changes(&pod, &a, &d));
    }

    #[test]
    fn deployment_generation_also_follows_annotations() {
        let dep = TypeKey::new("apps", "v1", "Deployment", "deployments", true);
        let a = json!({"metadata": {"annotations": {"a": "1"}}, "spec": {}});
        let b = json!({"metadata": {"annotations": {"a": "2"}}, "spec": {}});
        let c = json!({"metadata": {"annotations": {}}, "spec": {}});
        let d = json!({"metadata": {}, "spec": {}});
        assert!(generation_changes(&dep, &a, &b));
        assert!(!generation_changes(&dep, &c, &d));
    }

    #[test]
    fn size_is_the_compact_json_length() {
        let v = json!({"a": [1, 2], "b": "x"});
        assert_eq!(encoded_size(&v), serde_json::to_vec(&v).map(|b| b.len()).unwrap_or(0));
    }

    #[test]
    fn type_fields_are_filled_or_checked() {
        let pod = TypeKey::new("", "v1", "Pod", "pods", true);
        let mut v = json!({"metadata": {"name": "a"}});
        check_type(&pod, &mut v).unwrap();
        assert_eq!(v["apiVersion"], "v1");
        assert_eq!(v["kind"], "Pod");
        let mut wrong = json!({"kind": "Node"});
        assert!(matches!(check_type(&pod, &mut wrong), Err(StoreError::BadRequest(_))));
    }

    #[test]
    fn timestamps_round_trip() {
        let t: Timestamp = "2024-05-01T12:00:00Z".parse().unwrap();
        assert_eq!(time_json(t), json!("2024-05-01T12:00:00Z"));
        assert_eq!(parse_time(&time_json(add_seconds(t, 30))), Some(add_seconds(t, 30)));
    }
}
