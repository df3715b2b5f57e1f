//! Kubernetes `Status` answers decoded back into [`StoreError`]s, so that a caller of the remote
//! store branches on the same variants as with an in-process store.
//!
//! | HTTP | reason | error |
//! |---|---|---|
//! | 400 | BadRequest | `BadRequest` |
//! | 404 | NotFound | `NotFound` |
//! | 409 | AlreadyExists / Conflict | `AlreadyExists` / `Conflict` |
//! | 410 | Expired, Gone | `Gone` (revisions read from the message when present) |
//! | 413 | RequestEntityTooLarge | `TooLarge` |
//! | 422 | Invalid | `Invalid`, one field error per cause |
//! | 429, 500, 503 | | `Unavailable` |
//! | 504 | Timeout | `Timeout` |
//! | 403 | Forbidden, "… because it is being terminated" | `NamespaceTerminating` |
//! | 401, other 403, other 4xx | | `BadRequest` naming the code and reason |

use capstan_core::{FieldError, FieldErrorType, Invalid, ObjectKey, TypeKey};
use serde_json::Value;

use crate::error::StoreError;

/// What a failed request was about, to fill the error's kind and key.
pub(crate) struct Subject<'a> {
    /// The kind.
    pub type_key: &'a TypeKey,
    /// The object, or an empty key for collection requests.
    pub key: ObjectKey,
    /// The resourceVersion a watch or list asked for (for `Gone`).
    pub revision: u64,
    /// The size of the request body (for `TooLarge`).
    pub sent: usize,
}

/// The error for a non-2xx answer with body `body` (a `Status`, or anything else).
pub(crate) fn decode_error(code: u16, body: &[u8], subject: &Subject<'_>) -> StoreError {
    let status: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    from_status(code, &status, body, subject)
}

/// The error for a `Status` object (also used for watch `ERROR` events, whose code is inside).
pub(crate) fn from_status(code: u16, status: &Value, raw: &[u8], subject: &Subject<'_>) -> StoreError {
    let code = status["code"]
        .as_u64()
        .and_then(|c| u16::try_from(c).ok())
        .filter(|c| *c >= 400)
        .unwrap_or(code);
    let reason = status["reason"].as_str().unwrap_or("");
    let message = match status["message"].as_str() {
        Some(m) => m.to_owned(),
        None => String::from_utf8_lossy(raw).trim().chars().take(500).collect(),
    };
    let type_key = subject.type_key.clone();
    let key = match status["details"]["name"].as_str() {
        Some(name) if subject.key.name.is_empty() && !name.is_empty() => {
            ObjectKey::new(subject.key.namespace.clone(), name)
        }
        _ => subject.key.clone(),
    };
    match (code, reason) {
        (404, _) => match other_missing(status, subject.type_key) {
            Some((type_key, key)) => StoreError::NotFound { type_key, key },
            None => StoreError::NotFound { type_key, key },
        },
        (409, "AlreadyExists") => StoreError::AlreadyExists { type_key, key },
        (409, _) => StoreError::Conflict {
            type_key,
            key,
            message: conflict_detail(&message),
        },
        (410, _) => {
            let numbers = numbers_in(&message);
            StoreError::Gone {
                requested: numbers.first().copied().unwrap_or(subject.revision),
                oldest: numbers.get(1).copied().unwrap_or(0),
            }
        }
        (413, _) => StoreError::TooLarge {
            key,
            size: subject.sent,
            limit: numbers_in(&message).last().map(|n| *n as usize).unwrap_or(0),
        },
        (403, "Forbidden") if subject.type_key.namespaced && message.ends_with("because it is being terminated") => {
            StoreError::NamespaceTerminating { type_key, key }
        }
        (422, _) => StoreError::Invalid(invalid(status, subject.type_key, &key, &message)),
        (400, _) => StoreError::BadRequest(message),
        (504, _) => StoreError::Timeout(message),
        (429 | 500..=599, _) => StoreError::Unavailable(format!("{code} {reason}: {message}")),
        _ => StoreError::BadRequest(format!("{code} {reason}: {message}")),
    }
}

/// A 404 about another object than the one asked for: the built-in kind and name that
/// `details` names (a write into a missing namespace answers `namespaces "x" not found`).
fn other_missing(status: &Value, asked: &TypeKey) -> Option<(TypeKey, ObjectKey)> {
    let details = &status["details"];
    let plural = details["kind"].as_str()?;
    let group = details["group"].as_str().unwrap_or("");
    let name = details["name"].as_str().filter(|n| !n.is_empty())?;
    if plural == asked.plural && group == asked.group {
        return None;
    }
    let type_key = capstan_core::builtin_types()
        .into_iter()
        .find(|t| t.plural == plural && t.group == group)?;
    // A missing namespaced object of another kind cannot be keyed without its namespace.
    (!type_key.namespaced).then(|| (type_key, ObjectKey::cluster(name)))
}

