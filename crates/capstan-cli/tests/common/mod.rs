//! The harness the integration tests of `capstan` share: the my-app manifest, a free port, a
//! `capstan up` child killed on drop, polling until something holds, kubectl and capstan runs
//! against a kubeconfig, and the CI rule for optional clients.
//!
//! Every test binary compiles this module and uses a part of it, so items not used by all of
//! them carry `#[allow(dead_code)]`.

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The real kubectl the tests drive.
#[allow(dead_code)]
pub const KUBECTL: &str = "/usr/bin/kubectl";

/// The my-app Deployment: `replicas` nginx:1.25 pods labelled `app: my-app`.
#[allow(dead_code)]
pub fn my_app(replicas: u32) -> String {
    format!(
        "apiVersion: apps/v1
kind: Deployment
metadata:
  name: my-app
spec:
  replicas: {replicas}
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
"
    )
}

/// [`my_app`] with the label also on the Deployment, port 80 and the env var `MODE=blue`.
#[allow(dead_code)]
pub fn my_app_with_port_and_env(replicas: u32) -> String {
    my_app(replicas).replacen("  name: my-app\n", "  name: my-app\n  labels:\n    app: my-app\n", 1)
        + "        ports:
        - containerPort: 80
        env:
        - name: MODE
          value: blue
"
}

/// A child process, killed when dropped (also when a test fails half-way).
pub struct Running(pub Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    l.local_addr().expect("local addr").port()
}

/// `capstan up --listen 127.0.0.1:<port> --data-dir <data_dir> <flags>`, logging at `warn`, its
/// output discarded (callers may override either before spawning).
#[allow(dead_code)]
pub fn up_command(data_dir: &Path, port: u16, flags: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_capstan"));
    cmd.arg("up")
        .arg("--listen")
        .arg(format!("127.0.0.1:{port}"))
        .arg("--data-dir")
        .arg(data_dir)
        .args(flags)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    cmd
}

/// Starts [`up_command`] on a free port; the caller waits for readiness its own way.
#[allow(dead_code)]
pub fn up(data_dir: &Path, flags: &[&str]) -> Running {
    Running(
        up_command(data_dir, free_port(), flags)
            .spawn()
            .expect("start capstan up"),
    )
}

/// Calls `check` every `every` until it returns `Some`; panics with `what` after `limit`.
#[allow(dead_code)]
pub fn poll<T>(limit: Duration, every: Duration, what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(t) = check() {
            return t;
        }
        assert!(Instant::now() < deadline, "{what}");
        std::thread::sleep(every);
    }
}

/// Runs the real kubectl with `kubeconfig` (and a HOME beside it, so no user cache is read).
#[allow(dead_code)]
pub fn kubectl_at(kubeconfig: &Path, args: &[&str]) -> Output {
    Command::new(KUBECTL)
        .args(args)
        .env("KUBECONFIG", kubeconfig)
        .env("HOME", kubeconfig.parent().unwrap_or(Path::new("/tmp")))
        .output()
        .expect("run kubectl")
}

/// Runs `capstan <args> --kubeconfig <kubeconfig>`.
#[allow(dead_code)]
pub fn capstan_at(kubeconfig: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_capstan"))
        .args(args)
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .output()
        .expect("run capstan")
}

/// Whether `probe` exits successfully (its output discarded): an optional client is installed.
#[allow(dead_code)]
pub fn probe_succeeds(probe: &mut Command) -> bool {
    probe
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Whether a test of an optional client runs. CI installs the clients (.ci/run), so there a
/// missing one (`missing`, e.g. "python3 cannot import kubernetes") fails the test; elsewhere
/// it is skipped with `local_fix` as the hint.
#[allow(dead_code)]
pub fn client_runs(installed: bool, missing: &str, ci_fix: &str, local_fix: &str) -> bool {
    if !installed {
        assert!(
            std::env::var_os("CI").is_none(),
            "{missing} under CI: .ci/run must {ci_fix}"
        );
        eprintln!("skipped: {missing} ({local_fix})");
    }
    installed
}

/// Runs a client check (`run`) for up to 60 s, again every 200 ms while its stderr holds one of
/// `starting` (the server is still starting: no kubeconfig yet, or connection refused).
#[allow(dead_code)]
pub fn run_while_starting(starting: &[&str], mut run: impl FnMut() -> Output) -> Output {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let out = run();
        if out.status.success() || Instant::now() > deadline {
            return out;
        }
        let err = String::from_utf8_lossy(&out.stderr);
        if !starting.iter().any(|s| err.contains(s)) {
            return out;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// A running `capstan up` on a free port with its own data directory (removed on drop), as each
/// kubectl test starts one. Its warnings and errors (`RUST_LOG=warn`) go to `warnings.log` there.
#[allow(dead_code)]
pub struct Cluster {
    _process: Running,
    /// The data directory (kubeconfig, store, `warnings.log`); also where tests write manifests.
    pub dir: tempfile::TempDir,
}

#[allow(dead_code)]
impl Cluster {
    /// Starts `capstan up` with `flags` (e.g. `--in-memory`, `-f FILE`) and waits until it is ready.
    pub fn start(flags: &[&str]) -> Self {
        assert!(
            Path::new(KUBECTL).exists(),
            "these tests drive the real kubectl at {KUBECTL}"
        );
        let dir = tempfile::tempdir().expect("tempdir");
        let log = std::fs::File::create(dir.path().join("warnings.log")).expect("log file");
        let process = Running(
            up_command(dir.path(), free_port(), flags)
                .stderr(log)
                .spawn()
                .expect("start capstan up"),
        );
        let c = Self { _process: process, dir };
        poll(
            Duration::from_secs(30),
            Duration::from_millis(100),
            "capstan up did not become ready",
            || (c.kubeconfig().exists() && c.kubectl(&["get", "--raw", "/readyz"]).status.success()).then_some(()),
        );
        c
    }

    /// The kubeconfig `capstan up` wrote.
    pub fn kubeconfig(&self) -> std::path::PathBuf {
        self.dir.path().join("kubeconfig.yaml")
    }

    /// Runs kubectl against the cluster.
    pub fn kubectl(&self, args: &[&str]) -> Output {
        kubectl_at(&self.kubeconfig(), args)
    }

    /// Runs kubectl and returns stdout; on a non-zero exit fails the test, showing what the cluster
    /// holds.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.kubectl(args);
        if !out.status.success() {
            let state = self.kubectl(&["get", "ns,nodes,deploy,rs,pods", "-A", "-o", "wide"]);
            panic!(
                "kubectl {args:?} failed: {}{}\ncluster:\n{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr),
                String::from_utf8_lossy(&state.stdout),
                String::from_utf8_lossy(&state.stderr)
            );
        }
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs kubectl expecting failure; returns stderr.
    pub fn fails(&self, args: &[&str]) -> String {
        let out = self.kubectl(args);
        assert!(
            !out.status.success(),
            "kubectl {args:?} should have failed: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8_lossy(&out.stderr).into_owned()
    }

    /// Writes `text` to `name` in the data directory; returns its path.
    pub fn write(&self, name: &str, text: &str) -> String {
        let p = self.dir.path().join(name);
        std::fs::write(&p, text).expect("write manifest");
        p.display().to_string()
    }

    /// What `capstan up` logged at warning level or above so far.
    pub fn warnings(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("warnings.log")).unwrap_or_default()
    }
}

/// The path of `examples/<name>` in the repository.
#[allow(dead_code)]
pub fn example(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples")
        .join(name)
        .display()
        .to_string()
}
