//! The real kubectl (v1.32, /usr/bin/kubectl) against `capstan up`: what a user types must work.
//!
//! Each test starts its own `capstan up --in-memory` on a free port with its own data directory.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::LazyLock;
use std::time::{Duration, Instant};

use common::{KUBECTL, Running, capstan_at, free_port, kubectl_at};

static MY_APP: LazyLock<String> = LazyLock::new(|| common::my_app_with_port_and_env(2));

/// A running `capstan up` and its data directory.
struct Cluster {
    _process: Running,
    dir: tempfile::TempDir,
}

fn up(data_dir: &Path, in_memory: bool) -> Running {
    assert!(
        Path::new(KUBECTL).exists(),
        "these tests drive the real kubectl at {KUBECTL}"
    );
    common::up(data_dir, if in_memory { &["--in-memory"] } else { &[] })
}

fn wait_ready(kubeconfig: &Path) {
    common::poll(
        Duration::from_secs(30),
        Duration::from_millis(100),
        "capstan up did not become ready",
        || (kubeconfig.exists() && kubectl_at(kubeconfig, &["get", "--raw", "/readyz"]).status.success()).then_some(()),
    );
}

impl Cluster {
    fn start() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let process = up(dir.path(), true);
        let c = Self { _process: process, dir };
        wait_ready(&c.kubeconfig());
        c
    }

    fn kubeconfig(&self) -> PathBuf {
        self.dir.path().join("kubeconfig.yaml")
    }

    fn kubectl(&self, args: &[&str]) -> Output {
        kubectl_at(&self.kubeconfig(), args)
    }

    /// Runs kubectl and returns stdout, failing the test on a non-zero exit.
    fn ok(&self, args: &[&str]) -> String {
        let out = self.kubectl(args);
        if !out.status.success() {
            // Show the cluster's state with the failure, so a rare stuck rollout can be diagnosed.
            let state = self.kubectl(&["get", "deploy,rs,pods", "-o", "wide"]);
            let status = self.kubectl(&["get", "deploy", "-o", "jsonpath={.items[*].status}"]);
            panic!(
                "kubectl {args:?} failed: {}\ncluster state:\n{}\ndeployment status: {}",
                String::from_utf8_lossy(&out.stderr),
                String::from_utf8_lossy(&state.stdout),
                String::from_utf8_lossy(&status.stdout)
            );
        }
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs kubectl expecting failure; returns stderr.
    fn fails(&self, args: &[&str]) -> String {
        let out = self.kubectl(args);
        assert!(!out.status.success(), "kubectl {args:?} should have failed");
        String::from_utf8_lossy(&out.stderr).into_owned()
    }

    fn write(&self, name: &str, text: &str) -> String {
        let p = self.dir.path().join(name);
        std::fs::write(&p, text).expect("write manifest");
        p.display().to_string()
    }
}

#[test]
fn kubectl_lists_the_default_namespaces_and_reads_the_server_version() {
    let c = Cluster::start();
    let ns = c.ok(&["get", "ns"]);
    assert!(ns.starts_with("NAME"), "{ns}");
    assert!(ns.contains("default") && ns.contains("Active"), "{ns}");
    assert!(ns.contains("kube-system"), "{ns}");
    let version = c.ok(&["version"]);
    assert!(version.contains("Server Version: v1.32"), "{version}");
}

