//! API errors rendered as Kubernetes `Status` objects.

use capstan_core::{Invalid, TypeKey};
use capstan_store::StoreError;
use serde_json::{Value, json};

/// One cause inside a `Status`' details (a failed field, an unknown field, ...).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cause {
    /// Machine-readable reason, e.g. `FieldValueInvalid`.
    pub reason: String,
    /// Human message.
    pub message: String,
    /// The field path, e.g. `spec.selector`.
    pub field: String,
}

/// An error the API answers with: an HTTP code, a `Status.reason`, a message and details.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{code} {reason}: {message}")]
pub struct ApiError {
    /// HTTP status code.
    pub code: u16,
    /// `Status.reason`, e.g. `NotFound`.
    pub reason: String,
    /// `Status.message`.
    pub message: String,
    /// `details.name`.
    pub name: Option<String>,
    /// `details.group`.
    pub group: Option<String>,
    /// `details.kind` (the plural resource name, as Kubernetes puts it).
    pub kind: Option<String>,
    /// `details.causes`.
    pub causes: Vec<Cause>,
}

impl ApiError {
    /// An error with a code, reason and message and no details.
    pub fn new(code: u16, reason: &str, message: impl Into<String>) -> Self {
        Self {
            code,
            reason: reason.to_owned(),
            message: message.into(),
            name: None,
            group: None,
            kind: None,
            causes: Vec::new(),
        }
    }

    /// 400 BadRequest.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "BadRequest", message)
    }

    /// 401 Unauthorized.
    pub fn unauthorized() -> Self {
        Self::new(401, "Unauthorized", "Unauthorized")
    }

    /// 404 NotFound for a path that names no resource.
    pub fn path_not_found() -> Self {
        Self::new(404, "NotFound", "the server could not find the requested resource")
    }

    /// 404 NotFound for a named object of a known kind.
    pub fn not_found(type_key: &TypeKey, name: &str) -> Self {
        let mut e = Self::new(
            404,
            "NotFound",
            format!("{} \"{name}\" not found", resource_qualified(type_key)),
        );
        e.set_details(type_key, name);
        e
    }

    /// 405 MethodNotAllowed.
    pub fn method_not_allowed(method: &str) -> Self {
        Self::new(
            405,
            "MethodNotAllowed",
            format!("the server does not allow this method ({method}) on the requested resource"),
        )
    }

    /// 413 RequestEntityTooLarge.
    pub fn too_large(limit: usize) -> Self {
        Self::new(
            413,
            "RequestEntityTooLarge",
            format!("the request body is larger than the limit of {limit} bytes"),
        )
    }

    /// 415 UnsupportedMediaType.
    pub fn unsupported_media_type(content_type: &str) -> Self {
        Self::new(
            415,
            "UnsupportedMediaType",
            format!("the body of the request was in an unknown format: {content_type}"),
        )
    }

    /// 422 Invalid from admission's field errors.
    pub fn invalid(type_key: Option<&TypeKey>, invalid: &Invalid) -> Self {
        let mut e = Self::new(422, "Invalid", invalid.to_string());
        if let Some(t) = type_key {
            e.set_details(t, &invalid.name);
            e.kind = Some(t.kind.clone());
        } else {
            e.name = Some(invalid.name.clone());
        }
        e.causes = invalid
            .errors
            .iter()
            .map(|fe| Cause {
                reason: fe.kind.cause_reason().to_owned(),
                message: fe.message(),
                field: fe.field.clone(),
            })
            .collect();
        e
    }

    /// Maps a store error on an operation on `type_key` (and object `name`, when there is one).
    pub fn from_store(err: &StoreError, type_key: &TypeKey, name: &str) -> Self {
        match err {
            StoreError::NotFound { key, .. } => {
                Self::not_found(type_key, if name.is_empty() { &key.name } else { name })
            }
            StoreError::AlreadyExists { key, .. } => {
                let mut e = Self::new(
                    409,
                    "AlreadyExists",
                    format!("{} \"{}\" already exists", resource_qualified(type_key), key.name),
                );
                e.set_details(type_key, &key.name);
                e
            }
            StoreError::Conflict { key, message, .. } => {
                let mut e = Self::new(
                    409,
                    "Conflict",
                    format!(
                        "Operation cannot be fulfilled on {} \"{}\": {message}",
                        resource_qualified(type_key),
                        key.name
                    ),
                );
                e.set_details(type_key, &key.name);
                e
            }
            StoreError::Invalid(inv) => Self::invalid(Some(type_key), inv),
            other => {
                let mut e = Self::new(other.http_status(), other.reason(), other.to_string());
                if !name.is_empty() {
                    e.set_details(type_key, name);
                }
                e
            }
        }
    }

    /// Sets `details.name`.
    pub fn with_name(mut self, name: &str) -> Self {
        self.name = Some(name.to_owned());
        self
    }

    fn set_details(&mut self, type_key: &TypeKey, name: &str) {
        self.name = Some(name.to_owned());
        self.group = Some(type_key.group.clone());
        self.kind = Some(type_key.plural.clone());
    }

    /// The `Status` object for this error.
    pub fn to_status(&self) -> Value {
        let mut details = serde_json::Map::new();
        if let Some(n) = &self.name {
            details.insert("name".into(), json!(n));
        }
        if let Some(g) = &self.group {
            details.insert("group".into(), json!(g));
        }
        if let Some(k) = &self.kind {
            details.insert("kind".into(), json!(k));
        }
        if !self.causes.is_empty() {
            let causes: Vec<Value> = self
                .causes
                .iter()
                .map(|c| json!({"reason": c.reason, "message": c.message, "field": c.field}))
                .collect();
            details.insert("causes".into(), Value::Array(causes));
        }
        let mut status = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        });
        if !details.is_empty() {
            status["details"] = Value::Object(details);
        }
        status
    }
}

