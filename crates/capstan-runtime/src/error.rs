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
/// Compare controller-runtime's `reconcile.TerminalError`.
pub struct ReconcileError {
    source: Box<dyn std::error::Error + Send + Sync + 'static>,
    terminal: bool,
}

impl ReconcileError {
    /// An error that requeues the key with backoff.
    pub fn new(error: impl Into<Box<dyn std::error::Error + Send + Sync + 'static>>) -> Self {
        Self {
            source: error.into(),
            terminal: false,
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
            source: error.into(),
            terminal: true,
        }
    }

    /// Whether this error is terminal (not retried).
    pub fn is_terminal(&self) -> bool {
        self.terminal
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
}
