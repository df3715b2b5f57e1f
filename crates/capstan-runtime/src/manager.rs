//! The [`Manager`]: runs controllers over shared informer caches, with graceful shutdown, optional
//! leader election, metrics and health.
//!
//! # Expected flow of [`Manager::run`]
//!
//! 1. Wire every registered controller: build its work-queue and attach its sources to the informers
//!    of the kinds it names (one informer per kind, shared).
//! 2. Start the informers and wait for every cache to sync; the manager is then **ready**.
//! 3. With leader election, wait to become the leader (caches stay warm meanwhile).
//! 4. Start the controllers' workers.
//! 5. On shutdown: stop taking keys, let in-flight reconciles finish (up to the shutdown timeout,
//!    default 30 s, then abort them), release the lease, stop the watches. If leadership is lost
//!    instead, stop the workers within the step-down bound and return [`Error::LeadershipLost`].

use std::collections::BTreeSet;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use capstan_core::Resource;
use capstan_queue::MetricsProvider;
use capstan_store::Store;
use parking_lot::Mutex;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::controller::{ControllerSpec, PrepareEnv};
use crate::error::{Error, Result};
use crate::events::EventRecorder;
use crate::informer::{AnyInformer, Cache, IndexFn, InformerSet};
use crate::leader::{LeaderElectionConfig, LeaderElector};
use crate::metrics::MetricsRegistry;

/// Liveness, readiness and leadership of a manager, as data. `capstan-server` serves it on
/// `/healthz` and `/readyz`. Cheap to clone; clones follow the manager.
#[derive(Clone, Default)]
pub struct Health {
    inner: Arc<HealthInner>,
}

#[derive(Default)]
struct HealthInner {
    failed: AtomicBool,
    ready: AtomicBool,
    leader: AtomicBool,
    informers: Mutex<Vec<Arc<dyn AnyInformer>>>,
}

/// A snapshot of a manager's health.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HealthReport {
    /// `/healthz`: false once the manager has failed (for example lost its leadership).
    pub live: bool,
    /// `/readyz`: true while running with every cache synced.
    pub ready: bool,
    /// Whether this manager leads (always true while running without leader election).
    pub leader: bool,
    /// Each informer's kind and whether its cache has synced.
    pub caches: Vec<(String, bool)>,
}

impl Health {
    /// Whether the manager has not failed.
    pub fn is_live(&self) -> bool {
        !self.inner.failed.load(Ordering::Acquire)
    }

    /// Whether the manager runs with every cache synced.
    pub fn is_ready(&self) -> bool {
        self.inner.ready.load(Ordering::Acquire)
    }

    /// Whether this manager currently runs its controllers as the leader.
    pub fn is_leader(&self) -> bool {
        self.inner.leader.load(Ordering::Acquire)
    }

    /// Everything at once, with one line per cache.
    pub fn report(&self) -> HealthReport {
        HealthReport {
            live: self.is_live(),
            ready: self.is_ready(),
            leader: self.is_leader(),
            caches: self
                .inner
                .informers
                .lock()
                .iter()
                .map(|i| (i.type_key().to_string(), i.is_synced()))
                .collect(),
        }
    }
}

/// Runs controllers. See the [module documentation](self) for the flow.
///
/// ```
/// # use capstan_runtime::{Action, Context, Controller, Manager, ReconcileError, ReconcileRequest, Reconciler};
/// # use k8s_openapi::api::core::v1::Pod;
/// # struct PodReconciler;
/// # #[capstan_runtime::async_trait]
/// # impl Reconciler<Pod> for PodReconciler {
/// #     async fn reconcile(&self, _: ReconcileRequest, _: &Context<Pod>) -> Result<Action, ReconcileError> {
/// #         Ok(Action::done())
/// #     }
/// # }
/// # async fn run(store: std::sync::Arc<dyn capstan_store::Store>) -> capstan_runtime::Result<()> {
/// let mgr = Manager::new(store);
/// mgr.add(Controller::<Pod>::new().concurrency(4).reconcile(PodReconciler));
/// let metrics = mgr.metrics(); // render() it on /metrics
/// mgr.run(async { let _ = tokio::signal::ctrl_c().await; }).await?;
/// # Ok(()) }
/// ```
pub struct Manager {
    store: Arc<dyn Store>,
    informers: InformerSet,
    controllers: Mutex<Vec<ControllerSpec>>,
    metrics: MetricsRegistry,
    queue_metrics: Arc<dyn MetricsProvider>,
    health: Health,
    leader_election: Option<LeaderElectionConfig>,
    shutdown_timeout: Duration,
}

impl Manager {
    /// A manager over `store`, without leader election, with a 30 s shutdown timeout.
    pub fn new(store: Arc<dyn Store>) -> Self {
        let metrics = MetricsRegistry::new();
        let queue_metrics = Arc::new(capstan_queue::PrometheusMetrics::new());
        let render = queue_metrics.clone();
        metrics.add_section(Arc::new(move |out: &mut String| out.push_str(&render.render())));
        Self {
            store,
            informers: InformerSet::default(),
            controllers: Mutex::new(Vec::new()),
            metrics,
            queue_metrics,
            health: Health::default(),
            leader_election: None,
            shutdown_timeout: Duration::from_secs(30),
        }
    }

