//! The durability seam: a [`Journal`] makes committed records survive a crash and gives them back on
//! restart. The in-memory engine calls it once per batch of writes (group commit).

use capstan_core::{ObjectKey, TypeKey};

use crate::error::Result;
use crate::store::Revision;

/// The state of one object after one write: `object` is `None` when the write removed it.
#[derive(Clone, Debug, PartialEq)]
pub struct Record {
    /// The revision of the write.
    pub revision: Revision,
    /// The kind.
    pub type_key: TypeKey,
    /// The object.
    pub key: ObjectKey,
    /// The object's JSON after the write, or `None` for a removal.
    pub object: Option<serde_json::Value>,
}

/// What a journal recovered when it was opened.
#[derive(Clone, Debug, Default)]
pub struct Recovered {
    /// The last committed revision (0 for an empty journal).
    pub revision: Revision,
    /// The latest state of every live object.
    pub objects: Vec<Record>,
    /// Retained history, in revision order (may be empty): lets watches resume across a restart.
    pub history: Vec<Record>,
    /// The oldest revision `history` covers completely: it holds every record with a revision
    /// above this one (watches from before it are Gone). The engine also answers `Gone` for
    /// revisions before the first retained change of an object whose earlier state it cannot know.
    pub history_start: Revision,
}

/// Durable storage of records.
#[async_trait::async_trait]
pub trait Journal: Send + Sync + 'static {
    /// Makes these records durable, in order, as one atomic commit. Returns once they survive a
    /// crash (SIGKILL, power loss as far as the filesystem's fsync allows).
    async fn append(&self, records: Vec<Record>) -> Result<()>;

    /// Drops history up to `revision` (live objects are kept). The engine calls it after compacting
    /// its own history to `revision` (watches from before it are answered `Gone`), so records with
    /// a revision at or below it are no longer needed, and a reopened journal may report
    /// [`Recovered::history_start`] as high as `revision`.
    async fn compact(&self, revision: Revision) -> Result<()>;

    /// How many durable commits (fsyncs) this journal has done since it was opened.
    fn commits(&self) -> u64;
}
