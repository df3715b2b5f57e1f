//! `capstan apply`, `get` and `delete`: small clients of the API for machines without kubectl.
//!
//! They wire crates together and speak no HTTP themselves: the server is reached through
//! capstan-store's [`RemoteStore`] (kubeconfig, TLS, token, resuming watches), and every command
//! takes a [`Store`], so the in-process store runs the same code in the unit tests.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, anyhow};
use capstan_core::{FieldSelector, ObjectKey, TypeKey};
use capstan_server::discovery::{Registry, ResourceInfo};
use capstan_store::remote::{ConfigError, RemoteStore};
use capstan_store::{DeleteParams, ListParams, Store, StoreError, Subresource, WatchEvent, WatchParams};
use futures::StreamExt;
use serde_json::{Value, json};

use crate::manifests;
use crate::output::{self, Format, explain, object_label};

/// How many times `apply` re-reads and retries an update that lost a resourceVersion race.
const APPLY_ATTEMPTS: usize = 5;

/// Where the server is.
#[derive(clap::Args, Debug)]
pub struct Connection {
    /// Kubeconfig file (default: $KUBECONFIG, else ./capstan-data/kubeconfig.yaml).
    #[arg(long)]
    kubeconfig: Option<PathBuf>,
    /// Namespace (default: the kubeconfig context's, else `default`).
    #[arg(short = 'n', long)]
    namespace: Option<String>,
}

impl Connection {
    /// The kubeconfig named by the flag, `$KUBECONFIG`, or `capstan up`'s default location.
    fn kubeconfig_path(&self) -> PathBuf {
        self.kubeconfig
            .clone()
            .or_else(|| {
                std::env::var_os("KUBECONFIG")
                    .filter(|v| !v.is_empty())
                    .map(PathBuf::from)
            })
            .unwrap_or_else(|| PathBuf::from("capstan-data/kubeconfig.yaml"))
    }

    /// The remote store and the namespace to work in.
    fn open(&self) -> anyhow::Result<(RemoteStore, String)> {
        let path = self.kubeconfig_path();
        let store = RemoteStore::from_kubeconfig(&path).map_err(|e| match e {
            // These name the file already.
            ConfigError::Read { .. } | ConfigError::Parse { .. } => anyhow!("bad kubeconfig: {e}"),
            other => anyhow!("bad kubeconfig {}: {other}", path.display()),
        })?;
        let namespace = self
            .namespace
            .clone()
            .unwrap_or_else(|| store.default_namespace().to_owned());
        Ok((store, namespace))
    }
}

/// Finds a kind by plural, singular, short name or kind, optionally qualified by group (`deployments.apps`).
pub fn resolve<'a>(registry: &'a Registry, name: &str) -> anyhow::Result<&'a ResourceInfo> {
    let lower = name.to_ascii_lowercase();
    let (base, group) = match lower.split_once('.') {
        Some((b, g)) => (b.to_owned(), Some(g.to_owned())),
        None => (lower.clone(), None),
    };
    registry
        .resources()
        .iter()
        .find(|r| {
            let t = &r.type_key;
            group.as_ref().is_none_or(|g| *g == t.group)
                && (t.plural == base
                    || r.singular() == base
                    || t.kind.to_ascii_lowercase() == base
                    || r.short_names.contains(&base.as_str()))
        })
        .ok_or_else(|| anyhow!("the server doesn't have a resource type \"{name}\""))
}

/// The key of `name` in `namespace` (no namespace for cluster-scoped kinds).
fn key_in(t: &TypeKey, namespace: &str, name: &str) -> ObjectKey {
    if t.namespaced {
        ObjectKey::new(namespace, name)
    } else {
        ObjectKey::cluster(name)
    }
}

/// `capstan apply -f`.
pub async fn apply(conn: &Connection, files: &[PathBuf]) -> anyhow::Result<()> {
    let docs = manifests::read_all(files)?;
    let (store, namespace) = conn.open()?;
    apply_documents(&store, &namespace, docs, &mut std::io::stdout()).await
}

/// Creates each object, or merges the manifest into the stored one and updates it at the stored
/// resourceVersion; prints `kind/name created|configured|unchanged` per object.
pub async fn apply_documents(
    store: &dyn Store,
    namespace: &str,
    docs: Vec<Value>,
    out: &mut (dyn Write + Send),
) -> anyhow::Result<()> {
    for mut doc in docs {
        let av = doc["apiVersion"].as_str().unwrap_or_default().to_owned();
        let kind = doc["kind"].as_str().unwrap_or_default().to_owned();
        let t = crate::kinds::of_manifest(store, &av, &kind).await?;
        let name = doc["metadata"]["name"]
            .as_str()
            .filter(|n| !n.is_empty())
            .with_context(|| format!("a {kind} manifest has no metadata.name"))?
            .to_owned();
        if t.namespaced {
            let ns = doc["metadata"]["namespace"].as_str().unwrap_or(namespace).to_owned();
            doc["metadata"]["namespace"] = json!(ns);
        }
        let verb = match store.create(&t, doc.clone()).await {
            Ok(_) => "created",
            Err(StoreError::AlreadyExists { .. }) => {
                let key = key_in(&t, doc["metadata"]["namespace"].as_str().unwrap_or(""), &name);
                configure(store, &t, &key, &doc).await?
            }
            Err(e) => return Err(explain(&e)),
        };
        writeln!(out, "{} {verb}", object_label(&t, &name))?;
    }
    Ok(())
}