    /// Runs controllers only while this manager holds the lease described by `config`.
    pub fn with_leader_election(mut self, config: LeaderElectionConfig) -> Self {
        self.leader_election = Some(config);
        self
    }

    /// How long in-flight reconciles may run after shutdown is asked (default 30 s).
    pub fn with_shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.shutdown_timeout = timeout;
        self
    }

    /// Registers a controller (built with [`Controller`](crate::Controller)).
    pub fn add(&self, controller: ControllerSpec) {
        self.controllers.lock().push(controller);
    }

    /// The cache of kind `K`, registering an informer for it if no controller names the kind. This
    /// is the explicit way to read a kind that no controller owns or watches.
    pub fn cache<K: Resource>(&self) -> Cache<K> {
        self.informers.get_or_create::<K>().cache.clone()
    }

    /// Adds an index named `name` to the cache of `K` (registering its informer if needed), read
    /// with [`Cache::by_index`].
    pub fn index<K: Resource>(&self, name: &str, f: impl Fn(&K) -> Vec<String> + Send + Sync + 'static) {
        let f: IndexFn<K> = Arc::new(f);
        self.informers.get_or_create::<K>().writer.add_index(name, f);
    }

    /// An event recorder speaking for `component`.
    pub fn event_recorder(&self, component: &str) -> EventRecorder {
        EventRecorder::new(self.store.clone(), component)
    }

    /// The store this manager runs against.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// The metrics registry (work-queue and reconcile metrics); `render()` gives Prometheus text.
    pub fn metrics(&self) -> MetricsRegistry {
        self.metrics.clone()
    }

    /// The health handle (`/healthz`, `/readyz` data).
    pub fn health(&self) -> Health {
        self.health.clone()
    }

    /// Runs until `shutdown` completes (then returns `Ok`) or leadership is lost (then returns
    /// [`Error::LeadershipLost`]). Dropping the future stops everything at once, like a crash.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send) -> Result<()> {
        let specs = std::mem::take(&mut *self.controllers.lock());
        let mut names = BTreeSet::new();
        for spec in &specs {
            if !names.insert(spec.name().to_owned()) {
                return Err(Error::DuplicateController(spec.name().to_owned()));
            }
        }
        let env = PrepareEnv {
            store: self.store.clone(),
            informers: &self.informers,
            metrics: self.metrics.clone(),
            queue_metrics: self.queue_metrics.clone(),
        };
        let controllers: Vec<_> = specs.into_iter().map(|s| s.prepare(&env)).collect();

        let informers = self.informers.all();
        *self.health.inner.informers.lock() = informers.clone();
        let mut informer_tasks = JoinSet::new();
        for informer in &informers {
            informer_tasks.spawn(informer.clone().run(self.store.clone()));
        }
        tokio::pin!(shutdown);
        let synced = futures::future::join_all(informers.iter().map(|i| i.wait_synced()));
        tokio::select! {
            biased;
            _ = &mut shutdown => return Ok(()),
            _ = synced => {}
        }
        self.health.inner.ready.store(true, Ordering::Release);
        tracing::info!(
            caches = informers.len(),
            controllers = controllers.len(),
            "caches synced"
        );

        let mut elector = self
            .leader_election
            .clone()
            .map(|c| LeaderElector::new(c, self.store.clone()));
        if let Some(elector) = elector.as_mut() {
            tokio::select! {
                biased;
                _ = &mut shutdown => {
                    self.health.inner.ready.store(false, Ordering::Release);
                    return Ok(());
                }
                _ = elector.acquire() => {}
            }
        }
        self.health.inner.leader.store(true, Ordering::Release);

        let (stop_tx, stop_rx) = watch::channel(false);
        let mut workers = JoinSet::new();
        for c in &controllers {
            tracing::info!(controller = c.name(), "starting workers");
            c.clone().spawn(&mut workers, stop_rx.clone());
        }
        let lost = tokio::select! {
            biased;
            _ = &mut shutdown => None,
            lost = async {
                match elector.as_mut() {
                    Some(e) => e.hold().await,
                    None => std::future::pending().await,
                }
            } => Some(lost),
        };

        let _ = stop_tx.send(true);
        for c in &controllers {
            c.shut_down_queue();
        }
        let bound = match (&lost, &elector) {
            (Some(_), Some(e)) => e.config().step_down_bound(),
            _ => self.shutdown_timeout,
        };
        let drained = tokio::time::timeout(bound, async { while workers.join_next().await.is_some() {} }).await;
        if drained.is_err() {
            tracing::warn!(?bound, "in-flight reconciles did not finish in time; aborting them");
            workers.abort_all();
            while workers.join_next().await.is_some() {}
        }
        self.health.inner.leader.store(false, Ordering::Release);
        if lost.is_none()
            && let Some(e) = elector.as_mut()
        {
            e.release().await;
        }
        informer_tasks.abort_all();
        self.health.inner.ready.store(false, Ordering::Release);
        match lost {
            Some(error) => {
                self.health.inner.failed.store(true, Ordering::Release);
                Err(error)
            }
            None => {
                tracing::info!("manager stopped");
                Ok(())
            }
        }
    }
}
