//! A minimal HTTP(S) client for the CLI commands: one HTTP/1.1 connection per request, bearer token,
//! the kubeconfig's CA.

use std::sync::Arc;

use anyhow::{Context, anyhow, bail};
use bytes::Bytes;
use http::{Method, Request, Response};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};

use crate::kubeconfig::Target;

/// A client of one API server.
pub struct Client {
    host: String,
    port: u16,
    token: Option<String>,
    tls: Option<TlsConnector>,
}

impl Client {
    /// A client for the kubeconfig target.
    pub fn new(target: &Target) -> anyhow::Result<Self> {
        let (https, rest) = if let Some(r) = target.server.strip_prefix("https://") {
            (true, r)
        } else if let Some(r) = target.server.strip_prefix("http://") {
            (false, r)
        } else {
            bail!("server {} must start with https:// or http://", target.server);
        };
        let authority = rest.split('/').next().unwrap_or(rest);
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) if !h.ends_with(']') || h.starts_with('[') => (h, p.parse::<u16>().context("server port")?),
            _ => (authority, if https { 443 } else { 80 }),
        };
        let tls = if https {
            let mut roots = rustls::RootCertStore::empty();
            let ca = target
                .ca_pem
                .as_deref()
                .ok_or_else(|| anyhow!("https server without a CA in the kubeconfig"))?;
            for cert in CertificateDer::pem_slice_iter(ca.as_bytes()) {
                roots.add(cert.context("reading the CA certificate")?)?;
            }
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let cfg = rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()?
                .with_root_certificates(roots)
                .with_no_client_auth();
            Some(TlsConnector::from(Arc::new(cfg)))
        } else {
            None
        };
        Ok(Self {
            host: host.trim_start_matches('[').trim_end_matches(']').to_owned(),
            port,
            token: target.token.clone(),
            tls,
        })
    }

    /// Sends a request and returns the response with its body still streaming.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        content_type: Option<&str>,
        accept: &str,
        body: Vec<u8>,
    ) -> anyhow::Result<Response<Incoming>> {
        let tcp = TcpStream::connect((self.host.as_str(), self.port))
            .await
            .with_context(|| format!("connecting to {}:{}", self.host, self.port))?;
        let mut builder = Request::builder()
            .method(method)
            .uri(path)
            .header("host", format!("{}:{}", self.host, self.port))
            .header("accept", accept)
            .header("user-agent", "capstan-cli");
        if let Some(t) = &self.token {
            builder = builder.header("authorization", format!("Bearer {t}"));
        }
        if let Some(ct) = content_type {
            builder = builder.header("content-type", ct);
        }
        let req = builder.body(Full::new(Bytes::from(body)))?;
        match &self.tls {
            Some(tls) => {
                let name = ServerName::try_from(self.host.clone())?;
                let stream = tls.connect(name, tcp).await.context("TLS handshake")?;
                let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
                tokio::spawn(conn);
                Ok(sender.send_request(req).await?)
            }
            None => {
                let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp)).await?;
                tokio::spawn(conn);
                Ok(sender.send_request(req).await?)
            }
        }
    }

    /// Sends a request with an optional JSON body and reads the JSON answer.
    pub async fn json(
        &self,
        method: Method,
        path: &str,
        content_type: Option<&str>,
        body: Option<&Value>,
        accept: &str,
    ) -> anyhow::Result<(u16, Value)> {
        let bytes = match body {
            Some(b) => serde_json::to_vec(b)?,
            None => Vec::new(),
        };
        let resp = self.send(method, path, content_type, accept, bytes).await?;
        let status = resp.status().as_u16();
        let body = resp.into_body().collect().await?.to_bytes();
        let value = if body.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&body).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into_owned()))
        };
        Ok((status, value))
    }
}

/// Turns a non-2xx `Status` answer into an error naming its message.
pub fn check(status: u16, body: &Value) -> anyhow::Result<()> {
    if (200..300).contains(&status) {
        return Ok(());
    }
    let msg = body["message"]
        .as_str()
        .map(str::to_owned)
        .unwrap_or_else(|| body.to_string());
    let reason = body["reason"].as_str().unwrap_or("");
    Err(anyhow!("Error from server ({reason}): {msg}"))
}
