//! A controller's life through the public API, on the real in-memory store and paused tokio time:
//! retries and backoff, panics, terminal errors, owned and watched kinds, predicates, shutdown,
//! events, metrics and health.

mod common;

use std::sync::Arc;
use std::time::Duration;

use capstan_runtime::{
    Action, Context, Controller, Error, EventRecorder, Manager, ReconcileError, ReconcileRequest, ReconcileResult,
    Reconciler, predicate::GenerationChanged,
};
use capstan_store::{ListParams, MemoryStore, Store};
use common::*;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Event;
use parking_lot::Mutex;
use tokio::sync::oneshot;
use tokio::time::Instant;

/// What a scripted reconcile does on its n-th call for a key (0-based).
#[derive(Clone, Copy, Debug)]
enum Step {
    Done,
    RequeueAfter(Duration),
    Fail,
    Terminal,
    Panic,
    Sleep(Duration),
}

type Log = Arc<Mutex<Vec<(String, Instant)>>>;

struct Scripted {
    log: Log,
    script: fn(usize) -> Step,
}

#[async_trait::async_trait]
impl Reconciler<Widget> for Scripted {
    async fn reconcile(&self, req: ReconcileRequest, _ctx: &Context<Widget>) -> Result<Action, ReconcileError> {
        let n = {
            let mut log = self.log.lock();
            let n = log.iter().filter(|(k, _)| *k == req.key.to_string()).count();
            log.push((req.key.to_string(), Instant::now()));
            n
        };
        match (self.script)(n) {
            Step::Done => Ok(Action::done()),
            Step::RequeueAfter(d) => Ok(Action::requeue_after(d)),
            Step::Fail => Err(ReconcileError::msg("injected failure")),
            Step::Terminal => Err(ReconcileError::terminal("cannot be fixed by retrying")),
            Step::Panic => panic!("injected panic"),
            Step::Sleep(d) => {
                tokio::time::sleep(d).await;
                Ok(Action::done())
            }
        }
    }
}

fn calls(log: &Log, key: &str) -> Vec<Instant> {
    log.lock().iter().filter(|(k, _)| k == key).map(|(_, t)| *t).collect()
}

struct Running {
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<capstan_runtime::Result<()>>,
}

impl Running {
    async fn stop(mut self) -> capstan_runtime::Result<()> {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        self.task.await.expect("manager task")
    }
}

fn start(mgr: Manager) -> Running {
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(mgr.run(async move {
        let _ = rx.await;
    }));
    Running { stop: Some(tx), task }
}

fn store() -> Arc<dyn Store> {
    Arc::new(MemoryStore::new())
}

