//! [`ApiServer`]: the request entry point (auth, body limit, routing) and the HTTP(S) serve loop.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use capstan_store::Store;
use http::{Request, Response};
use http_body_util::BodyExt;
use hyper::body::Body as HttpBody;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls;

use crate::body::{ApiRequest, Body, error_response, json_response, parse_query};
use crate::discovery::{self, Registry};
use crate::router::{Route, route};
use crate::status::ApiError;
use crate::{auth, handlers, openapi};

/// The default request body limit (3 MiB), as Kubernetes'.
pub const DEFAULT_BODY_LIMIT: usize = 3 * 1024 * 1024;

/// How many non-watch requests may run at once before the server answers 429.
pub const DEFAULT_MAX_IN_FLIGHT: usize = 400;

/// Settings of an [`ApiServer`].
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// The bearer token every request must carry; `None` disables authentication (tests only).
    pub token: Option<String>,
    /// The largest request body accepted (413 above).
    pub body_limit: usize,
    /// How many non-watch requests may run at once (429 above).
    pub max_in_flight: usize,
    /// The kinds served.
    pub registry: Registry,
    /// What `/healthz`, `/livez`, `/readyz` and `/metrics` report (see [`crate::observe`]).
    pub observability: Option<Arc<dyn crate::observe::Observability>>,
    /// Who the bearer token authenticates (reported by `kubectl auth whoami`; a superuser is allowed
    /// everything by `kubectl auth can-i`). Defaults to [`auth::UserInfo::admin`] named
    /// [`auth::DEFAULT_ADMIN_USER`].
    pub user: auth::UserInfo,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            token: None,
            body_limit: DEFAULT_BODY_LIMIT,
            max_in_flight: DEFAULT_MAX_IN_FLIGHT,
            registry: Registry::builtin(),
            observability: None,
            user: auth::UserInfo::default(),
        }
    }
}

/// A Kubernetes-compatible API over a [`Store`].
pub struct ApiServer {
    store: Arc<dyn Store>,
    config: ServerConfig,
    in_flight: Semaphore,
    /// The kinds served now: the configured ones plus the established CRDs' (see [`crate::crd`]),
    /// swapped whole on every change so that a request routes against one consistent snapshot.
    registry: std::sync::RwLock<Arc<Registry>>,
    /// Serializes CRD reconciliation passes.
    crd_lock: tokio::sync::Mutex<()>,
}

impl ApiServer {
    /// A server over `store`.
    pub fn new(store: Arc<dyn Store>, config: ServerConfig) -> Self {
        let in_flight = Semaphore::new(config.max_in_flight);
        let registry = std::sync::RwLock::new(Arc::new(config.registry.clone()));
        Self {
            store,
            config,
            in_flight,
            registry,
            crd_lock: tokio::sync::Mutex::new(()),
        }
    }

