//! `capstan up`: the whole control plane in one process.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail};
use capstan_core::ObjectKey;
use capstan_server::patch::merge::merge_patch;
use capstan_server::{ApiServer, Registry, ServerConfig, TlsMaterial, tls};
use capstan_store::{DurableStore, MemoryStore, Store, StoreError, Subresource};
use serde_json::json;
use tokio::net::TcpListener;

use crate::{kubeconfig, manifests};

/// Arguments of `capstan up`.
#[derive(clap::Args, Debug)]
pub struct UpArgs {
    /// Manifest files or directories to apply once the server is up.
    #[arg(short = 'f', long = "filename")]
    files: Vec<PathBuf>,
    /// Where the store, token, certificates and kubeconfig live.
    #[arg(long, default_value = "capstan-data")]
    data_dir: PathBuf,
    /// Address to serve the API on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:6443")]
    listen: SocketAddr,
    /// Keep everything in memory (nothing survives a restart).
    #[arg(long)]
    in_memory: bool,
    /// How many simulated nodes the node agent runs.
    #[arg(long, default_value_t = 3)]
    nodes: u32,
    /// Serve this certificate (PEM) instead of a generated one; needs --tls-key.
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The private key (PEM) of --tls-cert.
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// The CA (PEM) that signed --tls-cert, written into the kubeconfig (default: the certificate itself).
    #[arg(long, requires = "tls_cert")]
    tls_ca: Option<PathBuf>,
    /// Serve plain HTTP (loopback addresses only).
    #[arg(long, conflicts_with = "tls_cert")]
    insecure_http: bool,
    /// Run only the store and the API server; run the controllers elsewhere with
    /// `capstan controller-manager --kubeconfig DATA_DIR/kubeconfig.yaml`.
    #[arg(long)]
    no_controllers: bool,
}

fn read(path: &Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))
}

/// The token in `DATA_DIR/token`, generated on first start.
fn token(data_dir: &Path) -> anyhow::Result<String> {
    let path = data_dir.join("token");
    if let Ok(t) = std::fs::read_to_string(&path) {
        let t = t.trim().to_owned();
        if !t.is_empty() {
            return Ok(t);
        }
    }
    let t = capstan_server::auth::generate_token();
    tls::write_private(&path, &t)?;
    Ok(t)
}

fn tls_material(args: &UpArgs) -> anyhow::Result<Option<TlsMaterial>> {
    if args.insecure_http {
        return Ok(None);
    }
    if let (Some(cert), Some(key)) = (&args.tls_cert, &args.tls_key) {
        let cert_pem = read(cert)?;
        let ca_pem = match &args.tls_ca {
            Some(ca) => read(ca)?,
            None => cert_pem.clone(),
        };
        return Ok(Some(TlsMaterial {
            ca_pem,
            cert_pem,
            key_pem: read(key)?,
        }));
    }
    Ok(Some(TlsMaterial::load_or_generate(&args.data_dir)?))
}

/// Refuses exposing the API beyond this machine without TLS material the operator chose.
fn check_listen(args: &UpArgs) -> anyhow::Result<()> {
    let ip = args.listen.ip();
    if ip.is_loopback() {
        return Ok(());
    }
    if args.insecure_http {
        bail!("refusing to serve plain HTTP on non-loopback address {ip}: use TLS");
    }
    if args.tls_cert.is_none() {
        bail!(
            "refusing to listen on non-loopback address {ip} without TLS material for it: pass --tls-cert and --tls-key \
             (the generated certificate only names 127.0.0.1 and localhost)"
        );
    }
    Ok(())
}

async fn ensure_namespaces(store: &Arc<dyn Store>, registry: &Registry) -> anyhow::Result<()> {
    let ns = registry
        .find("", "v1", "namespaces")
        .context("no Namespace kind")?
        .type_key
        .clone();
    for name in ["default", "kube-system", "kube-public", "kube-node-lease"] {
        if store.get(&ns, &ObjectKey::cluster(name)).await.is_ok() {
            continue;
        }
        let obj = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}});
        match store.create(&ns, obj).await {
            Ok(_) | Err(StoreError::AlreadyExists { .. }) => {}
            Err(e) => return Err(e).context(format!("creating namespace {name}")),
        }
    }
    Ok(())
}

