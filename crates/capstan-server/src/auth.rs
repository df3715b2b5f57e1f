//! Bearer-token authentication: every request but the health probes needs `Authorization: Bearer <token>`.
//!
//! The token is the cluster's one admin credential: whoever holds it is [`UserInfo::admin`], a member of
//! `system:masters`, and may do anything (what `kubectl auth whoami` and `kubectl auth can-i` report).

use base64::Engine;
use rand::RngCore;

/// Generates a fresh random token (32 bytes, URL-safe base64).
pub fn generate_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Whether an `Authorization` header value carries `token`. Compares in constant time.
pub fn authorized(header: Option<&str>, token: &str) -> bool {
    let Some(given) = header.and_then(|h| h.strip_prefix("Bearer ")) else {
        return false;
    };
    let (a, b) = (given.trim().as_bytes(), token.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The user name the bearer token authenticates by default; the kubeconfig `capstan up` writes
/// names its user the same.
pub const DEFAULT_ADMIN_USER: &str = "capstan";

/// Who an authenticated request is, as `authentication.k8s.io/v1` `UserInfo` reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserInfo {
    /// The user name.
    pub username: String,
    /// The groups the user is in.
    pub groups: Vec<String>,
}

impl UserInfo {
    /// The cluster admin `username`: in `system:masters` (Kubernetes' superuser group, bound to
    /// `cluster-admin`) and `system:authenticated`.
    pub fn admin(username: impl Into<String>) -> Self {
        Self {
            username: username.into(),
            groups: vec!["system:masters".into(), "system:authenticated".into()],
        }
    }

    /// Whether the user is a superuser (in `system:masters`), allowed every action.
    pub fn is_superuser(&self) -> bool {
        self.groups.iter().any(|g| g == "system:masters")
    }
}

impl Default for UserInfo {
    fn default() -> Self {
        Self::admin(DEFAULT_ADMIN_USER)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_exact_bearer_token_is_authorized() {
        let t = generate_token();
        assert!(authorized(Some(&format!("Bearer {t}")), &t));
        assert!(!authorized(Some(&format!("Bearer {t}x")), &t));
        assert!(!authorized(Some(&format!("Basic {t}")), &t));
        assert!(!authorized(None, &t));
        assert_ne!(generate_token(), t);
    }
}
