//! The [`Controller`] builder: a primary kind, where its keys come from, how many workers, and the
//! [`Reconciler`]; type-erased into a [`ControllerSpec`] for [`Manager::add`](crate::Manager::add).

pub(crate) mod worker;

use std::sync::Arc;

use capstan_core::{ObjectKey, Resource};
use capstan_queue::{RateLimiter, WorkQueue};
use capstan_store::Store;

use crate::context::{Context, Shared};
use crate::events::EventRecorder;
use crate::expectations::Expectations;
use crate::informer::InformerSet;
use crate::metrics::MetricsRegistry;
use crate::reconciler::Reconciler;
use crate::source::{self, Predicate, Source, SourceEnv};
use worker::{RunningController, Workers};

/// Builds a controller for the primary kind `K`.
///
/// ```
/// use capstan_runtime::{Controller, predicate::GenerationChanged};
/// # use capstan_runtime::{Action, Context, ReconcileError, ReconcileRequest, Reconciler};
/// use k8s_openapi::api::apps::v1::ReplicaSet;
/// use k8s_openapi::api::core::v1::Pod;
/// # struct ReplicaSetReconciler;
/// # #[capstan_runtime::async_trait]
/// # impl Reconciler<ReplicaSet> for ReplicaSetReconciler {
/// #     async fn reconcile(&self, _: ReconcileRequest, _: &Context<ReplicaSet>) -> Result<Action, ReconcileError> {
/// #         Ok(Action::done())
/// #     }
/// # }
///
/// let spec = Controller::<ReplicaSet>::new()
///     .owns::<Pod>()                     // a Pod's change wakes its controller ReplicaSet
///     .with_predicate(GenerationChanged) // ignore ReplicaSet status-only writes
///     .concurrency(4)
///     .reconcile(ReplicaSetReconciler);
/// assert_eq!(spec.name(), "replicaset");
/// ```
///
/// # Sources of keys
///
/// * the primary kind itself: every change (that passes the [predicates](Self::with_predicate))
///   enqueues the object's key;
/// * [`owns`](Self::owns): a change to a child enqueues its **controller owner** of kind `K` (the
///   owner reference with `controller: true`);
/// * [`watches`](Self::watches): a change to any object of another kind enqueues the keys a mapping
///   function returns.
///
/// The manager starts one informer per kind named here (shared with its other controllers), and no
/// other.
///
/// Keys from a list (the initial one, or a relist after `Gone`) enter the queue at
/// [`LIST_PRIORITY`](crate::source::LIST_PRIORITY), below keys from watch events, so that a restart's
/// flood of keys does not delay a change a user just made.
pub struct Controller<K: Resource> {
    name: String,
    predicates: Vec<Arc<dyn Predicate<K>>>,
    sources: Vec<Source>,
    concurrency: usize,
    rate_limiter: Option<Box<dyn RateLimiter<ObjectKey>>>,
}

impl<K: Resource> Default for Controller<K> {
    fn default() -> Self {
        Self::new()
    }
}

impl<K: Resource> Controller<K> {
    /// A controller of `K`, named after the kind in lower case (`replicaset`), with one worker and
    /// the queue's default rate limiter.
    pub fn new() -> Self {
        Self {
            name: K::KIND.to_lowercase(),
            predicates: Vec::new(),
            sources: Vec::new(),
            concurrency: 1,
            rate_limiter: None,
        }
    }

    /// Names the controller (metrics, logs, the event source and the work-queue use the name).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// Reconciles the controller owner (of kind `K`) of every child of kind `C` that changes.
    pub fn owns<C: Resource>(mut self) -> Self {
        self.sources.push(source::owned::<K, C>());
        self
    }

    /// Reconciles the keys `mapper` returns for every object of kind `W` that changes (both its old
    /// and its new state on an update).
    pub fn watches<W: Resource>(mut self, mapper: impl Fn(&W) -> Vec<ObjectKey> + Send + Sync + 'static) -> Self {
        self.sources.push(source::watched::<W>(Arc::new(mapper)));
        self
    }

