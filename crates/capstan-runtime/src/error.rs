//! Errors: [`Error`] for the runtime's own failures (the manager, caches, leader election) and
//! [`ReconcileError`], what a [`Reconciler`](crate::Reconciler) returns when a reconcile fails.

use std::fmt;

use capstan_store::StoreError;

/// A runtime result.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why the runtime itself failed (as opposed to a user's reconcile).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The store refused or failed an operation the runtime needed.
    #[error(transparent)]
    Store(Box<StoreError>),
    /// Two controllers registered with one manager share a name; names label metrics and events.
    #[error("two controllers are named {0:?}; give one of them another name with Controller::name")]
    DuplicateController(String),
    /// A reconciler asked for the cache of a kind that no controller of this manager owns or watches.
    /// Informers never start implicitly: add `.owns::<K>()` or `.watches::<K>(..)` to a controller, or
    /// [`Manager::cache`](crate::Manager::cache) before running.
    #[error("no informer for {0}: register it with owns/watches or Manager::cache before run")]
    NoInformer(String),
    /// A cache was asked for an index that was never registered.
    #[error("cache of {kind} has no index named {index:?}")]
    UnknownIndex {
        /// The cached kind.
        kind: String,
        /// The index asked for.
        index: String,
    },
    /// This manager was the leader and could not renew its lease within the renew deadline; its
    /// controllers were stopped before another candidate could take the lease.
    #[error("leadership of lease {0} lost")]
    LeadershipLost(String),
    /// [`Manager::run`](crate::Manager::run) was called twice.
    #[error("the manager is already running or has run")]
    AlreadyRun,
}

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Self {
        Self::Store(Box::new(e))
    }
}

/// A failed reconcile, as returned by [`Reconciler::reconcile`](crate::Reconciler::reconcile).
///
/// Any error type converts into it with `?`, so a reconciler can propagate store errors, parse errors
/// or its own errors unchanged. What the controller does next depends on one bit:
///
/// * an ordinary error ([`ReconcileError::new`], or `?`) requeues the key **with backoff** from the
///   queue's rate limiter (5 ms doubling up to 1000 s by default, per key);
/// * a **terminal** error ([`ReconcileError::terminal`]) is logged and counted but **not** requeued:
///   use it when retrying cannot help (an invalid spec the user must fix). A later change to the
///   object wakes the controller again, as always.
///
/// A **conflict** ([`StoreError::Conflict`]: the object changed since the reconciler read it) is
/// expected in a level-triggered system, not a failure: the worker logs it at `debug`, counts it
/// with the `requeue` result instead of `error`, and requeues the key with the same per-key
/// backoff. Whether an error is a conflict is decided when it is converted, from the error and its
/// [`source`](std::error::Error::source) chain (see [`ReconcileError::is_conflict`]).
///
/// Compare controller-runtime's `reconcile.TerminalError`.
pub struct ReconcileError {
    source: Box<dyn std::error::Error + Send + Sync + 'static>,
    terminal: bool,
    conflict: bool,
}

/// Whether `error`, or an error in its `source()` chain, is a store conflict. Sees a `StoreError`
/// held directly, boxed, or inside the runtime's own [`Error::Store`].
fn is_store_conflict(error: &(dyn std::error::Error + 'static)) -> bool {
    let conflict = |e: &StoreError| matches!(e, StoreError::Conflict { .. });
    let mut next = Some(error);
    while let Some(e) = next {
        let store = e
            .downcast_ref::<StoreError>()
            .or_else(|| e.downcast_ref::<Box<StoreError>>().map(|b| &**b))
            .or_else(|| match e.downcast_ref::<Error>() {
                Some(Error::Store(s)) => Some(&**s),
                _ => None,
            });
        if store.is_some_and(conflict) {
            return true;
        }
        next = e.source();
    }
    false
}

impl ReconcileError {
    /// An error that requeues the key with backoff.
    pub fn new(error: impl Into<Box<dyn std::error::Error + Send + Sync + 'static>>) -> Self {
        let source = error.into();
        let conflict = is_store_conflict(&*source);
        Self {
            source,
            terminal: false,
            conflict,
        }
    }

    /// An error with just a message, requeued with backoff.
    pub fn msg(message: impl fmt::Display) -> Self {
        Self::new(message.to_string())
    }

    /// An error that must **not** be retried: the key is forgotten by the rate limiter and not
    /// requeued.
    pub fn terminal(error: impl Into<Box<dyn std::error::Error + Send + Sync + 'static>>) -> Self {
        Self {
            terminal: true,
            ..Self::new(error)
        }
    }

    /// Whether this error is terminal (not retried).
    pub fn is_terminal(&self) -> bool {
        self.terminal
    }

    /// Whether this error is an optimistic-concurrency conflict ([`StoreError::Conflict`], HTTP 409):
    /// requeued with backoff like any error, but logged at `debug` and counted as `requeue`.
    ///
    /// Found when the error is a `StoreError`, or holds one in its `source()` chain. An error type of
    /// your own that wraps `StoreError` with `#[error(transparent)]` hides it (transparent forwards
    /// `source()` past the wrapped error); convert store errors with `?` directly, or wrap them as a
    /// `#[source]`.
    pub fn is_conflict(&self) -> bool {
        self.conflict
    }

    /// The underlying error.
    pub fn source(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
        &*self.source
    }

    /// The underlying error as a concrete type, when it is one.
    pub fn downcast_ref<E: std::error::Error + 'static>(&self) -> Option<&E> {
        self.source.downcast_ref::<E>()
    }
}

