//! The controllers in their own process: `capstan up --no-controllers` serves the API, `capstan
//! controller-manager --kubeconfig` runs the controllers against it over HTTPS (leader election on),
//! and the real kubectl sees a Deployment reach its Ready pods. Also the API server's health and
//! metrics endpoints, fed by the manager of `capstan up`.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{KUBECTL, Running, free_port, kubectl_at, up_command};

fn capstan(args: &[&str]) -> Running {
    Running(
        Command::new(env!("CARGO_BIN_EXE_capstan"))
            .args(args)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start capstan"),
    )
}

/// Starts `capstan up --in-memory` with `extra` flags on a free port; returns the process and port.
fn up(dir: &Path, extra: &[&str]) -> (Running, u16) {
    let port = free_port();
    let mut flags = vec!["--in-memory"];
    flags.extend_from_slice(extra);
    let process = Running(up_command(dir, port, &flags).spawn().expect("start capstan"));
    common::poll(
        Duration::from_secs(30),
        Duration::from_millis(100),
        "capstan up did not come up",
        || (TcpStream::connect(("127.0.0.1", port)).is_ok() && dir.join("kubeconfig.yaml").exists()).then_some(()),
    );
    (process, port)
}

/// Polls `check` every 250 ms until it returns `Some`, or panics with `what` after `limit`.
fn eventually<T>(limit: Duration, what: &str, check: impl FnMut() -> Option<T>) -> T {
    common::poll(
        limit,
        Duration::from_millis(250),
        &format!("timed out waiting for {what}"),
        check,
    )
}

const DEPLOYMENT: &str = "apiVersion: apps/v1
kind: Deployment
metadata:
  name: split
spec:
  replicas: 3
  selector:
    matchLabels:
      app: split
  template:
    metadata:
      labels:
        app: split
    spec:
      containers:
      - name: web
        image: nginx:1.25
";

fn ready_pods(kubeconfig: &Path) -> usize {
    let out = kubectl_at(
        kubeconfig,
        &[
            "get",
            "pods",
            "-l",
            "app=split",
            "-o",
            "jsonpath={range .items[*]}{.status.conditions[?(@.type==\"Ready\")].status}{\"\\n\"}{end}",
        ],
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| *l == "True")
        .count()
}

#[test]
fn a_separate_controller_manager_brings_a_deployment_to_three_ready_pods() {
    assert!(
        Path::new(KUBECTL).exists(),
        "this test drives the real kubectl at {KUBECTL}"
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let (_server, _) = up(dir.path(), &["--no-controllers"]);
    let kubeconfig: PathBuf = dir.path().join("kubeconfig.yaml");
    let manifest = dir.path().join("deploy.yaml");
    std::fs::write(&manifest, DEPLOYMENT).expect("write manifest");

    let applied = kubectl_at(&kubeconfig, &["apply", "-f", manifest.to_str().expect("utf-8")]);
    assert!(applied.status.success(), "{}", String::from_utf8_lossy(&applied.stderr));
    // Without controllers nothing happens to it.
    std::thread::sleep(Duration::from_secs(2));
    let rs = kubectl_at(&kubeconfig, &["get", "rs", "-o", "name"]);
    assert_eq!(
        String::from_utf8_lossy(&rs.stdout).trim(),
        "",
        "no controller should have acted yet"
    );

    let kc = kubeconfig.to_str().expect("utf-8");
    let _manager = capstan(&["controller-manager", "--kubeconfig", kc, "--identity", "cm-test"]);
    eventually(Duration::from_secs(60), "3 Ready pods", || {
        (ready_pods(&kubeconfig) == 3).then_some(())
    });
    let lease = kubectl_at(
        &kubeconfig,
        &[
            "get",
            "lease",
            "-n",
            "kube-system",
            "capstan-controller-manager",
            "-o",
            "jsonpath={.spec.holderIdentity}",
        ],
    );
    assert_eq!(
        String::from_utf8_lossy(&lease.stdout),
        "cm-test",
        "the manager holds the lease"
    );
    eventually(
        Duration::from_secs(30),
        "the Deployment's status to count 3 ready",
        || {
            let status = kubectl_at(
                &kubeconfig,
                &["get", "deploy", "split", "-o", "jsonpath={.status.readyReplicas}"],
            );
            (String::from_utf8_lossy(&status.stdout) == "3").then_some(())
        },
    );

    // Self-healing still works across the process boundary: a deleted pod is replaced.
    let names = kubectl_at(&kubeconfig, &["get", "pods", "-l", "app=split", "-o", "name"]);
    let first = String::from_utf8_lossy(&names.stdout)
        .lines()
        .next()
        .expect("a pod")
        .to_owned();
    let deleted = kubectl_at(&kubeconfig, &["delete", &first, "--wait=false"]);
    assert!(deleted.status.success(), "{}", String::from_utf8_lossy(&deleted.stderr));
    eventually(Duration::from_secs(60), "the deleted pod to be replaced", || {
        let names = kubectl_at(&kubeconfig, &["get", "pods", "-l", "app=split", "-o", "name"]);
        let names = String::from_utf8_lossy(&names.stdout).into_owned();
        (!names.lines().any(|n| n == first) && ready_pods(&kubeconfig) == 3).then_some(())
    });
}

/// One plain-HTTP GET; returns the status code and body.
fn get(port: u16, path: &str, token: Option<&str>) -> (u16, String) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{auth}Connection: close\r\n\r\n"
    )
    .expect("send");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).expect("read");
    let text = String::from_utf8_lossy(&raw).into_owned();
    let code = text
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .expect("a status line");
    let (head, body) = text.split_once("\r\n\r\n").expect("headers end");
    let body = if head.to_ascii_lowercase().contains("transfer-encoding: chunked") {
        dechunk(body)
    } else {
        body.to_owned()
    };
    (code, body)
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 {
            break;
        }
        out.push_str(&rest[..n]);
        body = rest[n..].trim_start_matches("\r\n");
    }
    out
}

