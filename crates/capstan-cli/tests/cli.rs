//! `capstan apply|get|delete` against `capstan up` (HTTPS, token, through capstan-store's remote
//! backend): each failure is one readable line naming what failed, and `get -w` follows changes.

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::LazyLock;
use std::time::{Duration, Instant};

use common::{Running, capstan_at, free_port};

static MY_APP: LazyLock<String> = LazyLock::new(|| common::my_app(1));

/// `capstan up --in-memory` on a free port, ready to answer.
struct Cluster {
    _process: Running,
    dir: tempfile::TempDir,
}

impl Cluster {
    fn start() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let c = Self {
            _process: common::up(dir.path(), &["--in-memory"]),
            dir,
        };
        common::poll(
            Duration::from_secs(30),
            Duration::from_millis(100),
            "capstan up did not become ready",
            || (c.kubeconfig().exists() && c.capstan(&["get", "ns", "default"]).status.success()).then_some(()),
        );
        c
    }

    fn kubeconfig(&self) -> PathBuf {
        self.dir.path().join("kubeconfig.yaml")
    }

    fn capstan(&self, args: &[&str]) -> Output {
        capstan_at(&self.kubeconfig(), args)
    }

    fn write(&self, name: &str, text: &str) -> String {
        let p = self.dir.path().join(name);
        std::fs::write(&p, text).expect("write manifest");
        p.display().to_string()
    }
}