/// Lets `?` turn any error into a (retried) [`ReconcileError`]. `ReconcileError` itself does not
/// implement `std::error::Error`, which is what makes this blanket conversion possible (as `anyhow`).
impl<E: std::error::Error + Send + Sync + 'static> From<E> for ReconcileError {
    fn from(error: E) -> Self {
        Self::new(error)
    }
}

impl fmt::Debug for ReconcileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReconcileError")
            .field("terminal", &self.terminal)
            .field("conflict", &self.conflict)
            .field("source", &self.source)
            .finish()
    }
}

impl fmt::Display for ReconcileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.terminal {
            write!(f, "terminal: {}", self.source)
        } else {
            fmt::Display::fmt(&self.source, f)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fails() -> std::result::Result<(), ReconcileError> {
        let _n: u32 = "x".parse()?;
        Ok(())
    }

    #[test]
    fn question_mark_converts_any_error_into_a_retried_reconcile_error() {
        let e = fails().unwrap_err();
        assert!(!e.is_terminal());
        assert!(e.downcast_ref::<std::num::ParseIntError>().is_some());
    }

    #[test]
    fn terminal_errors_say_so_in_their_message() {
        let e = ReconcileError::terminal("spec.replicas must be set");
        assert!(e.is_terminal());
        assert_eq!(e.to_string(), "terminal: spec.replicas must be set");
        assert_eq!(ReconcileError::msg("boom").to_string(), "boom");
    }

    fn conflict() -> StoreError {
        StoreError::Conflict {
            type_key: capstan_core::TypeKey::new("apps", "v1", "Deployment", "deployments", true),
            key: capstan_core::ObjectKey::new("default", "web"),
            message: "the object has been modified".into(),
        }
    }

    /// An error type of a user's crate that keeps the store error as its source.
    #[derive(Debug, thiserror::Error)]
    #[error("scaling failed")]
    struct Scaling(#[source] StoreError);

    fn store_call(e: StoreError) -> std::result::Result<(), ReconcileError> {
        Err(e)?;
        Ok(())
    }

    #[test]
    fn store_conflicts_are_recognised_directly_boxed_and_in_the_source_chain() {
        assert!(store_call(conflict()).unwrap_err().is_conflict());
        assert!(ReconcileError::new(Box::new(conflict())).is_conflict());
        assert!(ReconcileError::new(Error::from(conflict())).is_conflict());
        assert!(ReconcileError::new(Scaling(conflict())).is_conflict());
        assert!(ReconcileError::terminal(conflict()).is_conflict());
    }

    #[test]
    fn other_errors_are_not_conflicts() {
        assert!(!ReconcileError::msg("boom").is_conflict());
        assert!(
            !store_call(StoreError::Timeout("slow".into()))
                .unwrap_err()
                .is_conflict()
        );
        let exists = StoreError::AlreadyExists {
            type_key: capstan_core::TypeKey::new("", "v1", "Pod", "pods", true),
            key: capstan_core::ObjectKey::new("default", "web"),
        };
        assert!(!ReconcileError::new(Scaling(exists)).is_conflict());
    }
}
