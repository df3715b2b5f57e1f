//! Reading a kubeconfig: which server to call, which CA to trust, which token to send.
//!
//! Only what a bearer-token client needs is read, from the current context (or a named one):
//! the cluster's `server`, `certificate-authority-data` (or `certificate-authority`, a file relative
//! to the kubeconfig), `insecure-skip-tls-verify` and `tls-server-name`; the user's `token` (or
//! `tokenFile`); the context's `namespace`. Client certificates and exec plugins are not supported
//! and are reported as such, never silently ignored.

use std::path::{Path, PathBuf};

use base64::Engine;
use serde_json::Value;

/// Why a kubeconfig could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A file could not be read.
    #[error("reading {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The IO error.
        source: std::io::Error,
    },
    /// The kubeconfig is not YAML (or JSON) of the expected shape.
    #[error("parsing kubeconfig {path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What the parser said.
        message: String,
    },
    /// Something the client needs is missing or unusable.
    #[error("kubeconfig: {0}")]
    Invalid(String),
    /// The kubeconfig asks for something this client does not do (client certificates, exec).
    #[error("kubeconfig: {0} is not supported by the remote store (use a bearer token)")]
    Unsupported(&'static str),
    /// TLS could not be set up from the CA given.
    #[error("TLS setup: {0}")]
    Tls(String),
}

/// The server address, split for connecting.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerUrl {
    /// `true` for `https`.
    pub https: bool,
    /// Host name or IP address (IPv6 without brackets).
    pub host: String,
    /// Port (443 or 80 when the URL names none).
    pub port: u16,
    /// A path prefix every request path is appended to (usually empty).
    pub base_path: String,
}

impl ServerUrl {
    /// Parses `https://host:port[/prefix]` or `http://...`.
    pub fn parse(server: &str) -> Result<Self, ConfigError> {
        let uri: http::Uri = server
            .parse()
            .map_err(|e| ConfigError::Invalid(format!("server {server:?} is not a URL: {e}")))?;
        let https = match uri.scheme_str() {
            Some("https") => true,
            Some("http") => false,
            _ => {
                return Err(ConfigError::Invalid(format!(
                    "server {server:?} must start with https:// or http://"
                )));
            }
        };
        let host = uri
            .host()
            .ok_or_else(|| ConfigError::Invalid(format!("server {server:?} names no host")))?;
        let host = host.trim_start_matches('[').trim_end_matches(']').to_owned();
        let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
        let base_path = uri.path().trim_end_matches('/').to_owned();
        Ok(Self {
            https,
            host,
            port,
            base_path,
        })
    }

    /// The `Host` header value.
    pub fn authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

/// What the remote store needs from a kubeconfig.
#[derive(Clone, Debug)]
pub struct KubeConfig {
    /// Where the API server is.
    pub server: ServerUrl,
    /// The CA certificates to trust (PEM), for https.
    pub ca_pem: Option<Vec<u8>>,
    /// Skip verifying the server's certificate (`insecure-skip-tls-verify`: tests only).
    pub insecure_skip_tls_verify: bool,
    /// The name to verify the server certificate against, when it differs from the host.
    pub tls_server_name: Option<String>,
    /// The bearer token.
    pub token: Option<String>,
    /// The context's default namespace (`default` when unset).
    pub namespace: String,
}

impl KubeConfig {
    /// Reads the current context of the kubeconfig at `path`.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, ConfigError> {
        Self::load_context(path, None)
    }

    /// Reads the context `context` (or the current one) of the kubeconfig at `path`.
    pub fn load_context(path: impl AsRef<Path>, context: Option<&str>) -> Result<Self, ConfigError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        let base = path.parent().unwrap_or_else(|| Path::new("."));
        Self::parse(&text, context, base).map_err(|e| match e {
            ConfigError::Parse { message, .. } => ConfigError::Parse {
                path: path.to_owned(),
                message,
            },
            other => other,
        })
    }

    /// Parses kubeconfig text; relative file names are resolved against `base_dir`.
    pub fn parse(text: &str, context: Option<&str>, base_dir: &Path) -> Result<Self, ConfigError> {
        let cfg: Value = serde_saphyr::from_str(text).map_err(|e| ConfigError::Parse {
            path: PathBuf::new(),
            message: e.to_string(),
        })?;
        let ctx_name = match context {
            Some(c) => c.to_owned(),
            None => cfg["current-context"]
                .as_str()
                .filter(|c| !c.is_empty())
                .ok_or_else(|| ConfigError::Invalid("no current-context".into()))?
                .to_owned(),
        };
        let ctx = named(&cfg["contexts"], &ctx_name, "context")?;
        let cluster_name = ctx["cluster"].as_str().unwrap_or_default();
        let cluster = named(&cfg["clusters"], cluster_name, "cluster")?;
        let user = match ctx["user"].as_str() {
            Some(u) if !u.is_empty() => Some(named(&cfg["users"], u, "user")?),
            _ => None,
        };
        let server = ServerUrl::parse(
            cluster["server"]
                .as_str()
                .ok_or_else(|| ConfigError::Invalid(format!("cluster {cluster_name:?} has no server")))?,
        )?;
        let ca_pem = match (
            cluster["certificate-authority-data"].as_str(),
            cluster["certificate-authority"].as_str(),
        ) {
            (Some(b64), _) => Some(
                base64::engine::general_purpose::STANDARD
                    .decode(b64.split_whitespace().collect::<String>())
                    .map_err(|e| ConfigError::Invalid(format!("certificate-authority-data is not base64: {e}")))?,
            ),
            (None, Some(file)) => Some(read_file(&base_dir.join(file))?),
            (None, None) => None,
        };
        let token = match user {
            None => None,
            Some(u) => {
                if u.get("client-certificate-data").is_some() || u.get("client-certificate").is_some() {
                    return Err(ConfigError::Unsupported("client certificate authentication"));
                }
                if u.get("exec").is_some() || u.get("auth-provider").is_some() {
                    return Err(ConfigError::Unsupported("exec and auth-provider credentials"));
                }
                match (u["token"].as_str(), u["tokenFile"].as_str()) {
                    (Some(t), _) => Some(t.to_owned()),
                    (None, Some(file)) => {
                        let bytes = read_file(&base_dir.join(file))?;
                        Some(String::from_utf8_lossy(&bytes).trim().to_owned())
                    }
                    (None, None) => None,
                }
            }
        };
        Ok(Self {
            server,
            ca_pem,
            insecure_skip_tls_verify: cluster["insecure-skip-tls-verify"].as_bool().unwrap_or(false),
            tls_server_name: cluster["tls-server-name"].as_str().map(str::to_owned),
            token,
            namespace: ctx["namespace"].as_str().unwrap_or("default").to_owned(),
        })
    }
}