/// `Deployment.apps`, or `Pod` for the core group: how Kubernetes names a kind in messages.
pub fn qualified(type_key: &TypeKey) -> String {
    if type_key.group.is_empty() {
        type_key.kind.clone()
    } else {
        format!("{}.{}", type_key.kind, type_key.group)
    }
}

/// `deployments.apps`, or `pods` for the core group.
pub fn resource_qualified(type_key: &TypeKey) -> String {
    if type_key.group.is_empty() {
        type_key.plural.clone()
    } else {
        format!("{}.{}", type_key.plural, type_key.group)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use capstan_core::FieldError;

    fn deployments() -> TypeKey {
        TypeKey::new("apps", "v1", "Deployment", "deployments", true)
    }

    #[test]
    fn not_found_status_names_the_object_and_kind() {
        let s = ApiError::not_found(&deployments(), "web").to_status();
        assert_eq!(s["code"], 404);
        assert_eq!(s["reason"], "NotFound");
        assert_eq!(s["message"], "deployments.apps \"web\" not found");
        assert_eq!(s["details"]["kind"], "deployments");
        assert_eq!(s["details"]["group"], "apps");
    }

    #[test]
    fn invalid_status_lists_every_field_as_a_cause() {
        let inv = Invalid {
            qualified_kind: "Deployment.apps".into(),
            name: "web".into(),
            errors: vec![
                FieldError::invalid("spec.selector", "app=x", "`selector` does not match template `labels`"),
                FieldError::required("spec.template.spec.containers", ""),
            ],
        };
        let s = ApiError::invalid(Some(&deployments()), &inv).to_status();
        assert_eq!(s["code"], 422);
        let causes = s["details"]["causes"].as_array().unwrap();
        assert_eq!(causes.len(), 2);
        assert_eq!(causes[0]["field"], "spec.selector");
        assert_eq!(causes[0]["reason"], "FieldValueInvalid");
        assert!(s["message"].as_str().unwrap().contains("spec.selector"));
    }
}