/// The part of a Conflict message after `Operation cannot be fulfilled on X "name": `.
fn conflict_detail(message: &str) -> String {
    match message.strip_prefix("Operation cannot be fulfilled on ") {
        Some(rest) => match rest.split_once("\": ") {
            Some((_, detail)) => detail.to_owned(),
            None => message.to_owned(),
        },
        None => message.to_owned(),
    }
}

/// Every decimal number in `text`, in order.
fn numbers_in(text: &str) -> Vec<u64> {
    text.split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .filter_map(|s| s.parse().ok())
        .collect()
}

/// `Kind.group`, or `Kind` for the core group, as Kubernetes names a kind in messages.
fn qualified_kind(type_key: &TypeKey) -> String {
    if type_key.group.is_empty() {
        type_key.kind.clone()
    } else {
        format!("{}.{}", type_key.kind, type_key.group)
    }
}

/// An `Invalid` error from a 422 `Status`: one field error per cause.
fn invalid(status: &Value, type_key: &TypeKey, key: &ObjectKey, message: &str) -> Invalid {
    let mut errors: Vec<FieldError> = status["details"]["causes"]
        .as_array()
        .map(|causes| causes.iter().map(field_error).collect())
        .unwrap_or_default();
    if errors.is_empty() {
        errors.push(FieldError::new("", FieldErrorType::Invalid, None, message));
    }
    Invalid {
        qualified_kind: qualified_kind(type_key),
        name: key.name.clone(),
        errors,
    }
}

const KINDS: [FieldErrorType; 6] = [
    FieldErrorType::Required,
    FieldErrorType::Invalid,
    FieldErrorType::Forbidden,
    FieldErrorType::NotSupported,
    FieldErrorType::Duplicate,
    FieldErrorType::TooLong,
];

/// One cause (`{"reason": "FieldValueInvalid", "field": "spec.replicas", "message": "Invalid value:
/// -1: must be ..."}`) as a field error: the phrase is stripped and a leading quoted value split off.
fn field_error(cause: &Value) -> FieldError {
    let reason = cause["reason"].as_str().unwrap_or("");
    let kind = KINDS
        .into_iter()
        .find(|k| k.cause_reason() == reason)
        .unwrap_or(FieldErrorType::Invalid);
    let field = cause["field"].as_str().unwrap_or("");
    let message = cause["message"].as_str().unwrap_or("");
    let rest = message
        .strip_prefix(kind.phrase())
        .map(|r| r.strip_prefix(": ").unwrap_or(r))
        .unwrap_or(message);
    let (value, detail) = split_quoted_value(rest);
    FieldError::new(field, kind, value, detail)
}