/// Creates or updates one manifest object directly in the store (merge of the manifest into the
/// stored object). Returns `created` or `configured`.
async fn apply_one(store: &Arc<dyn Store>, registry: &Registry, mut doc: serde_json::Value) -> anyhow::Result<String> {
    let av = doc["apiVersion"].as_str().unwrap_or_default().to_owned();
    let kind = doc["kind"].as_str().unwrap_or_default().to_owned();
    let info = registry
        .find_kind(&av, &kind)
        .with_context(|| format!("no kind {kind} in {av}"))?;
    let t = info.type_key.clone();
    let name = doc["metadata"]["name"]
        .as_str()
        .context("metadata.name is missing")?
        .to_owned();
    let ns = if t.namespaced {
        let ns = doc["metadata"]["namespace"].as_str().unwrap_or("default").to_owned();
        doc["metadata"]["namespace"] = json!(ns);
        ns
    } else {
        String::new()
    };
    let label = format!("{}/{}", capstan_server::status::qualified(&t).to_lowercase(), name);
    match store.get(&t, &ObjectKey::new(ns, name)).await {
        Err(StoreError::NotFound { .. }) => {
            store.create(&t, doc).await?;
            Ok(format!("{label} created"))
        }
        Err(e) => Err(e.into()),
        Ok(current) => {
            let mut merged = merge_patch(current.json(), &doc);
            merged["metadata"]["resourceVersion"] = json!(current.revision().to_string());
            store.update(&t, merged, Subresource::Main).await?;
            Ok(format!("{label} configured"))
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => {
                let _ = ctrl_c.await;
                return;
            }
        };
        tokio::select! {
            biased;
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

/// Runs `capstan up` until Ctrl-C or SIGTERM.
pub async fn run(args: UpArgs) -> anyhow::Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,hyper=warn,rustls=warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        // Logs go to stderr, as Kubernetes components' do; stdout keeps what a script reads.
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();

    check_listen(&args)?;
    // Read every manifest before anything starts: a typo in `-f` fails at once and creates nothing.
    let documents = manifests::read_all(&args.files)?;
    std::fs::create_dir_all(&args.data_dir).with_context(|| format!("creating {}", args.data_dir.display()))?;
    let data_dir = args.data_dir.canonicalize()?;
    let token = token(&data_dir)?;
    let material = tls_material(&args)?;
    let tls_config = material.as_ref().map(TlsMaterial::server_config).transpose()?;

    let durable: Option<Arc<DurableStore>> = if args.in_memory {
        tracing::info!("store: in memory");
        None
    } else {
        let dir = data_dir.join("store");
        tracing::info!(dir = %dir.display(), "store: durable");
        Some(Arc::new(
            DurableStore::open(&dir).await.context("opening the durable store")?,
        ))
    };
    let store: Arc<dyn Store> = match &durable {
        Some(d) => d.clone(),
        None => Arc::new(MemoryStore::new()),
    };
    let registry = Registry::builtin();
    ensure_namespaces(&store, &registry).await?;

    let listener = TcpListener::bind(args.listen).await.with_context(|| {
        format!(
            "listening on {} (is another capstan up or server using it? choose another with --listen)",
            args.listen
        )
    })?;
    let local = listener.local_addr()?;
    let host = match local.ip() {
        ip if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        ip => ip,
    };
    let scheme = if material.is_some() { "https" } else { "http" };
    let server_url = format!("{scheme}://{}", SocketAddr::new(host, local.port()));
    let kubeconfig_path = data_dir.join("kubeconfig.yaml");
    tls::write_private(
        &kubeconfig_path,
        &kubeconfig::render(&server_url, material.as_ref().map(|m| m.ca_pem.as_str()), &token),
    )?;

    let manager = (!args.no_controllers).then(|| capstan_runtime::Manager::new(Arc::clone(&store)));
    let config = ServerConfig {
        token: Some(token),
        registry: registry.clone(),
        observability: manager.as_ref().map(|m| {
            Arc::new(crate::controller_manager::ManagerObservability::new(m))
                as Arc<dyn capstan_server::observe::Observability>
        }),
        ..ServerConfig::default()
    };
    let api = Arc::new(ApiServer::new(Arc::clone(&store), config));
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut stop_server = stop_rx.clone();
    let server_task = tokio::spawn(Arc::clone(&api).serve(listener, tls_config, async move {
        let _ = stop_server.wait_for(|s| *s).await;
    }));
    tracing::info!(server = %server_url, nodes = args.nodes, "API server listening");
    println!(
        "capstan is up at {server_url}\n  export KUBECONFIG={}",
        kubeconfig_path.display()
    );

    // The controllers (ReplicaSet, Deployment, garbage collector) and the simulated node agent run in
    // this process on the same store, until the shutdown signal (with --no-controllers, elsewhere).
    let manager_task = match manager {
        Some(manager) => {
            let controllers = capstan_controllers::ControllersConfig {
                nodes: args.nodes as usize,
                ..capstan_controllers::ControllersConfig::default()
            };
            capstan_controllers::install(&manager, &controllers)
                .await
                .context("starting the controllers")?;
            let mut stop_manager = stop_rx.clone();
            Some(tokio::spawn(manager.run(async move {
                let _ = stop_manager.wait_for(|s| *s).await;
            })))
        }
        None => {
            tracing::info!(
                "controllers off: run `capstan controller-manager --kubeconfig {}`",
                kubeconfig_path.display()
            );
            None
        }
    };

    for doc in documents {
        let defines_kind = doc["kind"] == "CustomResourceDefinition";
        // The server's registry follows CustomResourceDefinitions: a kind defined by an earlier
        // document of the same manifests can be applied by a later one.
        match apply_one(&store, &api.registry(), doc).await {
            Ok(msg) => tracing::info!("{msg}"),
            Err(e) => tracing::error!("apply failed: {e:#}"),
        }
        if defines_kind && let Err(e) = api.sync_crds().await {
            tracing::error!("registering custom resource definitions failed: {e}");
        }
    }

    shutdown_signal().await;
    tracing::info!("shutting down");
    let _ = stop_tx.send(true);
    drop(stop_rx);
    let _ = server_task.await;
    let manager_result = match manager_task {
        Some(task) => Some(task.await),
        None => None,
    };
    match manager_result {
        None | Some(Ok(Ok(()))) => {}
        Some(Ok(Err(e))) => tracing::error!("controllers stopped with an error: {e}"),
        Some(Err(e)) => tracing::error!("controllers task failed: {e}"),
    }
    drop(api);
    drop(store);
    if let Some(d) = durable {
        match Arc::try_unwrap(d) {
            Ok(d) => d.close().await,
            Err(_) => tracing::warn!("connections still hold the store; it closes when they end"),
        }
    }
    tracing::info!("stopped");
    Ok(())
}
