//! Pod subresources that need a running container (`log`, `exec`, `attach`, `portforward`): Capstan's
//! node agent simulates pods and runs no containers, so these answer with a clear 400 instead of a
//! bare 404 that reads like a typo in the pod name.

use capstan_core::TypeKey;
use http::Response;

use super::read::object_key;
use super::route_name;
use crate::body::Body;
use crate::router::ResourceRoute;
use crate::server::ApiServer;
use crate::status::ApiError;

/// The pod subresources that would reach into a container.
pub const CONTAINER_SUBRESOURCES: [&str; 4] = ["log", "exec", "attach", "portforward"];

/// Whether `sub` is one of [`CONTAINER_SUBRESOURCES`] of a core Pod.
pub fn is_container_subresource(t: &TypeKey, sub: &str) -> bool {
    t.group.is_empty() && t.kind == "Pod" && CONTAINER_SUBRESOURCES.contains(&sub)
}

/// 404 when the pod does not exist, else 400 saying there is no container to reach.
pub async fn refuse(server: &ApiServer, rr: &ResourceRoute, sub: &str) -> Result<Response<Body>, ApiError> {
    let t = &rr.info.type_key;
    server
        .store()
        .get(t, &object_key(rr))
        .await
        .map_err(|e| ApiError::from_store(&e, t, route_name(rr)))?;
    let what = match sub {
        "log" => "has no logs",
        "exec" => "cannot exec into it",
        "attach" => "cannot attach to it",
        _ => "cannot forward ports to it",
    };
    Err(ApiError::bad_request(format!(
        "pod \"{}\" runs no containers (capstan's node agent simulates pods), so it {what}",
        route_name(rr)
    )))
}
