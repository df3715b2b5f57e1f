//! The keys a Secret of a well-known `type` must carry, as Kubernetes checks them:
//! `kubernetes.io/tls` needs `tls.crt` and `tls.key`, `kubernetes.io/dockerconfigjson` a
//! `.dockerconfigjson` holding a JSON object (`kubernetes.io/dockercfg`: `.dockercfg`),
//! `kubernetes.io/basic-auth` a `username` or a `password`, `kubernetes.io/ssh-auth` a non-empty
//! `ssh-privatekey`, and `kubernetes.io/service-account-token` the
//! `kubernetes.io/service-account.name` annotation. Other types (`Opaque`, a user's own) need nothing.

use k8s_openapi::api::core::v1::Secret;

use crate::validation::FieldError;

/// Appends an error for every key (or annotation) `secret`'s type requires and it lacks.
pub fn validate_secret_type(secret: &Secret, errs: &mut Vec<FieldError>) {
    let data = secret.data.as_ref();
    let value = |key: &str| data.and_then(|d| d.get(key)).map(|v| v.0.as_slice());
    let required = |key: &str| FieldError::required(format!("data[{key}]"), "");
    match secret.type_.as_deref().unwrap_or("Opaque") {
        "kubernetes.io/tls" => {
            for key in ["tls.crt", "tls.key"] {
                if value(key).is_none() {
                    errs.push(required(key));
                }
            }
        }
        "kubernetes.io/basic-auth" if value("username").is_none() && value("password").is_none() => {
            errs.push(required("username"));
            errs.push(required("password"));
        }
        "kubernetes.io/ssh-auth" if value("ssh-privatekey").is_none_or(<[u8]>::is_empty) => {
            errs.push(required("ssh-privatekey"));
        }
        "kubernetes.io/dockerconfigjson" => check_json(value(".dockerconfigjson"), ".dockerconfigjson", errs),
        "kubernetes.io/dockercfg" => check_json(value(".dockercfg"), ".dockercfg", errs),
        "kubernetes.io/service-account-token" => {
            let key = "kubernetes.io/service-account.name";
            let annotations = secret.metadata.annotations.as_ref();
            if annotations.and_then(|a| a.get(key)).is_none_or(String::is_empty) {
                errs.push(FieldError::required(format!("metadata.annotations[{key}]"), ""));
            }
        }
        _ => {}
    }
}

/// `data[key]` must be present and hold a JSON object; its contents are never echoed back.
fn check_json(value: Option<&[u8]>, key: &str, errs: &mut Vec<FieldError>) {
    let path = format!("data[{key}]");
    match value {
        None => errs.push(FieldError::required(path, "")),
        Some(bytes) => {
            if let Err(e) = serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(bytes) {
                errs.push(FieldError::invalid(path, "<secret contents redacted>", e.to_string()));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::ByteString;

    fn secret(type_: &str, keys: &[(&str, &str)]) -> Secret {
        Secret {
            type_: Some(type_.into()),
            data: Some(
                keys.iter()
                    .map(|(k, v)| ((*k).to_owned(), ByteString(v.as_bytes().to_vec())))
                    .collect(),
            ),
            ..Secret::default()
        }
    }

    fn fields(s: &Secret) -> Vec<String> {
        let mut errs = Vec::new();
        validate_secret_type(s, &mut errs);
        errs.iter().map(|e| e.field.clone()).collect()
    }

    #[test]
    fn a_tls_secret_needs_a_certificate_and_a_key() {
        assert_eq!(
            fields(&secret("kubernetes.io/tls", &[("a", "b")])),
            ["data[tls.crt]", "data[tls.key]"]
        );
        assert_eq!(
            fields(&secret("kubernetes.io/tls", &[("tls.crt", "c")])),
            ["data[tls.key]"]
        );
        assert!(fields(&secret("kubernetes.io/tls", &[("tls.crt", "c"), ("tls.key", "")])).is_empty());
    }

    #[test]
    fn a_docker_config_secret_needs_its_key_holding_a_json_object() {
        let t = "kubernetes.io/dockerconfigjson";
        assert_eq!(fields(&secret(t, &[])), ["data[.dockerconfigjson]"]);
        assert_eq!(
            fields(&secret(t, &[(".dockerconfigjson", "not json")])),
            ["data[.dockerconfigjson]"]
        );
        assert!(fields(&secret(t, &[(".dockerconfigjson", r#"{"auths":{}}"#)])).is_empty());
        assert_eq!(fields(&secret("kubernetes.io/dockercfg", &[])), ["data[.dockercfg]"]);
    }

    #[test]
    fn basic_ssh_and_token_secrets_need_their_keys_and_opaque_needs_none() {
        let basic = "kubernetes.io/basic-auth";
        assert_eq!(fields(&secret(basic, &[])), ["data[username]", "data[password]"]);
        assert!(fields(&secret(basic, &[("password", "")])).is_empty());
        assert_eq!(
            fields(&secret("kubernetes.io/ssh-auth", &[("ssh-privatekey", "")])),
            ["data[ssh-privatekey]"]
        );
        assert_eq!(
            fields(&secret("kubernetes.io/service-account-token", &[])),
            ["metadata.annotations[kubernetes.io/service-account.name]"]
        );
        assert!(fields(&secret("Opaque", &[])).is_empty());
        assert!(fields(&secret("example.com/own", &[])).is_empty());
    }
}
