//! The official Python client against `capstan up`: list pods, create one, a 404, and a watch of
//! deployments that sees a scale. Runs when `python3` can import `kubernetes` (`pip install kubernetes`).

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const MY_APP: &str = "apiVersion: apps/v1
kind: Deployment
metadata:
  name: my-app
spec:
  replicas: 2
  selector:
    matchLabels:
      app: my-app
  template:
    metadata:
      labels:
        app: my-app
    spec:
      containers:
      - name: web
        image: nginx:1.25
";

fn python_client_installed() -> bool {
    Command::new("python3")
        .args(["-c", "import kubernetes"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

#[test]
fn the_python_client_lists_creates_and_watches() {
    if !python_client_installed() {
        // CI installs the client (.ci/run), so there a missing client is a failure, not a skip.
        assert!(
            std::env::var_os("CI").is_none(),
            "python3 cannot import kubernetes under CI: .ci/run must `pip install kubernetes`"
        );
        eprintln!("skipped: python3 cannot import kubernetes (pip install kubernetes)");
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let manifest = dir.path().join("my-app.yaml");
    std::fs::write(&manifest, MY_APP).expect("write manifest");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_capstan"))
        .args([
            "up",
            "--in-memory",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--data-dir",
        ])
        .arg(dir.path())
        .arg("-f")
        .arg(&manifest)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start capstan up");
    let kubeconfig = dir.path().join("kubeconfig.yaml");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/client_check.py");
    let deadline = Instant::now() + Duration::from_secs(60);
    let out = loop {
        let out = Command::new("python3")
            .arg(&script)
            .arg(&kubeconfig)
            .output()
            .expect("run python3");
        if out.status.success() || Instant::now() > deadline {
            break out;
        }
        let err = String::from_utf8_lossy(&out.stderr);
        // Only retry while the server is still starting (no kubeconfig yet, or connection refused).
        if !(err.contains("No such file") || err.contains("Connection refused") || err.contains("Invalid kube-config"))
        {
            break out;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        out.status.success(),
        "python client check failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