#[test]
fn health_is_open_and_metrics_need_the_token() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_server, port) = up(dir.path(), &["--insecure-http"]);
    let token = std::fs::read_to_string(dir.path().join("token")).expect("token");
    let token = token.trim();

    assert_eq!(get(port, "/healthz", None), (200, "ok".into()));
    assert_eq!(get(port, "/livez", None), (200, "ok".into()));
    eventually(Duration::from_secs(30), "/readyz to pass", || {
        (get(port, "/readyz", None) == (200, "ok".into())).then_some(())
    });
    let (code, body) = get(port, "/readyz?verbose", None);
    assert_eq!(code, 200);
    assert!(body.contains("[+]controllers ok"), "{body}");

    assert_eq!(get(port, "/metrics", None).0, 401, "metrics need the token");
    assert_eq!(get(port, "/metrics", Some("wrong")).0, 401);
    let (code, metrics) = get(port, "/metrics", Some(token));
    assert_eq!(code, 200);
    assert!(
        metrics.contains("controller_runtime_max_concurrent_reconciles{controller=\"replicaset\"}"),
        "{metrics}"
    );
    assert!(metrics.contains("workqueue_depth"), "{metrics}");
}

#[test]
fn without_controllers_the_server_is_healthy_and_has_no_metrics() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_server, port) = up(dir.path(), &["--insecure-http", "--no-controllers"]);
    let token = std::fs::read_to_string(dir.path().join("token")).expect("token");
    assert_eq!(get(port, "/readyz", None), (200, "ok".into()));
    let (code, body) = get(port, "/healthz?verbose", None);
    assert_eq!((code, body.as_str()), (200, "[+]ping ok\nhealthz check passed\n"));
    assert_eq!(get(port, "/metrics", Some(token.trim())).0, 404);
}

fn lease_holder(kubeconfig: &Path) -> String {
    let out = kubectl_at(
        kubeconfig,
        &[
            "get",
            "lease",
            "-n",
            "kube-system",
            "capstan-controller-manager",
            "-o",
            "jsonpath={.spec.holderIdentity}",
        ],
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_standby_controller_manager_takes_over_when_the_leader_stops() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_server, _) = up(dir.path(), &["--no-controllers"]);
    let kubeconfig: PathBuf = dir.path().join("kubeconfig.yaml");
    let kc = kubeconfig.to_str().expect("utf-8");
    let mut a = capstan(&["controller-manager", "--kubeconfig", kc, "--identity", "cm-a"]);
    let mut b = capstan(&["controller-manager", "--kubeconfig", kc, "--identity", "cm-b"]);
    let leader = eventually(Duration::from_secs(30), "a leader", || {
        let h = lease_holder(&kubeconfig);
        (h == "cm-a" || h == "cm-b").then_some(h)
    });

    let manifest = dir.path().join("deploy.yaml");
    std::fs::write(&manifest, DEPLOYMENT.replace("replicas: 3", "replicas: 2")).expect("write manifest");
    let applied = kubectl_at(&kubeconfig, &["apply", "-f", manifest.to_str().expect("utf-8")]);
    assert!(applied.status.success(), "{}", String::from_utf8_lossy(&applied.stderr));
    eventually(Duration::from_secs(60), "2 Ready pods", || {
        (ready_pods(&kubeconfig) == 2).then_some(())
    });

    // A clean stop (SIGTERM) releases the lease: the standby takes over within its retry period.
    let (stopping, standby) = if leader == "cm-a" {
        (&mut a, "cm-b")
    } else {
        (&mut b, "cm-a")
    };
    let killed = Command::new("kill")
        .args(["-TERM", &stopping.0.id().to_string()])
        .status()
        .expect("run kill");
    assert!(killed.success());
    let exit = eventually(Duration::from_secs(40), "the leader to exit", || {
        stopping.0.try_wait().expect("wait")
    });
    assert!(exit.success(), "a clean stop exits 0: {exit:?}");
    eventually(Duration::from_secs(20), "the standby to lead", || {
        (lease_holder(&kubeconfig) == standby).then_some(())
    });

    let scaled = kubectl_at(&kubeconfig, &["scale", "deploy/split", "--replicas=3"]);
    assert!(scaled.status.success(), "{}", String::from_utf8_lossy(&scaled.stderr));
    eventually(Duration::from_secs(60), "3 Ready pods under the new leader", || {
        (ready_pods(&kubeconfig) == 3).then_some(())
    });
}
