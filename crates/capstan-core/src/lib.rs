//! capstan-core: Capstan's object model.
//!
//! Types, keys, label selectors, manifests and admission: the vocabulary that every other Capstan crate
//! shares. It knows nothing of tokio, IO or storage. Start with [`Resource`].
//!
//! ```
//! use capstan_core::{parse_manifests, Object};
//! let text = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: team-a\n";
//! let objects = parse_manifests(text).unwrap();
//! assert!(matches!(&objects[0], Object::Namespace(_)));
//! ```

pub mod admission;
pub mod builtin;
pub mod fields;
pub mod manifest;
pub mod resource;
pub mod selector;
pub mod validation;

pub use admission::{AdmissionError, admit, admit_json, validate, validate_metadata, validate_status};
pub use builtin::{Object, builtin_type, builtin_types};
pub use fields::{FieldSelector, FieldSelectorError};
pub use manifest::{Document, ManifestError, parse_documents, parse_manifest_bytes, parse_manifests};
pub use resource::{ObjectKey, Resource, TypeKey};
pub use selector::{LabelSelector, Operator, Requirement, SelectorError};
pub use validation::{FieldError, FieldErrorType, Invalid};

/// Re-export of the Kubernetes API types Capstan's built-in kinds come from.
pub use k8s_openapi;
