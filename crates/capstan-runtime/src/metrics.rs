//! Metrics in the Prometheus text format, with the names Kubernetes operators know.
//!
//! [`MetricsRegistry::render`] gives the whole page: the work-queue metrics of every controller
//! (`workqueue_*`, from `capstan-queue`) followed by the reconcile metrics of controller-runtime:
//!
//! | name | type | labels |
//! |---|---|---|
//! | `controller_runtime_reconcile_total` | counter | `controller`, `result` = `success` / `requeue_after` / `requeue` / `error` |
//! | `controller_runtime_reconcile_errors_total` | counter | `controller` |
//! | `controller_runtime_terminal_reconcile_errors_total` | counter | `controller` |
//! | `controller_runtime_reconcile_panics_total` | counter | `controller` |
//! | `controller_runtime_reconcile_time_seconds` | histogram | `controller` |
//! | `controller_runtime_active_workers` | gauge | `controller` |
//! | `controller_runtime_max_concurrent_reconciles` | gauge | `controller` |
//!
//! The runtime serves no HTTP: `capstan-server` serves this text on `/metrics`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;

/// Upper bounds (seconds) of the reconcile-time histogram buckets.
const BUCKETS: [f64; 16] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 300.0,
];

/// How a reconcile ended, as the `result` label spells it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum ReconcileResult {
    /// `Ok(Action::done())`.
    Success,
    /// `Ok(Action::requeue_after(..))`.
    RequeueAfter,
    /// A store conflict ([`ReconcileError::is_conflict`](crate::ReconcileError::is_conflict)):
    /// requeued with backoff, but not an error.
    Requeue,
    /// Any other error (terminal or not) or a panic.
    Error,
}

impl ReconcileResult {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::RequeueAfter => "requeue_after",
            Self::Requeue => "requeue",
            Self::Error => "error",
        }
    }
}

#[derive(Default, Clone)]
struct ControllerStats {
    totals: BTreeMap<ReconcileResult, u64>,
    errors: u64,
    terminal_errors: u64,
    panics: u64,
    bucket_counts: [u64; BUCKETS.len()],
    time_sum: f64,
    time_count: u64,
    active: i64,
    max_concurrent: usize,
}

/// Name, type, help and value of a metric family with only the `controller` label.
type SimpleFamily = (&'static str, &'static str, &'static str, fn(&ControllerStats) -> String);

/// Renders one more section of the metrics page (the work-queue metrics are one).
pub type Renderer = Arc<dyn Fn(&mut String) + Send + Sync>;

/// The metrics of one manager. Cheap to clone; clones share counters.
#[derive(Clone, Default)]
pub struct MetricsRegistry {
    controllers: Arc<Mutex<BTreeMap<String, ControllerStats>>>,
    sections: Arc<Mutex<Vec<Renderer>>>,
}

impl std::fmt::Debug for MetricsRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetricsRegistry").finish_non_exhaustive()
    }
}

/// Escapes a label value for the text format.
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

