//! Writing the kubeconfig `capstan up` produces (capstan-store's remote backend reads it back).

use base64::Engine;

/// The kubeconfig text for a server, CA and token (context `capstan`).
pub fn render(server: &str, ca_pem: Option<&str>, token: &str) -> String {
    let ca = match ca_pem {
        Some(pem) => format!(
            "    certificate-authority-data: {}\n",
            base64::engine::general_purpose::STANDARD.encode(pem)
        ),
        None => String::new(),
    };
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: capstan\n  cluster:\n    server: {server}\n{ca}\
users:\n- name: capstan\n  user:\n    token: {token}\n\
contexts:\n- name: capstan\n  context:\n    cluster: capstan\n    user: capstan\n    namespace: default\n\
current-context: capstan\npreferences: {{}}\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rendered_kubeconfig_is_read_back_by_the_remote_store() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("kubeconfig.yaml");
        std::fs::write(&p, render("https://127.0.0.1:6443", Some("PEM"), "tok")).unwrap();
        let k = capstan_store::remote::KubeConfig::load(&p).unwrap();
        assert!(k.server.https);
        assert_eq!((k.server.host.as_str(), k.server.port), ("127.0.0.1", 6443));
        assert_eq!(k.ca_pem.as_deref(), Some(&b"PEM"[..]));
        assert_eq!(k.token.as_deref(), Some("tok"));
        assert_eq!(k.namespace, "default");
    }
}
