//! The official JavaScript client (@kubernetes/client-node 1.x) against `capstan up`: list namespaces and
//! pods, create a Deployment, watch deployments with bookmarks and run an informer until a merge-patch
//! scale arrives, and POST then read back a core/v1 Event with a microsecond eventTime
//! (tests/node/client_check.mjs). Runs when `node` can import the client from tests/node (`npm ci`
//! there; .ci/run does it).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn node_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/node")
}

fn node_client_installed() -> bool {
    Command::new("node")
        .args(["--input-type=module", "-e", "await import('@kubernetes/client-node')"])
        .current_dir(node_dir())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

#[test]
fn the_node_client_lists_creates_watches_patches_and_posts_events() {
    if !node_client_installed() {
        // CI installs the client (.ci/run), so there a missing client is a failure, not a skip.
        assert!(
            std::env::var_os("CI").is_none(),
            "node cannot import @kubernetes/client-node under CI: .ci/run must `npm ci` in crates/capstan-cli/tests/node"
        );
        eprintln!("skipped: node cannot import @kubernetes/client-node (npm ci in crates/capstan-cli/tests/node)");
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
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
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start capstan up");
    let kubeconfig = dir.path().join("kubeconfig.yaml");
    let deadline = Instant::now() + Duration::from_secs(60);
    let out = loop {
        let out = Command::new("node")
            .arg("client_check.mjs")
            .arg(&kubeconfig)
            .current_dir(node_dir())
            .output()
            .expect("run node");
        if out.status.success() || Instant::now() > deadline {
            break out;
        }
        let err = String::from_utf8_lossy(&out.stderr);
        // Only retry while the server is still starting (no kubeconfig yet, or connection refused).
        if !(err.contains("ENOENT") || err.contains("ECONNREFUSED")) {
            break out;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        out.status.success(),
        "node client check failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
