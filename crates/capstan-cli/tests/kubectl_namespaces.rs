//! The real kubectl (v1.32, /usr/bin/kubectl) against `capstan up`: deleting a namespace deletes
//! what is in it, and the simulated nodes show a VERSION.
//!
//! Each test starts its own `capstan up` (the durable store, as a user runs it) on a free port with
//! its own data directory.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use common::{KUBECTL, Running, kubectl_at};

/// A running `capstan up` and its data directory.
struct Cluster {
    _process: Running,
    dir: tempfile::TempDir,
}

impl Cluster {
    fn start() -> Self {
        assert!(
            Path::new(KUBECTL).exists(),
            "these tests drive the real kubectl at {KUBECTL}"
        );
        let dir = tempfile::tempdir().expect("tempdir");
        // Warnings and errors (RUST_LOG=warn) go to a file the tests read.
        let log = std::fs::File::create(dir.path().join("warnings.log")).expect("log file");
        let process = Running(
            common::up_command(dir.path(), common::free_port(), &[])
                .stderr(log)
                .spawn()
                .expect("start capstan up"),
        );
        let c = Self { _process: process, dir };
        let kubeconfig = c.kubeconfig();
        common::poll(
            Duration::from_secs(30),
            Duration::from_millis(100),
            "capstan up did not become ready",
            || {
                (kubeconfig.exists() && kubectl_at(&kubeconfig, &["get", "--raw", "/readyz"]).status.success())
                    .then_some(())
            },
        );
        c
    }

    fn kubeconfig(&self) -> PathBuf {
        self.dir.path().join("kubeconfig.yaml")
    }

    fn kubectl(&self, args: &[&str]) -> Output {
        kubectl_at(&self.kubeconfig(), args)
    }

    /// Runs kubectl and returns stdout, failing the test (with what the cluster holds) on a
    /// non-zero exit.
    fn ok(&self, args: &[&str]) -> String {
        let out = self.kubectl(args);
        if !out.status.success() {
            let state = self.kubectl(&["get", "ns,deploy,rs,pods", "-A", "-o", "wide"]);
            panic!(
                "kubectl {args:?} failed: {}\ncluster:\n{}{}",
                String::from_utf8_lossy(&out.stderr),
                String::from_utf8_lossy(&state.stdout),
                String::from_utf8_lossy(&state.stderr)
            );
        }
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

#[test]
fn deleting_a_namespace_deletes_its_deployment_replicaset_and_pods_then_the_namespace() {
    let c = Cluster::start();
    assert!(c.ok(&["create", "ns", "team-a"]).contains("namespace/team-a created"));
    let finalizers = c.ok(&["get", "ns", "team-a", "-o", "jsonpath={.spec.finalizers}"]);
    assert!(finalizers.contains("kubernetes"), "{finalizers}");
    c.ok(&[
        "-n",
        "team-a",
        "create",
        "deployment",
        "x",
        "--image=busybox",
        "--replicas=2",
    ]);
    c.ok(&["-n", "team-a", "rollout", "status", "deploy/x", "--timeout=60s"]);
    let pods = c.ok(&["-n", "team-a", "get", "pods", "--no-headers"]);
    assert_eq!(pods.lines().filter(|l| l.contains("Running")).count(), 2, "{pods}");

    // kubectl waits until the namespace is gone.
    let deleted = c.ok(&["delete", "ns", "team-a", "--timeout=60s"]);
    assert!(deleted.contains("namespace \"team-a\" deleted"), "{deleted}");

    let left = c.kubectl(&["get", "deploy,rs,pods", "-n", "team-a"]);
    assert!(left.status.success(), "{}", String::from_utf8_lossy(&left.stderr));
    assert_eq!(
        String::from_utf8_lossy(&left.stdout),
        "",
        "the namespace's content outlived it"
    );
    assert!(
        String::from_utf8_lossy(&left.stderr).contains("No resources found in team-a namespace"),
        "{}",
        String::from_utf8_lossy(&left.stderr)
    );
    let gone = c.kubectl(&["get", "ns", "team-a"]);
    assert!(!gone.status.success());
    let err = String::from_utf8_lossy(&gone.stderr);
    assert!(err.contains("NotFound") || err.contains("not found"), "{err}");
    let everywhere = c.ok(&["get", "deploy", "-A"]);
    assert!(!everywhere.contains("team-a"), "{everywhere}");
    // An ordinary namespace deletion logs no warnings (events refused in the terminating
    // namespace are expected, as on Kubernetes).
    let log = std::fs::read_to_string(c.dir.path().join("warnings.log")).expect("read log");
    assert!(!log.contains(" WARN ") && !log.contains(" ERROR "), "warnings: {log}");
}

#[test]
fn nodes_show_a_kubelet_version_and_what_they_are() {
    let c = Cluster::start();
    let nodes = c.ok(&["get", "nodes"]);
    let mut lines = nodes.lines();
    let header = lines.next().unwrap_or_default();
    assert!(header.contains("VERSION"), "{nodes}");
    let rows: Vec<&str> = lines.collect();
    assert!(!rows.is_empty(), "{nodes}");
    assert!(
        rows.iter().all(|r| r.trim_end().ends_with("v1.32.0-capstan")),
        "{nodes}"
    );
    let info = c.ok(&[
        "get",
        "node",
        "capstan-node-1",
        "-o",
        "jsonpath={.status.nodeInfo.osImage}|{.status.nodeInfo.containerRuntimeVersion}|{.status.nodeInfo.operatingSystem}",
    ]);
    let fields: Vec<&str> = info.split('|').collect();
    assert_eq!(fields.len(), 3, "{info}");
    assert_eq!(fields[0], "capstan simulated node");
    assert!(fields[1].starts_with("capstan-sim://"), "{info}");
    assert!(!fields[2].is_empty(), "{info}");
}
