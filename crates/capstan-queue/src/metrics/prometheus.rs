//! An in-memory [`MetricsProvider`] that renders the Prometheus text exposition format.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use parking_lot::Mutex;

use super::{MetricsProvider, QueueMetrics};

/// Histogram bucket upper bounds in seconds: client-go's `ExponentialBuckets(10e-9, 10, 10)`.
const BUCKETS: [(f64, &str); 10] = [
    (1e-8, "1e-08"),
    (1e-7, "1e-07"),
    (1e-6, "1e-06"),
    (1e-5, "1e-05"),
    (1e-4, "0.0001"),
    (1e-3, "0.001"),
    (1e-2, "0.01"),
    (1e-1, "0.1"),
    (1.0, "1"),
    (10.0, "10"),
];

/// A cumulative histogram of durations with client-go's seconds buckets.
#[derive(Default)]
struct Histogram {
    /// Observations per bucket (not cumulative); the last slot is `+Inf`.
    counts: [AtomicU64; BUCKETS.len() + 1],
    sum_nanos: AtomicU64,
}

impl Histogram {
    fn observe(&self, value: Duration) {
        let seconds = value.as_secs_f64();
        let bucket = BUCKETS
            .iter()
            .position(|(le, _)| seconds <= *le)
            .unwrap_or(BUCKETS.len());
        self.counts[bucket].fetch_add(1, Relaxed);
        let nanos = u64::try_from(value.as_nanos()).unwrap_or(u64::MAX);
        self.sum_nanos.fetch_add(nanos, Relaxed);
    }
}

/// The live values of one queue.
#[derive(Default)]
struct QueueStats {
    depth: AtomicI64,
    adds: AtomicU64,
    retries: AtomicU64,
    queue_duration: Histogram,
    work_duration: Histogram,
    unfinished_nanos: AtomicU64,
    longest_nanos: AtomicU64,
}

impl QueueMetrics for QueueStats {
    fn depth(&self, depth: usize) {
        self.depth.store(i64::try_from(depth).unwrap_or(i64::MAX), Relaxed);
    }

    fn added(&self) {
        self.adds.fetch_add(1, Relaxed);
    }

    fn queue_duration(&self, waited: Duration) {
        self.queue_duration.observe(waited);
    }

    fn work_duration(&self, worked: Duration) {
        self.work_duration.observe(worked);
    }

    fn unfinished_work(&self, unfinished: Duration, longest_running: Duration) {
        let nanos = |d: Duration| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        self.unfinished_nanos.store(nanos(unfinished), Relaxed);
        self.longest_nanos.store(nanos(longest_running), Relaxed);
    }

    fn retried(&self) {
        self.retries.fetch_add(1, Relaxed);
    }
}

/// Work-queue metrics kept in memory and rendered as Prometheus text, with the names and help
/// strings of client-go's `workqueue` metrics, labelled `name="<queue name>"`.
///
/// ```
/// use std::sync::Arc;
/// use capstan_queue::{PrometheusMetrics, WorkQueue};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let metrics = Arc::new(PrometheusMetrics::new());
/// let queue = WorkQueue::<String>::builder("pods").metrics(metrics.clone()).build();
/// queue.add("default/web-0".to_string());
/// let text = metrics.render();
/// assert!(text.contains(r#"workqueue_adds_total{name="pods"} 1"#));
/// assert!(text.contains(r#"workqueue_depth{name="pods"} 1"#));
/// # }
/// ```
#[derive(Default)]
pub struct PrometheusMetrics {
    queues: Mutex<BTreeMap<String, Arc<QueueStats>>>,
}

impl std::fmt::Debug for PrometheusMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PrometheusMetrics")
            .field("queues", &self.queues.lock().keys().collect::<Vec<_>>())
            .finish()
    }
}

impl MetricsProvider for PrometheusMetrics {
    fn queue_metrics(&self, queue_name: &str) -> Arc<dyn QueueMetrics> {
        self.queues.lock().entry(queue_name.to_string()).or_default().clone()
    }
}