#[test]
fn kubectl_apply_creates_then_configures_after_an_edit() {
    let c = Cluster::start();
    let f = c.write("my-app.yaml", &MY_APP);
    assert!(c.ok(&["apply", "-f", &f]).contains("deployment.apps/my-app created"));
    assert!(c.ok(&["apply", "-f", &f]).contains("deployment.apps/my-app unchanged"));
    let edited = c.write(
        "my-app-2.yaml",
        &MY_APP
            .replace("nginx:1.25", "nginx:1.26")
            .replace("replicas: 2", "replicas: 3"),
    );
    assert!(
        c.ok(&["apply", "-f", &edited])
            .contains("deployment.apps/my-app configured")
    );
    let got = c.ok(&[
        "get",
        "deploy",
        "my-app",
        "-o",
        "jsonpath={.spec.replicas} {.spec.template.spec.containers[0].image} {.spec.template.spec.containers[0].env[0].value}",
    ]);
    assert_eq!(got, "3 nginx:1.26 blue");
    let table = c.ok(&["get", "deploy"]);
    let header: Vec<&str> = table.lines().next().unwrap_or("").split_whitespace().collect();
    assert_eq!(header, ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]);
    assert!(table.contains("my-app") && table.contains("/3 "), "{table}");
    let wide = c.ok(&["get", "deploy", "-o", "wide"]);
    assert!(
        wide.contains("IMAGES") && wide.contains("nginx:1.26") && wide.contains("app=my-app"),
        "{wide}"
    );
    let yaml = c.ok(&["get", "deploy", "my-app", "-o", "yaml"]);
    assert!(
        yaml.contains("kind: Deployment") && yaml.contains("resourceVersion:"),
        "{yaml}"
    );
    let json: serde_json::Value = serde_json::from_str(&c.ok(&["get", "deploy", "-o", "json"])).expect("json list");
    assert_eq!(json["items"][0]["metadata"]["name"], "my-app");
    let rs = c.ok(&["get", "rs"]);
    assert!(rs.is_empty() || rs.starts_with("NAME"), "{rs}");
    c.ok(&["get", "pods", "-o", "wide"]);
}

#[test]
fn kubectl_scale_set_image_patch_and_delete_change_the_deployment() {
    let c = Cluster::start();
    let f = c.write("my-app.yaml", &MY_APP);
    c.ok(&["apply", "-f", &f]);
    assert!(c.ok(&["scale", "deploy", "my-app", "--replicas=5"]).contains("scaled"));
    assert_eq!(
        c.ok(&["get", "deploy", "my-app", "-o", "jsonpath={.spec.replicas}"]),
        "5"
    );
    c.ok(&["set", "image", "deploy/my-app", "web=nginx:1.27"]);
    let image = c.ok(&[
        "get",
        "deploy",
        "my-app",
        "-o",
        "jsonpath={.spec.template.spec.containers[0].image}",
    ]);
    assert_eq!(image, "nginx:1.27");
    c.ok(&[
        "patch",
        "deploy",
        "my-app",
        "--type=json",
        "-p",
        r#"[{"op":"replace","path":"/spec/replicas","value":1}]"#,
    ]);
    c.ok(&[
        "patch",
        "deploy",
        "my-app",
        "--type=merge",
        "-p",
        r#"{"metadata":{"labels":{"tier":"web"}}}"#,
    ]);
    let got = c.ok(&[
        "get",
        "deploy",
        "-l",
        "tier=web",
        "-o",
        "jsonpath={.items[*].spec.replicas}",
    ]);
    assert_eq!(got, "1");
    assert!(
        c.ok(&["delete", "deploy", "my-app"])
            .contains("deployment.apps \"my-app\" deleted")
    );
    let err = c.fails(&["get", "deploy", "my-app"]);
    assert!(err.contains("NotFound"), "{err}");
}

#[test]
fn a_selector_that_does_not_match_the_template_labels_is_refused_naming_the_selector() {
    let c = Cluster::start();
    let bad = MY_APP.replacen(
        "      labels:\n        app: my-app",
        "      labels:\n        app: other",
        1,
    );
    assert_ne!(bad, *MY_APP);
    let f = c.write("bad.yaml", &bad);
    let err = c.fails(&["apply", "-f", &f]);
    assert!(err.contains("is invalid") && err.contains("selector"), "{err}");
    assert!(c.kubectl(&["get", "deploy", "my-app"]).stdout.is_empty());
}

#[test]
fn missing_objects_are_reported_as_not_found() {
    let c = Cluster::start();
    let err = c.fails(&["get", "deploy", "nope"]);
    assert!(err.contains("Error from server (NotFound)"), "{err}");
    assert!(err.contains("deployments.apps \"nope\" not found"), "{err}");
}