/// Splits `"value": detail` into the value and the detail; text without a leading quoted string is
/// all detail.
fn split_quoted_value(text: &str) -> (Option<String>, String) {
    if !text.starts_with('"') {
        return (None, text.to_owned());
    }
    let mut escaped = false;
    for (i, c) in text.char_indices().skip(1) {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '"' => {
                let quoted = &text[..=i];
                let value =
                    serde_json::from_str::<String>(quoted).unwrap_or_else(|_| quoted.trim_matches('"').to_owned());
                let detail = text[i + 1..].strip_prefix(": ").unwrap_or(&text[i + 1..]);
                return (Some(value), detail.to_owned());
            }
            _ => {}
        }
    }
    (None, text.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn deployments() -> TypeKey {
        TypeKey::new("apps", "v1", "Deployment", "deployments", true)
    }

    fn decode(code: u16, status: Value) -> StoreError {
        let t = deployments();
        let subject = Subject {
            type_key: &t,
            key: ObjectKey::new("default", "web"),
            revision: 7,
            sent: 10,
        };
        decode_error(code, status.to_string().as_bytes(), &subject)
    }

    #[test]
    fn status_codes_and_reasons_map_to_the_store_error_variants() {
        assert!(matches!(
            decode(404, json!({"code": 404, "reason": "NotFound"})),
            StoreError::NotFound { .. }
        ));
        assert!(matches!(
            decode(409, json!({"code": 409, "reason": "AlreadyExists"})),
            StoreError::AlreadyExists { .. }
        ));
        let conflict = decode(
            409,
            json!({"code": 409, "reason": "Conflict",
                "message": "Operation cannot be fulfilled on deployments.apps \"web\": the object has been modified"}),
        );
        match conflict {
            StoreError::Conflict { message, key, .. } => {
                assert_eq!(message, "the object has been modified");
                assert_eq!(key.name, "web");
            }
            other => panic!("{other:?}"),
        }
        match decode(
            410,
            json!({"code": 410, "reason": "Expired",
            "message": "too old resource version: 3 (oldest retained: 40)"}),
        ) {
            StoreError::Gone { requested, oldest } => assert_eq!((requested, oldest), (3, 40)),
            other => panic!("{other:?}"),
        }
        match decode(
            413,
            json!({"code": 413, "message": "the request body is larger than the limit of 3145728 bytes"}),
        ) {
            StoreError::TooLarge { size, limit, .. } => assert_eq!((size, limit), (10, 3_145_728)),
            other => panic!("{other:?}"),
        }
        assert!(matches!(decode(504, json!({"code": 504})), StoreError::Timeout(_)));
        assert!(matches!(decode(503, json!({"code": 503})), StoreError::Unavailable(_)));
        assert!(matches!(decode(429, json!({})), StoreError::Unavailable(_)));
        assert!(matches!(decode(400, json!({"message": "bad"})), StoreError::BadRequest(m) if m == "bad"));
        assert!(
            matches!(decode(401, json!({"reason": "Unauthorized"})), StoreError::BadRequest(m) if m.contains("401"))
        );
        assert!(matches!(decode(502, Value::Null), StoreError::Unavailable(_)));
    }

    #[test]
    fn a_forbidden_create_in_a_terminating_namespace_is_typed_and_other_403s_are_not() {
        let terminating = json!({"code": 403, "reason": "Forbidden",
            "message": "deployments \"web\" is forbidden: unable to create new content in namespace default because it is being terminated"});
        match decode(403, terminating) {
            StoreError::NamespaceTerminating { type_key, key } => {
                assert_eq!(type_key, deployments());
                assert_eq!(key, ObjectKey::new("default", "web"));
            }
            other => panic!("{other:?}"),
        }
        let other = json!({"code": 403, "reason": "Forbidden", "message": "nope"});
        assert!(matches!(decode(403, other), StoreError::BadRequest(m) if m.contains("403")));
    }

    #[test]
    fn a_not_found_about_a_missing_namespace_names_the_namespace() {
        let missing_ns = json!({"code": 404, "reason": "NotFound", "message": "namespaces \"nowhere\" not found",
            "details": {"name": "nowhere", "group": "", "kind": "namespaces"}});
        match decode(404, missing_ns) {
            StoreError::NotFound { type_key, key } => {
                assert_eq!(type_key.kind, "Namespace");
                assert_eq!(key, ObjectKey::cluster("nowhere"));
            }
            other => panic!("{other:?}"),
        }
        let same_kind = json!({"code": 404, "reason": "NotFound",
            "details": {"name": "web", "group": "apps", "kind": "deployments"}});
        match decode(404, same_kind) {
            StoreError::NotFound { type_key, key } => {
                assert_eq!(type_key, deployments());
                assert_eq!(key, ObjectKey::new("default", "web"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn invalid_status_causes_become_field_errors_with_value_and_detail() {
        let err = decode(
            422,
            json!({"code": 422, "reason": "Invalid", "message": "Deployment.apps \"web\" is invalid: ...",
            "details": {"name": "web", "causes": [
                {"reason": "FieldValueInvalid", "field": "spec.replicas",
                 "message": "Invalid value: \"-1\": must be greater than or equal to 0"},
                {"reason": "FieldValueRequired", "field": "spec.selector", "message": "Required value"},
            ]}}),
        );
        let StoreError::Invalid(inv) = err else {
            panic!("{err:?}")
        };
        assert_eq!(inv.qualified_kind, "Deployment.apps");
        assert_eq!(inv.name, "web");
        assert_eq!(
            inv.errors,
            vec![
                FieldError::invalid("spec.replicas", "-1", "must be greater than or equal to 0"),
                FieldError::required("spec.selector", ""),
            ]
        );
    }

    #[test]
    fn a_field_error_survives_the_round_trip_through_its_message() {
        let original = FieldError::invalid("spec.selector", "app=\"x\"", "`selector` does not match");
        let message = original.to_string();
        let message = message.strip_prefix("spec.selector: ").unwrap();
        let back = field_error(&json!({"reason": "FieldValueInvalid", "field": "spec.selector", "message": message}));
        assert_eq!(back, original);
    }
}