    /// The store served.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// The kinds served now: the configured registry plus the served versions of every
    /// established CustomResourceDefinition (kept current by [`ApiServer::sync_crds`] and the
    /// watch [`ApiServer::serve`] runs).
    pub fn registry(&self) -> Arc<Registry> {
        match self.registry.read() {
            Ok(r) => Arc::clone(&r),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// The kinds configured at start ([`ServerConfig::registry`]), without CRDs.
    pub fn base_registry(&self) -> &Registry {
        &self.config.registry
    }

    pub(crate) fn set_registry(&self, registry: Registry) {
        let next = Arc::new(registry);
        match self.registry.write() {
            Ok(mut r) => *r = next,
            Err(poisoned) => *poisoned.into_inner() = next,
        }
    }

    pub(crate) fn crd_lock(&self) -> &tokio::sync::Mutex<()> {
        &self.crd_lock
    }

    /// Whether this server serves CustomResourceDefinitions (its configured registry has the kind).
    pub fn serves_crds(&self) -> bool {
        let t = crate::crd::crd_type();
        self.config.registry.find(&t.group, &t.version, &t.plural).is_some()
    }

    /// Reads the stored CustomResourceDefinitions once: serves their kinds and writes their status
    /// (see [`crate::crd::reconcile`]). [`ApiServer::serve`] does this at start and on every change;
    /// call it directly when driving the server with [`ApiServer::handle`] alone.
    ///
    /// # Errors
    /// The store's, when it cannot list or write CRDs.
    pub async fn sync_crds(&self) -> Result<(), capstan_store::StoreError> {
        if self.serves_crds() {
            crate::crd::reconcile(self).await?;
        }
        Ok(())
    }

    /// Who the bearer token authenticates.
    pub fn user(&self) -> &auth::UserInfo {
        &self.config.user
    }

    /// Serves one HTTP request of any body type.
    pub async fn handle<B>(&self, req: Request<B>) -> Response<Body>
    where
        B: HttpBody<Data = Bytes> + Send,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let (parts, body) = req.into_parts();
        let path = parts.uri.path().to_owned();
        let open = matches!(route(&self.registry(), &path), Some(Route::Health));
        if let Some(token) = &self.config.token {
            let header = parts
                .headers
                .get(http::header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok());
            if !open && !auth::authorized(header, token) {
                return error_response(&ApiError::unauthorized());
            }
        }
        let bytes = match read_body(body, self.config.body_limit).await {
            Ok(bytes) => bytes,
            Err(BodyError::TooLarge) => return error_response(&ApiError::too_large(self.config.body_limit)),
            Err(BodyError::Read(e)) => {
                return error_response(&ApiError::bad_request(format!("could not read the request body: {e}")));
            }
        };
        let req = ApiRequest {
            method: parts.method,
            query: parse_query(parts.uri.query()),
            path,
            headers: parts.headers,
            body: bytes,
        };
        let watching = handlers::read::is_watch(&req);
        let _permit = if watching {
            None
        } else {
            match self.in_flight.try_acquire() {
                Ok(p) => Some(p),
                Err(_) => {
                    return error_response(&ApiError::new(
                        429,
                        "TooManyRequests",
                        "too many requests in flight, please try again later",
                    ));
                }
            }
        };
        let method = req.method.clone();
        let resp = self.dispatch(req).await;
        tracing::debug!(%method, path = %parts.uri.path(), status = resp.status().as_u16(), "request");
        resp
    }

    async fn dispatch(&self, req: ApiRequest) -> Response<Body> {
        let registry = self.registry();
        let Some(r) = route(&registry, &req.path) else {
            return error_response(&ApiError::path_not_found());
        };
        let is_get = req.method == http::Method::GET;
        let accept = req.header("accept").unwrap_or("");
        let doc = match r {
            Route::Resource(rr) => return handlers::resource(self, &rr, req).await,
            Route::Review(kind) => return handlers::review::create(self, kind, &req),
            _ if !is_get => return error_response(&ApiError::method_not_allowed(req.method.as_str())),
            Route::Health => {
                let verbose = req.query.contains_key("verbose");
                return crate::observe::health(self.config.observability.as_ref(), &req.path, verbose);
            }
            Route::Metrics => return crate::observe::metrics(self.config.observability.as_ref()),
            Route::Version => Some(discovery::version()),
            Route::CoreVersions | Route::Groups if discovery::wants_aggregated(accept) => {
                let doc = discovery::aggregated(&registry, r == Route::CoreVersions);
                let mut resp = json_response(200, &doc);
                resp.headers_mut().insert(
                    http::header::CONTENT_TYPE,
                    http::HeaderValue::from_static(discovery::AGGREGATED_V2),
                );
                return resp;
            }
            Route::CoreVersions => Some(discovery::api_versions()),
            Route::Groups => Some(discovery::api_group_list(&registry)),
            Route::Group(g) => discovery::api_group(&registry, &g),
            Route::ResourceList { group, version } => discovery::api_resource_list(&registry, &group, &version),
            Route::OpenApiV2 if openapi::wants_v2_protobuf(accept) => {
                let mut resp = Response::new(crate::body::full(openapi::v2_protobuf()));
                resp.headers_mut().insert(
                    http::header::CONTENT_TYPE,
                    http::HeaderValue::from_static(openapi::V2_PROTOBUF),
                );
                return resp;
            }
            Route::OpenApiV2 => Some(openapi::v2(&registry)),
            Route::OpenApiV3Root => Some(openapi::v3_root(&registry)),
            Route::OpenApiV3 { group, version } => openapi::v3(&registry, &group, &version),
        };
        match doc {
            Some(d) => json_response(200, &d),
            None => error_response(&ApiError::path_not_found()),
        }
    }

    /// Serves connections from `listener` (TLS when `tls` is given) until `shutdown` completes,
    /// then stops accepting and gives open connections up to five seconds to finish.
    pub async fn serve(
        self: Arc<Self>,
        listener: TcpListener,
        tls: Option<Arc<rustls::ServerConfig>>,
        shutdown: impl Future<Output = ()>,
    ) {
        let graceful = hyper_util::server::graceful::GracefulShutdown::new();
        let acceptor = tls.map(TlsAcceptor::from);
        // Serve the stored CRDs' kinds from the first request on, then follow changes.
        if let Err(e) = self.sync_crds().await {
            tracing::warn!(error = %e, "could not load CustomResourceDefinitions at start");
        }
        let crd_sync = self
            .serves_crds()
            .then(|| tokio::spawn(crate::crd::run(Arc::clone(&self))));
        tokio::pin!(shutdown);
        loop {
            let (stream, peer) = tokio::select! {
                biased;
                _ = &mut shutdown => break,
                accepted = listener.accept() => match accepted {
                    Ok(s) => s,
                    Err(e) => {
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
            };
            let server = Arc::clone(&self);
            let acceptor = acceptor.clone();
            let watcher = graceful.watcher();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
                    let server = Arc::clone(&server);
                    async move { Ok::<_, std::convert::Infallible>(server.handle(req).await) }
                });
                let builder = auto::Builder::new(TokioExecutor::new());
                let result = match acceptor {
                    Some(acceptor) => match acceptor.accept(stream).await {
                        Ok(tls) => {
                            watcher
                                .watch(builder.serve_connection(TokioIo::new(tls), service).into_owned())
                                .await
                        }
                        Err(e) => {
                            tracing::debug!(%peer, error = %e, "TLS handshake failed");
                            return;
                        }
                    },
                    None => {
                        watcher
                            .watch(builder.serve_connection(TokioIo::new(stream), service).into_owned())
                            .await
                    }
                };
                if let Err(e) = result {
                    tracing::debug!(%peer, error = %e, "connection ended with an error");
                }
            });
        }
        if let Some(task) = crd_sync {
            task.abort();
        }
        tokio::select! {
            biased;
            _ = graceful.shutdown() => {}
            _ = tokio::time::sleep(Duration::from_secs(5)) => tracing::info!("closing connections still open after 5s"),
        }
    }
}

