//! `capstan apply`, `get` and `delete`: small clients of the API, for machines without kubectl.

use std::path::PathBuf;

use anyhow::{Context, anyhow};
use capstan_server::discovery::{Registry, ResourceInfo};
use http::Method;
use http_body_util::BodyExt;
use serde_json::Value;

use crate::client::{Client, check};
use crate::{kubeconfig, manifests};

const TABLE: &str = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json";

/// Where the server is.
#[derive(clap::Args, Debug)]
pub struct Connection {
    /// Kubeconfig file (default: $KUBECONFIG, else ./capstan-data/kubeconfig.yaml).
    #[arg(long)]
    kubeconfig: Option<PathBuf>,
    /// Namespace.
    #[arg(short = 'n', long, default_value = "default")]
    namespace: String,
}

impl Connection {
    fn client(&self) -> anyhow::Result<Client> {
        let path = self
            .kubeconfig
            .clone()
            .or_else(|| std::env::var_os("KUBECONFIG").map(PathBuf::from))
            .unwrap_or_else(|| PathBuf::from("capstan-data/kubeconfig.yaml"));
        Client::new(&kubeconfig::load(&path)?)
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

/// The collection path of a kind (`None` namespace: every namespace, or cluster-scoped).
pub fn collection_path(info: &ResourceInfo, namespace: Option<&str>) -> String {
    let t = &info.type_key;
    let base = if t.group.is_empty() {
        format!("/api/{}", t.version)
    } else {
        format!("/apis/{}/{}", t.group, t.version)
    };
    match namespace {
        Some(ns) if t.namespaced => format!("{base}/namespaces/{ns}/{}", t.plural),
        _ => format!("{base}/{}", t.plural),
    }
}

fn display_name(info: &ResourceInfo, name: &str) -> String {
    let t = &info.type_key;
    if t.group.is_empty() {
        format!("{}/{name}", t.kind.to_lowercase())
    } else {
        format!("{}.{}/{name}", t.kind.to_lowercase(), t.group)
    }
}

/// `capstan apply -f`: creates each object, or merges the manifest into the existing one.
pub async fn apply(conn: &Connection, files: &[PathBuf]) -> anyhow::Result<()> {
    let client = conn.client()?;
    let registry = Registry::builtin();
    for doc in manifests::read_all(files)? {
        let av = doc["apiVersion"].as_str().unwrap_or_default();
        let kind = doc["kind"].as_str().unwrap_or_default();
        let info = registry
            .find_kind(av, kind)
            .ok_or_else(|| anyhow!("no kind {kind} in {av} on the server"))?;
        let name = doc["metadata"]["name"]
            .as_str()
            .context("a manifest object has no metadata.name")?;
        let ns = doc["metadata"]["namespace"]
            .as_str()
            .unwrap_or(&conn.namespace)
            .to_owned();
        let coll = collection_path(info, Some(&ns));
        let path = format!("{coll}/{name}");
        let (status, _) = client.json(Method::GET, &path, None, None, "application/json").await?;
        let verb = if status == 404 {
            let (s, body) = client
                .json(
                    Method::POST,
                    &coll,
                    Some("application/json"),
                    Some(&doc),
                    "application/json",
                )
                .await?;
            check(s, &body)?;
            "created"
        } else {
            let (s, body) = client
                .json(
                    Method::PATCH,
                    &path,
                    Some("application/merge-patch+json"),
                    Some(&doc),
                    "application/json",
                )
                .await?;
            check(s, &body)?;
            "configured"
        };
        println!("{} {verb}", display_name(info, name));
    }
    Ok(())
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

fn print_table(table: &Value, headers: bool, namespaced_col: bool) {
    let cols: Vec<(usize, String)> = table["columnDefinitions"]
        .as_array()
        .map(|c| {
            c.iter()
                .enumerate()
                .filter(|(_, d)| d["priority"].as_i64().unwrap_or(0) == 0)
                .map(|(i, d)| (i, d["name"].as_str().unwrap_or("").to_uppercase()))
                .collect()
        })
        .unwrap_or_default();
    let mut rows: Vec<Vec<String>> = Vec::new();
    if headers {
        let mut h: Vec<String> = cols.iter().map(|(_, n)| n.clone()).collect();
        if namespaced_col {
            h.insert(0, "NAMESPACE".into());
        }
        rows.push(h);
    }
    for row in table["rows"].as_array().into_iter().flatten() {
        let mut cells: Vec<String> = cols
            .iter()
            .map(|(i, _)| match &row["cells"][*i] {
                Value::String(s) => s.clone(),
                Value::Null => "<none>".into(),
                other => other.to_string(),
            })
            .collect();
        if namespaced_col {
            cells.insert(
                0,
                row["object"]["metadata"]["namespace"].as_str().unwrap_or("").to_owned(),
            );
        }
        rows.push(cells);
    }
    let widths: Vec<usize> = (0..rows.first().map_or(0, Vec::len))
        .map(|c| rows.iter().map(|r| r[c].len()).max().unwrap_or(0))
        .collect();
    for r in rows {
        let line: Vec<String> = r.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}")).collect();
        println!("{}", line.join("   ").trim_end());
    }
}

fn print_value(v: &Value, output: &str) -> anyhow::Result<()> {
    match output {
        "json" => println!("{}", serde_json::to_string_pretty(v)?),
        "yaml" => print!("{}", serde_saphyr::to_string(v)?),
        other => return Err(anyhow!("unknown output format {other:?} (use yaml or json)")),
    }
    Ok(())
}

/// `capstan get KIND [NAME] [-w] [-o yaml|json]`.
pub async fn get(conn: &Connection, opts: &GetOptions) -> anyhow::Result<()> {
    let client = conn.client()?;
    let registry = Registry::builtin();
    let info = resolve(&registry, &opts.kind)?;
    let ns = (!opts.all_namespaces).then_some(conn.namespace.as_str());
    let coll = collection_path(info, ns);
    let path = match &opts.name {
        Some(n) => format!("{coll}/{n}"),
        None => coll.clone(),
    };
    let accept = if opts.output.is_some() {
        "application/json"
    } else {
        TABLE
    };
    let (status, body) = client.json(Method::GET, &path, None, None, accept).await?;
    check(status, &body)?;
    let ns_col = opts.all_namespaces && info.type_key.namespaced;
    match &opts.output {
        Some(o) => print_value(&body, o)?,
        None if body["rows"].as_array().is_some_and(Vec::is_empty) => {
            eprintln!(
                "No resources found{}.",
                ns.map(|n| format!(" in {n} namespace")).unwrap_or_default()
            )
        }
        None => print_table(&body, true, ns_col),
    }
    if !opts.watch {
        return Ok(());
    }
    let rv = body["metadata"]["resourceVersion"].as_str().unwrap_or("0");
    let mut watch_path = format!("{coll}?watch=1&resourceVersion={rv}");
    if let Some(n) = &opts.name {
        watch_path.push_str(&format!("&fieldSelector=metadata.name%3D{n}"));
    }
    let resp = client.send(Method::GET, &watch_path, None, accept, Vec::new()).await?;
    let mut body = resp.into_body();
    let mut buf: Vec<u8> = Vec::new();
    while let Some(frame) = body.frame().await {
        let Ok(data) = frame?.into_data() else { continue };
        buf.extend_from_slice(&data);
        while let Some(pos) = buf.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = buf.drain(..=pos).collect();
            let ev: Value = serde_json::from_slice(&line)?;
            match (ev["type"].as_str(), &opts.output) {
                (Some("BOOKMARK"), _) => {}
                (Some("ERROR"), _) => return Err(anyhow!("watch ended: {}", ev["object"]["message"])),
                (_, Some(o)) => print_value(&ev["object"], o)?,
                (_, None) => print_table(&ev["object"], false, ns_col),
            }
        }
    }
    Ok(())
}

/// `capstan delete KIND NAME`.
pub async fn delete(conn: &Connection, kind: &str, name: &str) -> anyhow::Result<()> {
    let client = conn.client()?;
    let registry = Registry::builtin();
    let info = resolve(&registry, kind)?;
    let path = format!("{}/{name}", collection_path(info, Some(&conn.namespace)));
    let (status, body) = client
        .json(Method::DELETE, &path, None, None, "application/json")
        .await?;
    check(status, &body)?;
    println!("{} deleted", display_name(info, name));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_resolve_by_plural_singular_short_name_and_group() {
        let r = Registry::builtin();
        for n in ["deployments", "deployment", "deploy", "Deployment", "deployments.apps"] {
            assert_eq!(resolve(&r, n).unwrap().type_key.kind, "Deployment", "{n}");
        }
        assert_eq!(resolve(&r, "po").unwrap().type_key.kind, "Pod");
        assert!(resolve(&r, "widgets").is_err());
        let pods = resolve(&r, "pods").unwrap();
        assert_eq!(
            collection_path(pods, Some("default")),
            "/api/v1/namespaces/default/pods"
        );
        assert_eq!(
            collection_path(resolve(&r, "ns").unwrap(), Some("x")),
            "/api/v1/namespaces"
        );
    }
}
