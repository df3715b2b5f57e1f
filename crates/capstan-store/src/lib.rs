//! capstan-store: the revisioned object store (placeholder until the store issue lands).

pub mod error;
pub mod object;
pub mod params;
pub mod store;

pub use error::{Result, StoreError};
pub use object::{StoredObject, WatchEvent};
pub use params::{DeleteParams, ListParams, ListResult, Preconditions, PropagationPolicy, Subresource, WatchParams};
pub use store::{DeleteOutcome, Revision, Store, WatchStream};