/// How much of an oversized body is read and thrown away before the 413 goes out. A client that
/// writes its whole body before reading the answer (most do over HTTP/1.1) then reads the 413
/// instead of finding the connection closed under it; past this, the connection is closed.
const DRAIN_LIMIT: usize = 64 * 1024 * 1024;

/// Why a request body could not be read.
enum BodyError {
    /// Larger than the limit.
    TooLarge,
    /// The connection failed while reading.
    Read(String),
}

/// Reads a request body of at most `limit` bytes. A larger one is drained (up to [`DRAIN_LIMIT`])
/// and refused.
async fn read_body<B>(body: B, limit: usize) -> Result<Bytes, BodyError>
where
    B: HttpBody<Data = Bytes>,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let mut body = std::pin::pin!(body);
    let mut buf = bytes::BytesMut::new();
    let mut seen = 0usize;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| BodyError::Read(e.into().to_string()))?;
        let Ok(data) = frame.into_data() else { continue };
        seen = seen.saturating_add(data.len());
        if seen > DRAIN_LIMIT {
            break;
        }
        if seen <= limit {
            buf.extend_from_slice(&data);
        }
    }
    if seen > limit {
        tracing::debug!(bytes = seen, limit, "request body over the limit");
        return Err(BodyError::TooLarge);
    }
    Ok(buf.freeze())
}
