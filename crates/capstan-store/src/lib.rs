//! capstan-store: the revisioned object store (under construction: see the store issue).

pub mod api;
pub mod clock;
pub mod durable;
pub mod error;
pub mod journal;
pub mod object;
pub mod params;
pub mod store;

pub use api::{Api, Deleted, Event, ObjectList};
pub use durable::RedbJournal;
pub use error::{Result, StoreError};
pub use journal::{Journal, Record, Recovered};
pub use object::{StoredObject, WatchEvent};
pub use params::{DeleteParams, ListParams, ListResult, Preconditions, PropagationPolicy, Subresource, WatchParams};
pub use store::{DeleteOutcome, Revision, Store, WatchStream};
