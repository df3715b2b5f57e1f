//! capstan-server: a Kubernetes-compatible HTTP API over any [`capstan_store::Store`].
//!
//! For whoever embeds Capstan's control plane behind real Kubernetes clients (kubectl, client-go,
//! kube-rs, the Python client). Start with [`ApiServer`]: give it a store and a [`ServerConfig`], then
//! call [`ApiServer::serve`] with a listener (and TLS from [`tls::TlsMaterial`]), or
//! [`ApiServer::handle`] for one request in tests.
//!
//! It serves discovery (`/api`, `/apis`, `/api/v1`, `/apis/apps/v1`), `/version`, OpenAPI documents,
//! CRUD, list and watch for every kind in its [`Registry`] and of every established
//! CustomResourceDefinition ([`crd`]: custom objects get metadata validation only, no schema
//! validation or pruning), the `status` and `scale` subresources,
//! a pod's policy/v1 `eviction` subresource (`kubectl drain`), the self-subject reviews
//! (`kubectl auth can-i`, `kubectl auth whoami`), merge/JSON/strategic-merge patches, server-side
//! Tables, and `Status` errors with Kubernetes' codes. Bodies come as JSON, YAML or Kubernetes
//! protobuf ([`proto`]).
//!
//! ```
//! use capstan_server::discovery::{Registry, api_resource_list};
//! let core = api_resource_list(&Registry::builtin(), "", "v1").unwrap();
//! assert!(core["resources"].as_array().unwrap().iter().any(|r| r["name"] == "pods"));
//! ```
#![warn(missing_docs)]
// `ApiError` carries a Status' details by value; it is built once per failed request, never in a loop.
#![allow(clippy::result_large_err)]

pub mod auth;
pub mod body;
pub mod crd;
pub mod discovery;
pub mod handlers;
pub mod observe;
pub mod openapi;
pub mod patch;
pub mod proto;
pub mod router;
pub mod server;
pub mod status;
pub mod table;
pub mod tls;
pub mod watch;

pub use discovery::Registry;
pub use server::{ApiServer, DEFAULT_BODY_LIMIT, ServerConfig};
pub use status::ApiError;
pub use tls::TlsMaterial;
