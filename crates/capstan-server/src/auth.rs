//! Bearer-token authentication: every request but the health probes needs `Authorization: Bearer <token>`.

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
