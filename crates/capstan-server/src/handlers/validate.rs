//! `fieldValidation`: finding fields the kind does not define (Strict → 400, Warn → a `Warning` header).

use capstan_core::{Object, TypeKey};
use serde_json::Value;

use crate::body::ApiRequest;
use crate::status::ApiError;

/// What to do with unknown fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldValidation {
    /// Drop them silently.
    Ignore,
    /// Drop them and warn.
    Warn,
    /// Refuse the request.
    Strict,
}

impl FieldValidation {
    /// Reads the `fieldValidation` query parameter (default Warn, as Kubernetes).
    pub fn from_request(req: &ApiRequest) -> Result<Self, ApiError> {
        match req.q("fieldValidation") {
            None | Some("Warn") => Ok(Self::Warn),
            Some("Ignore") => Ok(Self::Ignore),
            Some("Strict") => Ok(Self::Strict),
            Some(other) => Err(ApiError::bad_request(format!(
                "fieldValidation must be one of Ignore, Warn or Strict, not {other:?}"
            ))),
        }
    }
}

/// The dotted paths of fields in `obj` that the built-in kind `type_key` does not define.
/// Kinds unknown at compile time have no schema here, so nothing is reported for them.
pub fn unknown_fields(type_key: &TypeKey, obj: &Value) -> Result<Vec<String>, ApiError> {
    let typed = match Object::from_json(&type_key.api_version(), &type_key.kind, obj.clone()) {
        Ok(Some(t)) => t,
        Ok(None) => return Ok(Vec::new()),
        Err(e) => return Err(ApiError::bad_request(format!("cannot decode {}: {e}", type_key.kind))),
    };
    let round = typed
        .to_json()
        .map_err(|e| ApiError::bad_request(format!("cannot encode {}: {e}", type_key.kind)))?;
    let mut out = Vec::new();
    diff(obj, &round, "", &mut out);
    Ok(out)
}

fn diff(input: &Value, known: &Value, path: &str, out: &mut Vec<String>) {
    match (input, known) {
        (Value::Object(i), Value::Object(k)) => {
            for (key, v) in i {
                if v.is_null() {
                    continue;
                }
                let p = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                match k.get(key) {
                    Some(kv) => diff(v, kv, &p, out),
                    None => out.push(p),
                }
            }
        }
        (Value::Array(i), Value::Array(k)) => {
            for (n, (iv, kv)) in i.iter().zip(k).enumerate() {
                diff(iv, kv, &format!("{path}[{n}]"), out);
            }
        }
        _ => {}
    }
}

/// Checks `obj` as `mode` says; returns warnings to send back (Warn mode) or a 400 (Strict).
pub fn check(mode: FieldValidation, type_key: &TypeKey, obj: &Value) -> Result<Vec<String>, ApiError> {
    if mode == FieldValidation::Ignore {
        return Ok(Vec::new());
    }
    let unknown = unknown_fields(type_key, obj)?;
    if unknown.is_empty() {
        return Ok(Vec::new());
    }
    let msgs: Vec<String> = unknown.iter().map(|f| format!("unknown field \"{f}\"")).collect();
    if mode == FieldValidation::Strict {
        let name = obj["metadata"]["name"].as_str().unwrap_or("");
        return Err(ApiError::bad_request(format!(
            "{} in version \"{}\" cannot be handled as a {}: strict decoding error: {}",
            type_key.kind,
            type_key.api_version(),
            type_key.kind,
            msgs.join(", ")
        ))
        .with_name(name));
    }
    Ok(msgs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn strict_validation_names_every_unknown_field() {
        let t = TypeKey::new("apps", "v1", "Deployment", "deployments", true);
        let obj = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "labelz": {}},
            "spec": {"replica": 3, "selector": {"matchLabels": {"a": "b"}},
              "template": {"spec": {"containers": [{"name": "c", "image": "i", "imagePolicy": "x"}]}}}});
        let u = unknown_fields(&t, &obj).unwrap();
        assert_eq!(
            u,
            [
                "metadata.labelz",
                "spec.replica",
                "spec.template.spec.containers[0].imagePolicy"
            ]
        );
        let err = check(FieldValidation::Strict, &t, &obj).unwrap_err();
        assert_eq!(err.code, 400);
        assert!(err.message.contains("unknown field \"spec.replica\""));
        assert_eq!(check(FieldValidation::Warn, &t, &obj).unwrap().len(), 3);
        assert!(check(FieldValidation::Ignore, &t, &obj).unwrap().is_empty());
    }
}