    /// Filters changes to the primary kind; with several predicates, all must let a change through.
    pub fn with_predicate(mut self, predicate: impl Predicate<K>) -> Self {
        self.predicates.push(Arc::new(predicate));
        self
    }

    /// How many keys may be reconciled at once (default 1). One key is never reconciled twice at
    /// once, whatever the concurrency.
    pub fn concurrency(mut self, workers: usize) -> Self {
        self.concurrency = workers.max(1);
        self
    }

    /// Replaces the queue's rate limiter, which decides the backoff after errors.
    pub fn rate_limiter(mut self, limiter: impl RateLimiter<ObjectKey> + 'static) -> Self {
        self.rate_limiter = Some(Box::new(limiter));
        self
    }

    /// Binds the reconciler and finishes the builder.
    pub fn reconcile(self, reconciler: impl Reconciler<K>) -> ControllerSpec {
        let name = self.name.clone();
        ControllerSpec {
            name,
            erased: Box::new(Bound {
                controller: self,
                reconciler: Arc::new(reconciler),
            }),
        }
    }
}

/// A controller with its reconciler, its kind erased: what [`Manager::add`](crate::Manager::add)
/// takes. Built by [`Controller::reconcile`].
pub struct ControllerSpec {
    name: String,
    erased: Box<dyn Erased>,
}

impl std::fmt::Debug for ControllerSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ControllerSpec")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl ControllerSpec {
    /// The controller's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Wires the controller to the manager's informers and builds its queue and workers.
    pub(crate) fn prepare(self, env: &PrepareEnv<'_>) -> Arc<dyn RunningController> {
        self.erased.prepare(env)
    }
}

/// What a controller needs from its manager to get ready.
pub(crate) struct PrepareEnv<'a> {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) informers: &'a InformerSet,
    pub(crate) metrics: MetricsRegistry,
    pub(crate) queue_metrics: Arc<dyn capstan_queue::MetricsProvider>,
}

trait Erased: Send {
    fn prepare(self: Box<Self>, env: &PrepareEnv<'_>) -> Arc<dyn RunningController>;
}

struct Bound<K: Resource> {
    controller: Controller<K>,
    reconciler: Arc<dyn Reconciler<K>>,
}

impl<K: Resource> Erased for Bound<K> {
    fn prepare(self: Box<Self>, env: &PrepareEnv<'_>) -> Arc<dyn RunningController> {
        let Bound { controller, reconciler } = *self;
        let mut builder = WorkQueue::<ObjectKey>::builder(&controller.name).metrics(env.queue_metrics.clone());
        if let Some(limiter) = controller.rate_limiter {
            builder = builder.rate_limiter(limiter);
        }
        let queue = Arc::new(builder.build());
        let expectations = Expectations::new();
        let source_env = SourceEnv {
            informers: env.informers,
            enqueue: {
                let queue = queue.clone();
                Arc::new(move |key, priority| queue.add_with_priority(key, priority))
            },
            expectations: expectations.clone(),
        };
        source::primary::<K>(controller.predicates)(&source_env);
        for source in controller.sources {
            source(&source_env);
        }
        let cache = env.informers.get_or_create::<K>().cache.clone();
        let ctx = Context::new(
            cache,
            Shared {
                controller: controller.name.clone(),
                store: env.store.clone(),
                informers: env.informers.clone(),
                recorder: EventRecorder::new(env.store.clone(), controller.name.clone()),
                expectations,
            },
        );
        env.metrics
            .register_controller(&controller.name, controller.concurrency);
        Arc::new(Workers {
            name: controller.name,
            concurrency: controller.concurrency,
            queue,
            reconciler,
            ctx,
            metrics: env.metrics.clone(),
        })
    }
}
