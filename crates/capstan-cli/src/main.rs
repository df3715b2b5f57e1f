//! `capstan`: run the control plane (`capstan up`) and talk to it (`apply`, `get`, `delete`).

mod commands;
mod controller_manager;
mod kinds;
mod kubeconfig;
mod manifests;
mod output;
mod up;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// Capstan: a Kubernetes-style control plane in one process.
#[derive(Parser, Debug)]
#[command(name = "capstan", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the store, the API server and the controllers; write a kubeconfig; apply manifests.
    Up(up::UpArgs),
    /// Run the controllers against an API server (a kubeconfig), with leader election.
    ControllerManager(controller_manager::ControllerManagerArgs),
    /// Create or update the objects in manifest files or directories.
    Apply {
        /// Manifest files or directories (YAML or JSON, multi-document).
        #[arg(short = 'f', long = "filename", required = true)]
        files: Vec<PathBuf>,
        #[command(flatten)]
        conn: commands::Connection,
    },
    /// Show objects of a kind, or one object.
    Get {
        /// Kind: plural, singular, short name or kind (pods, pod, po, Pod).
        kind: String,
        /// Object name.
        name: Option<String>,
        /// Keep watching for changes.
        #[arg(short = 'w', long)]
        watch: bool,
        /// Output format: yaml or json (default: a table).
        #[arg(short = 'o', long)]
        output: Option<String>,
        /// List across every namespace.
        #[arg(short = 'A', long)]
        all_namespaces: bool,
        #[command(flatten)]
        conn: commands::Connection,
    },
    /// Delete an object.
    Delete {
        /// Kind.
        kind: String,
        /// Object name.
        name: String,
        #[command(flatten)]
        conn: commands::Connection,
    },
}

/// Runs the command; errors are printed as one readable chain (`error: a: b`), never as a backtrace.
fn main() -> std::process::ExitCode {
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        // A reader that stopped early (`capstan get pods -o json | head`) is not a failure.
        Err(e)
            if e.downcast_ref::<std::io::Error>().map(std::io::Error::kind) == Some(std::io::ErrorKind::BrokenPipe) =>
        {
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    rt.block_on(async move {
        match cli.command {
            Command::Up(args) => up::run(args).await,
            Command::ControllerManager(args) => controller_manager::run(args).await,
            Command::Apply { files, conn } => commands::apply(&conn, &files).await,
            Command::Get {
                kind,
                name,
                watch,
                output,
                all_namespaces,
                conn,
            } => {
                let opts = commands::GetOptions {
                    kind,
                    name,
                    watch,
                    output,
                    all_namespaces,
                };
                commands::get(&conn, &opts).await
            }
            Command::Delete { kind, name, conn } => commands::delete(&conn, &kind, &name).await,
        }
    })
}