fn read_file(path: &Path) -> Result<Vec<u8>, ConfigError> {
    std::fs::read(path).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })
}

/// The body (`context`, `cluster` or `user`) of the entry called `name` in a named list.
fn named<'a>(list: &'a Value, name: &str, what: &str) -> Result<&'a Value, ConfigError> {
    list.as_array()
        .and_then(|l| l.iter().find(|e| e["name"].as_str() == Some(name)))
        .map(|e| &e[what])
        .ok_or_else(|| ConfigError::Invalid(format!("{what} {name:?} not found")))
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG: &str = "apiVersion: v1
kind: Config
clusters:
- name: capstan
  cluster:
    server: https://127.0.0.1:6443
    certificate-authority-data: UEVN
- name: other
  cluster:
    server: http://[::1]:8080/prefix/
    insecure-skip-tls-verify: true
users:
- name: capstan
  user:
    token: tok
contexts:
- name: capstan
  context:
    cluster: capstan
    user: capstan
    namespace: team-a
- name: other
  context:
    cluster: other
current-context: capstan
";

    #[test]
    fn the_current_context_gives_server_ca_token_and_namespace() {
        let c = KubeConfig::parse(CONFIG, None, Path::new(".")).unwrap();
        assert_eq!(c.server.host, "127.0.0.1");
        assert_eq!(c.server.port, 6443);
        assert!(c.server.https);
        assert_eq!(c.ca_pem.as_deref(), Some(&b"PEM"[..]));
        assert_eq!(c.token.as_deref(), Some("tok"));
        assert_eq!(c.namespace, "team-a");
        assert!(!c.insecure_skip_tls_verify);
    }

    #[test]
    fn a_named_context_may_be_plain_http_ipv6_with_a_prefix_and_no_user() {
        let c = KubeConfig::parse(CONFIG, Some("other"), Path::new(".")).unwrap();
        assert_eq!(
            c.server,
            ServerUrl {
                https: false,
                host: "::1".into(),
                port: 8080,
                base_path: "/prefix".into()
            }
        );
        assert_eq!(c.server.authority(), "[::1]:8080");
        assert!(c.insecure_skip_tls_verify);
        assert_eq!(c.token, None);
        assert_eq!(c.namespace, "default");
    }

    #[test]
    fn missing_contexts_and_client_certificates_are_reported() {
        let err = KubeConfig::parse(CONFIG, Some("nope"), Path::new(".")).unwrap_err();
        assert!(err.to_string().contains("context \"nope\" not found"), "{err}");
        let certs = CONFIG.replace("token: tok", "client-certificate-data: eA==");
        let err = KubeConfig::parse(&certs, None, Path::new(".")).unwrap_err();
        assert!(matches!(err, ConfigError::Unsupported(_)), "{err}");
    }

    #[test]
    fn ca_and_token_files_are_read_relative_to_the_kubeconfig() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("ca.pem"), "CA").unwrap();
        std::fs::write(dir.path().join("token"), "secret\n").unwrap();
        let text = CONFIG
            .replace("certificate-authority-data: UEVN", "certificate-authority: ca.pem")
            .replace("token: tok", "tokenFile: token");
        let path = dir.path().join("kubeconfig.yaml");
        std::fs::write(&path, text).unwrap();
        let c = KubeConfig::load(&path).unwrap();
        assert_eq!(c.ca_pem.as_deref(), Some(&b"CA"[..]));
        assert_eq!(c.token.as_deref(), Some("secret"));
    }
}
