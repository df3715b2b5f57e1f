//! The official Python client against `capstan up`: list pods, create one, a 404, and a watch of
//! deployments that sees a scale. Runs when `python3` can import `kubernetes` (`pip install kubernetes`).

mod common;

use std::path::Path;
use std::process::Command;

#[test]
fn the_python_client_lists_creates_and_watches() {
    let installed = common::probe_succeeds(Command::new("python3").args(["-c", "import kubernetes"]));
    if !common::client_runs(
        installed,
        "python3 cannot import kubernetes",
        "`pip install kubernetes`",
        "pip install kubernetes",
    ) {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let manifest = dir.path().join("my-app.yaml");
    std::fs::write(&manifest, common::my_app(2)).expect("write manifest");
    let manifest = manifest.to_str().expect("utf-8 temp dir");
    let child = common::up(dir.path(), &["--in-memory", "-f", manifest]);
    let kubeconfig = dir.path().join("kubeconfig.yaml");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/client_check.py");
    let out = common::run_while_starting(&["No such file", "Connection refused", "Invalid kube-config"], || {
        Command::new("python3")
            .arg(&script)
            .arg(&kubeconfig)
            .output()
            .expect("run python3")
    });
    drop(child);
    assert!(
        out.status.success(),
        "python client check failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
