//! `capstan controller-manager`: the built-in controllers in their own process, against an API
//! server reached through a kubeconfig (a [`RemoteStore`]), as kube-controller-manager runs beside
//! kube-apiserver. Pair it with `capstan up --no-controllers`.
//!
//! Leader election is on by default (a Lease named `capstan-controller-manager` in `kube-system`),
//! so several copies can run and only one acts; `--leader-elect=false` turns it off.
//!
//! Also here: [`ManagerObservability`], which lets the API server of `capstan up` report a
//! manager's health and metrics on `/healthz`, `/readyz` and `/metrics`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use capstan_runtime::{Health, LeaderElectionConfig, Manager, MetricsRegistry};
use capstan_server::observe::Observability;
use capstan_store::Store;
use capstan_store::remote::RemoteStore;

/// The Lease controller-manager candidates compete for.
pub const LEASE_NAME: &str = "capstan-controller-manager";

/// The namespace of that Lease.
pub const LEASE_NAMESPACE: &str = "kube-system";

/// Arguments of `capstan controller-manager`.
#[derive(clap::Args, Debug)]
pub struct ControllerManagerArgs {
    /// The kubeconfig of the API server to run against (for example `capstan-data/kubeconfig.yaml`;
    /// default: $KUBECONFIG).
    #[arg(long)]
    kubeconfig: Option<PathBuf>,
    /// Take part in leader election (a Lease in kube-system) so that only one copy acts.
    #[arg(long, default_value_t = true, num_args = 0..=1, default_missing_value = "true", action = clap::ArgAction::Set)]
    leader_elect: bool,
    /// This candidate's identity in the election (default: host name and a random suffix).
    #[arg(long)]
    identity: Option<String>,
    /// How many simulated nodes the node agent runs.
    #[arg(long, default_value_t = 3)]
    nodes: u32,
    /// Do not run the simulated node agent (pods then stay Pending, as without kubelets).
    #[arg(long)]
    no_node_agent: bool,
    /// How long to keep trying to reach the API server at start.
    #[arg(long, default_value = "30", value_name = "SECONDS")]
    connect_timeout: u64,
}

/// A manager's health and metrics, as the API server's health and metrics endpoints report them.
pub struct ManagerObservability {
    health: Health,
    metrics: MetricsRegistry,
}

impl ManagerObservability {
    /// Reports `manager`'s health and metrics (clones follow the manager while it runs).
    pub fn new(manager: &Manager) -> Self {
        Self {
            health: manager.health(),
            metrics: manager.metrics(),
        }
    }
}

impl Observability for ManagerObservability {
    fn metrics(&self) -> String {
        self.metrics.render()
    }

    fn live(&self) -> Result<(), String> {
        if self.health.is_live() {
            Ok(())
        } else {
            Err("the controller manager stopped (leadership lost)".into())
        }
    }

    fn ready(&self) -> Result<(), String> {
        if self.health.is_ready() {
            return Ok(());
        }
        let waiting: Vec<String> = self
            .health
            .report()
            .caches
            .into_iter()
            .filter(|(_, synced)| !synced)
            .map(|(kind, _)| kind)
            .collect();
        if waiting.is_empty() {
            Err("the controller manager is not running".into())
        } else {
            Err(format!("caches not synced: {}", waiting.join(", ")))
        }
    }
}

fn identity(args: &ControllerManagerArgs) -> String {
    if let Some(id) = &args.identity {
        return id.clone();
    }
    let host = std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "capstan".into());
    let suffix: String = capstan_server::auth::generate_token()
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(8)
        .collect::<String>()
        .to_lowercase();
    format!("{host}_{suffix}")
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        if let Ok(mut term) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            tokio::select! {
                biased;
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

/// Waits until the API server answers (it may still be starting).
async fn reach(store: &RemoteStore, timeout: Duration) -> anyhow::Result<u64> {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        match store.current_revision().await {
            Ok(rev) => return Ok(rev),
            Err(e) if tokio::time::Instant::now() < deadline => {
                tracing::debug!(error = %e, "API server not reachable yet");
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            Err(e) => return Err(e).with_context(|| format!("reaching the API server at {}", store.server())),
        }
    }
}

/// Runs `capstan controller-manager` until Ctrl-C or SIGTERM (or lost leadership: an error).
pub async fn run(args: ControllerManagerArgs) -> anyhow::Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,hyper=warn,rustls=warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        // Logs go to stderr, as Kubernetes components' do; stdout keeps what a script reads.
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();

    let kubeconfig = match (&args.kubeconfig, std::env::var_os("KUBECONFIG")) {
        (Some(path), _) => path.clone(),
        (None, Some(env)) if !env.is_empty() => PathBuf::from(env),
        (None, _) => anyhow::bail!("no kubeconfig: pass --kubeconfig FILE or set KUBECONFIG"),
    };
    let remote = RemoteStore::from_kubeconfig(&kubeconfig)
        .with_context(|| format!("using kubeconfig {}", kubeconfig.display()))?;
    let revision = reach(&remote, Duration::from_secs(args.connect_timeout)).await?;
    tracing::info!(server = %remote.server(), revision, "connected to the API server");
    let store: Arc<dyn Store> = Arc::new(remote);

    let mut manager = Manager::new(store);
    if args.leader_elect {
        let id = identity(&args);
        tracing::info!(identity = %id, lease = %format!("{LEASE_NAMESPACE}/{LEASE_NAME}"), "leader election on");
        manager = manager.with_leader_election(LeaderElectionConfig::new(LEASE_NAME, id).namespace(LEASE_NAMESPACE));
    }
    let controllers = capstan_controllers::ControllersConfig {
        nodes: args.nodes as usize,
        node_agent: !args.no_node_agent,
        ..capstan_controllers::ControllersConfig::default()
    };
    capstan_controllers::install(&manager, &controllers)
        .await
        .context("starting the controllers")?;
    tracing::info!(
        nodes = args.nodes,
        node_agent = !args.no_node_agent,
        "controllers registered"
    );
    manager.run(shutdown_signal()).await.context("controller manager")?;
    tracing::info!("stopped");
    Ok(())
}
