//! capstan-core: Capstan's object model.
//!
//! The vocabulary every other Capstan crate shares, and the one crate a store backend and a controller
//! both depend on: kinds and keys, manifests, label and field selectors, and admission (Kubernetes'
//! defaults and validation). It knows nothing of tokio, IO or storage, and its API is meant to change
//! rarely. Application authors usually reach it through the `capstan` facade.
//!
//! Where to start:
//! - [`Resource`]: what a kind is (group, version, kind, plural, scope, metadata); the built-in kinds
//!   are the real `k8s-openapi` types ([`builtin`]), and [`Object`] holds any one of them.
//! - [`ObjectKey`] (namespace + name) and [`TypeKey`] (a kind at run time).
//! - [`parse_manifests`]: multi-document YAML or JSON into typed objects, bounded in size and depth.
//! - [`admit`] / [`admit_json`]: defaulting then validation; an [`Invalid`] lists every failed field.
//! - [`LabelSelector`] and [`FieldSelector`]: parse, format, match.
//!
//! ```
//! use capstan_core::{admit, parse_manifests, LabelSelector, Object};
//!
//! let text = "
//! apiVersion: apps/v1
//! kind: Deployment
//! metadata: {name: web, namespace: default}
//! spec:
//!   selector: {matchLabels: {app: web}}
//!   template:
//!     metadata: {labels: {app: web}}
//!     spec: {containers: [{name: nginx, image: nginx:latest}]}
//! ";
//! let mut objects = parse_manifests(text).unwrap();
//! admit(&mut objects[0], None).unwrap(); // fills Kubernetes' defaults, then validates
//! let Object::Deployment(d) = &objects[0] else { unreachable!() };
//! let spec = d.spec.as_ref().unwrap();
//! assert_eq!(spec.replicas, Some(1));
//! assert_eq!(spec.revision_history_limit, Some(10));
//!
//! let selector = LabelSelector::from_k8s(&spec.selector).unwrap();
//! assert_eq!(selector.to_string(), "app=web");
//! let labels = spec.template.metadata.as_ref().unwrap().labels.clone().unwrap();
//! assert!(selector.matches(&labels));
//! ```

#![warn(missing_docs)]

pub mod admission;
pub mod builtin;
pub mod fields;
pub mod manifest;
pub mod resource;
pub mod selector;
pub mod validation;

pub use admission::{AdmissionError, admit, admit_json, validate, validate_metadata, validate_status};
pub use builtin::{CustomKind, Object, builtin_type, builtin_types, custom_kinds};
pub use fields::{FieldSelector, FieldSelectorError};
pub use manifest::{Document, ManifestError, parse_documents, parse_manifest_bytes, parse_manifests};
pub use resource::{ObjectKey, Resource, TypeKey};
pub use selector::{LabelSelector, Operator, Requirement, SelectorError};
pub use validation::{FieldError, FieldErrorType, Invalid};

/// Re-export of the Kubernetes API types Capstan's built-in kinds come from.
pub use k8s_openapi;
