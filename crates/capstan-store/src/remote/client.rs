//! The HTTP(S) transport of the remote store: HTTP/1.1 connections kept alive in a small pool,
//! TLS from the kubeconfig's CA (or no verification when it says `insecure-skip-tls-verify`), and
//! the bearer token on every request.
//!
//! Watches get a connection of their own (a watch holds its response open), taken with
//! [`Transport::open`]; short requests go through [`Transport::request`], which returns the
//! connection to the pool once the whole answer is read.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use parking_lot::Mutex;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls;
use tokio_rustls::rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName, UnixTime};

use super::config::{ConfigError, KubeConfig, ServerUrl};
use crate::error::{Result, StoreError};

/// How many idle connections the pool keeps.
const MAX_IDLE: usize = 16;

/// Connection and request time limits.
#[derive(Clone, Copy, Debug)]
pub struct Timeouts {
    /// Connecting (TCP and TLS handshake).
    pub connect: Duration,
    /// A whole non-watch request, answer included.
    pub request: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            connect: Duration::from_secs(10),
            request: Duration::from_secs(60),
        }
    }
}

/// A complete answer.
#[derive(Debug)]
pub struct Answer {
    /// The HTTP status.
    pub status: StatusCode,
    /// The whole body.
    pub body: Bytes,
}

/// Connections to one API server.
pub struct Transport {
    server: ServerUrl,
    authority: String,
    token: Option<String>,
    tls: Option<(TlsConnector, ServerName<'static>)>,
    timeouts: Timeouts,
    idle: Mutex<Vec<SendRequest<Full<Bytes>>>>,
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transport")
            .field("server", &self.server)
            .field("tls", &self.tls.is_some())
            .finish_non_exhaustive()
    }
}

impl Transport {
    /// A transport for the kubeconfig's server.
    pub fn new(config: &KubeConfig, timeouts: Timeouts) -> Result<Self, ConfigError> {
        let tls = if config.server.https {
            let connector = tls_connector(config)?;
            let name = config
                .tls_server_name
                .clone()
                .unwrap_or_else(|| config.server.host.clone());
            let name = ServerName::try_from(name.clone())
                .map_err(|e| ConfigError::Tls(format!("server name {name:?}: {e}")))?;
            Some((connector, name))
        } else {
            None
        };
        Ok(Self {
            authority: config.server.authority(),
            server: config.server.clone(),
            token: config.token.clone(),
            tls,
            timeouts,
            idle: Mutex::new(Vec::new()),
        })
    }

    /// The server's base URL, for messages.
    pub fn describe(&self) -> String {
        let scheme = if self.server.https { "https" } else { "http" };
        format!("{scheme}://{}{}", self.authority, self.server.base_path)
    }

    fn unavailable(&self, what: impl std::fmt::Display) -> StoreError {
        StoreError::Unavailable(format!("{}: {what}", self.describe()))
    }

    /// A new connection.
    async fn connect(&self) -> Result<SendRequest<Full<Bytes>>> {
        let connect = async {
            let tcp = TcpStream::connect((self.server.host.as_str(), self.server.port))
                .await
                .map_err(|e| self.unavailable(format!("connecting: {e}")))?;
            let _ = tcp.set_nodelay(true);
            let sender = match &self.tls {
                Some((connector, name)) => {
                    let stream = connector
                        .connect(name.clone(), tcp)
                        .await
                        .map_err(|e| self.unavailable(format!("TLS handshake: {e}")))?;
                    let (sender, conn) = http1::handshake(TokioIo::new(stream))
                        .await
                        .map_err(|e| self.unavailable(format!("HTTP handshake: {e}")))?;
                    tokio::spawn(async move {
                        if let Err(e) = conn.await {
                            tracing::debug!(error = %e, "remote store connection ended");
                        }
                    });
                    sender
                }
                None => {
                    let (sender, conn) = http1::handshake(TokioIo::new(tcp))
                        .await
                        .map_err(|e| self.unavailable(format!("HTTP handshake: {e}")))?;
                    tokio::spawn(async move {
                        if let Err(e) = conn.await {
                            tracing::debug!(error = %e, "remote store connection ended");
                        }
                    });
                    sender
                }
            };
            Ok(sender)
        };
        match tokio::time::timeout(self.timeouts.connect, connect).await {
            Ok(r) => r,
            Err(_) => Err(StoreError::Timeout(format!(
                "connecting to {} took over {:?}",
                self.describe(),
                self.timeouts.connect
            ))),
        }
    }

    /// An idle pooled connection that is still open, if any.
    async fn pooled(&self) -> Option<SendRequest<Full<Bytes>>> {
        loop {
            let mut sender = self.idle.lock().pop()?;
            if !sender.is_closed() && sender.ready().await.is_ok() {
                return Some(sender);
            }
        }
    }