/// Merges `manifest` into the stored object and writes it back at the revision read; re-reads on
/// a resourceVersion conflict. Returns `configured`, or `unchanged` when nothing changed.
async fn configure(store: &dyn Store, t: &TypeKey, key: &ObjectKey, manifest: &Value) -> anyhow::Result<&'static str> {
    let mut last = None;
    for _ in 0..APPLY_ATTEMPTS {
        let current = store.get(t, key).await.map_err(|e| explain(&e))?;
        let mut merged = current.json().clone();
        capstan_store::patch::merge_patch(&mut merged, manifest);
        if merged == *current.json() {
            return Ok("unchanged");
        }
        merged["metadata"]["resourceVersion"] = json!(current.revision().to_string());
        match store.update(t, merged, Subresource::Main).await {
            // The store skips a write that changes nothing (e.g. only `status` differed).
            Ok(written) if written.revision() == current.revision() => return Ok("unchanged"),
            Ok(_) => return Ok("configured"),
            Err(e @ StoreError::Conflict { .. }) => {
                tracing::debug!(error = %e, "apply lost a race; reading the object again");
                last = Some(e);
            }
            Err(e) => return Err(explain(&e)),
        }
    }
    match last {
        Some(e) => Err(explain(&e)),
        None => Err(anyhow!("apply of {key} made no attempt")),
    }
}

/// What `capstan get` shows.
pub struct GetOptions {
    /// Kind as typed.
    pub kind: String,
    /// One object, or all.
    pub name: Option<String>,
    /// Follow changes.
    pub watch: bool,
    /// `yaml`, `json`, or a table.
    pub output: Option<String>,
    /// Every namespace.
    pub all_namespaces: bool,
}

/// `capstan get KIND [NAME] [-w] [-o yaml|json] [-A]`.
pub async fn get(conn: &Connection, opts: &GetOptions) -> anyhow::Result<()> {
    let format = Format::parse(opts.output.as_deref())?;
    let (store, namespace) = conn.open()?;
    let t = crate::kinds::by_name(&store, &opts.kind).await?;
    let scope = (!opts.all_namespaces).then_some(namespace.as_str());
    get_objects(&store, &t, scope, opts, format, &mut std::io::stdout()).await
}

/// Prints one object or the objects of a kind in `namespace` (`None`: every namespace), then, with
/// `opts.watch`, every later change until the stream ends.
pub async fn get_objects(
    store: &dyn Store,
    t: &TypeKey,
    namespace: Option<&str>,
    opts: &GetOptions,
    format: Format,
    out: &mut (dyn Write + Send),
) -> anyhow::Result<()> {
    let namespace_column = namespace.is_none() && t.namespaced;
    let from_revision = match &opts.name {
        Some(name) => {
            let key = key_in(t, namespace.unwrap_or(""), name);
            let obj = store.get(t, &key).await.map_err(|e| explain(&e))?;
            match format {
                Format::Table => output::print_table(out, t, &[obj.json()], true, namespace_column)?,
                _ => output::print_value(out, obj.json(), format)?,
            }
            obj.revision()
        }
        None => {
            let params = ListParams {
                namespace: namespace.map(str::to_owned),
                ..ListParams::default()
            };
            let list = store.list(t, &params).await.map_err(|e| explain(&e))?;
            let objects: Vec<&Value> = list.items.iter().map(|o| o.json()).collect();
            match format {
                Format::Table if objects.is_empty() => {
                    let place = match namespace {
                        Some(ns) if t.namespaced => format!(" in {ns} namespace"),
                        _ => String::new(),
                    };
                    eprintln!("No resources found{place}.");
                }
                Format::Table => output::print_table(out, t, &objects, true, namespace_column)?,
                _ => {
                    let doc = json!({
                        "apiVersion": t.api_version(),
                        "kind": format!("{}List", t.kind),
                        "metadata": {"resourceVersion": list.revision.to_string()},
                        "items": objects,
                    });
                    output::print_value(out, &doc, format)?;
                }
            }
            list.revision
        }
    };
    out.flush()?;
    if !opts.watch {
        return Ok(());
    }
    let mut field_selector = FieldSelector::default();
    if let Some(name) = &opts.name {
        field_selector = FieldSelector::parse(&format!("metadata.name={name}")).map_err(|e| anyhow!("{e}"))?;
    }
    let params = WatchParams {
        namespace: namespace.map(str::to_owned),
        field_selector,
        from_revision,
        ..WatchParams::default()
    };
    let mut events = store.watch(t, &params).await.map_err(|e| explain(&e))?;
    while let Some(event) = events.next().await {
        let obj = match event.map_err(|e| anyhow!("watch ended: {}", explain(&e)))? {
            WatchEvent::Added(o) | WatchEvent::Modified(o) | WatchEvent::Deleted(o) => o,
            WatchEvent::Bookmark(_) => continue,
        };
        match format {
            Format::Table => output::print_table(out, t, &[obj.json()], false, namespace_column)?,
            _ => output::print_value(out, obj.json(), format)?,
        }
        out.flush()?;
    }
    Ok(())
}

/// `capstan delete KIND NAME`.
pub async fn delete(conn: &Connection, kind: &str, name: &str) -> anyhow::Result<()> {
    let (store, namespace) = conn.open()?;
    let t = crate::kinds::by_name(&store, kind).await?;
    delete_object(&store, &t, &namespace, name, &mut std::io::stdout()).await
}

/// Deletes one object (finalizers may keep it a while) and prints `kind/name deleted`.
pub async fn delete_object(
    store: &dyn Store,
    t: &TypeKey,
    namespace: &str,
    name: &str,
    out: &mut (dyn Write + Send),
) -> anyhow::Result<()> {
    store
        .delete(t, &key_in(t, namespace, name), &DeleteParams::default())
        .await
        .map_err(|e| explain(&e))?;
    writeln!(out, "{} deleted", object_label(t, name))?;
    Ok(())
}

#[cfg(test)]
#[path = "tests/commands.rs"]
mod tests;
