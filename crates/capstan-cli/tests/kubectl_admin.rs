//! The real kubectl (v1.32, /usr/bin/kubectl) against `capstan up` for the admin commands: `drain`
//! (pods/eviction), `uncordon`, `auth can-i` and `auth whoami`.
//!
//! Each test starts its own `capstan up --in-memory` on a free port with its own data directory.

mod common;

use std::time::Duration;

use common::Cluster;

/// `(pod, phase, node)` of every my-app pod that is not terminating.
fn my_app_pods(c: &Cluster) -> Vec<(String, String, String)> {
    let out = c.ok(&[
        "get",
        "pods",
        "-l",
        "app=my-app",
        "-o",
        "jsonpath={range .items[*]}{.metadata.name} {.status.phase} {.spec.nodeName} {.metadata.deletionTimestamp}{\"\\n\"}{end}",
    ]);
    out.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            match f.as_slice() {
                [name, phase, node] => Some((name.to_string(), phase.to_string(), node.to_string())),
                _ => None,
            }
        })
        .collect()
}

/// Polls until `replicas` my-app pods run, none of them on `not_on`; returns them.
fn wait_running(c: &Cluster, replicas: usize, not_on: Option<&str>) -> Vec<(String, String, String)> {
    common::poll(
        Duration::from_secs(60),
        Duration::from_millis(200),
        &format!("{replicas} my-app pods did not run (not on {not_on:?})"),
        || {
            let pods = my_app_pods(c);
            let all_running = pods.len() == replicas && pods.iter().all(|(_, phase, _)| phase == "Running");
            let placed = not_on.is_none_or(|n| pods.iter().all(|(_, _, node)| node != n));
            (all_running && placed).then_some(pods)
        },
    )
}

#[test]
fn kubectl_drain_evicts_the_nodes_pods_which_come_back_elsewhere_and_uncordon_reopens_it() {
    let c = Cluster::start(&["--in-memory"]);
    let f = c.dir.path().join("my-app.yaml");
    std::fs::write(&f, common::my_app(3)).expect("write manifest");
    c.ok(&["apply", "-f", &f.display().to_string()]);
    let before = wait_running(&c, 3, None);
    let drained = "capstan-node-2";
    let victims: Vec<&String> = before
        .iter()
        .filter(|(_, _, node)| node == drained)
        .map(|(name, _, _)| name)
        .collect();
    assert!(!victims.is_empty(), "no my-app pod on {drained}: {before:?}");

    let out = c.ok(&[
        "drain",
        drained,
        "--ignore-daemonsets",
        "--delete-emptydir-data",
        "--timeout=60s",
    ]);
    assert!(out.contains(&format!("node/{drained} drained")), "{out}");
    for v in &victims {
        assert!(out.contains(&format!("pod/{v} evicted")), "{out}");
    }
    let node = c.ok(&["get", "node", drained]);
    assert!(node.contains("SchedulingDisabled"), "{node}");

    let after = wait_running(&c, 3, Some(drained));
    for v in &victims {
        assert!(
            after.iter().all(|(name, _, _)| name != *v),
            "{v} survived the drain: {after:?}"
        );
    }
    let gone = c.kubectl(&["get", "pod", victims[0]]);
    assert!(!gone.status.success(), "the evicted pod {} is still there", victims[0]);

    assert!(
        c.ok(&["uncordon", drained])
            .contains(&format!("node/{drained} uncordoned"))
    );
    let node = c.ok(&["get", "node", drained]);
    assert!(!node.contains("SchedulingDisabled"), "{node}");
}

#[test]
fn new_pods_avoid_cordoned_nodes_and_wait_pending_while_every_node_is_cordoned() {
    let c = Cluster::start(&["--in-memory"]);
    for node in ["capstan-node-1", "capstan-node-2"] {
        c.ok(&["cordon", node]);
    }
    let f = c.dir.path().join("my-app.yaml");
    std::fs::write(&f, common::my_app(4)).expect("write manifest");
    c.ok(&["apply", "-f", &f.display().to_string()]);
    let pods = wait_running(&c, 4, None);
    assert!(
        pods.iter().all(|(_, _, node)| node == "capstan-node-3"),
        "pods on cordoned nodes: {pods:?}"
    );

    // With every node cordoned a new pod stays Pending, and is placed once a node reopens.
    c.ok(&["cordon", "capstan-node-3"]);
    c.ok(&["scale", "deploy/my-app", "--replicas=5"]);
    let unbound = || {
        c.ok(&[
            "get",
            "pods",
            "-l",
            "app=my-app",
            "--field-selector=spec.nodeName=",
            "-o",
            "name",
        ])
        .lines()
        .count()
    };
    common::poll(
        Duration::from_secs(30),
        Duration::from_millis(200),
        "the fifth pod was not created",
        || (unbound() == 1).then_some(()),
    );
    // The node agent looks again every second: the pod must stay unplaced while all are cordoned.
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(unbound(), 1, "a pod was placed on a cordoned node");
    c.ok(&["uncordon", "capstan-node-1"]);
    let pods = wait_running(&c, 5, None);
    assert_eq!(
        pods.iter().filter(|(_, _, node)| node == "capstan-node-1").count(),
        1,
        "{pods:?}"
    );
}

#[test]
fn kubectl_auth_can_i_answers_yes_for_the_admin_token() {
    let c = Cluster::start(&["--in-memory"]);
    assert_eq!(c.ok(&["auth", "can-i", "create", "deployments"]).trim(), "yes");
    assert_eq!(
        c.ok(&["auth", "can-i", "delete", "pods", "-n", "kube-system"]).trim(),
        "yes"
    );
    let list = c.ok(&["auth", "can-i", "--list"]);
    assert!(list.contains("*.*"), "{list}");
}

#[test]
fn kubectl_auth_whoami_names_the_kubeconfig_user_in_system_masters() {
    let c = Cluster::start(&["--in-memory"]);
    let table = c.ok(&["auth", "whoami"]);
    assert!(table.contains("Username") && table.contains("capstan"), "{table}");
    let json: serde_json::Value = serde_json::from_str(&c.ok(&["auth", "whoami", "-o", "json"])).expect("whoami json");
    assert_eq!(json["kind"], "SelfSubjectReview");
    assert_eq!(json["status"]["userInfo"]["username"], "capstan");
    assert_eq!(
        json["status"]["userInfo"]["groups"],
        serde_json::json!(["system:masters", "system:authenticated"])
    );
    let resources = c.ok(&["api-resources", "--api-group=authorization.k8s.io"]);
    assert!(resources.contains("selfsubjectaccessreviews"), "{resources}");
}