#[test]
fn unknown_fields_are_refused_under_kubectls_default_strict_validation() {
    let c = Cluster::start();
    let f = c.write("typo.yaml", &MY_APP.replace("  replicas: 2", "  replica: 2"));
    let err = c.fails(&["apply", "-f", &f]);
    assert!(err.contains("unknown field \"spec.replica\""), "{err}");
}

#[test]
fn server_dry_run_writes_nothing() {
    let c = Cluster::start();
    let f = c.write("my-app.yaml", &MY_APP);
    assert!(
        c.ok(&["apply", "--dry-run=server", "-f", &f])
            .contains("server dry run")
    );
    assert!(c.fails(&["get", "deploy", "my-app"]).contains("NotFound"));
}

#[test]
fn requests_with_a_wrong_token_are_unauthorized() {
    let c = Cluster::start();
    let err = c.fails(&["--token=wrong", "get", "ns"]);
    assert!(
        err.contains("Unauthorized") || err.contains("provide credentials"),
        "{err}"
    );
}

#[test]
fn kubectl_get_watch_prints_each_change_until_its_timeout() {
    let c = Cluster::start();
    let f = c.write("my-app.yaml", &MY_APP);
    c.ok(&["apply", "-f", &f]);
    let watcher = Command::new(KUBECTL)
        .args(["get", "deploy", "-w", "--request-timeout=5s"])
        .env("KUBECONFIG", c.kubeconfig())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start kubectl -w");
    std::thread::sleep(Duration::from_millis(1500));
    c.ok(&["scale", "deploy", "my-app", "--replicas=4"]);
    let out = watcher.wait_with_output().expect("kubectl -w output");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("/2 "), "initial row missing: {text}");
    assert!(text.contains("/4 "), "scaled row missing: {text}");
}

#[test]
fn namespaces_can_be_created_and_objects_are_refused_in_missing_ones() {
    let c = Cluster::start();
    let ns = c.write(
        "ns.yaml",
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: team-a\n",
    );
    assert!(c.ok(&["apply", "-f", &ns]).contains("namespace/team-a created"));
    assert!(c.ok(&["get", "ns", "team-a"]).contains("team-a"));
    let f = c.write("my-app.yaml", &MY_APP);
    c.ok(&["apply", "-n", "team-a", "-f", &f]);
    let all = c.ok(&["get", "deploy", "-A"]);
    assert!(all.contains("team-a") && all.contains("my-app"), "{all}");
    let err = c.fails(&["apply", "-n", "nowhere", "-f", &f]);
    assert!(err.contains("NotFound") || err.contains("not found"), "{err}");
}

