//! The official JavaScript client (@kubernetes/client-node 1.x) against `capstan up`: list namespaces and
//! pods, create a Deployment, watch deployments with bookmarks and run an informer until a merge-patch
//! scale arrives, and POST then read back a core/v1 Event with a microsecond eventTime
//! (tests/node/client_check.mjs). Runs when `node` can import the client from tests/node (`npm ci`
//! there; .ci/run does it).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

fn node_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/node")
}

#[test]
fn the_node_client_lists_creates_watches_patches_and_posts_events() {
    let installed = common::probe_succeeds(
        Command::new("node")
            .args(["--input-type=module", "-e", "await import('@kubernetes/client-node')"])
            .current_dir(node_dir()),
    );
    if !common::client_runs(
        installed,
        "node cannot import @kubernetes/client-node",
        "`npm ci` in crates/capstan-cli/tests/node",
        "npm ci in crates/capstan-cli/tests/node",
    ) {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let child = common::up(dir.path(), &["--in-memory"]);
    let kubeconfig = dir.path().join("kubeconfig.yaml");
    let out = common::run_while_starting(&["ENOENT", "ECONNREFUSED"], || {
        Command::new("node")
            .arg("client_check.mjs")
            .arg(&kubeconfig)
            .current_dir(node_dir())
            .output()
            .expect("run node")
    });
    drop(child);
    assert!(
        out.status.success(),
        "node client check failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