impl PrometheusMetrics {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Renders every queue's metrics in the Prometheus text exposition format (version 0.0.4).
    /// Queues sharing a name share their series.
    pub fn render(&self) -> String {
        let queues: Vec<(String, Arc<QueueStats>)> = self
            .queues
            .lock()
            .iter()
            .map(|(name, stats)| (escape(name), stats.clone()))
            .collect();
        let mut out = String::new();
        let seconds = |nanos: u64| nanos as f64 / 1e9;
        header(
            &mut out,
            "workqueue_adds_total",
            "counter",
            "Total number of adds handled by workqueue",
        );
        for (name, s) in &queues {
            let _ = writeln!(out, "workqueue_adds_total{{name=\"{name}\"}} {}", s.adds.load(Relaxed));
        }
        header(&mut out, "workqueue_depth", "gauge", "Current depth of workqueue");
        for (name, s) in &queues {
            let _ = writeln!(out, "workqueue_depth{{name=\"{name}\"}} {}", s.depth.load(Relaxed));
        }
        header(
            &mut out,
            "workqueue_longest_running_processor_seconds",
            "gauge",
            "How many seconds has the longest running processor for workqueue been running.",
        );
        for (name, s) in &queues {
            let value = seconds(s.longest_nanos.load(Relaxed));
            let _ = writeln!(
                out,
                "workqueue_longest_running_processor_seconds{{name=\"{name}\"}} {value}"
            );
        }
        let help = "How long in seconds an item stays in workqueue before being requested.";
        histogram(&mut out, "workqueue_queue_duration_seconds", help, &queues, |s| {
            &s.queue_duration
        });
        header(
            &mut out,
            "workqueue_retries_total",
            "counter",
            "Total number of retries handled by workqueue",
        );
        for (name, s) in &queues {
            let _ = writeln!(
                out,
                "workqueue_retries_total{{name=\"{name}\"}} {}",
                s.retries.load(Relaxed)
            );
        }
        header(
            &mut out,
            "workqueue_unfinished_work_seconds",
            "gauge",
            "How many seconds of work has been done that is in progress and hasn't been observed by \
             work_duration. Large values indicate stuck threads. One can deduce the number of stuck threads by \
             observing the rate at which this increases.",
        );
        for (name, s) in &queues {
            let value = seconds(s.unfinished_nanos.load(Relaxed));
            let _ = writeln!(out, "workqueue_unfinished_work_seconds{{name=\"{name}\"}} {value}");
        }
        let help = "How long in seconds processing an item from workqueue takes.";
        histogram(&mut out, "workqueue_work_duration_seconds", help, &queues, |s| {
            &s.work_duration
        });
        out
    }
}

fn header(out: &mut String, metric: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {metric} {help}\n# TYPE {metric} {kind}");
}

fn histogram(
    out: &mut String,
    metric: &str,
    help: &str,
    queues: &[(String, Arc<QueueStats>)],
    pick: impl Fn(&QueueStats) -> &Histogram,
) {
    header(out, metric, "histogram", help);
    for (name, stats) in queues {
        let h = pick(stats);
        let mut cumulative = 0u64;
        for (i, (_, le)) in BUCKETS.iter().enumerate() {
            cumulative += h.counts[i].load(Relaxed);
            let _ = writeln!(out, "{metric}_bucket{{name=\"{name}\",le=\"{le}\"}} {cumulative}");
        }
        cumulative += h.counts[BUCKETS.len()].load(Relaxed);
        let _ = writeln!(out, "{metric}_bucket{{name=\"{name}\",le=\"+Inf\"}} {cumulative}");
        let sum = h.sum_nanos.load(Relaxed) as f64 / 1e9;
        let _ = writeln!(
            out,
            "{metric}_sum{{name=\"{name}\"}} {sum}\n{metric}_count{{name=\"{name}\"}} {cumulative}"
        );
    }
}

/// Escapes a label value: backslash, double quote and newline.
fn escape(value: &str) -> String {
    value.replace('\\', r"\\").replace('"', "\\\"").replace('\n', r"\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative_with_sum_and_count() {
        let metrics = PrometheusMetrics::new();
        let hooks = metrics.queue_metrics("q");
        hooks.queue_duration(Duration::from_micros(50));
        hooks.queue_duration(Duration::from_millis(5));
        hooks.queue_duration(Duration::from_secs(60));
        let text = metrics.render();
        assert!(text.contains(r#"workqueue_queue_duration_seconds_bucket{name="q",le="1e-06"} 0"#));
        assert!(text.contains(r#"workqueue_queue_duration_seconds_bucket{name="q",le="0.0001"} 1"#));
        assert!(text.contains(r#"workqueue_queue_duration_seconds_bucket{name="q",le="0.01"} 2"#));
        assert!(text.contains(r#"workqueue_queue_duration_seconds_bucket{name="q",le="10"} 2"#));
        assert!(text.contains(r#"workqueue_queue_duration_seconds_bucket{name="q",le="+Inf"} 3"#));
        assert!(text.contains(r#"workqueue_queue_duration_seconds_count{name="q"} 3"#));
        assert!(text.contains(r#"workqueue_queue_duration_seconds_sum{name="q"} 60.00505"#));
    }

    #[test]
    fn every_kubernetes_metric_name_is_rendered_with_help_and_type() {
        let metrics = PrometheusMetrics::new();
        let hooks = metrics.queue_metrics("a \"quoted\" name");
        hooks.added();
        hooks.retried();
        hooks.depth(7);
        hooks.unfinished_work(Duration::from_millis(1500), Duration::from_secs(1));
        let text = metrics.render();
        for name in [
            "workqueue_depth",
            "workqueue_adds_total",
            "workqueue_queue_duration_seconds",
            "workqueue_work_duration_seconds",
            "workqueue_unfinished_work_seconds",
            "workqueue_longest_running_processor_seconds",
            "workqueue_retries_total",
        ] {
            assert!(text.contains(&format!("# TYPE {name} ")), "{name} missing in\n{text}");
        }
        assert!(text.contains(r#"workqueue_depth{name="a \"quoted\" name"} 7"#));
        assert!(text.contains(r#"workqueue_unfinished_work_seconds{name="a \"quoted\" name"} 1.5"#));
        assert!(text.contains(r#"workqueue_longest_running_processor_seconds{name="a \"quoted\" name"} 1"#));
        assert!(text.contains(r#"workqueue_retries_total{name="a \"quoted\" name"} 1"#));
    }
}
