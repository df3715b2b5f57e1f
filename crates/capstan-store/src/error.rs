//! The store's typed errors. Each maps to one Kubernetes `Status` reason and HTTP code; messages
//! name the object by its key as `kubectl` prints it (`"default/web"`).

use capstan_core::{Invalid, ObjectKey, TypeKey};

/// A store result.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Why a store operation failed.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// No such object (HTTP 404, reason NotFound).
    #[error("{type_key} \"{key}\" not found")]
    NotFound {
        /// The kind.
        type_key: TypeKey,
        /// The object.
        key: ObjectKey,
    },
    /// An object with this key exists already (409, AlreadyExists).
    #[error("{type_key} \"{key}\" already exists")]
    AlreadyExists {
        /// The kind.
        type_key: TypeKey,
        /// The object.
        key: ObjectKey,
    },
    /// A precondition (resourceVersion or uid) did not hold (409, Conflict).
    #[error("operation cannot be fulfilled on {type_key} \"{key}\": {message}")]
    Conflict {
        /// The kind.
        type_key: TypeKey,
        /// The object.
        key: ObjectKey,
        /// What did not match.
        message: String,
    },
    /// The requested revision is older than the retained history, or a watcher fell too far behind
    /// (410, Expired/Gone): relist and watch again from the list's revision.
    #[error("too old resource version: {requested} (oldest retained: {oldest})")]
    Gone {
        /// The revision asked for.
        requested: u64,
        /// The oldest revision still retained.
        oldest: u64,
    },
    /// Admission rejected the object (422, Invalid), with every failed field.
    #[error(transparent)]
    Invalid(#[from] Invalid),
    /// The request itself is malformed: undecodable object, bad selector, bad continue token (400).
    #[error("bad request: {0}")]
    BadRequest(String),
    /// The object is larger than the store accepts (413, RequestEntityTooLarge).
    #[error("object \"{key}\" is {size} bytes, over the limit of {limit}")]
    TooLarge {
        /// The object.
        key: ObjectKey,
        /// Its encoded size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// A create into a Namespace that is being deleted (403, Forbidden), as Kubernetes'
    /// NamespaceLifecycle admission refuses it.
    #[error(
        "{} \"{}\" is forbidden: unable to create new content in namespace {} because it is being terminated",
        .type_key.plural, .key.name, .key.namespace
    )]
    NamespaceTerminating {
        /// The kind of the refused object.
        type_key: TypeKey,
        /// The refused object (its namespace is the terminating one).
        key: ObjectKey,
    },
    /// The operation did not complete in time (504, Timeout).
    #[error("timed out: {0}")]
    Timeout(String),
    /// The backend cannot serve now: closed, IO failure, lost connection (503, ServiceUnavailable).
    #[error("store unavailable: {0}")]
    Unavailable(String),
}

impl StoreError {
    /// The HTTP status code the Kubernetes API uses for this error.
    pub fn http_status(&self) -> u16 {
        match self {
            Self::NotFound { .. } => 404,
            Self::AlreadyExists { .. } | Self::Conflict { .. } => 409,
            Self::Gone { .. } => 410,
            Self::Invalid(_) => 422,
            Self::BadRequest(_) => 400,
            Self::TooLarge { .. } => 413,
            Self::NamespaceTerminating { .. } => 403,
            Self::Timeout(_) => 504,
            Self::Unavailable(_) => 503,
        }
    }

    /// The `Status.reason` the Kubernetes API uses for this error.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::NotFound { .. } => "NotFound",
            Self::AlreadyExists { .. } => "AlreadyExists",
            Self::Conflict { .. } => "Conflict",
            Self::Gone { .. } => "Expired",
            Self::Invalid(_) => "Invalid",
            Self::BadRequest(_) => "BadRequest",
            Self::TooLarge { .. } => "RequestEntityTooLarge",
            Self::NamespaceTerminating { .. } => "Forbidden",
            Self::Timeout(_) => "Timeout",
            Self::Unavailable(_) => "ServiceUnavailable",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_object_by_its_printed_key_not_its_debug_form() {
        let type_key = TypeKey::new("apps", "v1", "Deployment", "deployments", true);
        let key = ObjectKey::new("default", "web");
        let conflict = StoreError::Conflict {
            type_key: type_key.clone(),
            key: key.clone(),
            message: "the object has been modified".into(),
        };
        assert_eq!(
            conflict.to_string(),
            "operation cannot be fulfilled on deployments.v1.apps \"default/web\": the object has been modified"
        );
        let missing = StoreError::NotFound {
            type_key,
            key: ObjectKey::cluster("node-1"),
        };
        assert_eq!(missing.to_string(), "deployments.v1.apps \"node-1\" not found");
        let large = StoreError::TooLarge {
            key,
            size: 10,
            limit: 5,
        };
        assert_eq!(
            large.to_string(),
            "object \"default/web\" is 10 bytes, over the limit of 5"
        );
        let refused = StoreError::NamespaceTerminating {
            type_key: TypeKey::new("", "v1", "Pod", "pods", true),
            key: ObjectKey::new("team-a", "p"),
        };
        assert_eq!(
            refused.to_string(),
            "pods \"p\" is forbidden: unable to create new content in namespace team-a because it is being terminated"
        );
        assert_eq!((refused.http_status(), refused.reason()), (403, "Forbidden"));
    }
}
