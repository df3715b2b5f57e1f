//! The review kinds: POST-only questions about the caller, answered from the request and never
//! stored.
//!
//! - `authentication.k8s.io/v1` `SelfSubjectReview` (`kubectl auth whoami`): the caller's user
//!   name and groups.
//! - `authorization.k8s.io/v1` `SelfSubjectAccessReview` (`kubectl auth can-i`): whether the caller
//!   may perform an action. The bearer token is the cluster admin's (in `system:masters`), so the
//!   answer is always allowed, with a reason saying why.
//! - `authorization.k8s.io/v1` `SelfSubjectRulesReview` (`kubectl auth can-i --list`): what the
//!   caller may do in a namespace; for the admin, every verb on every resource and URL.
//!
//! Both answer `201 Created` with the posted object and its `status` filled in, as the API server
//! does. The request was authenticated before it got here; without a token nothing reaches this
//! module (401).

use http::{Method, Response};
use serde_json::{Value, json};

use crate::auth::UserInfo;
use crate::body::{ApiRequest, Body, json_response};
use crate::discovery::ReviewKind;
use crate::server::ApiServer;
use crate::status::{ApiError, Cause};

/// POST on a review collection.
pub fn create(server: &ApiServer, kind: ReviewKind, req: &ApiRequest) -> Response<Body> {
    let result = if req.method == Method::POST {
        answer(server.user(), kind, req)
    } else {
        Err(ApiError::method_not_allowed(req.method.as_str()))
    };
    result.unwrap_or_else(|e| crate::body::error_response(&e))
}

fn answer(user: &UserInfo, kind: ReviewKind, req: &ApiRequest) -> Result<Response<Body>, ApiError> {
    // `kubectl auth whoami` may post an empty review; an empty body means the same.
    let mut review = if kind.kind == "SelfSubjectReview" && req.body.iter().all(u8::is_ascii_whitespace) {
        json!({})
    } else {
        req.object()?
    };
    prepare(kind, &mut review)?;
    super::dry_run(req)?;
    match kind.kind {
        "SelfSubjectReview" => {
            review["status"] = json!({"userInfo": {"username": user.username, "groups": user.groups}});
        }
        "SelfSubjectRulesReview" => review["status"] = rules_status(user),
        _ => review["status"] = access_status(kind, user, &review["spec"])?,
    }
    Ok(json_response(201, &review))
}

/// Checks `apiVersion` and `kind` (when given) and fills them in; drops any status the client sent.
fn prepare(kind: ReviewKind, review: &mut Value) -> Result<(), ApiError> {
    let Value::Object(map) = review else {
        return Err(ApiError::bad_request(format!(
            "the request body must be a {} object",
            kind.kind
        )));
    };
    let api_version = kind.api_version();
    if let Some(av) = map
        .get("apiVersion")
        .and_then(Value::as_str)
        .filter(|av| *av != api_version)
    {
        return Err(ApiError::bad_request(format!(
            "the API version in the data ({av}) does not match the expected API version ({api_version})"
        )));
    }
    if let Some(k) = map.get("kind").and_then(Value::as_str).filter(|k| *k != kind.kind) {
        return Err(ApiError::bad_request(format!(
            "the kind in the data ({k}) does not match the expected kind ({})",
            kind.kind
        )));
    }
    map.insert("apiVersion".into(), json!(api_version));
    map.insert("kind".into(), json!(kind.kind));
    let meta = map.entry("metadata").or_insert_with(|| json!({}));
    if let Value::Object(meta) = meta {
        meta.entry("creationTimestamp").or_insert(Value::Null);
    }
    map.remove("status");
    Ok(())
}

/// The `status` of a `SelfSubjectRulesReview`: everything for a superuser, nothing otherwise.
fn rules_status(user: &UserInfo) -> Value {
    if user.is_superuser() {
        json!({
            "resourceRules": [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}],
            "nonResourceRules": [{"verbs": ["*"], "nonResourceURLs": ["*"]}],
            "incomplete": false,
        })
    } else {
        json!({"resourceRules": [], "nonResourceRules": [], "incomplete": false})
    }
}

