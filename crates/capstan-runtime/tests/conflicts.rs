//! A store conflict (HTTP 409: the object changed since the reconciler read it) is an expected
//! requeue, not a failure: retried with the queue's per-key backoff, logged at `debug` (never
//! `warn`), and counted with the `requeue` result instead of `error`.

mod common;

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use capstan_core::Resource;
use capstan_runtime::{
    Action, Context, Controller, Manager, ReconcileError, ReconcileRequest, ReconcileResult, Reconciler,
};
use capstan_store::{MemoryStore, Store, StoreError};
use common::*;
use parking_lot::Mutex;
use tokio::time::Instant;
use tracing::field::{Field, Visit};
use tracing::{Level, Metadata, Subscriber, span};

/// Fails with a conflict on its first `conflicts` calls, then succeeds; records when it ran.
struct Conflicting {
    conflicts: usize,
    calls: Arc<Mutex<Vec<Instant>>>,
}

#[async_trait::async_trait]
impl Reconciler<Widget> for Conflicting {
    async fn reconcile(&self, req: ReconcileRequest, _ctx: &Context<Widget>) -> Result<Action, ReconcileError> {
        let n = {
            let mut calls = self.calls.lock();
            calls.push(Instant::now());
            calls.len() - 1
        };
        if n < self.conflicts {
            Err(StoreError::Conflict {
                type_key: Widget::type_key(),
                key: req.key,
                message: "the object has been modified".into(),
            })?;
        }
        Ok(Action::done())
    }
}

/// Every event's level and fields, as text.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<(Level, String)>>>);

struct Fields(String);

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let _ = write!(self.0, "{}={value:?} ", field.name());
    }
}

impl Subscriber for Capture {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &span::Attributes<'_>) -> span::Id {
        span::Id::from_u64(1)
    }
    fn record(&self, _: &span::Id, _: &span::Record<'_>) {}
    fn record_follows_from(&self, _: &span::Id, _: &span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        let mut fields = Fields(String::new());
        event.record(&mut fields);
        self.0.lock().push((*event.metadata().level(), fields.0));
    }
    fn enter(&self, _: &span::Id) {}
    fn exit(&self, _: &span::Id) {}
}

#[tokio::test(start_paused = true)]
async fn a_conflicting_reconcile_is_retried_with_backoff_logged_at_debug_and_counted_as_requeue() {
    let capture = Capture::default();
    let _guard = tracing::subscriber::set_default(capture.clone());
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    widgets(&store, "ns").create(&widget("ns", "a", 1)).await.unwrap();
    let calls = Arc::new(Mutex::new(Vec::new()));
    let mgr = Manager::new(store);
    mgr.add(Controller::<Widget>::new().reconcile(Conflicting {
        conflicts: 3,
        calls: calls.clone(),
    }));
    let metrics = mgr.metrics();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let run = tokio::spawn(mgr.run(async move {
        let _ = stopped.await;
    }));
    eventually(Duration::from_secs(5), "four reconciles", || calls.lock().len() == 4).await;
    tokio::time::sleep(Duration::from_secs(10)).await;
    let _ = stop.send(());
    run.await.unwrap().unwrap();

    let t = calls.lock().clone();
    assert_eq!(t.len(), 4, "three conflicts, then one success that is not retried");
    let gaps: Vec<Duration> = t.windows(2).map(|w| w[1] - w[0]).collect();
    for (gap, ms) in gaps.iter().zip([5u64, 10, 20]) {
        assert!(
            *gap >= Duration::from_millis(ms),
            "per-key backoff expected, gaps {gaps:?}"
        );
    }
    assert_eq!(metrics.reconcile_count("widget", ReconcileResult::Requeue), 3);
    assert_eq!(metrics.reconcile_count("widget", ReconcileResult::Error), 0);
    assert_eq!(metrics.reconcile_count("widget", ReconcileResult::Success), 1);
    let page = metrics.render();
    assert!(page.contains("controller_runtime_reconcile_total{controller=\"widget\",result=\"requeue\"} 3"));
    assert!(page.contains("controller_runtime_reconcile_errors_total{controller=\"widget\"} 0"));

    let events = capture.0.lock().clone();
    let conflicts: Vec<_> = events.iter().filter(|(_, f)| f.contains("modified")).collect();
    assert_eq!(conflicts.len(), 3, "one log line per conflict: {events:?}");
    assert!(
        conflicts.iter().all(|(level, _)| *level == Level::DEBUG),
        "{conflicts:?}"
    );
    assert!(
        events
            .iter()
            .all(|(level, _)| !matches!(*level, Level::WARN | Level::ERROR)),
        "no warning for a conflict: {events:?}"
    );
}
