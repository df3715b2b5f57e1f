//! The durable backend: the in-memory engine over a [`RedbJournal`] in a data directory.
//!
//! Every write is served by the same engine as the memory backend; before it is acknowledged, its
//! record is committed to the journal. Concurrent writers share one commit (group commit), so a
//! durable write costs a fraction of an fsync. On open, the journal gives back the live objects, the
//! revision counter and the retained history, so revisions continue where they stopped and a watch
//! from a revision before the restart is served from history, or answered `Gone` if it was compacted.
//!
//! # Why redb
//!
//! - **Pure Rust, one dependency**: no C toolchain, no system library, nothing to link.
//! - **Durable by default**: a committed write transaction has been fsynced when `commit` returns.
//!   fjall's plain insert is not durable (only an explicit full sync is), and sled's flush never
//!   fsyncs, so both would acknowledge writes a crash can lose.
//! - **Crash-safe, with quick repair**: copy-on-write B-trees with checksummed commit slots; with
//!   quick repair on, each commit saves the allocator state and uses two-phase commit, so reopening
//!   after SIGKILL is near-instant instead of a walk over the whole file. The price is a second
//!   flush per commit (two-phase commit); group commit spreads it over every write of the batch.
//! - SQLite (WAL, `synchronous=FULL`) measured a little faster on these machines but is a C
//!   dependency; redb with 64 writes per commit is ~20k writes/s, well past a control plane's needs.
//!
//! Data directory layout: one file, `store.redb` ([`journal::FILE_NAME`]).

pub(crate) mod codec;
pub mod journal;
mod store;

pub use journal::RedbJournal;
pub use store::DurableStore;

#[cfg(test)]
#[path = "tests/store.rs"]
mod store_tests;
#[cfg(test)]
mod tests;
