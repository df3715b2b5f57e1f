//! capstan-controllers: the decision logic of Capstan's built-in controllers.
//!
//! For whoever wires controllers into the runtime (and for anyone who wants to know exactly what the
//! ReplicaSet, Deployment, garbage collector and simulated node agent decide). Every function here is
//! pure: plain values in (a Deployment, its ReplicaSets, the pods, `now`), plain decisions out ("scale
//! RS X to n", "create this RS", "delete these pods", "this is the new status"). Nothing does IO, so
//! a reconciler reads the cache, calls these functions and writes what they return.
//!
//! Where to start: [`ownership::claim`] (used by both controllers), then [`replicaset`] and
//! [`deployment`]. Every rule cites its item in `specs/apps.md` (e.g. C.25).
//!
//! ```
//! use capstan_controllers::deployment::math::resolve_fenceposts;
//! use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
//!
//! // 25% of 10 replicas: surge rounds up, unavailable rounds down (D.40).
//! let pct = IntOrString::String("25%".into());
//! let (surge, unavailable) = resolve_fenceposts(Some(&pct), Some(&pct), 10).unwrap();
//! assert_eq!((surge, unavailable), (3, 2));
//! ```
#![warn(missing_docs)]

pub mod deployment;
pub mod error;
pub mod gc;
pub mod nodeagent;
pub mod ownership;
pub mod replicaset;
pub mod util;

pub use error::Error;
