//! The crate's error type.

/// Why a controller decision could not be computed from its inputs.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// `maxSurge` or `maxUnavailable` is neither an int nor a valid `"N%"` string.
    #[error("invalid {field} value {value:?}: {reason}")]
    InvalidIntOrPercent {
        /// `maxSurge` or `maxUnavailable`.
        field: &'static str,
        /// The raw value.
        value: String,
        /// What is wrong with it.
        reason: String,
    },
    /// An object lacks a field the decision needs (for example a Deployment without a template).
    #[error("{kind} {name:?} has no {field}")]
    MissingField {
        /// The kind of object.
        kind: &'static str,
        /// Its name.
        name: String,
        /// The missing field path.
        field: &'static str,
    },
    /// An object could not be serialized for hashing.
    #[error("cannot serialize the pod template: {0}")]
    Serialize(#[from] serde_json::Error),
    /// A label selector could not be converted.
    #[error(transparent)]
    Selector(#[from] capstan_core::SelectorError),
    /// A store operation failed (for example creating the simulated Node objects at install).
    #[error(transparent)]
    Store(Box<capstan_store::StoreError>),
}

impl From<capstan_store::StoreError> for Error {
    fn from(e: capstan_store::StoreError) -> Self {
        Error::Store(Box::new(e))
    }
}