    fn build(&self, method: &Method, path_and_query: &str, body: Option<&[u8]>) -> Result<Request<Full<Bytes>>> {
        let uri = format!("{}{}", self.server.base_path, path_and_query);
        let mut builder = Request::builder()
            .method(method.clone())
            .uri(uri)
            .header(http::header::HOST, &self.authority)
            .header(http::header::ACCEPT, "application/json")
            .header(http::header::USER_AGENT, "capstan-remote-store");
        if let Some(t) = &self.token {
            builder = builder.header(http::header::AUTHORIZATION, format!("Bearer {t}"));
        }
        let body = match body {
            Some(b) => {
                builder = builder.header(http::header::CONTENT_TYPE, "application/json");
                Full::new(Bytes::copy_from_slice(b))
            }
            None => Full::new(Bytes::new()),
        };
        builder
            .body(body)
            .map_err(|e| StoreError::BadRequest(format!("cannot build request {path_and_query}: {e}")))
    }

    /// Sends one request and reads its whole answer. A pooled connection that turns out to be closed
    /// before the request was written is replaced once, transparently.
    pub async fn request(&self, method: Method, path_and_query: &str, body: Option<&[u8]>) -> Result<Answer> {
        let exchange = async {
            let mut reused = self.pooled().await;
            loop {
                let was_reused = reused.is_some();
                let mut sender = match reused.take() {
                    Some(s) => s,
                    None => self.connect().await?,
                };
                let req = self.build(&method, path_and_query, body)?;
                let resp = match sender.send_request(req).await {
                    Ok(r) => r,
                    // The server closed an idle connection under us: the request was not sent.
                    Err(e) if was_reused && (e.is_canceled() || method == Method::GET) => {
                        tracing::debug!(error = %e, "pooled connection was closed; reconnecting");
                        continue;
                    }
                    Err(e) => return Err(self.unavailable(format!("{method} {path_and_query}: {e}"))),
                };
                let status = resp.status();
                let body = resp
                    .into_body()
                    .collect()
                    .await
                    .map_err(|e| self.unavailable(format!("reading the answer to {method} {path_and_query}: {e}")))?
                    .to_bytes();
                let mut idle = self.idle.lock();
                if idle.len() < MAX_IDLE && !sender.is_closed() {
                    idle.push(sender);
                }
                return Ok(Answer { status, body });
            }
        };
        match tokio::time::timeout(self.timeouts.request, exchange).await {
            Ok(r) => r,
            Err(_) => Err(StoreError::Timeout(format!(
                "{method} {path_and_query} took over {:?}",
                self.timeouts.request
            ))),
        }
    }

    /// Sends a GET on a connection of its own and returns the answer with its body still streaming
    /// (a watch). The connection closes when the body is dropped.
    pub async fn open(&self, path_and_query: &str) -> Result<Response<Incoming>> {
        let mut sender = self.connect().await?;
        let req = self.build(&Method::GET, path_and_query, None)?;
        match tokio::time::timeout(self.timeouts.request, sender.send_request(req)).await {
            Ok(Ok(resp)) => Ok(resp),
            Ok(Err(e)) => Err(self.unavailable(format!("GET {path_and_query}: {e}"))),
            Err(_) => Err(StoreError::Timeout(format!(
                "GET {path_and_query}: no answer within {:?}",
                self.timeouts.request
            ))),
        }
    }
}

/// The TLS client configuration: the kubeconfig's CA, or no verification at all when asked.
fn tls_connector(config: &KubeConfig) -> Result<TlsConnector, ConfigError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| ConfigError::Tls(e.to_string()))?;
    let mut tls = if config.insecure_skip_tls_verify {
        tracing::warn!(server = %config.server.authority(), "insecure-skip-tls-verify: the server certificate is not checked");
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoVerification(provider)))
            .with_no_client_auth()
    } else {
        let ca = config.ca_pem.as_deref().ok_or_else(|| {
            ConfigError::Invalid(
                "an https server needs certificate-authority-data (or insecure-skip-tls-verify)".into(),
            )
        })?;
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(ca) {
            let cert = cert.map_err(|e| ConfigError::Tls(format!("reading the CA certificate: {e}")))?;
            roots
                .add(cert)
                .map_err(|e| ConfigError::Tls(format!("adding the CA certificate: {e}")))?;
        }
        if roots.is_empty() {
            return Err(ConfigError::Tls(
                "certificate-authority-data holds no PEM certificate".into(),
            ));
        }
        builder.with_root_certificates(roots).with_no_client_auth()
    };
    tls.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsConnector::from(Arc::new(tls)))
}

/// `insecure-skip-tls-verify`: accepts any certificate, but still checks the handshake signatures
/// (so the connection is encrypted to whoever holds the presented key).
#[derive(Debug)]
struct NoVerification(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for NoVerification {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