impl MetricsRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a section rendered before the reconcile metrics (used for the work-queue metrics; a user
    /// may add their own).
    pub fn add_section(&self, renderer: Renderer) {
        self.sections.lock().push(renderer);
    }

    /// Declares a controller so that its series appear (at zero) before its first reconcile.
    pub fn register_controller(&self, controller: &str, max_concurrent: usize) {
        self.controllers
            .lock()
            .entry(controller.to_owned())
            .or_default()
            .max_concurrent = max_concurrent;
    }

    /// A worker of `controller` started a reconcile.
    pub(crate) fn reconcile_started(&self, controller: &str) {
        self.controllers.lock().entry(controller.to_owned()).or_default().active += 1;
    }

    /// A worker of `controller` finished a reconcile.
    pub(crate) fn reconcile_finished(
        &self,
        controller: &str,
        result: ReconcileResult,
        terminal: bool,
        panicked: bool,
        took: Duration,
    ) {
        let mut all = self.controllers.lock();
        let s = all.entry(controller.to_owned()).or_default();
        s.active -= 1;
        *s.totals.entry(result).or_default() += 1;
        if result == ReconcileResult::Error {
            s.errors += 1;
        }
        s.terminal_errors += u64::from(terminal);
        s.panics += u64::from(panicked);
        let secs = took.as_secs_f64();
        for (i, le) in BUCKETS.iter().enumerate() {
            if secs <= *le {
                s.bucket_counts[i] += 1;
            }
        }
        s.time_sum += secs;
        s.time_count += 1;
    }

    /// How many reconciles of `controller` ended with `result`.
    pub fn reconcile_count(&self, controller: &str, result: ReconcileResult) -> u64 {
        self.controllers
            .lock()
            .get(controller)
            .and_then(|s| s.totals.get(&result).copied())
            .unwrap_or(0)
    }

    /// How many reconciles of `controller` panicked.
    pub fn panic_count(&self, controller: &str) -> u64 {
        self.controllers.lock().get(controller).map_or(0, |s| s.panics)
    }

    /// How many workers of `controller` are reconciling right now.
    pub fn active_workers(&self, controller: &str) -> i64 {
        self.controllers.lock().get(controller).map_or(0, |s| s.active)
    }

    /// The whole metrics page in the Prometheus text exposition format (version 0.0.4).
    pub fn render(&self) -> String {
        let mut out = String::new();
        let sections = self.sections.lock().clone();
        for section in sections {
            section(&mut out);
        }
        let all = self.controllers.lock().clone();
        let family = |out: &mut String, name: &str, kind: &str, help: &str| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        };
        family(
            &mut out,
            "controller_runtime_reconcile_total",
            "counter",
            "Total number of reconciliations per controller",
        );
        for (c, s) in &all {
            for r in [
                ReconcileResult::Success,
                ReconcileResult::RequeueAfter,
                ReconcileResult::Requeue,
                ReconcileResult::Error,
            ] {
                let n = s.totals.get(&r).copied().unwrap_or(0);
                let _ = writeln!(
                    out,
                    "controller_runtime_reconcile_total{{controller=\"{}\",result=\"{}\"}} {n}",
                    escape(c),
                    r.as_str()
                );
            }
        }
        let simple: [SimpleFamily; 5] = [
            (
                "controller_runtime_reconcile_errors_total",
                "counter",
                "Total number of reconciliation errors per controller",
                |s| s.errors.to_string(),
            ),
            (
                "controller_runtime_terminal_reconcile_errors_total",
                "counter",
                "Total number of terminal reconciliation errors per controller",
                |s| s.terminal_errors.to_string(),
            ),
            (
                "controller_runtime_reconcile_panics_total",
                "counter",
                "Total number of reconciliation panics per controller",
                |s| s.panics.to_string(),
            ),
            (
                "controller_runtime_active_workers",
                "gauge",
                "Number of currently used workers per controller",
                |s| s.active.to_string(),
            ),
            (
                "controller_runtime_max_concurrent_reconciles",
                "gauge",
                "Maximum number of concurrent reconciles per controller",
                |s| s.max_concurrent.to_string(),
            ),
        ];
        for (name, kind, help, value) in simple {
            family(&mut out, name, kind, help);
            for (c, s) in &all {
                let _ = writeln!(out, "{name}{{controller=\"{}\"}} {}", escape(c), value(s));
            }
        }
        let name = "controller_runtime_reconcile_time_seconds";
        family(
            &mut out,
            name,
            "histogram",
            "Length of time per reconciliation per controller",
        );
        for (c, s) in &all {
            let c = escape(c);
            for (le, n) in BUCKETS.iter().zip(s.bucket_counts.iter()) {
                let _ = writeln!(out, "{name}_bucket{{controller=\"{c}\",le=\"{le}\"}} {n}");
            }
            let _ = writeln!(out, "{name}_bucket{{controller=\"{c}\",le=\"+Inf\"}} {}", s.time_count);
            let _ = writeln!(out, "{name}_sum{{controller=\"{c}\"}} {}", s.time_sum);
            let _ = writeln!(out, "{name}_count{{controller=\"{c}\"}} {}", s.time_count);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_finished_reconcile_is_counted_by_result_and_timed() {
        let m = MetricsRegistry::new();
        m.register_controller("rs", 4);
        m.reconcile_started("rs");
        assert_eq!(m.active_workers("rs"), 1);
        m.reconcile_finished("rs", ReconcileResult::Error, false, true, Duration::from_millis(30));
        assert_eq!(m.active_workers("rs"), 0);
        assert_eq!(m.reconcile_count("rs", ReconcileResult::Error), 1);
        assert_eq!(m.panic_count("rs"), 1);
        let text = m.render();
        assert!(text.contains("controller_runtime_reconcile_total{controller=\"rs\",result=\"error\"} 1"));
        assert!(text.contains("controller_runtime_reconcile_total{controller=\"rs\",result=\"success\"} 0"));
        assert!(text.contains("controller_runtime_reconcile_errors_total{controller=\"rs\"} 1"));
        assert!(text.contains("controller_runtime_reconcile_time_seconds_bucket{controller=\"rs\",le=\"0.025\"} 0"));
        assert!(text.contains("controller_runtime_reconcile_time_seconds_bucket{controller=\"rs\",le=\"0.05\"} 1"));
        assert!(text.contains("controller_runtime_reconcile_time_seconds_count{controller=\"rs\"} 1"));
        assert!(text.contains("controller_runtime_max_concurrent_reconciles{controller=\"rs\"} 4"));
        assert!(text.contains("# TYPE controller_runtime_active_workers gauge"));
    }

    #[test]
    fn sections_render_before_the_reconcile_metrics_and_labels_are_escaped() {
        let m = MetricsRegistry::new();
        m.add_section(Arc::new(|out: &mut String| {
            out.push_str("workqueue_depth{name=\"x\"} 0\n")
        }));
        m.register_controller("a\"b", 1);
        let text = m.render();
        assert!(text.starts_with("workqueue_depth"));
        assert!(text.contains("controller=\"a\\\"b\""));
    }
}