#[test]
fn capstan_cli_applies_gets_and_deletes_through_the_api() {
    let c = Cluster::start();
    let f = c.write("my-app.yaml", &MY_APP);
    let capstan = |args: &[&str]| capstan_at(&c.kubeconfig(), args);
    let out = capstan(&["apply", "-f", &f]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("deployment.apps/my-app created"));
    let out = capstan(&["get", "deploy"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("UP-TO-DATE") && text.contains("my-app"), "{text}");
    let out = capstan(&["get", "deployment", "my-app", "-o", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["spec"]["replicas"], 2);
    let out = capstan(&["delete", "deploy", "my-app"]);
    assert!(out.status.success());
    assert!(!capstan(&["get", "deploy", "my-app"]).status.success());
}

#[test]
fn a_restart_on_the_same_data_dir_keeps_objects_token_and_certificate() {
    let dir = tempfile::tempdir().expect("tempdir");
    let kubeconfig = dir.path().join("kubeconfig.yaml");
    let mut first = up(dir.path(), false);
    wait_ready(&kubeconfig);
    let ns = dir.path().join("ns.yaml");
    std::fs::write(&ns, "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: kept\n").expect("write");
    let out = kubectl_at(&kubeconfig, &["apply", "-f", &ns.display().to_string()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let token = std::fs::read_to_string(dir.path().join("token")).expect("token");
    let ca = std::fs::read_to_string(dir.path().join("ca.crt")).expect("ca");
    let term = Command::new("kill").arg("-TERM").arg(first.0.id().to_string()).status();
    assert!(term.is_ok_and(|s| s.success()));
    let status = first.0.wait().expect("wait for capstan up");
    assert!(status.success(), "capstan up should exit cleanly on SIGTERM: {status}");

    std::fs::remove_file(&kubeconfig).expect("remove kubeconfig");
    let second = up(dir.path(), false);
    wait_ready(&kubeconfig);
    let out = kubectl_at(&kubeconfig, &["get", "ns", "kept"]);
    drop(second);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(std::fs::read_to_string(dir.path().join("token")).expect("token"), token);
    assert_eq!(std::fs::read_to_string(dir.path().join("ca.crt")).expect("ca"), ca);
}

#[test]
fn kubectl_create_sends_protobuf_bodies_that_the_server_decodes() {
    let c = Cluster::start();
    assert!(
        c.ok(&["create", "namespace", "team-b"])
            .contains("namespace/team-b created")
    );
    let out = c.ok(&[
        "create",
        "deployment",
        "d2",
        "--image=nginx:1.25",
        "--replicas=3",
        "--port=80",
        "-n",
        "team-b",
    ]);
    assert!(out.contains("deployment.apps/d2 created"), "{out}");
    let got = c.ok(&[
        "get",
        "deploy",
        "d2",
        "-n",
        "team-b",
        "-o",
        "jsonpath={.spec.replicas} {.spec.selector.matchLabels.app} {.spec.template.spec.containers[0].image} {.spec.template.spec.containers[0].ports[0].containerPort}",
    ]);
    assert_eq!(got, "3 d2 nginx:1.25 80");
}

#[test]
fn a_non_loopback_listen_address_without_tls_material_refuses_to_start() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = Command::new(env!("CARGO_BIN_EXE_capstan"))
        .args(["up", "--in-memory", "--listen", "0.0.0.0:0", "--data-dir"])
        .arg(dir.path())
        .output()
        .expect("run capstan up");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("refusing to listen on non-loopback address"), "{err}");
    assert!(!dir.path().join("kubeconfig.yaml").exists());
}

#[test]
fn the_kubeconfig_trusts_a_ca_and_the_server_certificate_is_not_a_ca() {
    let c = Cluster::start();
    let kubeconfig = std::fs::read_to_string(c.kubeconfig()).expect("kubeconfig");
    assert!(kubeconfig.contains("server: https://127.0.0.1:"), "{kubeconfig}");
    assert!(kubeconfig.contains("certificate-authority-data:"), "{kubeconfig}");
    let leaf = c.dir.path().join("server.crt");
    let out = Command::new("openssl")
        .args(["x509", "-noout", "-text", "-in"])
        .arg(&leaf)
        .output()
        .expect("openssl reads the generated certificate");
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("CA:FALSE"), "{text}");
    assert!(
        text.contains("IP Address:127.0.0.1") && text.contains("DNS:localhost"),
        "{text}"
    );
}

/// Polls `kubectl get` until `done` holds for its output (at most 30 s).
fn eventually(c: &Cluster, args: &[&str], what: &str, done: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let out = c.kubectl(args);
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        if out.status.success() && done(&text) {
            return text;
        }
        assert!(Instant::now() < deadline, "{what}: last output {text:?}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn rollouts_replacements_and_garbage_collection_work_with_the_controllers() {
    let c = Cluster::start();
    let f = c.write("my-app.yaml", &MY_APP);
    c.ok(&["apply", "-f", &f]);
    assert!(
        c.ok(&["rollout", "status", "deploy/my-app", "--timeout=60s"])
            .contains("successfully rolled out")
    );
    let pods = c.ok(&["get", "pods", "-o", "wide"]);
    assert_eq!(pods.matches("Running").count(), 2, "{pods}");
    assert!(pods.contains("capstan-node-"), "{pods}");
    assert!(c.ok(&["get", "nodes"]).contains("Ready"));

    c.ok(&["set", "image", "deploy/my-app", "web=nginx:1.26"]);
    c.ok(&["rollout", "status", "deploy/my-app", "--timeout=60s"]);
    let history = c.ok(&["rollout", "history", "deploy/my-app"]);
    assert!(history.contains('1') && history.contains('2'), "{history}");
    c.ok(&["rollout", "undo", "deploy/my-app"]);
    c.ok(&["rollout", "status", "deploy/my-app", "--timeout=60s"]);
    let image = c.ok(&[
        "get",
        "deploy",
        "my-app",
        "-o",
        "jsonpath={.spec.template.spec.containers[0].image}",
    ]);
    assert_eq!(image, "nginx:1.25");
    let described = c.ok(&["describe", "deploy/my-app"]);
    assert!(described.contains("ScalingReplicaSet"), "{described}");

    let victim = c.ok(&["get", "pods", "-o", "jsonpath={.items[0].metadata.name}"]);
    c.ok(&["delete", "pod", &victim]);
    eventually(
        &c,
        &["get", "pods", "-o", "jsonpath={.items[*].metadata.name}"],
        "a replacement pod",
        |names| names.split_whitespace().count() == 2 && !names.split_whitespace().any(|n| n == victim),
    );

    c.ok(&["delete", "deploy", "my-app"]);
    eventually(
        &c,
        &["get", "rs,pods", "-o", "name"],
        "ReplicaSets and pods collected",
        |names| names.trim().is_empty(),
    );
}

#[test]
fn rollout_undo_reuses_the_old_replica_set_and_moves_its_revision_forward() {
    let c = Cluster::start();
    let f = c.write("my-app.yaml", &MY_APP);
    c.ok(&["apply", "-f", &f]);
    c.ok(&["rollout", "status", "deploy/my-app", "--timeout=60s"]);
    c.ok(&["set", "image", "deploy/my-app", "web=nginx:1.26"]);
    c.ok(&["rollout", "status", "deploy/my-app", "--timeout=60s"]);
    // kubectl sends the old template through Go types (with `resources: {}`): still the same template.
    c.ok(&["rollout", "undo", "deploy/my-app"]);
    c.ok(&["rollout", "status", "deploy/my-app", "--timeout=60s"]);
    let rss = c.ok(&["get", "rs", "-o", "name"]);
    assert_eq!(rss.lines().count(), 2, "undo must not create a third ReplicaSet: {rss}");
    let history = c.ok(&["rollout", "history", "deploy/my-app"]);
    let revisions: Vec<&str> = history
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|w| w.parse::<u32>().is_ok())
        .collect();
    assert_eq!(revisions, ["2", "3"], "revision 1 became 3: {history}");
    let out = c.ok(&["rollout", "undo", "deploy/my-app", "--to-revision=2"]);
    assert!(out.contains("rolled back"), "{out}");
    c.ok(&["rollout", "status", "deploy/my-app", "--timeout=60s"]);
    let image = c.ok(&[
        "get",
        "deploy",
        "my-app",
        "-o",
        "jsonpath={.spec.template.spec.containers[0].image}",
    ]);
    assert_eq!(image, "nginx:1.26");
    assert_eq!(c.ok(&["get", "rs", "-o", "name"]).lines().count(), 2);
}

#[test]
fn the_default_log_on_stderr_tells_what_the_controllers_do_without_warnings_for_ordinary_conflicts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log_path = dir.path().join("up.log");
    let out_path = dir.path().join("up.out");
    let log = std::fs::File::create(&log_path).expect("log file");
    let out = std::fs::File::create(&out_path).expect("output file");
    let child = common::up_command(dir.path(), free_port(), &["--in-memory"])
        .env_remove("RUST_LOG")
        .stdout(out)
        .stderr(log)
        .spawn()
        .expect("start capstan up");
    let _process = Running(child);
    let kubeconfig = dir.path().join("kubeconfig.yaml");
    wait_ready(&kubeconfig);
    let manifest = dir.path().join("my-app.yaml");
    std::fs::write(&manifest, &*MY_APP).expect("write manifest");
    let k = |args: &[&str]| {
        let out = kubectl_at(&kubeconfig, args);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    k(&["apply", "-f", &manifest.display().to_string()]);
    k(&["rollout", "status", "deploy/my-app", "--timeout=60s"]);
    for image in ["web=nginx:1.26", "web=nginx:1.27"] {
        k(&["set", "image", "deploy/my-app", image]);
        k(&["rollout", "status", "deploy/my-app", "--timeout=60s"]);
    }
    k(&["scale", "deploy/my-app", "--replicas=4"]);
    k(&["rollout", "status", "deploy/my-app", "--timeout=60s"]);
    let text = std::fs::read_to_string(&log_path).expect("read log");
    assert!(
        text.contains("deployment default/my-app: Scaled up replica set my-app-"),
        "the log names the rollout steps: {text}"
    );
    assert!(text.contains("created"), "the log names pod creations: {text}");
    let warnings: Vec<&str> = text
        .lines()
        .filter(|l| l.contains(" WARN ") || l.contains(" ERROR "))
        .collect();
    assert!(warnings.is_empty(), "ordinary rollouts log no warnings: {warnings:#?}");
    // The log is on stderr; stdout carries only the banner a script reads.
    let stdout = std::fs::read_to_string(&out_path).expect("read output");
    assert!(stdout.starts_with("capstan is up at "), "{stdout}");
    assert!(!stdout.contains(" INFO "), "log lines on stdout: {stdout}");
}

#[test]
fn startup_failures_are_one_readable_line_without_a_backtrace() {
    let busy = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = busy.local_addr().expect("addr").port();
    let dir = tempfile::tempdir().expect("tempdir");
    let out = Command::new(env!("CARGO_BIN_EXE_capstan"))
        .args([
            "up",
            "--in-memory",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--data-dir",
        ])
        .arg(dir.path())
        .env("RUST_BACKTRACE", "1")
        .env("RUST_LOG", "warn")
        .output()
        .expect("run capstan up");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains(&format!("error: listening on 127.0.0.1:{port}")) && stderr.contains("in use"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("backtrace"),
        "no stack trace for a user error: {stderr}"
    );

    // A second `capstan up` on the data dir of a running one refuses, saying why.
    let _first = up(dir.path(), false);
    wait_ready(&dir.path().join("kubeconfig.yaml"));
    let second = Command::new(env!("CARGO_BIN_EXE_capstan"))
        .args(["up", "--listen", &format!("127.0.0.1:{}", free_port()), "--data-dir"])
        .arg(dir.path())
        .env("RUST_LOG", "warn")
        .output()
        .expect("run a second capstan up");
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(!second.status.success());
    assert!(stderr.contains("already open"), "{stderr}");
}

#[test]
fn a_missing_or_broken_manifest_stops_capstan_up_before_anything_starts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let broken = dir.path().join("broken.yaml");
    std::fs::write(&broken, "kind: [\n").expect("write");
    let data = dir.path().join("data");
    for (file, says) in [
        (dir.path().join("missing.yaml"), "missing.yaml"),
        (broken.clone(), "unclosed bracket"),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_capstan"))
            .args(["up", "--listen", &format!("127.0.0.1:{}", free_port()), "-f"])
            .arg(&file)
            .arg("--data-dir")
            .arg(&data)
            .env("RUST_LOG", "warn")
            .output()
            .expect("run capstan up");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{stdout}{stderr}");
        assert!(stderr.contains("error: ") && stderr.contains(says), "{stderr}");
        assert!(!stdout.contains("capstan is up"), "the server started first: {stdout}");
        assert!(!data.exists(), "a data dir was created for a run that could not start");
    }
}
