//! Health and metrics endpoints fed by whoever embeds the server: `/healthz`, `/livez`, `/readyz`
//! and `/metrics`.
//!
//! The server knows nothing of the runtime (it depends on core and store only); the embedding
//! binary implements [`Observability`] (for example from a controller manager's health and metrics
//! registry) and hands it over with [`ServerConfig::with_observability`].
//!
//! As kube-apiserver does, the health paths answer without authentication: `200 ok` when every check
//! passes, else `500` listing each check (`[+]ping ok`, `[-]controllers failed: <reason>`). `?verbose`
//! lists the checks on success too, and `/readyz/<check>` asks one check. `/metrics` needs the
//! bearer token like any other path and answers the Prometheus text format.
//!
//! ```
//! use std::sync::Arc;
//! use capstan_server::ServerConfig;
//! use capstan_server::observe::Observability;
//!
//! struct Fixed;
//! impl Observability for Fixed {
//!     fn metrics(&self) -> String {
//!         "# TYPE up gauge\nup 1\n".into()
//!     }
//!     fn ready(&self) -> Result<(), String> {
//!         Err("caches not synced: pods.v1".into())
//!     }
//! }
//! let config = ServerConfig::default().with_observability(Arc::new(Fixed));
//! assert!(config.observability.is_some());
//! ```

use std::fmt;
use std::sync::Arc;

use http::{HeaderValue, Response, StatusCode, header};

use crate::body::{Body, full};
use crate::server::ServerConfig;

/// What the embedding process reports on the health and metrics endpoints.
pub trait Observability: Send + Sync + 'static {
    /// The Prometheus text exposition served on `/metrics`.
    fn metrics(&self) -> String;

    /// `/livez` and `/healthz`: `Ok`, or why the process should be restarted. Defaults to `Ok`.
    fn live(&self) -> Result<(), String> {
        Ok(())
    }

    /// `/readyz`: `Ok`, or why the process should not get traffic yet (caches not synced, ...).
    fn ready(&self) -> Result<(), String>;

    /// The name of the embedder's check in health listings (default `controllers`).
    fn check_name(&self) -> &str {
        "controllers"
    }
}

impl fmt::Debug for dyn Observability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Observability")
            .field("check", &self.check_name())
            .finish_non_exhaustive()
    }
}

impl ServerConfig {
    /// Serves `observability` on `/healthz`, `/livez`, `/readyz` and `/metrics`.
    pub fn with_observability(mut self, observability: Arc<dyn Observability>) -> Self {
        self.observability = Some(observability);
        self
    }
}

fn text(status: StatusCode, body: String, content_type: &'static str) -> Response<Body> {
    let mut resp = Response::new(full(body));
    *resp.status_mut() = status;
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    resp.headers_mut()
        .insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    resp
}

/// The answer to `/healthz`, `/livez` or `/readyz` (and `/<probe>/<check>`).
pub(crate) fn health(observability: Option<&Arc<dyn Observability>>, path: &str, verbose: bool) -> Response<Body> {
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let probe = segs.first().copied().unwrap_or("healthz");
    let mut checks: Vec<(String, Result<(), String>)> = vec![("ping".to_owned(), Ok(()))];
    if let Some(o) = observability {
        let result = if probe == "readyz" {
            o.live().and_then(|()| o.ready())
        } else {
            o.live()
        };
        checks.push((o.check_name().to_owned(), result));
    }
    if let Some(only) = segs.get(1) {
        return match checks.into_iter().find(|(name, _)| name == only) {
            Some((_, Ok(()))) => text(StatusCode::OK, "ok".into(), "text/plain; charset=utf-8"),
            Some((name, Err(why))) => text(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("internal server error: {name} failed: {why}\n"),
                "text/plain; charset=utf-8",
            ),
            None => text(
                StatusCode::NOT_FOUND,
                format!("no check {only:?}\n"),
                "text/plain; charset=utf-8",
            ),
        };
    }
    let failed = checks.iter().any(|(_, r)| r.is_err());
    if !failed && !verbose {
        return text(StatusCode::OK, "ok".into(), "text/plain; charset=utf-8");
    }
    let mut out = String::new();
    for (name, result) in &checks {
        match result {
            Ok(()) => out.push_str(&format!("[+]{name} ok\n")),
            Err(why) => out.push_str(&format!("[-]{name} failed: {why}\n")),
        }
    }
    let (status, verdict) = if failed {
        (StatusCode::INTERNAL_SERVER_ERROR, "failed")
    } else {
        (StatusCode::OK, "passed")
    };
    out.push_str(&format!("{probe} check {verdict}\n"));
    text(status, out, "text/plain; charset=utf-8")
}

/// The answer to `/metrics`: the embedder's exposition, or 404 when nothing reports metrics.
pub(crate) fn metrics(observability: Option<&Arc<dyn Observability>>) -> Response<Body> {
    match observability {
        Some(o) => text(StatusCode::OK, o.metrics(), "text/plain; version=0.0.4; charset=utf-8"),
        None => crate::body::error_response(&crate::status::ApiError::path_not_found()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    struct Hook(Result<(), String>);

    impl Observability for Hook {
        fn metrics(&self) -> String {
            "reconcile_total 3\n".into()
        }
        fn ready(&self) -> Result<(), String> {
            self.0.clone()
        }
    }

    async fn read(resp: Response<Body>) -> (u16, String) {
        let code = resp.status().as_u16();
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        (code, String::from_utf8(body.to_vec()).unwrap())
    }

    #[tokio::test]
    async fn readyz_answers_500_with_the_reason_while_the_hook_is_not_ready() {
        let hook: Arc<dyn Observability> = Arc::new(Hook(Err("caches not synced".into())));
        let (code, body) = read(health(Some(&hook), "/readyz", false)).await;
        assert_eq!(code, 500);
        assert!(body.contains("[-]controllers failed: caches not synced"), "{body}");
        assert!(body.ends_with("readyz check failed\n"), "{body}");
        assert_eq!(read(health(Some(&hook), "/healthz", false)).await, (200, "ok".into()));
        assert_eq!(read(health(Some(&hook), "/readyz/ping", false)).await.0, 200);
        assert_eq!(read(health(Some(&hook), "/readyz/controllers", false)).await.0, 500);
        assert_eq!(read(health(Some(&hook), "/readyz/nope", false)).await.0, 404);
    }

    #[tokio::test]
    async fn healthy_probes_answer_ok_or_list_their_checks_when_verbose() {
        let hook: Arc<dyn Observability> = Arc::new(Hook(Ok(())));
        assert_eq!(read(health(Some(&hook), "/readyz", false)).await, (200, "ok".into()));
        let (code, body) = read(health(Some(&hook), "/livez", true)).await;
        assert_eq!(code, 200);
        assert_eq!(body, "[+]ping ok\n[+]controllers ok\nlivez check passed\n");
        assert_eq!(read(health(None, "/healthz", false)).await, (200, "ok".into()));
    }

    #[tokio::test]
    async fn metrics_come_from_the_hook_or_are_not_found() {
        let hook: Arc<dyn Observability> = Arc::new(Hook(Ok(())));
        assert_eq!(read(metrics(Some(&hook))).await, (200, "reconcile_total 3\n".into()));
        assert_eq!(read(metrics(None)).await.0, 404);
    }
}