/// The `status` of a `SelfSubjectAccessReview` with `spec`: allowed for a superuser, denied
/// otherwise. A spec must name exactly one of `resourceAttributes` and `nonResourceAttributes` (422).
fn access_status(kind: ReviewKind, user: &UserInfo, spec: &Value) -> Result<Value, ApiError> {
    let resource = spec["resourceAttributes"].is_object();
    let non_resource = spec["nonResourceAttributes"].is_object();
    if resource == non_resource {
        let detail = "exactly one of nonResourceAttributes or resourceAttributes must be specified";
        let field = "spec.resourceAttributes";
        let mut e = ApiError::new(
            422,
            "Invalid",
            format!(
                "{}.{} \"\" is invalid: {field}: Invalid value: \"null\": {detail}",
                kind.kind, kind.group
            ),
        );
        e.group = Some(kind.group.to_owned());
        e.kind = Some(kind.kind.to_owned());
        e.causes = vec![Cause {
            reason: "FieldValueInvalid".into(),
            message: format!("Invalid value: \"null\": {detail}"),
            field: field.into(),
        }];
        return Err(e);
    }
    Ok(if user.is_superuser() {
        json!({
            "allowed": true,
            "reason": format!(
                "user {:?} is in group \"system:masters\", which is bound to ClusterRole \"cluster-admin\"",
                user.username
            ),
        })
    } else {
        json!({"allowed": false, "reason": format!("user {:?} is not a cluster admin", user.username)})
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use bytes::Bytes;
    use capstan_store::{MemoryStore, Store};
    use http::{Method, Request};
    use http_body_util::{BodyExt, Full};
    use serde_json::{Value, json};

    use crate::auth::UserInfo;
    use crate::{ApiServer, ServerConfig};

    const TOKEN: &str = "t0ken";
    const SSAR: &str = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews";
    const SSR: &str = "/apis/authentication.k8s.io/v1/selfsubjectreviews";

    fn server(user: UserInfo) -> ApiServer {
        let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
        let config = ServerConfig {
            token: Some(TOKEN.into()),
            user,
            ..ServerConfig::default()
        };
        ApiServer::new(store, config)
    }

    async fn post(s: &ApiServer, path: &str, token: Option<&str>, body: &[u8]) -> (u16, Value) {
        let mut req = Request::builder()
            .method(Method::POST)
            .uri(path)
            .header("content-type", "application/json");
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        let resp = s
            .handle(req.body(Full::new(Bytes::copy_from_slice(body))).unwrap())
            .await;
        let code = resp.status().as_u16();
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        (code, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
    }

    fn can_i(verb: &str, resource: &str) -> Vec<u8> {
        serde_json::to_vec(&json!({"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
            "spec": {"resourceAttributes": {"namespace": "default", "verb": verb, "group": "apps", "resource": resource}}}))
        .unwrap()
    }

    #[tokio::test]
    async fn the_admin_token_may_create_deployments_and_the_answer_echoes_the_question() {
        let s = server(UserInfo::default());
        let (code, review) = post(&s, SSAR, Some(TOKEN), &can_i("create", "deployments")).await;
        assert_eq!(code, 201, "{review}");
        assert_eq!(review["status"]["allowed"], true);
        assert!(review["status"]["reason"].as_str().unwrap().contains("system:masters"));
        assert_eq!(review["spec"]["resourceAttributes"]["resource"], "deployments");
        assert_eq!(review["kind"], "SelfSubjectAccessReview");
    }

    #[tokio::test]
    async fn a_user_outside_system_masters_is_denied() {
        let s = server(UserInfo {
            username: "viewer".into(),
            groups: vec!["system:authenticated".into()],
        });
        let (code, review) = post(&s, SSAR, Some(TOKEN), &can_i("delete", "pods")).await;
        assert_eq!(code, 201);
        assert_eq!(review["status"]["allowed"], false);
    }

    #[tokio::test]
    async fn a_review_naming_neither_or_both_attribute_kinds_is_invalid() {
        let s = server(UserInfo::default());
        let neither = br#"{"apiVersion":"authorization.k8s.io/v1","kind":"SelfSubjectAccessReview","spec":{}}"#;
        let (code, status) = post(&s, SSAR, Some(TOKEN), neither).await;
        assert_eq!((code, status["reason"].as_str()), (422, Some("Invalid")));
        let both =
            br#"{"spec":{"resourceAttributes":{"verb":"get"},"nonResourceAttributes":{"path":"/","verb":"get"}}}"#;
        assert_eq!(post(&s, SSAR, Some(TOKEN), both).await.0, 422);
        let wrong_kind = br#"{"apiVersion":"v1","kind":"Pod","spec":{}}"#;
        assert_eq!(post(&s, SSAR, Some(TOKEN), wrong_kind).await.0, 400);
    }

    #[tokio::test]
    async fn the_admin_may_do_everything_in_a_rules_review_and_others_nothing() {
        let body = br#"{"apiVersion":"authorization.k8s.io/v1","kind":"SelfSubjectRulesReview","spec":{"namespace":"default"}}"#;
        let rules = "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews";
        let (code, review) = post(&server(UserInfo::default()), rules, Some(TOKEN), body).await;
        assert_eq!(code, 201, "{review}");
        assert_eq!(review["status"]["resourceRules"][0]["verbs"], json!(["*"]));
        assert_eq!(review["spec"]["namespace"], "default");
        let viewer = UserInfo {
            username: "viewer".into(),
            groups: vec!["system:authenticated".into()],
        };
        let (_, review) = post(&server(viewer), rules, Some(TOKEN), body).await;
        assert_eq!(review["status"]["resourceRules"], json!([]));
    }

    #[tokio::test]
    async fn whoami_reports_the_configured_user_and_its_groups() {
        let s = server(UserInfo::admin("capstan"));
        for body in [
            &b""[..],
            br#"{"apiVersion":"authentication.k8s.io/v1","kind":"SelfSubjectReview"}"#,
        ] {
            let (code, review) = post(&s, SSR, Some(TOKEN), body).await;
            assert_eq!(code, 201, "{review}");
            assert_eq!(review["kind"], "SelfSubjectReview");
            assert_eq!(review["status"]["userInfo"]["username"], "capstan");
            assert_eq!(
                review["status"]["userInfo"]["groups"],
                json!(["system:masters", "system:authenticated"])
            );
        }
    }

    #[tokio::test]
    async fn reviews_without_the_token_stay_unauthorized() {
        let s = server(UserInfo::default());
        assert_eq!(post(&s, SSAR, None, &can_i("create", "deployments")).await.0, 401);
        assert_eq!(post(&s, SSR, Some("wrong"), b"").await.0, 401);
    }
}
