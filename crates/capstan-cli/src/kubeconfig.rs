//! Writing and reading the kubeconfig `capstan up` produces.

use std::path::Path;

use anyhow::{Context, anyhow};
use base64::Engine;
use serde_json::Value;

/// What a client needs to reach the server.
#[derive(Clone, Debug)]
pub struct Target {
    /// `https://127.0.0.1:6443` or `http://...`.
    pub server: String,
    /// The CA certificate (PEM), for https.
    pub ca_pem: Option<String>,
    /// The bearer token.
    pub token: Option<String>,
}

/// The kubeconfig text for a server, CA and token (context `capstan`).
pub fn render(server: &str, ca_pem: Option<&str>, token: &str) -> String {
    let ca = match ca_pem {
        Some(pem) => format!(
            "    certificate-authority-data: {}\n",
            base64::engine::general_purpose::STANDARD.encode(pem)
        ),
        None => String::new(),
    };
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: capstan\n  cluster:\n    server: {server}\n{ca}\
users:\n- name: capstan\n  user:\n    token: {token}\n\
contexts:\n- name: capstan\n  context:\n    cluster: capstan\n    user: capstan\n    namespace: default\n\
current-context: capstan\npreferences: {{}}\n"
    )
}

fn named<'a>(list: &'a Value, name: &str) -> Option<&'a Value> {
    list.as_array()?.iter().find(|e| e["name"].as_str() == Some(name))
}

/// Reads a kubeconfig's current context.
pub fn load(path: &Path) -> anyhow::Result<Target> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading kubeconfig {}", path.display()))?;
    let cfg: Value = serde_saphyr::from_str(&text).with_context(|| format!("parsing kubeconfig {}", path.display()))?;
    let ctx_name = cfg["current-context"]
        .as_str()
        .ok_or_else(|| anyhow!("kubeconfig has no current-context"))?;
    let ctx = &named(&cfg["contexts"], ctx_name).ok_or_else(|| anyhow!("context {ctx_name} not found"))?["context"];
    let cluster_name = ctx["cluster"].as_str().unwrap_or_default();
    let cluster =
        &named(&cfg["clusters"], cluster_name).ok_or_else(|| anyhow!("cluster {cluster_name} not found"))?["cluster"];
    let user = named(&cfg["users"], ctx["user"].as_str().unwrap_or_default()).map(|u| &u["user"]);
    let ca_pem = match cluster["certificate-authority-data"].as_str() {
        Some(b64) => Some(String::from_utf8(
            base64::engine::general_purpose::STANDARD
                .decode(b64.trim())
                .context("certificate-authority-data is not base64")?,
        )?),
        None => match cluster["certificate-authority"].as_str() {
            Some(file) => Some(std::fs::read_to_string(file).with_context(|| format!("reading {file}"))?),
            None => None,
        },
    };
    Ok(Target {
        server: cluster["server"]
            .as_str()
            .ok_or_else(|| anyhow!("cluster has no server"))?
            .to_owned(),
        ca_pem,
        token: user.and_then(|u| u["token"].as_str()).map(str::to_owned),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rendered_kubeconfig_loads_back() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("kubeconfig.yaml");
        std::fs::write(&p, render("https://127.0.0.1:6443", Some("PEM"), "tok")).unwrap();
        let t = load(&p).unwrap();
        assert_eq!(t.server, "https://127.0.0.1:6443");
        assert_eq!(t.ca_pem.as_deref(), Some("PEM"));
        assert_eq!(t.token.as_deref(), Some("tok"));
    }
}
