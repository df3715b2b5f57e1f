//! Admission: defaulting, then validation, per kind, as the API server runs it on every write.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

pub mod names;

use crate::builtin::Object;
use crate::resource::TypeKey;
use crate::validation::Invalid;

/// Errors from dynamic (JSON) admission.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AdmissionError {
    /// The object failed validation.
    #[error(transparent)]
    Invalid(#[from] Invalid),
    /// The JSON does not decode as the kind it claims to be.
    #[error("cannot decode {kind}: {source}")]
    Decode {
        /// The kind.
        kind: String,
        /// The decoder's error.
        source: serde_json::Error,
    },
}

/// Defaults then validates a typed built-in object. `old` is the stored object on update (for
/// immutable-field checks), `None` on create.
pub fn admit(new: &mut Object, old: Option<&Object>) -> Result<(), Invalid> {
    let _ = (new, old);
    todo!("capstan-core helper")
}

/// Defaults then validates an object given as JSON. For built-in kinds it decodes, admits and
/// re-encodes in place; for other kinds it validates metadata only.
pub fn admit_json(
    type_key: &TypeKey,
    new: &mut serde_json::Value,
    old: Option<&serde_json::Value>,
) -> Result<(), AdmissionError> {
    let _ = (type_key, new, old);
    todo!("capstan-core helper")
}

/// Validates metadata common to every kind (name, namespace, labels, annotations).
pub fn validate_metadata(meta: &ObjectMeta, namespaced: bool) -> Vec<crate::validation::FieldError> {
    let _ = (meta, namespaced);
    todo!("capstan-core helper")
}