#[tokio::test(start_paused = true)]
async fn failed_reconciles_are_retried_with_growing_backoff_until_they_succeed() {
    let store = store();
    widgets(&store, "ns").create(&widget("ns", "a", 1)).await.unwrap();
    let log = Log::default();
    let mgr = Manager::new(store.clone());
    mgr.add(Controller::<Widget>::new().reconcile(Scripted {
        log: log.clone(),
        script: |n| if n < 4 { Step::Fail } else { Step::Done },
    }));
    let metrics = mgr.metrics();
    let run = start(mgr);
    eventually(Duration::from_secs(5), "five reconciles", || {
        calls(&log, "ns/a").len() == 5
    })
    .await;
    let t = calls(&log, "ns/a");
    let gaps: Vec<Duration> = t.windows(2).map(|w| w[1] - w[0]).collect();
    for (gap, expected_ms) in gaps.iter().zip([5u64, 10, 20, 40]) {
        assert!(*gap >= Duration::from_millis(expected_ms), "gaps {gaps:?}");
    }
    assert!(gaps.windows(2).all(|w| w[1] > w[0]), "backoff must grow: {gaps:?}");
    tokio::time::sleep(Duration::from_secs(60)).await;
    assert_eq!(calls(&log, "ns/a").len(), 5, "a success is not retried");
    assert_eq!(metrics.reconcile_count("widget", ReconcileResult::Error), 4);
    assert_eq!(metrics.reconcile_count("widget", ReconcileResult::Success), 1);
    run.stop().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_panicking_reconcile_is_caught_counted_and_retried_with_backoff() {
    let store = store();
    widgets(&store, "ns").create(&widget("ns", "a", 1)).await.unwrap();
    let log = Log::default();
    let mgr = Manager::new(store.clone());
    mgr.add(Controller::<Widget>::new().reconcile(Scripted {
        log: log.clone(),
        script: |n| if n < 2 { Step::Panic } else { Step::Done },
    }));
    let metrics = mgr.metrics();
    let run = start(mgr);
    eventually(Duration::from_secs(5), "three reconciles", || {
        calls(&log, "ns/a").len() == 3
    })
    .await;
    let t = calls(&log, "ns/a");
    assert!(t[1] - t[0] >= Duration::from_millis(5));
    assert!(t[2] - t[1] >= Duration::from_millis(10));
    assert_eq!(metrics.panic_count("widget"), 2);
    assert!(
        metrics
            .render()
            .contains("controller_runtime_reconcile_panics_total{controller=\"widget\"} 2")
    );
    run.stop().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn terminal_errors_are_not_requeued_but_later_changes_still_reconcile() {
    let store = store();
    let api = widgets(&store, "ns");
    api.create(&widget("ns", "a", 1)).await.unwrap();
    let log = Log::default();
    let mgr = Manager::new(store.clone());
    mgr.add(Controller::<Widget>::new().reconcile(Scripted {
        log: log.clone(),
        script: |_| Step::Terminal,
    }));
    let run = start(mgr);
    eventually(Duration::from_secs(5), "first reconcile", || {
        calls(&log, "ns/a").len() == 1
    })
    .await;
    tokio::time::sleep(Duration::from_secs(600)).await;
    assert_eq!(calls(&log, "ns/a").len(), 1);
    api.patch("a", &serde_json::json!({"spec": {"size": 2}})).await.unwrap();
    eventually(Duration::from_secs(5), "reconcile after change", || {
        calls(&log, "ns/a").len() == 2
    })
    .await;
    run.stop().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn requeue_after_reconciles_again_after_the_delay() {
    let store = store();
    widgets(&store, "ns").create(&widget("ns", "a", 1)).await.unwrap();
    let log = Log::default();
    let mgr = Manager::new(store.clone());
    mgr.add(Controller::<Widget>::new().reconcile(Scripted {
        log: log.clone(),
        script: |n| {
            if n == 0 {
                Step::RequeueAfter(Duration::from_secs(30))
            } else {
                Step::Done
            }
        },
    }));
    let run = start(mgr);
    eventually(Duration::from_secs(60), "second reconcile", || {
        calls(&log, "ns/a").len() == 2
    })
    .await;
    let t = calls(&log, "ns/a");
    assert!(t[1] - t[0] >= Duration::from_secs(30));
    run.stop().await.unwrap();
}

/// Records every reconcile of a widget.
struct CountWidgets(Log);

#[async_trait::async_trait]
impl Reconciler<Widget> for CountWidgets {
    async fn reconcile(&self, req: ReconcileRequest, ctx: &Context<Widget>) -> Result<Action, ReconcileError> {
        // The owned kind's cache is readable; an unrelated kind's is an error, not a new informer.
        ctx.cache_of::<Gadget>()?;
        assert!(matches!(ctx.cache_of::<Lease>(), Err(Error::NoInformer(_))));
        self.0.lock().push((req.key.to_string(), Instant::now()));
        Ok(Action::done())
    }
}

#[tokio::test(start_paused = true)]
async fn an_owned_childs_change_reconciles_its_owner() {
    let store = store();
    let owner = widgets(&store, "ns").create(&widget("ns", "parent", 1)).await.unwrap();
    widgets(&store, "ns")
        .create(&widget("ns", "bystander", 1))
        .await
        .unwrap();
    let log = Log::default();
    let mgr = Manager::new(store.clone());
    mgr.add(
        Controller::<Widget>::new()
            .owns::<Gadget>()
            .reconcile(CountWidgets(log.clone())),
    );
    let run = start(mgr);
    eventually(Duration::from_secs(5), "initial reconciles", || log.lock().len() == 2).await;

    gadgets(&store, "ns").create(&gadget_of(&owner, "child")).await.unwrap();
    eventually(Duration::from_secs(5), "owner reconciled on child create", || {
        calls(&log, "ns/parent").len() == 2
    })
    .await;
    gadgets(&store, "ns")
        .patch("child", &serde_json::json!({"spec": {"size": 7}}))
        .await
        .unwrap();
    eventually(Duration::from_secs(5), "owner reconciled on child update", || {
        calls(&log, "ns/parent").len() == 3
    })
    .await;
    gadgets(&store, "ns")
        .delete("child", &Default::default())
        .await
        .unwrap();
    eventually(Duration::from_secs(5), "owner reconciled on child delete", || {
        calls(&log, "ns/parent").len() == 4
    })
    .await;
    assert_eq!(calls(&log, "ns/bystander").len(), 1, "other widgets are not woken");
    run.stop().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn watched_kinds_wake_the_keys_their_mapper_returns() {
    let store = store();
    widgets(&store, "ns").create(&widget("ns", "target", 1)).await.unwrap();
    let log = Log::default();
    let mgr = Manager::new(store.clone());
    mgr.add(
        Controller::<Widget>::new()
            .owns::<Gadget>()
            .watches::<Event>(|e: &Event| {
                vec![capstan_core::ObjectKey::new(
                    e.metadata.namespace.clone().unwrap_or_default(),
                    e.involved_object.name.clone().unwrap_or_default(),
                )]
            })
            .reconcile(CountWidgets(log.clone())),
    );
    let run = start(mgr);
    eventually(Duration::from_secs(5), "initial reconcile", || log.lock().len() == 1).await;
    let target = widgets(&store, "ns").get("target").await.unwrap();
    EventRecorder::new(store.clone(), "test")
        .normal(&*target, "Poked", "poked by a test")
        .await;
    eventually(Duration::from_secs(5), "mapped reconcile", || {
        calls(&log, "ns/target").len() == 2
    })
    .await;
    run.stop().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn generation_changed_ignores_metadata_only_updates() {
    let store = store();
    let api = widgets(&store, "ns");
    api.create(&widget("ns", "a", 1)).await.unwrap();
    let log = Log::default();
    let mgr = Manager::new(store.clone());
    mgr.add(
        Controller::<Widget>::new()
            .with_predicate(GenerationChanged)
            .reconcile(Scripted {
                log: log.clone(),
                script: |_| Step::Done,
            }),
    );
    let run = start(mgr);
    eventually(Duration::from_secs(5), "initial", || calls(&log, "ns/a").len() == 1).await;
    api.patch("a", &serde_json::json!({"metadata": {"labels": {"x": "y"}}}))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(calls(&log, "ns/a").len(), 1, "a label change does not bump generation");
    api.patch("a", &serde_json::json!({"spec": {"size": 3}})).await.unwrap();
    eventually(Duration::from_secs(5), "spec change", || calls(&log, "ns/a").len() == 2).await;
    run.stop().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn shutdown_lets_in_flight_reconciles_finish_and_takes_no_new_keys() {
    let store = store();
    let api = widgets(&store, "ns");
    api.create(&widget("ns", "a", 1)).await.unwrap();
    let log = Log::default();
    let finished = Arc::new(Mutex::new(0usize));
    struct Slow(Log, Arc<Mutex<usize>>);
    #[async_trait::async_trait]
    impl Reconciler<Widget> for Slow {
        async fn reconcile(&self, req: ReconcileRequest, _: &Context<Widget>) -> Result<Action, ReconcileError> {
            self.0.lock().push((req.key.to_string(), Instant::now()));
            tokio::time::sleep(Duration::from_secs(5)).await;
            *self.1.lock() += 1;
            Ok(Action::done())
        }
    }
    let mgr = Manager::new(store.clone());
    mgr.add(Controller::<Widget>::new().reconcile(Slow(log.clone(), finished.clone())));
    let health = mgr.health();
    let run = start(mgr);
    eventually(Duration::from_secs(5), "reconcile started", || log.lock().len() == 1).await;
    assert!(health.is_ready());
    api.create(&widget("ns", "b", 1)).await.unwrap(); // waits behind the single worker
    tokio::time::sleep(Duration::from_secs(1)).await;
    let asked = Instant::now();
    run.stop().await.unwrap();
    assert_eq!(*finished.lock(), 1, "the in-flight reconcile finished");
    assert!(
        Instant::now() - asked >= Duration::from_secs(3),
        "shutdown waited for it"
    );
    assert_eq!(calls(&log, "ns/b").len(), 0, "no new key was taken after shutdown");
    assert!(!health.is_ready());
}

#[tokio::test(start_paused = true)]
async fn shutdown_aborts_reconciles_that_outlive_the_timeout() {
    let store = store();
    widgets(&store, "ns").create(&widget("ns", "a", 1)).await.unwrap();
    let log = Log::default();
    let mgr = Manager::new(store.clone()).with_shutdown_timeout(Duration::from_secs(2));
    mgr.add(Controller::<Widget>::new().reconcile(Scripted {
        log: log.clone(),
        script: |_| Step::Sleep(Duration::from_secs(3600)),
    }));
    let run = start(mgr);
    eventually(Duration::from_secs(5), "started", || log.lock().len() == 1).await;
    let asked = Instant::now();
    run.stop().await.unwrap();
    let took = Instant::now() - asked;
    assert!(
        took >= Duration::from_secs(2) && took < Duration::from_secs(3),
        "took {took:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn two_controllers_with_one_name_are_refused() {
    let mgr = Manager::new(store());
    for _ in 0..2 {
        mgr.add(Controller::<Widget>::new().reconcile(Scripted {
            log: Log::default(),
            script: |_| Step::Done,
        }));
    }
    assert!(matches!(mgr.run(async {}).await, Err(Error::DuplicateController(n)) if n == "widget"));
}

#[tokio::test(start_paused = true)]
async fn repeated_events_bump_one_event_instead_of_adding_more() {
    let store = store();
    let w = widgets(&store, "ns").create(&widget("ns", "a", 1)).await.unwrap();
    let recorder = EventRecorder::new(store.clone(), "widget-controller");
    recorder.normal(&*w, "Scaled", "scaled to 3").await;
    tokio::time::sleep(Duration::from_secs(10)).await;
    recorder.normal(&*w, "Scaled", "scaled to 3").await;
    recorder.warning(&*w, "Failed", "no room").await;
    let events = capstan_store::Api::<Event>::namespaced(store.clone(), "ns")
        .list(&ListParams::default())
        .await
        .unwrap()
        .items;
    assert_eq!(events.len(), 2);
    let scaled = events.iter().find(|e| e.reason.as_deref() == Some("Scaled")).unwrap();
    assert_eq!(scaled.count, Some(2));
    assert_eq!(scaled.type_.as_deref(), Some("Normal"));
    assert_eq!(scaled.involved_object.kind.as_deref(), Some("Widget"));
    assert_eq!(scaled.involved_object.uid, w.metadata.uid);
    assert_eq!(
        scaled.source.as_ref().and_then(|s| s.component.as_deref()),
        Some("widget-controller")
    );
    let first = scaled.first_timestamp.as_ref().unwrap().0;
    let last = scaled.last_timestamp.as_ref().unwrap().0;
    assert!(last.duration_since(first).as_secs() >= 10);
    let failed = events.iter().find(|e| e.reason.as_deref() == Some("Failed")).unwrap();
    assert_eq!((failed.type_.as_deref(), failed.count), (Some("Warning"), Some(1)));
}

#[tokio::test(start_paused = true)]
async fn metrics_render_queue_and_reconcile_series_in_prometheus_text() {
    let store = store();
    widgets(&store, "ns").create(&widget("ns", "a", 1)).await.unwrap();
    let log = Log::default();
    let mgr = Manager::new(store.clone());
    mgr.add(Controller::<Widget>::new().concurrency(3).reconcile(Scripted {
        log: log.clone(),
        script: |_| Step::Done,
    }));
    let metrics = mgr.metrics();
    let health = mgr.health();
    assert!(health.is_live() && !health.is_ready());
    let run = start(mgr);
    eventually(Duration::from_secs(5), "reconciled", || log.lock().len() == 1).await;
    let text = metrics.render();
    for needle in [
        "workqueue_adds_total{name=\"widget\"} 1",
        "controller_runtime_reconcile_total{controller=\"widget\",result=\"success\"} 1",
        "controller_runtime_reconcile_errors_total{controller=\"widget\"} 0",
        "controller_runtime_reconcile_time_seconds_count{controller=\"widget\"} 1",
        "controller_runtime_active_workers{controller=\"widget\"} 0",
        "controller_runtime_max_concurrent_reconciles{controller=\"widget\"} 3",
    ] {
        assert!(text.contains(needle), "missing {needle} in\n{text}");
    }
    let report = health.report();
    assert!(report.ready && report.live && report.leader);
    assert_eq!(report.caches, vec![("widgets.v1.test.capstan.dev".to_string(), true)]);
    run.stop().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_fresh_change_overtakes_the_flood_of_keys_from_the_initial_list() {
    let store = store();
    let api = widgets(&store, "ns");
    for i in 0..40 {
        api.create(&widget("ns", &format!("old-{i:02}"), 1)).await.unwrap();
    }
    let log = Log::default();
    let mgr = Manager::new(store.clone());
    mgr.add(Controller::<Widget>::new().reconcile(Scripted {
        log: log.clone(),
        script: |_| Step::Sleep(Duration::from_millis(100)),
    }));
    let run = start(mgr);
    eventually(Duration::from_secs(5), "the flood started", || log.lock().len() == 2).await;
    api.create(&widget("ns", "fresh", 1)).await.unwrap();
    eventually(Duration::from_secs(60), "all reconciled", || log.lock().len() == 41).await;
    let order: Vec<String> = log.lock().iter().map(|(k, _)| k.clone()).collect();
    let fresh_at = order.iter().position(|k| k == "ns/fresh").unwrap();
    assert!(
        fresh_at <= 3,
        "the fresh change waited behind the list: position {fresh_at} of {}",
        order.len()
    );
    run.stop().await.unwrap();
}
