//! The garbage collector's decisions (B.15–B.18): see [`logic`].

pub mod logic;

pub use logic::{
    Dependent, FOREGROUND_FINALIZER, ForegroundPlan, GcAction, ORPHAN_FINALIZER, OwnerState, Propagation,
    decide_dependent, foreground_plan, orphan_plan, without_finalizer,
};
pub mod reconciler;
pub mod sweep;

pub use reconciler::GarbageCollector;
pub use sweep::GarbageSweeper;
