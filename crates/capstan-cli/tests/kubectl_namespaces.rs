//! The real kubectl (v1.32, /usr/bin/kubectl) against `capstan up`: deleting a namespace deletes
//! what is in it, and the simulated nodes show a VERSION.
//!
//! Each test starts its own `capstan up` (the durable store, as a user runs it) on a free port with
//! its own data directory.

mod common;

use common::Cluster;

#[test]
fn deleting_a_namespace_deletes_its_deployment_replicaset_and_pods_then_the_namespace() {
    let c = Cluster::start(&[]);
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
    let log = c.warnings();
    assert!(!log.contains(" WARN ") && !log.contains(" ERROR "), "warnings: {log}");
}

#[test]
fn nodes_show_a_kubelet_version_and_what_they_are() {
    let c = Cluster::start(&[]);
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