/// The stderr of a command that must fail, checked to be one `error: ...` line.
fn one_line_error(out: &Output) -> String {
    assert!(
        !out.status.success(),
        "should have failed: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    let err = String::from_utf8_lossy(&out.stderr).trim_end().to_owned();
    assert!(err.starts_with("error: ") && !err.contains('\n'), "{err}");
    err
}

#[test]
fn capstan_cli_errors_are_one_line_naming_what_failed() {
    let c = Cluster::start();

    let err = one_line_error(&c.capstan(&["get", "deploy", "nope"]));
    assert_eq!(
        err,
        "error: Error from server (NotFound): deployments.apps \"nope\" not found"
    );
    let err = one_line_error(&c.capstan(&["delete", "deploy", "nope"]));
    assert!(err.contains("(NotFound)") && err.contains("\"nope\""), "{err}");

    // Two field errors: both are named.
    let bad = MY_APP
        .replace("  replicas: 1", "  replicas: -1")
        .replace("        app: my-app\n    spec", "        app: other\n    spec");
    assert_ne!(bad, *MY_APP);
    let err = one_line_error(&c.capstan(&["apply", "-f", &c.write("bad.yaml", &bad)]));
    assert!(
        err.contains("(Invalid)") && err.contains("Deployment.apps \"my-app\" is invalid"),
        "{err}"
    );
    assert!(err.contains("spec.replicas") && err.contains("selector"), "{err}");
    assert!(
        !c.capstan(&["get", "deploy", "my-app"]).status.success(),
        "nothing was written"
    );

    let f = c.write("my-app.yaml", &MY_APP);
    let err = one_line_error(&c.capstan(&["apply", "-n", "nowhere", "-f", &f]));
    assert!(err.contains("namespaces \"nowhere\" not found"), "{err}");

    let err = one_line_error(&c.capstan(&["get", "widgets"]));
    assert!(err.contains("resource type \"widgets\""), "{err}");
    let err = one_line_error(&c.capstan(&["get", "deploy", "-o", "wide"]));
    assert!(err.contains("unknown output format"), "{err}");

    let missing = c.dir.path().join("missing.yaml");
    let err = one_line_error(&capstan_at(&missing, &["get", "pods"]));
    assert!(err.contains("bad kubeconfig") && err.contains("missing.yaml"), "{err}");
    let garbage = c.write(
        "garbage.yaml",
        "apiVersion: v1\nkind: Config\ncurrent-context: nowhere\n",
    );
    let err = one_line_error(&capstan_at(Path::new(&garbage), &["get", "pods"]));
    assert!(err.contains("bad kubeconfig"), "{err}");

    // A server that is not there: refused at once, not retried for ever.
    let closed_port = free_port();
    let kubeconfig: String = std::fs::read_to_string(c.kubeconfig())
        .expect("read kubeconfig")
        .lines()
        .map(|l| match l.split_once("server: ") {
            Some((indent, _)) => format!("{indent}server: https://127.0.0.1:{closed_port}\n"),
            None => format!("{l}\n"),
        })
        .collect();
    let closed = c.write("closed.yaml", &kubeconfig);
    let started = Instant::now();
    let err = one_line_error(&capstan_at(Path::new(&closed), &["get", "pods"]));
    assert!(
        err.contains("API server unavailable") && err.contains("refused"),
        "{err}"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn capstan_cli_apply_reports_unchanged_and_configured_and_get_lists_every_namespace() {
    let c = Cluster::start();
    let f = c.write("my-app.yaml", &MY_APP);
    let stdout = |out: Output| {
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert_eq!(
        stdout(c.capstan(&["apply", "-f", &f])),
        "deployment.apps/my-app created\n"
    );
    assert_eq!(
        stdout(c.capstan(&["apply", "-f", &f])),
        "deployment.apps/my-app unchanged\n"
    );
    let scaled = c.write("scaled.yaml", &MY_APP.replace("replicas: 1", "replicas: 3"));
    assert_eq!(
        stdout(c.capstan(&["apply", "-f", &scaled])),
        "deployment.apps/my-app configured\n"
    );
    let all = stdout(c.capstan(&["get", "deploy", "-A"]));
    let header = all.lines().next().unwrap_or_default();
    assert!(header.starts_with("NAMESPACE") && header.contains("READY"), "{all}");
    assert!(
        all.lines().any(|l| l.starts_with("default") && l.contains("my-app")),
        "{all}"
    );
    let yaml = stdout(c.capstan(&["get", "deploy", "my-app", "-o", "yaml"]));
    assert!(yaml.contains("replicas: 3"), "{yaml}");
}

#[test]
fn capstan_cli_get_watch_prints_later_changes() {
    let c = Cluster::start();
    let f = c.write("my-app.yaml", &MY_APP);
    assert!(c.capstan(&["apply", "-f", &f]).status.success());
    let mut watch = Running(
        Command::new(env!("CARGO_BIN_EXE_capstan"))
            .args(["get", "deploy", "my-app", "-w", "--kubeconfig"])
            .arg(c.kubeconfig())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start capstan get -w"),
    );
    let stdout = watch.0.stdout.take().expect("piped stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    let first = rx.recv_timeout(Duration::from_secs(10)).expect("the table header");
    assert!(first.starts_with("NAME"), "{first}");
    let scaled = c.write("scaled.yaml", &MY_APP.replace("replicas: 1", "replicas: 4"));
    assert!(c.capstan(&["apply", "-f", &scaled]).status.success());
    // The controllers and the edit change the deployment: a row with the new desired count comes.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let line = rx
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .expect("a row showing 4 desired replicas");
        assert!(line.starts_with("my-app"), "{line}");
        if line.contains("/4") {
            break;
        }
    }
}

#[test]
fn capstan_cli_manages_custom_resources_of_applied_crds() {
    let c = Cluster::start();
    let stdout = |out: Output| {
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let err = one_line_error(&c.capstan(&["apply", "-f", &common::example("greeting.yaml")]));
    assert!(err.contains("CustomResourceDefinition"), "{err}");
    let crds = stdout(c.capstan(&["apply", "-f", &common::example("greeting-crd.yaml")]));
    assert!(crds.contains("greetings.example.com created"), "{crds}");
    assert_eq!(
        stdout(c.capstan(&["apply", "-f", &common::example("greeting.yaml")])),
        "greeting.example.com/hello created\n"
    );
    let table = stdout(c.capstan(&["get", "greetings"]));
    assert!(table.contains("hello"), "{table}");
    let yaml = stdout(c.capstan(&["get", "gr", "hello", "-o", "yaml"]));
    assert!(yaml.contains("message: Hello from Capstan"), "{yaml}");
    assert_eq!(
        stdout(c.capstan(&["delete", "greeting", "hello"])),
        "greeting.example.com/hello deleted\n"
    );
    let err = one_line_error(&c.capstan(&["get", "widgets"]));
    assert!(err.contains("doesn't have a resource type \"widgets\""), "{err}");
}
