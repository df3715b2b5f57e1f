//! kopf, the Python operator framework, runs an operator against `capstan up`: it lists and
//! watches ConfigMaps, Deployments and a custom resource of a CRD, merge-patches what it handles
//! (the custom resource's status through its status subresource) and posts core/v1 Events.
//! Runs when `python3` can import `kopf` (`pip install kopf`); CI installs it.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{Running, kubectl_at};

#[test]
fn a_kopf_operator_watches_patches_and_posts_events() {
    let installed = common::probe_succeeds(Command::new("python3").args(["-c", "import kopf"]));
    if !common::client_runs(
        installed,
        "python3 cannot import kopf",
        "`pip install kopf`",
        "pip install kopf",
    ) {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let manifest = dir.path().join("my-app.yaml");
    std::fs::write(&manifest, common::my_app(2)).expect("write manifest");
    let _cluster = common::up(
        dir.path(),
        &["--in-memory", "-f", manifest.to_str().expect("utf-8 temp dir")],
    );
    let kubeconfig = dir.path().join("kubeconfig.yaml");
    let k = |args: &[&str]| kubectl_at(&kubeconfig, args);
    common::poll(
        Duration::from_secs(30),
        Duration::from_millis(100),
        "capstan up did not become ready",
        || (kubeconfig.exists() && k(&["get", "deploy", "my-app"]).status.success()).then_some(()),
    );

    // A custom kind for the operator to handle too.
    let crd = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/greeting-crd.yaml");
    let applied = k(&["apply", "-f", crd.to_str().expect("utf-8 path")]);
    assert!(applied.status.success(), "{}", String::from_utf8_lossy(&applied.stderr));
    let established = k(&["wait", "--for=condition=Established", "crd/greetings.example.com"]);
    assert!(
        established.status.success(),
        "{}",
        String::from_utf8_lossy(&established.stderr)
    );

    let log_path = dir.path().join("kopf.log");
    let log = std::fs::File::create(&log_path).expect("log file");
    let operator = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/kopf_operator.py");
    let _kopf = Running(
        Command::new("python3")
            .args(["-m", "kopf", "run", "--standalone", "--namespace", "default"])
            .arg(&operator)
            .env("KUBECONFIG", &kubeconfig)
            .stdout(log.try_clone().expect("log file"))
            .stderr(log)
            .stdin(Stdio::null())
            .spawn()
            .expect("start kopf"),
    );
    let read_log = || std::fs::read_to_string(&log_path).unwrap_or_default();
    // The operator saw the existing Deployment: its list and watch work.
    common::poll(
        Duration::from_secs(60),
        Duration::from_millis(200),
        "kopf did not see the deployment",
        || {
            read_log()
                .contains("deployment my-app replicas None -> 2")
                .then_some(())
        },
    );

    let created = k(&["create", "configmap", "watched", "--from-literal=a=b"]);
    assert!(created.status.success(), "{}", String::from_utf8_lossy(&created.stderr));
    assert!(
        k(&["label", "configmap", "watched", "capstan-test=yes"])
            .status
            .success()
    );
    common::poll(
        Duration::from_secs(30),
        Duration::from_millis(200),
        "kopf did not annotate the configmap",
        || {
            let out = k(&[
                "get",
                "cm",
                "watched",
                "-o",
                "jsonpath={.metadata.annotations.kopf-saw}",
            ]);
            (String::from_utf8_lossy(&out.stdout) == "yes").then_some(())
        },
    );
    common::poll(
        Duration::from_secs(30),
        Duration::from_millis(200),
        "kopf's event was not stored",
        || {
            let out = k(&["get", "events", "--field-selector", "reason=Seen", "-o", "name"]);
            (!String::from_utf8_lossy(&out.stdout).trim().is_empty()).then_some(())
        },
    );

    let greeting = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/greeting.yaml");
    let created = k(&["apply", "-f", greeting.to_str().expect("utf-8 path")]);
    assert!(created.status.success(), "{}", String::from_utf8_lossy(&created.stderr));
    common::poll(
        Duration::from_secs(30),
        Duration::from_millis(200),
        "kopf did not handle the custom resource",
        || {
            let out = k(&[
                "get",
                "greeting",
                "hello",
                "-o",
                "jsonpath={.status.greeting_created.reply}",
            ]);
            (String::from_utf8_lossy(&out.stdout) == "hello back, hello").then_some(())
        },
    );
    assert!(
        read_log().contains("greeting hello says Hello from Capstan"),
        "{}",
        read_log()
    );

    assert!(k(&["scale", "deploy/my-app", "--replicas=3"]).status.success());
    common::poll(
        Duration::from_secs(30),
        Duration::from_millis(200),
        "kopf did not see the scale",
        || read_log().contains("deployment my-app replicas 2 -> 3").then_some(()),
    );
    let log = read_log();
    for bad in ["Traceback", "ERROR", "APIForbiddenError", "APINotFoundError"] {
        assert!(!log.contains(bad), "kopf reported {bad}:\n{log}");
    }
}
